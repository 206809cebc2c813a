"""site.yml end to end on the local lab, as `make demo` runs it, then its teardown.

The lab (tests/lab/lab.py) is the embedded default: a moto server for AWS, podman systemd
containers for the app instances and for the Aurora writer and reader. The test runs in
file order: up, first run, second run with Mitogen (changed=0), state checks, the restore
drill (docs/backup-restore.md), teardown, down.
"""

import http.server
import itertools
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import boto3
import pytest
from harness.ansible import REPO, PlaybookRun, run_playbook
from harness.traffic import RequestLoop

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
    # ... and where the monitoring node's Prometheus and Alertmanager answer.
    assert "prometheus: http://10.89.77.1:9090/" in first_run.output
    assert "alertmanager: http://10.89.77.1:9093/" in first_run.output
    # ... and where the lab's load balancer answers.
    assert "site_local_url: http://127.0.0.1:8080\n" in first_run.output


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
    # Registered by configure.yml once they served, and healthy by the lab load balancer's own checks.
    assert sorted((t["Target"]["Port"], t["TargetHealth"]["State"]) for t in targets) == [(8065, "healthy")] * 2
    with urllib.request.urlopen("http://127.0.0.1:8080/api/v4/system/ping", timeout=10) as answer:
        assert json.load(answer)["status"] == "OK"


PROMETHEUS = "http://10.89.77.1:9090"
DASHBOARDS = REPO / "roles/monitoring_grafana/files/dashboards"
ALERTS = {"MattermostNodeDown", "MattermostPingFailing", "NodeExporterDown", "MattermostServerErrors",
          "MattermostApiLatencyHigh", "MattermostDatabaseConnectionsNearLimit", "HostDiskNearlyFull"}
# Panels that have no data on the lab, each for a reason of the stand-in (tests/mattermost_standin/README.md):
# no 5xx answers, no websockets, no gossip requests (NaN quantile), no store timings, no ReplicaLagSettings, no jobs.
EMPTY_ON_THE_LAB = {"API 5xx ratio", "Connected websockets", "Inter-node request latency (p99)",
                    "Database store latency (p99)", "Read replica lag", "Running jobs"}
# inventories/local sets mattermost_ha_alert_webhook_url to this address.
WEBHOOK = ("10.89.77.1", 4569)


def prometheus(path, **params):
    url = f"{PROMETHEUS}{path}?{urllib.parse.urlencode(params)}" if params else f"{PROMETHEUS}{path}"
    with urllib.request.urlopen(url, timeout=10) as answer:
        body = json.load(answer)
    assert body["status"] == "success", body
    return body["data"]


def wait_for(condition, timeout, interval=1.0):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def targets_by_job():
    found = {}
    for target in prometheus("/api/v1/targets")["activeTargets"]:
        found.setdefault(target["labels"]["job"], {})[target["labels"].get("node")] = target["health"]
    return found


def app_instance_ids():
    """The Name tag -> instance ID of the deployment's running app instances."""
    running = client("ec2").describe_instances(Filters=[
        {"Name": "tag:mattermost-ha:deployment", "Values": ["Mattermost"]},
        {"Name": "tag:mattermost-ha:role", "Values": ["app"]},
        {"Name": "instance-state-name", "Values": ["running"]}])
    return {{t["Key"]: t["Value"] for t in i["Tags"]}["Name"]: i["InstanceId"]
            for r in running["Reservations"] for i in r["Instances"]}


def app_nodes_in_inventory():
    """The Name tags of the deployment's running app instances (the inventory's host names)."""
    return sorted(app_instance_ids())


def lab_nodes():
    """The containers of the running app instances (inventories/local maps -NN to mmha-lab-app-NN)."""
    return ["mmha-lab-app-" + name.rsplit("-", 1)[1] for name in app_nodes_in_inventory()]


