#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: mattermost_ha.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: elbv2_attributes
version_added: 0.1.0
short_description: Set attributes of an ELBv2 load balancer or target group, idempotently
description:
  - Sets the given attributes of an Elastic Load Balancing v2 target group or load balancer
    and leaves the others alone. Keys are the API's own (V(stickiness.app_cookie.cookie_name),
    V(routing.http.drop_invalid_header_fields.enabled), ...).
  - Compares with the values the API returns, so a second run reports no change.
    M(community.aws.elb_target_group) compares application-cookie stickiness with the
    wrong key and reports C(changed) on every run; create the group with it, without
    stickiness options, and set the attributes with this module.
  - M(amazon.aws.elb_application_lb) fails when the endpoint does not return every attribute
    it compares (C(access_logs.s3.enabled) on some emulators); this module only compares the
    attributes it is given.
author:
  - mattermost_ha.aws maintainers (@mattermost-ha)
options:
  target_group_arn:
    description:
      - ARN of the target group. Exactly one of O(target_group_arn) and O(load_balancer_arn) is required.
    type: str
  load_balancer_arn:
    description:
      - ARN of the load balancer.
    type: str
  attributes:
    description:
      - Attributes to set, as API key to value. Booleans and numbers are sent as the
        strings the API uses (V(true), V(43200)).
    required: true
    type: dict
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Application-cookie stickiness on MMCSRF for 12 hours
  mattermost_ha.aws.elbv2_attributes:
    target_group_arn: "{{ tg.target_group_arn }}"
    attributes:
      stickiness.enabled: true
      stickiness.type: app_cookie
      stickiness.app_cookie.cookie_name: MMCSRF
      stickiness.app_cookie.duration_seconds: 43200

- name: Secure defaults of an ALB
  mattermost_ha.aws.elbv2_attributes:
    load_balancer_arn: "{{ alb.load_balancer_arn }}"
    attributes:
      deletion_protection.enabled: true
      routing.http.drop_invalid_header_fields.enabled: true
"""

RETURN = r"""
attributes:
  description: Every attribute of the target group or load balancer after the change, as key to string value.
  returned: always
  type: dict
  sample: {"stickiness.enabled": "true", "stickiness.type": "app_cookie"}
changed_attributes:
  description: The attributes that were (or in check mode would be) changed.
  returned: always
  type: dict
  sample: {"stickiness.app_cookie.cookie_name": "MMCSRF"}
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.mattermost_ha.aws.plugins.module_utils.attributes import attribute_list_to_dict
from ansible_collections.mattermost_ha.aws.plugins.module_utils.attributes import attributes_to_change
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import AWSResource
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import run


class Attributes(AWSResource):
    """The attributes of one target group or load balancer: ensure_present returns the module's result."""

    service = "elbv2"

    def ensure_present(self):
        """Set the attributes that differ on the target group or load balancer."""
        elbv2 = self.client
        if self.params["target_group_arn"]:
            arn = self.params["target_group_arn"]
            describe, modify = elbv2.describe_target_group_attributes, elbv2.modify_target_group_attributes
            key = "TargetGroupArn"
        else:
            arn = self.params["load_balancer_arn"]
            describe, modify = elbv2.describe_load_balancer_attributes, elbv2.modify_load_balancer_attributes
            key = "LoadBalancerArn"
        current = attribute_list_to_dict(describe(aws_retry=True, **{key: arn})["Attributes"])
        changes = attributes_to_change(current, self.params["attributes"])
        after = dict(current, **changes)
        if changes and not self.check_mode:
            response = modify(
                Attributes=[{"Key": k, "Value": v} for k, v in sorted(changes.items())], aws_retry=True, **{key: arn}
            )
            after = dict(after, **attribute_list_to_dict(response.get("Attributes")))
        return dict(
            changed=bool(changes),
            attributes=after,
            changed_attributes=changes,
            diff={"before": {k: current.get(k) for k in changes}, "after": changes},
        )


def main():
    argument_spec = dict(
        target_group_arn=dict(type="str"),
        load_balancer_arn=dict(type="str"),
        attributes=dict(type="dict", required=True),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[["target_group_arn", "load_balancer_arn"]],
        required_one_of=[["target_group_arn", "load_balancer_arn"]],
    )
    arn = module.params["target_group_arn"] or module.params["load_balancer_arn"]
    run(module, Attributes(module).ensure_present, failure=f"Failed to set attributes of {arn}")


if __name__ == "__main__":
    main()
