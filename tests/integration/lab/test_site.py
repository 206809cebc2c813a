"""site.yml end to end on the local lab, as `make demo` runs it, then its teardown.

The lab (tests/lab/lab.py) is the embedded default: a moto server for AWS, podman systemd
containers for the app instances and for the Aurora writer and reader. The test runs in
file order: up, first run, second run with Mitogen (changed=0), state checks, the restore
drill (docs/backup-restore.md), teardown, down.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from harness.ansible import REPO, PlaybookRun, run_playbook

pytestmark = pytest.mark.slow

LAB = [sys.executable, str(REPO / "tests/lab/lab.py")]
NODES = ["mmha-lab-app-01", "mmha-lab-app-02"]
INVENTORY = ["-i", "inventories/local"]


def lab_env():
    sys.path.insert(0, str(REPO / "tests/lab"))
    import lab

    return lab.lab_env()


def podman_exec(container, *argv):
    env = dict(os.environ, CONTAINERS_CONF=str(REPO / "tests/images/containers.conf"))
    return subprocess.run(["podman", "exec", container, *argv], check=True, capture_output=True, text=True,
                          env=env).stdout


def client(service):
    env = lab_env()
    return boto3.client(service, endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_REGION"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


@pytest.fixture(scope="module")
def lab():
    subprocess.run([*LAB, "up"], check=True, cwd=REPO)
    yield lab_env()
    subprocess.run([*LAB, "down"], check=True, cwd=REPO)


@pytest.fixture(scope="module")
def first_run(lab):
    return run_playbook("site.yml", *INVENTORY, env=lab)


def test_site_converges_on_the_lab(first_run):
    assert first_run.failed == 0
    assert set(first_run.recap) >= {"localhost", "Mattermost-App-01", "Mattermost-App-02"}
    # The summary names the stand-in when the real release could not be had.
    release = json.loads((REPO / ".lab/release/release.json").read_text())
    if release["source"] == "stand-in":
        assert "STAND-IN" in first_run.output


def test_second_lab_up_changes_nothing(lab):
    """`make demo` run again: the lab's own set-up is as quiet as site.yml."""
    proc = subprocess.run([*LAB, "up"], cwd=REPO, capture_output=True, text=True,
                          env=dict(os.environ, ANSIBLE_NOCOLOR="1"))
    again = PlaybookRun(proc.returncode, proc.stdout + proc.stderr)
    assert again.returncode == 0, again.output
    assert again.recap, again.output
    assert again.changed == 0, again.recap


def test_second_run_with_mitogen_changes_nothing(lab, first_run):
    """The first run used Ansible's own strategy (what `make demo` does); this one the Mitogen
    accelerator (docs/performance.md), so both ways converge the same lab to the same state."""
    second = run_playbook("site.yml", *INVENTORY, env=lab, mitogen=True)
    assert second.failed == 0
    assert second.changed == 0, second.recap


def test_both_nodes_answer_ping_and_are_live_cluster_members(first_run):
    for node in NODES:
        ping = json.loads(podman_exec(node, "curl", "-sf", "http://localhost:8065/api/v4/system/ping"))
        assert ping["status"] == "OK"
        # The real local mode has no cluster route: the socket answers 404.
        code = podman_exec(node, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket",
                           "/run/mattermost/mattermost_local.socket", "http://localhost/api/v4/cluster/status")
        assert code.strip() == "404"
    # What the roles and the summary check: both nodes have a live ClusterDiscovery row on the writer.
    rows = podman_exec("mmha-lab-db-writer", "runuser", "-u", "postgres", "--", "psql", "-XAt", "-d", "mattermost",
                       "-c", "SELECT hostname FROM clusterdiscovery WHERE type = 'mattermost_app' AND "
                       "lastpingat > (extract(epoch FROM now()) * 1000)::bigint - 180000")
    assert len(rows.split()) == 2, rows


def test_one_active_configuration_in_the_writer(first_run):
    out = podman_exec("mmha-lab-db-writer", "runuser", "-u", "postgres", "--", "psql", "-XAt", "-d", "mattermost",
                      "-c", "SELECT count(*) FROM configurations WHERE active")
    assert out.strip() == "1"


