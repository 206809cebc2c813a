# -*- coding: utf-8 -*-

# Copyright: Contributors to the mattermost_ha.aws collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Which Mattermost version changes a running cluster may take in a rolling upgrade.

Mattermost's release policy: an Extended Support Release (ESR) every nine months, and upgrades
go from ESR to ESR without skipping one. During a rolling upgrade the nodes run two versions at
once, which Mattermost tolerates for one minor version of skew. So a rolling change from the
running version to the target is one of:

- the same version (nothing to do);
- a patch or a step of one minor version (11.7.9 -> 11.7.10, 11.7.9 -> 11.8.0);
- from an ESR to the next ESR (10.11 -> 11.7), Mattermost's supported long step;

and it never passes over an ESR. A downgrade is refused unless it is explicitly allowed, and
even then only within one minor version (the schema is the same there: Mattermost adds schema
migrations in minor versions only).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


def parse_version(text):
    """'11.7.9' -> (11, 7, 9); raises ValueError for anything else."""
    match = VERSION.match(str(text).strip())
    if not match:
        raise ValueError("%r is not a Mattermost version (MAJOR.MINOR.PATCH)" % (text,))
    return tuple(int(part) for part in match.groups())


def parse_minor(text):
    """'11.7' or '11.7.9' -> (11, 7)."""
    parts = str(text).strip().split(".")
    if len(parts) not in (2, 3) or not all(part.isdigit() for part in parts):
        raise ValueError("%r is not a Mattermost minor version (MAJOR.MINOR)" % (text,))
    return int(parts[0]), int(parts[1])


def _name(minor):
    return "%d.%d" % minor


def upgrade_refusal(current, target, esr_versions, allow_downgrade=False):
    """Why the rolling change current -> target must not run, or '' when it may.

    current, target: MAJOR.MINOR.PATCH. esr_versions: the ESR minor versions ('10.11', '11.7').
    """
    now, then = parse_version(current), parse_version(target)
    esrs = sorted(set(parse_minor(esr) for esr in esr_versions))
    if now == then:
        return ""
    if then < now:
        if not allow_downgrade:
            return ("%s is older than the running %s: a downgrade runs only with "
                    "mattermost_ha_upgrade_allow_downgrade: true" % (target, current))
        if then[:2] != now[:2]:
            return ("%s is in another minor version than the running %s: its database schema is older, "
                    "and Mattermost's schema migrations are not undone by installing an older release "
                    "(restore the snapshot taken before the upgrade instead, docs/upgrades.md)" % (target, current))
        return ""
    skipped = [esr for esr in esrs if now[:2] < esr < then[:2]]
    if skipped:
        return ("%s -> %s skips the Extended Support Release %s: upgrade to the newest %s.x first"
                % (current, target, ", ".join(_name(esr) for esr in skipped), _name(skipped[0])))
    one_minor = then[:2] == now[:2] or then[:2] == (now[0], now[1] + 1)
    esr_to_esr = now[:2] in esrs and then[:2] in esrs
    if not (one_minor or esr_to_esr):
        return ("%s -> %s is more than one minor version: the nodes would run both versions during the rolling "
                "upgrade, and Mattermost tolerates one minor version of skew; upgrade to %d.%d.x first"
                % (current, target, now[0], now[1] + 1))
    return ""
