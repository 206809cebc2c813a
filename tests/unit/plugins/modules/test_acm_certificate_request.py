"""acm_certificate_request: reuse by domain and tags, validation records, waiting, failure."""

from botocore.stub import ANY
from stubbed_aws_module import run_module, stubbed_client

ARN = "arn:aws:acm:us-west-1:123456789012:certificate/2e5b5a1c-0000-4000-8000-000000000000"
TAGS = {"mattermost-ha:deployment": "Mattermost"}
RECORD = {"Name": "_abc.chat.example.com.", "Type": "CNAME", "Value": "_def.acm-validations.aws."}


def _certificate(status, record=True):
    option = {"DomainName": "chat.example.com", "ValidationMethod": "DNS",
              "ValidationStatus": "SUCCESS" if status == "ISSUED" else "PENDING_VALIDATION"}
    if record:
        option["ResourceRecord"] = RECORD
    return {"Certificate": {"CertificateArn": ARN, "DomainName": "chat.example.com", "Status": status,
                            "Type": "AMAZON_ISSUED", "SubjectAlternativeNames": ["chat.example.com"],
                            "DomainValidationOptions": [option]}}


def _list(stub, summaries):
    stub.add_response("list_certificates", {"CertificateSummaryList": summaries},
                      {"CertificateStatuses": ["PENDING_VALIDATION", "ISSUED"], "Includes": {"keyTypes": ["RSA_2048"]}})


def test_requests_when_none_matches_and_returns_the_records():
    client, stub = stubbed_client("acm")
    _list(stub, [])
    stub.add_response("request_certificate", {"CertificateArn": ARN}, {
        "DomainName": "chat.example.com", "ValidationMethod": "DNS", "KeyAlgorithm": "RSA_2048",
        "IdempotencyToken": ANY, "Tags": [{"Key": "mattermost-ha:deployment", "Value": "Mattermost"}]})
    # ACM publishes the record a few seconds after the request.
    stub.add_response("describe_certificate", _certificate("PENDING_VALIDATION", record=False), {"CertificateArn": ARN})
    stub.add_response("describe_certificate", _certificate("PENDING_VALIDATION"), {"CertificateArn": ARN})
    with stub:
        result, failed, _ = run_module("acm_certificate_request", {"domain_name": "chat.example.com", "tags": TAGS},
                                       client)
    assert not failed, result
    stub.assert_no_pending_responses()
    assert result["changed"] is True
    assert result["validation_records"] == [{"domain_name": "chat.example.com", "name": RECORD["Name"],
                                             "type": "CNAME", "value": RECORD["Value"],
                                             "validation_status": "PENDING_VALIDATION"}]


def _found(stub, status):
    _list(stub, [{"CertificateArn": ARN, "DomainName": "chat.example.com"}])
    stub.add_response("describe_certificate", _certificate(status), {"CertificateArn": ARN})
    tags = {"Tags": [{"Key": "mattermost-ha:deployment", "Value": "Mattermost"}]}
    stub.add_response("list_tags_for_certificate", tags, {"CertificateArn": ARN})


def test_reuses_the_tagged_certificate_and_waits_for_issued():
    client, stub = stubbed_client("acm")
    _found(stub, "PENDING_VALIDATION")
    stub.add_response("describe_certificate", _certificate("PENDING_VALIDATION"), {"CertificateArn": ARN})
    stub.add_response("describe_certificate", _certificate("ISSUED"), {"CertificateArn": ARN})
    with stub:
        result, failed, _ = run_module("acm_certificate_request",
                                       {"domain_name": "chat.example.com", "tags": TAGS, "wait": True}, client)
    assert not failed, result
    stub.assert_no_pending_responses()
    assert (result["changed"], result["status"], result["certificate_arn"]) == (False, "ISSUED", ARN)


def test_failed_validation_fails_with_the_records():
    client, stub = stubbed_client("acm")
    _found(stub, "PENDING_VALIDATION")
    failed_cert = _certificate("FAILED")
    failed_cert["Certificate"]["FailureReason"] = "CAA_ERROR"
    stub.add_response("describe_certificate", failed_cert, {"CertificateArn": ARN})
    with stub:
        result, failed, _ = run_module("acm_certificate_request",
                                       {"domain_name": "chat.example.com", "tags": TAGS, "wait": True}, client)
    assert failed
    assert "CAA_ERROR" in result["msg"]
    assert result["validation_records"][0]["name"] == RECORD["Name"]


def test_absent_deletes_the_matching_certificate():
    client, stub = stubbed_client("acm")
    _found(stub, "ISSUED")
    stub.add_response("delete_certificate", {}, {"CertificateArn": ARN})
    with stub:
        result, failed, _ = run_module("acm_certificate_request",
                                       {"domain_name": "chat.example.com", "tags": TAGS, "state": "absent"}, client)
    assert not failed, result
    stub.assert_no_pending_responses()
    assert (result["changed"], result["deleted_arns"]) == (True, [ARN])