def test_prometheus_scrapes_every_app_node_its_host_and_its_ping(first_run):
    names = app_nodes_in_inventory()
    assert len(names) == 2

    def all_up():
        jobs = targets_by_job()
        return all(jobs.get(job, {}).get(name) == "up" for job in ("mattermost", "node", "mattermost_ping")
                   for name in names) and jobs
    jobs = wait_for(all_up, 60)
    assert jobs, targets_by_job()
    assert {job: sorted(nodes) for job, nodes in jobs.items() if job in ("mattermost", "node", "mattermost_ping")} == \
        {"mattermost": names, "node": names, "mattermost_ping": names}


def test_alert_rules_pass_promtool_and_every_rule_evaluates(first_run):
    checked = subprocess.run(["podman", "exec", "mmha-lab-monitor", "/usr/local/bin/promtool", "check", "rules",
                              "/etc/prometheus/rules/ansible_managed.yml"], capture_output=True, text=True,
                             env=dict(os.environ, CONTAINERS_CONF=str(REPO / "tests/images/containers.conf")))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in checked.stdout

    def evaluated():
        rules = [r for g in prometheus("/api/v1/rules")["groups"] for r in g["rules"]]
        return rules if all(r.get("lastEvaluation", "").startswith("20") for r in rules) else None
    rules = wait_for(evaluated, 30)
    assert rules
    assert {r["name"] for r in rules} == ALERTS
    assert [(r["name"], r["lastError"]) for r in rules if r["health"] != "ok"] == []
    # Nothing is wrong on the converged lab: no alert fires.
    assert [a["labels"]["alertname"] for a in prometheus("/api/v1/alerts")["alerts"] if a["state"] == "firing"] == []


def test_every_dashboard_query_evaluates_and_the_panels_that_should_have_data_do(first_run):
    # rate() over 5m needs two samples of each series: the scrape interval is 5 s on the lab.
    empty, panels = set(), 0
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text())
        [variable] = dashboard["templating"]["list"]
        match = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["query"]["query"])
        values = prometheus(f"/api/v1/label/{match.group(2)}/values", **{"match[]": match.group(1)})
        assert sorted(values) == app_nodes_in_inventory(), (path.name, values)
        for panel in dashboard["panels"]:
            panels += 1
            has_data = False
            for target in panel["targets"]:
                query = target["expr"].replace("$node", ".*")
                result = prometheus("/api/v1/query", query=query)["result"]
                has_data |= any(sample["value"][1] not in ("NaN", "+Inf", "-Inf") for sample in result)
            if not has_data:
                empty.add(panel["title"])
    assert panels == 28
    assert empty == EMPTY_ON_THE_LAB


