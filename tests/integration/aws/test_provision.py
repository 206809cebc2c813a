"""playbooks/provision.yml and teardown.yml against the moto server, asserted with boto3.

One provision run serves every shape test of this module, network and front end (certificate
validated in a Route 53 zone, load balancer, Aurora, app instances); it costs about two
minutes. Then a second run and a --check run must change nothing, the app instances are
scaled down and up again, and the teardown must leave nothing behind. The tests run in file
order and share the deployment, so keep that order.

The EC2 Instance Connect Endpoint is off here: moto does not implement its API (500
NotImplemented). The module is covered by tests/unit/plugins/modules/test_ec2_instance_connect_endpoint.py.
"""

import json

import boto3
import pytest
from frontend_prereqs import EMULATOR_FRONTEND_VARS
from harness.ansible import run_playbook

pytestmark = pytest.mark.slow

NAME = "Mattermost"
REGION = "us-west-1"
TAG = "mattermost-ha:deployment"
PUBLIC = ["10.0.0.0/24", "10.0.1.0/24"]
PRIVATE = ["10.0.2.0/24", "10.0.3.0/24"]
ZONE = "example.com"
COPY_REGION = "eu-central-1"
SITE = EMULATOR_FRONTEND_VARS["mattermost_ha_site_domain"]
VARS = {
    "mattermost_ha_region": REGION,
    "mattermost_ha_name": NAME,
    "mattermost_ha_admin_cidrs": ["203.0.113.0/24"],
    "mattermost_ha_tags": {"Environment": "test"},
    "mattermost_ha_instance_connect_endpoint": False,
    **EMULATOR_FRONTEND_VARS,
    "mattermost_ha_route53_zone": ZONE,
    "mattermost_ha_backup_copy_region": COPY_REGION,
    "mattermost_ha_instance_cloudwatch_agent": True,
}
# What teardown.yml needs to find everything (the site domain and zone: certificate and alias).
TEARDOWN_VARS = {
    "mattermost_ha_region": REGION,
    "mattermost_ha_name": NAME,
    "mattermost_ha_site_domain": SITE,
    "mattermost_ha_route53_zone": ZONE,
    "mattermost_ha_backup_copy_region": COPY_REGION,
}
# Writes the facts the provisioning roles published (run after provision.yml, in one call).
PUBLISHED_FACTS = "tests/integration/aws/playbooks/published_facts.yml"


class Account:
    def __init__(self, server):
        self.env = server.env(REGION)
        self.session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", aws_session_token="testing",
            region_name=REGION,
        )
        self.url = server.url

    def client(self, service, region=REGION):
        return self.session.client(service, endpoint_url=self.url, region_name=region)


def tags(resource):
    return {t["Key"]: t["Value"] for t in resource.get("Tags", resource.get("tags", []))}


def by_deployment(name=NAME):
    return [{"Name": f"tag:{TAG}", "Values": [name]}]


def provision(deployment, *args, mitogen=False, **extra):
    return run_playbook("playbooks/provision.yml", *args, "-e", json.dumps({**VARS, **extra}), env=deployment.env,
                        mitogen=mitogen)


@pytest.fixture(scope="module")
def deployment(moto_server, tmp_path_factory):
    moto_server.reset()
    account = Account(moto_server)
    zone = account.client("route53").create_hosted_zone(Name=ZONE, CallerReference="test-provision")["HostedZone"]
    account.zone_id = zone["Id"].split("/")[-1]
    facts_file = tmp_path_factory.mktemp("provision") / "published.json"
    account.first_run = provision(account, PUBLISHED_FACTS, published_facts_file=str(facts_file))
    account.published = json.loads(facts_file.read_text())
    ec2 = account.client("ec2")
    account.vpc = ec2.describe_vpcs(Filters=by_deployment())["Vpcs"][0]
    account.account_id = account.client("sts").get_caller_identity()["Account"]
    account.bucket = f"mattermost-ha-mattermost-{account.account_id}-{REGION}"
    account.log_bucket = f"mattermost-alb-logs-{account.account_id}-{REGION}"
    yield account
    moto_server.reset()


def subnets(deployment, tier):
    ec2 = deployment.client("ec2")
    found = ec2.describe_subnets(Filters=by_deployment() + [{"Name": "tag:mattermost-ha:tier", "Values": [tier]}])
    return sorted(found["Subnets"], key=lambda s: s["AvailabilityZone"])


def test_first_run_changed_something(deployment):
    assert deployment.first_run.changed > 0
    assert deployment.first_run.failed == 0


def test_vpc(deployment):
    ec2 = deployment.client("ec2")
    vpc = deployment.vpc
    assert vpc["CidrBlock"] == "10.0.0.0/16"
    assert vpc["InstanceTenancy"] == "default"
    assert tags(vpc) == {"Name": "Mattermost-VPC", TAG: NAME, "Environment": "test"}
    for attribute, key in (("enableDnsHostnames", "EnableDnsHostnames"), ("enableDnsSupport", "EnableDnsSupport")):
        assert ec2.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute=attribute)[key]["Value"] is True
    assert len(ec2.describe_vpcs(Filters=by_deployment())["Vpcs"]) == 1


def test_subnets_two_zones_no_public_ips(deployment):
    described = deployment.client("ec2").describe_availability_zones()["AvailabilityZones"]
    zones = sorted(z["ZoneName"] for z in described)[:2]
    public, private = subnets(deployment, "public"), subnets(deployment, "private")
    assert [(s["AvailabilityZone"], s["CidrBlock"]) for s in public] == list(zip(zones, PUBLIC, strict=True))
    assert [(s["AvailabilityZone"], s["CidrBlock"]) for s in private] == list(zip(zones, PRIVATE, strict=True))
    for subnet in public + private:
        assert subnet["VpcId"] == deployment.vpc["VpcId"]
        assert subnet["MapPublicIpOnLaunch"] is False
        assert tags(subnet)[TAG] == NAME and tags(subnet)["Environment"] == "test"
    assert tags(public[0])["Name"] == f"Mattermost-subnet-public1-{zones[0]}"
    assert tags(private[1])["Name"] == f"Mattermost-subnet-private2-{zones[1]}"


