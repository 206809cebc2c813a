"""Pure parts of the aws_mattermost inventory plugin: AWS responses in, inventory data out."""

import shlex

import pytest
from ansible_collections.mattermost_ha.aws.plugins.inventory import aws_mattermost as plugin


def record(instance_id="i-0000000000000000a", name="Demo-App-01", zone="us-east-1a", private_ip="10.0.1.10", **tags):
    instance = {
        "InstanceId": instance_id,
        "Placement": {"AvailabilityZone": zone},
        "PrivateIpAddress": private_ip,
        "PrivateDnsName": f"ip-{private_ip.replace('.', '-')}.ec2.internal",
        "PublicDnsName": "",
        "InstanceType": "t3.medium",
        "VpcId": "vpc-0000000000000000a",
        "Tags": [{"Key": "Name", "Value": name}] + [{"Key": k, "Value": v} for k, v in tags.items()],
    }
    return plugin.instance_record(instance, zone[:-1])


def test_instance_record_keeps_what_the_inventory_needs():
    result = record(**{"mattermost-ha:role": "app"})
    assert result == {
        "instance_id": "i-0000000000000000a",
        "region": "us-east-1",
        "availability_zone": "us-east-1a",
        "private_ip": "10.0.1.10",
        "private_dns_name": "ip-10-0-1-10.ec2.internal",
        "public_ip": "",
        "public_dns_name": "",
        "instance_type": "t3.medium",
        "vpc_id": "vpc-0000000000000000a",
        "tags": {"Name": "Demo-App-01", "mattermost-ha:role": "app"},
    }


@pytest.mark.parametrize(
    ("tags", "expected"),
    [({}, "mattermost_app"), ({"mattermost-ha:role": "app"}, "mattermost_app"),
     ({"mattermost-ha:role": "monitoring"}, "mattermost_monitoring"), ({"mattermost-ha:role": "bastion"}, None)],
)
def test_app_and_monitoring_instances_get_their_group_others_none(tags, expected):
    assert plugin.instance_group(record(**tags)) == expected


def test_hostnames_follow_preferences_and_never_collide():
    first = record("i-0000000000000000a", name="Demo-App-01")
    twin = record("i-0000000000000000b", name="Demo-App-01", private_ip="10.0.2.20")
    unnamed = record("i-0000000000000000c", name="", private_ip="10.0.1.30")
    names = plugin.assign_hostnames([twin, unnamed, first], ["tag:Name", "private-ip-address"])
    assert names == {
        "i-0000000000000000a": "Demo-App-01",
        "i-0000000000000000b": "10.0.2.20",  # its Name is taken: next preference
        "i-0000000000000000c": "10.0.1.30",  # empty Name tag: skipped
    }
    # When every preference is taken or empty, the instance ID.
    assert plugin.assign_hostnames([first, twin], ["tag:Name"])["i-0000000000000000b"] == "i-0000000000000000b"


def test_unknown_hostname_preference_is_refused():
    with pytest.raises(ValueError, match="unknown hostnames preference 'ip'"):
        plugin.hostname_candidates(record(), ["ip"])


def test_zone_group_name():
    assert plugin.az_group_name("eu-central-1b") == "mattermost_app_eu_central_1b"


@pytest.mark.parametrize(
    ("arn", "kind"),
    [
        ("arn:aws:s3:::demo-files", "s3"),
        ("arn:aws:rds:us-east-1:123456789012:cluster:demo-db", "rds:cluster"),
        ("arn:aws:rds:us-east-1:123456789012:db:demo-db-1", "rds:db"),
        (
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/Demo-ALB/50dc6c495c0c9188",
            "elasticloadbalancing:loadbalancer/app",
        ),
        (
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/Demo-NLB/50dc6c495c0c9188",
            "elasticloadbalancing:loadbalancer/net",
        ),
        ("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/Classic", "elasticloadbalancing:classic"),
        ("arn:aws-us-gov:s3:::gov-files", "s3"),
    ],
)
def test_arn_resource_type(arn, kind):
    assert plugin.arn_resource_type(arn) == kind