def test_mattermost_uses_its_own_login_with_verify_full_against_the_lab_ca(first_run):
    sessions = podman_exec("mmha-lab-db-writer", "runuser", "-u", "postgres", "--", "psql", "-XAt", "-d", "mattermost",
                           "-c", "SELECT DISTINCT a.usename || ' ssl=' || s.ssl FROM pg_stat_activity a "
                           "JOIN pg_stat_ssl s USING (pid) "
                           "WHERE a.datname = 'mattermost' AND a.client_addr IS NOT NULL")
    assert sessions.split("\n")[:-1] == ["mattermost ssl=true"], sessions
    owner = podman_exec("mmha-lab-db-writer", "runuser", "-u", "postgres", "--", "psql", "-XAt", "-c",
                        "SELECT pg_get_userbyid(datdba), rolsuper, rolcreatedb, rolcreaterole "
                        "FROM pg_database, pg_roles WHERE datname = 'mattermost' AND rolname = 'mattermost'")
    assert owner.strip() == "mattermost|f|f|f"
    for node in NODES:
        environment = podman_exec(node, "cat", "/opt/mattermost/config/mattermost.environment")
        assert "postgres://mattermost:" in environment
        assert "sslmode=verify-full" in environment
        assert "sslrootcert=/etc/ssl/mattermost-ha/db-ca-bundle.pem" in environment
        ca = podman_exec(node, "cat", "/etc/ssl/mattermost-ha/db-ca-bundle.pem")
        assert ca.strip() == (REPO / ".lab/db-tls/ca.pem").read_text().strip()


def test_the_app_instances_are_in_the_target_group(first_run):
    elbv2 = client("elbv2")
    [group] = elbv2.describe_target_groups(Names=["Mattermost-Targets"])["TargetGroups"]
    targets = elbv2.describe_target_health(TargetGroupArn=group["TargetGroupArn"])["TargetHealthDescriptions"]
    assert len(targets) == 2


SOCKET = "/run/mattermost/mattermost_local.socket"
DRILL_CLUSTER = "mattermost-db-drill"


def local_api(node, method, path, body=None):
    """(status, JSON) of a request to Mattermost's local-mode socket on a node."""
    argv = ["curl", "-s", "-w", "\n%{http_code}", "--unix-socket", SOCKET, "-X", method,
            "-H", "Content-Type: application/json", f"http://localhost/api/v4{path}"]
    if body is not None:
        argv += ["-d", json.dumps(body)]
    out, _, code = podman_exec(node, *argv).rpartition("\n")
    return int(code), json.loads(out) if out.strip() else None


def create_user_and_post(node, name, team_id, channel_id):
    status, user = local_api(node, "POST", "/users", {"username": name, "email": f"{name}@example.com",
                                                      "password": "Dr1ll-passw0rd!"})
    assert status == 201, user
    status, post = local_api(node, "POST", "/posts", {"channel_id": channel_id, "user_id": user["id"],
                                                      "message": f"{name} was here"})
    assert status == 201, post
    return user["id"], post["id"]


def unit_starts_and_stops(node, since):
    """(microseconds, "Stopping" or "Started") of mattermost.service in the node's journal since `since`
    (epoch seconds)."""
    lines = podman_exec(node, "journalctl", "-u", "mattermost.service", "--since", f"@{int(since)}", "-o", "json",
                        "--no-pager").splitlines()
    events = [(int(e["__REALTIME_TIMESTAMP"]), str(e.get("MESSAGE", "")).split(" ", 1)[0])
              for e in map(json.loads, lines)]
    return [e for e in events if e[1] in ("Stopping", "Started")]


