"""aws_partition and not_yet_consistent: what the roles derive from a region and a failed task."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "collections"))

from ansible_collections.mattermost_ha.aws.plugins.filter.aws import (  # noqa: E402
    aws_partition,
    not_yet_consistent,
    password_digest,
)


@pytest.mark.parametrize(("region", "partition"), [
    ("us-west-1", "aws"), ("eu-central-2", "aws"), ("cn-northwest-1", "aws-cn"), ("us-gov-east-1", "aws-us-gov"),
    ("us-isob-east-1", "aws-iso-b"), ("us-iso-east-1", "aws-iso"),
])
def test_partition_of_region(region, partition):
    assert aws_partition(region) == partition


# What amazon.aws.rds_instance returns (fail_json_aws) when RDS cannot use a new monitoring role.
RDS_REFUSED = {
    "failed": True,
    "msg": "Unable to create DB instance: An error occurred (InvalidParameterValue) when calling the CreateDBInstance "
           "operation: IAM role ARN value is invalid or does not include the required permissions for: "
           "ENHANCED_MONITORING",
    "error": {"code": "InvalidParameterValue", "type": "Sender",
              "message": "IAM role ARN value is invalid or does not include the required permissions for: "
                         "ENHANCED_MONITORING"},
}


def test_rds_refusing_a_new_monitoring_role_is_iam_propagation():
    assert not_yet_consistent(RDS_REFUSED, "iam_role") is True
    assert not_yet_consistent({"results": [{"failed": False}, RDS_REFUSED], "failed": True}, "iam_role") is True


def test_other_failures_and_successes_are_not_retried():
    other = dict(RDS_REFUSED, error={"code": "InvalidParameterValue", "message": "Invalid DB instance class"},
                 msg="Invalid DB instance class")
    assert not_yet_consistent(other, "iam_role") is False
    assert not_yet_consistent({"changed": True}, "iam_role") is False
    assert not_yet_consistent(RDS_REFUSED, "acm_certificate_in_use") is False


def test_password_digest_is_salted_slow_and_stable():
    first = password_digest("Passw0rd!", "prod-db@us-west-1")
    algorithm, rounds, salt, value = first.split("$")
    assert (algorithm, rounds, salt) == ("pbkdf2-sha256", "600000", "prod-db@us-west-1")
    assert len(value) == 64 and "Passw0rd" not in first
    assert password_digest("Passw0rd!", "prod-db@us-west-1", first) == first
    assert password_digest("Passw0rd!", "prod-db@eu-west-1") != first  # another cluster, another salt
    assert password_digest("Other-passw0rd", "prod-db@us-west-1", first) != first
    # An earlier digest's rounds are kept, so a later change of the default does not resend the password.
    older = password_digest("Passw0rd!", "s", "pbkdf2-sha256$1000$s$00")
    assert older.split("$")[1] == "1000"
    assert password_digest("Passw0rd!", "s", older) == older
