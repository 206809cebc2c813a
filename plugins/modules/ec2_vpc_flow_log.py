#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the mattermost_ha.aws collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ec2_vpc_flow_log
version_added: 0.1.0
short_description: Manage a VPC flow log delivered to CloudWatch Logs
description:
  - Create, tag and delete the flow log of a VPC, subnet or network interface that delivers to a
    CloudWatch Logs group.
  - The flow log is found by O(resource_id) and O(log_group_name).
  - Flow logs cannot be modified. When O(traffic_type), O(deliver_logs_permission_arn) or
    O(max_aggregation_interval) differ, the flow log is deleted and created again (records the old one
    already delivered stay in the log group).
author:
  - mattermost_ha.aws maintainers (@mattermost-ha)
options:
  state:
    description: Whether the flow log should exist.
    type: str
    choices: [present, absent]
    default: present
  resource_id:
    description: The VPC, subnet or network interface id.
    type: str
    required: true
  resource_type:
    description: What O(resource_id) is.
    type: str
    choices: [VPC, Subnet, NetworkInterface]
    default: VPC
  traffic_type:
    description: Which traffic to log.
    type: str
    choices: [ACCEPT, REJECT, ALL]
    default: ALL
  log_group_name:
    description: The CloudWatch Logs group to deliver to.
    type: str
    required: true
  deliver_logs_permission_arn:
    description:
      - The ARN of the IAM role that VPC flow logs assume to write to the log group.
      - Required when O(state=present).
    type: str
  max_aggregation_interval:
    description: Seconds over which a flow is aggregated into one record.
    type: int
    choices: [60, 600]
    default: 600
  consistency_timeout:
    description:
      - Seconds to keep retrying while the flow-log service cannot assume
        O(deliver_logs_permission_arn) yet (C(Unable to assume given IAM role)), as for a role
        created seconds before, which is usable only once IAM has propagated it.
      - After this bound the module fails naming the role, AWS's answer and the bound. Other
        errors fail at once.
    type: int
    default: 120
notes:
  - Support for check mode and diff mode.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Log all traffic of the VPC
  mattermost_ha.aws.ec2_vpc_flow_log:
    resource_id: vpc-0123456789abcdef0
    log_group_name: /mattermost-ha/Mattermost/vpc-flow-logs
    deliver_logs_permission_arn: arn:aws:iam::123456789012:role/Mattermost-VPC-FlowLogs
    tags:
      Name: Mattermost-vpc-flow-log
"""

RETURN = r"""
flow_log:
  description: The flow log as AWS describes it; empty when absent.
  returned: always
  type: dict
  contains:
    flow_log_id:
      description: The flow log's id.
      type: str
      sample: fl-0123456789abcdef0
    resource_id:
      description: The logged resource.
      type: str
    traffic_type:
      description: The logged traffic.
      type: str
    log_group_name:
      description: The destination log group.
      type: str
    deliver_logs_permission_arn:
      description: The delivery role.
      type: str
    max_aggregation_interval:
      description: The aggregation interval.
      type: int
    flow_log_status:
      description: C(ACTIVE) once created.
      type: str
    tags:
      description: The flow log's tags.
      type: dict
