"""s3_bucket_restore: which version each key goes back to, and the requests it sends (checked
against S3's service model by the Stubber)."""

import datetime

import pytest
from ansible_collections.mattermost_ha.aws.plugins.modules.s3_bucket_restore import parse_time, states_at
from botocore.stub import ANY
from stubbed_aws_module import run_module, stubbed_client

BUCKET = "mattermost-files"
UTC = datetime.UTC
T = datetime.datetime(2026, 12, 4, 9, 30, tzinfo=UTC)


def at(minutes):
    return T + datetime.timedelta(minutes=minutes)


def version(key, version_id, minutes, latest=False):
    return {"Key": key, "VersionId": version_id, "LastModified": at(minutes), "IsLatest": latest, "Size": 4,
            "ETag": '"e"', "StorageClass": "STANDARD"}


def marker(key, version_id, minutes, latest=False):
    return {"Key": key, "VersionId": version_id, "LastModified": at(minutes), "IsLatest": latest}


@pytest.mark.parametrize("text, expected", [
    ("2026-12-04T09:30:00Z", T),
    ("2026-12-04T10:30:00+01:00", T),
    ("2026-12-04T09:30Z", T),
    ("2026-12-04T09:30:00", None),  # no zone: ambiguous
    ("yesterday", None),
])
def test_restore_time_needs_iso_8601_with_a_zone(text, expected):
    assert parse_time(text) == expected


def test_the_version_current_at_the_time_is_the_newest_written_before_it():
    states = states_at(
        [version("a", "a2", 5, latest=True), version("a", "a1", -5), version("b", "b1", -10),
         version("c", "c1", 10, latest=True)],
        [marker("b", "bm", 3, latest=True)],
        T,
    )
    assert states["a"][0]["VersionId"] == "a1" and states["a"][1]["VersionId"] == "a2"
    assert states["b"][0]["VersionId"] == "b1" and states["b"][1]["marker"]
    assert states["c"][0] is None  # created after the time


def listing(versions, markers=()):
    return {"Versions": versions, "DeleteMarkers": list(markers), "IsTruncated": False, "Name": BUCKET}


def test_overwritten_and_deleted_files_are_copied_back_with_the_restored_from_tag():
    client, stub = stubbed_client("s3")
    stub.add_response("get_bucket_versioning", {"Status": "Enabled"}, {"Bucket": BUCKET})
    stub.add_response("list_object_versions", listing(
        [version("a", "a2", 5, latest=True), version("a", "a1", -5), version("b", "b1", -10),
         version("k", "k1", -10, latest=True), version("n", "n1", 10, latest=True)],
        [marker("b", "bm", 3, latest=True)]), {"Bucket": BUCKET, "Prefix": ""})
    stub.add_response("get_object_tagging", {"TagSet": []}, {"Bucket": BUCKET, "Key": "a", "VersionId": "a2"})
    for key, version_id in (("a", "a1"), ("b", "b1")):
        stub.add_response("copy_object", {}, {
            "Bucket": BUCKET, "Key": key, "CopySource": {"Bucket": BUCKET, "Key": key, "VersionId": version_id},
            "TaggingDirective": "REPLACE", "Tagging": f"mattermost-ha%3Arestored-from={version_id}"})
    with stub:
        result, failed, _ = run_module("s3_bucket_restore", {"bucket": BUCKET, "restore_time": T.isoformat()}, client)
    assert not failed, result
    stub.assert_no_pending_responses()
    assert result["changed"] is True
    assert result["restored"] == [{"key": "a", "version_id": "a1", "replaced": "a2"},
                                  {"key": "b", "version_id": "b1", "replaced": None}]
    assert result["newer"] == ["n"] and result["removed"] == []


def test_a_key_already_restored_to_that_version_is_no_change():
    client, stub = stubbed_client("s3")
    stub.add_response("get_bucket_versioning", {"Status": "Enabled"}, {"Bucket": BUCKET})
    stub.add_response("list_object_versions", listing(
        [version("a", "a3", 20, latest=True), version("a", "a2", 5), version("a", "a1", -5)]), {"Bucket": BUCKET,
                                                                                              "Prefix": ""})
    stub.add_response("get_object_tagging", {"TagSet": [{"Key": "mattermost-ha:restored-from", "Value": "a1"}]},
                      {"Bucket": BUCKET, "Key": "a", "VersionId": "a3"})
    with stub:
        result, failed, _ = run_module("s3_bucket_restore", {"bucket": BUCKET, "restore_time": T.isoformat()}, client)
    assert not failed, result
    assert result["changed"] is False


def test_remove_newer_deletes_the_keys_created_since_with_a_delete_marker():
    client, stub = stubbed_client("s3")
    stub.add_response("get_bucket_versioning", {"Status": "Enabled"}, {"Bucket": BUCKET})
    stub.add_response("list_object_versions", listing([version("n", "n1", 10, latest=True)]),
                      {"Bucket": BUCKET, "Prefix": "data/"})
    stub.add_response("delete_object", {}, {"Bucket": BUCKET, "Key": "n"})
    with stub:
        result, failed, _ = run_module("s3_bucket_restore", {"bucket": BUCKET, "restore_time": T.isoformat(),
                                                             "prefix": "data/", "remove_newer": True}, client)
    assert not failed, result
    stub.assert_no_pending_responses()
    assert result["removed"] == ["n"] and result["diff"] == {"before": {"n": "n1"}, "after": {"n": None}}


def test_check_mode_reports_the_copies_and_sends_none():
    client, stub = stubbed_client("s3")
    stub.add_response("get_bucket_versioning", {"Status": "Enabled"}, {"Bucket": BUCKET})
    stub.add_response("list_object_versions", listing([version("a", "a2", 5, latest=True), version("a", "a1", -5)]),
                      {"Bucket": BUCKET, "Prefix": ""})
    stub.add_response("get_object_tagging", {"TagSet": []}, {"Bucket": BUCKET, "Key": "a", "VersionId": ANY})
    with stub:
        result, failed, _ = run_module("s3_bucket_restore", {"bucket": BUCKET, "restore_time": T.isoformat()}, client,
                                       check_mode=True)
    assert not failed, result
    stub.assert_no_pending_responses()
    assert result["changed"] is True and result["diff"] == {"before": {"a": "a2"}, "after": {"a": "a1"}}


def test_a_bucket_that_never_kept_versions_is_refused():
    client, stub = stubbed_client("s3")
    stub.add_response("get_bucket_versioning", {}, {"Bucket": BUCKET})
    with stub:
        result, failed, _ = run_module("s3_bucket_restore", {"bucket": BUCKET, "restore_time": T.isoformat()}, client)
    assert failed and "never had versioning on" in result["msg"]


def test_a_time_in_the_future_is_refused_before_any_request():
    client, stub = stubbed_client("s3")
    future = (datetime.datetime.now(UTC) + datetime.timedelta(days=1)).isoformat()
    with stub:
        result, failed, _ = run_module("s3_bucket_restore", {"bucket": BUCKET, "restore_time": future}, client)
    assert failed and "is in the future" in result["msg"]
