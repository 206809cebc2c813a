# -*- coding: utf-8 -*-

# Copyright: Contributors to the mattermost_ha.aws collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The collection's one AWS layer: clients with retries, tags, waiters and the module shape.

Every AWS module of the collection has the same shape: ``main()`` builds the
AnsibleAWSModule and the module's ``AWSResource`` subclass (which holds a client made with
``client()``), then hands its ``ensure_present`` and, for modules with a ``state``, its
``ensure_absent`` (a read-only module: its ``read``) to ``run()``, which calls the one the
state asks for, turns an AWS error into ``fail_json_aws`` and exits with the result it returns.

Tags: AWS has three tag APIs. ``Tagging`` diffs the tags a resource has against the tags
asked for (``compare_aws_tags``: ``aws:`` keys are never purged) and applies the difference
through whichever API the resource has:

- EC2 style (``Tagging.ec2``): ``CreateTags``/``DeleteTags`` on a resource id, the removed
  keys as ``[{"Key": key}]``;
- list style (``Tagging.key_value_list``): ``[{"Key": ..., "Value": ...}]`` to tag, the removed
  keys as ``TagKeys=[...]`` (Global Accelerator, ELBv2, RDS, IAM) or ``Tags=[{"Key": ...}]`` (ACM);
- dict style (``Tagging.dictionary``): ``{key: value}`` to tag, the removed keys as a list
  (CloudWatch Logs, Lambda, ...).
"""

from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

try:
    import botocore
except ImportError:
    botocore = None  # reported by AnsibleAWSModule

AWS_ERRORS = (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) if botocore else ()


def retrying():
    """The collection's retry decorator: amazon.aws's jittered back-off on throttling and friends."""
    return AWSRetry.jittered_backoff()


def client(module, service, **kwargs):
    """A client of service whose calls retry when given aws_retry=True."""
    return module.client(service, retry_decorator=retrying(), **kwargs)


def paginate(aws_client, operation, **params):
    """Every page of operation merged into one answer, retried as a whole (paginators bypass aws_retry)."""
    return retrying()(lambda: aws_client.get_paginator(operation).paginate(**params).build_full_result())()


def wait(module, aws_client, waiter_name, timeout, delay, failure, **params):
    """Wait with a botocore waiter for at most about timeout seconds; fail the module with failure if it gives up."""
    try:
        aws_client.get_waiter(waiter_name).wait(
            WaiterConfig={"Delay": delay, "MaxAttempts": max(1, timeout // delay)}, **params
        )
    except botocore.exceptions.WaiterError as e:
        module.fail_json_aws(e, msg=failure)


class AWSResource:
    """What each module's resource class starts from: the module, its parameters, check mode and a client.

    A subclass names its service (and a region when the API lives in one place only) and
    defines ensure_present and, for modules with a state, ensure_absent; a read-only module
    defines read instead. Each returns the module's result.
    """

    service = None  # None: the subclass makes its own clients
    region = None  # None: the module's region

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.check_mode = module.check_mode
        if self.service:
            self.client = client(module, self.service, **({"region": self.region} if self.region else {}))


def run(module, ensure_present, ensure_absent=None, failure="AWS request failed"):
    """Call ensure_absent when the module's state is absent, otherwise ensure_present; exit with its result.

    Each returns the module's result (a dict for exit_json). An AWS error fails the module with
    failure as the message.
    """
    absent = module.params.get("state") == "absent" and ensure_absent is not None
    try:
        result = ensure_absent() if absent else ensure_present()
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=failure)
    module.exit_json(**result)


def tags_to_dict(tags):
    """{key: value} of tags in any of AWS's shapes: a dict, or a list of Key/Value, key/value or TagKey/TagValue."""
    if isinstance(tags, dict):
        return dict(tags)
    result = {}
    for tag in tags or []:
        for key, value in (("Key", "Value"), ("key", "value"), ("TagKey", "TagValue")):
            if key in tag:
                result[tag[key]] = tag.get(value)
                break
    return result


def tag_changes(current, wanted, purge):
    """(tags to set as a dict, keys to remove as a list) to bring current to wanted; wanted None means leave alone."""
    if wanted is None:
        return {}, []
    return compare_aws_tags(current, wanted, purge_tags=purge)


def tags_after(current, to_set, to_unset):
    """The tags a resource has once to_set and to_unset are applied to current."""
    return {key: value for key, value in dict(current, **to_set).items() if key not in to_unset}


class Tagging:
    """How one resource's tags are read, set and removed (the AWS API differs by service)."""

    def __init__(self, set_tags, unset_tags, read=None):
        self.set_tags = set_tags  # {key: value} -> None
        self.unset_tags = unset_tags  # [key] -> None
        self.read = read  # () -> {key: value}

    @classmethod
    def ec2(cls, aws_client, resource_id):
        """EC2's CreateTags/DeleteTags on one resource id."""
        return cls.key_value_list(
            aws_client.create_tags, aws_client.delete_tags, keys_as="Tags", Resources=[resource_id]
        )

    @classmethod
    def key_value_list(cls, tag, untag, keys_as="TagKeys", read=None, **resource):
        """Tags as [{"Key", "Value"}]; removed keys as TagKeys=[key] or (keys_as="Tags") Tags=[{"Key": key}]."""

        def set_tags(tags):
            tag(Tags=ansible_dict_to_boto3_tag_list(tags), aws_retry=True, **resource)

        def unset_tags(keys):
            removed = [{"Key": key} for key in keys] if keys_as == "Tags" else list(keys)
            untag(aws_retry=True, **{keys_as: removed}, **resource)

        return cls(set_tags, unset_tags, read)

    @classmethod
    def dictionary(cls, tag, untag, tags_as="Tags", keys_as="TagKeys", read=None, **resource):
        """Tags as {key: value} under tags_as; removed keys as a list under keys_as."""

        def set_tags(tags):
            tag(aws_retry=True, **{tags_as: dict(tags)}, **resource)

        def unset_tags(keys):
            untag(aws_retry=True, **{keys_as: list(keys)}, **resource)

        return cls(set_tags, unset_tags, read)

    def sync(self, wanted, purge, check_mode, current=None):
        """Bring the resource's tags to wanted (None: leave them); returns (changed, tags after).

        current is read with read() when not given. Keys are removed before others are set
        (room under the per-resource tag limit). Nothing is called in check mode.
        """
        if wanted is None:
            return False, current
        if current is None:
            current = self.read()
        to_set, to_unset = tag_changes(current, wanted, purge)
        if not check_mode:
            if to_unset:
                self.unset_tags(to_unset)
            if to_set:
                self.set_tags(to_set)
        return bool(to_set or to_unset), tags_after(current, to_set, to_unset)
