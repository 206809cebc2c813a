"""Teardown and validation go by the deployment tag, never by a derived name.

The deployment `prod` is provisioned; then resources a deployment named `Prod` would derive
are looked at: Aurora identifiers and S3 bucket names are lower case, so `Prod` derives
`prod`'s database and file store; the IAM role, instance profile and flow log group of
`Prod`'s names are made by hand, without the tag. Provisioning `Prod` is refused at
validation; tearing `Prod` down removes none of it; tearing `prod` down removes `prod`'s
resources and leaves the hand-made ones.
"""

import json

import pytest
from frontend_prereqs import EMULATOR_FRONTEND_VARS, TRUST
from harness.ansible import run_playbook
from harness.aws import AwsAccount

pytestmark = pytest.mark.slow

REGION = "us-west-1"
TAG = "mattermost-ha:deployment"
SITE = "chat.example.com"
COMMON = {
    "mattermost_ha_region": REGION,
    "mattermost_ha_admin_cidrs": ["203.0.113.0/24"],
    "mattermost_ha_instance_connect_endpoint": False,
    **EMULATOR_FRONTEND_VARS,
    "mattermost_ha_site_domain": SITE,
    "mattermost_ha_certificate_records_file": "/tmp/mattermost-ha-test-ownership-records.csv",
    # moto 5.2.5 answers ScheduleKeyDeletion with a 500 for a key ARN (test_provision.py).
    "mattermost_ha_flow_logs_kms_key": False,
    # moto applies the log bucket's Deny to the access logs it wrote there, so teardown could
    # not empty it (inventories/local/group_vars/all/main.yml); test_provision.py covers the logs.
    "mattermost_ha_file_store_access_logs": False,
}
HAND_ROLE, HAND_PROFILE = "Prod-App-Role", "Prod-App-Profile"
HAND_LOG_GROUP = "/mattermost-ha/Prod/vpc-flow-logs"


def teardown_vars(name):
    return {**COMMON, "mattermost_ha_name": name, "mattermost_ha_teardown_confirm": name,
            "mattermost_ha_teardown_delete_file_store": True}


def flat(output):
    return " ".join(output.split())


@pytest.fixture(scope="module")
def estate(moto_server):
    """`prod` provisioned, and `Prod`'s names for IAM and logs taken by hand-made, untagged resources."""
    moto_server.reset()
    aws = AwsAccount(moto_server, REGION)
    # With the Mitogen accelerator (docs/performance.md): this file's runs are not about the strategy.
    run_playbook("playbooks/provision.yml", "-e", json.dumps({**COMMON, "mattermost_ha_name": "prod"}), env=aws.env,
                 mitogen=True)
    iam = aws.client("iam")
    iam.create_role(RoleName=HAND_ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.create_instance_profile(InstanceProfileName=HAND_PROFILE)
    aws.client("logs").create_log_group(logGroupName=HAND_LOG_GROUP)
    aws.account_id = aws.client("sts").get_caller_identity()["Account"]
    aws.bucket = f"mattermost-ha-prod-{aws.account_id}-{REGION}"
    yield aws
    moto_server.reset()


def deployment_vpcs(aws, name):
    return aws.client("ec2").describe_vpcs(Filters=[{"Name": f"tag:{TAG}", "Values": [name]}])["Vpcs"]


def assert_prod_intact(aws):
    assert len(deployment_vpcs(aws, "prod")) == 1
    rds = aws.client("rds")
    (cluster,) = rds.describe_db_clusters(DBClusterIdentifier="prod-db")["DBClusters"]
    assert {t["Key"]: t["Value"] for t in cluster["TagList"]}[TAG] == "prod"
    assert len(cluster["DBClusterMembers"]) == 2
    assert rds.describe_db_subnet_groups(DBSubnetGroupName="prod-db-subnets")["DBSubnetGroups"]
    (balancer,) = aws.client("elbv2").describe_load_balancers(Names=["prod-ALB"])["LoadBalancers"]
    assert balancer["State"]["Code"] in ("active", "provisioning")
    assert aws.client("elbv2").describe_target_groups(Names=["prod-Targets"])["TargetGroups"]
    iam = aws.client("iam")
    assert iam.get_role(RoleName="prod-App-Role")["Role"]
    assert iam.get_instance_profile(InstanceProfileName="prod-App-Profile")["InstanceProfile"]
    assert aws.bucket in [b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]]
    tagging = aws.client("s3").get_bucket_tagging(Bucket=aws.bucket)["TagSet"]
    assert {t["Key"]: t["Value"] for t in tagging}[TAG] == "prod"


def assert_hand_made_intact(aws):
    iam = aws.client("iam")
    assert iam.get_role(RoleName=HAND_ROLE)["Role"]["RoleName"] == HAND_ROLE
    assert iam.get_instance_profile(InstanceProfileName=HAND_PROFILE)["InstanceProfile"]
    groups = aws.client("logs").describe_log_groups(logGroupNamePrefix=HAND_LOG_GROUP)["logGroups"]
    assert [g["logGroupName"] for g in groups] == [HAND_LOG_GROUP]


def test_provisioning_a_name_differing_only_in_case_is_refused_before_any_change(estate):
    run = run_playbook("playbooks/provision.yml", "-e", json.dumps({**COMMON, "mattermost_ha_name": "Prod"}),
                       env=estate.env, check=False)
    assert run.returncode != 0
    assert run.changed == 0
    output = flat(run.output)
    assert "mattermost_ha_name (Prod) derives names already in use by resources it does not own" in output
    # The first resource met: the access log bucket, whose lower-case name is prod's.
    assert f"s3 bucket prod-alb-logs-{estate.account_id}-{REGION} belongs to the deployment prod" in output
    assert deployment_vpcs(estate, "Prod") == []
    assert_prod_intact(estate)


def test_teardown_of_prod_with_capital_p_leaves_prod_and_the_hand_made_resources(estate):
    run = run_playbook("playbooks/teardown.yml", "-e", json.dumps(teardown_vars("Prod")), env=estate.env, mitogen=True)
    output = flat(run.output)
    # Each resource left alone is named, with its owner, as a warning.
    assert "Left alone: rds cluster prod-db belongs to the deployment prod, not to Prod." in output
    assert f"Left alone: s3 bucket {estate.bucket} belongs to the deployment prod, not to Prod." in output
    assert f"Left alone: iam role {HAND_ROLE} has no {TAG} tag" in output
    assert f"Left alone: logs log group {HAND_LOG_GROUP} has no {TAG} tag" in output
    assert_prod_intact(estate)
    assert_hand_made_intact(estate)
    # Deletion protection of prod's cluster was not switched off either.
    (cluster,) = estate.client("rds").describe_db_clusters(DBClusterIdentifier="prod-db")["DBClusters"]
    assert cluster["DeletionProtection"] is True


def test_teardown_of_prod_removes_it_and_leaves_the_hand_made_resources(estate):
    run_playbook("playbooks/teardown.yml", "-e", json.dumps(teardown_vars("prod")), env=estate.env, mitogen=True)
    assert deployment_vpcs(estate, "prod") == []
    assert estate.client("rds").describe_db_clusters()["DBClusters"] == []
    assert estate.client("elbv2").describe_load_balancers()["LoadBalancers"] == []
    assert estate.client("elbv2").describe_target_groups()["TargetGroups"] == []
    assert estate.bucket not in [b["Name"] for b in estate.client("s3").list_buckets()["Buckets"]]
    roles = {r["RoleName"] for r in estate.client("iam").list_roles()["Roles"]}
    assert not {r for r in roles if r.startswith("prod-")}
    assert_hand_made_intact(estate)
