"""elbv2_attributes compares what the API returns (strings) with what users write (YAML types)."""

from stubbed_aws_module import run_module, stubbed_client

TG = "arn:aws:elasticloadbalancing:us-west-1:123456789012:targetgroup/Mattermost-Targets/73e2d6bc24d8a067"
STICKY = {
    "stickiness.enabled": True,
    "stickiness.type": "app_cookie",
    "stickiness.app_cookie.cookie_name": "MMCSRF",
    "stickiness.app_cookie.duration_seconds": 43200,
}


def test_app_cookie_stickiness_already_set_is_no_change():
    client, stub = stubbed_client("elbv2")
    stub.add_response("describe_target_group_attributes", {"Attributes": [
        {"Key": "stickiness.enabled", "Value": "true"}, {"Key": "stickiness.type", "Value": "app_cookie"},
        {"Key": "stickiness.app_cookie.cookie_name", "Value": "MMCSRF"},
        {"Key": "stickiness.app_cookie.duration_seconds", "Value": "43200"}]}, {"TargetGroupArn": TG})
    with stub:
        result, failed, _ = run_module("elbv2_attributes", {"target_group_arn": TG, "attributes": STICKY}, client)
    assert not failed, result
    stub.assert_no_pending_responses()
    assert result["changed"] is False


def test_sets_only_what_differs():
    client, stub = stubbed_client("elbv2")
    stub.add_response("describe_target_group_attributes", {"Attributes": [
        {"Key": "stickiness.enabled", "Value": "false"}, {"Key": "stickiness.type", "Value": "lb_cookie"},
        {"Key": "deregistration_delay.timeout_seconds", "Value": "300"}]}, {"TargetGroupArn": TG})
    stub.add_response("modify_target_group_attributes", {"Attributes": []}, {"TargetGroupArn": TG, "Attributes": [
        {"Key": "stickiness.app_cookie.cookie_name", "Value": "MMCSRF"},
        {"Key": "stickiness.app_cookie.duration_seconds", "Value": "43200"},
        {"Key": "stickiness.enabled", "Value": "true"},
        {"Key": "stickiness.type", "Value": "app_cookie"}]})
    with stub:
        result, failed, _ = run_module("elbv2_attributes", {"target_group_arn": TG, "attributes": STICKY}, client)
    assert not failed, result
    stub.assert_no_pending_responses()
    assert result["changed"] is True
    assert result["attributes"]["deregistration_delay.timeout_seconds"] == "300"
    assert result["diff"]["before"]["stickiness.type"] == "lb_cookie"
