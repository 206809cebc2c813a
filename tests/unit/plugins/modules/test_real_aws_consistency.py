"""Real AWS answers the emulator never gives, reproduced with botocore's Stubber.

Each test makes AWS answer the documented "not yet" error a few times, then succeed, and
asserts the module waits and succeeds; and that it gives up, naming the error and its bound,
when AWS keeps answering it. docs/real-aws-behaviours.md lists them.
"""

from botocore.stub import ANY
from stubbed_aws_module import run_module, stubbed_client

CERT_ARN = "arn:aws:acm:us-west-1:123456789012:certificate/2e5b5a1c-0000-4000-8000-000000000000"
ALB_ARN = "arn:aws:elasticloadbalancing:us-west-1:123456789012:loadbalancer/app/Mattermost-ALB/50dc6c495c0c9188"
ROLE_ARN = "arn:aws:iam::123456789012:role/Mattermost-VPC-FlowLogs"
TAGS = {"mattermost-ha:deployment": "Mattermost"}
RECORD = {"Name": "_abc.chat.example.com.", "Type": "CNAME", "Value": "_def.acm-validations.aws."}


def _certificate():
    option = {"DomainName": "chat.example.com", "ValidationMethod": "DNS", "ValidationStatus": "PENDING_VALIDATION",
              "ResourceRecord": RECORD}
    return {"Certificate": {"CertificateArn": CERT_ARN, "DomainName": "chat.example.com",
                            "Status": "PENDING_VALIDATION", "Type": "AMAZON_ISSUED",
                            "SubjectAlternativeNames": ["chat.example.com"], "DomainValidationOptions": [option]}}


def _request(stub):
    stub.add_response("list_certificates", {"CertificateSummaryList": []},
                      {"CertificateStatuses": ["PENDING_VALIDATION", "ISSUED"], "Includes": {"keyTypes": ["RSA_2048"]}})
    stub.add_response("request_certificate", {"CertificateArn": CERT_ARN}, {
        "DomainName": "chat.example.com", "ValidationMethod": "DNS", "KeyAlgorithm": "RSA_2048",
        "IdempotencyToken": ANY, "Tags": [{"Key": "mattermost-ha:deployment", "Value": "Mattermost"}]})


def _not_found(stub, times):
    # ACM: "it might take several seconds before a new certificate can be described".
    for _ in range(times):
        stub.add_client_error("describe_certificate", "ResourceNotFoundException",
                              f"Could not find certificate {CERT_ARN}.", expected_params={"CertificateArn": CERT_ARN})


def test_certificate_read_right_after_the_request_waits_for_acm():
    client, stub = stubbed_client("acm")
    _request(stub)
    _not_found(stub, 3)
    stub.add_response("describe_certificate", _certificate(), {"CertificateArn": CERT_ARN})
    with stub:
        result, failed, _ = run_module("acm_certificate_request", {"domain_name": "chat.example.com", "tags": TAGS},
                                       client)
    assert not failed, result
    stub.assert_no_pending_responses()
    assert (result["changed"], result["certificate_arn"]) == (True, CERT_ARN)
    assert result["validation_records"][0]["name"] == RECORD["Name"]


def test_certificate_never_readable_gives_up_after_the_bound():
    client, stub = stubbed_client("acm")
    _request(stub)
    _not_found(stub, 50)
    with stub:
        result, failed, _ = run_module("acm_certificate_request", {"domain_name": "chat.example.com", "tags": TAGS,
                                                                   "consistency_timeout": 20}, client)
    assert failed
    assert "ResourceNotFoundException" in result["msg"]
    assert "20 s" in result["msg"]
    assert CERT_ARN in result["msg"]


def _found(stub):
    stub.add_response("list_certificates",
                      {"CertificateSummaryList": [{"CertificateArn": CERT_ARN, "DomainName": "chat.example.com"}]},
                      {"CertificateStatuses": ["PENDING_VALIDATION", "ISSUED"], "Includes": {"keyTypes": ["RSA_2048"]}})
    stub.add_response("describe_certificate", _certificate(), {"CertificateArn": CERT_ARN})
    tags = {"Tags": [{"Key": "mattermost-ha:deployment", "Value": "Mattermost"}]}
    stub.add_response("list_tags_for_certificate", tags, {"CertificateArn": CERT_ARN})


def _in_use(stub, times):
    # ACM keeps the certificate "in use" for a while after its load balancer is deleted.
    for _ in range(times):
        stub.add_client_error("delete_certificate", "ResourceInUseException",
                              f"Certificate {CERT_ARN} in account 123456789012 is in use.",
                              expected_params={"CertificateArn": CERT_ARN})


