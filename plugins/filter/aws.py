# -*- coding: utf-8 -*-

# Copyright: Contributors to the mattermost_ha.aws collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""AWS facts the roles derive: the partition of a region, and whether a failed task met
AWS's eventual consistency (the documented answers of module_utils/eventual.py)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

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


class FilterModule(object):
    def filters(self):
        return {
            "aws_partition": aws_partition,
            "not_yet_consistent": not_yet_consistent,
        }
