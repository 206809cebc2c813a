#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: mattermost_ha.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: s3_bucket_restore
version_added: 0.2.0
short_description: Bring the objects of a versioned S3 bucket back to how they were at a point in time
description:
  - Reads every object version and delete marker of the bucket (under O(prefix)) with
    C(ListObjectVersions) and, for each key, finds the version that was current at O(restore_time).
  - A key whose current version is not that one (overwritten since) gets it back; a key deleted
    since (a delete marker is current) gets it back too. The old version is copied onto the key
    with C(CopyObject), so it becomes the current version again and nothing is deleted; every
    version written after O(restore_time) stays in the bucket as a noncurrent version.
  - Each copy carries the object tag C(mattermost-ha:restored-from) with the version id it was
    copied from, so a second run with the same O(restore_time) finds the keys already restored and
    changes nothing.
  - A key created after O(restore_time) is kept, and listed in RV(newer), unless
    O(remove_newer) is set; then it is deleted with a delete marker (its versions stay).
  - No maintained module does this; M(amazon.aws.s3_object) reads and writes single objects.
author:
  - mattermost_ha.aws maintainers (@mattermost-ha)
options:
  bucket:
    description: Name of the bucket. Its versioning must be on (or suspended after having been on).
    required: true
    type: str
  restore_time:
    description:
      - The point in time, ISO 8601 with a time zone, for example C(2026-12-04T09:30:00Z) or
        C(2026-12-04T10:30:00+01:00). Not in the future.
      - S3 records the time of each version to the second; a change made within the second of
        O(restore_time) counts as made before it.
    required: true
    type: str
  prefix:
    description: Restore only the keys that start with this prefix (for example one team's directory).
    type: str
    default: ''
  remove_newer:
    description:
      - Delete, with a delete marker, the keys that did not exist at O(restore_time), so that the
        current objects are exactly those of that time. Their versions stay in the bucket.
    type: bool
    default: false
notes:
  - Support for check mode and diff mode.
  - C(CopyObject) copies objects of up to 5 GiB; a larger version is reported as a failure naming its key.
  - The copies are encrypted with the bucket's default encryption.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Bring back the files deleted or overwritten since 09:30 UTC
  mattermost_ha.aws.s3_bucket_restore:
    bucket: mattermost-ha-mattermost-123456789012-us-east-1
    restore_time: "2026-12-04T09:30:00Z"
"""

RETURN = r"""
restored:
  description:
    - The keys given back their version of O(restore_time), with that version's id and the
      version it replaced (null for a key that was deleted).
  returned: always
  type: list
  elements: dict
  sample: [{"key": "data/teams/a.png", "version_id": "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", "replaced": null}]
removed:
  description: The keys created after O(restore_time) that were deleted (O(remove_newer)).
  returned: always
  type: list
  elements: str
newer:
  description: The keys created after O(restore_time) that were kept (O(remove_newer) off).
  returned: always
  type: list
  elements: str
"""

import datetime
import urllib.parse

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import AWSResource
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import paginate
from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import run

RESTORED_FROM = "mattermost-ha:restored-from"
COPY_LIMIT = 5 * 1024**3


def parse_time(text):
    """An aware datetime from ISO 8601 text with a zone (a trailing Z included), or None."""
    try:
        value = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def states_at(versions, markers, when):
    """{key: (entry at when or None, current entry or None)}; an entry is a version or a delete marker dict."""
    by_key = {}
    for entry in [dict(v, marker=False) for v in versions] + [dict(m, marker=True) for m in markers]:
        by_key.setdefault(entry["Key"], []).append(entry)
    states = {}
    for key, entries in by_key.items():
        before = [e for e in entries if e["LastModified"] <= when]
        at_time = max(before, key=lambda e: (e["LastModified"], e["marker"])) if before else None
        current = next((e for e in entries if e.get("IsLatest")), None)
        states[key] = (at_time, current)
    return states


class BucketRestore(AWSResource):
    """One bucket's objects brought back to a point in time: ensure_present returns the module's result."""

    service = "s3"

    def ensure_present(self):
        bucket, prefix = self.params["bucket"], self.params["prefix"]
        when = parse_time(self.params["restore_time"])
        if when is None:
            self.module.fail_json(msg=f"restore_time: '{self.params['restore_time']}' is not an ISO 8601 time with a "
                                      "time zone, such as 2026-12-04T09:30:00Z")
        if when > datetime.datetime.now(datetime.timezone.utc):
            self.module.fail_json(msg=f"restore_time: {self.params['restore_time']} is in the future")
        status = self.client.get_bucket_versioning(Bucket=bucket, aws_retry=True).get("Status")
        if status not in ("Enabled", "Suspended"):
            self.module.fail_json(msg=f"Bucket {bucket} has never had versioning on: it keeps no earlier versions "
                                      "to restore")
        listing = paginate(self.client, "list_object_versions", Bucket=bucket, Prefix=prefix)
        states = states_at(listing.get("Versions", []), listing.get("DeleteMarkers", []), when)

        restored, removed, newer = [], [], []
        for key in sorted(states):
            at_time, current = states[key]
            current_version = current if current and not current["marker"] else None
            if at_time is None or at_time["marker"]:
                if current_version is not None:
                    (removed if self.params["remove_newer"] else newer).append(key)
                continue
            if current_version is not None and self.is_copy_of(key, current_version, at_time):
                continue
            if at_time.get("Size", 0) > COPY_LIMIT:
                self.module.fail_json(msg=f"{key} (version {at_time['VersionId']}) is larger than 5 GiB, more than "
                                          "CopyObject copies: restore it by hand with a multipart copy")
            restored.append({"key": key, "version_id": at_time["VersionId"],
                             "replaced": current_version["VersionId"] if current_version else None})

        if not self.check_mode:
            for item in restored:
                self.client.copy_object(
                    Bucket=bucket, Key=item["key"],
                    CopySource={"Bucket": bucket, "Key": item["key"], "VersionId": item["version_id"]},
                    TaggingDirective="REPLACE",
                    Tagging=urllib.parse.urlencode({RESTORED_FROM: item["version_id"]}),
                    aws_retry=True,
                )
            for key in removed:
                self.client.delete_object(Bucket=bucket, Key=key, aws_retry=True)

        before = {item["key"]: item["replaced"] for item in restored}
        before.update({key: states[key][1]["VersionId"] for key in removed})
        after = {item["key"]: item["version_id"] for item in restored}
        after.update({key: None for key in removed})
        return dict(changed=bool(restored or removed), restored=restored, removed=removed, newer=newer,
                    diff={"before": before, "after": after})

    def is_copy_of(self, key, current, at_time):
        """Whether the current version is the version of at_time, or a copy this module made of it."""
        if current["VersionId"] == at_time["VersionId"]:
            return True
        tags = self.client.get_object_tagging(Bucket=self.params["bucket"], Key=key, VersionId=current["VersionId"],
                                              aws_retry=True).get("TagSet", [])
        return {"Key": RESTORED_FROM, "Value": at_time["VersionId"]} in tags


def main():
    argument_spec = dict(
        bucket=dict(type="str", required=True),
        restore_time=dict(type="str", required=True),
        prefix=dict(type="str", default=""),
        remove_newer=dict(type="bool", default=False),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    restore = BucketRestore(module)
    run(module, restore.ensure_present, failure=f"Failed to restore the objects of bucket {module.params['bucket']}")


if __name__ == "__main__":
    main()
