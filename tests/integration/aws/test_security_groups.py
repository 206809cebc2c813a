"""The aws_security_groups role with the EC2 Instance Connect Endpoint on, against moto.

provision.yml on the emulator switches the endpoint off (moto lacks its API), so the
endpoint's own security group is checked here, with the role alone on a VPC made with boto3.
"""

import json

import pytest
from harness.ansible import run_playbook
from test_provision import rules

pytestmark = pytest.mark.slow

PLAYBOOK = "tests/integration/aws/playbooks/security_groups.yml"


def groups_in(ec2, vpc_id):
    described = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]
    return {g["GroupName"]: g for g in described}


def test_endpoint_has_its_own_group_and_app_nodes_admit_ssh_only_from_it(aws):
    ec2 = aws.client("ec2")
    # Tagged as aws_network tags it: the role's absent finds the groups through the VPC's tag.
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=[
        {"ResourceType": "vpc", "Tags": [{"Key": "mattermost-ha:deployment", "Value": "Chat"}]}])["Vpc"]["VpcId"]
    extra = json.dumps({
        "mattermost_ha_region": aws.region, "mattermost_ha_name": "Chat", "mattermost_ha_vpc_id": vpc_id,
        "mattermost_ha_vpc_cidr": "10.0.0.0/16", "mattermost_ha_instance_connect_endpoint": True,
    })

    first = run_playbook(PLAYBOOK, "-e", extra, env=aws.env)
    assert first.changed > 0

    groups = groups_in(ec2, vpc_id)
    assert set(groups) == {"default", "Chat-ALB-SG", "Chat-EIC-SG", "Chat-App-SG", "Chat-DB-SG", "Chat-Monitoring-SG"}
    eic, app, alb = groups["Chat-EIC-SG"], groups["Chat-App-SG"], groups["Chat-ALB-SG"]
    monitoring = groups["Chat-Monitoring-SG"]
    assert rules(eic) == set()
    assert rules(eic, "IpPermissionsEgress") == {("tcp", 22, 22, "10.0.0.0/16")}
    # SSH from the endpoint's group; nothing else from it, and no catch-all between app nodes;
    # the monitoring node's ping, metrics and node_exporter ports.
    assert rules(app) == {
        ("tcp", 8065, 8065, alb["GroupId"]),
        ("tcp", 8074, 8074, app["GroupId"]),
        ("udp", 8074, 8074, app["GroupId"]),
        ("tcp", 22, 22, eic["GroupId"]),
        ("tcp", 8065, 8065, monitoring["GroupId"]),
        ("tcp", 8067, 8067, monitoring["GroupId"]),
        ("tcp", 9100, 9100, monitoring["GroupId"]),
    }
    # Into the monitoring node: SSH from the endpoint's group, as for the app nodes, nothing else.
    assert rules(monitoring) == {("tcp", 22, 22, eic["GroupId"])}

    second = run_playbook(PLAYBOOK, "-e", extra, env=aws.env)
    assert second.changed == 0, second.recap

    run_playbook(PLAYBOOK, "-e", extra, "-e", "aws_security_groups_state=absent", env=aws.env)
    assert set(groups_in(ec2, vpc_id)) == {"default"}
