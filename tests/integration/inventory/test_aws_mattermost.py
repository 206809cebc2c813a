"""The mattermost_ha.aws.aws_mattermost inventory plugin, run by ansible-inventory against moto."""

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from harness.deployment import DEPLOYMENT_TAG, create_deployment, image_id, make_network, tags
from harness.moto_server import DEAD_PROXY

REPO = Path(__file__).resolve().parents[3]
ANSIBLE_INVENTORY = Path(sys.executable).parent / "ansible-inventory"

pytestmark = pytest.mark.slow


def run_inventory(tmp_path, env, config, name="demo.aws_mattermost.yml", args=(), check=True, source=None):
    """ansible-inventory --list on a plugin config (or on source); returns (returncode, inventory or None, stderr)."""
    if source is None:
        source = tmp_path / name
        source.write_text(yaml.safe_dump(dict({"plugin": "mattermost_ha.aws.aws_mattermost"}, **config)))
    full_env = dict(os.environ)
    full_env.update(env)
    full_env.update(
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        # A source that fails to parse is an error, not a warning and an empty inventory.
        ANSIBLE_INVENTORY_UNPARSED_FAILED="1",
        ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="1",
    )
    proc = subprocess.run(
        [str(ANSIBLE_INVENTORY), "-i", str(source), "--list", *args],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"ansible-inventory failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    inventory = json.loads(proc.stdout, object_hook=_plain) if proc.returncode == 0 else None
    return proc.returncode, inventory, proc.stderr


def _plain(obj):
    # ansible-inventory --list marks values from inventory plugins as unsafe: {"__ansible_unsafe": value}.
    return obj["__ansible_unsafe"] if set(obj) == {"__ansible_unsafe"} else obj


def hosts_of(inventory, group):
    return sorted(inventory.get(group, {}).get("hosts", []))


def hostvars(inventory, host):
    return inventory["_meta"]["hostvars"][host]


@pytest.fixture
def client(aws):
    return aws.client


@pytest.fixture
def demo(aws, client):
    """The deployment "Demo" with its monitoring node, plus what must be left out: another
    deployment, a stopped Demo instance and a Demo instance with another role."""
    _vpc, subnets = make_network(client, deployment="Demo")
    demo = create_deployment(client, "Demo", subnets=subnets)
    create_deployment(client, "Other", app_count=1, site_url="https://other.example.test")
    ec2 = client("ec2")
    ami = image_id(client)
    for name, role in (("Demo-App-03", "app"), ("Demo-Bastion", "bastion"), ("Demo-Monitoring", "monitoring")):
        instance = ec2.run_instances(
            ImageId=ami,
            InstanceType="t3.micro",
            MinCount=1,
            MaxCount=1,
            SubnetId=subnets[f"{aws.region}a"],
            TagSpecifications=[
                {
                    "ResourceType": "instance",
                    "Tags": tags({DEPLOYMENT_TAG: "Demo", "mattermost-ha:role": role, "Name": name}),
                }
            ],
        )["Instances"][0]
        if name == "Demo-App-03":
            ec2.stop_instances(InstanceIds=[instance["InstanceId"]])
    return demo


def test_discovers_the_deployment(aws, demo, tmp_path):
    # The endpoint comes from the endpoint_url option here, not from the environment.
    env = {k: v for k, v in aws.env.items() if k not in ("AWS_ENDPOINT_URL", "AWS_URL")}
    env_removed = {k: "" for k in ("AWS_ENDPOINT_URL", "AWS_URL")}
    _rc, inventory, _err = run_inventory(
        tmp_path, dict(env, **env_removed), {"deployment": "Demo", "endpoint_url": aws.server.url}
    )

    assert hosts_of(inventory, "mattermost_app") == ["Demo-App-01", "Demo-App-02"]
    zone_groups = {f"mattermost_app_{aws.region.replace('-', '_')}{z}" for z in "ab"}
    assert set(inventory["mattermost_app"]["children"]) == zone_groups
    for instance_id, zone in demo.zones.items():
        group = f"mattermost_app_{zone.replace('-', '_')}"
        host = [
            h for h in hosts_of(inventory, group) if hostvars(inventory, h)["mattermost_ha_instance_id"] == instance_id
        ]
        assert len(host) == 1

    for host in ("Demo-App-01", "Demo-App-02"):
        variables = hostvars(inventory, host)
        instance_id = variables["mattermost_ha_instance_id"]
        assert instance_id in demo.instance_ids
        assert variables["mattermost_ha_private_ip"] == demo.private_ips[instance_id]
        assert variables["mattermost_ha_availability_zone"] == demo.zones[instance_id]
        assert variables["mattermost_ha_instance_tags"]["Name"] == host
        # The deployment-wide variables, set on each host.
        assert variables["mattermost_ha_deployment"] == "Demo"
        assert variables["mattermost_ha_deployment_region"] == aws.region
        assert variables["mattermost_ha_db_writer_host"] == demo.writer_endpoint
        assert ".cluster-" in demo.writer_endpoint
        assert variables["mattermost_ha_db_reader_hosts"] == demo.reader_endpoints
        assert len(demo.reader_endpoints) == 1
        assert variables["mattermost_ha_db_endpoint_port"] == 5432
        assert variables["mattermost_ha_site_url"] == "https://chat.example.test"
        assert variables["mattermost_ha_alb_dns_name"] == demo.alb_dns_name
        assert variables["mattermost_ha_file_store_bucket_name"] == demo.bucket
        assert variables["mattermost_ha_file_store_region"] == aws.region
        # Discovered values have names of their own: no input's name is set.
        assert not {"mattermost_ha_region", "mattermost_ha_db_port", "mattermost_ha_file_store_bucket"} & set(variables)
        # Default connection: through the EC2 Instance Connect Endpoint.
        assert variables["ansible_host"] == instance_id
        assert variables["ansible_user"] == "ec2-user"
        assert shlex.split(variables["ansible_ssh_common_args"]) == [
            "-o",
            f"ProxyCommand=aws ec2-instance-connect open-tunnel --instance-id {instance_id} --region {aws.region}",
        ]

    # The monitoring node in a group of its own, with the same host variables.
    assert hosts_of(inventory, "mattermost_monitoring") == ["Demo-Monitoring"]
    monitor = hostvars(inventory, "Demo-Monitoring")
    assert monitor["mattermost_ha_instance_tags"]["mattermost-ha:role"] == "monitoring"
    assert monitor["ansible_host"] == monitor["mattermost_ha_instance_id"]
    assert monitor["mattermost_ha_private_ip"].startswith("10.")

    # Nothing of the other deployment, of stopped instances, or of other roles.
    all_hosts = set(inventory["_meta"]["hostvars"])
    assert all_hosts == {"Demo-App-01", "Demo-App-02", "Demo-Monitoring"}


@pytest.mark.parametrize("mode", ["instance_connect", "ssm", "ssh", "none"])
def test_connection_modes(aws, client, tmp_path, mode):
    demo = create_deployment(client, "Demo", app_count=1)
    config = {
        "deployment": "Demo",
        "connection": mode,
        "hostnames": ["instance-id"],
        "instance_connect_endpoint_id": "eice-0123456789abcdef0",
        "ssm_bucket_name": "demo-ssm-transfer",
    }
    _rc, inventory, _err = run_inventory(tmp_path, aws.env, config)
    instance_id = demo.instance_ids[0]
    assert hosts_of(inventory, "mattermost_app") == [instance_id]
    variables = hostvars(inventory, instance_id)
    connection_keys = {k for k in variables if k.startswith("ansible_")}
    if mode == "instance_connect":
        assert connection_keys == {"ansible_host", "ansible_user", "ansible_ssh_common_args"}
        assert variables["ansible_host"] == instance_id
        assert shlex.split(variables["ansible_ssh_common_args"]) == [
            "-o",
            f"ProxyCommand=aws ec2-instance-connect open-tunnel --instance-id {instance_id} "
            f"--instance-connect-endpoint-id eice-0123456789abcdef0 --region {aws.region}",
        ]
    elif mode == "ssm":
        assert variables["ansible_connection"] == "amazon.aws.aws_ssm"
        assert variables["ansible_aws_ssm_instance_id"] == instance_id
        assert variables["ansible_aws_ssm_region"] == aws.region
        assert variables["ansible_aws_ssm_bucket_name"] == "demo-ssm-transfer"
        assert "ansible_user" not in variables
        assert "ansible_ssh_common_args" not in variables
    elif mode == "ssh":
        assert connection_keys == {"ansible_host", "ansible_user"}
        assert variables["ansible_host"] == demo.private_ips[instance_id]
    else:
        assert connection_keys == set()


def test_constructed_features(aws, client, tmp_path):
    create_deployment(client, "Demo")
    config = {
        "deployment": "Demo",
        "compose": {
            "ansible_host": "mattermost_ha_private_ip",
            "node_label": "mattermost_ha_deployment ~ '/' ~ mattermost_ha_availability_zone",
        },
        "groups": {"first_node": "mattermost_ha_instance_tags.Name.endswith('-01')"},
        "keyed_groups": [{"key": "mattermost_ha_instance_type", "prefix": "type"}],
        "strict": True,
    }
    _rc, inventory, _err = run_inventory(tmp_path, aws.env, config)
    assert hosts_of(inventory, "first_node") == ["Demo-App-01"]
    assert hosts_of(inventory, "type_t3_medium") == ["Demo-App-01", "Demo-App-02"]
    first = hostvars(inventory, "Demo-App-01")
    assert first["ansible_host"] == first["mattermost_ha_private_ip"]  # compose wins over the connection default
    assert first["node_label"] == f"Demo/{first['mattermost_ha_availability_zone']}"

    # strict: an expression on an undefined variable fails the source; without strict it is skipped.
    broken = dict(config, compose={"broken": "no_such_variable.attribute"})
    returncode, _inventory, stderr = run_inventory(tmp_path, aws.env, broken, check=False)
    assert returncode != 0
    assert "no_such_variable" in stderr
    _rc, inventory, _err = run_inventory(tmp_path, aws.env, dict(broken, strict=False))
    assert "broken" not in hostvars(inventory, "Demo-App-01")
    assert hosts_of(inventory, "mattermost_app") == ["Demo-App-01", "Demo-App-02"]


def test_cached_run_makes_no_aws_call(aws, client, tmp_path):
    demo = create_deployment(client, "Demo")
    config = {
        "deployment": "Demo",
        "cache": True,
        "cache_plugin": "ansible.builtin.jsonfile",
        "cache_connection": str(tmp_path / "cache"),
        "cache_timeout": 600,
    }
    _rc, first, _err = run_inventory(tmp_path, aws.env, config)
    assert hosts_of(first, "mattermost_app") == ["Demo-App-01", "Demo-App-02"]
    assert list((tmp_path / "cache").iterdir()), "the first run wrote no cache"

    # The account is emptied and the endpoint is a port where nothing listens: any AWS call fails.
    aws.server.reset()
    dead = dict(aws.env, AWS_ENDPOINT_URL=DEAD_PROXY, AWS_URL=DEAD_PROXY)
    _rc, cached, _err = run_inventory(tmp_path, dead, config)
    assert cached == first
    assert hostvars(cached, "Demo-App-01")["mattermost_ha_db_writer_host"] == demo.writer_endpoint

    # --flush-cache asks AWS again, and the (now empty) account has no instance.
    _rc, refreshed, _err = run_inventory(tmp_path, aws.env, config, args=("--flush-cache",))
    assert hosts_of(refreshed, "mattermost_app") == []
    returncode, _inventory, stderr = run_inventory(tmp_path, dead, config, args=("--flush-cache",), check=False)
    assert returncode != 0


def test_missing_resources_and_configured_bucket(aws, client, tmp_path):
    create_deployment(client, "Demo", with_load_balancer=False, with_bucket=False)
    config = {
        "deployment": "Demo",
        "file_store_bucket": "my-files",
        "file_store_region": "eu-west-1",
        # Clients are made with the assumed role's credentials (moto does not check them).
        "assume_role_arn": "arn:aws:iam::123456789012:role/inventory-reader",
    }
    _rc, inventory, stderr = run_inventory(tmp_path, aws.env, config)
    variables = hostvars(inventory, "Demo-App-01")
    assert variables["mattermost_ha_file_store_bucket_name"] == "my-files"
    assert variables["mattermost_ha_file_store_region"] == "eu-west-1"
    assert "mattermost_ha_site_url" not in variables
    assert "mattermost_ha_alb_dns_name" not in variables
    assert "no Application Load Balancer tagged mattermost-ha:deployment=Demo" in " ".join(stderr.split())


def test_file_store_bucket_of_the_deployment_region_wins(aws, client, tmp_path):
    # moto's GetResources lists the buckets of every region: the plugin asks S3 where each is.
    demo = create_deployment(client, "Demo", app_count=1, with_database=False, with_load_balancer=False)
    east = aws.client("s3", region="us-east-1")
    east.create_bucket(Bucket="demo-files-east")
    east.put_bucket_tagging(
        Bucket="demo-files-east",
        Tagging={"TagSet": tags({DEPLOYMENT_TAG: "Demo", "mattermost-ha:purpose": "file-store"})},
    )
    _rc, inventory, stderr = run_inventory(tmp_path, aws.env, {"deployment": "Demo"})
    variables = hostvars(inventory, "Demo-App-01")
    assert variables["mattermost_ha_file_store_bucket_name"] == demo.bucket
    assert variables["mattermost_ha_file_store_region"] == aws.region
    assert "several file-store buckets" not in stderr


def test_deployment_in_several_regions_is_refused(aws, client, tmp_path):
    create_deployment(client, "Demo", app_count=1, with_database=False, with_load_balancer=False, with_bucket=False)
    create_deployment(
        lambda service: aws.client(service, region="us-east-1"),
        "Demo",
        app_count=1,
        with_database=False,
        with_load_balancer=False,
        with_bucket=False,
    )
    config = {"deployment": "Demo", "regions": [aws.region, "us-east-1"]}
    returncode, _inventory, stderr = run_inventory(tmp_path, aws.env, config, check=False)
    assert returncode != 0
    assert "several regions" in " ".join(stderr.split())


def test_config_file_name_must_end_in_aws_mattermost_yml(aws, client, tmp_path):
    create_deployment(client, "Demo", app_count=1)
    returncode, _inventory, stderr = run_inventory(
        tmp_path, aws.env, {"deployment": "Demo"}, name="demo.yml", check=False
    )
    assert returncode != 0
    assert "could not be verified by inventory plugin 'mattermost_ha.aws.aws_mattermost'" in stderr


def _example_inventory(aws, tmp_path):
    """Deployment Mattermost in us-east-1 and a copy of inventories/aws as shipped, its cache moved to tmp_path."""
    create_deployment(lambda service: aws.client(service, region="us-east-1"), "Mattermost")
    inventory_dir = tmp_path / "aws"
    shutil.copytree(REPO / "inventories" / "aws", inventory_dir)
    plugin_file = inventory_dir / "mattermost.aws_mattermost.yml"
    config = yaml.safe_load(plugin_file.read_text())
    assert config["deployment"] == "Mattermost"
    plugin_file.write_text(plugin_file.read_text().replace(config["cache_connection"], str(tmp_path / "cache")))
    return inventory_dir


def test_example_inventory_for_aws_accounts(aws, tmp_path):
    """inventories/aws as shipped (deployment Mattermost in us-east-1), its cache moved to tmp_path."""
    inventory_dir = _example_inventory(aws, tmp_path)

    _rc, inventory, _err = run_inventory(tmp_path, aws.env, None, source=inventory_dir)
    assert hosts_of(inventory, "mattermost_app") == ["Mattermost-App-01", "Mattermost-App-02"]
    variables = hostvars(inventory, "Mattermost-App-01")
    assert variables["mattermost_ha_name"] == "Mattermost"  # group_vars/all/main.yml
    assert variables["mattermost_ha_region"] == "us-east-1"  # the input, from group_vars/all
    assert variables["mattermost_ha_deployment_region"] == "us-east-1"  # where the plugin found it
    assert variables["mattermost_ha_db_writer_host"].startswith("mattermost-db.cluster-")
    assert not any(key.startswith("vault_") for key in variables)  # vault.yml.example is not loaded
    assert list((tmp_path / "cache").iterdir())


def test_discovered_values_beat_group_vars_all_and_lose_to_host_vars(aws, tmp_path):
    """A stale value in group_vars/all does not hide what the plugin found; a host_vars file overrides it.
    The inputs there keep their values: the plugin never sets an input's name."""
    inventory_dir = _example_inventory(aws, tmp_path)
    (inventory_dir / "group_vars" / "all" / "stale.yml").write_text(
        "mattermost_ha_db_writer_host: stale-writer.example\nmattermost_ha_file_store_bucket_name: stale-bucket\n"
        "mattermost_ha_file_store_bucket: my-input-bucket\nmattermost_ha_db_port: 5499\n"
    )
    (inventory_dir / "host_vars").mkdir()
    (inventory_dir / "host_vars" / "Mattermost-App-02.yml").write_text("mattermost_ha_db_writer_host: pinned.example\n")

    _rc, inventory, _err = run_inventory(tmp_path, aws.env, None, source=inventory_dir)
    first, second = hostvars(inventory, "Mattermost-App-01"), hostvars(inventory, "Mattermost-App-02")
    assert first["mattermost_ha_db_writer_host"].startswith("mattermost-db.cluster-")
    assert first["mattermost_ha_file_store_bucket_name"] not in ("stale-bucket", "my-input-bucket", "")
    assert second["mattermost_ha_file_store_bucket_name"] == first["mattermost_ha_file_store_bucket_name"]
    assert first["mattermost_ha_db_endpoint_port"] == 5432
    assert (first["mattermost_ha_file_store_bucket"], first["mattermost_ha_db_port"]) == ("my-input-bucket", 5499)
    assert second["mattermost_ha_db_writer_host"] == "pinned.example"


def flat(text):
    return " ".join(text.split())


def run_app_instance(client, subnet_id, deployment, name):
    return client("ec2").run_instances(
        ImageId=image_id(client),
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet_id,
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": tags({DEPLOYMENT_TAG: deployment, "mattermost-ha:role": "app",
                                                      "Name": name})}
        ],
    )["Instances"][0]["InstanceId"]


