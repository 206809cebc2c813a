"""Bad input stops provision.yml before any AWS call that changes state; --check works on an
empty account. Each run stops in the validation at the start (a few seconds). Also: without a
Route 53 zone, the certificate's validation records go to a file."""

import csv
import json
import re

import pytest
from frontend_prereqs import EMULATOR_FRONTEND_VARS, lab_vars, write_vars
from harness.ansible import run_playbook

pytestmark = pytest.mark.slow

BASE = {
    "mattermost_ha_region": "us-west-1",
    "mattermost_ha_instance_connect_endpoint": False,
    **EMULATOR_FRONTEND_VARS,
    "mattermost_ha_certificate_records_file": "/tmp/mattermost-ha-test-input-records.csv",
}


# Valid inputs of the configuration phase, checked by provision.yml when site.yml asks for it.
CONFIGURE_OK = {
    "mattermost_ha_validate_configure_inputs": True,
    "mattermost_ha_checksum": "sha256:" + "ab" * 32,
    "mattermost_ha_admin_username": "sysadmin",
    "mattermost_ha_admin_password": "Adm1n-password!",
    "mattermost_ha_license_file": __file__,
    "mattermost_ha_db_app_password": "App-password!",
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
    # Nor anything of the front end.
    assert aws.client("acm").list_certificates()["CertificateSummaryList"] == []
    assert aws.client("rds").describe_db_clusters()["DBClusters"] == []
    assert aws.client("elbv2").describe_target_groups()["TargetGroups"] == []
    assert aws.client("elbv2").describe_load_balancers()["LoadBalancers"] == []
    assert ec2.describe_instances()["Reservations"] == []
    assert aws.client("sns").list_topics()["Topics"] == []
    assert aws.client("cloudwatch").describe_alarms()["MetricAlarms"] == []
    assert aws.client("logs").describe_log_groups()["logGroups"] == []


def first_failure_of(run):
    """The failed run's first failing task and its message (whitespace joined: YAML output wraps
    long messages). Nothing changed before it."""
    assert run.returncode != 0
    assert run.changed == 0
    first_failure = re.search(r"^(fatal|failed): \[localhost\]", run.output, re.MULTILINE)
    assert first_failure, run.output
    task = run.output[: first_failure.start()].rsplit("TASK [", 1)[1].split("]", 1)[0]
    return task, " ".join(run.output[first_failure.start():].split())


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
        # Not only a literal /0: any public source wider than a /16.
        ({"mattermost_ha_admin_cidrs": ["203.0.113.0/24", "0.0.0.0/1"]}, "mattermost_ha_admin_cidrs",
         "wide part of it (0.0.0.0/1)"),
        ({"mattermost_ha_admin_cidrs": ["1.0.0.0/8"]}, "mattermost_ha_admin_cidrs", "wide part of it (1.0.0.0/8)"),
        ({"mattermost_ha_availability_zones": ["us-west-1a", "us-west-1z"]}, "mattermost_ha_availability_zones",
         "us-west-1z is not an available zone of us-west-1"),
        ({"mattermost_ha_tags": {"aws:owner": "me"}}, "mattermost_ha_tags", 'tag key "aws:owner" is not allowed'),
        ({"mattermost_ha_tags": {"Name": "mine"}}, "mattermost_ha_tags", 'tag key "Name" is not allowed'),
        ({"mattermost_ha_tags": {"Team": "x" * 257}}, "mattermost_ha_tags",
         "the value of Team"),
        ({"mattermost_ha_tags": {"Cost#Center": "1"}}, "mattermost_ha_tags", 'tag key "Cost#Center" is not allowed'),
        # What the configuration phase needs, checked first when site.yml asks for it.
        ({**CONFIGURE_OK, "mattermost_ha_checksum": ""}, "mattermost_ha_checksum is empty", "sha256:"),
        ({**CONFIGURE_OK, "mattermost_ha_admin_password": ""}, "mattermost_ha_admin_password is missing",
         "mattermost_ha_admin_username (sysadmin)"),
        ({**CONFIGURE_OK, "mattermost_ha_license_file": ""}, "mattermost_ha_license_file is not set",
         "2 app nodes (mattermost_ha_app_count)"),
        ({**CONFIGURE_OK, "mattermost_ha_db_app_password": ""}, "mattermost_ha_db_app_password is missing",
         "its own role"),
    ],
    ids=["overlap", "outside-vpc", "one-az", "invalid-cidr", "host-bits", "not-a-cidr", "ssh-world", "one-subnet",
         "bad-name", "double-dash-name", "internal-name", "internal-prefix-name", "ssh-half-internet", "ssh-slash-8",
         "zone-not-in-region", "tag-key-aws", "tag-key-name", "tag-value-too-long", "tag-key-bad-character",
         "empty-checksum", "no-admin-password", "no-license-two-nodes", "no-app-db-password"],
)
def test_bad_input_fails_before_any_change(aws, bad, variable, detail):
    run = run_playbook("playbooks/provision.yml", "-e", json.dumps({**BASE, **bad}), env=aws.env, check=False)
    task, failure = first_failure_of(run)
    assert variable in failure and detail in failure, run.output
    # The failing task is one of aws_preflight's checks: nothing ran after it.
    assert task.startswith("mattermost_ha.aws.aws_preflight : Check"), run.output
    nothing_created(aws)


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        # us-west-1's zones do not offer this type (nor does any zone).
        ({"mattermost_ha_app_instance_type": "x9.huge"},
         "mattermost_ha_app_instance_type x9.huge is not offered in us-west-1a, us-west-1b"),
        # A copy in the deployment's own region survives no loss of the region.
        ({"mattermost_ha_backup_copy_region": "us-west-1"},
         "mattermost_ha_backup_copy_region (us-west-1) is mattermost_ha_region, the region of the deployment"),
        ({"mattermost_ha_backup_copy_region": "Frankfurt"},
         "mattermost_ha_backup_copy_region (Frankfurt) must be an AWS region name"),
        ({"mattermost_ha_backup_copy_region": "eu-central-1", "mattermost_ha_backup_schedule": "daily"},
         "mattermost_ha_backup_schedule (daily) must be an AWS Backup cron expression"),
        ({"mattermost_ha_backup_copy_region": "eu-central-1", "mattermost_ha_backup_completion_window_minutes": 90},
         "mattermost_ha_backup_completion_window_minutes (90) must be at least 60 minutes more"),
        ({"mattermost_ha_alarm_subscriptions": [{"protocol": "pigeon", "endpoint": "roof"}]},
         "mattermost_ha_alarm_subscriptions must be a list of {protocol, endpoint}"),
        ({"mattermost_ha_alarm_db_cpu_percent": -5}, "mattermost_ha_alarm_db_cpu_percent (-5"),
        # CreateTargetGroup refuses a health check timeout that is not shorter than the interval.
        ({"mattermost_ha_alb_health_check_interval": 5},
         "mattermost_ha_alb_health_check_timeout 2 to 120 s and shorter than the interval (5)"),
    ],
    ids=["instance-type-not-offered", "backup-copy-in-own-region", "backup-copy-region-not-a-region",
         "backup-schedule-not-cron", "backup-completion-window-too-short", "alarm-subscription-bad-protocol",
         "alarm-threshold-negative", "health-check-timeout-not-shorter-than-interval"],
)
def test_input_aws_or_the_region_would_refuse_fails_in_validation(aws, bad, expected):
    run = run_playbook("playbooks/provision.yml", "-e", json.dumps({**BASE, **bad}), env=aws.env, check=False)
    assert expected in first_failure_of(run)[1], run.output
    nothing_created(aws)


