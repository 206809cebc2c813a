#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: mattermost_ha.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ec2_instance_type_offerings_info
version_added: 0.2.0
short_description: Which availability zones of the region offer an EC2 instance type
description:
  - Read only (DescribeInstanceTypeOfferings by availability zone), so that a deployment can
    refuse an instance type that its zones do not offer before anything is created.
author:
  - mattermost_ha.aws maintainers (@mattermost-ha)
options:
  instance_type:
    description: The instance type, for example V(m5.large).
    required: true
    type: str
  zones:
    description: The zones the result must cover; RV(missing_zones) lists those that do not offer it.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Does every zone offer m5.large?
  mattermost_ha.aws.ec2_instance_type_offerings_info:
    instance_type: m5.large
    zones: [us-west-1a, us-west-1b]
  register: offered
"""

RETURN = r"""
offered_zones:
  description: Every zone of the region that offers the instance type, sorted.
  returned: always
  type: list
  elements: str
missing_zones:
  description: The zones of O(zones) that do not offer it, in the order given.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import AWSResource
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import paginate
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import run


class Offerings(AWSResource):
    """Where one instance type is offered: read returns the module's result."""

    service = "ec2"

    def read(self):
        """The zones that offer the instance type, and those of the given zones that do not (a read)."""
        pages = paginate(
            self.client,
            "describe_instance_type_offerings",
            LocationType="availability-zone",
            Filters=[{"Name": "instance-type", "Values": [self.params["instance_type"]]}],
        )
        offered = sorted({o["Location"] for o in pages.get("InstanceTypeOfferings", [])})
        missing = [zone for zone in self.params["zones"] if zone not in offered]
        return dict(changed=False, offered_zones=offered, missing_zones=missing)


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            instance_type=dict(type="str", required=True),
            zones=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    instance_type = module.params["instance_type"]
    run(module, Offerings(module).read, failure=f"Failed to list the zones offering {instance_type}")


if __name__ == "__main__":
    main()
