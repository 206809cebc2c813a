"""aws_partition, not_yet_consistent, file_store_bucket_name and aurora_endpoints: what the roles
derive from a region, a failed task, the deployment and an Aurora cluster."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict  # noqa: E402
from ansible_collections.mattermost_ha.aws.plugins.filter.aws import (  # noqa: E402
    aurora_endpoints,
    aws_partition,
    file_store_bucket_name,
    not_yet_consistent,
    password_digest,
)
from ansible_collections.mattermost_ha.aws.plugins.inventory import aws_mattermost  # noqa: E402


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


def test_a_given_file_store_bucket_is_used_as_given():
    assert file_store_bucket_name("my-files", "Chat", "123456789012", "eu-west-1") == "my-files"


def test_an_empty_file_store_bucket_is_derived_from_name_account_and_region():
    derived = file_store_bucket_name("", "Chat", "123456789012", "eu-west-1")
    assert derived == "mattermost-ha-chat-123456789012-eu-west-1"


def test_a_derived_bucket_name_too_long_for_s3_is_hashed_and_differs_by_region():
    names = [file_store_bucket_name("", "A" * 24, "123456789012", region)
             for region in ("ap-southeast-1", "ap-southeast-2")]
    assert all(len(name) <= 63 and name.startswith("mattermost-ha-" + "a" * 24 + "-") for name in names)
    assert names[0] != names[1]


def test_a_bucket_name_cannot_be_derived_without_the_account():
    with pytest.raises(AnsibleFilterError, match="account id"):
        file_store_bucket_name("", "Chat", "", "eu-west-1")


# DescribeDBClusters / DescribeDBInstances answers as boto3 gives them (the inventory plugin);
# amazon.aws rds_cluster_info / rds_instance_info return them snake_cased (the aws_database role).
CLUSTER = {
    "DBClusterIdentifier": "chat-db",
    "Endpoint": "chat-db.cluster-abc.eu-west-1.rds.amazonaws.com",
    "Port": 5432,
    "DBClusterMembers": [
        {"DBInstanceIdentifier": "chat-db-2", "IsClusterWriter": True},
        {"DBInstanceIdentifier": "chat-db-3", "IsClusterWriter": False},
        {"DBInstanceIdentifier": "chat-db-1", "IsClusterWriter": False},
    ],
}
INSTANCES = [
    {"DBInstanceIdentifier": "chat-db-3", "Endpoint": {"Address": "chat-db-3.abc.rds.amazonaws.com", "Port": 5432}},
    {"DBInstanceIdentifier": "chat-db-2", "Endpoint": {"Address": "chat-db-2.abc.rds.amazonaws.com", "Port": 5432}},
    {"DBInstanceIdentifier": "chat-db-1", "Endpoint": {"Address": "chat-db-1.abc.rds.amazonaws.com", "Port": 5432}},
]


def test_the_role_and_the_inventory_plugin_compute_the_same_database_endpoints():
    role = aurora_endpoints(camel_dict_to_snake_dict(CLUSTER), [camel_dict_to_snake_dict(i) for i in INSTANCES])
    inventory = aws_mattermost.database_endpoints(CLUSTER, INSTANCES)
    assert role == {
        "writer_host": "chat-db.cluster-abc.eu-west-1.rds.amazonaws.com",
        "port": 5432,
        "reader_hosts": ["chat-db-1.abc.rds.amazonaws.com", "chat-db-3.abc.rds.amazonaws.com"],
    }
    assert inventory == {
        "mattermost_ha_db_cluster_id": "chat-db",
        "mattermost_ha_db_writer_host": role["writer_host"],
        "mattermost_ha_db_endpoint_port": role["port"],
        "mattermost_ha_db_reader_hosts": role["reader_hosts"],
    }


def test_no_cluster_yet_gives_no_endpoints():
    # Check mode on an empty account: rds_cluster_info finds nothing.
    assert aurora_endpoints({}, []) == {"writer_host": "", "port": 5432, "reader_hosts": []}
