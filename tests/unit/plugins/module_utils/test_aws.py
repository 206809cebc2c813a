"""module_utils/aws.py: the one AWS layer of the collection's modules (tags, retries, waiters, shape).

The tag tests run the three AWS tag APIs through botocore's Stubber, which checks every
request against the service model: the parameter names and shapes each style sends are real.
"""

from unittest import mock

import boto3
import botocore
import pytest
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.mattermost_ha.aws.plugins.module_utils import aws
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import Tagging
from botocore.stub import Stubber

EC2_ID = "fl-0123456789abcdef0"
ACM_ARN = "arn:aws:acm:us-west-1:123456789012:certificate/2e5b5a1c-0000-4000-8000-000000000000"
GA_ARN = "arn:aws:globalaccelerator::123456789012:accelerator/1234abcd-abcd-1234-abcd-1234abcdefgh"
GROUP = "/mattermost-ha/Mattermost/vpc-flow-logs"


@pytest.fixture
def stubbed():
    """stubbed(service) -> (client wrapped as AnsibleAWSModule.client wraps it, Stubber)."""
    stubbers = []

    def make(service, region="us-west-2"):
        client = boto3.client(service, region_name=region, aws_access_key_id="k", aws_secret_access_key="s")
        stubber = Stubber(client)
        stubber.activate()
        stubbers.append(stubber)
        return RetryingBotoClientWrapper(client, aws.retrying()), stubber

    with mock.patch("time.sleep"):
        yield make
    for stubber in stubbers:
        stubber.assert_no_pending_responses()
        stubber.deactivate()


class FakeModule:
    def __init__(self, **params):
        self.params = params
        self.exited = None
        self.failed = None

    def exit_json(self, **result):
        self.exited = result
        raise SystemExit(0)

    def fail_json_aws(self, error, msg):
        self.failed = (error, msg)
        raise SystemExit(1)


# --- tags -----------------------------------------------------------------------------------


def test_ec2_style_removes_purged_keys_then_sets_new_and_changed_values(stubbed):
    ec2, stub = stubbed("ec2")
    stub.add_response("delete_tags", {}, {"Resources": [EC2_ID], "Tags": [{"Key": "Old"}]})
    stub.add_response("create_tags", {}, {"Resources": [EC2_ID], "Tags": [{"Key": "Name", "Value": "new"}]})
    changed, after = Tagging.ec2(ec2, EC2_ID).sync(
        {"Name": "new", "Keep": "1"}, purge=True, check_mode=False, current={"Name": "old", "Keep": "1", "Old": "x"}
    )
    assert changed is True
    assert after == {"Name": "new", "Keep": "1"}


def test_list_style_untags_by_key_names_under_tag_keys(stubbed):
    ga, stub = stubbed("globalaccelerator")
    stub.add_response("untag_resource", {}, {"ResourceArn": GA_ARN, "TagKeys": ["Old"]})
    stub.add_response(
        "tag_resource", {}, {"ResourceArn": GA_ARN, "Tags": [{"Key": "mattermost-ha:deployment", "Value": "M"}]}
    )
    tagging = Tagging.key_value_list(ga.tag_resource, ga.untag_resource, ResourceArn=GA_ARN)
    changed, after = tagging.sync({"mattermost-ha:deployment": "M"}, True, False, current={"Old": "x"})
    assert (changed, after) == (True, {"mattermost-ha:deployment": "M"})


def test_list_style_can_untag_with_key_dicts_as_acm_wants(stubbed):
    acm, stub = stubbed("acm")
    stub.add_response("remove_tags_from_certificate", {}, {"CertificateArn": ACM_ARN, "Tags": [{"Key": "Old"}]})
    tagging = Tagging.key_value_list(
        acm.add_tags_to_certificate, acm.remove_tags_from_certificate, keys_as="Tags", CertificateArn=ACM_ARN
    )
    changed, after = tagging.sync({"Name": "cert"}, True, False, current={"Name": "cert", "Old": "x"})
    assert (changed, after) == (True, {"Name": "cert"})


