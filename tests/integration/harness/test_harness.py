"""The harness itself: the emulator answers and guards, the replica follows the primary."""

import botocore.exceptions
import pytest


def test_moto_server_keeps_state_between_calls(aws):
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]
    found = ec2.describe_vpcs(VpcIds=[vpc["VpcId"]])["Vpcs"]
    assert [v["CidrBlock"] for v in found] == ["10.42.0.0/16"]


def test_moto_server_is_reset_between_tests(aws):
    ec2 = aws.client("ec2")
    cidrs = [v["CidrBlock"] for v in ec2.describe_vpcs()["Vpcs"]]
    assert "10.42.0.0/16" not in cidrs


def test_managed_policies_are_loaded(aws):
    iam = aws.client("iam")
    policy = iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy")["Policy"]
    assert policy["PolicyName"] == "CloudWatchAgentServerPolicy"


def test_calls_that_escape_the_emulator_fail_at_once(aws):
    # Same credentials, no endpoint override: boto3 would go to real AWS. The guard's
    # dead proxy must refuse the connection.
    client = aws.session.client("sts", region_name=aws.region, endpoint_url="https://sts.amazonaws.com")
    with pytest.raises(botocore.exceptions.ProxyConnectionError) as err:
        client.get_caller_identity()
    assert "127.0.0.1:9" in str(err.value)


def test_write_on_primary_is_read_back_from_replica(postgres_pair):
    with postgres_pair.primary.connect() as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS harness_probe (id serial PRIMARY KEY, note text)")
        cur.execute("INSERT INTO harness_probe (note) VALUES (%s) RETURNING id", ("written on the writer",))
        row_id = cur.fetchone()[0]
    postgres_pair.wait_replayed()
    with postgres_pair.replica.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT note FROM harness_probe WHERE id = %s", (row_id,))
        assert cur.fetchone() == ("written on the writer",)
        cur.execute("SELECT pg_is_in_recovery()")
        assert cur.fetchone() == (True,)


def test_replica_refuses_writes(postgres_pair):
    import psycopg2

    with postgres_pair.replica.connect() as conn, conn.cursor() as cur, \
            pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
        cur.execute("CREATE TABLE should_fail (id int)")
