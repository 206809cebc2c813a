#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: mattermost_ha.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: acm_certificate_request
version_added: 0.1.0
short_description: Request a public ACM certificate with DNS validation
description:
  - Requests a public AWS Certificate Manager (ACM) certificate validated through DNS, or
    deletes it.
  - Idempotent. An existing certificate with the same domain name, the same subject
    alternative names, the same key algorithm and all the given O(tags) that is pending
    validation or issued is reused instead of requesting another one.
  - Returns the DNS validation records (CNAME name and value) so they can be created in
    Route 53 or handed to whoever runs the DNS zone.
  - Can wait until ACM reports the certificate C(ISSUED).
  - M(community.aws.acm_certificate) only imports certificates; this module requests them.
author:
  - mattermost_ha.aws maintainers (@mattermost-ha)
options:
  domain_name:
    description:
      - Fully qualified domain name of the certificate, for example V(chat.example.com).
    required: true
    type: str
  subject_alternative_names:
    description:
      - Further names the certificate covers. The domain name itself need not be listed.
    type: list
    elements: str
    default: []
  key_algorithm:
    description:
      - Key algorithm of the certificate.
    type: str
    default: RSA_2048
    choices: [RSA_2048, EC_prime256v1, EC_secp384r1]
  state:
    description:
      - V(present) requests the certificate (or finds the existing one); V(absent) deletes
        every matching certificate.
    type: str
    default: present
    choices: [present, absent]
  wait:
    description:
      - Wait until the certificate is C(ISSUED). Fails when validation fails or
        O(wait_timeout) passes.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait for C(ISSUED) when O(wait=true).
    type: int
    default: 1800
  record_timeout:
    description:
      - Seconds to wait for ACM to publish the DNS validation records after a request.
    type: int
    default: 120
  consistency_timeout:
    description:
      - Seconds to keep retrying while ACM has not caught up (eventual consistency).
      - Covers a certificate just requested that cannot be described yet
        (C(ResourceNotFoundException)) and, with O(state=absent), a certificate still reported
        in use by a load balancer that was just deleted (C(ResourceInUseException)).
      - After this bound the module fails naming the certificate, ACM's answer and the bound.
    type: int
    default: 300
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
notes:
  - O(tags) also select the certificate to reuse.
"""

EXAMPLES = r"""
- name: Request the site certificate and get its validation records
  mattermost_ha.aws.acm_certificate_request:
    domain_name: chat.example.com
    tags:
      mattermost-ha:deployment: Mattermost
      Name: Mattermost-Certificate
  register: cert

- name: Wait until the certificate is issued
  mattermost_ha.aws.acm_certificate_request:
    domain_name: chat.example.com
    tags:
      mattermost-ha:deployment: Mattermost
    wait: true
    wait_timeout: 3600

- name: Delete it
  mattermost_ha.aws.acm_certificate_request:
    domain_name: chat.example.com
    tags:
      mattermost-ha:deployment: Mattermost
    state: absent
"""

RETURN = r"""
certificate_arn:
  description: ARN of the certificate; empty when it would be requested in check mode or is absent.
  returned: always
  type: str
  sample: arn:aws:acm:us-east-1:123456789012:certificate/2e5b5a1c-0000-4000-8000-000000000000
status:
  description: ACM status of the certificate (C(PENDING_VALIDATION), C(ISSUED), ...); empty when absent.
  returned: always
  type: str
  sample: PENDING_VALIDATION
validation_records:
  description: DNS records that validate the certificate, one per domain name.
  returned: always
  type: list
  elements: dict
  contains:
    domain_name:
      description: The name being validated.
      type: str
      sample: chat.example.com
    name:
      description: Name of the CNAME record to create.
      type: str
      sample: _1234abcd.chat.example.com.
    type:
      description: Record type (always C(CNAME) for ACM).
      type: str
      sample: CNAME
    value:
      description: Value of the CNAME record.
      type: str
      sample: _5678ef.abcdefghij.acm-validations.aws.
    validation_status:
      description: C(PENDING_VALIDATION), C(SUCCESS) or C(FAILED).
      type: str
      sample: PENDING_VALIDATION
tags:
  description: Tags of the certificate.
  returned: always
  type: dict
  sample: {"mattermost-ha:deployment": "Mattermost"}
