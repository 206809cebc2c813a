#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: mattermost_ha.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: deployment_resources_info
version_added: 0.2.0
short_description: Find resources by the names a deployment derives, and say whether the deployment owns them
description:
  - Read only. For each named resource, asks AWS for it by that name and reads its tags. A
    resource is owned by the deployment when its C(mattermost-ha:deployment) tag equals
    O(deployment) exactly (case included); the name alone never makes a resource the
    deployment's.
  - AWS lower-cases some derived names (Aurora identifiers, S3 buckets), so two deployments whose
    names differ only in case derive the same names; the tag tells them apart.
  - With O(warn_foreign), every resource found but not owned is reported as a warning, naming
    its owner (or that it has no deployment tag); a teardown leaves such resources alone.
author:
  - mattermost_ha.aws maintainers (@mattermost-ha)
options:
  deployment:
    description: The deployment name (C(mattermost_ha_name)).
    required: true
    type: str
  resources:
    description: The resources to look for.
    required: true
    type: list
    elements: dict
    suboptions:
      key:
        description: The key of this resource in RV(resources).
        required: true
        type: str
      kind:
        description: What kind of resource O(resources[].name) names.
        required: true
        type: str
        choices:
          - rds_cluster
          - rds_cluster_snapshot
          - rds_instance
          - rds_subnet_group
          - rds_cluster_parameter_group
          - iam_role
          - iam_instance_profile
          - elbv2_load_balancer
          - elbv2_target_group
          - s3_bucket
          - logs_log_group
          - kms_alias
          - backup_vault
          - backup_plan
          - sns_topic
      name:
        description: The name (identifier, alias without C(alias/)) to look for.
        required: true
        type: str
  warn_foreign:
    description: Warn about every resource found that the deployment does not own.
    type: bool
    default: false
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Which of the database's resources does this deployment own?
  mattermost_ha.aws.deployment_resources_info:
    deployment: Mattermost
    resources:
      - {key: cluster, kind: rds_cluster, name: mattermost-db}
      - {key: monitoring_role, kind: iam_role, name: Mattermost-RDS-Monitoring}
    warn_foreign: true
  register: owned
"""

RETURN = r"""
resources:
  description: Each resource by its key.
  returned: always
  type: dict
  contains:
    exists:
      description: AWS has a resource of that kind and name (in this account, or for S3 anywhere).
      type: bool
    owned:
      description: It exists and its deployment tag equals O(deployment).
      type: bool
    owner:
      description: The value of its C(mattermost-ha:deployment) tag; empty when it has none or is unreadable.
      type: str
    name:
      description: The name as AWS reports it.
      type: str
    arn:
      description: Its ARN, where AWS gives one.
      type: str
  sample: {"cluster": {"exists": true, "owned": false, "owner": "prod", "name": "prod-db", "arn": "arn:aws:rds:..."}}
foreign:
  description: One sentence for every resource found that the deployment does not own.
  returned: always
  type: list
  elements: str
