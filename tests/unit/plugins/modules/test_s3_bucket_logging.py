"""s3_bucket_logging sets logging with PutBucketLogging only: no ACL call on the target bucket."""

from stubbed_aws_module import run_module, stubbed_client

SOURCE = "mattermost-files"
TARGET = "mattermost-logs"
PREFIX = "S3AccessLogs/mattermost-files/"
PARAMS = {"name": SOURCE, "target_bucket": TARGET, "target_prefix": PREFIX}
ENABLED = {"LoggingEnabled": {"TargetBucket": TARGET, "TargetPrefix": PREFIX}}


def test_turns_logging_on_without_touching_the_target_acl():
    client, stub = stubbed_client("s3")
    stub.add_response("get_bucket_logging", {}, {"Bucket": SOURCE})
    stub.add_response("put_bucket_logging", {}, {"Bucket": SOURCE, "BucketLoggingStatus": ENABLED})
    with stub:
        result, failed, _ = run_module("s3_bucket_logging", PARAMS, client)
    assert not failed, result
    stub.assert_no_pending_responses()
    assert result["changed"] is True
    assert result["diff"] == {"before": {}, "after": {"target_bucket": TARGET, "target_prefix": PREFIX}}


def test_logging_already_set_is_no_change():
    client, stub = stubbed_client("s3")
    stub.add_response("get_bucket_logging", ENABLED, {"Bucket": SOURCE})
    with stub:
        result, failed, _ = run_module("s3_bucket_logging", PARAMS, client)
    assert not failed, result
    stub.assert_no_pending_responses()
    assert result["changed"] is False


def test_check_mode_reports_the_change_and_makes_none():
    client, stub = stubbed_client("s3")
    stub.add_response("get_bucket_logging", {"LoggingEnabled": {"TargetBucket": TARGET, "TargetPrefix": "old/"}},
                      {"Bucket": SOURCE})
    with stub:
        result, failed, _ = run_module("s3_bucket_logging", PARAMS, client, check_mode=True)
    assert not failed, result
    stub.assert_no_pending_responses()
    assert result["changed"] is True
    assert result["diff"]["before"]["target_prefix"] == "old/"


def test_absent_turns_logging_off():
    client, stub = stubbed_client("s3")
    stub.add_response("get_bucket_logging", ENABLED, {"Bucket": SOURCE})
    stub.add_response("put_bucket_logging", {}, {"Bucket": SOURCE, "BucketLoggingStatus": {}})
    with stub:
        result, failed, _ = run_module("s3_bucket_logging", {"name": SOURCE, "state": "absent"}, client)
    assert not failed, result
    stub.assert_no_pending_responses()
    assert result["changed"] is True


def test_absent_on_a_missing_bucket_is_no_change():
    client, stub = stubbed_client("s3")
    stub.add_client_error("get_bucket_logging", "NoSuchBucket", http_status_code=404,
                          expected_params={"Bucket": SOURCE})
    with stub:
        result, failed, _ = run_module("s3_bucket_logging", {"name": SOURCE, "state": "absent"}, client)
    assert not failed, result
    assert result["changed"] is False
