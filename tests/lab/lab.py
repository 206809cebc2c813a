#!/usr/bin/env python3
"""The local lab: the embedded default that `make demo` deploys to.

    lab.py up      podman network and systemd containers (app nodes, PostgreSQL writer and
                   streaming replica), a moto server standing for AWS behind the lab's
                   controller, the Mattermost release served over HTTP (the real one when
                   releases.mattermost.com answers, the tests' stand-in otherwise), a
                   monitoring node, Prometheus's releases made from Debian's packages
                   (monitoring_releases.py), and HAProxy as the load balancer's data plane
    lab.py env     shell exports that point AWS clients at the lab's emulator
    lab.py down    stop and remove all of it, restored clusters and snapshot copies too

AWS clients call the controller (tests/lab/controller.py) on MMHA_LAB_MOTO_PORT (4566): it
forwards every request to moto on MMHA_LAB_MOTO_BACKEND_PORT (4568) unchanged, and gives the
emulator's Aurora snapshots and restores a real data plane: a snapshot is a copy of the
PostgreSQL data (.lab/snapshots/), a cluster restored from it is a container of its own,
mmha-lab-db-<cluster id>, that answers to the cluster's endpoints (.lab/clusters/). Every
other Aurora cluster is played by the writer/replica pair. The controller also keeps HAProxy
(mmha-lab-lb, on 127.0.0.1:MMHA_LAB_LB_PORT, 8080) in step with the deployment's target group
(MMHA_LAB_TARGET_GROUP, Mattermost-Targets): its registered targets, health checks and
deregistration delay; HAProxy's configuration and admin socket are in .lab/lb/.
tests/lab/README.md says where all that still differs from AWS.

A lab that fails while coming up is taken down again before `up` exits: no containers,
network or emulator processes are left behind. `MMHA_LAB_RELEASE_URL` points the lab at a
release tarball of your own (a mirror of releases.mattermost.com for air-gapped machines,
with `MMHA_LAB_RELEASE_CHECKSUM`); `up` checks that the app nodes can download the release
before it reports the lab ready.

Everything the lab runs listens on the lab network's gateway address, which both this
machine and the containers reach, but the load balancer, on this machine's loopback; nothing
listens on other interfaces. State lives in
`.lab/` at the repository root.
"""
import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAB_DIR = Path(os.environ.get("MMHA_LAB_DIR", REPO / ".lab"))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import monitoring_releases  # noqa: E402
from controller import haproxy_config  # noqa: E402
from db_tls import make_db_certs  # noqa: E402
from harness.net import wait_for_port  # noqa: E402

NETWORK = os.environ.get("MMHA_LAB_NETWORK", "mmha-lab")
SUBNET = os.environ.get("MMHA_LAB_SUBNET", "10.89.77.0/24")
GATEWAY = SUBNET.rsplit(".", 1)[0] + ".1"
# The port every AWS client calls (the controller); moto itself listens on the backend port.
MOTO_PORT = int(os.environ.get("MMHA_LAB_MOTO_PORT", "4566"))
MOTO_BACKEND_PORT = int(os.environ.get("MMHA_LAB_MOTO_BACKEND_PORT", "4568"))
RELEASE_PORT = int(os.environ.get("MMHA_LAB_RELEASE_PORT", "4567"))
# The load balancer's HTTP frontend, published on this machine's loopback.
LB_PORT = int(os.environ.get("MMHA_LAB_LB_PORT", "8080"))
LB_CONTAINER = "mmha-lab-lb"
# The target group the load balancer serves: the deployment's <mattermost_ha_name>-Targets.
TARGET_GROUP = os.environ.get("MMHA_LAB_TARGET_GROUP", "Mattermost-Targets")
REGION = os.environ.get("MMHA_LAB_REGION", "us-west-1")
VERSION = os.environ.get("MMHA_LAB_MATTERMOST_VERSION", "11.7.9")
# Stand-in releases the upgrade tests move to (with the stand-in only): a good one, and one
# whose server cannot start (tests/mattermost_standin/README.md).
UPGRADE_RELEASES = {"11.8.0": None, "11.8.1": "the lab's broken release: it cannot start, by design"}
RELEASE_SERVER = "https://releases.mattermost.com"
RELEASE_MIRROR = os.environ.get("MMHA_LAB_RELEASE_URL", "")
MATTERMOST_GPG_KEY = "https://deb.packages.mattermost.com/pubkey.gpg"
FIRST_APP_NODE = "mmha-lab-app-01"
DB_HOSTS = ("mmha-lab-db-writer", "mmha-lab-db-reader")
DB_IMAGE = "localhost/mattermost-ha-postgres:latest"
# What the controller made: snapshot copies, restored clusters' state and certificates, the
# load balancer's configuration, runtime API socket and draining targets.
CONTROLLER_STATE = ("snapshots", "clusters", "lb")


class LabError(Exception):
    """A step of `up` that failed, said in one line."""


def log(msg):
    print(f"lab: {msg}", flush=True)