def test_dict_style_sends_tags_as_a_mapping_and_removed_keys_as_a_list(stubbed):
    logs, stub = stubbed("logs")
    stub.add_response("untag_log_group", {}, {"logGroupName": GROUP, "tags": ["Old"]})
    stub.add_response("tag_log_group", {}, {"logGroupName": GROUP, "tags": {"Name": "flow", "Owner": "me"}})
    tagging = Tagging.dictionary(
        logs.tag_log_group, logs.untag_log_group, tags_as="tags", keys_as="tags", logGroupName=GROUP
    )
    changed, after = tagging.sync({"Name": "flow", "Owner": "me"}, True, False, current={"Old": "x"})
    assert (changed, after) == (True, {"Name": "flow", "Owner": "me"})


def test_tags_already_as_wanted_make_no_call_and_no_change(stubbed):
    ec2, _stub = stubbed("ec2")  # the Stubber fails any call: none is expected
    changed, after = Tagging.ec2(ec2, EC2_ID).sync({"Name": "x"}, True, False, current={"Name": "x"})
    assert (changed, after) == (False, {"Name": "x"})


def test_check_mode_reports_the_change_and_the_tags_it_would_give_without_calling_aws(stubbed):
    ec2, _stub = stubbed("ec2")
    changed, after = Tagging.ec2(ec2, EC2_ID).sync({"Name": "new"}, True, True, current={"Name": "old", "Old": "x"})
    assert (changed, after) == (True, {"Name": "new"})


def test_no_tags_asked_for_leaves_them_alone_without_reading_them():
    read = mock.Mock()
    tagging = Tagging(set_tags=mock.Mock(), unset_tags=mock.Mock(), read=read)
    assert tagging.sync(None, True, False) == (False, None)
    read.assert_not_called()
    tagging.set_tags.assert_not_called()
    tagging.unset_tags.assert_not_called()


def test_purge_keeps_aws_reserved_keys():
    unset = mock.Mock()
    tagging = Tagging(set_tags=mock.Mock(), unset_tags=unset)
    changed, after = tagging.sync({}, True, False, current={"aws:cloudformation:stack-name": "s", "Old": "x"})
    unset.assert_called_once_with(["Old"])
    assert (changed, after) == (True, {"aws:cloudformation:stack-name": "s"})


def test_without_purge_only_adds_and_changes_values():
    tagging = Tagging(set_tags=mock.Mock(), unset_tags=mock.Mock())
    changed, after = tagging.sync({"Name": "new"}, False, False, current={"Name": "old", "Other": "x"})
    tagging.set_tags.assert_called_once_with({"Name": "new"})
    tagging.unset_tags.assert_not_called()
    assert (changed, after) == (True, {"Name": "new", "Other": "x"})


def test_current_tags_are_read_when_not_given(stubbed):
    ga, stub = stubbed("globalaccelerator")
    stub.add_response("list_tags_for_resource", {"Tags": [{"Key": "Name", "Value": "ga"}]}, {"ResourceArn": GA_ARN})
    tagging = Tagging.key_value_list(
        ga.tag_resource,
        ga.untag_resource,
        read=lambda: aws.tags_to_dict(ga.list_tags_for_resource(ResourceArn=GA_ARN, aws_retry=True)["Tags"]),
        ResourceArn=GA_ARN,
    )
    assert tagging.sync({"Name": "ga"}, True, False) == (False, {"Name": "ga"})


def test_tags_to_dict_reads_every_shape_aws_answers_with():
    assert aws.tags_to_dict([{"Key": "a", "Value": "1"}]) == {"a": "1"}
    assert aws.tags_to_dict([{"key": "a", "value": "1"}]) == {"a": "1"}
    assert aws.tags_to_dict([{"TagKey": "a", "TagValue": "1"}]) == {"a": "1"}
    assert aws.tags_to_dict({"a": "1"}) == {"a": "1"}
    assert aws.tags_to_dict(None) == {}
    assert aws.tags_to_dict([]) == {}


def test_tag_changes_of_unrequested_tags_is_nothing():
    assert aws.tag_changes({"a": "1"}, None, True) == ({}, [])


def test_tag_values_are_compared_as_text():
    # A YAML integer asked for equals the string AWS returns.
    assert aws.tag_changes({"port": "8065"}, {"port": 8065}, True) == ({}, [])


# --- retries, pagination, waiters -------------------------------------------------------------


def test_client_asks_the_module_for_a_retrying_client():
    module = mock.Mock()
    aws.client(module, "globalaccelerator", region="us-west-2")
    args, kwargs = module.client.call_args
    assert args == ("globalaccelerator",)
    assert kwargs["region"] == "us-west-2"
    assert callable(kwargs["retry_decorator"])


