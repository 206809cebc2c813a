"""ARNs follow the region's partition (aws, aws-cn, aws-us-gov), derived once from the region.

The roles' policy templates and ARN defaults are rendered by Ansible with the roles' own
defaults; every ARN in them must carry the partition of the region, and the flow-log role's
policy must allow what AWS lists as required for delivering to CloudWatch Logs.
"""

import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from harness.ansible import run_playbook  # noqa: E402

PLAYBOOK = "tests/unit/roles/policies.yml"
ARN = re.compile(r"arn:([a-z-]*):")


def render(tmp_path, region):
    out = tmp_path / region
    out.mkdir()
    run_playbook(PLAYBOOK, "-i", "localhost,", "-e", json.dumps({"mattermost_ha_region": region,
                                                                 "policies_out": str(out),
                                                                 "ansible_python_interpreter": sys.executable}))
    return {p.name: p.read_text() for p in out.iterdir()}


@pytest.mark.parametrize(("region", "partition"),
                         [("us-west-1", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")])
def test_every_arn_is_in_the_region_partition(tmp_path, region, partition):
    rendered = render(tmp_path, region)
    assert len(rendered) == 10
    partitions = {name: set(ARN.findall(text)) for name, text in rendered.items()}
    assert all(found == {partition} for found in partitions.values()), partitions
    defaults = json.loads(rendered["defaults.json"])
    assert defaults["monitoring_policy"] == (
        f"arn:{partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole")


def test_flow_log_role_may_describe_log_groups(tmp_path):
    policy = json.loads(render(tmp_path, "us-west-1")["flow-logs-role-policy.json"])
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert {"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogGroups",
            "logs:DescribeLogStreams"} <= actions