def test_routing_public_to_igw_private_to_nat_of_same_zone(deployment):
    ec2 = deployment.client("ec2")
    vpc_id = deployment.vpc["VpcId"]
    in_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    igws = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])
    igws = igws["InternetGateways"]
    assert len(igws) == 1 and tags(igws[0])[TAG] == NAME
    nats = ec2.describe_nat_gateways(Filter=in_vpc + [{"Name": "state", "Values": ["available"]}])
    nats = nats["NatGateways"]
    public, private = subnets(deployment, "public"), subnets(deployment, "private")
    # One NAT gateway per zone, each in that zone's public subnet, each with its own EIP.
    assert sorted(n["SubnetId"] for n in nats) == sorted(s["SubnetId"] for s in public)
    assert len({n["NatGatewayAddresses"][0]["AllocationId"] for n in nats}) == 2
    assert all(tags(n)[TAG] == NAME for n in nats)
    nat_of_subnet = {n["SubnetId"]: n["NatGatewayId"] for n in nats}
    nat_zones = [s["AvailabilityZone"] for s in public if s["SubnetId"] in nat_of_subnet]

    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]

    def table_of(subnet_id):
        found = [t for t in tables if any(a.get("SubnetId") == subnet_id for a in t["Associations"])]
        assert len(found) == 1, subnet_id
        return found[0]

    def default_route(table):
        routes = [r for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
        assert len(routes) == 1
        return routes[0]

    public_tables = {table_of(s["SubnetId"])["RouteTableId"] for s in public}
    assert len(public_tables) == 1
    assert default_route(table_of(public[0]["SubnetId"]))["GatewayId"] == igws[0]["InternetGatewayId"]
    assert tags(table_of(public[0]["SubnetId"]))["Name"] == "Mattermost-rtb-public"
    private_tables = {table_of(s["SubnetId"])["RouteTableId"] for s in private}
    assert len(private_tables) == 2 and not private_tables & public_tables
    for index, subnet in enumerate(private):
        route = default_route(table_of(subnet["SubnetId"]))
        assert route["NatGatewayId"] == nat_of_subnet[public[index]["SubnetId"]]
        assert "GatewayId" not in route or not route["GatewayId"].startswith("igw-")
    addresses = ec2.describe_addresses(Filters=by_deployment())["Addresses"]
    assert len(addresses) == 2
    assert {a["AllocationId"] for a in addresses} == {n["NatGatewayAddresses"][0]["AllocationId"] for n in nats}
    assert sorted(tags(a)["Name"] for a in addresses) == [f"Mattermost-eip-{z}" for z in sorted(nat_zones)]


def test_s3_gateway_endpoint_on_private_tables_with_narrow_policy(deployment):
    ec2 = deployment.client("ec2")
    vpc_id = deployment.vpc["VpcId"]
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]
    assert len(endpoints) == 1
    endpoint = endpoints[0]
    assert endpoint["ServiceName"] == f"com.amazonaws.{REGION}.s3"
    assert endpoint["VpcEndpointType"] == "Gateway"
    private_tables = set()
    for subnet in subnets(deployment, "private"):
        found = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet["SubnetId"]]}])
        private_tables.add(found["RouteTables"][0]["RouteTableId"])
    assert set(endpoint["RouteTableIds"]) == private_tables
    policy = json.loads(endpoint["PolicyDocument"])
    resources = {json.dumps(s["Resource"]) for s in policy["Statement"]}
    assert json.dumps(f"arn:aws:s3:::{deployment.bucket}") in resources
    assert json.dumps(f"arn:aws:s3:::{deployment.bucket}/*") in resources
    assert all(s["Effect"] == "Allow" and s["Resource"] != "*" for s in policy["Statement"])
    read_only = [s for s in policy["Statement"] if s["Sid"] == "PackageRepositoriesReadOnly"][0]
    assert read_only["Action"] == ["s3:GetObject"]
    assert f"arn:aws:s3:::al2023-repos-{REGION}-de612dc2/*" in read_only["Resource"]
    assert tags(endpoint)["Name"] == "Mattermost-vpce-s3"


def rules(group, direction="IpPermissions"):
    """{(protocol, from, to, source)} of a security group, one entry per source."""
    result = set()
    for perm in group[direction]:
        key = (perm["IpProtocol"], perm.get("FromPort"), perm.get("ToPort"))
        for r in perm.get("IpRanges", []):
            result.add(key + (r["CidrIp"],))
        for r in perm.get("UserIdGroupPairs", []):
            result.add(key + (r["GroupId"],))
        for r in perm.get("Ipv6Ranges", []):
            result.add(key + (r["CidrIpv6"],))
    return result


def test_security_groups_exact_rules(deployment):
    ec2 = deployment.client("ec2")
    vpc_id = deployment.vpc["VpcId"]
    described = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]
    groups = {g["GroupName"]: g for g in described}
    assert set(groups) == {"default", "Mattermost-ALB-SG", "Mattermost-App-SG", "Mattermost-DB-SG",
                           "Mattermost-Monitoring-SG"}
    alb, app, db, monitoring = (groups[f"Mattermost-{n}-SG"] for n in ("ALB", "App", "DB", "Monitoring"))
    alb_id, app_id, monitoring_id = alb["GroupId"], app["GroupId"], monitoring["GroupId"]
    assert rules(alb) == {("tcp", 80, 80, "0.0.0.0/0"), ("tcp", 443, 443, "0.0.0.0/0")}
    assert rules(alb, "IpPermissionsEgress") == {("-1", None, None, "0.0.0.0/0")}
    assert rules(db) == {("tcp", 5432, 5432, app_id)}
    assert rules(db, "IpPermissionsEgress") == set()
    assert rules(app) == {
        ("tcp", 8065, 8065, alb_id),
        ("tcp", 8074, 8074, app_id),
        ("udp", 8074, 8074, app_id),
        ("tcp", 22, 22, "203.0.113.0/24"),
        # The monitoring node: the ping, Mattermost's metrics and node_exporter, nothing else.
        ("tcp", 8065, 8065, monitoring_id),
        ("tcp", 8067, 8067, monitoring_id),
        ("tcp", 9100, 9100, monitoring_id),
    }
    assert rules(app, "IpPermissionsEgress") == {("-1", None, None, "0.0.0.0/0")}
    # Into the monitoring node: SSH from the admin networks only.
    assert rules(monitoring) == {("tcp", 22, 22, "203.0.113.0/24")}
    # The VPC's default group allows nothing, in or out.
    assert rules(groups["default"]) == set() and rules(groups["default"], "IpPermissionsEgress") == set()
    for name in ("ALB", "App", "DB", "Monitoring"):
        expected = {"Name": f"Mattermost-{name}-SG", TAG: NAME, "Environment": "test"}
        assert tags(groups[f"Mattermost-{name}-SG"]) == expected


