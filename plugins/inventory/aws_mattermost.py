# -*- coding: utf-8 -*-

# Copyright: (c) 2026, mattermost_ha.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
name: aws_mattermost
short_description: Inventory of one Mattermost HA deployment on AWS
version_added: 1.0.0
extends_documentation_fragment:
  - inventory_cache
  - constructed
  - amazon.aws.boto3
  - amazon.aws.common.plugins
  - amazon.aws.region.plugins
  - amazon.aws.assume_role.plugins
description:
  - Finds the running EC2 instances of one Mattermost HA deployment (the instances tagged
    C(mattermost-ha:deployment=<deployment>)) and puts them in the group C(mattermost_app) and
    in one group per availability zone, C(mattermost_app_<zone>) (dashes become underscores),
    a child of C(mattermost_app).
  - Discovers from AWS what the node roles need and sets it as variables of every host of
    C(mattermost_app) - the Aurora cluster's identifier (C(mattermost_ha_db_cluster_id), which the
    upgrade's snapshot is taken of), its writer endpoint and the endpoints of its reader
    instances (C(mattermost_ha_db_writer_host), C(mattermost_ha_db_reader_hosts)), the cluster's
    port (C(mattermost_ha_db_endpoint_port)), the site URL and DNS name of the Application Load Balancer
    (C(mattermost_ha_site_url), C(mattermost_ha_alb_dns_name)), the S3 file-store bucket and its
    region (C(mattermost_ha_file_store_bucket_name), C(mattermost_ha_file_store_region)), the region
    the deployment was found in (C(mattermost_ha_deployment_region)) and the deployment
    (C(mattermost_ha_deployment)).
  - Each is a discovered value under a name of its own, never the name of an input, so the inputs
    provisioning reads (C(mattermost_ha_db_port), C(mattermost_ha_file_store_bucket),
    C(mattermost_ha_region)) keep the values given on every host. The node roles read the discovered
    names, whose defaults (roles/common, mattermost_server) fall back to those inputs.
  - They are host variables, so they win over the same names in C(group_vars) files (which beat an
    inventory source's group variables); C(host_vars) files, play variables, C(set_fact) and extra
    variables still win over them (docs/variables.md). O(compose) sees them and may replace them.
  - The deployment's resources are found by their C(mattermost-ha:deployment) tag with a single
    Resource Groups Tagging API call, then described by identifier. The database endpoints are
    computed by the code the C(mattermost_ha.aws.aws_database) role uses (the
    P(mattermost_ha.aws.aurora_endpoints#filter) filter).
  - Sets per host C(mattermost_ha_instance_id), C(mattermost_ha_availability_zone),
    C(mattermost_ha_private_ip), C(mattermost_ha_private_dns_name), C(mattermost_ha_instance_type),
    C(mattermost_ha_instance_tags) and the connection variables chosen by O(connection).
  - The instance tagged C(mattermost-ha:role=monitoring) (the monitoring node C(provision.yml) launches) goes
    in the group C(mattermost_monitoring) instead, with the same host variables. Instances whose
    C(mattermost-ha:role) tag is set to anything else are left out.
  - Aurora clusters tagged C(mattermost-ha:not-serving) are left out - a cluster restored by
    C(playbooks/restore.yml) that the app nodes have not been moved onto, or the one they were moved
    off (docs/backup-restore.md).
  - A tag alone is not trusted. Everything is taken from the deployment's VPC only - the one VPC
    tagged with the deployment (the VPC the collection's provisioning creates) or O(vpc_id).
    Instances, Aurora clusters and load balancers carrying the tag elsewhere are left out, and a
    warning names them. More than one tagged VPC, Aurora cluster or Application Load Balancer in
    it is an error that names each of them, since the database and the admin credentials go to
    the hosts this inventory returns.
  - Credentials, regions, O(endpoint_url), O(assume_role_arn) and caching behave as in
    P(amazon.aws.aws_ec2#inventory), on which this plugin's base class is shared.
  - The inventory file is a YAML configuration file and must end with C(aws_mattermost.yml) or
    C(aws_mattermost.yaml), for example C(production.aws_mattermost.yml).
notes:
  - Permissions needed - C(ec2:DescribeInstances), C(ec2:DescribeVpcs), C(tag:GetResources),
    C(rds:DescribeDBClusters), C(rds:DescribeDBSubnetGroups), C(rds:DescribeDBInstances) and
    C(elasticloadbalancing:DescribeLoadBalancers);
    C(s3:GetBucketLocation) only when several file-store buckets are tagged with the deployment;
    C(ec2:DescribeRegions) only when no region is configured.
  - The AWS API calls made on a cold run with one region are - one C(DescribeInstances)
    filtered server-side by the deployment tag and the C(running) state, and, only when
    instances were found, one C(DescribeVpcs), one C(GetResources), one C(DescribeDBClusters)
    and one C(DescribeDBSubnetGroups) per tagged cluster, one C(DescribeDBInstances) and one
    C(DescribeLoadBalancers). With O(cache) enabled and a fresh
    cache, none. All clients come from one boto3 session.
  - The file-store bucket's region is the region it was found in (C(GetResources) lists the
    buckets located in the region asked); only when several buckets are tagged with the
    deployment is C(GetBucketLocation) asked, and the one in the deployment's region is used.
  - A variable that cannot be discovered (for example no load balancer exists yet) is left
    undefined, and a warning names it.
author:
  - mattermost_ha.aws maintainers (@mattermost-ha)
options:
  plugin:
    description: Token that ensures this is a source file for the plugin.
    required: true
    choices: ['mattermost_ha.aws.aws_mattermost']
    type: str
  deployment:
    description:
      - Name of the deployment, the value of the C(mattermost-ha:deployment) tag carried by
        every resource of the deployment (the collection's C(mattermost_ha_name)).
    required: true
    type: str
  regions:
    description:
      - The regions in which to look for the deployment's instances.
      - If empty (the default), the region of O(region) (or the C(AWS_REGION) environment variable)
        is used; if that is not set either, every region that C(DescribeRegions) returns.
      - The instances of one deployment must all be in one region.
    type: list
    elements: str
    default: []
  hostnames:
    description:
      - Where the inventory hostname of an instance comes from, in order of preference.
      - Each element is C(tag:<key>) (the value of that tag), C(instance-id),
        C(private-ip-address), C(private-dns-name), C(ip-address) (public IPv4) or
        C(dns-name) (public DNS name).
      - The first preference that gives a value not already used by another instance wins;
        the instance ID is the last resort, so two instances never share a name.
      - Hosts are added in the order of their names, which is the order plays take them in (a
        rolling restart or upgrade goes through the nodes in name order).
    type: list
    elements: str
    default: ['tag:Name', 'instance-id']
  connection:
    description:
      - How Ansible reaches the instances.
      - V(instance_connect) - SSH through an EC2 Instance Connect Endpoint. Sets C(ansible_host) to the
        instance ID and C(ansible_ssh_common_args) to an SSH C(ProxyCommand) that runs
        C(aws ec2-instance-connect open-tunnel --instance-id <id> --region <region>) (plus
        C(--instance-connect-endpoint-id) and C(--profile) when O(instance_connect_endpoint_id)
        and O(profile) are set). Needs the AWS CLI v2 on the controller, C(ec2-instance-connect:OpenTunnel)
        permission, and the instance's SSH key (C(ansible_ssh_private_key_file)).
      - V(ssm) - AWS Systems Manager Session Manager through P(amazon.aws.aws_ssm#connection). Sets
        C(ansible_connection), C(ansible_aws_ssm_instance_id), C(ansible_aws_ssm_region) and, when
        O(ssm_bucket_name) is set, C(ansible_aws_ssm_bucket_name). Needs the Session Manager plugin on
        the controller and the SSM agent and instance role on the instances.
      - V(ssh) - plain SSH to the private IPv4 address (C(ansible_host)), for a controller inside the VPC
        or behind a VPN.
      - V(none) - no connection variable is set; set them yourself (for example with O(compose)).
    type: str
    choices: ['instance_connect', 'ssm', 'ssh', 'none']
    default: instance_connect
  remote_user:
    description:
      - Value of C(ansible_user) for the V(instance_connect) and V(ssh) connections.
      - The default is the user of Amazon Linux images. An empty string sets no C(ansible_user).
    type: str
    default: ec2-user
  instance_connect_endpoint_id:
    description:
      - ID of the EC2 Instance Connect Endpoint to tunnel through (C(eice-...)).
      - If not set, the AWS CLI picks the endpoint of the instance's VPC.
    type: str
  instance_connect_cli:
    description:
      - The AWS CLI command used in the V(instance_connect) C(ProxyCommand), split into words like a
        shell command line (quote a path with spaces), for example C(/usr/local/bin/aws).
    type: str
    default: aws
  ssm_bucket_name:
    description:
      - S3 bucket that P(amazon.aws.aws_ssm#connection) uses to transfer files, set as
        C(ansible_aws_ssm_bucket_name) with O(connection=ssm).
      - Use a bucket of its own, not the Mattermost file store.
    type: str
  vpc_id:
    description:
      - ID of the deployment's VPC. Only instances, Aurora clusters and load balancers in it are taken.
      - If not set, the VPC is the one tagged C(mattermost-ha:deployment=<deployment>) in the
        instances' region; the inventory fails when no VPC or more than one carries the tag.
    type: str
  file_store_bucket:
    description:
      - Name of the Mattermost file-store bucket. When set, the bucket is not discovered.
      - Otherwise the bucket is the one tagged with the deployment and C(mattermost-ha:purpose=file-store).
    type: str
  file_store_region:
    description:
      - Region of O(file_store_bucket). Defaults to the region of the instances.
      - Ignored when the bucket is discovered (its location is read from S3).
    type: str
"""

EXAMPLES = r"""
# inventories/aws/production.aws_mattermost.yml - the instances of the deployment "Mattermost"
# in us-east-1, reached through the EC2 Instance Connect Endpoint of their VPC.
plugin: mattermost_ha.aws.aws_mattermost
deployment: Mattermost
regions:
  - us-east-1

---

# Session Manager instead of SSH; hostnames are the instance IDs; results cached for an hour.
plugin: mattermost_ha.aws.aws_mattermost
deployment: Mattermost
regions:
  - us-east-1
hostnames:
  - instance-id
connection: ssm
ssm_bucket_name: mattermost-ansible-ssm-transfer
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/ansible/aws_mattermost
cache_timeout: 3600

---

# Constructed features: a group per instance type, and the first node as the one
# that runs the database migrations.
plugin: mattermost_ha.aws.aws_mattermost
deployment: Mattermost
profile: production
keyed_groups:
  - key: mattermost_ha_instance_type
    prefix: instance_type
groups:
  mattermost_first: mattermost_ha_instance_tags.Name is defined and mattermost_ha_instance_tags.Name.endswith('-01')
compose:
  mattermost_ha_node_label: mattermost_ha_availability_zone
strict: true
"""

import shlex

try:  # noqa: SIM105 - the amazon.aws convention; a missing SDK is reported by require_aws_sdk() in parse()
    import boto3
    import botocore
except ImportError:
    pass

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.plugin_utils.botocore import get_aws_connection_info
from ansible_collections.amazon.aws.plugins.plugin_utils.inventory import AWSInventoryBase

from ansible_collections.mattermost_ha.aws.plugins.module_utils import discovered

DEPLOYMENT_TAG = "mattermost-ha:deployment"
ROLE_TAG = "mattermost-ha:role"
PURPOSE_TAG = "mattermost-ha:purpose"
SITE_URL_TAG = "mattermost-ha:site-url"
NOT_SERVING_TAG = "mattermost-ha:not-serving"
APP_GROUP = "mattermost_app"
MONITORING_GROUP = "mattermost_monitoring"
# mattermost-ha:role tag -> inventory group (an instance without the tag is an app node).
ROLE_GROUPS = {"app": APP_GROUP, "monitoring": MONITORING_GROUP}

# Hostname preferences other than tag:<key>, and the instance record field each reads.
HOSTNAME_FIELDS = {
    "instance-id": "instance_id",
    "private-ip-address": "private_ip",
    "private-dns-name": "private_dns_name",
    "ip-address": "public_ip",
    "dns-name": "public_dns_name",
}

RESOURCE_TYPES = ["rds:cluster", "elasticloadbalancing:loadbalancer", "s3"]


# ---------------------------------------------------------------------------------------------
# Pure helpers (unit-tested): AWS responses in, plain data out.


def instance_record(instance, region):
    """The part of a DescribeInstances instance the inventory keeps (and caches): JSON-safe."""
    placement = instance.get("Placement") or {}
    return {
        "instance_id": instance["InstanceId"],
        "region": region,
        "availability_zone": placement.get("AvailabilityZone", ""),
        "private_ip": instance.get("PrivateIpAddress") or "",
        "private_dns_name": instance.get("PrivateDnsName") or "",
        "public_ip": instance.get("PublicIpAddress") or "",
        "public_dns_name": instance.get("PublicDnsName") or "",
        "instance_type": instance.get("InstanceType", ""),
        "vpc_id": instance.get("VpcId") or "",
        "tags": boto3_tag_list_to_ansible_dict(instance.get("Tags", [])),
    }


def instance_group(record):
    """mattermost_app for role app (or no role tag), mattermost_monitoring for monitoring, else None."""
    return ROLE_GROUPS.get(record["tags"].get(ROLE_TAG, "app"))


def hostname_candidates(record, preferences):
    """The names an instance could get, in order of preference (empty values skipped)."""
    names = []
    for preference in preferences:
        if preference.startswith("tag:"):
            value = record["tags"].get(preference[len("tag:") :])
        elif preference in HOSTNAME_FIELDS:
            value = record.get(HOSTNAME_FIELDS[preference])
        else:
            raise ValueError(
                f"unknown hostnames preference {preference!r}: use tag:<key> or one of {', '.join(HOSTNAME_FIELDS)}"
            )
        if value:
            names.append(to_text(value))
    return names


def assign_hostnames(records, preferences):
    """Map instance ID -> inventory hostname: first free preference, the instance ID as last resort."""
    used = set()
    names = {}
    for record in sorted(records, key=lambda r: r["instance_id"]):
        name = next((n for n in hostname_candidates(record, preferences) if n not in used), record["instance_id"])
        used.add(name)
        names[record["instance_id"]] = name
    return names


def az_group_name(availability_zone, prefix=APP_GROUP):
    """mattermost_app_us_east_1a for us-east-1a."""
    return f"{prefix}_{availability_zone.replace('-', '_')}"


def arn_resource_type(arn):
    """'rds:cluster', 'elasticloadbalancing:loadbalancer/app', 's3' ... from an ARN."""
    parts = arn.split(":", 5)
    service, resource = parts[2], parts[5]
    if service == "s3":
        return "s3"
    if service == "rds":
        return f"rds:{resource.split(':', 1)[0]}"
    if service == "elasticloadbalancing":
        kind = resource.split("/")
        # loadbalancer/app/<name>/<id> (ALB), loadbalancer/net/... (NLB), loadbalancer/<name> (classic)
        return f"elasticloadbalancing:loadbalancer/{kind[1]}" if len(kind) == 4 else "elasticloadbalancing:classic"
    return f"{service}:{resource.split('/')[0]}"


def classify_resources(mappings):
    """Sort GetResources results into clusters, ALBs and file-store buckets: lists of (arn, tags), by ARN."""
    found = {"clusters": [], "load_balancers": [], "buckets": []}
    for mapping in sorted(mappings, key=lambda m: m["ResourceARN"]):
        arn = mapping["ResourceARN"]
        tags = boto3_tag_list_to_ansible_dict(mapping.get("Tags", []))
        kind = arn_resource_type(arn)
        if kind == "rds:cluster":
            found["clusters"].append((arn, tags))
        elif kind == "elasticloadbalancing:loadbalancer/app":
            found["load_balancers"].append((arn, tags))
        elif kind == "s3" and tags.get(PURPOSE_TAG) == "file-store":
            found["buckets"].append((arn.split(":::", 1)[1], tags))
    # The ALB that declares the site URL first.
    found["load_balancers"].sort(key=lambda item: SITE_URL_TAG not in item[1])
    return found


def database_endpoints(cluster, instances):
    """The database variables of the nodes from DescribeDBClusters and DescribeDBInstances entries,
    computed by the code the aws_database role uses too (the aurora_endpoints filter)."""
    endpoints = discovered.database_endpoints(
        camel_dict_to_snake_dict(cluster), [camel_dict_to_snake_dict(i) for i in instances]
    )
    return {
        "mattermost_ha_db_cluster_id": cluster.get("DBClusterIdentifier", ""),
        "mattermost_ha_db_writer_host": endpoints["writer_host"],
        "mattermost_ha_db_endpoint_port": endpoints["port"],
        "mattermost_ha_db_reader_hosts": endpoints["reader_hosts"],
    }


def site_url(tags, dns_name):
    """The site URL the ALB is tagged with, else https://<ALB DNS name>."""
    return tags.get(SITE_URL_TAG) or f"https://{dns_name}"


def instance_connect_proxy_command(instance_id, region, cli="aws", endpoint_id=None, profile=None):
    """ProxyCommand that opens a websocket tunnel through the EC2 Instance Connect Endpoint."""
    argv = shlex.split(cli) + ["ec2-instance-connect", "open-tunnel", "--instance-id", instance_id]
    if endpoint_id:
        argv += ["--instance-connect-endpoint-id", endpoint_id]
    argv += ["--region", region]
    if profile:
        argv += ["--profile", profile]
    return shlex.join(argv)


def connection_vars(record, connection, remote_user="", endpoint_id=None, cli="aws", profile=None, ssm_bucket=None):
    """The connection variables of one host for the chosen connection mode."""
    instance_id, region = record["instance_id"], record["region"]
    if connection == "instance_connect":
        proxy = instance_connect_proxy_command(instance_id, region, cli=cli, endpoint_id=endpoint_id, profile=profile)
        result = {
            "ansible_host": instance_id,
            # Quoted so that the ssh connection plugin's shlex split keeps it one argument.
            "ansible_ssh_common_args": f"-o ProxyCommand={shlex.quote(proxy)}",
        }
    elif connection == "ssm":
        result = {
            "ansible_connection": "amazon.aws.aws_ssm",
            "ansible_host": instance_id,
            "ansible_aws_ssm_instance_id": instance_id,
            "ansible_aws_ssm_region": region,
        }
        if ssm_bucket:
            result["ansible_aws_ssm_bucket_name"] = ssm_bucket
        if profile:
            result["ansible_aws_ssm_profile"] = profile
    elif connection == "ssh":
        result = {"ansible_host": record["private_ip"] or instance_id}
    else:
        result = {}
    if remote_user and connection in ("instance_connect", "ssh"):
        result["ansible_user"] = remote_user
    return result


def host_vars(record):
    """Per-host variables (the deployment-wide ones are added to them by _populate)."""
    return {
        "mattermost_ha_instance_id": record["instance_id"],
        "mattermost_ha_availability_zone": record["availability_zone"],
        "mattermost_ha_private_ip": record["private_ip"],
        "mattermost_ha_private_dns_name": record["private_dns_name"],
        "mattermost_ha_instance_type": record["instance_type"],
        "mattermost_ha_instance_tags": record["tags"],
    }


# ---------------------------------------------------------------------------------------------
# AWS calls


@AWSRetry.jittered_backoff()
def _describe_instances(client, filters):
    return client.get_paginator("describe_instances").paginate(Filters=filters).build_full_result()


@AWSRetry.jittered_backoff()
def _get_resources(client, tag_filters, resource_types):
    paginator = client.get_paginator("get_resources")
    return paginator.paginate(TagFilters=tag_filters, ResourceTypeFilters=resource_types).build_full_result()


@AWSRetry.jittered_backoff()
def _describe_vpcs(client, filters):
    return client.describe_vpcs(Filters=filters)["Vpcs"]


@AWSRetry.jittered_backoff()
def _describe_db_cluster(client, identifier):
    return client.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]


@AWSRetry.jittered_backoff()
def _db_subnet_group_vpc(client, name):
    try:
        return client.describe_db_subnet_groups(DBSubnetGroupName=name)["DBSubnetGroups"][0]["VpcId"]
    except botocore.exceptions.ClientError as e:
        if e.response["Error"]["Code"] == "DBSubnetGroupNotFoundFault":
            return None
        raise


@AWSRetry.jittered_backoff()
def _describe_cluster_instances(client, cluster_id):
    paginator = client.get_paginator("describe_db_instances")
    filters = [{"Name": "db-cluster-id", "Values": [cluster_id]}]
    return paginator.paginate(Filters=filters).build_full_result()["DBInstances"]


@AWSRetry.jittered_backoff()
def _describe_load_balancers(client, arns):
    return client.describe_load_balancers(LoadBalancerArns=arns)["LoadBalancers"]


@AWSRetry.jittered_backoff()
def _bucket_region(client, bucket):
    # Buckets in us-east-1 have a null LocationConstraint.
    return client.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"


class InventoryModule(AWSInventoryBase):
    NAME = "mattermost_ha.aws.aws_mattermost"
    INVENTORY_FILE_SUFFIXES = ("aws_mattermost.yml", "aws_mattermost.yaml")

    class TemplatedOptions(AWSInventoryBase.TemplatedOptions):
        TEMPLATABLE_OPTIONS = AWSInventoryBase.TemplatedOptions.TEMPLATABLE_OPTIONS + (
            "deployment",
            "file_store_bucket",
            "ssm_bucket_name",
            "vpc_id",
        )

    def __init__(self):
        super().__init__()
        self._connection_info = None
        self._sessions = {}

    def client(self, service, retry_decorator=None, region=None, **extra_params):
        """A boto3 client configured as the base class does (options, environment, assumed role),
        made from one boto3 session per profile: botocore then loads its endpoint data once
        instead of once per client, which is most of the cost of a cold run."""
        if self._connection_info is None:
            self._connection_info = get_aws_connection_info(self)
        default_region, endpoint_url, params = self._connection_info
        params = dict(params, **self._frozen_credentials)
        params.update(extra_params)
        profile = params.pop("profile_name", None)
        config = botocore.config.Config(user_agent_extra="mattermost_ha.aws/aws_mattermost")
        aws_config = params.pop("aws_config", None)
        if aws_config is not None:
            config = config.merge(aws_config)
        try:
            if profile not in self._sessions:
                self._sessions[profile] = boto3.session.Session(profile_name=profile)
            client = self._sessions[profile].client(
                service, region_name=region or default_region, endpoint_url=endpoint_url, config=config, **params
            )
        except botocore.exceptions.NoRegionError:
            self.fail_aws(f"The {self.NAME} plugin needs a region: set regions, region or AWS_REGION")
        except (ValueError, botocore.exceptions.BotoCoreError) as e:
            self.fail_aws("Couldn't connect to AWS", exception=e)
        return client if retry_decorator is None else RetryingBotoClientWrapper(client, retry_decorator)

    # --- discovery -------------------------------------------------------------------------

    def _regions(self):
        regions = self.get_option("regions")
        if regions:
            return regions
        if self.region:
            return [self.region]
        return self._boto3_regions(service="ec2")

    def _find_instances(self, deployment):
        filters = [
            {"Name": f"tag:{DEPLOYMENT_TAG}", "Values": [deployment]},
            {"Name": "instance-state-name", "Values": ["running"]},
        ]
        records = []
        for region in self._regions():
            client = self.client("ec2", region=region)
            try:
                reservations = _describe_instances(client, filters).get("Reservations", [])
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
                self.fail_aws(f"Failed to describe the instances of {deployment} in {region}", exception=e)
            for reservation in reservations:
                records.extend(instance_record(i, region) for i in reservation["Instances"])
        return sorted((r for r in records if instance_group(r)), key=lambda r: r["instance_id"])

    def _deployment_vpc(self, deployment, regions):
        """(VPC ID, region) of the deployment: O(vpc_id), else the one VPC tagged with the deployment."""
        configured = self.get_option("vpc_id")
        if configured:
            filters, what = [{"Name": "vpc-id", "Values": [configured]}], f"vpc_id {configured}"
        else:
            filters = [{"Name": f"tag:{DEPLOYMENT_TAG}", "Values": [deployment]}]
            what = f"{DEPLOYMENT_TAG}={deployment}"
        found = []
        for region in regions:
            try:
                vpcs = _describe_vpcs(self.client("ec2", region=region), filters)
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
                self.fail_aws(f"Failed to describe the VPCs of {deployment} in {region}", exception=e)
            found.extend((vpc["VpcId"], region) for vpc in vpcs)
        if not found:
            self.fail_aws(
                f"aws_mattermost: no VPC found for {what} in {', '.join(regions)}, where instances of {deployment} "
                "run; the inventory takes hosts from the deployment's VPC only (set vpc_id for a VPC without the tag)"
            )
        if len(found) > 1:
            several = " in several regions" if len({region for _vpc, region in found}) > 1 else ""
            self.fail_aws(
                f"aws_mattermost: more than one VPC is tagged {DEPLOYMENT_TAG}={deployment}{several}: "
                f"{', '.join(f'{vpc} ({region})' for vpc, region in found)}; remove the tag from the VPCs that are "
                "not the deployment's, or set vpc_id"
            )
        return found[0]

    def _discover_deployment(self, deployment, region, vpc_id):
        """Deployment-wide variables, from the resources tagged with the deployment in its VPC."""
        found = {"mattermost_ha_deployment": deployment, "mattermost_ha_deployment_region": region}
        tagging = self.client("resourcegroupstaggingapi", region=region)
        try:
            mappings = _get_resources(tagging, [{"Key": DEPLOYMENT_TAG, "Values": [deployment]}], RESOURCE_TYPES)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self.fail_aws(f"Failed to find the resources tagged {DEPLOYMENT_TAG}={deployment} in {region}", exception=e)
        resources = classify_resources(mappings.get("ResourceTagMappingList", []))

        found.update(self._discover_database(resources["clusters"], deployment, region, vpc_id))
        found.update(self._discover_load_balancer(resources["load_balancers"], deployment, region, vpc_id))
        found.update(self._discover_bucket(resources["buckets"], deployment, region))
        return found

    def _only_one_in_vpc(self, candidates, vpc_of, what, deployment, vpc_id):
        """The one candidate (an ARN) in the deployment's VPC; the others are warned about or refused."""
        outside = [arn for arn in candidates if vpc_of[arn] != vpc_id]
        if outside:
            self.warn(
                f"aws_mattermost: left out {what}s tagged {DEPLOYMENT_TAG}={deployment} outside the deployment's "
                f"VPC {vpc_id}: {', '.join(outside)}"
            )
        inside = [arn for arn in candidates if vpc_of[arn] == vpc_id]
        if len(inside) > 1:
            self.fail_aws(
                f"aws_mattermost: {len(inside)} {what}s are tagged {DEPLOYMENT_TAG}={deployment} in its VPC {vpc_id}: "
                f"{', '.join(inside)}; a deployment has one: remove the tag from the others"
            )
        if not inside:
            self.warn(f"aws_mattermost: no {what} tagged {DEPLOYMENT_TAG}={deployment} found in its VPC {vpc_id}")
            return None
        return inside[0]

    def _discover_database(self, clusters, deployment, region, vpc_id):
        clusters = [(arn, tags) for arn, tags in clusters if NOT_SERVING_TAG not in tags]
        if not clusters:
            self.warn(f"aws_mattermost: no Aurora cluster tagged {DEPLOYMENT_TAG}={deployment} found")
            return {}
        rds = self.client("rds", region=region)
        try:
            described = {arn: _describe_db_cluster(rds, arn) for arn, _tags in clusters}
            vpc_of = {arn: _db_subnet_group_vpc(rds, c.get("DBSubnetGroup", "")) for arn, c in described.items()}
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self.fail_aws(f"Failed to describe the Aurora clusters tagged {DEPLOYMENT_TAG}={deployment}", exception=e)
        arn = self._only_one_in_vpc(list(described), vpc_of, "Aurora cluster", deployment, vpc_id)
        if arn is None:
            return {}
        cluster = described[arn]
        try:
            instances = _describe_cluster_instances(rds, cluster["DBClusterIdentifier"])
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self.fail_aws(f"Failed to describe the instances of the Aurora cluster {arn}", exception=e)
        return database_endpoints(cluster, instances)

    def _discover_load_balancer(self, load_balancers, deployment, region, vpc_id):
        if not load_balancers:
            self.warn(f"aws_mattermost: no Application Load Balancer tagged {DEPLOYMENT_TAG}={deployment} found")
            return {}
        try:
            described = _describe_load_balancers(self.client("elbv2", region=region), [a for a, _t in load_balancers])
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self.fail_aws(f"Failed to describe the load balancers tagged {DEPLOYMENT_TAG}={deployment}", exception=e)
        by_arn = {balancer["LoadBalancerArn"]: balancer for balancer in described}
        vpc_of = {arn: by_arn[arn].get("VpcId") for arn in by_arn}
        arn = self._only_one_in_vpc(
            [a for a, _t in load_balancers if a in by_arn], vpc_of, "Application Load Balancer", deployment, vpc_id
        )
        if arn is None:
            return {}
        dns_name = by_arn[arn]["DNSName"]
        return {
            "mattermost_ha_alb_dns_name": dns_name,
            "mattermost_ha_site_url": site_url(dict(load_balancers)[arn], dns_name),
        }

    def _discover_bucket(self, buckets, deployment, region):
        configured = self.get_option("file_store_bucket")
        if configured:
            return {
                "mattermost_ha_file_store_bucket_name": configured,
                "mattermost_ha_file_store_region": self.get_option("file_store_region") or region,
            }
        if not buckets:
            self.warn(
                f"aws_mattermost: no S3 bucket tagged {DEPLOYMENT_TAG}={deployment} and {PURPOSE_TAG}=file-store "
                "found; set file_store_bucket"
            )
            return {}
        if len(buckets) == 1:
            # GetResources in a region lists the buckets located in that region.
            return {"mattermost_ha_file_store_bucket_name": buckets[0][0], "mattermost_ha_file_store_region": region}
        # Several candidates (emulators list the buckets of every region): ask S3 where each is.
        s3 = self.client("s3", region=region)
        try:
            located = [(name, _bucket_region(s3, name)) for name, _tags in buckets]
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self.fail_aws("Failed to read the location of the file-store buckets", exception=e)
        located.sort(key=lambda item: item[1] != region)
        if sum(1 for _name, where in located if where == region) > 1:
            self.warn(f"aws_mattermost: several file-store buckets for {deployment}; using {located[0][0]}")
        return {"mattermost_ha_file_store_bucket_name": located[0][0], "mattermost_ha_file_store_region": located[0][1]}

    def _query(self, deployment):
        records = self._find_instances(deployment)
        if not records:
            return {"instances": [], "deployment": {}}
        vpc_id, region = self._deployment_vpc(deployment, sorted({r["region"] for r in records}))
        outside = [r["instance_id"] for r in records if (r.get("vpc_id"), r["region"]) != (vpc_id, region)]
        if outside:
            self.warn(
                f"aws_mattermost: left out instances tagged {DEPLOYMENT_TAG}={deployment} outside the deployment's "
                f"VPC {vpc_id}: {', '.join(outside)}"
            )
        records = [r for r in records if r["instance_id"] not in outside]
        return {"instances": records, "deployment": self._discover_deployment(deployment, region, vpc_id)}

    # --- inventory -------------------------------------------------------------------------

    def _populate(self, results):
        strict = self.get_option("strict")
        self.inventory.add_group(APP_GROUP)
        self.inventory.add_group(MONITORING_GROUP)

        names = assign_hostnames(results["instances"], self.get_option("hostnames"))
        # Hosts are added in name order, which is the order of every play on mattermost_app: a
        # rolling restart or upgrade goes -01, -02, ... whatever the random instance IDs.
        for record in sorted(results["instances"], key=lambda r: names[r["instance_id"]]):
            name = names[record["instance_id"]]
            group = instance_group(record)
            self.inventory.add_host(name, group=group)
            if group == APP_GROUP:
                zone_group = self.inventory.add_group(az_group_name(record["availability_zone"]))
                self.inventory.add_child(APP_GROUP, zone_group)
                self.inventory.add_host(name, group=zone_group)

            # The deployment's variables are set on every host, not on the group: variables an
            # inventory source sets on a group lose to group_vars files, on a host they win.
            variables = dict(results["deployment"])
            variables.update(host_vars(record))
            variables.update(
                connection_vars(
                    record,
                    self.get_option("connection"),
                    remote_user=self.get_option("remote_user"),
                    endpoint_id=self.get_option("instance_connect_endpoint_id"),
                    cli=self.get_option("instance_connect_cli"),
                    profile=self.get_option("profile"),
                    ssm_bucket=self.get_option("ssm_bucket_name"),
                )
            )
            for key, value in variables.items():
                self.inventory.set_variable(name, key, value)

            # Constructed features see the deployment's variables and the host's.
            self._set_composite_vars(self.get_option("compose"), variables, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), variables, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, name, strict=strict)

    def parse(self, inventory, loader, path, cache=True):
        # One plugin instance may parse several sources: no connection settings carried over.
        self._connection_info = None
        self._sessions = {}
        super().parse(inventory, loader, path, cache=cache)

        deployment = self.get_option("deployment")
        if not deployment:
            self.fail_aws("The deployment option must name the deployment (the mattermost-ha:deployment tag value)")
        for preference in self.get_option("hostnames"):
            if not preference.startswith("tag:") and preference not in HOSTNAME_FIELDS:
                self.fail_aws(
                    f"Unknown hostnames preference {preference!r}: use tag:<key> or one of {', '.join(HOSTNAME_FIELDS)}"
                )

        result_was_cached, results = self.get_cached_result(path, cache)
        if not result_was_cached:
            results = self._query(deployment)

        self._populate(results)
        self.update_cached_result(path, cache, results)