def test_classify_resources():
    alb = "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/{}/0123456789abcdef"
    mappings = [
        {"ResourceARN": alb.format("A-ALB"), "Tags": [{"Key": "Name", "Value": "A"}]},
        {"ResourceARN": alb.format("B-ALB"), "Tags": [{"Key": "mattermost-ha:site-url", "Value": "https://b"}]},
        {"ResourceARN": "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/net/N/0123456789abcdef", "Tags": []},
        {"ResourceARN": "arn:aws:rds:us-east-1:1:cluster:demo-db", "Tags": []},
        {"ResourceARN": "arn:aws:s3:::demo-logs", "Tags": [{"Key": "mattermost-ha:purpose", "Value": "logs"}]},
        {"ResourceARN": "arn:aws:s3:::demo-files", "Tags": [{"Key": "mattermost-ha:purpose", "Value": "file-store"}]},
    ]
    found = plugin.classify_resources(mappings)
    assert [arn for arn, _tags in found["clusters"]] == ["arn:aws:rds:us-east-1:1:cluster:demo-db"]
    # The ALB with a site URL comes first; the NLB is not a candidate.
    assert [arn for arn, _tags in found["load_balancers"]] == [alb.format("B-ALB"), alb.format("A-ALB")]
    assert [name for name, _tags in found["buckets"]] == ["demo-files"]


def test_database_endpoints_writer_is_the_cluster_endpoint():
    cluster = {
        "DBClusterIdentifier": "demo-db",
        "Endpoint": "demo-db.cluster-abc.us-east-1.rds.amazonaws.com",
        "Port": 5432,
        "DBClusterMembers": [
            {"DBInstanceIdentifier": "demo-db-2", "IsClusterWriter": True},
            {"DBInstanceIdentifier": "demo-db-1", "IsClusterWriter": False},
            {"DBInstanceIdentifier": "demo-db-3", "IsClusterWriter": False},
        ],
    }
    instances = [
        {"DBInstanceIdentifier": "demo-db-1", "Endpoint": {"Address": "demo-db-1.abc.rds.amazonaws.com"}},
        {"DBInstanceIdentifier": "demo-db-2", "Endpoint": {"Address": "demo-db-2.abc.rds.amazonaws.com"}},
        {"DBInstanceIdentifier": "demo-db-3"},  # still creating: no endpoint yet
    ]
    assert plugin.database_endpoints(cluster, instances) == {
        "mattermost_ha_db_cluster_id": "demo-db",
        "mattermost_ha_db_writer_host": "demo-db.cluster-abc.us-east-1.rds.amazonaws.com",
        "mattermost_ha_db_endpoint_port": 5432,
        "mattermost_ha_db_reader_hosts": ["demo-db-1.abc.rds.amazonaws.com"],
    }


def test_a_configured_bucket_is_published_under_the_discovered_name_not_the_input():
    module = plugin.InventoryModule()
    module.get_option = {"file_store_bucket": "my-files", "file_store_region": None}.get
    assert module._discover_bucket([], "Demo", "us-east-1") == {
        "mattermost_ha_file_store_bucket_name": "my-files",
        "mattermost_ha_file_store_region": "us-east-1",
    }


def test_site_url_from_tag_else_alb():
    assert (
        plugin.site_url({"mattermost-ha:site-url": "https://chat.example.com"}, "x.elb") == "https://chat.example.com"
    )
    assert (
        plugin.site_url({}, "Demo-ALB-1.us-east-1.elb.amazonaws.com")
        == "https://Demo-ALB-1.us-east-1.elb.amazonaws.com"
    )


