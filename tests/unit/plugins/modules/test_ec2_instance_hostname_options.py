"""ec2_instance_hostname_options against a Stubber (moto lacks ModifyPrivateDnsNameOptions)."""

from stubbed_aws_module import run_module, stubbed_client

IDS = ["i-0123456789abcdef0", "i-0123456789abcdef1"]


def _describe(stub, options, state="stopped"):
    stub.add_response(
        "describe_instances",
        {"Reservations": [{"Instances": [{"InstanceId": i, "PrivateDnsNameOptions": o, "State": {"Name": state}}
                                         for i, o in zip(IDS, options, strict=True)]}]},
        {"InstanceIds": IDS},
    )


def _instances_in(stub, state):
    stub.add_response("describe_instances", {"Reservations": [{"Instances": [
        {"InstanceId": IDS[0], "State": {"Name": state}}]}]}, {"InstanceIds": IDS[:1]})


IP_NAME = {"HostnameType": "ip-name", "EnableResourceNameDnsARecord": False, "EnableResourceNameDnsAAAARecord": False}
RESOURCE_NAME = {"HostnameType": "resource-name", "EnableResourceNameDnsARecord": True,
                 "EnableResourceNameDnsAAAARecord": False}


def test_sets_resource_name_on_instances_that_differ():
    client, stub = stubbed_client("ec2")
    _describe(stub, [IP_NAME, RESOURCE_NAME])
    stub.add_response(
        "modify_private_dns_name_options",
        {"Return": True},
        {"InstanceId": IDS[0], "PrivateDnsHostnameType": "resource-name", "EnableResourceNameDnsARecord": True,
         "EnableResourceNameDnsAAAARecord": False},
    )
    with stub:
        result, failed, _ = run_module("ec2_instance_hostname_options", {"instance_ids": IDS}, client)
    assert not failed, result
    stub.assert_no_pending_responses()
    assert result["changed"] is True
    assert result["changed_instance_ids"] == [IDS[0]]
    assert result["diff"]["before"][IDS[0]]["HostnameType"] == "ip-name"


def test_second_run_changes_nothing():
    client, stub = stubbed_client("ec2")
    _describe(stub, [RESOURCE_NAME, RESOURCE_NAME])
    with stub:
        result, failed, _ = run_module("ec2_instance_hostname_options", {"instance_ids": IDS}, client)
    stub.assert_no_pending_responses()
    assert (failed, result["changed"], result["changed_instance_ids"]) == (False, False, [])


def test_check_mode_reports_without_modifying():
    client, stub = stubbed_client("ec2")
    _describe(stub, [IP_NAME, IP_NAME])
    with stub:
        result, failed, _ = run_module("ec2_instance_hostname_options", {"instance_ids": IDS}, client, check_mode=True)
    stub.assert_no_pending_responses()
    assert result["changed"] is True
    assert result["changed_instance_ids"] == IDS


def test_missing_options_mean_the_aws_default_ip_name():
    client, stub = stubbed_client("ec2")
    stub.add_response("describe_instances",
                      {"Reservations": [{"Instances": [{"InstanceId": IDS[0], "State": {"Name": "running"}}]}]},
                      {"InstanceIds": IDS[:1]})
    with stub:
        result, _, _ = run_module("ec2_instance_hostname_options",
                                  {"instance_ids": IDS[:1], "hostname_type": "ip-name",
                                   "enable_resource_name_dns_a_record": False}, client)
    assert result["changed"] is False


def test_running_instance_is_stopped_changed_and_started():
    client, stub = stubbed_client("ec2")
    _describe(stub, [IP_NAME, RESOURCE_NAME], state="running")
    _instances_in(stub, "running")  # waiter: running before the stop
    stub.add_response("stop_instances", {"StoppingInstances": []}, {"InstanceIds": IDS[:1]})
    _instances_in(stub, "stopped")
    stub.add_response(
        "modify_private_dns_name_options",
        {"Return": True},
        {"InstanceId": IDS[0], "PrivateDnsHostnameType": "resource-name", "EnableResourceNameDnsARecord": True,
         "EnableResourceNameDnsAAAARecord": False},
    )
    stub.add_response("start_instances", {"StartingInstances": []}, {"InstanceIds": IDS[:1]})
    _instances_in(stub, "running")
    with stub:
        result, failed, _ = run_module("ec2_instance_hostname_options",
                                       {"instance_ids": IDS, "stop_instances": True}, client)
    assert not failed, result
    stub.assert_no_pending_responses()
    assert result["restarted_instance_ids"] == [IDS[0]]


def test_running_instance_without_stop_permission_fails_before_any_change():
    client, stub = stubbed_client("ec2")
    _describe(stub, [IP_NAME, RESOURCE_NAME], state="running")
    with stub:
        result, failed, _ = run_module("ec2_instance_hostname_options", {"instance_ids": IDS}, client)
    stub.assert_no_pending_responses()
    assert failed
    assert "stop_instances" in result["msg"]
