"""The roles against what real AWS does and moto does not (docs/real-aws-behaviours.md).

- AWS upgrades the cluster's minor version behind the collection's back
  (auto_minor_version_upgrade): the emulator's modify_db_cluster stands for it; the re-run
  must not ask to go back.
- A new enhanced-monitoring role (RDS) or instance profile (EC2) is refused for a while (IAM
  propagation): a proxy in front of the emulator answers the documented error a few times.
"""

import pytest
from frontend_prereqs import create_prerequisites, lab_vars, write_vars
from harness.ansible import run_playbook
from harness.aws_proxy import AwsProxy, Rule

PLAYBOOK = "tests/integration/aws/playbooks/database.yml"
APP_PLAYBOOK = "tests/integration/aws/playbooks/app_instances.yml"
CLUSTER = "mattermost-db"
MONITORING_NOT_YET = ("IAM role ARN value is invalid or does not include the required permissions for: "
                      "ENHANCED_MONITORING")

pytestmark = pytest.mark.slow


def _run(aws, tmp_path, endpoint=None, check=True, playbook=PLAYBOOK, **extra):
    values = lab_vars(aws, create_prerequisites(aws) if "prereqs" not in extra else extra.pop("prereqs"), **extra)
    if endpoint:
        values["mattermost_ha_aws_endpoint_url"] = endpoint
    env = dict(aws.env, AWS_ENDPOINT_URL=endpoint) if endpoint else aws.env
    return run_playbook(playbook, "-e", write_vars(tmp_path / "vars.yml", values), env=env, check=check)


def _cluster(aws):
    return aws.client("rds").describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0]


def test_rerun_after_aws_raised_the_minor_version_requests_no_downgrade(aws, tmp_path):
    prereqs = create_prerequisites(aws)
    _run(aws, tmp_path, prereqs=prereqs, mattermost_ha_db_engine_version="16.6")
    assert _cluster(aws)["EngineVersion"] == "16.6"
    # What AWS does in the maintenance window with auto_minor_version_upgrade.
    aws.client("rds").modify_db_cluster(DBClusterIdentifier=CLUSTER, EngineVersion="16.8", ApplyImmediately=True)
    assert _cluster(aws)["EngineVersion"] == "16.8"

    rerun = _run(aws, tmp_path, prereqs=prereqs, mattermost_ha_db_engine_version="16.6")
    assert rerun.changed == 0, rerun.output
    assert _cluster(aws)["EngineVersion"] == "16.8"
    check = run_playbook(PLAYBOOK, "--check", "--diff", "-e", f"@{tmp_path / 'vars.yml'}", env=aws.env)
    assert check.changed == 0, check.output
    assert _cluster(aws)["EngineVersion"] == "16.8"


def test_new_cluster_is_created_with_the_chosen_version(aws, tmp_path):
    _run(aws, tmp_path, mattermost_ha_db_engine_version="16.4")
    assert _cluster(aws)["EngineVersion"] == "16.4"


def test_higher_minor_version_is_a_deliberate_upgrade(aws, tmp_path):
    prereqs = create_prerequisites(aws)
    _run(aws, tmp_path, prereqs=prereqs, mattermost_ha_db_engine_version="16.6")
    rerun = _run(aws, tmp_path, prereqs=prereqs, mattermost_ha_db_engine_version="16.8")
    assert rerun.changed >= 1
    assert "upgrading, in the next maintenance window" in rerun.folded
    # moto applies a modification at once; AWS in the maintenance window.
    assert _cluster(aws)["EngineVersion"] == "16.8"


def _monitoring_refused(times):
    return Rule(match={"Action": "CreateDBInstance", "MonitoringRoleArn": None}, code="InvalidParameterValue",
                message=MONITORING_NOT_YET, times=times)