def test_instance_tagged_in_another_vpc_is_not_in_the_inventory(aws, client, tmp_path):
    create_deployment(client, "Demo")
    _vpc, elsewhere = make_network(client, cidr="10.9.0.0/16")
    intruder = run_app_instance(client, next(iter(elsewhere.values())), "Demo", "Demo-App-09")

    _rc, inventory, stderr = run_inventory(tmp_path, aws.env, {"deployment": "Demo"})

    assert set(inventory["_meta"]["hostvars"]) == {"Demo-App-01", "Demo-App-02"}
    assert intruder not in json.dumps(inventory)
    assert "outside the deployment's VPC" in flat(stderr) and intruder in stderr


def test_load_balancer_tagged_in_another_vpc_is_ignored(aws, client, tmp_path):
    demo = create_deployment(client, "Demo")
    _vpc, elsewhere = make_network(client, cidr="10.9.0.0/16")
    stray = client("elbv2").create_load_balancer(
        Name="Stray-ALB", Subnets=list(elsewhere.values()),
        Tags=tags({DEPLOYMENT_TAG: "Demo", "mattermost-ha:site-url": "https://attacker.example.test"}),
    )["LoadBalancers"][0]

    _rc, inventory, stderr = run_inventory(tmp_path, aws.env, {"deployment": "Demo"})

    variables = hostvars(inventory, "Demo-App-01")
    assert variables["mattermost_ha_alb_dns_name"] == demo.alb_dns_name
    assert variables["mattermost_ha_site_url"] == "https://chat.example.test"
    assert stray["LoadBalancerArn"] in stderr


