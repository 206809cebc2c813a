#!/usr/bin/env python3
"""The lab's controller: the emulator's Aurora snapshots and restores on real PostgreSQL.

    controller.py --listen HOST:PORT --backend HOST:PORT --lab-dir DIR [--network NAME] [--image IMAGE]

An HTTP proxy in front of the moto server (tests/lab/lab.py starts both: the controller on
the port every client uses, moto behind it). Every request goes to moto unchanged and every
answer comes back unchanged; a few RDS actions (AWS query protocol: a form-encoded body with
`Action=...`) also act on the lab's PostgreSQL containers, before the answer is sent, so a
client that has its answer finds the data plane in step:

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
"""

import argparse
import io
import json
import re
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
from harness.aws_proxy import BackendUnavailable, ForwardingHandler, error_body  # noqa: E402

WRITER = "mmha-lab-db-writer"
CONTAINER_PREFIX = "mmha-lab-db-"
DATA_DIR = "/var/lib/postgresql/15/main"
CONF_DIR = "/etc/postgresql/15/main"
UNIT = "postgresql@15-main"
RDS_API_VERSION = "2014-10-31"
# RDS identifiers: a letter, then letters, digits and hyphens (also safe as file and container names).
IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,254}$")
ACTIONS = ("CreateDBClusterSnapshot", "DeleteDBCluster", "RestoreDBClusterFromSnapshot", "CreateDBInstance",
           "DeleteDBInstance", "DeleteDBClusterSnapshot")


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


class ControllerHandler(ForwardingHandler):
    lab = None  # set by main()

    def handle_body(self, body):
        form = self._rds_form(body)
        action = form.get("Action")
        if action not in ACTIONS:
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

    def _rds_form(self, body):
        if self.command != "POST" or "x-www-form-urlencoded" not in self.headers.get("Content-Type", ""):
            return {}
        scope = re.search(r"Credential=[^/,]+/[^/]+/[^/]+/([^/]+)/", self.headers.get("Authorization", ""))
        if scope and scope.group(1) != "rds":
            return {}
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return {key: values[0] for key, values in form.items()}

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
    args = parser.parse_args()
    ControllerHandler.backend = args.backend
    ControllerHandler.lab = Lab(args.lab_dir, args.network, args.image)
    server = ThreadingHTTPServer(args.listen, ControllerHandler)
    log(f"listening on {args.listen[0]}:{args.listen[1]}, forwarding to moto on {args.backend[0]}:{args.backend[1]}")
    server.serve_forever()


if __name__ == "__main__":
    main()
