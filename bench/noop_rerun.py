"""No-op re-run time of provision.yml (emulator) and site.yml (lab): this commit, with Ansible's
linear strategy and with Mitogen, against a baseline commit (default 2645b60).

    .venv/bin/python bench/noop_rerun.py [--rounds 3] [--baseline 2645b60] [--only provision|site|nodes|floor]
                                         [--strategy linear|mitogen]

The baseline is checked out in a git worktree (.bench/<commit>, sharing this checkout's .venv)
and every run uses its own checkout's playbooks, ansible.cfg and test variables.

- provision.yml: one moto server per checkout, each converged once; then, in every round, the
  baseline, this commit and this commit with Mitogen re-run one after the other (interleaved).
- site.yml: the lab's container names are fixed, so one lab at a time: the baseline's lab is
  brought up, converged, re-run --rounds times and taken down; then this commit's, where the
  linear and the Mitogen re-runs alternate.

- configure.yml (the node roles alone, no AWS): on this commit's 2-node lab above and on a
  4-node lab (`lab.py up --app-count 4`, site.yml with mattermost_ha_app_count=4), linear and
  Mitogen alternating; the 4-node median over the 2-node median is how well the nodes are
  configured in parallel (1.0 would be perfectly).

- floor (no AWS, no lab): a playbook of 60 ansible.builtin.stat tasks on 2 and on 4 hosts of
  the local connection, linear and Mitogen alternating: what Ansible itself costs per task and
  host on this machine, whatever the roles do. Its 4/2 ratio bounds how well any playbook's
  nodes can be configured in parallel here.

--strategy runs this commit with one strategy only (the baseline always runs Ansible's own).

Every re-run must report changed=0; one that does not is printed and counted as a failure.
Time it on a quiet machine: the runs are CPU-bound on the controller.
"""

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests")]

from harness.ansible import PlaybookRun, mitogen_env  # noqa: E402
from harness.moto_server import REGION, MotoServer  # noqa: E402

PLAYBOOK_BIN = Path(sys.executable).parent / "ansible-playbook"
# The machine's podman settings (this checkout's): the baseline's may predate them.
CONTAINERS_CONF = str(REPO / "tests/images/containers.conf")


def checkout(commit):
    """A worktree of COMMIT under .bench/, with this checkout's virtualenv."""
    sha = subprocess.run(["git", "rev-parse", "--short", commit], cwd=REPO, check=True, capture_output=True,
                         text=True).stdout.strip()
    path = REPO / ".bench" / sha
    if not path.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(path), sha], cwd=REPO, check=True,
                       capture_output=True)
    venv = path / ".venv"
    if not venv.exists():
        venv.symlink_to(REPO / ".venv")
    return path


def emulator_vars(tree, workdir):
    """The checkout's own emulator variables, as its test_provision.py passes them."""
    code = ("import json, sys; sys.path[:0] = ['tests', 'tests/integration/aws'];"
            "from frontend_prereqs import EMULATOR_FRONTEND_VARS as v; print(json.dumps(v))")
    frontend = json.loads(subprocess.run([sys.executable, "-c", code], cwd=tree, check=True, capture_output=True,
                                         text=True).stdout)
    return {
        "mattermost_ha_region": REGION,
        "mattermost_ha_instance_connect_endpoint": False,
        **frontend,
        "mattermost_ha_certificate_records_file": str(workdir / "records.csv"),
    }