def test_second_tagged_load_balancer_makes_the_inventory_fail_naming_both(aws, client, tmp_path):
    _vpc, subnets = make_network(client, deployment="Demo")
    create_deployment(client, "Demo", subnets=subnets)
    elbv2 = client("elbv2")
    second = elbv2.create_load_balancer(Name="Demo-ALB-2", Subnets=list(subnets.values()),
                                        Tags=tags({DEPLOYMENT_TAG: "Demo"}))["LoadBalancers"][0]["LoadBalancerArn"]
    first = elbv2.describe_load_balancers(Names=["Demo-ALB"])["LoadBalancers"][0]["LoadBalancerArn"]

    returncode, _inventory, stderr = run_inventory(tmp_path, aws.env, {"deployment": "Demo"}, check=False)

    assert returncode != 0
    assert "2 Application Load Balancers are tagged mattermost-ha:deployment=Demo" in flat(stderr)
    assert first in stderr and second in stderr


def test_second_tagged_aurora_cluster_makes_the_inventory_fail_naming_both(aws, client, tmp_path):
    create_deployment(client, "Demo", with_load_balancer=False, with_bucket=False)
    rds = client("rds")
    first = rds.describe_db_clusters(DBClusterIdentifier="demo-db")["DBClusters"][0]["DBClusterArn"]
    second = rds.create_db_cluster(
        DBClusterIdentifier="demo-db-copy", DBSubnetGroupName="demo-db-subnets", Engine="aurora-postgresql",
        MasterUsername="mmuser", MasterUserPassword="not-a-secret-2", Tags=tags({DEPLOYMENT_TAG: "Demo"}),
    )["DBCluster"]["DBClusterArn"]

    returncode, _inventory, stderr = run_inventory(tmp_path, aws.env, {"deployment": "Demo"}, check=False)

    assert returncode != 0
    assert "2 Aurora clusters are tagged mattermost-ha:deployment=Demo" in flat(stderr)
    assert first in stderr and second in stderr


