#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: mattermost_ha.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: globalaccelerator_accelerator
version_added: 0.1.0
short_description: Manage an AWS Global Accelerator with one TCP listener and one endpoint group
description:
  - Creates, updates or deletes a standard AWS Global Accelerator together with its TCP
    listener and the endpoint group of one region, the shape used to put an accelerator in
    front of an application load balancer.
  - The Global Accelerator API lives in C(us-west-2) whatever the region of the endpoints; the
    module always calls it there and uses O(endpoint_group_region) for the endpoints.
  - Deleting disables the accelerator first and waits until it is deployed, as AWS requires.
author:
  - mattermost_ha.aws maintainers (@mattermost-ha)
options:
  name:
    description:
      - Name of the accelerator; identifies it.
    required: true
    type: str
  state:
    description:
      - V(present) or V(absent).
      - With V(absent) and O(tags) given, the accelerator of that name is deleted only when it carries
        every one of those tags (ownership); otherwise it is left alone, with a warning naming it.
    type: str
    default: present
    choices: [present, absent]
  enabled:
    description:
      - Whether the accelerator accepts traffic.
    type: bool
    default: true
  ip_address_type:
    description:
      - IP address type of the accelerator.
    type: str
    default: IPV4
    choices: [IPV4, DUAL_STACK]
  listener_ports:
    description:
      - TCP ports the listener accepts.
    type: list
    elements: int
    default: [80, 443]
  client_affinity:
    description:
      - V(SOURCE_IP) sends a client to the same endpoint every time.
    type: str
    default: NONE
    choices: [NONE, SOURCE_IP]
  endpoint_group_region:
    description:
      - Region of the endpoints. Required when O(state=present).
    type: str
  endpoints:
    description:
      - Endpoints of the group, for example the ARN of an application load balancer.
    type: list
    elements: dict
    default: []
    suboptions:
      endpoint_id:
        description: ARN of a load balancer, or an Elastic IP or instance ID.
        type: str
        required: true
      weight:
        description: Weight of the endpoint (0-255).
        type: int
        default: 128
      client_ip_preservation_enabled:
        description: Pass the client's IP address to the endpoint.
        type: bool
        default: true
  wait:
    description:
      - Wait until the accelerator is C(DEPLOYED).
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait.
    type: int
    default: 900
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
notes:
  - The region option is not used for the API calls (always C(us-west-2)).
"""

EXAMPLES = r"""
- name: Global Accelerator in front of the ALB
  mattermost_ha.aws.globalaccelerator_accelerator:
    name: Mattermost-ALB-GA
    listener_ports: [80, 443]
    endpoint_group_region: us-east-1
    endpoints:
      - endpoint_id: "{{ alb.load_balancer_arn }}"
    tags:
      mattermost-ha:deployment: Mattermost

- name: Remove it, only if it is this deployment's
  mattermost_ha.aws.globalaccelerator_accelerator:
    name: Mattermost-ALB-GA
    state: absent
    tags:
      mattermost-ha:deployment: Mattermost
"""

RETURN = r"""
accelerator_arn:
  description: ARN of the accelerator; empty when absent or only planned in check mode.
  returned: always
  type: str
dns_name:
  description: DNS name of the accelerator.
  returned: always
  type: str
  sample: a1234567890abcdef.awsglobalaccelerator.com
ip_addresses:
  description: Static IP addresses of the accelerator.
  returned: always
  type: list
  elements: str
status:
  description: C(DEPLOYED) or C(IN_PROGRESS); empty when absent.
  returned: always
  type: str
listener_arn:
  description: ARN of the listener.
  returned: always
  type: str
endpoint_group_arn:
  description: ARN of the endpoint group.
  returned: always
  type: str
