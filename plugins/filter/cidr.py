# -*- coding: utf-8 -*-

# Copyright: Contributors to the mattermost_ha.aws collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""IPv4 CIDR checks for input validation, on Python's ipaddress (no netaddr needed)."""

from __future__ import annotations

import ipaddress
import itertools

from ansible.errors import AnsibleFilterError


def _network(value):
    """The IPv4Network for a strict CIDR string, or None."""
    if not isinstance(value, str) or "/" not in value:
        return None
    try:
        return ipaddress.IPv4Network(value.strip(), strict=True)
    except (ValueError, TypeError):
        return None


def ipv4_network(value):
    """Normalised CIDR ('10.0.0.0/24') of a valid IPv4 network, '' for anything else."""
    network = _network(value)
    return str(network) if network is not None else ""


def ipv4_cidr_within(value, parent):
    """True when the CIDR value lies entirely inside the CIDR parent."""
    network, container = _network(value), _network(parent)
    if network is None or container is None:
        raise AnsibleFilterError(f"ipv4_cidr_within needs two valid IPv4 CIDRs, got {value!r} and {parent!r}")
    return network.subnet_of(container)


def ipv4_cidr_overlaps(values):
    """Every pair of overlapping CIDRs in the list, as 'A overlaps B' strings ([] when disjoint)."""
    if not isinstance(values, (list, tuple)):
        raise AnsibleFilterError("ipv4_cidr_overlaps expects a list of CIDRs")
    networks = []
    for value in values:
        network = _network(value)
        if network is None:
            raise AnsibleFilterError(f"ipv4_cidr_overlaps: {value!r} is not a valid IPv4 CIDR")
        networks.append(network)
    return [f"{a} overlaps {b}" for a, b in itertools.combinations(networks, 2) if a.overlaps(b)]


class FilterModule:
    """IPv4 CIDR filters."""

    def filters(self):
        return {
            "ipv4_network": ipv4_network,
            "ipv4_cidr_within": ipv4_cidr_within,
            "ipv4_cidr_overlaps": ipv4_cidr_overlaps,
        }
