"""What the network roles hand to the front-end roles, created directly with boto3.

The frontend roles take only variables (VPC, subnets in AZ order, security groups, instance
profile), so users can bring their own network; the tests do the same.
"""

import json
import tempfile
from pathlib import Path

import yaml

TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def create_prerequisites(aws, name="Mattermost"):
    ec2 = aws.client("ec2")
    azs = sorted(z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"])[:2]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    public = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
              for i, az in enumerate(azs)]
    private = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i + 10}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
               for i, az in enumerate(azs)]
    groups = {
        key: ec2.create_security_group(GroupName=f"{name}-{key.upper()}-SG", Description=key, VpcId=vpc)["GroupId"]
        for key in ("alb", "db", "app")
    }
    iam = aws.client("iam")
    iam.create_role(RoleName=f"{name}-App-Role", AssumeRolePolicyDocument=json.dumps(TRUST))
    profile = iam.create_instance_profile(InstanceProfileName=f"{name}-App-Profile")["InstanceProfile"]
    iam.add_role_to_instance_profile(InstanceProfileName=f"{name}-App-Profile", RoleName=f"{name}-App-Role")
    return {
        "mattermost_ha_vpc_id": vpc,
        "mattermost_ha_availability_zones": azs,
        "mattermost_ha_public_subnet_ids": public,
        "mattermost_ha_private_subnet_ids": private,
        "mattermost_ha_security_group_ids": groups,
        "mattermost_ha_instance_profile_arn": profile["Arn"],
        "mattermost_ha_instance_profile_name": profile["InstanceProfileName"],
    }


# The front end's inputs for a run against moto, with the switches for what moto cannot store.
EMULATOR_FRONTEND_VARS = {
    "mattermost_ha_site_domain": "chat.example.com",
    "mattermost_ha_db_password": "Lab-Passw0rd!#",
    # moto does not store Performance Insights (reports it off on every read): the lab
    # leaves it off so a second run can be idempotent; AWS runs keep the default on.
    "mattermost_ha_db_performance_insights": False,
    # moto cannot modify private DNS name options: the lab keeps the AWS default, so the
    # module only reads there (resource-name is covered by the Stubber tests).
    "mattermost_ha_app_hostname_type": "ip-name",
    # moto's Aurora parameter groups know no rds.* parameters (AWS's default is already 1).
    "mattermost_ha_db_cluster_parameters": [],
}


def lab_vars(aws, prereqs, zone="", records_file=None, **extra):
    """The -e variables of a local-lab run: prerequisites, site, secrets and the lab switches."""
    values = dict(prereqs)
    values.update(
        mattermost_ha_name="Mattermost",
        mattermost_ha_region=aws.region,
        mattermost_ha_aws_endpoint_url=aws.server.url,
        mattermost_ha_route53_zone=zone,
        **EMULATOR_FRONTEND_VARS,
        mattermost_ha_certificate_records_file=str(records_file or Path(tempfile.mkdtemp()) / "records.csv"),
    )
    values.update(extra)
    return values


def write_vars(path, values):
    Path(path).write_text(yaml.safe_dump(values))
    return f"@{path}"
