"""The app nodes' instance role: the file store only by default; Session Manager and the
CloudWatch agent only when switched on, as inline policies scoped where AWS allows."""

import json

import pytest
from harness.ansible import run_playbook

pytestmark = pytest.mark.slow

PLAYBOOK = "tests/integration/aws/playbooks/iam.yml"
ROLE = "Chat-App-Role"


def run(aws, **switches):
    extra = {"mattermost_ha_region": aws.region, "mattermost_ha_name": "Chat",
             "mattermost_ha_admin_cidrs": ["203.0.113.0/24"], **switches}
    return run_playbook(PLAYBOOK, "-e", json.dumps(extra), env=aws.env)


def policies(iam):
    attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"]]
    inline = {name: iam.get_role_policy(RoleName=ROLE, PolicyName=name)["PolicyDocument"]
              for name in iam.list_role_policies(RoleName=ROLE)["PolicyNames"]}
    return attached, inline


def test_by_default_the_role_may_use_the_file_store_only(aws):
    run(aws)
    attached, inline = policies(aws.client("iam"))
    assert attached == []
    assert list(inline) == ["file-store"]
    account = aws.client("sts").get_caller_identity()["Account"]
    bucket = f"arn:aws:s3:::mattermost-ha-chat-{account}-{aws.region}"
    assert {s["Resource"] for s in inline["file-store"]["Statement"]} == {bucket, f"{bucket}/*"}


def test_ssm_and_cloudwatch_agent_get_scoped_inline_policies_only_while_switched_on(aws):
    run(aws)
    on = run(aws, mattermost_ha_instance_ssm=True, mattermost_ha_instance_cloudwatch_agent=True)
    assert on.changed > 0
    iam = aws.client("iam")
    attached, inline = policies(iam)
    assert attached == []  # no AWS managed policy with Resource "*"
    assert sorted(inline) == ["cloudwatch-agent", "file-store", "ssm-session"]
    account = aws.client("sts").get_caller_identity()["Account"]
    ssm = {s["Sid"]: s for s in inline["ssm-session"]["Statement"]}
    assert ssm["RegisterThisAccountsInstances"]["Resource"] == f"arn:aws:ec2:{aws.region}:{account}:instance/*"
    assert all(a.startswith("ssmmessages:") for a in ssm["SessionManagerChannels"]["Action"])
    agent = {s["Sid"]: s for s in inline["cloudwatch-agent"]["Statement"]}
    assert agent["AgentMetricsInItsNamespace"]["Condition"] == {"StringEquals": {"cloudwatch:namespace": "CWAgent"}}
    # The two groups aws_node_logs makes, nothing else under the prefix (not the VPC flow logs);
    # no right to create a group or change its retention.
    assert agent["TheNodesLogGroupsOnly"]["Resource"] == [
        f"arn:aws:logs:{aws.region}:{account}:log-group:/mattermost-ha/Chat/{group}:*"
        for group in ("mattermost", "system")]
    assert agent["TheNodesLogGroupsOnly"]["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents",
                                                        "logs:DescribeLogStreams"]
    again = run(aws, mattermost_ha_instance_ssm=True, mattermost_ha_instance_cloudwatch_agent=True)
    assert again.changed == 0, again.output
    # Switched off again: the policies go.
    run(aws)
    assert policies(iam) == ([], {"file-store": policies(iam)[1]["file-store"]})
