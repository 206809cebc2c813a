"""The front-end roles against the moto server: certificate, target group, ALB, Aurora and app instances.

One provisioning run (module-scoped) is shared by the assertion tests; then the second run
(changed=0), scaling, teardown. Every assertion reads real state back with boto3.
"""

import csv
import json

import pytest
from frontend_prereqs import create_prerequisites, lab_vars, write_vars
from harness.ansible import run_playbook
from harness.aws import AwsAccount

PLAYBOOK = "tests/integration/aws/playbooks/frontend.yml"
TEARDOWN = "tests/integration/aws/playbooks/frontend_teardown.yml"
CERTIFICATE = "tests/integration/aws/playbooks/certificate.yml"
ZONE = "example.com"

pytestmark = pytest.mark.slow


class Deployment:
    def __init__(self, aws, tmp_path):
        self.aws = aws
        self.tmp = tmp_path
        zone = aws.client("route53").create_hosted_zone(Name=ZONE, CallerReference="frontend-tests")["HostedZone"]
        self.zone_id = zone["Id"].split("/")[-1]
        self.prereqs = create_prerequisites(aws)
        self.outputs_file = tmp_path / "outputs.json"
        self.vars = lab_vars(aws, self.prereqs, zone=ZONE, frontend_outputs_file=str(self.outputs_file))

    def run(self, *args, playbook=PLAYBOOK, check=True, **extra):
        values = dict(self.vars, **extra)
        return run_playbook(playbook, "-e", write_vars(self.tmp / "vars.yml", values), *args, env=self.aws.env,
                            check=check)

    @property
    def outputs(self):
        return json.loads(self.outputs_file.read_text())

    def client(self, service):
        return self.aws.client(service)


@pytest.fixture(scope="module")
def deployment(moto_server, tmp_path_factory):
    moto_server.reset()
    aws = AwsAccount(moto_server)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in aws.env.items():
            mp.setenv(key, value)
        deployment = Deployment(aws, tmp_path_factory.mktemp("frontend"))
        deployment.first_run = deployment.run()
        yield deployment


def _alb(deployment):
    return deployment.client("elbv2").describe_load_balancers(Names=["Mattermost-ALB"])["LoadBalancers"][0]


def _target_group(deployment):
    return deployment.client("elbv2").describe_target_groups(Names=["Mattermost-Targets"])["TargetGroups"][0]


def _app_instances(deployment, states=("pending", "running")):
    reservations = deployment.client("ec2").describe_instances(
        Filters=[
            {"Name": "tag:mattermost-ha:deployment", "Values": ["Mattermost"]},
            {"Name": "tag:mattermost-ha:role", "Values": ["app"]},
            {"Name": "instance-state-name", "Values": list(states)},
        ]
    )["Reservations"]
    instances = [i for r in reservations for i in r["Instances"]]
    return sorted(instances, key=lambda i: {t["Key"]: t["Value"] for t in i["Tags"]}["Name"])


def _name(instance):
    return {t["Key"]: t["Value"] for t in instance["Tags"]}["Name"]


def _registered(deployment):
    arn = _target_group(deployment)["TargetGroupArn"]
    health = deployment.client("elbv2").describe_target_health(TargetGroupArn=arn)
    return sorted((d["Target"]["Id"], d["Target"]["Port"]) for d in health["TargetHealthDescriptions"])


def test_certificate_is_issued_and_validated_in_route53(deployment):
    acm = deployment.client("acm")
    arn = deployment.outputs["certificate_arn"]
    certificate = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert certificate["Status"] == "ISSUED"
    assert certificate["DomainName"] == "chat.example.com"
    assert certificate["KeyAlgorithm"] == "RSA_2048"
    record = certificate["DomainValidationOptions"][0]["ResourceRecord"]
    sets = deployment.client("route53").list_resource_record_sets(HostedZoneId=deployment.zone_id)["ResourceRecordSets"]
    cnames = {(s["Name"], s["ResourceRecords"][0]["Value"]) for s in sets if s["Type"] == "CNAME"}
    assert (record["Name"], record["Value"]) in cnames