@pytest.mark.parametrize(
    ("override", "role", "variable"),
    [
        ({"mattermost_ha_db_password": None}, "aws_database", "mattermost_ha_db_password"),
        ({"mattermost_ha_db_password": "has@sign-1234"}, "aws_database", "mattermost_ha_db_password"),
        ({"mattermost_ha_db_password": "with space 1234"}, "aws_database", "mattermost_ha_db_password"),
        ({"mattermost_ha_db_password": "short1"}, "aws_database", "mattermost_ha_db_password"),
        ({"mattermost_ha_app_count": 0}, "aws_app_instances", "mattermost_ha_app_count"),
        ({"mattermost_ha_site_domain": "chat_example"}, "aws_certificate", "mattermost_ha_site_domain"),
        ({"mattermost_ha_site_domain": "https://chat.example.com/"}, "aws_certificate", "mattermost_ha_site_domain"),
        ({"mattermost_ha_monitoring_instance_type": "big"}, "aws_monitoring_instance",
         "mattermost_ha_monitoring_instance_type"),
        ({"mattermost_ha_instance_cloudwatch_agent": True, "mattermost_ha_node_logs_retention_days": 10},
         "aws_node_logs", "mattermost_ha_node_logs_retention_days"),
        ({"mattermost_ha_instance_cloudwatch_agent": True,
          "mattermost_ha_node_log_groups": {"mattermost": "/mattermost-ha/x", "system": "/mattermost-ha/x"}},
         "aws_node_logs", "mattermost_ha_node_log_groups"),
    ],
    ids=["missing-password", "password-at", "password-space", "password-short", "app-count-0",
         "domain-no-dot", "domain-url", "monitoring-instance-type", "node-logs-retention", "node-log-groups-same-name"],
)
def test_bad_front_end_input_fails_in_its_role_validation_before_any_change(aws, override, role, variable):
    values = {key: value for key, value in {**BASE, **override}.items() if value is not None}
    run = run_playbook("playbooks/provision.yml", "-e", json.dumps(values), env=aws.env, check=False)
    task, failure = first_failure_of(run)
    assert variable in failure, run.output
    assert task.startswith(f"mattermost_ha.aws.{role} : Check"), run.output
    if "password" in variable and variable in values:
        assert values[variable] not in run.output
    nothing_created(aws)


