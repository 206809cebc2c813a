#!/usr/bin/env python3
"""The lab's controller: real data planes for the emulator's Aurora snapshots and its load balancer.

    controller.py --listen HOST:PORT --backend HOST:PORT --lab-dir DIR [--network NAME] [--image IMAGE]
                  [--target-group-name NAME [--lb-dir DIR] [--lb-container NAME] [--region REGION]]

An HTTP proxy in front of the moto server (tests/lab/lab.py starts both: the controller on
the port every client uses, moto behind it). Every request goes to moto unchanged and every
answer comes back unchanged; a few RDS actions (AWS query protocol: a form-encoded body with
`Action=...`) also act on the lab's PostgreSQL containers, and a few ELBv2 and EC2 actions on
the load balancer (below), before the answer is sent, so a client that has its answer finds
the data plane in step:

CreateDBClusterSnapshot
    Before moto sees it, a real copy of the cluster's database (`pg_basebackup -Ft -X fetch`
    in the cluster's container) goes to LAB_DIR/snapshots/<snapshot id>.tar. When
    pg_basebackup fails the answer is InvalidDBClusterStateFault and moto is not asked; when
    moto refuses the snapshot, the copy is thrown away.
DeleteDBCluster
    With FinalDBSnapshotIdentifier (and SkipFinalSnapshot not true): the same copy for the
    final snapshot. A cluster with a container of its own (see below) loses the container
    once moto has deleted the cluster.
RestoreDBClusterFromSnapshot
    Only a snapshot with a copy in LAB_DIR/snapshots can be restored: for another one the
    answer is InvalidDBClusterSnapshotStateFault (or moto's DBClusterSnapshotNotFoundFault
    when moto has no such snapshot either), and moto creates nothing. When moto has made the
    cluster, a container of its own, mmha-lab-db-<cluster id>, gets the copy's data, the
    PostgreSQL settings of the container the snapshot was taken in (TLS only, the same
    logins) and a certificate of the lab CA for its own name and the cluster's endpoint and
    reader endpoint, which are its network aliases on the lab network. The answer is sent
    once PostgreSQL accepts connections there. When that fails, the cluster is deleted from
    moto again and the answer is InvalidDBClusterSnapshotStateFault. A snapshot named by its
    ARN reaches moto by its id (AWS takes both, moto only the id).
CreateDBInstance / DeleteDBInstance
    In a cluster with a container of its own: the instance's endpoint becomes (or stops
    being) one more alias of the container, and the certificate is issued again for all
    the names (PostgreSQL reloads it).
DeleteDBClusterSnapshot
    The snapshot's copy goes too.
RestoreDBClusterToPointInTime
    Forwarded only: the lab keeps no WAL archive, so there is no data of a point in time.
    The new cluster exists in moto alone (the writer/reader pair plays it, as any cluster).

Which container holds a cluster's data: mmha-lab-db-<cluster id> when the controller made
one for it, else mmha-lab-db-writer (the writer and its streaming replica play every other
cluster). What the controller made is written down in LAB_DIR/clusters/<cluster id>.json
(and the container's certificate next to it), so a restarted controller knows it again.
The data-plane actions run one at a time (a lock); all other requests are forwarded
concurrently. Each action is logged on stdout (lab.py: LAB_DIR/controller.log).

The load balancer (with --target-group-name): HAProxy in the container --lb-container, whose
configuration (haproxy.cfg) and admin runtime API socket (admin.sock) are in --lb-dir, serves
the targets moto has registered in that one target group, as an ALB's data plane would:

- A registered target (instance id, port) is a server of HAProxy's backend at its container's
  address: the instance's Name tag ends in NN, its container is mmha-lab-app-NN (as
  inventories/local maps them). It is added in maintenance with the target group's checks
  (interval, rise = HealthyThresholdCount, fall = UnhealthyThresholdCount, health check port)
  and gets traffic only once it passed `rise` checks; HAProxy then marks it down and up again.
  The path, matcher and timeout are the configuration's: when the group's differ, the
  controller rewrites haproxy.cfg and reloads HAProxy, whose targets all start over.
- A target that is no longer registered (DeregisterTargets, or an instance terminated) gets
  no new request at once (maintenance; requests in flight finish), drains for the group's
  deregistration_delay.timeout_seconds, then leaves HAProxy. Registered again, it comes back
  through its checks. Draining servers are kept in state.json over a controller restart.
- DescribeTargetHealth of the group says what HAProxy does, where moto says `healthy` at once:
  `initial` (Elb.RegistrationInProgress) until the checks passed, `healthy`, `unhealthy`
  (Target.ResponseCodeMismatch, Target.Timeout or Target.FailedHealthChecks, with the check's
  status), `draining` (listed also when no Targets are named) for the delay, then `unused`.

It is kept in step synchronously on RegisterTargets, DeregisterTargets, TerminateInstances
and DescribeTargetHealth, and every second in the background; its failures are logged and
never stop the forwarding.
"""

import argparse
import contextlib
import csv
import io
import json
import re
import socket
import subprocess
import sys
import tarfile
import threading
import time
import traceback
import urllib.parse
import xml.etree.ElementTree as ET
from http.server import ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/: the harness's forwarding proxy
sys.path.insert(0, str(HERE))

from db_tls import issue_server_cert  # noqa: E402
from harness.aws_proxy import Answer, BackendUnavailable, ForwardingHandler, error_body  # noqa: E402