def test_paginate_merges_every_page(stubbed):
    ec2, stub = stubbed("ec2")
    params = {"LocationType": "availability-zone"}
    stub.add_response(
        "describe_instance_type_offerings",
        {"InstanceTypeOfferings": [{"Location": "us-west-2a"}], "NextToken": "t"},
        params,
    )
    stub.add_response(
        "describe_instance_type_offerings",
        {"InstanceTypeOfferings": [{"Location": "us-west-2b"}]},
        dict(params, NextToken="t"),
    )
    pages = aws.paginate(ec2, "describe_instance_type_offerings", **params)
    assert [o["Location"] for o in pages["InstanceTypeOfferings"]] == ["us-west-2a", "us-west-2b"]


def test_paginate_retries_when_aws_throttles(stubbed):
    ec2, stub = stubbed("ec2")
    stub.add_client_error("describe_flow_logs", service_error_code="RequestLimitExceeded")
    stub.add_response("describe_flow_logs", {"FlowLogs": [{"FlowLogId": EC2_ID}]})
    assert aws.paginate(ec2, "describe_flow_logs")["FlowLogs"] == [{"FlowLogId": EC2_ID}]


def test_paginate_does_not_retry_other_errors(stubbed):
    ec2, stub = stubbed("ec2")
    stub.add_client_error("describe_flow_logs", service_error_code="UnauthorizedOperation")
    with pytest.raises(botocore.exceptions.ClientError):
        aws.paginate(ec2, "describe_flow_logs")


def test_wait_gives_the_waiter_timeout_over_delay_attempts():
    module, client = FakeModule(), mock.Mock()
    aws.wait(module, client, "instance_stopped", 600, 10, "failed", InstanceIds=["i-1"])
    client.get_waiter.assert_called_once_with("instance_stopped")
    client.get_waiter.return_value.wait.assert_called_once_with(
        WaiterConfig={"Delay": 10, "MaxAttempts": 60}, InstanceIds=["i-1"]
    )


def test_wait_fails_the_module_with_its_message_when_the_waiter_gives_up(stubbed):
    ec2, stub = stubbed("ec2")
    pending = {"Reservations": [{"Instances": [{"InstanceId": "i-1", "State": {"Code": 0, "Name": "pending"}}]}]}
    stub.add_response("describe_instances", pending, {"InstanceIds": ["i-1"]})
    module = FakeModule()
    with pytest.raises(SystemExit):
        aws.wait(module, ec2, "instance_running", 5, 10, "Timed out", InstanceIds=["i-1"])
    error, msg = module.failed
    assert isinstance(error, botocore.exceptions.WaiterError)
    assert msg == "Timed out"


# --- the module shape -------------------------------------------------------------------------


def test_run_exits_with_what_ensure_absent_returns_when_state_is_absent():
    module = FakeModule(state="absent")
    present = mock.Mock()
    with pytest.raises(SystemExit):
        aws.run(module, present, lambda: {"changed": True, "gone": 1})
    present.assert_not_called()
    assert module.exited == {"changed": True, "gone": 1}


def test_run_calls_ensure_present_for_modules_without_a_state():
    module = FakeModule(attributes={})
    with pytest.raises(SystemExit):
        aws.run(module, lambda: {"changed": False})
    assert module.exited == {"changed": False}


def test_run_turns_an_aws_error_into_fail_json_aws_with_the_module_message():
    module = FakeModule(state="present")
    error = botocore.exceptions.ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "Describe")

    def present():
        raise error

    with pytest.raises(SystemExit):
        aws.run(module, present, failure="Describing failed")
    assert module.failed == (error, "Describing failed")
    assert module.exited is None


def test_resource_class_gets_a_retrying_client_of_its_service_in_its_fixed_region():
    class Accelerator(aws.AWSResource):
        service = "globalaccelerator"
        region = "us-west-2"

    module = mock.Mock(params={"name": "ga"}, check_mode=True)
    resource = Accelerator(module)
    args, kwargs = module.client.call_args
    assert args == ("globalaccelerator",) and kwargs["region"] == "us-west-2"
    assert resource.client is module.client.return_value
    assert (resource.params, resource.check_mode) == ({"name": "ga"}, True)


def test_resource_class_without_a_service_makes_no_client():
    module = mock.Mock(params={})
    aws.AWSResource(module)
    module.client.assert_not_called()
