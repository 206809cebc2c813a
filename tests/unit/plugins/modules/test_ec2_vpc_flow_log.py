"""mattermost_ha.aws.ec2_vpc_flow_log against moto's in-process EC2 (moto implements flow logs)."""

import json
from unittest import mock

import boto3
import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.mattermost_ha.aws.plugins.modules import ec2_vpc_flow_log as module
from moto import mock_aws

ROLE = "arn:aws:iam::123456789012:role/Mattermost-VPC-FlowLogs"
GROUP = "/mattermost-ha/Mattermost/vpc-flow-logs"


class Exit(Exception):
    def __init__(self, result):
        super().__init__(result.get("msg", ""))
        self.result = result


@pytest.fixture
def ec2(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-west-1"}.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_ENDPOINT_URL", "AWS_URL", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(key, raising=False)
    with mock_aws():
        client = boto3.client("ec2", region_name="us-west-1")
        vpc_id = client.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        yield client, vpc_id


def run(client, **args):
    args.setdefault("region", "us-west-1")

    def leave(self, **result):
        raise Exit(result)

    with patch_module_args(args), \
            mock.patch.object(AnsibleAWSModule, "client", side_effect=lambda _service, retry_decorator=None, **_kw:
                              RetryingBotoClientWrapper(client, retry_decorator)), \
            mock.patch("ansible.module_utils.basic.AnsibleModule.exit_json", leave), \
            mock.patch("ansible.module_utils.basic.AnsibleModule.fail_json", leave), \
            pytest.raises(Exit) as caught:
        module.main()
    json.dumps(caught.value.result, default=str)
    return caught.value.result


def flow_logs(client, vpc_id):
    return client.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["FlowLogs"]


def test_create_is_idempotent_and_tagged(ec2):
    client, vpc_id = ec2
    args = dict(resource_id=vpc_id, log_group_name=GROUP, deliver_logs_permission_arn=ROLE, tags={"Name": "fl"})
    first = run(client, **args)
    assert first["changed"] is True
    (created,) = flow_logs(client, vpc_id)
    assert created["TrafficType"] == "ALL" and created["LogGroupName"] == GROUP
    assert created["DeliverLogsPermissionArn"] == ROLE
    assert first["flow_log"]["flow_log_id"] == created["FlowLogId"]
    assert first["flow_log"]["tags"] == {"Name": "fl"}
    second = run(client, **args)
    assert second["changed"] is False
    assert [f["FlowLogId"] for f in flow_logs(client, vpc_id)] == [created["FlowLogId"]]


def test_check_mode_creates_nothing(ec2):
    client, vpc_id = ec2
    result = run(client, resource_id=vpc_id, log_group_name=GROUP, deliver_logs_permission_arn=ROLE,
                 _ansible_check_mode=True)
    assert result["changed"] is True
    assert flow_logs(client, vpc_id) == []


def test_changed_settings_replace_the_flow_log(ec2):
    client, vpc_id = ec2
    run(client, resource_id=vpc_id, log_group_name=GROUP, deliver_logs_permission_arn=ROLE)
    (old,) = flow_logs(client, vpc_id)
    result = run(client, resource_id=vpc_id, log_group_name=GROUP, deliver_logs_permission_arn=ROLE,
                 traffic_type="REJECT")
    assert result["changed"] is True
    (new,) = flow_logs(client, vpc_id)
    assert new["FlowLogId"] != old["FlowLogId"] and new["TrafficType"] == "REJECT"


def test_retag_and_delete(ec2):
    client, vpc_id = ec2
    run(client, resource_id=vpc_id, log_group_name=GROUP, deliver_logs_permission_arn=ROLE, tags={"a": "1"})
    retagged = run(client, resource_id=vpc_id, log_group_name=GROUP, deliver_logs_permission_arn=ROLE,
                   tags={"b": "2"})
    assert retagged["changed"] is True
    assert {t["Key"]: t["Value"] for t in flow_logs(client, vpc_id)[0]["Tags"]} == {"b": "2"}
    checked = run(client, resource_id=vpc_id, log_group_name=GROUP, state="absent", _ansible_check_mode=True)
    assert checked["changed"] is True and len(flow_logs(client, vpc_id)) == 1
    deleted = run(client, resource_id=vpc_id, log_group_name=GROUP, state="absent")
    assert deleted["changed"] is True and flow_logs(client, vpc_id) == []
    again = run(client, resource_id=vpc_id, log_group_name=GROUP, state="absent")
    assert again["changed"] is False