def test_new_monitoring_role_refused_by_rds_for_a_while_is_retried(aws, tmp_path):
    with AwsProxy(aws.server.port) as proxy:
        refused = proxy.refuse(_monitoring_refused(times=2))
        _run(aws, tmp_path, endpoint=proxy.url, mattermost_ha_iam_propagation_timeout=60)
    assert refused.seen == 2
    instances = aws.client("rds").describe_db_instances()["DBInstances"]
    assert sorted(i["DBInstanceIdentifier"] for i in instances) == [f"{CLUSTER}-1", f"{CLUSTER}-2"]
    role = aws.client("iam").get_role(RoleName="Mattermost-RDS-Monitoring")["Role"]["Arn"]
    assert {i["MonitoringRoleArn"] for i in instances} == {role}


def test_monitoring_role_refused_for_good_gives_up_after_the_bound(aws, tmp_path):
    with AwsProxy(aws.server.port) as proxy:
        proxy.refuse(_monitoring_refused(times=1000))
        run = _run(aws, tmp_path, endpoint=proxy.url, check=False, mattermost_ha_iam_propagation_timeout=10)
    assert run.returncode != 0
    output = run.folded
    assert "ENHANCED_MONITORING" in output
    assert "mattermost_ha_iam_propagation_timeout" in output
    assert aws.client("rds").describe_db_instances()["DBInstances"] == []


# amazon.aws.ec2_instance turns the profile name into its ARN and retries this answer once, after 10 s.
PROFILE_NOT_YET = ("Value (arn:aws:iam::123456789012:instance-profile/Mattermost-App-Profile) for parameter "
                   "iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN")


def _profile_refused(times):
    return Rule(match={"Action": "RunInstances", "IamInstanceProfile.Arn": None}, code="InvalidParameterValue",
                message=PROFILE_NOT_YET, times=times, xmlns="ec2")


def _app_instances(aws):
    reservations = aws.client("ec2").describe_instances(
        Filters=[{"Name": "tag:mattermost-ha:role", "Values": ["app"]},
                 {"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"]
    return [i for r in reservations for i in r["Instances"]]


def test_new_instance_profile_refused_by_ec2_for_a_while_is_retried(aws, tmp_path):
    with AwsProxy(aws.server.port) as proxy:
        # Three refusals: more than ec2_instance's own single retry absorbs.
        refused = proxy.refuse(_profile_refused(times=3))
        _run(aws, tmp_path, endpoint=proxy.url, playbook=APP_PLAYBOOK, mattermost_ha_iam_propagation_timeout=60)
    assert refused.seen == 3
    instances = _app_instances(aws)
    assert len(instances) == 2
    assert {i["IamInstanceProfile"]["Arn"].rsplit("/", 1)[1] for i in instances} == {"Mattermost-App-Profile"}


def test_instance_profile_refused_for_good_gives_up_after_the_bound(aws, tmp_path):
    with AwsProxy(aws.server.port) as proxy:
        proxy.refuse(_profile_refused(times=1000))
        run = _run(aws, tmp_path, endpoint=proxy.url, playbook=APP_PLAYBOOK, check=False,
                   mattermost_ha_iam_propagation_timeout=10)
    assert run.returncode != 0
    output = run.folded
    assert "Invalid IAM Instance Profile ARN" in output
    assert "mattermost_ha_iam_propagation_timeout" in output
    assert _app_instances(aws) == []


def test_user_tag_keys_with_spaces_or_slashes_launch_with_tags_kept_out_of_metadata(aws, tmp_path):
    # With tags in instance metadata EC2 refuses such keys; moto does not, so the test asserts
    # the setting that makes AWS accept them.
    _run(aws, tmp_path, playbook=APP_PLAYBOOK, mattermost_ha_tags={"Cost Center": "42", "team/owner": "chat"})
    instances = _app_instances(aws)
    assert len(instances) == 2
    for instance in instances:
        assert instance["MetadataOptions"]["InstanceMetadataTags"] == "disabled"
        tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
        assert (tags["Cost Center"], tags["team/owner"]) == ("42", "chat")
