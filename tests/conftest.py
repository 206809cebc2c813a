"""Fixtures shared by every test: the AWS emulator and the PostgreSQL pair.

Each part is started by the tests that use it and stopped when the session ends. One moto
server serves the whole session (per xdist worker) and is reset before every test that asks
for it, so tests stay independent without paying a server start each.
"""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness.aws import AwsAccount  # noqa: E402
from harness.moto_server import MotoServer  # noqa: E402
from harness.postgres import PostgresPair  # noqa: E402
from mattermost_standin.build_release import build_release  # noqa: E402
from mattermost_standin.fixtures import serve_directory  # noqa: E402


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory):
    server = MotoServer(tmp_path_factory.mktemp("moto")).start()
    yield server
    server.stop()


@pytest.fixture
def aws(moto_server, monkeypatch):
    """A fresh emulated account; the process environment points every AWS client at it."""
    moto_server.reset()
    account = AwsAccount(moto_server)
    for key, value in account.env.items():
        monkeypatch.setenv(key, value)
    return account


@pytest.fixture(scope="session")
def postgres_pair():
    pair = PostgresPair().start()
    yield pair
    pair.stop()


@pytest.fixture(scope="session")
def mattermost_release(tmp_path_factory):
    """A Mattermost stand-in release of the default version (tests/mattermost_standin/README.md).

    A ``Release``: ``.tarball``, ``.sha256``, ``.signature``, ``.public_key`` (paths in one directory),
    ``.version``, ``.fingerprint``, ``.config_version``.
    """
    return build_release(out_dir=tmp_path_factory.mktemp("mattermost-release"))


@pytest.fixture(scope="session")
def mattermost_release_url(mattermost_release):
    """Base URL (http://127.0.0.1:PORT) serving the release directory; bound on all addresses."""
    with serve_directory(mattermost_release.tarball.parent, host="0.0.0.0") as url:
        yield url


# `make pytest` runs the suite in pytest-xdist workers, a whole test file per worker at a time,
# so that a file's module-scoped fixtures (a provisioned deployment, the lab) are built once.
# Test files that start podman containers use fixed names (mmha-lab-*, the stand-in's host):
# they form one scope and run one after another in one worker. (A custom scheduler rather than
# `xdist_group` marks: pytest-xdist 3.8 cannot rename the node ids of pytest 9.2, so
# `--dist loadgroup` silently ignores the marks.)
CONTAINER_TEST_DIRS = ("tests/integration/lab/", "tests/integration/standin/")
# The longest scopes start first, so that no worker is left with one of them at the end.
LONGEST_SCOPES = ("containers", "tests/integration/aws/test_provision.py",
                  "tests/integration/aws/test_real_aws_roles.py")


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class TestFileScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            path = nodeid.split("::", 1)[0]
            return "containers" if path.startswith(CONTAINER_TEST_DIRS) else path

        def _assign_work_unit(self, node):
            for scope in reversed(LONGEST_SCOPES):
                if scope in self.workqueue:
                    self.workqueue.move_to_end(scope, last=False)
            super()._assign_work_unit(node)

    return TestFileScheduling(config, log)


def pytest_report_header(config):
    pg_bin = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")
    return f"mattermost_ha harness: moto server and PostgreSQL 15 started on demand (PG_BIN={pg_bin})"