def test_target_group_port_health_check_and_stickiness(deployment):
    elbv2 = deployment.client("elbv2")
    group = _target_group(deployment)
    assert (group["Protocol"], group["Port"]) == ("HTTP", 8065)
    assert group["VpcId"] == deployment.prereqs["mattermost_ha_vpc_id"]
    assert group["HealthCheckPath"] == "/api/v4/system/ping"
    attributes = {a["Key"]: a["Value"] for a in
                  elbv2.describe_target_group_attributes(TargetGroupArn=group["TargetGroupArn"])["Attributes"]}
    assert attributes["stickiness.enabled"] == "true"
    assert attributes["stickiness.type"] == "app_cookie"
    assert attributes["stickiness.app_cookie.cookie_name"] == "MMCSRF"
    assert attributes["stickiness.app_cookie.duration_seconds"] == "43200"


def test_alb_is_internet_facing_on_public_subnets_with_secure_attributes(deployment):
    elbv2 = deployment.client("elbv2")
    alb = _alb(deployment)
    assert alb["Scheme"] == "internet-facing"
    assert alb["IpAddressType"] == "ipv4"
    public = deployment.prereqs["mattermost_ha_public_subnet_ids"]
    assert sorted(z["SubnetId"] for z in alb["AvailabilityZones"]) == sorted(public)
    assert alb["SecurityGroups"] == [deployment.prereqs["mattermost_ha_security_group_ids"]["alb"]]
    attributes = {a["Key"]: a["Value"] for a in
                  elbv2.describe_load_balancer_attributes(LoadBalancerArn=alb["LoadBalancerArn"])["Attributes"]}
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["deletion_protection.enabled"] == "true"
    assert attributes["access_logs.s3.enabled"] == "true"
    bucket = attributes["access_logs.s3.bucket"]
    assert bucket == "mattermost-alb-logs-123456789012-us-west-1"
    policy = json.loads(deployment.client("s3").get_bucket_policy(Bucket=bucket)["Policy"])
    assert policy["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::027434742980:root"}
    # No file store in this playbook: nothing but the ALB and TLS statements.
    assert [s["Sid"] for s in policy["Statement"]] == ["ElbAccessLogs", "DenyInsecureTransport"]
    tags = {t["Key"]: t["Value"] for t in
            elbv2.describe_tags(ResourceArns=[alb["LoadBalancerArn"]])["TagDescriptions"][0]["Tags"]}
    assert tags["mattermost-ha:site-url"] == "https://chat.example.com"
    assert tags["mattermost-ha:deployment"] == "Mattermost"
    assert deployment.outputs["site_url"] == "https://chat.example.com"
    assert deployment.outputs["alb_dns_name"] == alb["DNSName"]


def test_access_log_bucket_is_versioned_and_expires_logs(deployment):
    s3 = deployment.client("s3")
    bucket = "mattermost-alb-logs-123456789012-us-west-1"
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
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}

