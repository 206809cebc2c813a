"""Run ansible-playbook from the tests the way a user runs it, and read the recap."""

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RECAP = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)\s+skipped=(?P<skipped>\d+)\s+rescued=(?P<rescued>\d+)\s+ignored=(?P<ignored>\d+)",
    re.MULTILINE,
)


@dataclass
class PlaybookRun:
    returncode: int
    output: str

    @property
    def recap(self):
        """{host: {"ok": n, "changed": n, ...}} from the PLAY RECAP."""
        return {
            m["host"]: {k: int(v) for k, v in m.groupdict().items() if k != "host"}
            for m in RECAP.finditer(self.output)
        }

    @property
    def changed(self):
        return sum(host["changed"] for host in self.recap.values())

    @property
    def failed(self):
        return sum(host["failed"] + host["unreachable"] for host in self.recap.values())

    @property
    def folded(self):
        """The output with its whitespace folded to single spaces: the callback wraps long messages."""
        return " ".join(self.output.split())


def mitogen_env():
    """The two settings that switch Mitogen on (docs/performance.md): its strategy plugins'
    directory, as installed by requirements.txt, and its linear strategy. An ansible-playbook
    that cannot find the strategy stops with "Invalid play strategy", so a run asked to use
    Mitogen never falls back to the default quietly."""
    import ansible_mitogen

    return {
        "ANSIBLE_STRATEGY_PLUGINS": str(Path(ansible_mitogen.__file__).parent / "plugins/strategy"),
        "ANSIBLE_STRATEGY": "mitogen_linear",
    }


def run_playbook(playbook, *args, env=None, check=True, timeout=1800, mitogen=False):
    """ansible-playbook PLAYBOOK ARGS with the repository's ansible.cfg.

    check=True raises with the whole output when the run fails, so a failing test shows
    what Ansible said. mitogen=True runs it with the Mitogen strategy (docs/performance.md);
    the default is Ansible's own linear strategy, what users get unless they switch.
    """
    full_env = dict(os.environ)
    full_env.update(
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_NOCOLOR="1",
        PYTHONUNBUFFERED="1",
    )
    full_env.update(env or {})
    if mitogen:
        full_env.update(mitogen_env())
    binary = Path(sys.executable).parent / "ansible-playbook"
    proc = subprocess.run(
        [str(binary), str(REPO / playbook), *args],
        cwd=REPO,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    run = PlaybookRun(proc.returncode, proc.stdout)
    if check and proc.returncode != 0:
        raise AssertionError(f"ansible-playbook {playbook} failed ({proc.returncode}):\n{proc.stdout}")
    return run
