"""The stand-in on a test host: Debian bookworm's python3 + python3-psycopg2, systemd Type=notify, mattermost user.

Runs the node image with systemd as PID 1 on the host network (to reach the harness PostgreSQL),
installs the release like the manual guide does, and drives it with systemctl and mmctl.
"""

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from mattermost_standin.fixtures import free_port

IMAGE = "localhost/mattermost-ha-node:latest"
CONTAINERS_CONF = Path(__file__).resolve().parents[2] / "images" / "containers.conf"

UNIT = """[Unit]
Description=Mattermost
After=network.target

[Service]
Type=notify
ExecStart=/opt/mattermost/bin/mattermost
TimeoutStartSec=60
KillMode=mixed
Restart=always
RestartSec=10
WorkingDirectory=/opt/mattermost
RuntimeDirectory=mattermost
RuntimeDirectoryMode=0700
User=mattermost
Group=mattermost
LimitNOFILE=49152

[Install]
WantedBy=multi-user.target
"""


@pytest.fixture
def node(release):
    if shutil.which("podman") is None:
        pytest.fail("podman is needed (make setup images)")
    env = dict(os.environ, CONTAINERS_CONF=str(CONTAINERS_CONF))
    name = f"mmha-standin-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["podman", "run", "-d", "--name", name, "--network", "host", "--systemd", "always",
         "-v", f"{release.tarball.parent}:/rel:ro", IMAGE, "/sbin/init"],
        check=True, capture_output=True, env=env,
    )

    def run(script, check=True):
        result = subprocess.run(["podman", "exec", name, "bash", "-c", script], capture_output=True, text=True,
                                env=env, timeout=120)
        if check and result.returncode:
            raise AssertionError(f"{script}\n--- rc {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result

    deadline = time.monotonic() + 60
    while run("systemctl is-system-running", check=False).stdout.strip() not in ("running", "degraded"):
        assert time.monotonic() < deadline, "systemd did not boot in the container"
        time.sleep(0.5)
    yield run
    subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True, env=env)


def test_runs_under_systemd_as_the_mattermost_user(node, release, database):
    port = free_port()
    tarball = release.tarball.name
    node(f"""set -e
useradd --system --user-group mattermost
mkdir -p /opt/mattermost-{release.version}
tar xzf /rel/{tarball} -C /opt/mattermost-{release.version} --strip-components=1
ln -sfn /opt/mattermost-{release.version} /opt/mattermost
chown -R mattermost:mattermost /opt/mattermost-{release.version}
python3 - <<'PY'
import json
path = '/opt/mattermost/config/config.json'
config = json.load(open(path))
config['SqlSettings']['DataSource'] = {database.dsn()!r}
config['ServiceSettings']['ListenAddress'] = '127.0.0.1:{port}'
config['ServiceSettings']['EnableLocalMode'] = True
config['ServiceSettings']['LocalModeSocketLocation'] = '/run/mattermost/mm-{port}.socket'
json.dump(config, open(path, 'w'), indent=4)
PY
cat > /etc/systemd/system/mattermost.service <<'UNIT'
{UNIT}UNIT
systemctl daemon-reload
systemctl start mattermost
""")
    assert node("systemctl is-active mattermost").stdout.strip() == "active"
    ping = node(f"curl -sS 'http://127.0.0.1:{port}/api/v4/system/ping?get_server_status=true'").stdout
    assert json.loads(ping)["database_status"] == "OK"
    assert node(f"stat -c '%U %a' /run/mattermost/mm-{port}.socket").stdout.split() == ["mattermost", "600"]
    # The role's unit: the socket's directory is the service's RuntimeDirectory, 0700.
    assert node("stat -c '%U %a' /run/mattermost").stdout.split() == ["mattermost", "700"]
    env = f"MMCTL_LOCAL_SOCKET_PATH=/run/mattermost/mm-{port}.socket"
    created = node(f"sudo -u mattermost {env} /opt/mattermost/bin/mmctl --local user create --email a@example.com "
                   "--username admin --password 'Sup3r-secret!' --system-admin")
    assert created.stdout.strip() == "Created user admin"
    assert node("stat -c '%U %a' /opt/mattermost/logs/mattermost.log").stdout.split()[0] == "mattermost"

    node("systemctl stop mattermost")
    shown = node("systemctl show mattermost -p ExecMainStatus -p Result").stdout
    assert "ExecMainStatus=0" in shown
    assert "Result=success" in shown
    assert node(f"test -e /run/mattermost/mm-{port}.socket", check=False).returncode == 1
    assert node("test -e /run/mattermost", check=False).returncode == 1, "systemd removes it at stop"