def test_listeners_https_forward_and_http_redirect(deployment):
    elbv2 = deployment.client("elbv2")
    listeners = {lst["Port"]: lst for lst in
                 elbv2.describe_listeners(LoadBalancerArn=_alb(deployment)["LoadBalancerArn"])["Listeners"]}
    assert sorted(listeners) == [80, 443]
    https = listeners[443]
    assert https["Protocol"] == "HTTPS"
    assert https["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-FIPS-PQ-2025-09"
    assert https["Certificates"][0]["CertificateArn"] == deployment.outputs["certificate_arn"]
    assert https["DefaultActions"][0]["Type"] == "forward"
    assert https["DefaultActions"][0]["TargetGroupArn"] == _target_group(deployment)["TargetGroupArn"]
    http = listeners[80]
    assert http["Protocol"] == "HTTP"
    action = http["DefaultActions"][0]
    assert action["Type"] == "redirect"
    assert action["RedirectConfig"]["Protocol"] == "HTTPS"
    assert action["RedirectConfig"]["Port"] == "443"
    assert action["RedirectConfig"]["StatusCode"] == "HTTP_301"


def test_route53_alias_points_at_the_alb(deployment):
    sets = deployment.client("route53").list_resource_record_sets(HostedZoneId=deployment.zone_id)["ResourceRecordSets"]
    alias = [s for s in sets if s["Name"] == "chat.example.com." and s["Type"] == "A"]
    assert len(alias) == 1
    assert alias[0]["AliasTarget"]["DNSName"].rstrip(".").lower() == _alb(deployment)["DNSName"].lower()


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
    assert [g["VpcSecurityGroupId"] for g in cluster["VpcSecurityGroups"]] == [
        deployment.prereqs["mattermost_ha_security_group_ids"]["db"]
    ]
    assert {t["Key"]: t["Value"] for t in cluster["TagList"]}["mattermost-ha:deployment"] == "Mattermost"
    subnets = rds.describe_db_subnet_groups(DBSubnetGroupName="mattermost-db-subnets")["DBSubnetGroups"][0]["Subnets"]
    private = deployment.prereqs["mattermost_ha_private_subnet_ids"]
    assert sorted(s["SubnetIdentifier"] for s in subnets) == sorted(private)
    assert deployment.outputs["db_writer_host"] == cluster["Endpoint"]


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
    assert deployment.outputs["db_reader_hosts"] == readers
    assert cluster["ReaderEndpoint"] not in readers


def test_app_instances(deployment):
    ec2 = deployment.client("ec2")
    instances = _app_instances(deployment)
    assert [_name(i) for i in instances] == ["Mattermost-App-01", "Mattermost-App-02"]
    assert [i["SubnetId"] for i in instances] == deployment.prereqs["mattermost_ha_private_subnet_ids"]
    assert deployment.outputs["app_instance_ids"] == [i["InstanceId"] for i in instances]
    for instance in instances:
        assert instance["InstanceType"] == "m5.large"
        assert instance["MetadataOptions"]["HttpTokens"] == "required"
        assert instance["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
        assert instance["Monitoring"]["State"] == "enabled"
        assert instance["IamInstanceProfile"]["Arn"] == deployment.prereqs["mattermost_ha_instance_profile_arn"]
        assert [g["GroupId"] for g in instance["SecurityGroups"]] == [
            deployment.prereqs["mattermost_ha_security_group_ids"]["app"]
        ]
        assert "PublicIpAddress" not in instance
        root = [m for m in instance["BlockDeviceMappings"] if m["DeviceName"] == instance["RootDeviceName"]]
        volume = ec2.describe_volumes(VolumeIds=[root[0]["Ebs"]["VolumeId"]])["Volumes"][0]
        assert (volume["VolumeType"], volume["Size"], volume["Encrypted"]) == ("gp3", 30, True)


def test_app_instance_tags_stay_out_of_instance_metadata(deployment):
    # With tags in instance metadata, EC2 refuses tag keys with spaces or "/" (a user tag like
    # "Cost Center" would stop the launch); nothing reads tags from metadata.
    for instance in _app_instances(deployment):
        assert instance["MetadataOptions"]["InstanceMetadataTags"] == "disabled"


def test_app_instances_registered_on_8065(deployment):
    assert _registered(deployment) == sorted((i["InstanceId"], 8065) for i in _app_instances(deployment))


def test_second_run_changes_nothing(deployment):
    run = deployment.run()
    assert run.changed == 0, run.output


def test_scale_down_deregisters_and_terminates(deployment):
    before = _app_instances(deployment)
    deployment.run(mattermost_ha_app_count=1)
    after = _app_instances(deployment)
    assert [_name(i) for i in after] == ["Mattermost-App-01"]
    assert _registered(deployment) == [(after[0]["InstanceId"], 8065)]
    gone = before[1]["InstanceId"]
    state = deployment.client("ec2").describe_instances(InstanceIds=[gone])["Reservations"][0]["Instances"][0]["State"]
    assert state["Name"] in ("shutting-down", "terminated")


def test_scale_up_again(deployment):
    deployment.run(mattermost_ha_app_count=3)
    instances = _app_instances(deployment)
    assert [_name(i) for i in instances] == ["Mattermost-App-01", "Mattermost-App-02", "Mattermost-App-03"]
    private = deployment.prereqs["mattermost_ha_private_subnet_ids"]
    assert [i["SubnetId"] for i in instances] == [private[0], private[1], private[0]]
    assert _registered(deployment) == sorted((i["InstanceId"], 8065) for i in instances)


def test_teardown_removes_everything(deployment):
    run = deployment.run(playbook=TEARDOWN)
    assert run.failed == 0
    elbv2, rds, acm, ec2 = (deployment.client(s) for s in ("elbv2", "rds", "acm", "ec2"))
    assert elbv2.describe_load_balancers()["LoadBalancers"] == []
    assert elbv2.describe_target_groups()["TargetGroups"] == []
    assert rds.describe_db_clusters()["DBClusters"] == []
    assert rds.describe_db_instances()["DBInstances"] == []
    assert [g["DBSubnetGroupName"] for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]] == []
    snapshots = rds.describe_db_cluster_snapshots(DBClusterIdentifier="mattermost-db",
                                                  SnapshotType="manual")["DBClusterSnapshots"]
    assert [s["DBClusterSnapshotIdentifier"].startswith("mattermost-db-final-") for s in snapshots] == [True]
    assert acm.list_certificates()["CertificateSummaryList"] == []
    assert _app_instances(deployment, states=("pending", "running", "stopping", "stopped")) == []
    buckets = [b["Name"] for b in deployment.client("s3").list_buckets()["Buckets"]]
    assert "mattermost-alb-logs-123456789012-us-west-1" not in buckets
    sets = deployment.client("route53").list_resource_record_sets(HostedZoneId=deployment.zone_id)["ResourceRecordSets"]
    assert [s["Type"] for s in sets if s["Type"] not in ("NS", "SOA")] == []
    again = deployment.run(playbook=TEARDOWN)
    assert again.changed == 0, again.output


def _nothing_created(aws):
    assert aws.client("acm").list_certificates()["CertificateSummaryList"] == []
    assert aws.client("rds").describe_db_clusters()["DBClusters"] == []
    assert aws.client("elbv2").describe_target_groups()["TargetGroups"] == []
    assert aws.client("elbv2").describe_load_balancers()["LoadBalancers"] == []
    instances = aws.client("ec2").describe_instances(
        Filters=[{"Name": "tag:mattermost-ha:role", "Values": ["app"]}])["Reservations"]
    assert instances == []


def test_check_mode_on_an_empty_account(aws, tmp_path):
    values = lab_vars(aws, create_prerequisites(aws))
    run = run_playbook(PLAYBOOK, "--check", "-e", write_vars(tmp_path / "vars.yml", values), env=aws.env)
    assert run.failed == 0
    assert run.changed > 0
    _nothing_created(aws)


@pytest.mark.parametrize(
    ("override", "variable"),
    [
        ({"mattermost_ha_db_password": None}, "mattermost_ha_db_password"),
        ({"mattermost_ha_db_password": "has@sign-1234"}, "mattermost_ha_db_password"),
        ({"mattermost_ha_db_password": "with space 1234"}, "mattermost_ha_db_password"),
        ({"mattermost_ha_db_password": "short1"}, "mattermost_ha_db_password"),
        ({"mattermost_ha_app_count": 0}, "mattermost_ha_app_count"),
        ({"mattermost_ha_site_domain": "chat_example"}, "mattermost_ha_site_domain"),
        ({"mattermost_ha_site_domain": "https://chat.example.com/"}, "mattermost_ha_site_domain"),
    ],
    ids=["missing-password", "password-at", "password-space", "password-short", "app-count-0",
         "domain-no-dot", "domain-url"],
)
def test_bad_input_fails_before_any_change(aws, tmp_path, override, variable):
    values = lab_vars(aws, create_prerequisites(aws))
    for key, value in override.items():
        if value is None:
            values.pop(key)
        else:
            values[key] = value
    run = run_playbook(PLAYBOOK, "-e", write_vars(tmp_path / "vars.yml", values), env=aws.env, check=False)
    assert run.returncode != 0
    assert run.changed == 0
    assert variable in run.output
    if "password" in variable and variable in values:
        assert values[variable] not in run.output
    _nothing_created(aws)


def test_certificate_without_zone_writes_the_records_file(aws, tmp_path):
    records = tmp_path / "records.csv"
    values = lab_vars(aws, {}, records_file=records)
    run_playbook(CERTIFICATE, "-e", write_vars(tmp_path / "vars.yml", values), env=aws.env)
    [summary] = aws.client("acm").list_certificates()["CertificateSummaryList"]
    certificate = aws.client("acm").describe_certificate(CertificateArn=summary["CertificateArn"])["Certificate"]
    record = certificate["DomainValidationOptions"][0]["ResourceRecord"]
    rows = list(csv.DictReader(records.open()))
    assert rows == [{"Domain Name": "chat.example.com", "Record Name": record["Name"],
                     "Record Type": "CNAME", "Record Value": record["Value"]}]