def test_certificate_without_zone_writes_the_records_file(aws, tmp_path):
    records = tmp_path / "records.csv"
    values = lab_vars(aws, {}, records_file=records)
    run_playbook("tests/integration/aws/playbooks/certificate.yml", "-e", write_vars(tmp_path / "vars.yml", values),
                 env=aws.env)
    [summary] = aws.client("acm").list_certificates()["CertificateSummaryList"]
    certificate = aws.client("acm").describe_certificate(CertificateArn=summary["CertificateArn"])["Certificate"]
    record = certificate["DomainValidationOptions"][0]["ResourceRecord"]
    rows = list(csv.DictReader(records.open()))
    assert rows == [{"Domain Name": "chat.example.com", "Record Name": record["Name"],
                     "Record Type": "CNAME", "Record Value": record["Value"]}]


def test_a_bucket_of_the_file_store_name_owned_by_no_deployment_is_refused(aws):
    account = aws.client("sts").get_caller_identity()["Account"]
    bucket = f"mattermost-ha-mattermost-{account}-us-west-1"
    aws.client("s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-1"})
    run = run_playbook("playbooks/provision.yml", "-e", json.dumps(BASE), env=aws.env, check=False)
    _, failure = first_failure_of(run)
    assert f"mattermost_ha_file_store_bucket ({bucket}" in failure
    assert f"s3 bucket {bucket} has no mattermost-ha:deployment tag" in failure
    assert [b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]] == [bucket]


def test_a_backup_vault_of_the_deployment_name_made_by_hand_in_the_copy_region_is_refused(aws):
    aws.client("backup", "eu-central-1").create_backup_vault(BackupVaultName="Mattermost-backup")
    run = run_playbook("playbooks/provision.yml", "-e", json.dumps(
        {**BASE, "mattermost_ha_backup_copy_region": "eu-central-1"}), env=aws.env, check=False)
    task, failure = first_failure_of(run)
    assert task == "mattermost_ha.aws.aws_backup : Check that no other owner uses the backup names", run.output
    assert "backup vault Mattermost-backup has no mattermost-ha:deployment tag" in failure
    assert "(in eu-central-1)" in failure
    nothing_created(aws)
    assert aws.client("backup").list_backup_plans()["BackupPlansList"] == []


def test_long_names_in_long_regions_get_distinct_bucket_names(aws):
    name = "A" + "b" * 23  # 24 characters, the most mattermost_ha_name allows
    buckets = []
    for region in ("ap-southeast-1", "ap-southeast-2"):
        run = run_playbook("tests/integration/aws/playbooks/preflight.yml", "-e", json.dumps(
            {"mattermost_ha_region": region, "mattermost_ha_name": name}), env=aws.env)
        buckets.append(re.search(r"bucket=([a-z0-9.-]+)", run.output)[1])
    assert buckets[0] != buckets[1]
    assert all(len(b) <= 63 and b.startswith(f"mattermost-ha-{name.lower()}-") for b in buckets), buckets


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
    run_playbook("playbooks/provision.yml", "-e", json.dumps(extra), env=aws.env, mitogen=True)
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
