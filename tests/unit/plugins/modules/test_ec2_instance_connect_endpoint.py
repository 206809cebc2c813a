"""mattermost_ha.aws.ec2_instance_connect_endpoint with botocore's Stubber.

moto does not implement the EC2 Instance Connect Endpoint API, so these tests drive the
module's main() with a real boto3 EC2 client whose calls are stubbed: the Stubber checks
every request against botocore's EC2 service model (operation names, parameter names and
types) and fails on any call that was not expected. What they cannot show: how the real
service answers (timings, error codes, the state machine); see docs/differences.md.
"""

import datetime
import json
from unittest import mock

import boto3
import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.mattermost_ha.aws.plugins.modules import ec2_instance_connect_endpoint as module
from botocore.stub import ANY, Stubber

SUBNET = "subnet-0123456789abcdef0"
SG = "sg-0123456789abcdef0"
EICE = "eice-0123456789abcdef0"
LIVE = [
    "create-in-progress", "create-complete", "create-failed", "update-in-progress", "update-complete",
    "update-failed", "delete-failed",
]


def endpoint(state="create-complete", tags=None, security_groups=(SG,), preserve=False, message=""):
    described = {
        "OwnerId": "123456789012",
        "InstanceConnectEndpointId": EICE,
        "InstanceConnectEndpointArn": f"arn:aws:ec2:us-west-1:123456789012:instance-connect-endpoint/{EICE}",
        "State": state,
        "StateMessage": message,
        "DnsName": f"{EICE}.b6bd4fcd.ec2-instance-connect-endpoint.us-west-1.amazonaws.com",
        "NetworkInterfaceIds": ["eni-0123456789abcdef0"],
        "VpcId": "vpc-0123456789abcdef0",
        "AvailabilityZone": "us-west-1a",
        "CreatedAt": datetime.datetime(2026, 11, 28, 4, 0, tzinfo=datetime.UTC),
        "SubnetId": SUBNET,
        "PreserveClientIp": preserve,
        "SecurityGroupIds": list(security_groups),
        "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
    }
    return described


def by_subnet():
    return {"Filters": [{"Name": "subnet-id", "Values": [SUBNET]}, {"Name": "state", "Values": LIVE}]}


def by_id():
    return {"InstanceConnectEndpointIds": [EICE]}


class Exit(Exception):
    def __init__(self, result, failed=False):
        super().__init__(result.get("msg", ""))
        self.result = result
        self.failed = failed


