# -*- coding: utf-8 -*-

# Copyright: Contributors to the mattermost_ha.aws collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Tag handling for EC2 resources whose describe call returns their tags."""

from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags


def ensure_tags(client, endpoint_id, current_tags, tags, purge_tags, check_mode):
    """Bring the endpoint's tags to tags; returns True when something changed (or would)."""
    if tags is None:
        return False
    to_set, to_unset = compare_aws_tags(current_tags, tags, purge_tags)
    if not (to_set or to_unset) or check_mode:
        return bool(to_set or to_unset)
    if to_unset:
        client.delete_tags(Resources=[endpoint_id], Tags=[{"Key": key} for key in to_unset], aws_retry=True)
    if to_set:
        client.create_tags(Resources=[endpoint_id], Tags=ansible_dict_to_boto3_tag_list(to_set), aws_retry=True)
    return True
