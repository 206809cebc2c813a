"""The lab controller (tests/lab/controller.py): Aurora snapshots and restores on real PostgreSQL.

On the lab as `lab.py up` makes it, through the controller on the port every client calls:
a cluster in the emulator (played by the writer/replica pair), a row, a snapshot, a second
row, a restore of the snapshot into a new cluster with an instance. The restored cluster is a
container of its own with the first row only, that an app node reaches by the cluster's and
the instance's endpoint names with verify-full against the lab CA. A snapshot the lab has no
copy of cannot be restored, and creates nothing. Deleting the restored cluster with a final
snapshot copies its data, then removes its container; `lab.py down` removes the copies.

The tests run in file order and share one lab (module scope). The `drill_*` functions take
the lab's environment and a boto3 RDS client only, so they can move into test_site.py's lab.
"""

import json
import os
import subprocess
import sys
import tarfile
import time

import boto3
import pytest
import yaml
from harness.ansible import REPO
from harness.deployment import make_network

pytestmark = pytest.mark.slow

LAB = [sys.executable, str(REPO / "tests/lab/lab.py")]
LAB_DIR = REPO / ".lab"
APP_NODE = "mmha-lab-app-01"
SOURCE, RESTORED = "drill-source", "drill-restored"
RESTORED_CONTAINER = f"mmha-lab-db-{RESTORED}"
CA_IN_NODE = "/tmp/mmha-lab-db-ca.pem"
TIMES = {}


def lab_env():
    sys.path.insert(0, str(REPO / "tests/lab"))
    import lab

    return lab.lab_env()


def podman(*argv, check=True, stdin=None):
    env = dict(os.environ, CONTAINERS_CONF=str(REPO / "tests/images/containers.conf"))
    return subprocess.run(["podman", *argv], check=check, capture_output=True, text=True, env=env, input=stdin)


def psql(container, sql):
    return podman("exec", container, "runuser", "-u", "postgres", "--", "psql", "-XAt", "-v", "ON_ERROR_STOP=1",
                  "-c", sql).stdout.split()