@pytest.fixture
def ec2():
    client = boto3.client(
        "ec2", region_name="us-west-1", aws_access_key_id="a", aws_secret_access_key="b",
        endpoint_url="http://127.0.0.1:9",  # never reached: the Stubber answers
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def run(client, **args):
    """main() with these arguments; returns the result dict (Exit.failed tells a failure)."""
    args.setdefault("region", "us-west-1")

    def exit_json(self, **result):
        raise Exit(result)

    def fail_json(self, **result):
        raise Exit(result, failed=True)

    with patch_module_args(args), \
            mock.patch.object(AnsibleAWSModule, "client", side_effect=lambda _service, retry_decorator=None, **_kw:
                              RetryingBotoClientWrapper(client, retry_decorator)), \
            mock.patch("ansible.module_utils.basic.AnsibleModule.exit_json", exit_json), \
            mock.patch("ansible.module_utils.basic.AnsibleModule.fail_json", fail_json), \
            mock.patch("time.sleep") as sleep, pytest.raises(Exit) as caught:
        module.main()
    caught.value.result["_sleeps"] = sleep.call_count
    if caught.value.failed:
        caught.value.result["failed"] = True
    json.dumps(caught.value.result, default=str)  # results must serialise
    return caught.value.result


def test_creates_when_absent_and_waits_until_complete(ec2):
    client, stubber = ec2
    tags = {"Name": "Mattermost-VPC-endpoint", "mattermost-ha:deployment": "Mattermost"}
    stubber.add_response("describe_instance_connect_endpoints", {"InstanceConnectEndpoints": []}, by_subnet())
    stubber.add_response(
        "create_instance_connect_endpoint",
        {"InstanceConnectEndpoint": endpoint("create-in-progress", tags), "ClientToken": "t"},
        {
            "SubnetId": SUBNET,
            "SecurityGroupIds": [SG],
            "PreserveClientIp": False,
            "ClientToken": ANY,
            "TagSpecifications": [{
                "ResourceType": "instance-connect-endpoint",
                "Tags": [{"Key": "Name", "Value": "Mattermost-VPC-endpoint"},
                         {"Key": "mattermost-ha:deployment", "Value": "Mattermost"}],
            }],
        },
    )
    stubber.add_response("describe_instance_connect_endpoints",
                         {"InstanceConnectEndpoints": [endpoint("create-in-progress", tags)]}, by_id())
    stubber.add_response("describe_instance_connect_endpoints",
                         {"InstanceConnectEndpoints": [endpoint("create-complete", tags)]}, by_id())

    result = run(client, subnet_id=SUBNET, security_group_ids=[SG], tags=tags, _ansible_diff=True)

    assert result["changed"] is True
    assert "failed" not in result
    described = result["instance_connect_endpoint"]
    assert described["instance_connect_endpoint_id"] == EICE
    assert described["state"] == "create-complete"
    assert described["tags"] == tags
    assert described["created_at"] == "2026-11-28T04:00:00+00:00"
    assert result["_sleeps"] == 1
    assert result["diff"]["before"] == {} and result["diff"]["after"]["state"] == "create-complete"


def test_no_change_when_present(ec2):
    client, stubber = ec2
    tags = {"Name": "Mattermost-VPC-endpoint"}
    stubber.add_response("describe_instance_connect_endpoints",
                         {"InstanceConnectEndpoints": [endpoint(tags=tags)]}, by_subnet())
    result = run(client, subnet_id=SUBNET, security_group_ids=[SG], tags=tags)
    assert result["changed"] is False
    assert result["instance_connect_endpoint"]["state"] == "create-complete"


def test_check_mode_makes_no_changing_call(ec2):
    client, stubber = ec2
    # Only the describe call is expected: a create would fail the Stubber.
    stubber.add_response("describe_instance_connect_endpoints", {"InstanceConnectEndpoints": []}, by_subnet())
    result = run(client, subnet_id=SUBNET, security_group_ids=[SG], _ansible_check_mode=True)
    assert result["changed"] is True
    assert result["instance_connect_endpoint"]["subnet_id"] == SUBNET


def test_retags_existing_endpoint(ec2):
    client, stubber = ec2
    stubber.add_response("describe_instance_connect_endpoints",
                         {"InstanceConnectEndpoints": [endpoint(tags={"Name": "old", "stale": "x"})]}, by_subnet())
    stubber.add_response("delete_tags", {}, {"Resources": [EICE], "Tags": [{"Key": "stale"}]})
    stubber.add_response("create_tags", {}, {"Resources": [EICE], "Tags": [{"Key": "Name", "Value": "new"}]})
    stubber.add_response("describe_instance_connect_endpoints",
                         {"InstanceConnectEndpoints": [endpoint(tags={"Name": "new"})]},
                         {"InstanceConnectEndpointIds": [EICE], "Filters": [{"Name": "state", "Values": LIVE}]})
    result = run(client, subnet_id=SUBNET, security_group_ids=[SG], tags={"Name": "new"})
    assert result["changed"] is True
    assert result["instance_connect_endpoint"]["tags"] == {"Name": "new"}


def test_refuses_to_change_immutable_settings(ec2):
    client, stubber = ec2
    other = endpoint(security_groups=["sg-0aaaaaaaaaaaaaaaa"])
    stubber.add_response("describe_instance_connect_endpoints", {"InstanceConnectEndpoints": [other]}, by_subnet())
    result = run(client, subnet_id=SUBNET, security_group_ids=[SG])
    assert result["failed"] is True
    assert "security_group_ids" in result["msg"] and "cannot be changed in place" in result["msg"]


def test_replace_deletes_an_endpoint_in_other_security_groups_then_creates_one(ec2):
    client, stubber = ec2
    old_group = "sg-0aaaaaaaaaaaaaaaa"
    stubber.add_response("describe_instance_connect_endpoints",
                         {"InstanceConnectEndpoints": [endpoint(security_groups=[old_group])]}, by_subnet())
    stubber.add_response("delete_instance_connect_endpoint",
                         {"InstanceConnectEndpoint": endpoint("delete-in-progress", security_groups=[old_group])},
                         {"InstanceConnectEndpointId": EICE})
    stubber.add_response("describe_instance_connect_endpoints",
                         {"InstanceConnectEndpoints": [endpoint("delete-complete", security_groups=[old_group])]},
                         by_id())
    stubber.add_response(
        "create_instance_connect_endpoint",
        {"InstanceConnectEndpoint": endpoint("create-in-progress"), "ClientToken": "t"},
        {"SubnetId": SUBNET, "SecurityGroupIds": [SG], "PreserveClientIp": False, "ClientToken": ANY},
    )
    stubber.add_response("describe_instance_connect_endpoints",
                         {"InstanceConnectEndpoints": [endpoint("create-complete")]}, by_id())

    result = run(client, subnet_id=SUBNET, security_group_ids=[SG], replace=True, _ansible_diff=True)

    assert result["changed"] is True and "failed" not in result
    assert result["diff"]["before"]["security_group_ids"] == [old_group]
    assert result["instance_connect_endpoint"]["security_group_ids"] == [SG]


def test_replace_in_check_mode_makes_no_changing_call(ec2):
    client, stubber = ec2
    stubber.add_response("describe_instance_connect_endpoints",
                         {"InstanceConnectEndpoints": [endpoint(security_groups=["sg-0aaaaaaaaaaaaaaaa"])]},
                         by_subnet())
    result = run(client, subnet_id=SUBNET, security_group_ids=[SG], replace=True, _ansible_check_mode=True)
    assert result["changed"] is True
    assert result["instance_connect_endpoint"]["security_group_ids"] == [SG]


def test_fails_when_creation_fails(ec2):
    client, stubber = ec2
    stubber.add_response("describe_instance_connect_endpoints", {"InstanceConnectEndpoints": []}, by_subnet())
    stubber.add_response("create_instance_connect_endpoint",
                         {"InstanceConnectEndpoint": endpoint("create-in-progress")}, None)
    stubber.add_response(
        "describe_instance_connect_endpoints",
        {"InstanceConnectEndpoints": [endpoint("create-failed", message="Subnet has no free addresses")]},
        by_id(),
    )
    result = run(client, subnet_id=SUBNET, security_group_ids=[SG])
    assert result["failed"] is True
    assert "create-failed" in result["msg"] and "Subnet has no free addresses" in result["msg"]


def test_existing_failed_endpoint_is_reported(ec2):
    client, stubber = ec2
    stubber.add_response("describe_instance_connect_endpoints",
                         {"InstanceConnectEndpoints": [endpoint("create-failed", message="quota")]}, by_subnet())
    result = run(client, subnet_id=SUBNET, security_group_ids=[SG])
    assert result["failed"] is True
    assert "create-failed: quota" in result["msg"]


def test_service_error_is_reported(ec2):
    client, stubber = ec2
    stubber.add_client_error("describe_instance_connect_endpoints", service_error_code="UnauthorizedOperation",
                             service_message="You are not authorized", http_status_code=403)
    result = run(client, subnet_id=SUBNET)
    assert result["failed"] is True
    assert "UnauthorizedOperation" in json.dumps(result, default=str)


def test_deletes_and_waits(ec2):
    client, stubber = ec2
    stubber.add_response("describe_instance_connect_endpoints", {"InstanceConnectEndpoints": [endpoint()]}, by_subnet())
    deleting = {"InstanceConnectEndpoint": endpoint("delete-in-progress")}
    stubber.add_response("delete_instance_connect_endpoint", deleting, {"InstanceConnectEndpointId": EICE})
    stubber.add_response("describe_instance_connect_endpoints",
                         {"InstanceConnectEndpoints": [endpoint("delete-in-progress")]}, by_id())
    stubber.add_response("describe_instance_connect_endpoints",
                         {"InstanceConnectEndpoints": [endpoint("delete-complete")]}, by_id())
    result = run(client, subnet_id=SUBNET, state="absent", _ansible_diff=True)
    assert result["changed"] is True
    assert result["instance_connect_endpoint"] == {}
    assert result["diff"]["before"]["instance_connect_endpoint_id"] == EICE and result["diff"]["after"] == {}


def test_delete_when_absent_is_a_no_op(ec2):
    client, stubber = ec2
    stubber.add_response("describe_instance_connect_endpoints", {"InstanceConnectEndpoints": []}, by_subnet())
    result = run(client, subnet_id=SUBNET, state="absent")
    assert result["changed"] is False


def test_delete_in_check_mode_makes_no_changing_call(ec2):
    client, stubber = ec2
    stubber.add_response("describe_instance_connect_endpoints", {"InstanceConnectEndpoints": [endpoint()]}, by_subnet())
    result = run(client, subnet_id=SUBNET, state="absent", _ansible_check_mode=True)
    assert result["changed"] is True