WRITER = "mmha-lab-db-writer"
CONTAINER_PREFIX = "mmha-lab-db-"
DATA_DIR = "/var/lib/postgresql/15/main"
CONF_DIR = "/etc/postgresql/15/main"
UNIT = "postgresql@15-main"
RDS_API_VERSION = "2014-10-31"
# RDS identifiers: a letter, then letters, digits and hyphens (also safe as file and container names).
IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,254}$")
RDS_ACTIONS = ("CreateDBClusterSnapshot", "DeleteDBCluster", "RestoreDBClusterFromSnapshot", "CreateDBInstance",
               "DeleteDBInstance", "DeleteDBClusterSnapshot")
# The actions the load balancer acts on (its targets, their health), and their service (credential scope).
LB_ACTIONS = {"RegisterTargets": "elasticloadbalancing", "DeregisterTargets": "elasticloadbalancing",
              "DescribeTargetHealth": "elasticloadbalancing", "TerminateInstances": "ec2"}


def log(msg):
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} controller: {msg}", flush=True)


class DataPlaneError(Exception):
    """A step on the lab's containers that failed, said in one line."""


def podman(*argv, stdin=None, stdout=subprocess.PIPE, timeout=60, check=True):
    feed = {"input": stdin} if isinstance(stdin, bytes) else {"stdin": stdin}
    try:
        result = subprocess.run(["podman", *argv], stdout=stdout, stderr=subprocess.PIPE, timeout=timeout, **feed)
    except subprocess.TimeoutExpired as exc:
        raise DataPlaneError(f"podman {' '.join(argv[:3])}: no answer after {timeout}s") from exc
    if check and result.returncode != 0:
        stderr = result.stderr.decode("utf-8", "replace").strip()
        raise DataPlaneError(f"podman {' '.join(argv[:4])}: {stderr or f'exit {result.returncode}'}")
    return result


def snapshot_id(identifier):
    """A snapshot's id from its id or ARN (arn:aws:rds:<region>:<account>:cluster-snapshot:<id>)."""
    _, _, snapshot = identifier.partition(":cluster-snapshot:")
    return snapshot if identifier.startswith("arn:") and snapshot else identifier


def xml_text(payload, path):
    try:
        node = ET.fromstring(payload).find(path)
    except ET.ParseError:
        return None
    return node.text if node is not None else None