def test_the_nodes_log_groups_are_encrypted_with_their_own_key_and_retained(deployment):
    logs, kms = deployment.client("logs"), deployment.client("kms")
    groups = {g["logGroupName"]: g for g in logs.describe_log_groups(logGroupNamePrefix=f"/mattermost-ha/{NAME}/")[
        "logGroups"]}
    key = kms.describe_key(KeyId=f"alias/{NAME}-node-logs")["KeyMetadata"]
    for name in (f"/mattermost-ha/{NAME}/mattermost", f"/mattermost-ha/{NAME}/system"):
        assert groups[name]["retentionInDays"] == 30
        assert groups[name]["kmsKeyId"] == key["Arn"]
        assert logs.list_tags_log_group(logGroupName=name)["tags"][TAG] == NAME
    policy = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    [service] = [s for s in policy["Statement"] if s["Sid"] == "CloudWatchLogsForTheNodesLogGroups"]
    assert service["Principal"] == {"Service": f"logs.{REGION}.amazonaws.com"}
    assert service["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"] == [
        f"arn:aws:logs:{REGION}:{deployment.account_id}:log-group:/mattermost-ha/{NAME}/{g}"
        for g in ("mattermost", "system")]
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True


def test_flow_logs_to_encrypted_log_group(deployment):
    ec2, logs = deployment.client("ec2"), deployment.client("logs")
    flow_logs = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [deployment.vpc["VpcId"]]}])
    flow_logs = flow_logs["FlowLogs"]
    assert len(flow_logs) == 1
    flow_log = flow_logs[0]
    group_name = "/mattermost-ha/Mattermost/vpc-flow-logs"
    assert flow_log["TrafficType"] == "ALL"
    assert flow_log["LogGroupName"] == group_name
    assert flow_log["DeliverLogsPermissionArn"].endswith(":role/Mattermost-VPC-FlowLogs")
    assert tags(flow_log)[TAG] == NAME
    group = logs.describe_log_groups(logGroupNamePrefix=group_name)["logGroups"][0]
    assert group["retentionInDays"] == 365
    key = deployment.client("kms").describe_key(KeyId="alias/Mattermost-vpc-flow-logs")["KeyMetadata"]
    assert group["kmsKeyId"] == key["Arn"]
    assert deployment.client("kms").get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True
    trust = deployment.client("iam").get_role(RoleName="Mattermost-VPC-FlowLogs")["Role"]["AssumeRolePolicyDocument"]
    statement = trust["Statement"][0]
    assert statement["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": deployment.account_id}


def test_file_store_bucket(deployment):
    s3 = deployment.client("s3")
    bucket = deployment.bucket
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
    )
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    # SSE-KMS with the AWS-managed key (no KMSMasterKeyID) and a bucket key.
    assert encryption["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms"}
    assert encryption["BucketKeyEnabled"] is True
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    (statement,) = policy["Statement"]
    assert statement["Effect"] == "Deny" and statement["Action"] == "s3:*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert set(statement["Resource"]) == {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}
    bucket_tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    assert bucket_tags == {
        TAG: NAME, "mattermost-ha:purpose": "file-store", "Name": "Mattermost-file-store", "Environment": "test"
    }


