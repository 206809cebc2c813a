"""playbooks/restore.yml brings the file store back to a point in time from the bucket's own
versions: files overwritten or deleted since come back, nothing is deleted unless asked, a
re-run changes nothing, and bad inputs or a bucket of another deployment are refused before
any change."""

import datetime
import json
import time

import pytest
from harness.ansible import run_playbook

pytestmark = pytest.mark.slow

NAME = "Chat"
RESTORE = "playbooks/restore.yml"


def extra(aws, **more):
    return json.dumps({"mattermost_ha_region": aws.region, "mattermost_ha_name": NAME,
                       "mattermost_ha_admin_cidrs": ["203.0.113.0/24"], **more})


def body(s3, bucket, key):
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()


def current_version(s3, bucket, key):
    versions = s3.list_object_versions(Bucket=bucket, Prefix=key)
    entries = [e for e in versions.get("Versions", []) + versions.get("DeleteMarkers", []) if e["Key"] == key]
    return next(e["VersionId"] for e in entries if e["IsLatest"])


@pytest.fixture
def file_store(aws):
    """The deployment's bucket made by the role, with files written before and changed after a
    restore time; returns (s3 client, bucket, restore time as ISO 8601 text)."""
    run_playbook("tests/integration/aws/playbooks/file_store.yml", "-e", extra(aws), env=aws.env)
    s3 = aws.client("s3")
    account = aws.client("sts").get_caller_identity()["Account"]
    bucket = f"mattermost-ha-chat-{account}-{aws.region}"
    # The emulator applies the TLS-only policy's Deny to every object request over its plain
    # HTTP (docs/testing.md): the test's own writes need it gone. The restore itself reads and
    # writes objects the same way on AWS, over TLS.
    s3.delete_bucket_policy(Bucket=bucket)
    for key in ("data/overwritten.txt", "data/deleted.txt", "data/unchanged.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=f"{key} before".encode())
    # S3 records version times to the second: the restore time lies a whole second after the
    # first writes and before the changes.
    time.sleep(2)
    when = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    time.sleep(2)
    s3.put_object(Bucket=bucket, Key="data/overwritten.txt", Body=b"ransomware")
    s3.delete_object(Bucket=bucket, Key="data/deleted.txt")
    s3.put_object(Bucket=bucket, Key="data/created-later.txt", Body=b"new upload")
    return s3, bucket, when.isoformat().replace("+00:00", "Z")


def test_files_overwritten_or_deleted_since_come_back_and_a_rerun_changes_nothing(aws, file_store):
    s3, bucket, when = file_store
    unchanged = current_version(s3, bucket, "data/unchanged.txt")
    versions_before = len(s3.list_object_versions(Bucket=bucket)["Versions"])

    checked = run_playbook(RESTORE, "--check", "--diff", "-e", extra(aws, mattermost_ha_file_store_restore_time=when),
                           env=aws.env)
    assert checked.changed == 1, checked.output
    assert body(s3, bucket, "data/overwritten.txt") == "ransomware"  # check mode wrote nothing

    restored = run_playbook(RESTORE, "-e", extra(aws, mattermost_ha_file_store_restore_time=when), env=aws.env)
    assert restored.changed == 1, restored.output
    assert "2 file(s) given back" in restored.folded and "1 created since kept" in restored.folded
    assert body(s3, bucket, "data/overwritten.txt") == "data/overwritten.txt before"
    assert body(s3, bucket, "data/deleted.txt") == "data/deleted.txt before"
    assert current_version(s3, bucket, "data/unchanged.txt") == unchanged
    assert body(s3, bucket, "data/created-later.txt") == "new upload"  # kept by default
    # Nothing was deleted: the overwriting version is still there, as a noncurrent version.
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert len(versions) == versions_before + 2
    assert any(s3.get_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])["Body"].read() == b"ransomware"
               for v in versions if v["Key"] == "data/overwritten.txt")

    again = run_playbook(RESTORE, "-e", extra(aws, mattermost_ha_file_store_restore_time=when), env=aws.env)
    assert again.changed == 0, again.output


def test_remove_newer_deletes_files_created_since_and_keeps_their_versions(aws, file_store):
    s3, bucket, when = file_store
    run_playbook(RESTORE, "-e", extra(aws, mattermost_ha_file_store_restore_time=when,
                                      mattermost_ha_file_store_restore_remove_newer=True), env=aws.env)
    current = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert current == {"data/overwritten.txt", "data/deleted.txt", "data/unchanged.txt"}
    kept = [v for v in s3.list_object_versions(Bucket=bucket)["Versions"] if v["Key"] == "data/created-later.txt"]
    assert len(kept) == 1


@pytest.mark.parametrize("restore_time", ["2026-12-04T09:30:00", "yesterday"])
def test_a_restore_time_without_a_zone_is_refused_naming_the_variable(aws, file_store, restore_time):
    s3, bucket, _ = file_store
    run = run_playbook(RESTORE, "-e", extra(aws, mattermost_ha_file_store_restore_time=restore_time), env=aws.env,
                       check=False)
    assert run.returncode != 0
    assert f"mattermost_ha_file_store_restore_time: '{restore_time}' is not an ISO 8601 time" in run.folded
    assert body(s3, bucket, "data/overwritten.txt") == "ransomware"


def test_a_bucket_of_another_deployment_is_refused_before_any_change(aws, file_store):
    s3, bucket, when = file_store
    tags = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [
        {"Key": t["Key"], "Value": "Other" if t["Key"] == "mattermost-ha:deployment" else t["Value"]} for t in tags]})
    run = run_playbook(RESTORE, "-e", extra(aws, mattermost_ha_file_store_restore_time=when), env=aws.env,
                       check=False)
    assert run.returncode != 0
    assert bucket in run.folded and "Nothing was changed" in run.folded
    assert body(s3, bucket, "data/overwritten.txt") == "ransomware"


def test_a_run_that_names_nothing_to_restore_is_refused(aws):
    run = run_playbook(RESTORE, "-e", extra(aws), env=aws.env, check=False)
    assert run.returncode != 0
    assert "restores what you name. The file store: mattermost_ha_file_store_restore_time" in run.folded
    assert "The database: mattermost_ha_db_restore_cluster_identifier" in run.folded