"""

try:
    import botocore
except ImportError:
    botocore = None  # reported by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import AWS_ERRORS
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import AWSResource
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import client
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import run
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import tags_to_dict

TAG = "mattermost-ha:deployment"

# Error codes meaning "no such resource" for each kind.
NOT_FOUND = {
    "rds_cluster": ["DBClusterNotFoundFault"],
    "rds_cluster_snapshot": ["DBClusterSnapshotNotFoundFault"],
    "rds_instance": ["DBInstanceNotFound"],
    "rds_subnet_group": ["DBSubnetGroupNotFoundFault"],
    "rds_cluster_parameter_group": ["DBParameterGroupNotFound", "DBClusterParameterGroupNotFound"],
    "iam_role": ["NoSuchEntity"],
    "iam_instance_profile": ["NoSuchEntity"],
    "elbv2_load_balancer": ["LoadBalancerNotFound"],
    "elbv2_target_group": ["TargetGroupNotFound"],
    "s3_bucket": ["NoSuchBucket", "404"],
    "logs_log_group": ["ResourceNotFoundException"],
    "kms_alias": ["NotFoundException"],
    "backup_vault": ["ResourceNotFoundException", "AccessDeniedException"],
    "backup_plan": ["ResourceNotFoundException"],
    "sns_topic": ["NotFound"],
}


class Finder(AWSResource):
    """The deployment's resources of several services: read returns the module's result (it changes nothing)."""

    def __init__(self, module):
        super().__init__(module)
        self.clients = {}

    def client(self, service):
        if service not in self.clients:
            self.clients[service] = client(self.module, service)
        return self.clients[service]

    def rds_tags(self, arn):
        return tags_to_dict(self.client("rds").list_tags_for_resource(ResourceName=arn, aws_retry=True)["TagList"])

    # Each returns (name, arn, tags) or raises the "not found" ClientError.
    def rds_cluster(self, name):
        found = self.client("rds").describe_db_clusters(DBClusterIdentifier=name, aws_retry=True)["DBClusters"][0]
        return found["DBClusterIdentifier"], found["DBClusterArn"], tags_to_dict(found.get("TagList"))

    def rds_cluster_snapshot(self, name):
        found = self.client("rds").describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=name, aws_retry=True)[
            "DBClusterSnapshots"
        ][0]
        arn = found["DBClusterSnapshotArn"]
        return found["DBClusterSnapshotIdentifier"], arn, self.rds_tags(arn)

    def rds_instance(self, name):
        found = self.client("rds").describe_db_instances(DBInstanceIdentifier=name, aws_retry=True)["DBInstances"][0]
        return found["DBInstanceIdentifier"], found["DBInstanceArn"], tags_to_dict(found.get("TagList"))

    def rds_subnet_group(self, name):
        rds = self.client("rds")
        found = rds.describe_db_subnet_groups(DBSubnetGroupName=name, aws_retry=True)["DBSubnetGroups"][0]
        return found["DBSubnetGroupName"], found["DBSubnetGroupArn"], self.rds_tags(found["DBSubnetGroupArn"])

    def rds_cluster_parameter_group(self, name):
        found = self.client("rds").describe_db_cluster_parameter_groups(
            DBClusterParameterGroupName=name, aws_retry=True
        )["DBClusterParameterGroups"][0]
        arn = found["DBClusterParameterGroupArn"]
        return found["DBClusterParameterGroupName"], arn, self.rds_tags(arn)

    def iam_role(self, name):
        # GetRole and GetInstanceProfile answer with the tags.
        found = self.client("iam").get_role(RoleName=name, aws_retry=True)["Role"]
        return found["RoleName"], found["Arn"], tags_to_dict(found.get("Tags"))

    def iam_instance_profile(self, name):
        found = self.client("iam").get_instance_profile(InstanceProfileName=name, aws_retry=True)["InstanceProfile"]
        return found["InstanceProfileName"], found["Arn"], tags_to_dict(found.get("Tags"))

    def elbv2_tags(self, arn):
        descriptions = self.client("elbv2").describe_tags(ResourceArns=[arn], aws_retry=True)["TagDescriptions"]
        return tags_to_dict(descriptions[0]["Tags"] if descriptions else [])

    def elbv2_load_balancer(self, name):
        found = self.client("elbv2").describe_load_balancers(Names=[name], aws_retry=True)["LoadBalancers"][0]
        return found["LoadBalancerName"], found["LoadBalancerArn"], self.elbv2_tags(found["LoadBalancerArn"])

    def elbv2_target_group(self, name):
        found = self.client("elbv2").describe_target_groups(Names=[name], aws_retry=True)["TargetGroups"][0]
        return found["TargetGroupName"], found["TargetGroupArn"], self.elbv2_tags(found["TargetGroupArn"])

    def s3_bucket(self, name):
        s3 = self.client("s3")
        s3.head_bucket(Bucket=name, aws_retry=True)
        try:
            tags = s3.get_bucket_tagging(Bucket=name, aws_retry=True)["TagSet"]
        except is_boto3_error_code(["NoSuchTagSet", "AccessDenied", "403"]):
            tags = []
        return name, "", tags_to_dict(tags)

    def logs_log_group(self, name):
        logs = self.client("logs")
        groups = logs.describe_log_groups(logGroupNamePrefix=name, aws_retry=True)["logGroups"]
        found = [g for g in groups if g["logGroupName"] == name]
        if not found:
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "ResourceNotFoundException", "Message": name}}, "DescribeLogGroups"
            )
        tags = logs.list_tags_log_group(logGroupName=name, aws_retry=True).get("tags", {})
        return name, found[0].get("arn", ""), tags_to_dict(tags)

    def kms_alias(self, name):
        kms = self.client("kms")
        key = kms.describe_key(KeyId=f"alias/{name}", aws_retry=True)["KeyMetadata"]
        tags = kms.list_resource_tags(KeyId=key["KeyId"], aws_retry=True)["Tags"]
        return f"alias/{name}", key["Arn"], tags_to_dict(tags)

    def backup_tags(self, arn):
        return self.client("backup").list_tags(ResourceArn=arn, aws_retry=True).get("Tags") or {}

    def backup_vault(self, name):
        # AWS answers a vault that does not exist with AccessDeniedException, not
        # ResourceNotFoundException (aws/aws-sdk-js#2625, amazon.aws#1436).
        found = self.client("backup").describe_backup_vault(BackupVaultName=name, aws_retry=True)
        return found["BackupVaultName"], found["BackupVaultArn"], self.backup_tags(found["BackupVaultArn"])

    def backup_plan(self, name):
        # Plans are found by name in the list (deleted ones are not listed); the names of
        # plans need not be unique, the first one listed is taken.
        backup = self.client("backup")
        plans = backup.get_paginator("list_backup_plans").paginate().build_full_result()["BackupPlansList"]
        found = [p for p in plans if p.get("BackupPlanName") == name]
        if not found:
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "ResourceNotFoundException", "Message": name}}, "ListBackupPlans"
            )
        return name, found[0]["BackupPlanArn"], self.backup_tags(found[0]["BackupPlanArn"])

    def sns_topic(self, name):
        sns = self.client("sns")
        topics = sns.get_paginator("list_topics").paginate().build_full_result()["Topics"]
        found = [t["TopicArn"] for t in topics if t["TopicArn"].rsplit(":", 1)[-1] == name]
        if not found:
            raise botocore.exceptions.ClientError({"Error": {"Code": "NotFound", "Message": name}}, "ListTopics")
        tags = sns.list_tags_for_resource(ResourceArn=found[0], aws_retry=True).get("Tags", [])
        return name, found[0], tags_to_dict(tags)

    def read(self):
        """Whether each resource exists and whose it is (a read: never changes anything)."""
        deployment = self.params["deployment"]
        result, foreign = {}, []
        for wanted in self.params["resources"]:
            kind, name = wanted["kind"], wanted["name"]
            entry = {"exists": False, "owned": False, "owner": "", "name": name, "arn": ""}
            try:
                found_name, arn, tags = getattr(self, kind)(name)
                owner = tags.get(TAG) or ""
                entry = {"exists": True, "owned": owner == deployment, "owner": owner, "name": found_name, "arn": arn}
            except is_boto3_error_code(NOT_FOUND[kind]):
                pass
            except is_boto3_error_code(["AccessDenied", "403", "Forbidden"]):  # pylint: disable=duplicate-except
                # An S3 bucket of another account: it exists, and is not ours.
                entry = dict(entry, exists=True, owner="another account")
            except AWS_ERRORS as e:  # pylint: disable=duplicate-except
                self.module.fail_json_aws(e, msg=f"Failed to look for the {kind.replace('_', ' ')} {name}")
            if entry["exists"] and not entry["owned"]:
                sentence = describe(kind, entry["name"], entry["owner"])
                foreign.append(sentence)
                if self.params["warn_foreign"]:
                    self.module.warn(f"Left alone: {sentence}, not to {deployment}.")
            result[wanted["key"]] = entry
        return dict(changed=False, resources=result, foreign=foreign)


def describe(kind, name, owner):
    what = kind.replace("_", " ")
    if owner == "another account":
        return f"{what} {name} belongs to another account"
    if owner:
        return f"{what} {name} belongs to the deployment {owner}"
    return f"{what} {name} has no {TAG} tag (made outside this collection)"


def main():
    argument_spec = dict(
        deployment=dict(type="str", required=True),
        resources=dict(
            type="list",
            elements="dict",
            required=True,
            options=dict(
                key=dict(type="str", required=True, no_log=False),
                kind=dict(type="str", required=True, choices=sorted(NOT_FOUND)),
                name=dict(type="str", required=True),
            ),
        ),
        warn_foreign=dict(type="bool", default=False),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    run(module, Finder(module).read, failure="Failed to look for the deployment's resources")


if __name__ == "__main__":
    main()
