# -*- coding: utf-8 -*-

# Copyright: Contributors to the mattermost_ha.aws collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Waiting for AWS's eventual consistency: the collection's one way to do it.

A resource made seconds ago can be refused by the next call (a new IAM role not yet usable by
a service, a new ACM certificate not yet readable, a certificate still "in use" by a load
balancer just deleted). AWS documents these answers; the call is retried on them, and only
on them, with amazon.aws's jittered back-off, for a bounded time (the sum of the sleeps),
then given up with a message naming what was waited for, AWS's answer and the bound.

``ANSWERS`` is the list of documented answers by situation; modules call
``wait_for_consistency`` and roles use the same list through the ``not_yet_consistent``
filter (docs/real-aws-behaviours.md).
"""

from __future__ import annotations

import re
import time

from ansible_collections.amazon.aws.plugins.module_utils.cloud import BackoffIterator

try:
    import botocore
except ImportError:
    botocore = None  # reported by AnsibleAWSModule

# situation -> [(error code, pattern the message must match, or None for any message)]
ANSWERS = {
    # IAM propagation: a role made seconds ago is not yet usable by the service given it.
    "iam_role": [
        # RDS enhanced monitoring (CreateDBInstance/ModifyDBInstance with MonitoringRoleArn).
        ("InvalidParameterValue", r"ENHANCED_MONITORING"),
        # VPC flow logs (CreateFlowLogs with DeliverLogsPermissionArn): as an error or as an
        # Unsuccessful item of the answer.
        ("InvalidParameter", r"Unable to assume given IAM role"),
        ("400", r"Unable to assume given IAM role"),
        ("InvalidParameterValue", r"Unable to assume given IAM role"),
        # EC2 RunInstances with an instance profile made seconds ago (by name or ARN).
        ("InvalidParameterValue", r"Invalid IAM Instance Profile"),
        # AWS Backup CreateBackupSelection with a service role made seconds ago.
        ("InvalidParameterValueException", r"cannot be assumed by AWS Backup|is not authorized to call"),
    ],
    # ACM: "it might take several seconds before a new certificate can be described".
    "acm_new_certificate": [("ResourceNotFoundException", None)],
    # ACM keeps a certificate "in use" for a while after its load balancer is deleted.
    "acm_certificate_in_use": [("ResourceInUseException", None)],
}


class NotYetConsistent(Exception):
    """AWS kept answering a documented "not yet" error for the whole bound."""

    def __init__(self, what, code, message, waited, timeout):
        self.code = code
        self.aws_message = message
        self.waited = waited
        self.timeout = timeout
        super().__init__(
            f"{what}: AWS still answered {code}: {message} after {waited:.0f} s of retries "
            f"(bound {timeout} s). It usually settles within seconds to minutes; run again, or raise the bound."
        )


def error_of(error):
    """(code, message) of a botocore ClientError."""
    details = getattr(error, "response", {}).get("Error", {})
    return str(details.get("Code", "")), str(details.get("Message", ""))


def is_not_yet_consistent(code, message, situation):
    """True if AWS's answer (code, message) is one of the situation's documented answers."""
    return any(
        code == known and (pattern is None or re.search(pattern, message or ""))
        for known, pattern in ANSWERS[situation]
    )


def client_error(code, message, operation):
    """A botocore ClientError for an error AWS reports inside a successful answer."""
    return botocore.exceptions.ClientError({"Error": {"Code": code, "Message": message}}, operation)


def wait_for_consistency(call, situation, what, timeout, delay=2, max_delay=15, sleep=None):
    """call() until it does not raise one of the situation's answers; at most ``timeout`` s of sleeps.

    Other errors are raised at once. Gives up with NotYetConsistent.
    """
    sleep = sleep or time.sleep
    waited = 0.0
    for pause in BackoffIterator(delay=delay, backoff=2.0, max_delay=max_delay, jitter=True):
        try:
            return call()
        except botocore.exceptions.ClientError as e:
            code, message = error_of(e)
            if not is_not_yet_consistent(code, message, situation):
                raise
            if waited >= timeout:
                raise NotYetConsistent(what, code, message, waited, timeout) from e
            # At least a second between calls; never past the bound.
            pause = min(max(pause, 1.0), timeout - waited)
            sleep(pause)
            waited += pause
    return None  # unreachable: the back-off iterator never ends
