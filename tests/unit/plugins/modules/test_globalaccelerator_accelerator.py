"""globalaccelerator_accelerator against a Stubber (moto answers Global Accelerator with 500)."""

from unittest.mock import patch

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from botocore.stub import ANY
from stubbed_aws_module import run_module, stubbed_client

ACC = "arn:aws:globalaccelerator::123456789012:accelerator/1234abcd-abcd-1234-abcd-1234abcdefgh"
LIS = ACC + "/listener/0123abcd"
GRP = LIS + "/endpoint-group/abcd0123"
ALB = "arn:aws:elasticloadbalancing:us-west-1:123456789012:loadbalancer/app/Mattermost-ALB/50dc6c495c0c9188"
ARGS = {
    "name": "Mattermost-ALB-GA",
    "listener_ports": [443, 80],
    "endpoint_group_region": "us-west-1",
    "endpoints": [{"endpoint_id": ALB}],
    "tags": {"mattermost-ha:deployment": "Mattermost"},
}


def _accelerator(status="DEPLOYED", enabled=True):
    return {
        "AcceleratorArn": ACC, "Name": "Mattermost-ALB-GA", "IpAddressType": "IPV4", "Enabled": enabled,
        "IpSets": [{"IpFamily": "IPv4", "IpAddresses": ["75.2.0.1", "99.83.0.1"]}],
        "DnsName": "a1234.awsglobalaccelerator.com", "Status": status,
    }


LISTENER = {"ListenerArn": LIS, "PortRanges": [{"FromPort": 80, "ToPort": 80}, {"FromPort": 443, "ToPort": 443}],
            "Protocol": "TCP", "ClientAffinity": "NONE"}
ENDPOINTS = [{"EndpointId": ALB, "Weight": 128, "ClientIPPreservationEnabled": True}]


def test_creates_accelerator_listener_and_endpoint_group_in_us_west_2():
    client, stub = stubbed_client("globalaccelerator", region="us-west-2")
    stub.add_response("list_accelerators", {"Accelerators": []}, {})
    stub.add_response("create_accelerator", {"Accelerator": _accelerator("IN_PROGRESS")}, {
        "Name": "Mattermost-ALB-GA", "IpAddressType": "IPV4", "Enabled": True, "IdempotencyToken": ANY,
        "Tags": [{"Key": "mattermost-ha:deployment", "Value": "Mattermost"}]})
    stub.add_response("list_listeners", {"Listeners": []}, {"AcceleratorArn": ACC})
    stub.add_response("create_listener", {"Listener": LISTENER}, {
        "AcceleratorArn": ACC, "PortRanges": LISTENER["PortRanges"], "Protocol": "TCP", "ClientAffinity": "NONE",
        "IdempotencyToken": ANY})
    stub.add_response("list_endpoint_groups", {"EndpointGroups": []}, {"ListenerArn": LIS})
    stub.add_response("create_endpoint_group", {"EndpointGroup": {"EndpointGroupArn": GRP}}, {
        "ListenerArn": LIS, "EndpointGroupRegion": "us-west-1", "EndpointConfigurations": ENDPOINTS,
        "IdempotencyToken": ANY})
    stub.add_response("describe_accelerator", {"Accelerator": _accelerator("IN_PROGRESS")}, {"AcceleratorArn": ACC})
    stub.add_response("describe_accelerator", {"Accelerator": _accelerator()}, {"AcceleratorArn": ACC})
    with stub:
        result, failed, regions = run_module("globalaccelerator_accelerator", ARGS, client)
    assert not failed, result
    stub.assert_no_pending_responses()
    assert regions == ["us-west-2"]
    assert result["changed"] is True
    assert result["dns_name"] == "a1234.awsglobalaccelerator.com"
    assert result["ip_addresses"] == ["75.2.0.1", "99.83.0.1"]
    assert (result["listener_arn"], result["endpoint_group_arn"]) == (LIS, GRP)


def _existing(stub):
    stub.add_response("list_accelerators", {"Accelerators": [_accelerator()]}, {})
    stub.add_response("list_tags_for_resource", {"Tags": [{"Key": "mattermost-ha:deployment", "Value": "Mattermost"}]},
                      {"ResourceArn": ACC})
    stub.add_response("list_listeners", {"Listeners": [LISTENER]}, {"AcceleratorArn": ACC})


def test_second_run_changes_nothing():
    client, stub = stubbed_client("globalaccelerator", region="us-west-2")
    _existing(stub)
    stub.add_response("list_endpoint_groups", {"EndpointGroups": [{
        "EndpointGroupArn": GRP, "EndpointGroupRegion": "us-west-1",
        "EndpointDescriptions": [{"EndpointId": ALB, "Weight": 128, "ClientIPPreservationEnabled": True,
                                  "HealthState": "HEALTHY"}]}]}, {"ListenerArn": LIS})
    with stub:
        result, failed, _ = run_module("globalaccelerator_accelerator", ARGS, client)
    assert not failed, result
    stub.assert_no_pending_responses()
    assert result["changed"] is False


