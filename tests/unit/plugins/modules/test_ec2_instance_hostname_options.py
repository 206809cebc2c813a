"""ec2_instance_hostname_options against a Stubber (moto lacks ModifyPrivateDnsNameOptions)."""

from stubbed_aws_module import run_module, stubbed_client

IDS = ["i-0123456789abcdef0", "i-0123456789abcdef1"]


def _describe(stub, options):
    stub.add_response(
        "describe_instances",
        {"Reservations": [{"Instances": [{"InstanceId": i, "PrivateDnsNameOptions": o}
                                         for i, o in zip(IDS, options, strict=True)]}]},
        {"InstanceIds": IDS},
    )


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
    stub.add_response("describe_instances", {"Reservations": [{"Instances": [{"InstanceId": IDS[0]}]}]},
                      {"InstanceIds": IDS[:1]})
    with stub:
        result, _, _ = run_module("ec2_instance_hostname_options",
                                  {"instance_ids": IDS[:1], "hostname_type": "ip-name",
                                   "enable_resource_name_dns_a_record": False}, client)
    assert result["changed"] is False