def test_file_store_expires_old_versions_and_abandoned_uploads(deployment):
    (rule,) = deployment.client("s3").get_bucket_lifecycle_configuration(Bucket=deployment.bucket)["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["Filter"] == {"Prefix": ""}
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    # Current files never expire: Mattermost decides what is deleted.
    assert "Expiration" not in rule


def test_file_store_access_logs_go_to_the_log_bucket_under_their_own_prefix(deployment):
    s3 = deployment.client("s3")
    log_bucket = deployment.log_bucket
    prefix = f"S3AccessLogs/{deployment.bucket}/"
    logging = s3.get_bucket_logging(Bucket=deployment.bucket)["LoggingEnabled"]
    assert logging["TargetBucket"] == log_bucket
    assert logging["TargetPrefix"] == prefix
    statements = {s["Sid"]: s for s in json.loads(s3.get_bucket_policy(Bucket=log_bucket)["Policy"])["Statement"]}
    logs = statements["S3ServerAccessLogs"]
    assert logs["Effect"] == "Allow"
    assert logs["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert logs["Action"] == "s3:PutObject"
    assert logs["Resource"] == f"arn:aws:s3:::{log_bucket}/{prefix}*"
    assert logs["Condition"] == {
        "StringEquals": {"aws:SourceAccount": deployment.account_id},
        "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{deployment.bucket}"},
    }
    assert s3.get_bucket_versioning(Bucket=log_bucket)["Status"] == "Enabled"


def test_instance_role_and_profile(deployment):
    iam = deployment.client("iam")
    role = iam.get_role(RoleName="Mattermost-App-Role")["Role"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": deployment.account_id}}
    attached = iam.list_attached_role_policies(RoleName="Mattermost-App-Role")["AttachedPolicies"]
    attached = {p["PolicyArn"] for p in attached}
    # No AWS managed policy (Resource "*"); SSM is off, the CloudWatch agent on in this deployment.
    assert attached == set()
    assert sorted(iam.list_role_policies(RoleName="Mattermost-App-Role")["PolicyNames"]) == ["cloudwatch-agent",
                                                                                           "file-store"]
    inline = iam.get_role_policy(RoleName="Mattermost-App-Role", PolicyName="file-store")["PolicyDocument"]
    resources = {s["Resource"] for s in inline["Statement"]}
    assert resources == {f"arn:aws:s3:::{deployment.bucket}", f"arn:aws:s3:::{deployment.bucket}/*"}
    actions = {a for s in inline["Statement"] for a in s["Action"]}
    assert "s3:*" not in actions and "s3:PutObject" in actions and "s3:DeleteBucket" not in actions
    profile = iam.get_instance_profile(InstanceProfileName="Mattermost-App-Profile")["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == ["Mattermost-App-Role"]
    assert tags(role)[TAG] == NAME


def security_group_id(deployment, name):
    found = deployment.client("ec2").describe_security_groups(Filters=[
        {"Name": "vpc-id", "Values": [deployment.vpc["VpcId"]]},
        {"Name": "group-name", "Values": [f"{NAME}-{name}-SG"]},
    ])["SecurityGroups"]
    (group,) = found
    return group["GroupId"]


def subnet_ids(deployment, tier):
    return [s["SubnetId"] for s in subnets(deployment, tier)]


def alb(deployment):
    return deployment.client("elbv2").describe_load_balancers(Names=["Mattermost-ALB"])["LoadBalancers"][0]


def target_group(deployment):
    return deployment.client("elbv2").describe_target_groups(Names=["Mattermost-Targets"])["TargetGroups"][0]


def app_instances(deployment):
    reservations = deployment.client("ec2").describe_instances(
        Filters=by_deployment() + [
            {"Name": "tag:mattermost-ha:role", "Values": ["app"]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ]
    )["Reservations"]
    return sorted((i for r in reservations for i in r["Instances"]), key=lambda i: tags(i)["Name"])


def registered(deployment):
    arn = target_group(deployment)["TargetGroupArn"]
    health = deployment.client("elbv2").describe_target_health(TargetGroupArn=arn)
    return sorted((d["Target"]["Id"], d["Target"]["Port"]) for d in health["TargetHealthDescriptions"])


def zone_records(deployment):
    return deployment.client("route53").list_resource_record_sets(HostedZoneId=deployment.zone_id)["ResourceRecordSets"]


def test_certificate_is_issued_and_validated_in_route53(deployment):
    arn = deployment.published["certificate_arn"]
    certificate = deployment.client("acm").describe_certificate(CertificateArn=arn)["Certificate"]
    assert certificate["Status"] == "ISSUED"
    assert certificate["DomainName"] == SITE
    assert certificate["KeyAlgorithm"] == "RSA_2048"
    record = certificate["DomainValidationOptions"][0]["ResourceRecord"]
    cnames = {(s["Name"], s["ResourceRecords"][0]["Value"]) for s in zone_records(deployment) if s["Type"] == "CNAME"}
    assert (record["Name"], record["Value"]) in cnames


def test_target_group_port_health_check_stickiness_and_draining(deployment):
    group = target_group(deployment)
    assert (group["Protocol"], group["Port"]) == ("HTTP", 8065)
    assert group["VpcId"] == deployment.vpc["VpcId"]
    assert group["HealthCheckPath"] == "/api/v4/system/ping"
    assert (group["HealthCheckIntervalSeconds"], group["HealthCheckTimeoutSeconds"]) == (10, 5)
    assert (group["HealthyThresholdCount"], group["UnhealthyThresholdCount"]) == (2, 2)
    assert deployment.published["target_group_arn"] == group["TargetGroupArn"]
    described = deployment.client("elbv2").describe_target_group_attributes(TargetGroupArn=group["TargetGroupArn"])
    attributes = {a["Key"]: a["Value"] for a in described["Attributes"]}
    assert attributes["stickiness.enabled"] == "true"
    assert attributes["stickiness.type"] == "app_cookie"
    assert attributes["stickiness.app_cookie.cookie_name"] == "MMCSRF"
    assert attributes["stickiness.app_cookie.duration_seconds"] == "43200"
    assert attributes["deregistration_delay.timeout_seconds"] == "30"


def test_alb_is_internet_facing_on_public_subnets_with_secure_attributes(deployment):
    elbv2 = deployment.client("elbv2")
    balancer = alb(deployment)
    assert balancer["Scheme"] == "internet-facing"
    assert balancer["IpAddressType"] == "ipv4"
    assert sorted(z["SubnetId"] for z in balancer["AvailabilityZones"]) == sorted(subnet_ids(deployment, "public"))
    assert balancer["SecurityGroups"] == [security_group_id(deployment, "ALB")]
    described = elbv2.describe_load_balancer_attributes(LoadBalancerArn=balancer["LoadBalancerArn"])
    attributes = {a["Key"]: a["Value"] for a in described["Attributes"]}
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["deletion_protection.enabled"] == "true"
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.bucket"] == deployment.log_bucket
    policy = json.loads(deployment.client("s3").get_bucket_policy(Bucket=deployment.log_bucket)["Policy"])
    # us-west-1's Elastic Load Balancing account.
    assert policy["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::027434742980:root"}
    # The ALB's logs, the file store's access logs (asserted above), TLS only.
    assert [s["Sid"] for s in policy["Statement"]] == ["ElbAccessLogs", "S3ServerAccessLogs", "DenyInsecureTransport"]
    alb_tags = elbv2.describe_tags(ResourceArns=[balancer["LoadBalancerArn"]])["TagDescriptions"][0]["Tags"]
    alb_tags = {t["Key"]: t["Value"] for t in alb_tags}
    assert alb_tags["mattermost-ha:site-url"] == f"https://{SITE}"
    assert alb_tags[TAG] == NAME
    assert deployment.published["site_url"] == f"https://{SITE}"
    assert deployment.published["alb_dns_name"] == balancer["DNSName"]


def test_access_log_bucket_is_versioned_and_expires_logs(deployment):
    s3 = deployment.client("s3")
    bucket = deployment.log_bucket
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert encryption["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    (rule,) = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["Filter"] == {"Prefix": ""}
    assert rule["Expiration"] == {"Days": 90}
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == 1
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}


def test_rds_monitoring_role_trusts_rds_for_this_account_only(deployment):
    role = deployment.client("iam").get_role(RoleName="Mattermost-RDS-Monitoring")["Role"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": deployment.account_id}}


def test_listeners_https_forward_and_http_redirect(deployment):
    described = deployment.client("elbv2").describe_listeners(LoadBalancerArn=alb(deployment)["LoadBalancerArn"])
    listeners = {listener["Port"]: listener for listener in described["Listeners"]}
    assert sorted(listeners) == [80, 443]
    https = listeners[443]
    assert https["Protocol"] == "HTTPS"
    assert https["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-FIPS-PQ-2025-09"
    assert https["Certificates"][0]["CertificateArn"] == deployment.published["certificate_arn"]
    assert https["DefaultActions"][0]["Type"] == "forward"
    assert https["DefaultActions"][0]["TargetGroupArn"] == target_group(deployment)["TargetGroupArn"]
    http = listeners[80]
    assert http["Protocol"] == "HTTP"
    action = http["DefaultActions"][0]
    assert action["Type"] == "redirect"
    assert action["RedirectConfig"]["Protocol"] == "HTTPS"
    assert action["RedirectConfig"]["Port"] == "443"
    assert action["RedirectConfig"]["StatusCode"] == "HTTP_301"


def test_route53_alias_points_at_the_alb(deployment):
    alias = [s for s in zone_records(deployment) if s["Name"] == f"{SITE}." and s["Type"] == "A"]
    assert len(alias) == 1
    assert alias[0]["AliasTarget"]["DNSName"].rstrip(".").lower() == alb(deployment)["DNSName"].lower()


def test_aurora_cluster(deployment):
    rds = deployment.client("rds")
    cluster = rds.describe_db_clusters(DBClusterIdentifier="mattermost-db")["DBClusters"][0]
    assert cluster["Engine"] == "aurora-postgresql"
    assert cluster["EngineVersion"].split(".")[0] == "16"
    # moto keeps the storage type set through ModifyDBCluster (own module).
    assert cluster["StorageType"] == "aurora-iopt1"
    assert cluster["StorageEncrypted"] is True
    assert cluster["BackupRetentionPeriod"] == 7
    assert cluster["PreferredBackupWindow"] == "03:00-04:00"
    assert cluster["PreferredMaintenanceWindow"] == "sun:05:00-sun:06:00"
    assert cluster["EnabledCloudwatchLogsExports"] == ["postgresql"]
    assert cluster["IAMDatabaseAuthenticationEnabled"] is True
    assert cluster["CopyTagsToSnapshot"] is True
    assert cluster["DeletionProtection"] is True
    assert cluster["DBSubnetGroup"] == "mattermost-db-subnets"
    assert [g["VpcSecurityGroupId"] for g in cluster["VpcSecurityGroups"]] == [security_group_id(deployment, "DB")]
    assert tags({"Tags": cluster["TagList"]})[TAG] == NAME
    subnet_group = rds.describe_db_subnet_groups(DBSubnetGroupName="mattermost-db-subnets")["DBSubnetGroups"][0]
    assert sorted(s["SubnetIdentifier"] for s in subnet_group["Subnets"]) == sorted(subnet_ids(deployment, "private"))
    assert deployment.published["db_writer_host"] == cluster["Endpoint"]


def test_aurora_writer_and_reader_in_different_azs(deployment):
    rds = deployment.client("rds")
    cluster = rds.describe_db_clusters(DBClusterIdentifier="mattermost-db")["DBClusters"][0]
    members = {m["DBInstanceIdentifier"]: m["IsClusterWriter"] for m in cluster["DBClusterMembers"]}
    assert sorted(members.values()) == [False, True]
    instances = {i["DBInstanceIdentifier"]: i for i in rds.describe_db_instances()["DBInstances"]}
    assert sorted(instances) == sorted(members)
    assert len({i["AvailabilityZone"] for i in instances.values()}) == 2
    for instance in instances.values():
        assert instance["PubliclyAccessible"] is False
        assert instance["DBInstanceClass"] == "db.r6i.large"
        assert instance["MonitoringInterval"] == 60
        assert instance["MonitoringRoleArn"].endswith(":role/Mattermost-RDS-Monitoring")
    readers = [instances[i]["Endpoint"]["Address"] for i, writer in members.items() if not writer]
    assert deployment.published["db_reader_hosts"] == readers
    assert cluster["ReaderEndpoint"] not in readers


def backup_plans(deployment):
    backup = deployment.client("backup")
    listed = backup.list_backup_plans()["BackupPlansList"]
    return [backup.get_backup_plan(BackupPlanId=p["BackupPlanId"]) for p in listed]


def test_backup_plan_backs_up_the_cluster_and_bucket_daily_and_copies_them_to_the_copy_region(deployment):
    backup, copy = deployment.client("backup"), deployment.client("backup", COPY_REGION)
    vault = backup.describe_backup_vault(BackupVaultName="Mattermost-backup")
    copy_vault = copy.describe_backup_vault(BackupVaultName="Mattermost-backup")
    for client, found in ((backup, vault), (copy, copy_vault)):
        assert client.list_tags(ResourceArn=found["BackupVaultArn"])["Tags"][TAG] == NAME
    assert copy_vault["BackupVaultArn"].split(":")[3] == COPY_REGION
    [plan] = backup_plans(deployment)
    assert backup.list_tags(ResourceArn=plan["BackupPlanArn"])["Tags"] == {
        TAG: NAME, "Environment": "test", "Name": "Mattermost-backup"}
    [rule] = plan["BackupPlan"]["Rules"]
    assert rule["TargetBackupVaultName"] == "Mattermost-backup"
    assert rule["ScheduleExpression"] == "cron(30 4 ? * * *)"
    assert (rule["StartWindowMinutes"], rule["CompletionWindowMinutes"]) == (60, 1440)
    assert rule["Lifecycle"] == {"DeleteAfterDays": 7}
    assert rule["CopyActions"] == [{"DestinationBackupVaultArn": copy_vault["BackupVaultArn"],
                                    "Lifecycle": {"DeleteAfterDays": 35}}]
    # The selection names exactly the serving cluster and the file-store bucket, with the role
    # AWS Backup assumes (trusted by AWS Backup of this account only, AWS's backup policies).
    [listed] = backup.list_backup_selections(BackupPlanId=plan["BackupPlanId"])["BackupSelectionsList"]
    selection = backup.get_backup_selection(BackupPlanId=plan["BackupPlanId"], SelectionId=listed["SelectionId"])
    cluster = deployment.client("rds").describe_db_clusters(DBClusterIdentifier="mattermost-db")["DBClusters"][0]
    assert selection["BackupSelection"]["Resources"] == [cluster["DBClusterArn"], f"arn:aws:s3:::{deployment.bucket}"]
    role = deployment.client("iam").get_role(RoleName="Mattermost-Backup-Role")["Role"]
    assert selection["BackupSelection"]["IamRoleArn"] == role["Arn"]
    statement = role["AssumeRolePolicyDocument"]["Statement"]
    assert [(s["Principal"], s["Condition"]) for s in statement] == [
        ({"Service": "backup.amazonaws.com"}, {"StringEquals": {"aws:SourceAccount": deployment.account_id}})]
    attached = deployment.client("iam").list_attached_role_policies(RoleName="Mattermost-Backup-Role")
    assert sorted(p["PolicyName"] for p in attached["AttachedPolicies"]) == [
        "AWSBackupServiceRolePolicyForBackup", "AWSBackupServiceRolePolicyForS3Backup"]


def alarms(deployment):
    found = deployment.client("cloudwatch").describe_alarms(AlarmNamePrefix=f"{NAME}-")["MetricAlarms"]
    return {a["AlarmName"]: a for a in found}


def app_alarm_names(instance_ids):
    return {f"{NAME}-app-{i}-{check}" for i in instance_ids for check in ("system-check", "instance-check")}


def test_alarms_watch_the_load_balancer_aurora_and_each_app_instance_and_notify_the_topic(deployment):
    topic = f"arn:aws:sns:{REGION}:{deployment.account_id}:{NAME}-alarms"
    sns = deployment.client("sns")
    assert tags({"Tags": sns.list_tags_for_resource(ResourceArn=topic)["Tags"]})[TAG] == NAME
    found = alarms(deployment)
    balancer = deployment.client("elbv2").describe_load_balancers(Names=[f"{NAME}-ALB"])["LoadBalancers"][0]
    lb = balancer["LoadBalancerArn"].split(":loadbalancer/")[1]
    group = deployment.published["target_group_arn"].rsplit(":", 1)[1]
    members = deployment.client("rds").describe_db_clusters(DBClusterIdentifier="mattermost-db")["DBClusters"][0][
        "DBClusterMembers"]
    writer = [m["DBInstanceIdentifier"] for m in members if m["IsClusterWriter"]]
    readers = [m["DBInstanceIdentifier"] for m in members if not m["IsClusterWriter"]]
    assert (writer, readers) == (["mattermost-db-1"], ["mattermost-db-2"])
    instances = [i["InstanceId"] for i in app_instances(deployment)]
    [monitor] = monitoring_instances(deployment)
    assert set(found) == (
        {f"{NAME}-{a}" for a in ("alb-5xx", "target-5xx", "latency-p99", "unhealthy-hosts", "no-healthy-hosts")}
        | {f"{NAME}-db-{db}-{a}" for db in writer + readers for a in ("cpu", "freeable-memory", "connections")}
        | {f"{NAME}-db-{db}-replica-lag" for db in readers}
        | app_alarm_names(instances)
        | {f"{NAME}-monitoring-{monitor['InstanceId']}-{check}" for check in ("system-check", "instance-check")})
    # The monitoring node is recovered like an app node.
    assert found[f"{NAME}-monitoring-{monitor['InstanceId']}-system-check"]["AlarmActions"][0].endswith(":ec2:recover")
    for alarm in found.values():
        assert alarm["OKActions"] == [topic]
        assert alarm["AlarmActions"][-1] == topic
    shape = {name: (a["Namespace"], a["MetricName"], a.get("Statistic") or a.get("ExtendedStatistic"),
                    {d["Name"]: d["Value"] for d in a["Dimensions"]}, a["Period"], a["EvaluationPeriods"],
                    a["ComparisonOperator"], a["Threshold"]) for name, a in found.items()}
    assert shape[f"{NAME}-alb-5xx"] == ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "Sum", {"LoadBalancer": lb},
                                        300, 1, "GreaterThanOrEqualToThreshold", 10.0)
    assert shape[f"{NAME}-latency-p99"] == ("AWS/ApplicationELB", "TargetResponseTime", "p99", {"LoadBalancer": lb},
                                            300, 2, "GreaterThanThreshold", 2.0)
    assert shape[f"{NAME}-unhealthy-hosts"] == (
        "AWS/ApplicationELB", "UnHealthyHostCount", "Maximum", {"TargetGroup": group, "LoadBalancer": lb}, 60, 2,
        "GreaterThanOrEqualToThreshold", 1.0)
    assert shape[f"{NAME}-db-mattermost-db-2-replica-lag"] == (
        "AWS/RDS", "AuroraReplicaLag", "Maximum", {"DBInstanceIdentifier": "mattermost-db-2"}, 60, 3,
        "GreaterThanThreshold", 1000.0)
    assert shape[f"{NAME}-db-mattermost-db-1-freeable-memory"][-2:] == ("LessThanThreshold", 512.0 * 1048576)
    for instance in instances:
        system = found[f"{NAME}-app-{instance}-system-check"]
        assert shape[system["AlarmName"]][:4] == (
            "AWS/EC2", "StatusCheckFailed_System", "Maximum", {"InstanceId": instance})
        # EC2 automatic recovery on the system check; the instance check only notifies.
        assert system["AlarmActions"] == [f"arn:aws:automate:{REGION}:ec2:recover", topic]
        assert found[f"{NAME}-app-{instance}-instance-check"]["AlarmActions"] == [topic]


def test_app_instances(deployment):
    ec2 = deployment.client("ec2")
    instances = app_instances(deployment)
    assert [tags(i)["Name"] for i in instances] == ["Mattermost-App-01", "Mattermost-App-02"]
    assert [i["SubnetId"] for i in instances] == subnet_ids(deployment, "private")
    assert deployment.published["app_instance_ids"] == [i["InstanceId"] for i in instances]
    profile = deployment.client("iam").get_instance_profile(InstanceProfileName="Mattermost-App-Profile")
    for instance in instances:
        assert instance["InstanceType"] == "m5.large"
        assert instance["MetadataOptions"]["HttpTokens"] == "required"
        assert instance["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
        assert instance["Monitoring"]["State"] == "enabled"
        assert instance["IamInstanceProfile"]["Arn"] == profile["InstanceProfile"]["Arn"]
        assert [g["GroupId"] for g in instance["SecurityGroups"]] == [security_group_id(deployment, "App")]
        assert "PublicIpAddress" not in instance
        root = [m for m in instance["BlockDeviceMappings"] if m["DeviceName"] == instance["RootDeviceName"]]
        volume = ec2.describe_volumes(VolumeIds=[root[0]["Ebs"]["VolumeId"]])["Volumes"][0]
        assert (volume["VolumeType"], volume["Size"], volume["Encrypted"]) == ("gp3", 30, True)


def monitoring_instances(deployment):
    reservations = deployment.client("ec2").describe_instances(Filters=[
        {"Name": f"tag:{TAG}", "Values": [NAME]}, {"Name": "tag:mattermost-ha:role", "Values": ["monitoring"]},
        {"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"]
    return [i for r in reservations for i in r["Instances"]]


def test_monitoring_node_is_private_imdsv2_encrypted_and_without_a_role(deployment):
    ec2 = deployment.client("ec2")
    [instance] = monitoring_instances(deployment)
    assert tags(instance)["Name"] == "Mattermost-Monitoring"
    assert instance["InstanceType"] == "t3.medium"
    assert instance["SubnetId"] == subnet_ids(deployment, "private")[0]
    assert instance["ImageId"] == app_instances(deployment)[0]["ImageId"]
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [security_group_id(deployment, "Monitoring")]
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    assert instance["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
    assert "IamInstanceProfile" not in instance
    assert "PublicIpAddress" not in instance
    root = [m for m in instance["BlockDeviceMappings"] if m["DeviceName"] == instance["RootDeviceName"]]
    volume = ec2.describe_volumes(VolumeIds=[root[0]["Ebs"]["VolumeId"]])["Volumes"][0]
    assert (volume["VolumeType"], volume["Size"], volume["Encrypted"]) == ("gp3", 30, True)


def test_app_instance_tags_stay_out_of_instance_metadata(deployment):
    # With tags in instance metadata, EC2 refuses tag keys with spaces or "/" (a user tag like
    # "Cost Center" would stop the launch); nothing reads tags from metadata.
    for instance in app_instances(deployment):
        assert instance["MetadataOptions"]["InstanceMetadataTags"] == "disabled"


def test_app_instances_are_not_in_the_target_group_before_they_serve(deployment):
    """provision.yml registers nothing: configure.yml registers each node once it serves (the lab checks that)."""
    assert app_instances(deployment)
    assert registered(deployment) == []


def test_second_run_changes_nothing(deployment):
    run = provision(deployment)
    assert run.changed == 0, run.output


# The first and second runs use Ansible's own strategy; check mode, scaling and teardown run
# with the Mitogen accelerator (docs/performance.md), so both ways are exercised on one deployment.
def test_check_mode_with_mitogen_on_the_deployment_changes_nothing(deployment):
    run = provision(deployment, "--check", "--diff", mitogen=True)
    assert run.changed == 0, run.output


# The scaling tests change the deployment: they come after the runs that must change nothing.
def test_scale_down_deregisters_and_terminates(deployment):
    before = app_instances(deployment)
    # As configure.yml leaves them: both nodes serve.
    arn = target_group(deployment)["TargetGroupArn"]
    deployment.client("elbv2").register_targets(
        TargetGroupArn=arn, Targets=[{"Id": i["InstanceId"], "Port": 8065} for i in before])
    provision(deployment, mitogen=True, mattermost_ha_app_count=1)
    after = app_instances(deployment)
    assert [tags(i)["Name"] for i in after] == ["Mattermost-App-01"]
    assert registered(deployment) == [(after[0]["InstanceId"], 8065)]
    gone = before[1]["InstanceId"]
    # The alarms of the instance that is gone went with it.
    assert {n for n in alarms(deployment) if "-app-" in n} == app_alarm_names([after[0]["InstanceId"]])
    state = deployment.client("ec2").describe_instances(InstanceIds=[gone])["Reservations"][0]["Instances"][0]["State"]
    assert state["Name"] in ("shutting-down", "terminated")


def test_scale_up_again_spreads_over_the_zones(deployment):
    provision(deployment, mitogen=True, mattermost_ha_app_count=3)
    instances = app_instances(deployment)
    assert [tags(i)["Name"] for i in instances] == ["Mattermost-App-01", "Mattermost-App-02", "Mattermost-App-03"]
    private = subnet_ids(deployment, "private")
    assert [i["SubnetId"] for i in instances] == [private[0], private[1], private[0]]
    # The new nodes wait for configure.yml; the one that serves stays registered.
    assert registered(deployment) == [(instances[0]["InstanceId"], 8065)]
    assert {n for n in alarms(deployment) if "-app-" in n} == app_alarm_names(i["InstanceId"] for i in instances)


@pytest.mark.parametrize("confirmation", [None, "mattermost", "Other"])
def test_teardown_without_the_deployment_name_as_confirmation_changes_nothing(deployment, confirmation):
    extra = dict(TEARDOWN_VARS)
    if confirmation is not None:
        extra["mattermost_ha_teardown_confirm"] = confirmation
    run = run_playbook("playbooks/teardown.yml", "-e", json.dumps(extra), env=deployment.env, check=False,
                       mitogen=True)
    assert run.returncode != 0
    assert "set mattermost_ha_teardown_confirm to the deployment's name" in run.folded
    assert run.changed == 0
    assert [v["VpcId"] for v in deployment.client("ec2").describe_vpcs(Filters=by_deployment())["Vpcs"]] == [
        deployment.vpc["VpcId"]]
    assert len(deployment.client("rds").describe_db_clusters()["DBClusters"]) == 1


def test_teardown_leaves_nothing(deployment):
    # mattermost_ha_flow_logs_kms_key=false: moto 5.2.5 answers ScheduleKeyDeletion with a
    # 500 when given a key ARN (what amazon.aws.kms_key sends), so the key is left to the
    # account reset here; against AWS the teardown schedules it for deletion.
    extra = {
        **TEARDOWN_VARS,
        "mattermost_ha_teardown_delete_file_store": True,
        "mattermost_ha_flow_logs_kms_key": False,
        "mattermost_ha_node_logs_kms_key": False,
        "mattermost_ha_instance_connect_endpoint": False,
        "mattermost_ha_teardown_confirm": NAME,
    }
    s3 = deployment.client("s3")
    # A versioned bucket with an object and a delete marker must still go. moto applies the
    # bucket policy's Deny to every object request and ignores its aws:SecureTransport
    # condition (so even this would be refused over TLS); drop the policy to seed versions.
    with pytest.raises(s3.exceptions.ClientError, match="403"):
        s3.put_object(Bucket=deployment.bucket, Key="data/a.txt", Body=b"refused")
    s3.delete_bucket_policy(Bucket=deployment.bucket)
    # The same Deny on the log bucket would refuse deleting the file store's access logs,
    # which moto writes there.
    s3.delete_bucket_policy(Bucket=deployment.log_bucket)
    assert s3.list_objects_v2(Bucket=deployment.log_bucket, Prefix=f"S3AccessLogs/{deployment.bucket}/")["KeyCount"] > 0
    s3.put_object(Bucket=deployment.bucket, Key="data/a.txt", Body=b"one")
    s3.put_object(Bucket=deployment.bucket, Key="data/a.txt", Body=b"two")
    s3.delete_object(Bucket=deployment.bucket, Key="data/a.txt")
    run_playbook("playbooks/teardown.yml", "-e", json.dumps(extra), env=deployment.env, mitogen=True)

    ec2, iam = deployment.client("ec2"), deployment.client("iam")
    vpc_id = deployment.vpc["VpcId"]
    assert ec2.describe_vpcs(Filters=by_deployment())["Vpcs"] == []
    assert ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"] == []
    assert ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"] == []
    assert ec2.describe_addresses()["Addresses"] == []
    live_nats = ec2.describe_nat_gateways(Filter=[{"Name": "vpc-id", "Values": [vpc_id]}])["NatGateways"]
    assert {n["State"] for n in live_nats} <= {"deleted"}
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]
    assert {e["State"].lower() for e in endpoints} <= {"deleted"}
    assert ec2.describe_internet_gateways(Filters=by_deployment())["InternetGateways"] == []
    assert ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["NetworkInterfaces"] == []
    assert ec2.describe_flow_logs()["FlowLogs"] == []
    assert ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"] == []
    buckets = [b["Name"] for b in deployment.client("s3").list_buckets()["Buckets"]]
    assert deployment.bucket not in buckets
    assert deployment.log_bucket not in buckets
    assert [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("Mattermost-")] == []
    assert iam.list_instance_profiles()["InstanceProfiles"] == []
    assert deployment.client("logs").describe_log_groups(logGroupNamePrefix="/mattermost-ha/")["logGroups"] == []
    assert alarms(deployment) == {}
    assert deployment.client("sns").list_topics()["Topics"] == []
    # The backup plan and both (empty) vaults are gone, in both regions.
    assert backup_plans(deployment) == []
    for region in (REGION, COPY_REGION):
        assert deployment.client("backup", region).list_backup_vaults()["BackupVaultList"] == []
    # The front end (load balancer, instances, Aurora, certificate) went first.
    elbv2, rds = deployment.client("elbv2"), deployment.client("rds")
    assert elbv2.describe_load_balancers()["LoadBalancers"] == []
    assert elbv2.describe_target_groups()["TargetGroups"] == []
    assert rds.describe_db_clusters()["DBClusters"] == []
    assert rds.describe_db_instances()["DBInstances"] == []
    assert rds.describe_db_subnet_groups()["DBSubnetGroups"] == []
    snapshots = rds.describe_db_cluster_snapshots(DBClusterIdentifier="mattermost-db",
                                                  SnapshotType="manual")["DBClusterSnapshots"]
    assert [s["DBClusterSnapshotIdentifier"].startswith("mattermost-db-final-") for s in snapshots] == [True]
    assert deployment.client("acm").list_certificates()["CertificateSummaryList"] == []
    live = ec2.describe_instances(Filters=by_deployment() + [
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}])
    assert live["Reservations"] == []
    # The certificate's validation record and the alias are gone with them.
    assert [s["Type"] for s in zone_records(deployment) if s["Type"] not in ("NS", "SOA")] == []
    # Teardown again: nothing left to do.
    again = run_playbook("playbooks/teardown.yml", "-e", json.dumps(extra), env=deployment.env, mitogen=True)
    assert again.changed == 0, again.output