class _Receiver(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):  # http.server naming
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.append((time.monotonic(), json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_node_down_alert_reaches_the_webhook_and_resolves(first_run):
    """Mattermost stopped on one node: Alertmanager posts MattermostNodeDown for that node to the
    webhook, then, once it runs again, the same alert resolved."""
    server = http.server.ThreadingHTTPServer(WEBHOOK, _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    node, name = NODES[0], "Mattermost-App-01"

    def notified(status):
        return [at for at, body in _Receiver.received for alert in body["alerts"]
                if alert["labels"].get("alertname") == "MattermostNodeDown" and alert["labels"].get("node") == name
                and alert["status"] == status]
    try:
        stopped = time.monotonic()
        podman_exec(node, "systemctl", "stop", "mattermost")
        try:
            fired = wait_for(lambda: notified("firing"), 120)
            assert fired, _Receiver.received
        finally:
            started = time.monotonic()
            podman_exec(node, "systemctl", "start", "mattermost")
        resolved = wait_for(lambda: [at for at in notified("resolved") if at > started], 120)
        assert resolved, _Receiver.received
        print(f"node-down alert: fired {fired[0] - stopped:.1f} s after the stop, "
              f"resolved {resolved[0] - started:.1f} s after the start")
    finally:
        server.shutdown()
        server.server_close()
    assert wait_for(lambda: targets_by_job()["mattermost"][name] == "up", 60)


def test_a_node_added_by_scaling_is_scraped_without_any_edit(lab, first_run):
    """2 -> 3 app nodes: the site.yml run that scales also has Prometheus scrape the new node."""
    subprocess.run([*LAB, "up", "--app-count", "3"], check=True, cwd=REPO, capture_output=True)
    started = time.monotonic()
    run_playbook("site.yml", *INVENTORY, "-e", "mattermost_ha_app_count=3", env=lab, mitogen=True)
    print(f"site.yml scaling 2 -> 3: {time.monotonic() - started:.1f} s")
    names = app_nodes_in_inventory()
    assert len(names) == 3
    up = wait_for(lambda: all(targets_by_job().get(job, {}).get("Mattermost-App-03") == "up"
                              for job in ("mattermost", "node", "mattermost_ping")), 60)
    assert up, targets_by_job()


def test_cloudwatch_agent_sends_mattermosts_log_and_the_journal_to_the_deployments_groups(first_run):
    """The agent cannot be installed here: its configuration, the journal copy and the log groups
    on the emulator are what the lab checks (roles/cloudwatch_agent/README.md)."""
    groups = {g["logGroupName"]: g for g in client("logs").describe_log_groups(
        logGroupNamePrefix="/mattermost-ha/Mattermost/")["logGroups"]}
    assert groups["/mattermost-ha/Mattermost/mattermost"]["retentionInDays"] == 30
    assert groups["/mattermost-ha/Mattermost/system"]["retentionInDays"] == 30
    for node in lab_nodes():  # three after the scaling test
        config = json.loads(podman_exec(node, "cat",
                                        "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json"))
        files = {f["file_path"]: f["log_group_name"] for f in config["logs"]["logs_collected"]["files"]["collect_list"]}
        assert files == {"/opt/mattermost/logs/mattermost.log": "/mattermost-ha/Mattermost/mattermost",
                         "/var/log/mattermost-ha/journal.log": "/mattermost-ha/Mattermost/system"}
        assert set(config["metrics"]["metrics_collected"]) == {"mem", "disk"}
        assert podman_exec(node, "systemctl", "is-active", "mattermost-ha-journal.service").strip() == "active"
        # The copy follows the journal: a line logged now is in the file within seconds.
        marker = f"mmha-journal-probe-{time.time_ns()}"
        podman_exec(node, "logger", marker)
        assert wait_for(lambda node=node, marker=marker: marker in podman_exec(
            node, "cat", "/var/log/mattermost-ha/journal.log"), 15)
        assert podman_exec(node, "test", "-s", "/opt/mattermost/logs/mattermost.log") == ""


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
    nodes = lab_nodes()  # three after the scaling test
    node = nodes[0]
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

    for each in nodes:
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
    restarts = {each: unit_starts_and_stops(each, restore_began - 1) for each in nodes}
    for each, events in restarts.items():
        assert [kind for _, kind in events] == ["Stopping", "Started"], (each, events)
        assert "MM_SQLSETTINGS_DATASOURCEREPLICAS=" in podman_exec(
            each, "cat", "/opt/mattermost/config/mattermost.environment")
    ordered = sorted(restarts.values())
    assert all(before[1][0] < after[0][0] for before, after in itertools.pairwise(ordered)), restarts
    # Every node is a live cluster member in the restored database; the old cluster is kept, tagged.
    rows = podman_exec(f"mmha-lab-db-{DRILL_CLUSTER}", "runuser", "-u", "postgres", "--", "psql", "-XAt", "-d",
                       "mattermost", "-c", "SELECT hostname FROM clusterdiscovery WHERE type = 'mattermost_app' AND "
                       "lastpingat > (extract(epoch FROM now()) * 1000)::bigint - 180000")
    assert len(set(rows.split())) == len(nodes), rows
    old = rds.describe_db_clusters(DBClusterIdentifier="mattermost-db")["DBClusters"][0]
    assert {t["Key"]: t["Value"] for t in old["TagList"]}["mattermost-ha:not-serving"] == \
        f"retired: serving moved to {DRILL_CLUSTER}"


# Day 2 (docs/day2.md), on the three nodes the drill left, through the lab's load balancer.
LOAD_BALANCER = "http://127.0.0.1:8080"
RUNNING = "11.7.9"
UPGRADES = {}


def linked_release(node):
    return podman_exec(node, "readlink", "/opt/mattermost").strip()


def served_version(node):
    """The version in the X-Version-Id header of the node's own answer (not through the load balancer)."""
    headers = podman_exec(node, "curl", "-sf", "-D", "-", "-o", "/dev/null", "http://localhost:8065/api/v4/system/ping")
    return re.search(r"(?im)^x-version-id: (\d+\.\d+\.\d+)", headers).group(1)


def upgrade_snapshots():
    return {s["DBClusterSnapshotIdentifier"]: {t["Key"]: t["Value"] for t in s.get("TagList", [])}
            for s in client("rds").describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
            if "-upgrade-" in s["DBClusterSnapshotIdentifier"]}


def target_health_by_id():
    """The target group's ARN, and each registered instance's state (the lab registers one port)."""
    elbv2 = client("elbv2")
    [group] = elbv2.describe_target_groups(Names=["Mattermost-Targets"])["TargetGroups"]
    health = elbv2.describe_target_health(TargetGroupArn=group["TargetGroupArn"])["TargetHealthDescriptions"]
    return group["TargetGroupArn"], {h["Target"]["Id"]: h["TargetHealth"]["State"] for h in health}


def target_states():
    return sorted(target_health_by_id()[1].values())


def test_an_upgrade_that_skips_a_minor_version_is_refused_before_any_snapshot_or_change(lab, first_run):
    nodes = lab_nodes()
    before = {node: linked_release(node) for node in nodes}
    began = time.time()
    run = run_playbook("playbooks/upgrade.yml", *INVENTORY, "-e", "mattermost_ha_version=11.9.0", env=lab,
                       mitogen=True, check=False)
    assert run.returncode != 0
    assert f"{RUNNING} -> 11.9.0 is more than one minor version" in run.folded
    assert "upgrade to 11.8.x first" in run.folded
    assert upgrade_snapshots() == {}
    assert {node: linked_release(node) for node in nodes} == before
    for node in nodes:
        script = "ls -d /opt/mattermost-* /var/cache/mattermost-ha/*11.9.0* 2>/dev/null; true"
        listed = podman_exec(node, "sh", "-c", script)
        assert listed.split() == [f"/opt/mattermost-{RUNNING}"]
        assert unit_starts_and_stops(node, began) == []


def test_an_upgrade_while_a_node_is_out_of_the_load_balancer_is_refused_before_any_snapshot_or_change(lab, first_run):
    nodes = lab_nodes()
    [*_, (out_name, out_id)] = sorted(app_instance_ids().items())
    elbv2 = client("elbv2")
    arn, _ = target_health_by_id()
    elbv2.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": out_id, "Port": 8065}])
    before = {node: linked_release(node) for node in nodes}
    began = time.time()
    try:
        run = run_playbook("playbooks/upgrade.yml", *INVENTORY, "-e", "mattermost_ha_version=11.8.0", env=lab,
                           mitogen=True, check=False)
        assert run.returncode != 0
        assert f"Not upgrading: not healthy in Mattermost-Targets: {out_name}." in run.folded
        assert upgrade_snapshots() == {}
        assert {node: linked_release(node) for node in nodes} == before
        for node in nodes:
            assert unit_starts_and_stops(node, began) == [], node
    finally:
        # Back in the target group, as the next tests need it: once its draining has ended, registered
        # again and healthy.
        deadline = time.monotonic() + 180
        while out_id in target_health_by_id()[1] and time.monotonic() < deadline:
            time.sleep(2)
        elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": out_id, "Port": 8065}])
        while target_health_by_id()[1].get(out_id) != "healthy" and time.monotonic() < deadline:
            time.sleep(2)
    assert target_states() == ["healthy"] * len(nodes)


def test_an_upgrade_to_a_release_that_cannot_start_stops_at_the_first_node_with_no_failed_request(lab, first_run):
    nodes = lab_nodes()
    others = {node: linked_release(node) for node in nodes[1:]}
    began = time.time()
    with RequestLoop(f"{LOAD_BALANCER}/api/v4/system/ping", rate=20) as loop:
        time.sleep(2)
        run = run_playbook("playbooks/upgrade.yml", *INVENTORY, "-e", "mattermost_ha_version=11.8.1", env=lab,
                           mitogen=True, check=False)
        time.sleep(2)
    UPGRADES["11.8.1 (cannot start)"] = loop.report()
    assert run.returncode != 0
    assert "The upgrade to Mattermost 11.8.1 failed on Mattermost-App-01" in run.folded
    assert f"runs {RUNNING} again and serves; the nodes after it were not touched" in run.folded
    # The first node serves the previous release again; the others were never stopped.
    assert linked_release(nodes[0]) == f"/opt/mattermost-{RUNNING}"
    assert served_version(nodes[0]) == RUNNING
    assert {node: linked_release(node) for node in nodes[1:]} == others
    for node in nodes[1:]:
        assert unit_starts_and_stops(node, began) == [], node
    assert loop.failures() == [], loop.report()
    assert loop.versions().keys() == {RUNNING}
    # The snapshot was taken before the migrations, tagged with both versions; every node serves.
    assert upgrade_snapshots() == {"mattermost-upgrade-11-7-9-to-11-8-1": {
        "mattermost-ha:deployment": "Mattermost", "mattermost-ha:upgrade-from": RUNNING,
        "mattermost-ha:upgrade-to": "11.8.1"}}
    assert target_states() == ["healthy"] * len(nodes)


def test_an_upgrade_to_the_next_minor_version_rolls_node_by_node_with_no_failed_request(lab, first_run):
    nodes = lab_nodes()
    began = time.time()
    with RequestLoop(f"{LOAD_BALANCER}/api/v4/system/ping", rate=20) as loop:
        time.sleep(2)
        run = run_playbook("playbooks/upgrade.yml", *INVENTORY, "-e", "mattermost_ha_version=11.8.0", env=lab)
        time.sleep(2)
    UPGRADES["11.8.0"] = loop.report()
    print("requests through the load balancer during the upgrades: " + json.dumps(UPGRADES))
    assert run.failed == 0
    assert loop.failures() == [], loop.report()
    # Both versions answered during the roll, the new one alone at the end.
    assert loop.versions().keys() == {RUNNING, "11.8.0"}
    for node in nodes:
        assert linked_release(node) == "/opt/mattermost-11.8.0"
        assert served_version(node) == "11.8.0"
    # One node at a time: each stopped and started once, never two down together.
    restarts = {node: unit_starts_and_stops(node, began - 1) for node in nodes}
    for node, events in restarts.items():
        assert [kind for _, kind in events] == ["Stopping", "Started"], (node, events)
    ordered = sorted(restarts.values())
    assert all(before[1][0] < after[0][0] for before, after in itertools.pairwise(ordered)), restarts
    # 11.8's migrations (168 to 170) ran once, from the first node, before any node switched.
    applied = podman_exec(f"mmha-lab-db-{DRILL_CLUSTER}", "runuser", "-u", "postgres", "--", "psql", "-XAt", "-d",
                          "mattermost", "-c", "SELECT version FROM db_migrations WHERE version BETWEEN 168 AND 170")
    assert applied.split() == ["168", "169", "170"]
    assert "mattermost-upgrade-11-7-9-to-11-8-0" in upgrade_snapshots()
    assert target_states() == ["healthy"] * len(nodes)


def test_a_second_upgrade_run_changes_nothing(lab, first_run):
    again = run_playbook("playbooks/upgrade.yml", *INVENTORY, "-e", "mattermost_ha_version=11.8.0", env=lab,
                         mitogen=True)
    assert again.changed == 0, again.recap


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