deleted_arns:
  description: ARNs deleted when O(state=absent).
  returned: when O(state=absent)
  type: list
  elements: str
"""

import time
import uuid

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import AWS_ERRORS
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import AWSResource
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import Tagging
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import paginate
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import run
from ansible_collections.mattermost_ha.aws.plugins.module_utils.eventual import NotYetConsistent
from ansible_collections.mattermost_ha.aws.plugins.module_utils.eventual import wait_for_consistency

# Certificates in these states can still become (or are) usable; others are left alone.
REUSABLE_STATES = ["PENDING_VALIDATION", "ISSUED"]
FAILED_STATES = ["FAILED", "VALIDATION_TIMED_OUT", "REVOKED", "EXPIRED", "INACTIVE"]


def validation_records(certificate):
    records = []
    for option in certificate.get("DomainValidationOptions", []):
        record = option.get("ResourceRecord")
        if not record:
            continue
        records.append(
            {
                "domain_name": option["DomainName"],
                "name": record["Name"],
                "type": record["Type"],
                "value": record["Value"],
                "validation_status": option.get("ValidationStatus", ""),
            }
        )
    return records


class CertificateRequest(AWSResource):
    """The certificate of one domain: ensure_present and ensure_absent return the module's result."""

    service = "acm"

    def __init__(self, module):
        super().__init__(module)
        self.domain_name = module.params["domain_name"].rstrip(".").lower()
        names = {n.rstrip(".").lower() for n in module.params["subject_alternative_names"]}
        self.sans = sorted(names - {self.domain_name})
        self.key_algorithm = module.params["key_algorithm"]
        self.tags = module.params["tags"] or {}

    def describe(self, arn):
        return self.client.describe_certificate(CertificateArn=arn, aws_retry=True)["Certificate"]

    def wait_for(self, call, situation, what, arn):
        """call() through ACM's eventual consistency (module_utils/eventual.py), bounded."""
        try:
            return wait_for_consistency(call, situation, what, self.module.params["consistency_timeout"])
        except NotYetConsistent as e:
            self.module.fail_json(msg=str(e), certificate_arn=arn, aws_error_code=e.code)

    def tags_of(self, arn):
        response = self.client.list_tags_for_certificate(CertificateArn=arn, aws_retry=True)
        return boto3_tag_list_to_ansible_dict(response.get("Tags", []))

    def find(self):
        """Every matching certificate, newest first, as (certificate, tags)."""
        summaries = []
        pages = paginate(
            self.client,
            "list_certificates",
            CertificateStatuses=REUSABLE_STATES,
            Includes={"keyTypes": [self.key_algorithm]},
        )
        for page in pages.get("CertificateSummaryList", []):
            if page.get("DomainName", "").rstrip(".").lower() == self.domain_name:
                summaries.append(page)
        found = []
        for summary in summaries:
            certificate = self.describe(summary["CertificateArn"])
            if certificate.get("Type") != "AMAZON_ISSUED":
                continue
            names = {n.rstrip(".").lower() for n in certificate.get("SubjectAlternativeNames", [])}
            if sorted(names - {self.domain_name}) != self.sans:
                continue
            tags = self.tags_of(certificate["CertificateArn"])
            if any(tags.get(key) != value for key, value in self.tags.items()):
                continue
            found.append((certificate, tags))
        found.sort(key=lambda item: str(item[0].get("CreatedAt", "")), reverse=True)
        return found

    def wait_for_records(self, certificate):
        deadline = time.time() + self.module.params["record_timeout"]
        expected = 1 + len(self.sans)
        while len(validation_records(certificate)) < expected and time.time() < deadline:
            time.sleep(3)
            certificate = self.describe(certificate["CertificateArn"])
        return certificate

    def wait_for_issued(self, certificate):
        deadline = time.time() + self.module.params["wait_timeout"]
        while certificate["Status"] != "ISSUED":
            if certificate["Status"] in FAILED_STATES:
                self.module.fail_json(
                    msg=f"Certificate {certificate['CertificateArn']} is {certificate['Status']}: "
                    f"{certificate.get('FailureReason', 'no reason given')}",
                    certificate_arn=certificate["CertificateArn"],
                    status=certificate["Status"],
                    validation_records=validation_records(certificate),
                )
            if time.time() >= deadline:
                self.module.fail_json(
                    msg=f"Certificate {certificate['CertificateArn']} still {certificate['Status']} after "
                    f"{self.module.params['wait_timeout']} s: create the validation records in DNS, then run again.",
                    certificate_arn=certificate["CertificateArn"],
                    status=certificate["Status"],
                    validation_records=validation_records(certificate),
                )
            time.sleep(10)
            certificate = self.describe(certificate["CertificateArn"])
        return certificate

    def ensure_present(self):
        found = self.find()
        before = None
        if found:
            certificate, tags = found[0]
            before = {"certificate_arn": certificate["CertificateArn"], "status": certificate["Status"], "tags": tags}
            tagging = Tagging.key_value_list(
                self.client.add_tags_to_certificate,
                self.client.remove_tags_from_certificate,
                keys_as="Tags",
                CertificateArn=certificate["CertificateArn"],
            )
            changed, tags = tagging.sync(
                self.module.params["tags"], self.module.params["purge_tags"], self.module.check_mode, current=tags
            )
        else:
            changed = True
            if self.module.check_mode:
                after = {"certificate_arn": "", "status": "PENDING_VALIDATION", "tags": self.tags}
                return dict(
                    changed=True, certificate_arn="", status="", validation_records=[], tags=self.tags,
                    diff={"before": {}, "after": after},
                )
            request = {
                "DomainName": self.domain_name,
                "ValidationMethod": "DNS",
                "KeyAlgorithm": self.key_algorithm,
                "IdempotencyToken": uuid.uuid4().hex[:32],
            }
            if self.sans:
                request["SubjectAlternativeNames"] = [self.domain_name] + self.sans
            if self.tags:
                request["Tags"] = ansible_dict_to_boto3_tag_list(self.tags)
            try:
                arn = self.client.request_certificate(aws_retry=True, **request)["CertificateArn"]
            except AWS_ERRORS as e:
                self.module.fail_json_aws(e, msg=f"Failed to request a certificate for {self.domain_name}")
            certificate = self.wait_for(
                lambda: self.describe(arn), "acm_new_certificate", f"Reading the new certificate {arn}", arn
            )
            tags = dict(self.tags)

        if certificate["Status"] == "PENDING_VALIDATION" and not self.module.check_mode:
            certificate = self.wait_for_records(certificate)
        if self.module.params["wait"] and not self.module.check_mode:
            certificate = self.wait_for_issued(certificate)

        after = {"certificate_arn": certificate["CertificateArn"], "status": certificate["Status"], "tags": tags}
        return dict(
            changed=changed,
            certificate_arn=certificate["CertificateArn"],
            status=certificate["Status"],
            validation_records=validation_records(certificate),
            tags=tags,
            diff={"before": before or {}, "after": after},
        )

    def ensure_absent(self):
        found = self.find()
        arns = [item[0]["CertificateArn"] for item in found]
        if arns and not self.module.check_mode:
            for arn in arns:
                try:
                    # A load balancer deleted just before keeps the certificate "in use" for a while.
                    self.wait_for(
                        lambda arn=arn: self.client.delete_certificate(CertificateArn=arn, aws_retry=True),
                        "acm_certificate_in_use",
                        f"Deleting certificate {arn}",
                        arn,
                    )
                except is_boto3_error_code("ResourceNotFoundException"):
                    continue
                except AWS_ERRORS as e:  # pylint: disable=duplicate-except
                    self.module.fail_json_aws(e, msg=f"Failed to delete certificate {arn}")
        return dict(
            changed=bool(arns),
            certificate_arn="",
            status="",
            validation_records=[],
            tags={},
            deleted_arns=arns,
            diff={"before": {"certificate_arns": arns}, "after": {"certificate_arns": []}},
        )


def main():
    argument_spec = dict(
        domain_name=dict(type="str", required=True),
        subject_alternative_names=dict(type="list", elements="str", default=[]),
        key_algorithm=dict(type="str", default="RSA_2048", choices=["RSA_2048", "EC_prime256v1", "EC_secp384r1"]),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        wait=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=1800),
        record_timeout=dict(type="int", default=120),
        consistency_timeout=dict(type="int", default=300),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    request = CertificateRequest(module)
    run(module, request.ensure_present, request.ensure_absent, failure="ACM call failed")


if __name__ == "__main__":
    main()
