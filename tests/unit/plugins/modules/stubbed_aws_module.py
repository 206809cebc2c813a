"""Run one of the collection's AWS modules in-process against a botocore Stubber.

The Stubber validates every request against the real service model, so these tests catch
wrong parameter names and types for the APIs the emulator lacks. The client reaches the
module through AnsibleAWSModule.client, wrapped like amazon.aws wraps it (aws_retry=...).
"""

import importlib
import sys
from pathlib import Path
from unittest.mock import patch

import boto3
import pytest
from ansible.module_utils.testing import patch_module_args
from botocore.stub import Stubber

# collections/ansible_collections/mattermost_ha/aws links to the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "collections"))

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule  # noqa: E402
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper  # noqa: E402


class ModuleExit(Exception):
    def __init__(self, result, failed):
        super().__init__(result)
        self.result = result
        self.failed = failed


def stubbed_client(service, region="us-west-1"):
    client = boto3.client(service, region_name=region, aws_access_key_id="k", aws_secret_access_key="s")
    return client, Stubber(client)


def run_module(name, args, client, check_mode=False):
    """Run plugins/modules/<name>.py with args; return (result, failed, regions asked for)."""
    module = importlib.import_module(f"ansible_collections.mattermost_ha.aws.plugins.modules.{name}")
    asked = []

    def fake_client(self, service, retry_decorator=None, **extra):
        asked.append(extra.get("region"))
        return RetryingBotoClientWrapper(client, retry_decorator) if retry_decorator else client

    def exit_json(self, **kwargs):
        raise ModuleExit(kwargs, False)

    def fail_json(self, **kwargs):
        raise ModuleExit(kwargs, True)

    args = dict(args, region="us-west-1")
    if check_mode:
        args["_ansible_check_mode"] = True
    with patch_module_args(args), patch.object(AnsibleAWSModule, "client", fake_client), \
            patch.object(AnsibleAWSModule, "exit_json", exit_json), \
            patch.object(AnsibleAWSModule, "fail_json", fail_json), \
            patch("time.sleep"), pytest.raises(ModuleExit) as result:
        module.main()
    return result.value.result, result.value.failed, asked