"""

import time
import uuid

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list

from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import AWSResource
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import Tagging
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import paginate
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import run
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import tags_to_dict

API_REGION = "us-west-2"


class Accelerator(AWSResource):
    """The accelerator of one name: ensure_present and ensure_absent return the module's result."""

    service = "globalaccelerator"
    region = API_REGION

    def __init__(self, module):
        super().__init__(module)
        self.changed = False

    def find(self):
        for accelerator in paginate(self.client, "list_accelerators").get("Accelerators", []):
            if accelerator["Name"] == self.module.params["name"]:
                return accelerator
        return None

    def listeners(self, arn):
        return self.client.list_listeners(AcceleratorArn=arn, aws_retry=True).get("Listeners", [])

    def endpoint_groups(self, listener_arn):
        return self.client.list_endpoint_groups(ListenerArn=listener_arn, aws_retry=True).get("EndpointGroups", [])

    def wait_deployed(self, arn):
        if not self.module.params["wait"] or self.check_mode:
            return self.client.describe_accelerator(AcceleratorArn=arn, aws_retry=True)["Accelerator"]
        deadline = time.time() + self.module.params["wait_timeout"]
        while True:
            accelerator = self.client.describe_accelerator(AcceleratorArn=arn, aws_retry=True)["Accelerator"]
            if accelerator["Status"] == "DEPLOYED":
                return accelerator
            if time.time() >= deadline:
                timeout = self.module.params["wait_timeout"]
                self.module.fail_json(msg=f"Accelerator {arn} not deployed after {timeout} s")
            time.sleep(10)

    def tags_of(self, arn):
        return tags_to_dict(self.client.list_tags_for_resource(ResourceArn=arn, aws_retry=True).get("Tags", []))

    def ensure_tags(self, arn):
        tagging = Tagging.key_value_list(
            self.client.tag_resource, self.client.untag_resource, read=lambda: self.tags_of(arn), ResourceArn=arn
        )
        if tagging.sync(self.module.params["tags"], self.module.params["purge_tags"], self.check_mode)[0]:
            self.changed = True

    def wanted_endpoints(self):
        return sorted(
            (
                {
                    "EndpointId": e["endpoint_id"],
                    "Weight": e["weight"],
                    "ClientIPPreservationEnabled": e["client_ip_preservation_enabled"],
                }
                for e in self.module.params["endpoints"]
            ),
            key=lambda e: e["EndpointId"],
        )

    def ensure_listener(self, arn):
        ports = sorted(set(self.module.params["listener_ports"]))
        ranges = [{"FromPort": p, "ToPort": p} for p in ports]
        affinity = self.module.params["client_affinity"]
        listeners = self.listeners(arn)
        if not listeners:
            self.changed = True
            if self.check_mode:
                return None
            return self.client.create_listener(
                AcceleratorArn=arn, PortRanges=ranges, Protocol="TCP", ClientAffinity=affinity,
                IdempotencyToken=uuid.uuid4().hex, aws_retry=True,
            )["Listener"]
        listener = listeners[0]
        current_ports = sorted(
            p for r in listener.get("PortRanges", []) for p in range(r["FromPort"], r["ToPort"] + 1)
        )
        if current_ports != ports or listener.get("Protocol") != "TCP" or listener.get("ClientAffinity") != affinity:
            self.changed = True
            if not self.check_mode:
                listener = self.client.update_listener(
                    ListenerArn=listener["ListenerArn"], PortRanges=ranges, Protocol="TCP", ClientAffinity=affinity,
                    aws_retry=True,
                )["Listener"]
        return listener

    def ensure_endpoint_group(self, listener):
        region = self.module.params["endpoint_group_region"]
        wanted = self.wanted_endpoints()
        if listener is None:
            self.changed = True
            return None
        groups = [g for g in self.endpoint_groups(listener["ListenerArn"]) if g["EndpointGroupRegion"] == region]
        if not groups:
            self.changed = True
            if self.check_mode:
                return None
            return self.client.create_endpoint_group(
                ListenerArn=listener["ListenerArn"], EndpointGroupRegion=region, EndpointConfigurations=wanted,
                IdempotencyToken=uuid.uuid4().hex, aws_retry=True,
            )["EndpointGroup"]
        group = groups[0]
        current = sorted(
            (
                {
                    "EndpointId": e["EndpointId"],
                    "Weight": e.get("Weight"),
                    "ClientIPPreservationEnabled": e.get("ClientIPPreservationEnabled", False),
                }
                for e in group.get("EndpointDescriptions", [])
            ),
            key=lambda e: e["EndpointId"],
        )
        if current != wanted:
            self.changed = True
            if not self.check_mode:
                group = self.client.update_endpoint_group(
                    EndpointGroupArn=group["EndpointGroupArn"], EndpointConfigurations=wanted, aws_retry=True
                )["EndpointGroup"]
        return group

    def ensure_present(self):
        params = self.module.params
        if not params["endpoint_group_region"]:
            self.module.fail_json(msg="endpoint_group_region is required when state is present")
        accelerator = self.find()
        before = {"name": params["name"], "enabled": accelerator["Enabled"]} if accelerator else {}
        if accelerator is None:
            self.changed = True
            if self.check_mode:
                return dict(
                    changed=True, accelerator_arn="", dns_name="", ip_addresses=[], status="",
                    listener_arn="", endpoint_group_arn="",
                    diff={"before": {}, "after": {"name": params["name"], "enabled": params["enabled"]}},
                )
            request = {
                "Name": params["name"],
                "IpAddressType": params["ip_address_type"],
                "Enabled": params["enabled"],
                "IdempotencyToken": uuid.uuid4().hex,
            }
            if params["tags"]:
                request["Tags"] = ansible_dict_to_boto3_tag_list(params["tags"])
            accelerator = self.client.create_accelerator(aws_retry=True, **request)["Accelerator"]
        else:
            if accelerator["Enabled"] != params["enabled"] or accelerator["IpAddressType"] != params["ip_address_type"]:
                self.changed = True
                if not self.check_mode:
                    accelerator = self.client.update_accelerator(
                        AcceleratorArn=accelerator["AcceleratorArn"], Enabled=params["enabled"],
                        IpAddressType=params["ip_address_type"], aws_retry=True,
                    )["Accelerator"]
            self.ensure_tags(accelerator["AcceleratorArn"])
        arn = accelerator["AcceleratorArn"]
        listener = self.ensure_listener(arn)
        group = self.ensure_endpoint_group(listener)
        if self.changed:
            accelerator = self.wait_deployed(arn)
        return dict(
            changed=self.changed,
            accelerator_arn=arn,
            dns_name=accelerator.get("DnsName", ""),
            ip_addresses=[ip for s in accelerator.get("IpSets", []) for ip in s.get("IpAddresses", [])],
            status=accelerator.get("Status", ""),
            listener_arn=(listener or {}).get("ListenerArn", ""),
            endpoint_group_arn=(group or {}).get("EndpointGroupArn", ""),
            diff={"before": before, "after": {"name": params["name"], "enabled": params["enabled"]}},
        )

    def ensure_absent(self):
        accelerator = self.find()
        if accelerator is None:
            return dict(
                changed=False, accelerator_arn="", dns_name="", ip_addresses=[], status="",
                listener_arn="", endpoint_group_arn="", diff={"before": {}, "after": {}},
            )
        arn = accelerator["AcceleratorArn"]
        owner_tags = self.module.params["tags"] or {}
        if owner_tags:
            current = self.tags_of(arn)
            if any(current.get(key) != value for key, value in owner_tags.items()):
                self.module.warn("Global Accelerator %s (%s) is left in place: it does not carry the tags %s"
                                 % (accelerator["Name"], arn, owner_tags))
                return dict(
                    changed=False, accelerator_arn=arn, dns_name=accelerator.get("DnsName", ""), ip_addresses=[],
                    status=accelerator.get("Status", ""), listener_arn="", endpoint_group_arn="",
                    diff={"before": {}, "after": {}},
                )
        if not self.check_mode:
            if accelerator["Enabled"]:
                self.client.update_accelerator(AcceleratorArn=arn, Enabled=False, aws_retry=True)
            for listener in self.listeners(arn):
                for group in self.endpoint_groups(listener["ListenerArn"]):
                    self.client.delete_endpoint_group(EndpointGroupArn=group["EndpointGroupArn"], aws_retry=True)
                self.client.delete_listener(ListenerArn=listener["ListenerArn"], aws_retry=True)
            self.module.params["wait"] = True
            self.wait_deployed(arn)
            self.client.delete_accelerator(AcceleratorArn=arn, aws_retry=True)
        return dict(
            changed=True, accelerator_arn="", dns_name="", ip_addresses=[], status="",
            listener_arn="", endpoint_group_arn="",
            diff={"before": {"name": accelerator["Name"], "enabled": accelerator["Enabled"]}, "after": {}},
        )


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        enabled=dict(type="bool", default=True),
        ip_address_type=dict(type="str", default="IPV4", choices=["IPV4", "DUAL_STACK"]),
        listener_ports=dict(type="list", elements="int", default=[80, 443]),
        client_affinity=dict(type="str", default="NONE", choices=["NONE", "SOURCE_IP"]),
        endpoint_group_region=dict(type="str"),
        endpoints=dict(
            type="list",
            elements="dict",
            default=[],
            options=dict(
                endpoint_id=dict(type="str", required=True),
                weight=dict(type="int", default=128),
                client_ip_preservation_enabled=dict(type="bool", default=True),
            ),
        ),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=900),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    accelerator = Accelerator(module)
    run(module, accelerator.ensure_present, accelerator.ensure_absent, failure="Global Accelerator call failed")


if __name__ == "__main__":
    main()