def test_new_endpoint_updates_the_group():
    client, stub = stubbed_client("globalaccelerator", region="us-west-2")
    _existing(stub)
    stub.add_response("list_endpoint_groups", {"EndpointGroups": [{
        "EndpointGroupArn": GRP, "EndpointGroupRegion": "us-west-1", "EndpointDescriptions": []}]},
        {"ListenerArn": LIS})
    stub.add_response("update_endpoint_group", {"EndpointGroup": {"EndpointGroupArn": GRP}},
                      {"EndpointGroupArn": GRP, "EndpointConfigurations": ENDPOINTS})
    stub.add_response("describe_accelerator", {"Accelerator": _accelerator()}, {"AcceleratorArn": ACC})
    with stub:
        result, failed, _ = run_module("globalaccelerator_accelerator", ARGS, client)
    assert not failed, result
    stub.assert_no_pending_responses()
    assert result["changed"] is True


def test_absent_disables_then_deletes():
    client, stub = stubbed_client("globalaccelerator", region="us-west-2")
    stub.add_response("list_accelerators", {"Accelerators": [_accelerator()]}, {})
    stub.add_response("update_accelerator", {"Accelerator": _accelerator("IN_PROGRESS", enabled=False)},
                      {"AcceleratorArn": ACC, "Enabled": False})
    stub.add_response("list_listeners", {"Listeners": [LISTENER]}, {"AcceleratorArn": ACC})
    stub.add_response("list_endpoint_groups", {"EndpointGroups": [{"EndpointGroupArn": GRP}]}, {"ListenerArn": LIS})
    stub.add_response("delete_endpoint_group", {}, {"EndpointGroupArn": GRP})
    stub.add_response("delete_listener", {}, {"ListenerArn": LIS})
    stub.add_response("describe_accelerator", {"Accelerator": _accelerator(enabled=False)}, {"AcceleratorArn": ACC})
    stub.add_response("delete_accelerator", {}, {"AcceleratorArn": ACC})
    with stub:
        result, failed, _ = run_module("globalaccelerator_accelerator",
                                       {"name": "Mattermost-ALB-GA", "state": "absent"}, client)
    assert not failed, result
    stub.assert_no_pending_responses()
    assert result["changed"] is True


def test_absent_deletes_only_an_accelerator_tagged_with_the_deployment():
    owned = {"name": "Mattermost-ALB-GA", "state": "absent", "tags": {"mattermost-ha:deployment": "Mattermost"}}
    # Same name, another deployment's tag (case differs): left in place, with a warning.
    client, stub = stubbed_client("globalaccelerator", region="us-west-2")
    stub.add_response("list_accelerators", {"Accelerators": [_accelerator()]}, {})
    stub.add_response("list_tags_for_resource", {"Tags": [{"Key": "mattermost-ha:deployment", "Value": "mattermost"}]},
                      {"ResourceArn": ACC})
    with stub, patch.object(AnsibleAWSModule, "warn") as warn:
        result, failed, _ = run_module("globalaccelerator_accelerator", owned, client)
    assert not failed, result
    stub.assert_no_pending_responses()
    assert result["changed"] is False
    assert "Mattermost-ALB-GA" in warn.call_args.args[0] and "left in place" in warn.call_args.args[0]

    # Tagged with this deployment: disabled, then deleted.
    client, stub = stubbed_client("globalaccelerator", region="us-west-2")
    stub.add_response("list_accelerators", {"Accelerators": [_accelerator()]}, {})
    stub.add_response("list_tags_for_resource", {"Tags": [{"Key": "mattermost-ha:deployment", "Value": "Mattermost"}]},
                      {"ResourceArn": ACC})
    stub.add_response("update_accelerator", {"Accelerator": _accelerator("IN_PROGRESS", enabled=False)},
                      {"AcceleratorArn": ACC, "Enabled": False})
    stub.add_response("list_listeners", {"Listeners": []}, {"AcceleratorArn": ACC})
    stub.add_response("describe_accelerator", {"Accelerator": _accelerator(enabled=False)}, {"AcceleratorArn": ACC})
    stub.add_response("delete_accelerator", {}, {"AcceleratorArn": ACC})
    with stub:
        result, failed, _ = run_module("globalaccelerator_accelerator", owned, client)
    assert not failed, result
    stub.assert_no_pending_responses()
    assert result["changed"] is True


def test_check_mode_on_nothing_creates_nothing():
    client, stub = stubbed_client("globalaccelerator", region="us-west-2")
    stub.add_response("list_accelerators", {"Accelerators": []}, {})
    with stub:
        result, failed, _ = run_module("globalaccelerator_accelerator", ARGS, client, check_mode=True)
    stub.assert_no_pending_responses()
    assert (failed, result["changed"], result["accelerator_arn"]) == (False, True, "")