def test_two_vpcs_tagged_with_the_deployment_are_refused(aws, client, tmp_path):
    first_vpc, subnets = make_network(client, deployment="Demo")
    create_deployment(client, "Demo", app_count=1, with_database=False, with_load_balancer=False, with_bucket=False,
                      subnets=subnets)
    second_vpc, _subnets = make_network(client, cidr="10.9.0.0/16", deployment="Demo")

    returncode, _inventory, stderr = run_inventory(tmp_path, aws.env, {"deployment": "Demo"}, check=False)
    assert returncode != 0
    assert "more than one VPC is tagged mattermost-ha:deployment=Demo" in flat(stderr)
    assert second_vpc in stderr

    # Pinned with vpc_id, the inventory takes the instances of that VPC only.
    _rc, inventory, _err = run_inventory(tmp_path, aws.env, {"deployment": "Demo", "vpc_id": first_vpc})
    assert hosts_of(inventory, "mattermost_app") == ["Demo-App-01"]
    _rc, inventory, _err = run_inventory(tmp_path, aws.env, {"deployment": "Demo", "vpc_id": second_vpc})
    assert hosts_of(inventory, "mattermost_app") == []


def test_plays_take_the_app_nodes_in_name_order_whatever_their_instance_ids(aws, client, tmp_path):
    # Rolling restarts and upgrades go through the play's hosts in order: the inventory gives
    # them in name order. Names are handed out here against the instance IDs' order, so that
    # an inventory in instance ID order would give them backwards.
    deployment = create_deployment(client, "Order", app_count=4)
    ec2 = client("ec2")
    by_id = sorted(deployment.instance_ids, reverse=True)
    for number, instance_id in enumerate(by_id, start=1):
        ec2.create_tags(Resources=[instance_id], Tags=[{"Key": "Name", "Value": f"Order-App-{number:02d}"}])
    source = tmp_path / "order.aws_mattermost.yml"
    source.write_text(yaml.safe_dump({"plugin": "mattermost_ha.aws.aws_mattermost", "deployment": "Order"}))
    env = dict(os.environ, **aws.env, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    ansible = str(ANSIBLE_INVENTORY.parent / "ansible")
    proc = subprocess.run([ansible, "mattermost_app", "-i", str(source), "--list-hosts"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=True)
    listed = [line.strip() for line in proc.stdout.splitlines()[1:] if line.strip()]
    assert listed == ["Order-App-01", "Order-App-02", "Order-App-03", "Order-App-04"]