def lab_env():
    """What AWS clients need to talk to the lab's emulator (never to real AWS).

    The dummy credentials are long, odd strings on purpose: modules mask the value of
    their secret parameters wherever it appears in their results.
    """
    url = f"http://{GATEWAY}:{MOTO_PORT}"
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_URL": url,
        "AWS_ACCESS_KEY_ID": "mmha-lab-access-key",
        "AWS_SECRET_ACCESS_KEY": "mmha-lab-secret-key",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "CONTAINERS_CONF": str(REPO / "tests/images/containers.conf"),
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "MMHA_LAB_LB_URL": f"http://127.0.0.1:{LB_PORT}",
    }


def _pid_alive(pid_file):
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
        return pid
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None


def start_background(name, argv, port, env=None):
    """Start a long-lived process once; a second `up` finds it running."""
    pid_file = LAB_DIR / f"{name}.pid"
    if _pid_alive(pid_file):
        log(f"{name}: running")
        return
    with open(LAB_DIR / f"{name}.log", "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True, cwd=LAB_DIR)
    pid_file.write_text(str(proc.pid))
    wait_for_port(port, host=GATEWAY, timeout=60, proc=proc)
    log(f"{name}: started on {GATEWAY}:{port}")


def stop_background(name):
    pid_file = LAB_DIR / f"{name}.pid"
    pid = _pid_alive(pid_file)
    if pid:
        os.killpg(pid, signal.SIGTERM)
        for _ in range(50):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # reap it when this process started it (a failed `up`)
            if not _pid_alive(pid_file):
                break
            time.sleep(0.1)
        log(f"{name}: stopped")
    pid_file.unlink(missing_ok=True)


def release_server_reachable():
    try:
        urllib.request.urlopen(urllib.request.Request(f"{RELEASE_SERVER}/", method="HEAD"), timeout=5)
        return True
    except OSError:
        return False


def _reusable(info):
    """A release prepared by an earlier `up` (a stand-in built before fingerprints were pinned, or
    without the upgrade releases, is rebuilt)."""
    return info["source"] == "real" or (info["source"] == "stand-in" and "gpg_fingerprint" in info
                                        and set(info.get("releases", {})) == {VERSION, *UPGRADE_RELEASES})


def prepare_release():
    """The release the lab installs, and where it came from (written to release.json)."""
    release_dir = LAB_DIR / "release"
    info_file = release_dir / "release.json"
    release_dir.mkdir(parents=True, exist_ok=True)
    if RELEASE_MIRROR:
        log(f"MMHA_LAB_RELEASE_URL: the lab installs the release at {RELEASE_MIRROR}")
        info = {"source": "mirror", "version": VERSION, "url": RELEASE_MIRROR,
                "checksum": os.environ.get("MMHA_LAB_RELEASE_CHECKSUM", ""), "gpg_key": MATTERMOST_GPG_KEY}
    elif info_file.exists() and _reusable(json.loads(info_file.read_text())):
        return json.loads(info_file.read_text())
    elif release_server_reachable():
        log(f"{RELEASE_SERVER} answers: the lab installs the real Mattermost {VERSION}")
        info = {"source": "real", "version": VERSION,
                "url": f"{RELEASE_SERVER}/{VERSION}/mattermost-{VERSION}-linux-amd64.tar.gz",
                "gpg_key": MATTERMOST_GPG_KEY}
    else:
        log(f"{RELEASE_SERVER} cannot be reached from this machine: the lab installs the tests' "
            "Mattermost STAND-IN (tests/mattermost_standin), not the real server")
        sys.path.insert(0, str(REPO / "tests/mattermost_standin"))
        from build_release import build_release, make_signing_key, write_test_license

        # The lab's release, and the ones the upgrade tests move to, signed by one key.
        releases = {}
        with tempfile.TemporaryDirectory(prefix="mmha-lab-gpg-") as gnupghome:
            make_signing_key(gnupghome)
            for version, start_failure in {VERSION: None, **UPGRADE_RELEASES}.items():
                built = build_release(version=version, out_dir=release_dir, gnupghome=gnupghome,
                                      start_failure=start_failure)
                releases[version] = {"url": f"http://{GATEWAY}:{RELEASE_PORT}/{built.tarball.name}",
                                     "checksum": "sha256:" + built.sha256.read_text().split()[0]}
            subprocess.run(["gpgconf", "--homedir", gnupghome, "--kill", "all"], capture_output=True, check=False)
        write_test_license(release_dir / "lab.mattermost-license")
        info = {"source": "stand-in", "version": VERSION, **releases[VERSION], "releases": releases,
                "gpg_key": f"http://{GATEWAY}:{RELEASE_PORT}/{built.public_key.name}",
                "gpg_fingerprint": built.fingerprint,
                "license_file": str(release_dir / "lab.mattermost-license")}
    info_file.write_text(json.dumps(info, indent=2))
    return info


def check_release_download(release):
    """The app nodes must be able to fetch the release, as the deployment will."""
    probe = subprocess.run(
        ["podman", "exec", FIRST_APP_NODE, "curl", "-sS", "-o", "/dev/null", "-r", "0-0", "--max-time", "30",
         "-f", release["url"]],
        capture_output=True, text=True, env=dict(os.environ, **lab_env()),
    )
    if probe.returncode != 0:
        raise LabError(f"{FIRST_APP_NODE} cannot download the Mattermost release {release['url']}: "
                       f"{probe.stderr.strip() or f'curl exited with {probe.returncode}'}")


def run_playbook(playbook, extra_vars):
    env = dict(os.environ, **lab_env())
    result = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), str(REPO / playbook),
         "-i", str(REPO / "inventories/local/hosts.yml"), "-e", json.dumps(extra_vars)],
        env=env, cwd=REPO,
    )
    if result.returncode != 0:
        raise LabError(f"{playbook} failed (exit {result.returncode}; its output is above)")