class Lab:
    """The data plane: snapshot copies, containers of restored clusters and their state files."""

    def __init__(self, lab_dir, network, image):
        self.dir = Path(lab_dir)
        self.network = network
        self.image = image
        self.tls = self.dir / "db-tls"
        self.snapshots = self.dir / "snapshots"
        self.clusters = self.dir / "clusters"
        self.lock = threading.Lock()

    # What the controller made, one JSON file per cluster.

    def state(self, cluster):
        path = self.clusters / f"{cluster.lower()}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def save(self, state):
        self.clusters.mkdir(parents=True, exist_ok=True)
        path = self.clusters / f"{state['cluster']}.json"
        path.with_suffix(".tmp").write_text(json.dumps(state, indent=2))
        path.with_suffix(".tmp").replace(path)

    def states(self):
        return [json.loads(p.read_text()) for p in sorted(self.clusters.glob("*.json"))]

    def container_for(self, cluster):
        state = self.state(cluster)
        return state["container"] if state else WRITER

    @staticmethod
    def names(state):
        return [state["container"], *state["endpoints"], *state["instances"].values()]

    # Snapshots.

    def copy_database(self, cluster, snapshot):
        """A base backup of the cluster's database into snapshots/<snapshot>.tar.part (kept by `keep_copy`)."""
        container = self.container_for(cluster)
        self.snapshots.mkdir(parents=True, exist_ok=True)
        part = self.snapshots / f"{snapshot}.tar.part"
        started = time.monotonic()
        with open(part, "wb") as out:
            result = podman("exec", container, "runuser", "-u", "postgres", "--", "pg_basebackup", "-D", "-", "-Ft",
                            "-X", "fetch", "-c", "fast", stdout=out, timeout=45, check=False)
        if result.returncode != 0:
            part.unlink(missing_ok=True)
            stderr = result.stderr.decode("utf-8", "replace").strip()
            raise DataPlaneError(f"pg_basebackup in {container} failed: {stderr or f'exit {result.returncode}'}")
        part.with_suffix(".json").write_text(json.dumps({"cluster": cluster, "container": container,
                                                         "taken": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}))
        log(f"snapshot {snapshot}: copied the database of {cluster} from {container} "
            f"({part.stat().st_size / 1e6:.1f} MB) in {time.monotonic() - started:.1f}s")
        return part

    def keep_copy(self, part, snapshot):
        part.with_suffix(".json").replace(self.snapshots / f"{snapshot}.json")
        part.replace(self.snapshots / f"{snapshot}.tar")

    def drop_copy(self, part):
        part.unlink(missing_ok=True)
        part.with_suffix(".json").unlink(missing_ok=True)

    def delete_copy(self, snapshot):
        for suffix in (".tar", ".json"):
            (self.snapshots / f"{snapshot}{suffix}").unlink(missing_ok=True)

    # Containers of restored clusters.

    def restore(self, cluster, snapshot, endpoints):
        """Start mmha-lab-db-<cluster> on the data of the snapshot's copy; ready when this returns."""
        started = time.monotonic()
        cluster = cluster.lower()
        container = CONTAINER_PREFIX + cluster
        meta = json.loads((self.snapshots / f"{snapshot}.json").read_text())
        source = meta.get("container", WRITER)
        if podman("container", "exists", source, check=False).returncode != 0:
            source = WRITER
        podman("rm", "-f", "-t", "0", container)  # one left over from an earlier life of this cluster id
        state = {"cluster": cluster, "container": container, "endpoints": endpoints, "instances": {},
                 "snapshot": snapshot}
        podman("run", "-d", "--name", container, "--hostname", container, "--network", self.network,
               *[arg for name in endpoints for arg in ("--network-alias", name)], "--systemd", "always",
               self.image, "/sbin/init")
        self.save(state)
        self._wait(container, ["systemctl", "is-system-running", "--wait"], "systemd to finish booting",
                   ok=(b"running", b"degraded"))
        podman("exec", container, "systemctl", "stop", UNIT)
        with open(self.snapshots / f"{snapshot}.tar", "rb") as data:
            podman("exec", "-i", container, "sh", "-ec",
                   f'rm -rf {DATA_DIR}; mkdir -m 0700 {DATA_DIR}; tar -xf - -C {DATA_DIR}; '
                   f'chown -R postgres:postgres {DATA_DIR}; chmod 0700 {DATA_DIR}', stdin=data, timeout=45)
        settings = podman("exec", source, "tar", "-cf", "-", "-C", CONF_DIR, ".").stdout
        podman("exec", "-i", container, "tar", "-xf", "-", "-C", CONF_DIR, stdin=settings)
        self._install_certificate(state)
        podman("exec", container, "systemctl", "start", UNIT)
        self._wait(container, ["pg_isready", "-q"], "PostgreSQL to accept connections")
        log(f"restore {cluster}: {container} serves snapshot {snapshot} (taken of {meta.get('cluster')} in "
            f"{meta.get('container')}, settings of {source}) as {', '.join(endpoints)} "
            f"in {time.monotonic() - started:.1f}s")

    def remove(self, state):
        started = time.monotonic()
        podman("rm", "-f", "-t", "5", state["container"])
        for suffix in (".json", ".crt", ".key"):
            (self.clusters / f"{state['cluster']}{suffix}").unlink(missing_ok=True)
        log(f"cluster {state['cluster']}: removed {state['container']} in {time.monotonic() - started:.1f}s")

    def apply_names(self, state):
        """Give the container exactly the state's names: network aliases and the certificate's."""
        started = time.monotonic()
        self.save(state)
        aliases = [*state["endpoints"], *state["instances"].values()]
        podman("network", "disconnect", self.network, state["container"])
        podman("network", "connect", *[arg for name in aliases for arg in ("--alias", name)], self.network,
               state["container"])
        self._install_certificate(state)
        podman("exec", state["container"], "systemctl", "reload", UNIT)
        log(f"cluster {state['cluster']}: {state['container']} answers as {', '.join(aliases)} "
            f"in {time.monotonic() - started:.1f}s")

    def _install_certificate(self, state):
        name = state["cluster"]
        issue_server_cert(self.tls, name, self.names(state), out_dir=self.clusters, renew=True)
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            for suffix, mode in ((".crt", 0o644), (".key", 0o600)):
                content = (self.clusters / f"{name}{suffix}").read_bytes()
                info = tarfile.TarInfo(f"lab-server{suffix}")
                info.size, info.mode, info.mtime = len(content), mode, int(time.time())
                info.uname = info.gname = "postgres"
                tar.addfile(info, io.BytesIO(content))
        podman("exec", "-i", state["container"], "tar", "-xf", "-", "-C", CONF_DIR, stdin=archive.getvalue())

    @staticmethod
    def _wait(container, argv, what, ok=None, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            result = podman("exec", container, *argv, check=False, timeout=timeout)
            if result.returncode == 0 or (ok and result.stdout.strip() in ok):
                return
            if time.monotonic() > deadline:
                raise DataPlaneError(f"{container}: waited {timeout}s for {what}: "
                                     f"{(result.stdout + result.stderr).decode('utf-8', 'replace').strip()}")
            time.sleep(0.2)


# The load balancer: HAProxy in the container mmha-lab-lb, in step with one ELBv2 target group.

ELB_XMLNS = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"
ET.register_namespace("", ELB_XMLNS)  # DescribeTargetHealth rewritten keeps AWS's default namespace
LB_BACKEND = "targets"
LB_MOUNT = "/lab-lb"  # where the container sees the LB directory (config, admin socket)
# An ELBv2 target group's health check when it says nothing else (AWS's defaults).
DEFAULT_CHECK = {"path": "/", "matcher": "200", "port": "traffic-port", "interval": 30, "timeout": 5, "rise": 5,
                 "fall": 2}
CHECK_LINE = "# mmha-lab check: "
# srv_admin_state: forced maintenance; srv_check_state: checks paused; srv_check_result: failed.
ADMIN_FMAINT, CHECK_PAUSED, CHECK_FAILED = 0x1, 0x8, 2


def http_codes(matcher):
    """An ALB matcher ("200", "200,202", "200-299") as an anchored regex of status codes."""
    codes = []
    for part in matcher.split(","):
        low, _, high = part.strip().partition("-")
        codes += [str(code) for code in range(int(low), int(high or low) + 1)]
    return f"^({'|'.join(codes)})$"


def haproxy_config(check=None, cookie="MMCSRF", stickiness_seconds=43200):
    """HAProxy's configuration for the lab's load balancer, with the target group's health check.

    Its first line records the check (`CHECK_LINE`), so the controller knows what HAProxy runs.
    Servers are added at run time (`add server`): the backend has none of its own.
    """
    check = {**DEFAULT_CHECK, **(check or {})}
    return f"""{CHECK_LINE}{json.dumps(check, sort_keys=True)}
# The lab's load balancer (tests/lab/controller.py writes this file and adds the servers).
global
    stats socket {LB_MOUNT}/admin.sock mode 600 level admin
    stats timeout 30s
    log stdout format raw local0 info

defaults
    mode http
    log global
    option httplog
    option dontlognull
    # An ALB's idle timeout is 60 s, websockets included. Only failed connection attempts are
    # retried (HAProxy's default): a request that reached a target is never sent again.
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout tunnel 60s
    timeout http-request 10s
    timeout queue 10s

frontend http
    bind :80
    option forwardfor
    http-request set-header X-Forwarded-Proto http
    default_backend {LB_BACKEND}

backend {LB_BACKEND}
    balance roundrobin
    # A request sticky to a target that is down, draining or gone goes to another one.
    option redispatch
    # Application-cookie stickiness, as the target group's: the response that sets the cookie
    # binds its value to the target that answered; a request whose cookie names no usable
    # target is bound to the one it goes to (as an ALB sets its AWSALBAPP cookie again).
    stick-table type string len 256 size 100k expire {stickiness_seconds}s
    stick match req.cook({cookie})
    stick store-request req.cook({cookie})
    stick store-response res.cook({cookie})
    option httpchk
    http-check send meth GET uri {check['path']} ver HTTP/1.1 hdr Host mmha-lab-lb hdr User-Agent ELB-HealthChecker/2.0
    http-check expect rstatus {http_codes(check['matcher'])}
    timeout check {check['timeout']}s
"""


def target_check(group):
    """The health check of a target group (DescribeTargetGroups), in `haproxy_config`'s terms."""
    fields = {"path": "HealthCheckPath", "port": "HealthCheckPort", "interval": "HealthCheckIntervalSeconds",
              "timeout": "HealthCheckTimeoutSeconds", "rise": "HealthyThresholdCount",
              "fall": "UnhealthyThresholdCount"}
    check = {key: group[field] for key, field in fields.items() if field in group}
    return {**DEFAULT_CHECK, **check, "matcher": group.get("Matcher", {}).get("HttpCode", "200")}


class LoadBalancer:
    """The data plane of one target group: HAProxy's servers in step with the targets moto has.

    A target (instance id, port) is a server `<id>_<port>_<n>` of the backend; n counts the
    servers the target has had, so a target registered again while it drains gets a new one
    (the draining one keeps its in-flight requests). The instance's container is the
    inventory's: the trailing digits of its Name tag, mmha-lab-app-NN.
    """

    def __init__(self, lb_dir, container, network, target_group, region, backend):
        import boto3  # only the load balancer needs it

        self.dir = Path(lb_dir)
        self.socket, self.config, self.state_file = (self.dir / name for name in ("admin.sock", "haproxy.cfg",
                                                                                  "state.json"))
        self.container, self.network, self.target_group = container, network, target_group
        clients = {"endpoint_url": f"http://{backend[0]}:{backend[1]}", "region_name": region,
                   "aws_access_key_id": "mmha-lab-access-key", "aws_secret_access_key": "mmha-lab-secret-key"}
        self.elbv2, self.ec2 = boto3.client("elbv2", **clients), boto3.client("ec2", **clients)
        self.lock = threading.Lock()
        self.arn = None
        self.view = {}  # (id, port) -> (State, Reason, Description): what DescribeTargetHealth says
        self.failing_since = {}  # server in its initial checks -> when its checks began to fail
        self.addresses = {}  # container -> (IP, when looked up)
        self.last_error = None
        # draining: server -> time.time() its deregistration delay ends; next_id: HAProxy's id of the
        # next server (never one a sticky client may still name). Kept over a controller restart.
        self.state = json.loads(self.state_file.read_text()) if self.state_file.exists() else {}
        self.draining = self.state.setdefault("draining", {})

    # HAProxy's runtime API.

    def cli(self, command):
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(str(self.socket))
            sock.sendall(command.encode() + b"\n")
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        return answer.decode().strip()

    def act(self, command, expect=""):
        answer = self.cli(command)
        if expect not in answer or (not expect and answer):
            raise DataPlaneError(f"HAProxy: {command}: {answer}")
        log(f"load balancer: {command}")

    def servers(self):
        """HAProxy's servers of the backend: name -> `show servers state` and `show stat` fields."""
        lines = self.cli(f"show servers state {LB_BACKEND}").splitlines()  # a version, a header, the servers
        at = next(i for i, line in enumerate(lines) if line.startswith("# be_id"))
        header = lines[at].split()[1:]
        rows = (dict(zip(header, line.split(), strict=True)) for line in lines[at + 1:] if line)
        servers = {row["srv_name"]: row for row in rows}
        stat = self.cli("show stat").splitlines()
        fields = stat[0].lstrip("# ").split(",")
        for row in csv.DictReader(stat[1:], fieldnames=fields):
            if row["pxname"] == LB_BACKEND and row["svname"] in servers:
                servers[row["svname"]].update(row)
        return servers

    def reload(self, check):
        """Write the configuration for `check` and reload HAProxy (its run-time servers are gone then)."""
        def worker():
            return re.search(r"^Pid: (\d+)", self.cli("show info"), re.M).group(1)

        old = worker()
        self.config.write_text(haproxy_config(check))
        podman("kill", "--signal", "USR2", self.container)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            time.sleep(0.2)
            with contextlib.suppress(OSError, AttributeError):
                if worker() != old:
                    log(f"load balancer: HAProxy reloaded with the health check {check}")
                    return
        raise DataPlaneError("HAProxy did not reload within 10s (see `podman logs mmha-lab-lb`)")

    def running_check(self):
        first = self.config.read_text().partition("\n")[0]
        return json.loads(first[len(CHECK_LINE):]) if first.startswith(CHECK_LINE) else None

    # The target group in moto.

    def address(self, container):
        """The container's IP on the lab network (looked up again after 10 s), or None without it."""
        known = self.addresses.get(container)
        if known and time.monotonic() - known[1] < 10:
            return known[0]
        found = podman("inspect", container, check=False)
        networks = json.loads(found.stdout)[0]["NetworkSettings"]["Networks"] if found.returncode == 0 else {}
        ip = networks.get(self.network, {}).get("IPAddress") or None
        self.addresses[container] = (ip, time.monotonic())
        return ip

    def containers(self, instance_ids):
        """instance id -> lab container, by the Name tag's trailing digits (as inventories/local maps them)."""
        found = {}
        if instance_ids:
            pages = self.ec2.get_paginator("describe_instances").paginate(InstanceIds=sorted(instance_ids))
            for instance in (i for page in pages for r in page["Reservations"] for i in r["Instances"]):
                name = next((t["Value"] for t in instance.get("Tags", []) if t["Key"] == "Name"), "")
                digits = re.search(r"[0-9]+$", name)
                found[instance["InstanceId"]] = f"mmha-lab-app-{digits.group()}" if digits else None
        return found

    # Keeping HAProxy in step.

    def sync(self):
        """One round: HAProxy's servers made to match the registered targets; `view` updated."""
        with self.lock:
            self._sync()

    def _sync(self):
        groups = []
        with contextlib.suppress(self.elbv2.exceptions.TargetGroupNotFoundException):
            groups = self.elbv2.describe_target_groups(Names=[self.target_group])["TargetGroups"]
        group = groups[0] if groups else None
        self.arn = group and group["TargetGroupArn"]
        check = target_check(group) if group else self.running_check()
        if check != self.running_check():
            self.reload(check)
        registered, delay = set(), 300
        if group:
            described = self.elbv2.describe_target_health(TargetGroupArn=self.arn)["TargetHealthDescriptions"]
            registered = {(t["Target"]["Id"], str(t["Target"]["Port"])) for t in described}
            attributes = self.elbv2.describe_target_group_attributes(TargetGroupArn=self.arn)["Attributes"]
            delay = int(next((a["Value"] for a in attributes if a["Key"] == "deregistration_delay.timeout_seconds"),
                             300))
        containers = self.containers({target_id for target_id, _ in registered if target_id.startswith("i-")})
        servers = self.servers()
        now = time.time()
        view = {}
        for name, server in servers.items():
            target = server_target(name)
            # A server in maintenance with its checks paused was set there to drain (a controller
            # that lost state.json finds it): it drains again, as one no longer registered.
            paused = int(server["srv_admin_state"]) & ADMIN_FMAINT and int(server["srv_check_state"]) & CHECK_PAUSED
            if name not in self.draining and (target not in registered or paused):
                self.act(f"set server {LB_BACKEND}/{name} state maint")
                self.draining[name] = now + delay
                log(f"load balancer: target {target[0]}:{target[1]} deregistered, draining for {delay}s")
        for name, until in list(self.draining.items()):
            target = server_target(name)
            if until <= now:
                if name in servers:
                    self.cli(f"shutdown sessions server {LB_BACKEND}/{name}")
                    answer = self.cli(f"del server {LB_BACKEND}/{name}")
                    if "deleted" not in answer:
                        log(f"load balancer: del server {name}: {answer} (trying again)")
                        continue
                    log(f"load balancer: target {target[0]}:{target[1]} drained, server {name} deleted")
                    del servers[name]
                del self.draining[name]
            elif target not in registered:
                view[target] = ("draining", "Target.DeregistrationInProgress", "Target deregistration is in progress")
        for target in registered:
            view[target] = self._keep(target, check, containers.get(target[0]), servers)
        self.state_file.write_text(json.dumps(self.state))
        self.view = view

    def _keep(self, target, check, container, servers):
        """Give a registered target its server; what DescribeTargetHealth says of it."""
        target_id, port = target
        ip = container and self.address(container)
        if not ip:
            return ("unhealthy", "Target.FailedHealthChecks",
                    f"The lab has no container {container} to play this target" if container
                    else "The lab plays EC2 instances named ...-NN only (container mmha-lab-app-NN)")
        mine = {n for n in [*servers, *self.draining] if server_target(n) == target}
        live = sorted((n for n in mine if n in servers and n not in self.draining), key=generation)
        if not live:
            name = f"{target_id}_{port}_{max(map(generation, mine), default=0) + 1}"
            health_port = "" if check["port"] == "traffic-port" else f" port {check['port']}"
            self.state["next_id"] = server_id = self.state.get("next_id", 0) + 1
            self.act(f"add server {LB_BACKEND}/{name} {ip}:{port} id {server_id} check inter {check['interval']}s "
                     f"rise {check['rise']} fall {check['fall']}{health_port}", expect="New server registered")
            self.act(f"enable health {LB_BACKEND}/{name}")
            log(f"load balancer: target {target_id}:{port} registered ({container}, {ip}), in its initial checks")
            return ("initial", "Elb.RegistrationInProgress", "Target registration is in progress")
        name, server = live[-1], servers[live[-1]]
        if server["srv_addr"] != ip:
            self.act(f"set server {LB_BACKEND}/{name} addr {ip}", expect="changed")
        failed = int(server["srv_check_result"]) == CHECK_FAILED
        if int(server["srv_admin_state"]) & ADMIN_FMAINT:
            # A dynamic server leaving maintenance is UP at once, its checks passed or not
            # (HAProxy sets its health to `rise`): it stays in maintenance until they pass.
            if int(server["srv_check_health"]) >= check["rise"]:
                self.act(f"set server {LB_BACKEND}/{name} state ready")
                self.failing_since.pop(name, None)
                log(f"load balancer: target {target_id}:{port} passed {check['rise']} checks, takes traffic")
                return ("healthy", None, None)
            since = self.failing_since.setdefault(name, time.monotonic()) if failed else \
                self.failing_since.pop(name, None)
            if not failed or time.monotonic() - since < (check["fall"] - 1) * check["interval"]:
                return ("initial", "Elb.RegistrationInProgress", "Target registration is in progress")
        elif server["srv_op_state"] != "0":
            return ("healthy", None, None)
        if server.get("check_status", "").lstrip("* ") == "L7STS":
            return ("unhealthy", "Target.ResponseCodeMismatch",
                    f"Health checks failed with these codes: [{server.get('check_code')}]")
        if server.get("check_status", "").lstrip("* ") in ("L4TOUT", "L7TOUT"):
            return ("unhealthy", "Target.Timeout", "Request timed out")
        return ("unhealthy", "Target.FailedHealthChecks",
                f"Health checks failed: {server.get('check_status')} {server.get('check_desc')}".strip())

    def run(self, interval=1.0):
        """The background round: terminations, drain expiry, health transitions, a restarted controller."""
        while True:
            try:
                self.sync()
                self.last_error = None
            except Exception as exc:  # logged once per distinct failure; forwarding goes on
                message = f"{type(exc).__name__}: {exc}"
                if message != self.last_error:
                    log(f"load balancer: sync failed: {message}")
                self.last_error = message
            time.sleep(interval)

    def describe(self, payload, form):
        """moto's DescribeTargetHealth answer, rewritten to say what the data plane does."""
        root = ET.fromstring(payload)
        ns = {"e": ELB_XMLNS}
        descriptions = root.find("e:DescribeTargetHealthResult/e:TargetHealthDescriptions", ns)
        if descriptions is None:
            return payload
        asked = any(key.startswith("Targets.member.") for key in form)
        seen = set()
        for member in descriptions.findall("e:member", ns):
            target = (member.findtext("e:Target/e:Id", "", ns), member.findtext("e:Target/e:Port", "", ns))
            seen.add(target)
            if target in self.view:
                health = self.view[target]
            elif target[0].startswith("i-"):  # deregistered (or terminated: moto says draining forever)
                health = ("unused", "Target.NotRegistered", "Target is not registered to the target group")
            else:
                continue
            set_health(member, *health, port=target[1])
        for target, health in sorted(self.view.items()):
            if not asked and health[0] == "draining" and target not in seen:
                member = ET.SubElement(descriptions, qname("member"))
                node = ET.SubElement(member, qname("Target"))
                ET.SubElement(node, qname("Id")).text, ET.SubElement(node, qname("Port")).text = target
                ET.SubElement(member, qname("HealthCheckPort"))
                set_health(member, *health, port=target[1])
        return ET.tostring(root, encoding="utf-8")


def generation(name):
    return int(name.rsplit("_", 1)[1])


def server_target(name):
    """A server's target: (instance id, port) from `<id>_<port>_<n>`."""
    target_id, port, _ = name.rsplit("_", 2)
    return target_id, port


def qname(tag):
    return f"{{{ELB_XMLNS}}}{tag}"


def set_health(member, state, reason, description, port):
    """A TargetHealthDescriptions member's TargetHealth (and its HealthCheckPort) in AWS's shape."""
    q = qname
    check_port = member.find(q("HealthCheckPort"))
    if check_port is not None and check_port.text in (None, "traffic-port"):
        check_port.text = port  # AWS names the port
    old = member.find(q("TargetHealth"))
    if old is not None:
        member.remove(old)
    health = ET.SubElement(member, q("TargetHealth"))
    for tag, value in (("State", state), ("Reason", reason), ("Description", description)):
        if value:
            ET.SubElement(health, q(tag)).text = value


class ControllerHandler(ForwardingHandler):
    lab = None  # set by main()
    balancer = None  # set by main() when it tracks a target group

    def handle_body(self, body):
        service, form = self._query_form(body)
        action = form.get("Action")
        if self.balancer and action in LB_ACTIONS and service in (LB_ACTIONS[action], None):
            self._load_balancer(body, form)
            return
        if service not in ("rds", None) or action not in RDS_ACTIONS:
            self.relay(self.fetch(body))
            return
        self.answered = False
        with self.lab.lock:
            try:
                getattr(self, f"_{action}")(body, form)
            except BackendUnavailable:
                raise  # answered 502 by the forwarding
            except Exception:
                log(f"{action}: the controller failed:\n{traceback.format_exc()}")
                if not self.answered:
                    self.answer(500, error_body("InternalFailure", f"The lab's controller failed on {action}: "
                                                                   "see .lab/controller.log"))

    def relay(self, answer):
        self.answered = True
        super().relay(answer)

    def _query_form(self, body):
        """A query-protocol request's service (its credential scope; None when unsigned) and form."""
        if self.command != "POST" or "x-www-form-urlencoded" not in self.headers.get("Content-Type", ""):
            return None, {}
        scope = re.search(r"Credential=[^/,]+/[^/]+/[^/]+/([^/]+)/", self.headers.get("Authorization", ""))
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return scope and scope.group(1), {key: values[0] for key, values in form.items()}

    def _load_balancer(self, body, form):
        """Forward, then bring HAProxy in step before the answer goes back (rewritten for DescribeTargetHealth)."""
        answer = self.fetch(body)
        balancer, describe = self.balancer, form["Action"] == "DescribeTargetHealth"
        if answer.ok and (not describe or balancer.arn in (None, form.get("TargetGroupArn"))):
            try:
                balancer.sync()
                if describe and balancer.arn == form.get("TargetGroupArn"):
                    payload = balancer.describe(answer.payload, form)
                    headers = [(k, v) for k, v in answer.headers if k.lower() != "content-length"]
                    answer = Answer(answer.status, answer.reason, [*headers, ("Content-Length", str(len(payload)))],
                                    payload)
            except Exception:  # the data plane's trouble is logged; the client gets moto's answer
                log(f"load balancer: {form['Action']}: the controller failed:\n{traceback.format_exc()}")
        self.relay(answer)

    def _error(self, code, message):
        log(f"answered {code}: {message}")
        self.answer(400, error_body(code, message))

    def _rds(self, action, params):
        """A request of the controller's own to moto, with the client's region and account."""
        body = urllib.parse.urlencode({"Action": action, "Version": RDS_API_VERSION, **params}).encode()
        headers = [(k, v) for k, v in self.headers.items()
                   if k.lower() in ("host", "authorization", "x-amz-date", "x-amz-security-token", "user-agent")]
        headers += [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
                    ("Content-Length", str(len(body)))]
        return self.fetch(body, headers)

    def _snapshot_then_fetch(self, body, cluster, snapshot):
        """Copy the database for `snapshot`, then forward; the copy is kept if moto made the snapshot.

        Returns moto's answer, or None when the copy failed (the client has had its error then).
        """
        if not IDENTIFIER.match(snapshot):
            log(f"snapshot {snapshot!r}: not an RDS identifier, no copy taken")
            return self.fetch(body)
        try:
            part = self.lab.copy_database(cluster, snapshot)
        except DataPlaneError as exc:
            self._error("InvalidDBClusterStateFault", f"The lab could not copy the database of DB cluster "
                                                      f"{cluster} for snapshot {snapshot}: {exc}")
            return None
        answer = None
        try:
            answer = self.fetch(body)
        finally:  # moto unreachable included: no copy of a snapshot moto did not make
            if answer is not None and answer.ok:
                self.lab.keep_copy(part, snapshot)
            else:
                self.lab.drop_copy(part)
        if not answer.ok:
            log(f"snapshot {snapshot}: moto refused it ({answer.status}), copy thrown away")
        return answer

    def _CreateDBClusterSnapshot(self, body, form):
        answer = self._snapshot_then_fetch(body, form.get("DBClusterIdentifier", ""),
                                           form.get("DBClusterSnapshotIdentifier", ""))
        if answer:
            self.relay(answer)

    def _DeleteDBCluster(self, body, form):
        cluster = form.get("DBClusterIdentifier", "")
        final = form.get("FinalDBSnapshotIdentifier")
        if final and form.get("SkipFinalSnapshot", "false").lower() != "true":
            answer = self._snapshot_then_fetch(body, cluster, final)
            if not answer:
                return
        else:
            answer = self.fetch(body)
        state = self.lab.state(cluster)
        if answer.ok and state:
            try:
                self.lab.remove(state)
            except DataPlaneError as exc:
                log(f"cluster {cluster}: deleted in moto, but its container stays: {exc}")
        self.relay(answer)

    def _RestoreDBClusterFromSnapshot(self, body, form):
        cluster, snapshot = form.get("DBClusterIdentifier", ""), snapshot_id(form.get("SnapshotIdentifier", ""))
        if cluster.lower() in ("writer", "reader"):
            self._error("InvalidParameterValue", f"DB cluster {cluster}: the lab's own PostgreSQL containers are "
                                                 f"{CONTAINER_PREFIX}writer and -reader; restore under another name")
            return
        if not (IDENTIFIER.match(snapshot) and (self.lab.snapshots / f"{snapshot}.tar").exists()):
            known = self._rds("DescribeDBClusterSnapshots", {"DBClusterSnapshotIdentifier": snapshot})
            if not known.ok:
                log(f"restore {cluster}: moto has no snapshot {snapshot} either ({known.status})")
                self.relay(known)  # DBClusterSnapshotNotFoundFault, as AWS answers
                return
            self._error("InvalidDBClusterSnapshotStateFault",
                        f"The lab has no copy of the data of DB cluster snapshot {snapshot}: only snapshots taken "
                        "through the lab's controller while the lab is up (CreateDBClusterSnapshot, or a final "
                        "snapshot of DeleteDBCluster) can be restored")
            return
        if form.get("SnapshotIdentifier", "").startswith("arn:"):
            # AWS takes the snapshot's ARN as well as its id; moto finds it by id only.
            body = urllib.parse.urlencode([(key, snapshot if key == "SnapshotIdentifier" else value) for key, value
                                           in urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)]).encode()
        answer = self.fetch(body)
        if not answer.ok:
            self.relay(answer)
            return
        endpoints = [name for name in (xml_text(answer.payload, ".//{*}DBCluster/{*}Endpoint"),
                                       xml_text(answer.payload, ".//{*}DBCluster/{*}ReaderEndpoint")) if name]
        try:
            self.lab.restore(cluster, snapshot, endpoints)
        except Exception as exc:  # whatever failed, moto must not keep a cluster the lab does not have
            log(f"restore {cluster}: failed, deleting the cluster from moto again: "
                f"{exc if isinstance(exc, DataPlaneError) else traceback.format_exc()}")
            state = self.lab.state(cluster)
            if state:
                try:
                    self.lab.remove(state)
                except DataPlaneError as again:
                    log(f"restore {cluster}: and its container stays: {again}")
            undo = self._rds("DeleteDBCluster", {"DBClusterIdentifier": cluster, "SkipFinalSnapshot": "true"})
            if not undo.ok:
                log(f"restore {cluster}: moto did not delete it ({undo.status}): {undo.payload[:300]!r}")
            self._error("InvalidDBClusterSnapshotStateFault",
                        f"The lab could not restore the data of snapshot {snapshot} for DB cluster {cluster}: {exc}")
            return
        self.relay(answer)

    def _CreateDBInstance(self, body, form):
        answer = self.fetch(body)
        state = self.lab.state(form.get("DBClusterIdentifier", "")) if answer.ok else None
        if state:
            instance = form.get("DBInstanceIdentifier", "")
            address = xml_text(answer.payload, ".//{*}DBInstance/{*}Endpoint/{*}Address")
            if not address:
                described = self._rds("DescribeDBInstances", {"DBInstanceIdentifier": instance})
                address = xml_text(described.payload, ".//{*}DBInstance/{*}Endpoint/{*}Address")
            if address:
                state["instances"][instance.lower()] = address
                try:
                    self.lab.apply_names(state)
                except DataPlaneError as exc:
                    log(f"instance {instance}: {state['container']} could not take the name {address}: {exc}")
            else:
                log(f"instance {instance}: moto gives it no endpoint address; {state['container']} keeps its names")
        self.relay(answer)

    def _DeleteDBInstance(self, body, form):
        answer = self.fetch(body)
        instance = form.get("DBInstanceIdentifier", "").lower()
        for state in self.lab.states() if answer.ok else []:
            if state["instances"].pop(instance, None):
                try:
                    self.lab.apply_names(state)
                except DataPlaneError as exc:
                    log(f"instance {instance}: {state['container']} keeps its name: {exc}")
        self.relay(answer)

    def _DeleteDBClusterSnapshot(self, body, form):
        answer = self.fetch(body)
        snapshot = snapshot_id(form.get("DBClusterSnapshotIdentifier", ""))
        if answer.ok and IDENTIFIER.match(snapshot) and (self.lab.snapshots / f"{snapshot}.tar").exists():
            self.lab.delete_copy(snapshot)
            log(f"snapshot {snapshot}: deleted, and its copy")
        self.relay(answer)


