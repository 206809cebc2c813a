"""Bad input stops provision.yml before any AWS call that changes state; --check works on an
empty account. Each run stops in aws_preflight (a few seconds)."""

import json
import re

import pytest
from frontend_prereqs import EMULATOR_FRONTEND_VARS
from harness.ansible import run_playbook

pytestmark = pytest.mark.slow

BASE = {
    "mattermost_ha_region": "us-west-1",
    "mattermost_ha_instance_connect_endpoint": False,
    **EMULATOR_FRONTEND_VARS,
    "mattermost_ha_certificate_records_file": "/tmp/mattermost-ha-test-input-records.csv",
}


def nothing_created(aws):
    ec2 = aws.client("ec2")
    deployment = [{"Name": "tag:mattermost-ha:deployment", "Values": ["Mattermost"]}]
    assert ec2.describe_vpcs(Filters=deployment)["Vpcs"] == []
    assert ec2.describe_addresses()["Addresses"] == []
    assert [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]] == ["default"]
    assert aws.client("s3").list_buckets()["Buckets"] == []
    roles = [r["RoleName"] for r in aws.client("iam").list_roles()["Roles"]]
    assert [r for r in roles if r.startswith("Mattermost")] == []


@pytest.mark.parametrize(
    ("bad", "variable", "detail"),
    [
        ({"mattermost_ha_private_subnet_cidrs": ["10.0.0.128/25", "10.0.3.0/24"]},
         "mattermost_ha_public_subnet_cidrs / mattermost_ha_private_subnet_cidrs",
         "10.0.0.0/24 overlaps 10.0.0.128/25"),
        ({"mattermost_ha_public_subnet_cidrs": ["10.0.0.0/24", "10.1.1.0/24"]},
         "mattermost_ha_public_subnet_cidrs", "10.1.1.0/24 is outside mattermost_ha_vpc_cidr 10.0.0.0/16"),
        ({"mattermost_ha_availability_zones": ["us-west-1a"]}, "mattermost_ha_availability_zones", "at least 2"),
        ({"mattermost_ha_vpc_cidr": "10.0.0.0/33"}, "mattermost_ha_vpc_cidr", "is not a valid IPv4 network CIDR"),
        ({"mattermost_ha_vpc_cidr": "10.0.0.1/16"}, "mattermost_ha_vpc_cidr", "without host bits"),
        ({"mattermost_ha_private_subnet_cidrs": ["10.0.2.0/24", "banana"]}, "mattermost_ha_private_subnet_cidrs",
         "IPv4 network CIDR"),
        ({"mattermost_ha_admin_cidrs": ["0.0.0.0/0"]}, "mattermost_ha_admin_cidrs", "SSH open to the world"),
        ({"mattermost_ha_public_subnet_cidrs": ["10.0.0.0/24"], "mattermost_ha_private_subnet_cidrs": ["10.0.2.0/24"]},
         "mattermost_ha_public_subnet_cidrs and mattermost_ha_private_subnet_cidrs", "at least two zones"),
        ({"mattermost_ha_name": "Matter most"}, "mattermost_ha_name", "letters, digits and dashes"),
        # RDS refuses identifiers with two dashes in a row (mattermost--x-db).
        ({"mattermost_ha_name": "Matter--most"}, "mattermost_ha_name", "two dashes in a row"),
        # Elastic Load Balancing refuses load balancer names starting with internal-.
        ({"mattermost_ha_name": "internal"}, "mattermost_ha_name", "must not start with internal"),
        ({"mattermost_ha_name": "Internal-Chat"}, "mattermost_ha_name", "must not start with internal"),
    ],
    ids=["overlap", "outside-vpc", "one-az", "invalid-cidr", "host-bits", "not-a-cidr", "ssh-world", "one-subnet",
         "bad-name", "double-dash-name", "internal-name", "internal-prefix-name"],
)
def test_bad_input_fails_before_any_change(aws, bad, variable, detail):
    run = run_playbook("playbooks/provision.yml", "-e", json.dumps({**BASE, **bad}), env=aws.env, check=False)
    assert run.returncode != 0
    assert run.changed == 0
    first_failure = re.search(r"^(fatal|failed): \[localhost\]", run.output, re.MULTILINE)
    assert first_failure, run.output
    before = run.output[: first_failure.start()]
    failure = " ".join(run.output[first_failure.start():].split())  # YAML output wraps long messages
    assert variable in failure and detail in failure, run.output
    # The failing task is one of aws_preflight's checks: nothing ran after it.
    assert before.rsplit("TASK [", 1)[1].startswith("mattermost_ha.aws.aws_preflight : Check"), run.output
    nothing_created(aws)


