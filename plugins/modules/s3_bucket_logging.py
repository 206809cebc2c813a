#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: mattermost_ha.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: s3_bucket_logging
version_added: 0.1.0
short_description: Turn S3 server access logging of a bucket on or off, without ACLs
description:
  - Sets the server access logging of an S3 bucket (target bucket and prefix) with C(PutBucketLogging),
    comparing with what C(GetBucketLogging) returns.
  - The target bucket must let the logging service principal C(logging.s3.amazonaws.com) write under the
    prefix through its bucket policy. M(community.aws.s3_logging) grants the C(LogDelivery) group
    write access through the target bucket's ACL instead, which AWS refuses on buckets with
    C(BucketOwnerEnforced) object ownership (ACLs disabled, the default for new buckets).
author:
  - mattermost_ha.aws maintainers (@mattermost-ha)
options:
  name:
    description:
      - Name of the bucket whose requests are logged.
    required: true
    type: str
  target_bucket:
    description:
      - Bucket the logs are written to (same account and region). Required with O(state=present).
    type: str
  target_prefix:
    description:
      - Key prefix of the log objects in O(target_bucket).
    type: str
    default: ''
  state:
    description:
      - V(present) turns logging on (or changes its target), V(absent) turns it off (no change when the
        bucket does not exist).
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Log the file store's requests into the log bucket
  mattermost_ha.aws.s3_bucket_logging:
    name: mattermost-files
    target_bucket: mattermost-logs
    target_prefix: S3AccessLogs/mattermost-files/
"""

RETURN = r"""
logging_enabled:
  description: Target bucket and prefix after the change; empty when logging is off.
  returned: always
  type: dict
  sample: {"target_bucket": "mattermost-logs", "target_prefix": "S3AccessLogs/mattermost-files/"}
"""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import AWS_ERRORS
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import AWSResource
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import run


class BucketLogging(AWSResource):
    """The server access logging of one bucket: ensure_present and ensure_absent return the module's result."""

    service = "s3"

    def ensure_present(self):
        wanted = {"target_bucket": self.params["target_bucket"], "target_prefix": self.params["target_prefix"]}
        return self.converge(wanted)

    def ensure_absent(self):
        return self.converge({})

    def converge(self, wanted):
        """Bring the bucket's server access logging to wanted ({} is off)."""
        name = self.params["name"]
        try:
            current = self.client.get_bucket_logging(Bucket=name, aws_retry=True).get("LoggingEnabled") or {}
        except is_boto3_error_code("NoSuchBucket") as e:
            if wanted:
                self.module.fail_json_aws(e, msg=f"Bucket {name} does not exist")
            return dict(changed=False, logging_enabled={}, diff={"before": {}, "after": {}})
        except AWS_ERRORS as e:  # pylint: disable=duplicate-except
            self.module.fail_json_aws(e, msg=f"Failed to read the server access logging of bucket {name}")
        before = (
            {"target_bucket": current.get("TargetBucket"), "target_prefix": current.get("TargetPrefix", "")}
            if current
            else {}
        )
        changed = before != wanted
        if changed and not self.check_mode:
            status = (
                {"LoggingEnabled": {"TargetBucket": wanted["target_bucket"], "TargetPrefix": wanted["target_prefix"]}}
                if wanted
                else {}
            )
            try:
                self.client.put_bucket_logging(Bucket=name, BucketLoggingStatus=status, aws_retry=True)
            except AWS_ERRORS as e:
                self.module.fail_json_aws(e, msg=f"Failed to set the server access logging of bucket {name}")
        return dict(changed=changed, logging_enabled=wanted, diff={"before": before, "after": wanted})


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        target_bucket=dict(type="str"),
        target_prefix=dict(type="str", default=""),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        required_if=[["state", "present", ["target_bucket"]]],
        supports_check_mode=True,
    )
    logging = BucketLogging(module)
    run(
        module,
        logging.ensure_present,
        logging.ensure_absent,
        failure=f"Failed to set the server access logging of bucket {module.params['name']}",
    )


if __name__ == "__main__":
    main()