def address(value):
    host, _, port = value.rpartition(":")
    return host, int(port)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=address, required=True, help="HOST:PORT the clients call")
    parser.add_argument("--backend", type=address, required=True, help="HOST:PORT of the moto server")
    parser.add_argument("--lab-dir", required=True, help="the lab's state directory (snapshots/, clusters/, db-tls/)")
    parser.add_argument("--network", default="mmha-lab", help="podman network of the lab")
    parser.add_argument("--image", default="localhost/mattermost-ha-postgres:latest",
                        help="image of the restored clusters' containers")
    parser.add_argument("--target-group-name", help="the ELBv2 target group the load balancer serves (none: no LB)")
    parser.add_argument("--lb-dir", help="the load balancer's directory: haproxy.cfg, admin.sock, state.json")
    parser.add_argument("--lb-container", default="mmha-lab-lb", help="the HAProxy container (reloaded with USR2)")
    parser.add_argument("--region", default="us-west-1", help="the target group's region")
    args = parser.parse_args()
    ControllerHandler.backend = args.backend
    ControllerHandler.lab = Lab(args.lab_dir, args.network, args.image)
    if args.target_group_name:
        balancer = LoadBalancer(args.lb_dir or Path(args.lab_dir) / "lb", args.lb_container, args.network,
                                args.target_group_name, args.region, args.backend)
        ControllerHandler.balancer = balancer
        threading.Thread(target=balancer.run, daemon=True, name="load-balancer").start()
        log(f"load balancer: HAProxy in {args.lb_container} serves target group {args.target_group_name}")
    server = ThreadingHTTPServer(args.listen, ControllerHandler)
    log(f"listening on {args.listen[0]}:{args.listen[1]}, forwarding to moto on {args.backend[0]}:{args.backend[1]}")
    server.serve_forever()


if __name__ == "__main__":
    main()