def test_check_mode_on_an_empty_account(aws):
    # Also: SSH from anywhere passes validation once explicitly allowed.
    extra = {**BASE, "mattermost_ha_admin_cidrs": ["0.0.0.0/0"], "mattermost_ha_allow_ssh_from_anywhere": True}
    run = run_playbook("playbooks/provision.yml", "--check", "-e", json.dumps(extra), env=aws.env)
    assert run.failed == 0
    assert run.changed > 0  # the VPC (and what does not depend on it) would be created
    nothing_created(aws)


def test_single_nat_gateway_variant(aws):
    """The cost option: one NAT gateway for both zones; the guide's catch-all App rule switched on."""
    extra = {
        **BASE,
        "mattermost_ha_name": "Chat-Test",
        "mattermost_ha_availability_zones": ["us-west-1b", "us-west-1a"],
        "mattermost_ha_single_nat_gateway": True,
        "mattermost_ha_app_sg_allow_all_from_self": True,
        "mattermost_ha_flow_logs": False,
    }
    run_playbook("playbooks/provision.yml", "-e", json.dumps(extra), env=aws.env)
    ec2 = aws.client("ec2")
    deployment = [{"Name": "tag:mattermost-ha:deployment", "Values": ["Chat-Test"]}]
    (vpc,) = ec2.describe_vpcs(Filters=deployment)["Vpcs"]
    in_vpc = [{"Name": "vpc-id", "Values": [vpc["VpcId"]]}]
    subnets = {s["CidrBlock"]: s for s in ec2.describe_subnets(Filters=in_vpc)["Subnets"]}
    # Zones are used in the order given.
    assert subnets["10.0.0.0/24"]["AvailabilityZone"] == "us-west-1b"
    assert subnets["10.0.3.0/24"]["AvailabilityZone"] == "us-west-1a"
    nats = ec2.describe_nat_gateways(Filter=in_vpc + [{"Name": "state", "Values": ["available"]}])["NatGateways"]
    assert [n["SubnetId"] for n in nats] == [subnets["10.0.0.0/24"]["SubnetId"]]
    for cidr in ("10.0.2.0/24", "10.0.3.0/24"):
        table = ec2.describe_route_tables(
            Filters=[{"Name": "association.subnet-id", "Values": [subnets[cidr]["SubnetId"]]}]
        )["RouteTables"][0]
        (route,) = [r for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
        assert route["NatGatewayId"] == nats[0]["NatGatewayId"]
    (app,) = ec2.describe_security_groups(Filters=in_vpc + [{"Name": "group-name", "Values": ["Chat-Test-App-SG"]}])[
        "SecurityGroups"
    ]
    protocols_from_self = sorted(
        (p["IpProtocol"], p.get("FromPort")) for p in app["IpPermissions"]
        if any(g["GroupId"] == app["GroupId"] for g in p.get("UserIdGroupPairs", []))
    )
    assert protocols_from_self == [("-1", None), ("tcp", 8074), ("udp", 8074)]
    assert ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc["VpcId"]]}])["FlowLogs"] == []
    bucket = f"mattermost-ha-chat-test-{aws.client('sts').get_caller_identity()['Account']}-us-west-1"
    assert bucket in [b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]]
