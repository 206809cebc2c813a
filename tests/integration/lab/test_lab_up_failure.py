"""A lab that fails while coming up takes itself down: nothing of it is left behind.

The broken step is the last one of `lab.py up`: the app nodes cannot download the release
(an unreachable mirror URL), after the network, the containers, PostgreSQL and the emulator
have all started.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from harness.ansible import REPO

pytestmark = pytest.mark.slow

CONTAINERS_CONF = str(REPO / "tests/images/containers.conf")
UNREACHABLE = "http://127.0.0.1:9/mattermost-unreachable-linux-amd64.tar.gz"


def podman(*argv):
    env = dict(os.environ, CONTAINERS_CONF=CONTAINERS_CONF)
    return subprocess.run(["podman", *argv], check=True, capture_output=True, text=True, env=env).stdout.split()


def processes_in(directory):
    """Processes whose working directory is `directory` (the lab starts its emulator there)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if Path(os.readlink(proc / "cwd")) == directory:
                    found.append((proc.name, (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()))
            except OSError:
                continue
    return found


def test_lab_up_that_fails_leaves_no_container_network_or_emulator(tmp_path):
    lab_dir = tmp_path / "lab"
    env = dict(os.environ, MMHA_LAB_DIR=str(lab_dir), MMHA_LAB_RELEASE_URL=UNREACHABLE, CONTAINERS_CONF=CONTAINERS_CONF)
    result = subprocess.run([sys.executable, str(REPO / "tests/lab/lab.py"), "up"], env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=900)
    output = result.stdout + result.stderr

    assert result.returncode != 0, output
    # The failure came late: containers and the emulator had started before it.
    assert "lab: moto: started on" in output, output
    assert f"mmha-lab-app-01 cannot download the Mattermost release {UNREACHABLE}" in output, output
    assert "taking the partial lab down" in output, output

    assert [n for n in podman("ps", "-a", "--format", "{{.Names}}") if n.startswith("mmha-lab-")] == []
    assert "mmha-lab" not in podman("network", "ls", "--format", "{{.Name}}")
    assert processes_in(lab_dir) == []
    assert not (lab_dir / "moto.pid").exists()