def client(service, env, endpoint=None):
    return boto3.client(service, endpoint_url=endpoint or env["AWS_ENDPOINT_URL"], region_name=env["AWS_REGION"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


def timed(name, call, *args, **kwargs):
    started = time.monotonic()
    result = call(*args, **kwargs)
    TIMES[name] = time.monotonic() - started
    return result


def master_login():
    values = yaml.safe_load((REPO / "inventories/local/group_vars/all/main.yml").read_text())
    return values["mattermost_ha_db_username"], values["mattermost_ha_db_password"]


def containers():
    return [n for n in podman("ps", "-a", "--format", "{{.Names}}").stdout.split() if n.startswith("mmha-lab-")]


# The drill, against any lab that is up.

def drill_snapshot_and_restore(env, rds):
    """A cluster played by the writer, rows 1 and 2 around a snapshot, a restore with one instance."""
    _vpc, subnets = make_network(lambda service: client(service, env), cidr="10.42.0.0/16")
    rds.create_db_subnet_group(DBSubnetGroupName=f"{SOURCE}-subnets", DBSubnetGroupDescription="drill",
                               SubnetIds=list(subnets.values()))
    user, password = master_login()
    rds.create_db_cluster(DBClusterIdentifier=SOURCE, DBSubnetGroupName=f"{SOURCE}-subnets",
                          Engine="aurora-postgresql", MasterUsername=user, MasterUserPassword=password)
    psql("mmha-lab-db-writer", "DROP TABLE IF EXISTS drill; CREATE TABLE drill(x int); "
                               "GRANT SELECT ON drill TO PUBLIC; INSERT INTO drill VALUES (1)")
    snapshot = timed("CreateDBClusterSnapshot", rds.create_db_cluster_snapshot, DBClusterIdentifier=SOURCE,
                     DBClusterSnapshotIdentifier="drill-snapshot")["DBClusterSnapshot"]
    psql("mmha-lab-db-writer", "INSERT INTO drill VALUES (2)")
    # By ARN, as the console and restore playbooks may name it.
    cluster = timed("RestoreDBClusterFromSnapshot", rds.restore_db_cluster_from_snapshot, DBClusterIdentifier=RESTORED,
                    SnapshotIdentifier=snapshot["DBClusterSnapshotArn"], Engine="aurora-postgresql",
                    DBSubnetGroupName=f"{SOURCE}-subnets")["DBCluster"]
    instance = timed("CreateDBInstance", rds.create_db_instance, DBInstanceIdentifier=f"{RESTORED}-1",
                     DBClusterIdentifier=RESTORED, Engine="aurora-postgresql",
                     DBInstanceClass="db.r6g.large")["DBInstance"]
    return {"endpoint": cluster["Endpoint"], "reader_endpoint": cluster["ReaderEndpoint"],
            "instance_endpoint": instance["Endpoint"]["Address"]}


def drill_connect(endpoint, sql):
    """psql on an app node to `endpoint` as the master user, verify-full against the lab CA."""
    user, password = master_login()
    return podman("exec", "-e", f"PGPASSWORD={password}", APP_NODE, "psql", "-XAt", "-v", "ON_ERROR_STOP=1",
                  f"host={endpoint} port=5432 dbname=postgres user={user} sslmode=verify-full "
                  f"sslrootcert={CA_IN_NODE} connect_timeout=10", "-c", sql, check=False)


# The lab, once for the module.

@pytest.fixture(scope="module")
def lab():
    subprocess.run([*LAB, "up"], check=True, cwd=REPO)
    yield lab_env()
    subprocess.run([*LAB, "down"], check=True, cwd=REPO)
    print("controller action times:", json.dumps({k: round(v, 1) for k, v in TIMES.items()}))


@pytest.fixture(scope="module")
def rds(lab):
    return client("rds", lab)


@pytest.fixture(scope="module")
def drill(lab, rds):
    result = drill_snapshot_and_restore(lab, rds)
    podman("exec", "-i", APP_NODE, "sh", "-c", f"cat > {CA_IN_NODE}", stdin=(LAB_DIR / "db-tls/ca.pem").read_text())
    return result


def test_everything_else_is_forwarded_unchanged(lab):
    s3 = client("s3", lab)
    s3.create_bucket(Bucket="mmha-controller-drill",
                     CreateBucketConfiguration={"LocationConstraint": lab["AWS_REGION"]})
    body = os.urandom(1234)
    s3.put_object(Bucket="mmha-controller-drill", Key="blob", Body=body)
    assert s3.head_object(Bucket="mmha-controller-drill", Key="blob")["ContentLength"] == 1234
    assert s3.get_object(Bucket="mmha-controller-drill", Key="blob")["Body"].read() == body
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket="mmha-controller-drill", Key="missing")


def test_a_snapshot_is_a_copy_of_the_database(drill):
    copy = LAB_DIR / "snapshots/drill-snapshot.tar"
    with tarfile.open(copy) as tar:
        assert "PG_VERSION" in tar.getnames()
    assert TIMES["CreateDBClusterSnapshot"] < 30


def test_the_restored_cluster_is_a_container_with_the_data_of_the_snapshot(drill):
    assert RESTORED_CONTAINER in containers()
    assert psql(RESTORED_CONTAINER, "SELECT x FROM drill ORDER BY x") == ["1"]
    # The cluster it was taken of goes on.
    assert psql("mmha-lab-db-writer", "SELECT x FROM drill ORDER BY x") == ["1", "2"]
    assert TIMES["RestoreDBClusterFromSnapshot"] < 60


@pytest.mark.parametrize("name", ["endpoint", "reader_endpoint", "instance_endpoint"])
def test_an_app_node_reaches_the_restored_cluster_by_its_endpoints_with_verify_full(drill, name):
    connected = drill_connect(drill[name], "SELECT x FROM drill ORDER BY x")
    assert connected.returncode == 0, connected.stderr
    assert connected.stdout.split() == ["1"]


def test_the_restored_container_has_the_settings_of_the_writer(drill):
    for path in ("/etc/postgresql/15/main/postgresql.conf", "/etc/postgresql/15/main/pg_hba.conf"):
        restored = podman("exec", RESTORED_CONTAINER, "cat", path).stdout
        assert restored == podman("exec", "mmha-lab-db-writer", "cat", path).stdout
    assert psql(RESTORED_CONTAINER, "SHOW listen_addresses") == ["*"]
    # TLS only, from the lab network.
    user, password = master_login()
    plain = podman("exec", "-e", f"PGPASSWORD={password}", APP_NODE, "psql", "-XAt",
                   f"host={drill['endpoint']} dbname=postgres user={user} sslmode=disable", "-c", "SELECT 1",
                   check=False)
    assert plain.returncode != 0 and "no encryption" in plain.stderr, plain.stderr
    state = json.loads((LAB_DIR / f"clusters/{RESTORED}.json").read_text())
    assert state["instances"] == {f"{RESTORED}-1": drill["instance_endpoint"]}


def test_a_snapshot_without_a_lab_copy_is_refused_and_creates_nothing(lab, rds, drill):
    # Made in moto behind the controller's back: moto has it, the lab has no copy of its data.
    moto = client("rds", lab, endpoint=lab["AWS_ENDPOINT_URL"].replace(":4566", ":4568"))
    moto.create_db_cluster_snapshot(DBClusterIdentifier=SOURCE, DBClusterSnapshotIdentifier="drill-no-copy")
    with pytest.raises(rds.exceptions.ClientError) as refused:
        rds.restore_db_cluster_from_snapshot(DBClusterIdentifier="drill-nothing", SnapshotIdentifier="drill-no-copy",
                                             Engine="aurora-postgresql")
    assert refused.value.response["Error"]["Code"] == "InvalidDBClusterSnapshotStateFault"
    assert "no copy" in refused.value.response["Error"]["Message"]
    with pytest.raises(rds.exceptions.DBClusterSnapshotNotFoundFault):
        rds.restore_db_cluster_from_snapshot(DBClusterIdentifier="drill-nothing", SnapshotIdentifier="drill-missing",
                                             Engine="aurora-postgresql")
    assert "drill-nothing" not in [c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]]
    assert "mmha-lab-db-drill-nothing" not in containers()


def test_deleting_the_restored_cluster_copies_its_data_then_removes_its_container(rds, drill):
    rds.delete_db_instance(DBInstanceIdentifier=f"{RESTORED}-1", SkipFinalSnapshot=True)
    timed("DeleteDBCluster", rds.delete_db_cluster, DBClusterIdentifier=RESTORED,
          FinalDBSnapshotIdentifier="drill-final")
    assert RESTORED_CONTAINER not in containers()
    assert not (LAB_DIR / f"clusters/{RESTORED}.json").exists()
    with tarfile.open(LAB_DIR / "snapshots/drill-final.tar") as tar:
        assert "PG_VERSION" in tar.getnames()


def test_lab_down_removes_the_copies(lab, drill):
    subprocess.run([*LAB, "down"], check=True, cwd=REPO)
    assert containers() == []
    assert not (LAB_DIR / "snapshots").exists()
    assert not (LAB_DIR / "clusters").exists()