"""

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_specifications

from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import AWSResource
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import Tagging
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import paginate
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import run
from ansible_collections.mattermost_ha.aws.plugins.module_utils.eventual import NotYetConsistent
from ansible_collections.mattermost_ha.aws.plugins.module_utils.eventual import client_error
from ansible_collections.mattermost_ha.aws.plugins.module_utils.eventual import wait_for_consistency

try:
    import botocore
except ImportError:
    botocore = None  # Handled by AnsibleAWSModule


def normalize(flow_log):
    if not flow_log:
        return {}
    result = camel_dict_to_snake_dict(flow_log, ignore_list=["Tags"])
    result["tags"] = boto3_tag_list_to_ansible_dict(flow_log.get("Tags", []))
    if "creation_time" in result and not isinstance(result["creation_time"], str):
        result["creation_time"] = result["creation_time"].isoformat()
    return result


class FlowLog(AWSResource):
    """The flow log of one resource into one log group: ensure_present and ensure_absent return the module's result."""

    service = "ec2"

    def find(self):
        filters = [
            {"Name": "resource-id", "Values": [self.params["resource_id"]]},
            {"Name": "log-group-name", "Values": [self.params["log_group_name"]]},
        ]
        return paginate(self.client, "describe_flow_logs", Filters=filters)["FlowLogs"]

    def settings_match(self, flow_log):
        params = self.params
        return (
            flow_log.get("TrafficType") == params["traffic_type"]
            and flow_log.get("DeliverLogsPermissionArn") == params["deliver_logs_permission_arn"]
            and int(flow_log.get("MaxAggregationInterval", 600)) == params["max_aggregation_interval"]
            and flow_log.get("LogDestinationType", "cloud-watch-logs") == "cloud-watch-logs"
        )

    def delete(self, flow_logs):
        if not self.module.check_mode:
            self.client.delete_flow_logs(FlowLogIds=[f["FlowLogId"] for f in flow_logs], aws_retry=True)

    def create(self):
        params = self.params
        request = dict(
            ResourceIds=[params["resource_id"]],
            ResourceType=params["resource_type"],
            TrafficType=params["traffic_type"],
            LogDestinationType="cloud-watch-logs",
            LogGroupName=params["log_group_name"],
            DeliverLogsPermissionArn=params["deliver_logs_permission_arn"],
            MaxAggregationInterval=params["max_aggregation_interval"],
        )
        if params["tags"]:
            request["TagSpecifications"] = boto3_tag_specifications(params["tags"], ["vpc-flow-log"])

        def attempt():
            response = self.client.create_flow_logs(aws_retry=True, **request)
            if response.get("Unsuccessful"):
                # Nothing was created: AWS reports the error inside the answer.
                error = response["Unsuccessful"][0].get("Error", {})
                raise client_error(str(error.get("Code", "")), str(error.get("Message", "")), "CreateFlowLogs")
            return response["FlowLogIds"][0]

        try:
            # A flow-log role made seconds ago cannot be assumed until IAM has propagated it.
            return wait_for_consistency(
                attempt,
                "iam_role",
                f"Creating the flow log of {params['resource_id']} with role {params['deliver_logs_permission_arn']}",
                params["consistency_timeout"],
            )
        except NotYetConsistent as e:
            self.module.fail_json(msg=str(e), aws_error_code=e.code)
        except botocore.exceptions.ClientError as e:
            self.module.fail_json_aws(e, msg="Creating the flow log failed")

    def ensure_absent(self):
        existing = self.find()
        before = normalize(existing[0]) if existing else {}
        if existing:
            self.delete(existing)
        return dict(changed=bool(existing), flow_log={}, diff=dict(before=before, after={}))

    def ensure_present(self):
        params = self.params
        existing = self.find()
        before = normalize(existing[0]) if existing else {}
        changed = False
        stale = [f for f in existing if not self.settings_match(f)]
        keep = [f for f in existing if self.settings_match(f)]
        # Duplicates and flow logs with other settings go; one matching flow log stays.
        remove = stale + keep[1:]
        if remove:
            changed = True
            self.delete(remove)
        if keep:
            flow_log = keep[0]
            current_tags = boto3_tag_list_to_ansible_dict(flow_log.get("Tags", []))
            tags_changed = Tagging.ec2(self.client, flow_log["FlowLogId"]).sync(
                params["tags"], params["purge_tags"], self.module.check_mode, current=current_tags
            )[0]
            changed |= tags_changed
            after = normalize(flow_log)
            if tags_changed and params["tags"] is not None:
                after["tags"] = dict(params["tags"]) if params["purge_tags"] else dict(current_tags, **params["tags"])
        else:
            changed = True
            after = {
                "resource_id": params["resource_id"],
                "traffic_type": params["traffic_type"],
                "log_group_name": params["log_group_name"],
                "deliver_logs_permission_arn": params["deliver_logs_permission_arn"],
                "max_aggregation_interval": params["max_aggregation_interval"],
                "tags": params["tags"] or {},
            }
            if not self.module.check_mode:
                flow_log_id = self.create()
                found = [f for f in self.find() if f["FlowLogId"] == flow_log_id]
                after = normalize(found[0]) if found else dict(after, flow_log_id=flow_log_id)
        return dict(changed=changed, flow_log=after, diff=dict(before=before, after=after))


def main():
    argument_spec = dict(
        state=dict(type="str", default="present", choices=["present", "absent"]),
        resource_id=dict(type="str", required=True),
        resource_type=dict(type="str", default="VPC", choices=["VPC", "Subnet", "NetworkInterface"]),
        traffic_type=dict(type="str", default="ALL", choices=["ACCEPT", "REJECT", "ALL"]),
        log_group_name=dict(type="str", required=True),
        deliver_logs_permission_arn=dict(type="str"),
        max_aggregation_interval=dict(type="int", default=600, choices=[60, 600]),
        consistency_timeout=dict(type="int", default=120),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        required_if=[["state", "present", ["deliver_logs_permission_arn"]]],
        supports_check_mode=True,
    )
    flow_log = FlowLog(module)
    run(module, flow_log.ensure_present, flow_log.ensure_absent, failure="VPC flow log request failed")


if __name__ == "__main__":
    main()
