# -*- coding: utf-8 -*-

# Copyright: Contributors to the mattermost_ha.aws collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""AWS facts the roles derive: the partition of a region, whether a failed task met
AWS's eventual consistency (the documented answers of module_utils/eventual.py), the
digest of a password that AWS cannot be asked about, and the values the inventory plugin
derives too (module_utils/discovered.py: one formula for both)."""

from __future__ import annotations

import hashlib
import hmac

from ansible.errors import AnsibleFilterError

from ansible_collections.mattermost_ha.aws.plugins.module_utils import discovered
from ansible_collections.mattermost_ha.aws.plugins.module_utils.eventual import ANSWERS
from ansible_collections.mattermost_ha.aws.plugins.module_utils.eventual import is_not_yet_consistent

# Region prefixes of the partitions other than "aws".
_PARTITIONS = (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-iso-", "aws-iso"), ("us-isob-", "aws-iso-b"),
               ("eu-isoe-", "aws-iso-e"), ("us-isof-", "aws-iso-f"))


def aws_partition(region):
    """The ARN partition of a region: aws, aws-cn, aws-us-gov (and the isolated ones)."""
    if not isinstance(region, str):
        raise AnsibleFilterError(f"aws_partition: {region!r} is not an AWS region name")
    # Longest prefix first: us-isob- before us-iso-.
    for prefix, partition in sorted(_PARTITIONS, key=lambda item: -len(item[0])):
        if region.startswith(prefix):
            return partition
    return "aws"


def not_yet_consistent(result, situation):
    """True if a registered (failed) task result is one of the situation's documented answers.

    amazon.aws modules return AWS's error as ``error.code``/``error.message``; the task's
    ``msg`` is searched as well. A loop's result is true if any item is.
    """
    if situation not in ANSWERS:
        raise AnsibleFilterError(f"not_yet_consistent: unknown situation {situation!r}; one of {sorted(ANSWERS)}")
    if not isinstance(result, dict) or not result.get("failed"):
        return False
    if isinstance(result.get("results"), list):
        return any(not_yet_consistent(item, situation) for item in result["results"])
    error = result.get("error") if isinstance(result.get("error"), dict) else {}
    code = str(error.get("code", ""))
    message = f"{error.get('message', '')} {result.get('msg', '')}"
    if is_not_yet_consistent(code, message, situation):
        return True
    # Without a structured error, the code as botocore writes it in the message.
    return any(f"({known})" in message and is_not_yet_consistent(known, message, situation)
               for known, _pattern in ANSWERS[situation])


# PBKDF2-HMAC-SHA256 iterations: OWASP's 2023 recommendation for this hash.
_DIGEST_ROUNDS = 600000


def password_digest(password, salt, compare_to=""):
    """pbkdf2-sha256$<rounds>$<salt>$<hex>: a slow, salted digest of password.

    With compare_to (an earlier digest), its rounds are reused and compare_to is returned when
    the password matches it (compared in constant time), so a stored digest stays the same.
    """
    if not isinstance(password, str) or not isinstance(salt, str) or not salt:
        raise AnsibleFilterError("password_digest: password and a non-empty salt must be strings")
    rounds = _DIGEST_ROUNDS
    parts = str(compare_to or "").split("$")
    if len(parts) == 4 and parts[0] == "pbkdf2-sha256" and parts[1].isdigit() and parts[2] == salt:
        rounds = int(parts[1])
    value = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), rounds).hex()
    digest = f"pbkdf2-sha256${rounds}${salt}${value}"
    if compare_to and hmac.compare_digest(digest, str(compare_to)):
        return str(compare_to)
    return digest


def file_store_bucket_name(bucket, name, account_id, region):
    """bucket when given, else the name derived from the deployment, account and region."""
    if bucket:
        return str(bucket)
    if not name or not account_id or not region:
        raise AnsibleFilterError(
            "file_store_bucket_name: the deployment name, account id and region are needed to derive the bucket name"
        )
    return discovered.file_store_bucket_name(name, account_id, region)


def aurora_endpoints(cluster, instances):
    """writer_host, port and reader_hosts of an Aurora cluster (amazon.aws rds_cluster_info and
    rds_instance_info entries), as the inventory plugin publishes them."""
    if cluster is not None and not isinstance(cluster, dict):
        raise AnsibleFilterError(f"aurora_endpoints: {cluster!r} is not a cluster (a dict)")
    return discovered.database_endpoints(cluster, list(instances or []))


class FilterModule(object):
    def filters(self):
        return {
            "aurora_endpoints": aurora_endpoints,
            "aws_partition": aws_partition,
            "file_store_bucket_name": file_store_bucket_name,
            "not_yet_consistent": not_yet_consistent,
            "password_digest": password_digest,
        }