def test_restore_drill_brings_back_the_snapshot_and_moves_every_node_onto_it(lab, first_run):
    """Guide section 13's "test your backup and recovery process", in the lab with real data: data
    made through Mattermost, a cluster snapshot (the lab controller copies the writer's database),
    more data, restore.yml into a new cluster and onto it; the first data is back, the later not."""
    timings = {}
    started = time.monotonic()
    node = NODES[0]
    status, team = local_api(node, "POST", "/teams", {"name": "drill", "display_name": "Drill", "type": "O"})
    assert status == 201, team
    status, channel = local_api(node, "GET", f"/teams/{team['id']}/channels/name/town-square")
    assert status == 200, channel
    kept_user, kept_post = create_user_and_post(node, "before-snapshot", team["id"], channel["id"])
    timings["data before"] = time.monotonic() - started

    mark = time.monotonic()
    rds = client("rds")
    rds.create_db_cluster_snapshot(DBClusterIdentifier="mattermost-db", DBClusterSnapshotIdentifier="drill-snapshot",
                                   Tags=[{"Key": "mattermost-ha:deployment", "Value": "Mattermost"}])
    timings["snapshot"] = time.monotonic() - mark
    lost_user, lost_post = create_user_and_post(node, "after-snapshot", team["id"], channel["id"])

    mark, restore_began = time.monotonic(), time.time()
    restored = run_playbook("playbooks/restore.yml", *INVENTORY, "-e", json.dumps({
        "mattermost_ha_db_restore_cluster_identifier": DRILL_CLUSTER,
        "mattermost_ha_db_restore_snapshot": "drill-snapshot",
        "mattermost_ha_db_restore_min_rows": {"users": 2, "posts": 1},
        "mattermost_ha_db_restore_serve": True}), env=lab, mitogen=True)
    timings["restore.yml (restore, check, serve, rolling restart)"] = time.monotonic() - mark
    assert "schema version 171, one active configuration" in restored.folded
    print("restore drill timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))

    for each in NODES:
        ping = json.loads(podman_exec(each, "curl", "-sf", "http://localhost:8065/api/v4/system/ping"))
        assert ping["status"] == "OK"
        assert local_api(each, "GET", f"/posts/{kept_post}")[0] == 200
        assert local_api(each, "GET", f"/users/{kept_user}")[0] == 200
        assert local_api(each, "GET", f"/posts/{lost_post}")[0] == 404
        assert local_api(each, "GET", f"/users/{lost_user}")[0] == 404
        environment = podman_exec(each, "cat", "/opt/mattermost/config/mattermost.environment")
        assert f"@{DRILL_CLUSTER}.cluster-" in environment
    # Each node was restarted once (the readers come with the data source in the environment
    # file), and not while the other was down.
    restarts = {each: unit_starts_and_stops(each, restore_began - 1) for each in NODES}
    for each, events in restarts.items():
        assert [kind for _, kind in events] == ["Stopping", "Started"], (each, events)
        assert "MM_SQLSETTINGS_DATASOURCEREPLICAS=" in podman_exec(
            each, "cat", "/opt/mattermost/config/mattermost.environment")
    first, second = sorted(restarts.values())
    assert first[1][0] < second[0][0], restarts
    # Both nodes are live cluster members in the restored database; the old cluster is kept, tagged.
    rows = podman_exec(f"mmha-lab-db-{DRILL_CLUSTER}", "runuser", "-u", "postgres", "--", "psql", "-XAt", "-d",
                       "mattermost", "-c", "SELECT hostname FROM clusterdiscovery WHERE type = 'mattermost_app' AND "
                       "lastpingat > (extract(epoch FROM now()) * 1000)::bigint - 180000")
    assert len(set(rows.split())) == 2, rows
    old = rds.describe_db_clusters(DBClusterIdentifier="mattermost-db")["DBClusters"][0]
    assert {t["Key"]: t["Value"] for t in old["TagList"]}["mattermost-ha:not-serving"] == \
        f"retired: serving moved to {DRILL_CLUSTER}"


def test_teardown_leaves_nothing_of_the_deployment(lab, first_run):
    run_playbook("playbooks/teardown.yml", *INVENTORY, "-e", "mattermost_ha_teardown_confirm=Mattermost", env=lab,
                 mitogen=True)
    deployment = [{"Name": "tag:mattermost-ha:deployment", "Values": ["Mattermost"]}]
    ec2 = client("ec2")
    assert ec2.describe_vpcs(Filters=deployment)["Vpcs"] == []
    running = ec2.describe_instances(Filters=deployment + [
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}])
    assert running["Reservations"] == []
    assert ec2.describe_addresses(Filters=deployment)["Addresses"] == []
    assert client("rds").describe_db_clusters()["DBClusters"] == []
    assert client("elbv2").describe_load_balancers()["LoadBalancers"] == []
    assert [b["Name"] for b in client("s3").list_buckets()["Buckets"] if "mattermost" in b["Name"]] == []


def test_lab_down_removes_the_containers(lab, first_run):
    subprocess.run([*LAB, "down"], check=True, cwd=REPO)
    env = dict(os.environ, CONTAINERS_CONF=str(REPO / "tests/images/containers.conf"))
    names = subprocess.run(["podman", "ps", "-a", "--format", "{{.Names}}"], check=True, capture_output=True,
                           text=True, env=env).stdout.split()
    assert [n for n in names if n.startswith("mmha-lab-")] == []
    assert not Path(REPO / ".lab/moto.pid").exists()
