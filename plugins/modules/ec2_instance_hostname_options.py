#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: mattermost_ha.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ec2_instance_hostname_options
version_added: 0.1.0
short_description: Set the hostname type and resource-name DNS records of EC2 instances
description:
  - Sets an instance's private DNS name options (the console's "Hostname type" and "DNS
    hostname" settings) with C(ModifyPrivateDnsNameOptions).
  - V(resource-name) gives instances hostnames like C(i-0123456789abcdef0.us-west-1.compute.internal)
    instead of names derived from the private IP address.
  - M(amazon.aws.ec2_instance) has no option for it.
  - AWS changes these options only on stopped instances. With O(stop_instances=true) the module
    stops the running instances that need a change, changes them and starts them again (once,
    right after launch in the P(mattermost_ha.aws.aws_app_instances#role) role); otherwise it
    fails on running instances that need a change.
author:
  - mattermost_ha.aws maintainers (@mattermost-ha)
options:
  instance_ids:
    description:
      - IDs of the instances to set.
    required: true
    type: list
    elements: str
  hostname_type:
    description:
      - V(resource-name) or V(ip-name).
    type: str
    default: resource-name
    choices: [ip-name, resource-name]
  enable_resource_name_dns_a_record:
    description:
      - Answer DNS queries for the resource name with the instance's IPv4 address.
    type: bool
    default: true
  enable_resource_name_dns_aaaa_record:
    description:
      - Answer DNS queries for the resource name with the instance's IPv6 address.
    type: bool
    default: false
  stop_instances:
    description:
      - Stop running instances that need a change, change them, and start them again.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait for each stop and start when O(stop_instances=true).
    type: int
    default: 600
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Hostname type Resource name, like the console setting in the launch wizard
  mattermost_ha.aws.ec2_instance_hostname_options:
    instance_ids: "{{ instances.instance_ids }}"
    hostname_type: resource-name
    stop_instances: true
"""

RETURN = r"""
changed_instance_ids:
  description: Instances whose options were (or in check mode would be) changed.
  returned: always
  type: list
  elements: str
  sample: ["i-0123456789abcdef0"]
restarted_instance_ids:
  description: Instances that were (or in check mode would be) stopped and started for the change.
  returned: always
  type: list
  elements: str
  sample: ["i-0123456789abcdef0"]
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import AWSResource
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import run
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import wait

DEFAULTS = {"HostnameType": "ip-name", "EnableResourceNameDnsARecord": False, "EnableResourceNameDnsAAAARecord": False}
WAIT_FAILED = "Timed out waiting for the instances to stop or start"


class HostnameOptions(AWSResource):
    """The private DNS name options of some instances: ensure_present returns the module's result."""

    service = "ec2"

    def ensure_present(self):
        """Give every instance the wanted private DNS name options, stopping running ones if allowed."""
        timeout = self.params["wait_timeout"]
        wanted = {
            "HostnameType": self.params["hostname_type"],
            "EnableResourceNameDnsARecord": self.params["enable_resource_name_dns_a_record"],
            "EnableResourceNameDnsAAAARecord": self.params["enable_resource_name_dns_aaaa_record"],
        }
        before, after, changed_ids, running = {}, {}, [], []
        if self.params["instance_ids"]:
            reservations = self.client.describe_instances(InstanceIds=self.params["instance_ids"], aws_retry=True)
            instances = [i for r in reservations["Reservations"] for i in r["Instances"]]
        else:
            instances = []
        for instance in sorted(instances, key=lambda i: i["InstanceId"]):
            current = dict(DEFAULTS, **instance.get("PrivateDnsNameOptions", {}))
            current = {key: current[key] for key in wanted}
            before[instance["InstanceId"]] = current
            after[instance["InstanceId"]] = wanted
            if current == wanted:
                continue
            changed_ids.append(instance["InstanceId"])
            if instance.get("State", {}).get("Name") in ("pending", "running"):
                running.append(instance["InstanceId"])
        if running and not self.params["stop_instances"]:
            self.module.fail_json(
                msg="AWS changes the hostname type of stopped instances only: stop "
                f"{', '.join(running)} first, or set stop_instances=true.",
                changed_instance_ids=changed_ids,
            )
        if changed_ids and not self.check_mode:
            if running:
                wait(self.module, self.client, "instance_running", timeout, 10, WAIT_FAILED, InstanceIds=running)
                self.client.stop_instances(InstanceIds=running, aws_retry=True)
                wait(self.module, self.client, "instance_stopped", timeout, 10, WAIT_FAILED, InstanceIds=running)
            for instance_id in changed_ids:
                # DescribeInstances says HostnameType, ModifyPrivateDnsNameOptions PrivateDnsHostnameType.
                self.client.modify_private_dns_name_options(
                    InstanceId=instance_id,
                    PrivateDnsHostnameType=wanted["HostnameType"],
                    EnableResourceNameDnsARecord=wanted["EnableResourceNameDnsARecord"],
                    EnableResourceNameDnsAAAARecord=wanted["EnableResourceNameDnsAAAARecord"],
                    aws_retry=True,
                )
            if running:
                self.client.start_instances(InstanceIds=running, aws_retry=True)
                wait(self.module, self.client, "instance_running", timeout, 10, WAIT_FAILED, InstanceIds=running)
        return dict(
            changed=bool(changed_ids),
            changed_instance_ids=changed_ids,
            restarted_instance_ids=running,
            diff={"before": before, "after": after},
        )


def main():
    argument_spec = dict(
        instance_ids=dict(type="list", elements="str", required=True),
        hostname_type=dict(type="str", default="resource-name", choices=["ip-name", "resource-name"]),
        enable_resource_name_dns_a_record=dict(type="bool", default=True),
        enable_resource_name_dns_aaaa_record=dict(type="bool", default=False),
        stop_instances=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=600),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    run(module, HostnameOptions(module).ensure_present, failure="Failed to set private DNS name options")


if __name__ == "__main__":
    main()