def play(tree, playbook, *args, env, mitogen=False):
    """ansible-playbook in TREE; returns (seconds, PlaybookRun)."""
    full = dict(os.environ, ANSIBLE_CONFIG=str(tree / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                CONTAINERS_CONF=CONTAINERS_CONF)
    full.update(env)
    for key in ("ANSIBLE_STRATEGY", "ANSIBLE_STRATEGY_PLUGINS"):
        full.pop(key, None)
    if mitogen:
        full.update(mitogen_env())
    started = time.monotonic()
    proc = subprocess.run([str(PLAYBOOK_BIN), playbook, *args], cwd=tree, env=full, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    return time.monotonic() - started, PlaybookRun(proc.returncode, proc.stdout)


class Timings:
    def __init__(self):
        self.samples = {}
        self.failures = []

    def record(self, key, seconds, run):
        if run.returncode != 0 or run.changed != 0:
            self.failures.append(key)
            print(f"  {key}: rc={run.returncode} changed={run.changed}\n{run.output[-4000:]}", flush=True)
            return
        self.samples.setdefault(key, []).append(seconds)
        print(f"  {key}: {seconds:6.1f} s", flush=True)

    def report(self, job, baseline):
        base = statistics.median(self.samples.get((job, "baseline"), [float("nan")]))
        for variant in ("baseline", "linear", "mitogen"):
            values = self.samples.get((job, variant), [])
            if not values:
                continue
            median = statistics.median(values)
            rounds = ", ".join(f"{v:.1f}" for v in values)
            print(f"{job:9} {variant:8} median {median:6.1f} s  ratio to {baseline} {median / base:4.2f}  "
                  f"rounds: {rounds}")


    def scaling(self):
        for (two_job, four_job, what), variant in itertools.product(
                (("configure2", "configure4", "configure.yml"), ("floor2", "floor4", f"{FLOOR_TASKS} stat tasks")),
                ("linear", "mitogen")):
            two, four = (self.samples.get((job, variant)) for job in (two_job, four_job))
            if two and four:
                print(f"{what} {variant:8} 2 nodes median {statistics.median(two):6.1f} s, 4 nodes "
                      f"{statistics.median(four):6.1f} s: 4/2 = {statistics.median(four) / statistics.median(two):4.2f}"
                      f"  rounds: {', '.join(f'{v:.1f}' for v in two)} / {', '.join(f'{v:.1f}' for v in four)}")


def bench_provision(trees, rounds, timings, variants):
    servers, values = {}, {}
    try:
        for name, tree in trees.items():
            workdir = Path(tempfile.mkdtemp(prefix=f"bench-noop-{name}-"))
            servers[name] = MotoServer(workdir).start()
            values[name] = json.dumps(emulator_vars(tree, workdir))
            seconds, run = play(tree, "playbooks/provision.yml", "-e", values[name], env=servers[name].env(REGION))
            if run.returncode != 0:
                raise SystemExit(f"provision.yml in {tree} failed:\n{run.output[-4000:]}")
            print(f"provision {name}: first run {seconds:.1f} s", flush=True)
        for round_ in range(1, rounds + 1):
            print(f"provision round {round_}", flush=True)
            for variant, name, mitogen in (("baseline", "baseline", False),
                                           *((v, "current", m) for v, m in variants)):
                seconds, run = play(trees[name], "playbooks/provision.yml", "-e", values[name],
                                    env=servers[name].env(REGION), mitogen=mitogen)
                timings.record(("provision", variant), seconds, run)
    finally:
        for server in servers.values():
            server.stop()


def lab(tree, *command):
    subprocess.run([sys.executable, "tests/lab/lab.py", *command], cwd=tree, check=True,
                   env=dict(os.environ, CONTAINERS_CONF=CONTAINERS_CONF))


def lab_env(tree):
    code = "import json, sys; sys.path.insert(0, 'tests/lab'); import lab; print(json.dumps(lab.lab_env()))"
    return json.loads(subprocess.run([sys.executable, "-c", code], cwd=tree, check=True, capture_output=True,
                                     text=True).stdout)


BOTH = (("linear", False), ("mitogen", True))


def on_lab(tree, rounds, timings, jobs, nodes=2):
    """Bring TREE's lab up with NODES app nodes, converge it, time JOBS [(job, playbook,
    variants)] round by round, tear it down."""
    lab(tree, "up", f"--app-count={nodes}")
    count = ["-e", f"mattermost_ha_app_count={nodes}"]
    try:
        env = lab_env(tree)
        seconds, run = play(tree, "site.yml", "-i", "inventories/local", *count, env=env)
        if run.returncode != 0:
            raise SystemExit(f"site.yml in {tree} failed:\n{run.output[-4000:]}")
        print(f"lab of {tree.name}, {nodes} nodes: first run {seconds:.1f} s", flush=True)
        for round_ in range(1, rounds + 1):
            print(f"round {round_}", flush=True)
            for job, playbook, variants in jobs:
                for variant, mitogen in variants:
                    seconds, run = play(tree, playbook, "-i", "inventories/local", *count, env=env, mitogen=mitogen)
                    timings.record((job, variant), seconds, run)
        play(tree, "playbooks/teardown.yml", "-i", "inventories/local", "-e",
             "mattermost_ha_teardown_confirm=Mattermost", env=env, mitogen=tree == REPO)
    finally:
        lab(tree, "down")


def bench_site(trees, rounds, timings, variants):
    on_lab(trees["baseline"], rounds, timings, [("site", "site.yml", (("baseline", False),))])
    on_lab(trees["current"], rounds, timings,
           [("site", "site.yml", variants), ("configure2", "playbooks/configure.yml", variants)])


def bench_nodes(trees, rounds, timings, variants):
    on_lab(trees["current"], rounds, timings, [("configure4", "playbooks/configure.yml", variants)], nodes=4)


FLOOR_TASKS = 60


def bench_floor(rounds, timings, variants):
    """FLOOR_TASKS stat tasks on 2 and 4 local-connection hosts: Ansible's own cost per host-task."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-floor-"))
    (workdir / "hosts.ini").write_text("[floor]\n" + "".join(f"floor{n}\n" for n in range(1, 5)) +
                                       f"[floor:vars]\nansible_connection=local\nansible_python_interpreter={sys.executable}\n")
    tasks = "".join(f"    - name: Stat {n}\n      ansible.builtin.stat:\n        path: /etc/hostname\n"
                    for n in range(1, FLOOR_TASKS + 1))
    (workdir / "floor.yml").write_text("- name: Floor\n  hosts: \"{{ floor_hosts }}\"\n  gather_facts: false\n"
                                       "  tasks:\n" + tasks)
    for round_ in range(1, rounds + 1):
        print(f"floor round {round_}", flush=True)
        for nodes in (2, 4):
            hosts = ",".join(f"floor{n}" for n in range(1, nodes + 1))
            for variant, mitogen in variants:
                seconds, run = play(REPO, str(workdir / "floor.yml"), "-i", str(workdir / "hosts.ini"), "-e",
                                    f"floor_hosts={hosts}", env={}, mitogen=mitogen)
                timings.record((f"floor{nodes}", variant), seconds, run)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", default="2645b60")
    parser.add_argument("--only", choices=("provision", "site", "nodes", "floor"))
    parser.add_argument("--strategy", choices=("linear", "mitogen"))
    args = parser.parse_args()
    variants = tuple(v for v in BOTH if args.strategy in (None, v[0]))
    trees = {"baseline": checkout(args.baseline), "current": REPO}
    timings = Timings()
    if args.only in (None, "provision"):
        bench_provision(trees, args.rounds, timings, variants)
    if args.only in (None, "site"):
        bench_site(trees, args.rounds, timings, variants)
    if args.only in (None, "nodes"):
        bench_nodes(trees, args.rounds, timings, variants)
    if args.only in (None, "floor"):
        bench_floor(args.rounds, timings, variants)
    print()
    for job in ("provision", "site"):
        timings.report(job, args.baseline)
    timings.scaling()
    if timings.failures:
        raise SystemExit(f"re-runs that failed or changed something: {timings.failures}")


if __name__ == "__main__":
    main()
