#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: mattermost_ha.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: rds_cluster_options
version_added: 0.1.0
short_description: Set the options of an Aurora cluster that amazon.aws.rds_cluster gets wrong
description:
  - Sets the storage configuration (Aurora Standard V(aurora) or I/O-Optimized V(aurora-iopt1))
    and IAM database authentication of an existing Aurora DB cluster with C(ModifyDBCluster),
    comparing with what C(DescribeDBClusters) returns.
  - M(amazon.aws.rds_cluster) rewrites any C(storage_type) to V(aurora) for Aurora engines, so
    I/O-Optimized cannot be set through it; and it compares C(enable_iam_database_authentication)
    with a key that C(DescribeDBClusters) does not return, so it fails on every run after the
    first. Create the cluster with it, without these two options, then use this module.
  - AWS allows switching to I/O-Optimized once every 30 days; switching back at any time.
author:
  - mattermost_ha.aws maintainers (@mattermost-ha)
options:
  db_cluster_identifier:
    description:
      - Identifier of the DB cluster.
    required: true
    type: str
    aliases: [cluster_id]
  storage_type:
    description:
      - V(aurora-iopt1) for I/O-Optimized, V(aurora) for Standard. Left alone when not given.
    type: str
    choices: [aurora, aurora-iopt1]
  enable_iam_database_authentication:
    description:
      - Allow database logins with IAM authentication tokens. Left alone when not given.
    type: bool
  wait:
    description:
      - Wait until the cluster is C(available) again after the change.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait when O(wait=true).
    type: int
    default: 1800
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Aurora I/O-Optimized storage and IAM database authentication
  mattermost_ha.aws.rds_cluster_options:
    db_cluster_identifier: mattermost
    storage_type: aurora-iopt1
    enable_iam_database_authentication: true
"""

RETURN = r"""
storage_type:
  description: Storage type of the cluster after the change.
  returned: always
  type: str
  sample: aurora-iopt1
iam_database_authentication_enabled:
  description: Whether IAM database authentication is on after the change.
  returned: always
  type: bool
  sample: true
db_cluster_identifier:
  description: Identifier of the DB cluster.
  returned: always
  type: str
  sample: mattermost
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import AWSResource
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import run
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import wait


def current_storage_type(cluster):
    # Aurora Standard clusters often report no StorageType at all.
    return cluster.get("StorageType") or "aurora"


class ClusterOptions(AWSResource):
    """The storage type and IAM authentication of one Aurora cluster: ensure_present returns the module's result."""

    service = "rds"

    def ensure_present(self):
        """Give the cluster the storage type and IAM authentication asked for."""
        identifier = self.params["db_cluster_identifier"]
        cluster = self.client.describe_db_clusters(DBClusterIdentifier=identifier, aws_retry=True)["DBClusters"][0]
        before = {
            "storage_type": current_storage_type(cluster),
            "iam_database_authentication_enabled": bool(cluster.get("IAMDatabaseAuthenticationEnabled")),
        }
        changes = {}
        if self.params["storage_type"] and self.params["storage_type"] != before["storage_type"]:
            changes["StorageType"] = self.params["storage_type"]
        iam_auth = self.params["enable_iam_database_authentication"]
        if iam_auth is not None and iam_auth != before["iam_database_authentication_enabled"]:
            changes["EnableIAMDatabaseAuthentication"] = iam_auth
        after = dict(before)
        if "StorageType" in changes:
            after["storage_type"] = changes["StorageType"]
        if "EnableIAMDatabaseAuthentication" in changes:
            after["iam_database_authentication_enabled"] = iam_auth
        if changes and not self.check_mode:
            self.client.modify_db_cluster(
                DBClusterIdentifier=identifier, ApplyImmediately=True, aws_retry=True, **changes
            )
            if self.params["wait"]:
                wait(
                    self.module, self.client, "db_cluster_available", self.params["wait_timeout"], 15,
                    f"Timed out waiting for cluster {identifier} to become available", DBClusterIdentifier=identifier,
                )
        return dict(
            changed=bool(changes),
            db_cluster_identifier=identifier,
            diff={"before": before, "after": after},
            **after,
        )


def main():
    argument_spec = dict(
        db_cluster_identifier=dict(type="str", required=True, aliases=["cluster_id"]),
        storage_type=dict(type="str", choices=["aurora", "aurora-iopt1"]),
        enable_iam_database_authentication=dict(type="bool"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1800),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    identifier = module.params["db_cluster_identifier"]
    run(module, ClusterOptions(module).ensure_present, failure=f"Failed to modify cluster {identifier}")


if __name__ == "__main__":
    main()