def test_certificate_still_in_use_after_the_load_balancer_is_deleted_is_retried():
    client, stub = stubbed_client("acm")
    _found(stub)
    _in_use(stub, 3)
    stub.add_response("delete_certificate", {}, {"CertificateArn": CERT_ARN})
    with stub:
        result, failed, _ = run_module("acm_certificate_request", {"domain_name": "chat.example.com", "tags": TAGS,
                                                                   "state": "absent"}, client)
    assert not failed, result
    stub.assert_no_pending_responses()
    assert result["changed"] is True
    assert result["deleted_arns"] == [CERT_ARN]


def test_certificate_in_use_for_good_gives_up_naming_the_certificate():
    client, stub = stubbed_client("acm")
    _found(stub)
    _in_use(stub, 50)
    with stub:
        result, failed, _ = run_module("acm_certificate_request", {"domain_name": "chat.example.com", "tags": TAGS,
                                                                   "state": "absent", "consistency_timeout": 30},
                                       client)
    assert failed
    assert "ResourceInUseException" in result["msg"]
    assert "30 s" in result["msg"]
    assert CERT_ARN in result["msg"]


FLOW_ARGS = {"resource_id": "vpc-0123456789abcdef0", "log_group_name": "/mattermost-ha/Mattermost/vpc-flow-logs",
             "deliver_logs_permission_arn": ROLE_ARN, "tags": {"Name": "Mattermost-VPC-FlowLog"}}
FLOW_FILTERS = {"Filters": [{"Name": "resource-id", "Values": [FLOW_ARGS["resource_id"]]},
                            {"Name": "log-group-name", "Values": [FLOW_ARGS["log_group_name"]]}]}
UNASSUMABLE = {"Unsuccessful": [{"ResourceId": FLOW_ARGS["resource_id"],
                                 "Error": {"Code": "400", "Message": "Unable to assume given IAM role."}}],
               "FlowLogIds": []}


def _flow_log_create(stub, unsuccessful, client_errors=0):
    stub.add_response("describe_flow_logs", {"FlowLogs": []}, FLOW_FILTERS)
    for _ in range(client_errors):
        stub.add_client_error("create_flow_logs", "InvalidParameter", "Unable to assume given IAM role.",
                              expected_params=None)
    for _ in range(unsuccessful):
        stub.add_response("create_flow_logs", UNASSUMABLE)


def test_flow_log_with_a_role_iam_has_not_propagated_yet_is_retried():
    client, stub = stubbed_client("ec2")
    # A role made seconds before: the flow-log service cannot assume it yet, either way AWS says so.
    _flow_log_create(stub, unsuccessful=2, client_errors=1)
    stub.add_response("create_flow_logs", {"FlowLogIds": ["fl-0123456789abcdef0"], "Unsuccessful": []})
    flow_log = {"FlowLogId": "fl-0123456789abcdef0", "ResourceId": FLOW_ARGS["resource_id"], "TrafficType": "ALL",
                "LogGroupName": FLOW_ARGS["log_group_name"], "DeliverLogsPermissionArn": ROLE_ARN,
                "MaxAggregationInterval": 600, "LogDestinationType": "cloud-watch-logs",
                "Tags": [{"Key": "Name", "Value": "Mattermost-VPC-FlowLog"}]}
    stub.add_response("describe_flow_logs", {"FlowLogs": [flow_log]}, FLOW_FILTERS)
    with stub:
        result, failed, _ = run_module("ec2_vpc_flow_log", FLOW_ARGS, client)
    assert not failed, result
    stub.assert_no_pending_responses()
    assert result["changed"] is True
    assert result["flow_log"]["flow_log_id"] == "fl-0123456789abcdef0"


def test_flow_log_role_never_assumable_gives_up_after_the_bound():
    client, stub = stubbed_client("ec2")
    _flow_log_create(stub, unsuccessful=50)
    with stub:
        result, failed, _ = run_module("ec2_vpc_flow_log", dict(FLOW_ARGS, consistency_timeout=15), client)
    assert failed
    assert "Unable to assume given IAM role" in result["msg"]
    assert "15 s" in result["msg"]
    assert ROLE_ARN in result["msg"]


def test_flow_log_other_errors_are_not_retried():
    client, stub = stubbed_client("ec2")
    stub.add_response("describe_flow_logs", {"FlowLogs": []}, FLOW_FILTERS)
    denied = {"Unsuccessful": [{"ResourceId": FLOW_ARGS["resource_id"],
                                "Error": {"Code": "400", "Message": "LogDestination: bad-group does not exist"}}],
              "FlowLogIds": []}
    stub.add_response("create_flow_logs", denied)
    with stub:
        result, failed, _ = run_module("ec2_vpc_flow_log", FLOW_ARGS, client)
    assert failed
    stub.assert_no_pending_responses()
    assert "bad-group does not exist" in result["msg"]
