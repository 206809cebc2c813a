# -*- coding: utf-8 -*-

# Copyright: Contributors to the mattermost_ha.aws collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""EC2 Instance Connect Endpoint API helpers (no amazon.aws module covers this API)."""

from __future__ import annotations

import time

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_specifications

from ansible_collections.mattermost_ha.aws.plugins.module_utils.aws import retrying

RESOURCE_TYPE = "instance-connect-endpoint"
# States in which an endpoint still exists (or is on its way to existing).
LIVE_STATES = [
    "create-in-progress",
    "create-complete",
    "create-failed",
    "update-in-progress",
    "update-complete",
    "update-failed",
    "delete-failed",
]
FAILED_STATES = ("create-failed", "update-failed")


class InstanceConnectEndpointError(Exception):
    """A state the endpoint should not reach (create-failed, a timeout)."""

    def __init__(self, message, endpoint=None):
        super().__init__(message)
        self.endpoint = endpoint


def describe_endpoints(client, endpoint_id=None, subnet_id=None, states=None):
    """Every endpoint matching the id, or the subnet and states, following NextToken."""
    params = {}
    if endpoint_id:
        params["InstanceConnectEndpointIds"] = [endpoint_id]
    filters = []
    if subnet_id:
        filters.append({"Name": "subnet-id", "Values": [subnet_id]})
    if states:
        filters.append({"Name": "state", "Values": list(states)})
    if filters:
        params["Filters"] = filters
    endpoints = []
    describe = retrying()(client.describe_instance_connect_endpoints)
    while True:
        response = describe(**params)
        endpoints.extend(response.get("InstanceConnectEndpoints", []))
        token = response.get("NextToken")
        if not token:
            return endpoints
        params["NextToken"] = token


def find_endpoint(client, endpoint_id=None, subnet_id=None):
    """The live endpoint with this id or in this subnet, or None. Several in one subnet is an error."""
    found = describe_endpoints(
        client, endpoint_id=endpoint_id, subnet_id=None if endpoint_id else subnet_id, states=LIVE_STATES
    )
    if len(found) > 1:
        ids = ", ".join(e["InstanceConnectEndpointId"] for e in found)
        raise InstanceConnectEndpointError(f"More than one EC2 Instance Connect Endpoint in subnet {subnet_id}: {ids}")
    return found[0] if found else None


def create_endpoint(client, subnet_id, security_group_ids, preserve_client_ip, tags, client_token=None):
    params = {"SubnetId": subnet_id, "PreserveClientIp": preserve_client_ip}
    if security_group_ids:
        params["SecurityGroupIds"] = list(security_group_ids)
    if tags:
        params["TagSpecifications"] = boto3_tag_specifications(tags, [RESOURCE_TYPE])
    if client_token:
        params["ClientToken"] = client_token
    return client.create_instance_connect_endpoint(aws_retry=True, **params)["InstanceConnectEndpoint"]


def delete_endpoint(client, endpoint_id):
    deleted = client.delete_instance_connect_endpoint(InstanceConnectEndpointId=endpoint_id, aws_retry=True)
    return deleted["InstanceConnectEndpoint"]


def wait_for_state(client, endpoint_id, target, timeout, delay=10):
    """Poll until the endpoint is in state target (or gone, for delete-complete).

    Returns the last description (None once deleted). Raises InstanceConnectEndpointError on a
    failed state or when timeout seconds pass.
    """
    deadline = time.monotonic() + timeout
    while True:
        found = describe_endpoints(client, endpoint_id=endpoint_id)
        endpoint = found[0] if found else None
        state = endpoint["State"] if endpoint else "delete-complete"
        if state == target:
            return endpoint
        if state in FAILED_STATES or (state == "delete-failed" and target == "delete-complete"):
            raise InstanceConnectEndpointError(
                f"EC2 Instance Connect Endpoint {endpoint_id} is {state}: {endpoint.get('StateMessage', '')}", endpoint
            )
        if time.monotonic() >= deadline:
            raise InstanceConnectEndpointError(
                f"Timed out after {timeout}s waiting for EC2 Instance Connect Endpoint {endpoint_id} to be {target} "
                f"(still {state})",
                endpoint,
            )
        time.sleep(delay)


def normalize_endpoint(endpoint):
    """snake_case description with tags as a dict; None stays None."""
    if endpoint is None:
        return None
    result = camel_dict_to_snake_dict(endpoint, ignore_list=["Tags"])
    result["tags"] = boto3_tag_list_to_ansible_dict(endpoint.get("Tags", []))
    if "created_at" in result and not isinstance(result["created_at"], str):
        result["created_at"] = result["created_at"].isoformat()
    return result