def test_instance_connect_args_survive_the_ssh_plugin_split():
    variables = plugin.connection_vars(
        record(),
        "instance_connect",
        remote_user="ec2-user",
        endpoint_id="eice-0123",
        cli="'/opt/aws cli/aws' --no-cli-pager",  # split like a shell command line
        profile="prod",
    )
    assert variables["ansible_host"] == "i-0000000000000000a"
    assert variables["ansible_user"] == "ec2-user"
    # The ssh connection plugin shlex-splits ansible_ssh_common_args; ssh runs ProxyCommand with sh -c.
    option, proxy = shlex.split(variables["ansible_ssh_common_args"])
    assert option == "-o"
    assert proxy.startswith("ProxyCommand=")
    assert shlex.split(proxy[len("ProxyCommand=") :]) == [
        "/opt/aws cli/aws",
        "--no-cli-pager",
        "ec2-instance-connect",
        "open-tunnel",
        "--instance-id",
        "i-0000000000000000a",
        "--instance-connect-endpoint-id",
        "eice-0123",
        "--region",
        "us-east-1",
        "--profile",
        "prod",
    ]


def test_ssm_ssh_and_none_connections():
    ssm = plugin.connection_vars(record(), "ssm", remote_user="ec2-user", ssm_bucket="transfer", profile="prod")
    assert ssm == {
        "ansible_connection": "amazon.aws.aws_ssm",
        "ansible_host": "i-0000000000000000a",
        "ansible_aws_ssm_instance_id": "i-0000000000000000a",
        "ansible_aws_ssm_region": "us-east-1",
        "ansible_aws_ssm_bucket_name": "transfer",
        "ansible_aws_ssm_profile": "prod",
    }
    assert plugin.connection_vars(record(), "ssh", remote_user="admin") == {
        "ansible_host": "10.0.1.10",
        "ansible_user": "admin",
    }
    assert plugin.connection_vars(record(), "ssh", remote_user="") == {"ansible_host": "10.0.1.10"}
    assert plugin.connection_vars(record(), "none", remote_user="ec2-user") == {}


@pytest.mark.parametrize(
    ("name", "accepted"),
    [
        ("prod.aws_mattermost.yml", True),
        ("aws_mattermost.yaml", True),
        ("prod.aws_ec2.yml", False),
        ("prod.yml", False),
    ],
)
def test_verify_file_wants_the_aws_mattermost_suffix(tmp_path, name, accepted):
    path = tmp_path / name
    path.write_text("plugin: mattermost_ha.aws.aws_mattermost\ndeployment: Demo\n")
    assert plugin.InventoryModule().verify_file(str(path)) is accepted


def populated(deployment, records):
    """An InventoryData filled by the plugin's _populate, with the default options."""
    from ansible.inventory.data import InventoryData

    module = plugin.InventoryModule()
    module.inventory = InventoryData()
    options = {"strict": False, "hostnames": ["tag:Name", "instance-id"], "connection": "ssh", "remote_user": "",
               "compose": {}, "groups": {}, "keyed_groups": [], "instance_connect_endpoint_id": None,
               "instance_connect_cli": "aws", "profile": None, "ssm_bucket_name": None}
    module.get_option = options.get
    module._populate({"instances": records, "deployment": deployment})
    return module.inventory


def test_deployment_variables_are_host_variables_so_group_vars_files_do_not_hide_them():
    deployment = {"mattermost_ha_db_writer_host": "db.cluster-abc.rds.amazonaws.com",
                  "mattermost_ha_deployment_region": "us-east-1"}
    second = record("i-0000000000000000b", "Demo-App-02", "us-east-1b", "10.0.2.10")
    inventory = populated(deployment, [record(), second])
    for name in ("Demo-App-01", "Demo-App-02"):
        host_vars = inventory.get_host(name).get_vars()
        assert host_vars["mattermost_ha_db_writer_host"] == "db.cluster-abc.rds.amazonaws.com"
        assert host_vars["mattermost_ha_deployment_region"] == "us-east-1"
    assert "mattermost_ha_db_writer_host" not in inventory.groups["mattermost_app"].get_vars()
