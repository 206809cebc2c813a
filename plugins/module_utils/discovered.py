# -*- coding: utf-8 -*-

# Copyright: Contributors to the mattermost_ha.aws collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The values derived from a deployment's AWS resources, each computed here once.

The provisioning roles use these functions through filters (plugins/filter/aws.py) and the
inventory plugin calls them directly, so a value published on localhost during provisioning
and the one the plugin publishes for the app nodes cannot differ (docs/variables.md).
Inputs are AWS answers as amazon.aws modules return them (snake_case keys); the inventory
plugin converts boto3's answers with camel_dict_to_snake_dict first.
"""

from __future__ import annotations

import hashlib

# S3 bucket names are at most 63 characters.
_BUCKET_NAME_MAX = 63


def file_store_bucket_name(name, account_id, region):
    """mattermost-ha-<name lowercased>-<account>-<region>; when longer than S3 allows, a hash of
    account and region stands for them (never a truncation, which could make two regions' names equal)."""
    prefix = f"mattermost-ha-{str(name).lower()}-"
    full = f"{prefix}{account_id}-{region}"
    if len(full) <= _BUCKET_NAME_MAX:
        return full
    return prefix + hashlib.sha256(f"{account_id}-{region}".encode()).hexdigest()[:16]


def database_endpoints(cluster, instances):
    """Writer host (the cluster endpoint, which follows failover), port and the endpoints of the
    reader instances, sorted; an instance still without an endpoint is left out.

    cluster is one DescribeDBClusters entry, instances DescribeDBInstances entries (snake_case).
    An empty cluster (check mode on an empty account) gives an empty writer and no readers.
    """
    cluster = cluster or {}
    members = cluster.get("db_cluster_members", [])
    writers = {m.get("db_instance_identifier") for m in members if m.get("is_cluster_writer")}
    readers_ids = {m.get("db_instance_identifier") for m in members} - writers
    readers = sorted(
        i["endpoint"]["address"]
        for i in instances or []
        if i.get("db_instance_identifier") in readers_ids and (i.get("endpoint") or {}).get("address")
    )
    return {
        "writer_host": cluster.get("endpoint") or "",
        "port": cluster.get("port", 5432),
        "reader_hosts": readers,
    }
