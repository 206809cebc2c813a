"""A Mattermost HA deployment's AWS resources, made directly with boto3 in the emulator.

What the provisioning roles create, reduced to what the inventory plugin discovers: app
instances tagged with the deployment, an Aurora PostgreSQL cluster with a writer and a
reader, an Application Load Balancer carrying the site URL, and the file-store bucket.
"""

from dataclasses import dataclass, field

DEPLOYMENT_TAG = "mattermost-ha:deployment"
# moto's us-west-1 knows these two zones only; real accounts differ.
ZONES = ("a", "b")


@dataclass
class Deployment:
    name: str
    region: str
    instance_ids: list = field(default_factory=list)
    private_ips: dict = field(default_factory=dict)
    zones: dict = field(default_factory=dict)
    writer_endpoint: str = ""
    reader_endpoints: list = field(default_factory=list)
    alb_dns_name: str = ""
    site_url: str = ""
    bucket: str = ""


def tags(pairs):
    return [{"Key": k, "Value": v} for k, v in pairs.items()]


def make_network(client, cidr="10.0.0.0/16", deployment=None):
    """A VPC with one subnet per zone: (vpc_id, {zone: subnet_id}); tagged with `deployment` if given."""
    ec2 = client("ec2")
    vpc_tags = [{"ResourceType": "vpc", "Tags": tags({DEPLOYMENT_TAG: deployment})}] if deployment else []
    vpc = ec2.create_vpc(CidrBlock=cidr, TagSpecifications=vpc_tags)["Vpc"]["VpcId"]
    base = cidr.split(".")
    region = ec2.meta.region_name
    subnets = {}
    for index, zone in enumerate(ZONES):
        block = f"{base[0]}.{base[1]}.{index + 1}.0/24"
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=block, AvailabilityZone=f"{region}{zone}")["Subnet"]
        subnets[f"{region}{zone}"] = subnet["SubnetId"]
    return vpc, subnets


def image_id(client):
    """An AMI ID for run_instances: moto does not validate it (listing its AMIs takes seconds)."""
    return "ami-12c6146b"


def create_deployment(
    client,
    name,
    app_count=2,
    site_url="https://chat.example.test",
    with_database=True,
    with_load_balancer=True,
    with_bucket=True,
    subnets=None,
):
    """Create the deployment `name` through `client(service)` (boto3 clients of one region).

    Without `subnets`, in a VPC of its own tagged with the deployment, as provisioning makes it.
    """
    ec2 = client("ec2")
    region = ec2.meta.region_name
    result = Deployment(name=name, region=region)
    if subnets is None:
        _vpc, subnets = make_network(client, deployment=name)
    ami = image_id(client)
    zones = sorted(subnets)
    base = {DEPLOYMENT_TAG: name}

    for number in range(1, app_count + 1):
        zone = zones[(number - 1) % len(zones)]
        instance = ec2.run_instances(
            ImageId=ami,
            InstanceType="t3.medium",
            MinCount=1,
            MaxCount=1,
            SubnetId=subnets[zone],
            TagSpecifications=[
                {
                    "ResourceType": "instance",
                    "Tags": tags(dict(base, **{"mattermost-ha:role": "app", "Name": f"{name}-App-{number:02d}"})),
                }
            ],
        )["Instances"][0]
        result.instance_ids.append(instance["InstanceId"])
        result.private_ips[instance["InstanceId"]] = instance["PrivateIpAddress"]
        result.zones[instance["InstanceId"]] = zone

    lowered = name.lower()
    if with_database:
        rds = client("rds")
        cluster_id = f"{lowered}-db"
        rds.create_db_subnet_group(
            DBSubnetGroupName=f"{cluster_id}-subnets",
            DBSubnetGroupDescription=f"{name} database subnets",
            SubnetIds=[subnets[z] for z in zones],
        )
        rds.create_db_cluster(
            DBClusterIdentifier=cluster_id,
            DBSubnetGroupName=f"{cluster_id}-subnets",
            Engine="aurora-postgresql",
            MasterUsername="mmuser",
            MasterUserPassword="not-a-secret-1",
            Tags=tags(dict(base, Name=f"{name}-DB")),
        )
        for number in (1, 2):
            rds.create_db_instance(
                DBInstanceIdentifier=f"{cluster_id}-{number}",
                DBClusterIdentifier=cluster_id,
                Engine="aurora-postgresql",
                DBInstanceClass="db.r6g.large",
            )
        cluster = rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]
        writers = {m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"] if m["IsClusterWriter"]}
        result.writer_endpoint = cluster["Endpoint"]
        result.reader_endpoints = sorted(
            i["Endpoint"]["Address"]
            for i in rds.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": [cluster_id]}])[
                "DBInstances"
            ]
            if i["DBInstanceIdentifier"] not in writers
        )

    if with_load_balancer:
        alb_tags = dict(base, Name=f"{name}-ALB")
        if site_url:
            alb_tags["mattermost-ha:site-url"] = site_url
        balancer = client("elbv2").create_load_balancer(
            Name=f"{name}-ALB", Subnets=[subnets[z] for z in zones], Tags=tags(alb_tags)
        )["LoadBalancers"][0]
        result.alb_dns_name = balancer["DNSName"]
        result.site_url = site_url or f"https://{balancer['DNSName']}"

    if with_bucket:
        s3 = client("s3")
        result.bucket = f"{lowered}-files-{region}"
        # us-east-1 takes no location constraint.
        location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=result.bucket, **location)
        s3.put_bucket_tagging(
            Bucket=result.bucket,
            Tagging={"TagSet": tags(dict(base, **{"mattermost-ha:purpose": "file-store"}))},
        )
    return result
