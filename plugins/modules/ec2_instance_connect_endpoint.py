#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the mattermost_ha.aws collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ec2_instance_connect_endpoint
version_added: 0.1.0
short_description: Manage an EC2 Instance Connect Endpoint
description:
  - Create, tag and delete an EC2 Instance Connect Endpoint, which lets administrators open SSH
    sessions to instances in private subnets without public addresses or a bastion host.
  - An existing endpoint is found by O(instance_connect_endpoint_id) or, without it, by O(subnet_id)
    (AWS allows one endpoint per VPC).
  - The subnet, security groups and O(preserve_client_ip) of an endpoint cannot be changed; when they differ
    from the existing endpoint's, the module fails and says so, or replaces the endpoint when O(replace=true).
author:
  - mattermost_ha.aws maintainers (@mattermost-ha)
options:
  state:
    description:
      - V(present) creates the endpoint (and waits until it is C(create-complete) when O(wait=true)).
      - V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  instance_connect_endpoint_id:
    description:
      - The id of an existing endpoint (C(eici-...)).
      - Required when O(state=absent) and O(subnet_id) is not given.
    type: str
  subnet_id:
    description:
      - The subnet the endpoint's network interface is created in.
      - Required when O(state=present).
    type: str
  security_group_ids:
    description:
      - Security groups of the endpoint's network interface; AWS uses the VPC's default group when empty.
      - The instances' security groups must allow SSH from these groups.
    type: list
    elements: str
    default: []
  preserve_client_ip:
    description:
      - Whether connections reach the instances from the client's IP address instead of the endpoint's.
    type: bool
    default: false
  replace:
    description:
      - When the existing endpoint's subnet, security groups or O(preserve_client_ip) differ from the ones
        asked for, delete it and create a new one (Instance Connect sessions are unavailable for the few
        minutes this takes; nothing is stored on an endpoint).
      - When V(false), the module fails and names the differences.
    type: bool
    default: false
    version_added: 1.1.0
  wait:
    description:
      - Wait until the endpoint is C(create-complete) (O(state=present)) or deleted (O(state=absent)).
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait.
    type: int
    default: 600
notes:
  - Creating an endpoint takes a few minutes.
  - Support for check mode and diff mode.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: SSH to the private app nodes through an Instance Connect Endpoint
  mattermost_ha.aws.ec2_instance_connect_endpoint:
    subnet_id: subnet-0123456789abcdef0
    security_group_ids: [sg-0123456789abcdef0]
    tags:
      Name: Mattermost-VPC-endpoint
  register: eic

- name: Delete it
  mattermost_ha.aws.ec2_instance_connect_endpoint:
    state: absent
    instance_connect_endpoint_id: "{{ eic.instance_connect_endpoint.instance_connect_endpoint_id }}"
"""

RETURN = r"""
instance_connect_endpoint:
  description: The endpoint as AWS describes it (after the change); empty after deletion.
  returned: always
  type: dict
  contains:
    instance_connect_endpoint_id:
      description: The endpoint's id.
      type: str
      sample: eici-0123456789abcdef0
    instance_connect_endpoint_arn:
      description: The endpoint's ARN.
      type: str
    state:
      description: C(create-in-progress), C(create-complete), C(create-failed), C(delete-in-progress)...
      type: str
      sample: create-complete
    state_message:
      description: AWS's explanation of the state, if any.
      type: str
    dns_name:
      description: The endpoint's DNS name.
      type: str
    fips_dns_name:
      description: The endpoint's FIPS DNS name.
      type: str
    network_interface_ids:
      description: The endpoint's network interfaces.
      type: list
      elements: str
    vpc_id:
      description: The VPC.
      type: str
    subnet_id:
      description: The subnet.
      type: str
    availability_zone:
      description: The subnet's zone.
      type: str
    security_group_ids:
      description: The security groups of the endpoint's network interface.
      type: list
      elements: str
    preserve_client_ip:
      description: Whether the client IP is preserved.
      type: bool
    owner_id:
      description: The owning account.
      type: str
    created_at:
      description: Creation time (ISO 8601).
      type: str
    tags:
      description: The endpoint's tags.
      type: dict