def up(args):
    """Bring the lab up; if any step fails, take down whatever of it had started."""
    LAB_DIR.mkdir(parents=True, exist_ok=True)
    try:
        _up(args)
    except BaseException as exc:
        reason = exc if isinstance(exc, LabError) else f"{type(exc).__name__}: {exc}"
        log(f"up failed: {reason}")
        log("taking the partial lab down (containers, network, emulator)")
        try:
            down(args)
        except LabError as down_error:
            log(f"down failed too: {down_error}")
        raise SystemExit(f"lab: up failed: {reason}") from None


def _up(args):
    # The database containers serve certificates of the lab's own CA for their host names; the
    # app nodes check them with sslmode=verify-full (inventories/local: mattermost_ha_db_ssl_ca).
    make_db_certs(LAB_DIR / "db-tls", DB_HOSTS)
    # Prometheus and its exporters, shaped as their upstream releases from Debian's packages.
    monitoring_releases.prepare(LAB_DIR, f"http://{GATEWAY}:{RELEASE_PORT}")
    # HAProxy starts with no servers and the default health check; the controller adds the
    # target group's targets and rewrites the check to the group's.
    lb_dir = LAB_DIR / "lb"
    lb_dir.mkdir(mode=0o700, exist_ok=True)
    if not (lb_dir / "haproxy.cfg").exists():
        (lb_dir / "haproxy.cfg").write_text(haproxy_config())
    run_playbook("tests/lab/hosts.yml", {"lab_network": NETWORK, "lab_subnet": SUBNET,
                                         "lab_tls_dir": str(LAB_DIR / "db-tls"),
                                         "lab_release_dir": str(LAB_DIR / "release"), "lab_gateway": GATEWAY,
                                         "lab_app_count": args.app_count, "lab_lb_dir": str(lb_dir),
                                         "lab_lb_port": LB_PORT, "lab_state": "present"})
    # moto's server with the AWS Backup calls moto lacks (tests/harness/moto_extended.py).
    moto = Path(__file__).resolve().parent.parent / "harness" / "moto_extended.py"
    start_background("moto", [sys.executable, str(moto), "-H", GATEWAY, "-p", str(MOTO_BACKEND_PORT)],
                     MOTO_BACKEND_PORT,
                     env=dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true", MOTO_ACM_VALIDATION_WAIT="0"))
    start_background("controller", [sys.executable, str(Path(__file__).resolve().parent / "controller.py"),
                                    "--listen", f"{GATEWAY}:{MOTO_PORT}", "--backend", f"{GATEWAY}:{MOTO_BACKEND_PORT}",
                                    "--lab-dir", str(LAB_DIR), "--network", NETWORK, "--image", DB_IMAGE,
                                    "--target-group-name", TARGET_GROUP, "--lb-dir", str(lb_dir),
                                    "--lb-container", LB_CONTAINER, "--region", REGION], MOTO_PORT,
                     env=dict(os.environ, CONTAINERS_CONF=lab_env()["CONTAINERS_CONF"]))
    release = prepare_release()
    start_background("release-http", [sys.executable, "-m", "http.server", str(RELEASE_PORT), "--bind", GATEWAY,
                                      "--directory", str(LAB_DIR / "release")], RELEASE_PORT)
    check_release_download(release)
    log(f"up: emulator http://{GATEWAY}:{MOTO_PORT}, load balancer http://127.0.0.1:{LB_PORT}, "
        f"Mattermost {release['version']} ({release['source']})")


def down(_args):
    stop_background("release-http")
    stop_background("controller")
    stop_background("moto")
    # Removes every mmha-lab-* container: the restored clusters' ones (mmha-lab-db-<id>) too.
    run_playbook("tests/lab/hosts.yml", {"lab_network": NETWORK, "lab_subnet": SUBNET, "lab_state": "absent"})
    for name in CONTROLLER_STATE:
        shutil.rmtree(LAB_DIR / name, ignore_errors=True)
    log("down")


def env(_args):
    for key, value in lab_env().items():
        print(f"export {key}='{value}'")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up")
    p_up.add_argument("--app-count", type=int, default=int(os.environ.get("MMHA_LAB_APP_COUNT", "2")))
    p_up.set_defaults(func=up)
    sub.add_parser("down").set_defaults(func=down)
    sub.add_parser("env").set_defaults(func=env)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