"""

import uuid

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import AWSResource
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import Tagging
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import run
from ansible_collections.mattermost_ha.aws.plugins.module_utils.ec2_instance_connect import InstanceConnectEndpointError
from ansible_collections.mattermost_ha.aws.plugins.module_utils.ec2_instance_connect import create_endpoint
from ansible_collections.mattermost_ha.aws.plugins.module_utils.ec2_instance_connect import delete_endpoint
from ansible_collections.mattermost_ha.aws.plugins.module_utils.ec2_instance_connect import find_endpoint
from ansible_collections.mattermost_ha.aws.plugins.module_utils.ec2_instance_connect import normalize_endpoint
from ansible_collections.mattermost_ha.aws.plugins.module_utils.ec2_instance_connect import wait_for_state


class Endpoint(AWSResource):
    """The endpoint of one subnet (or of one id): ensure_present and ensure_absent return the module's result."""

    service = "ec2"

    def ensure_present(self):
        return self.outcome(self.present)

    def ensure_absent(self):
        return self.outcome(self.absent)

    def outcome(self, step):
        """step(endpoint found) -> (changed, before, after), as the module's result."""
        try:
            endpoint = find_endpoint(
                self.client, endpoint_id=self.params["instance_connect_endpoint_id"], subnet_id=self.params["subnet_id"]
            )
            changed, before, after = step(endpoint)
        except InstanceConnectEndpointError as e:
            self.module.fail_json(msg=str(e), instance_connect_endpoint=normalize_endpoint(e.endpoint))
        result = dict(changed=changed, instance_connect_endpoint=after or {})
        if self.module._diff:
            result["diff"] = dict(before=before or {}, after=after or {})
        return result

    def immutable_differences(self, endpoint):
        params = self.params
        differences = []
        if params["subnet_id"] and endpoint["SubnetId"] != params["subnet_id"]:
            differences.append(f"subnet_id ({endpoint['SubnetId']} != {params['subnet_id']})")
        current_groups = sorted(endpoint.get("SecurityGroupIds", []))
        wanted_groups = sorted(params["security_group_ids"])
        if wanted_groups and current_groups != wanted_groups:
            differences.append(f"security_group_ids ({current_groups} != {wanted_groups})")
        if bool(endpoint.get("PreserveClientIp")) != params["preserve_client_ip"]:
            differences.append(
                f"preserve_client_ip ({endpoint.get('PreserveClientIp')} != {params['preserve_client_ip']})"
            )
        return differences

    def create(self):
        """Create the endpoint asked for (or, in check mode, say what would be created)."""
        params = self.params
        if self.module.check_mode:
            return {
                "subnet_id": params["subnet_id"],
                "security_group_ids": params["security_group_ids"],
                "preserve_client_ip": params["preserve_client_ip"],
                "tags": params["tags"] or {},
            }
        created = create_endpoint(
            self.client,
            params["subnet_id"],
            params["security_group_ids"],
            params["preserve_client_ip"],
            params["tags"],
            client_token=str(uuid.uuid4()),
        )
        endpoint_id = created["InstanceConnectEndpointId"]
        if params["wait"]:
            created = wait_for_state(self.client, endpoint_id, "create-complete", params["wait_timeout"])
        return normalize_endpoint(created)

    def present(self, endpoint):
        params, module = self.params, self.module
        if endpoint is None:
            return True, None, self.create()
        if endpoint["State"] in ("create-failed", "update-failed"):
            module.fail_json(
                msg=f"EC2 Instance Connect Endpoint {endpoint['InstanceConnectEndpointId']} is {endpoint['State']}: "
                f"{endpoint.get('StateMessage', '')}; delete it (state=absent) and create it again",
                instance_connect_endpoint=normalize_endpoint(endpoint),
            )
        differences = self.immutable_differences(endpoint)
        if differences and params["replace"]:
            before = normalize_endpoint(endpoint)
            if not module.check_mode:
                delete_endpoint(self.client, endpoint["InstanceConnectEndpointId"])
                # A VPC has one endpoint: the new one can only be created once the old one is gone.
                wait_for_state(
                    self.client, endpoint["InstanceConnectEndpointId"], "delete-complete", params["wait_timeout"]
                )
            return True, before, self.create()
        if differences:
            module.fail_json(
                msg=f"EC2 Instance Connect Endpoint {endpoint['InstanceConnectEndpointId']} cannot be changed in "
                "place: " + ", ".join(differences) + "; delete it (state=absent) and create it again",
                instance_connect_endpoint=normalize_endpoint(endpoint),
            )
        before = normalize_endpoint(endpoint)
        endpoint_id = endpoint["InstanceConnectEndpointId"]
        current_tags = boto3_tag_list_to_ansible_dict(endpoint.get("Tags", []))
        changed = Tagging.ec2(self.client, endpoint_id).sync(
            params["tags"], params["purge_tags"], module.check_mode, current=current_tags
        )[0]
        if changed and not module.check_mode:
            endpoint = find_endpoint(self.client, endpoint_id=endpoint_id)
        elif changed:
            after = dict(before)
            after["tags"] = dict(params["tags"]) if params["purge_tags"] else dict(current_tags, **params["tags"])
            return True, before, after
        if params["wait"] and endpoint["State"] == "create-in-progress" and not module.check_mode:
            endpoint = wait_for_state(self.client, endpoint_id, "create-complete", params["wait_timeout"])
        return changed, before, normalize_endpoint(endpoint)

    def absent(self, endpoint):
        module = self.module
        if endpoint is None:
            return False, None, None
        before = normalize_endpoint(endpoint)
        if endpoint["State"] == "delete-in-progress":
            changed = False
        else:
            changed = True
            if module.check_mode:
                return True, before, None
            try:
                delete_endpoint(self.client, endpoint["InstanceConnectEndpointId"])
            except is_boto3_error_code("InvalidInstanceConnectEndpointId.NotFound"):
                return False, before, None
        if self.params["wait"] and not module.check_mode:
            wait_for_state(
                self.client, endpoint["InstanceConnectEndpointId"], "delete-complete", self.params["wait_timeout"]
            )
        return changed, before, None


def main():
    argument_spec = dict(
        state=dict(type="str", default="present", choices=["present", "absent"]),
        instance_connect_endpoint_id=dict(type="str"),
        subnet_id=dict(type="str"),
        security_group_ids=dict(type="list", elements="str", default=[]),
        preserve_client_ip=dict(type="bool", default=False),
        replace=dict(type="bool", default=False),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=600),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        required_if=[["state", "present", ["subnet_id"]]],
        required_one_of=[["instance_connect_endpoint_id", "subnet_id"]],
        supports_check_mode=True,
    )
    endpoint = Endpoint(module)
    run(module, endpoint.ensure_present, endpoint.ensure_absent, failure="EC2 Instance Connect Endpoint request failed")


if __name__ == "__main__":
    main()
