"""Fixtures for the stand-in's own tests: a release, a database per test, a cuttable TCP path to it."""

import contextlib
import socket
import threading
import uuid

import pytest
from mattermost_standin.build_release import DEFAULT_VERSION, build_release
from mattermost_standin.fixtures import MattermostProcess, configure, free_port, install_release, mmctl, pg_dsn

# Every character the issue names, plus the two that break shell quoting.
NASTY_PASSWORD = "p@ss:w/rd?x#y&z=1 two!'three"


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return build_release(DEFAULT_VERSION, tmp_path_factory.mktemp("release"))


class Database:
    def __init__(self, server, name, user, password):
        self.server, self.name, self.user, self.password = server, name, user, password

    def dsn(self, host=None, port=None, **kwargs):
        return pg_dsn(host or self.server.host, port or self.server.port, self.user, self.password, self.name,
                      **kwargs)

    def query(self, sql, args=()):
        with contextlib.closing(self.server.connect(dbname=self.name)) as conn, conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else None


@pytest.fixture
def database(postgres_pair):
    """A fresh login role (password with @ : / ? # & = space ! ') owning a fresh database."""
    suffix = uuid.uuid4().hex[:10]
    name, user = f"mm_{suffix}", f"mmuser_{suffix}"
    server = postgres_pair.primary
    with contextlib.closing(server.connect()) as conn, conn.cursor() as cur:
        cur.execute(f'CREATE ROLE "{user}" LOGIN PASSWORD %s', (NASTY_PASSWORD,))
        cur.execute(f'CREATE DATABASE "{name}" OWNER "{user}"')
    # Tests connect to the replica too: the role and the database must have reached it.
    postgres_pair.wait_replayed()
    yield Database(server, name, user, NASTY_PASSWORD)
    with contextlib.closing(server.connect()) as conn, conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'DROP ROLE IF EXISTS "{user}"')


class TcpProxy:
    """A loopback TCP forwarder that can be cut (all connections dropped, port closed) and restored."""

    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        self.port = free_port()
        self.listener = None
        self.conns = []
        self.lock = threading.Lock()

    def start(self):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(32)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()
        return self

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    restore = start

    def cut(self):
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() thread; close() alone does not
        self.listener.close()
        with self.lock:
            for sock in self.conns:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.conns = []


@pytest.fixture
def db_proxy(database):
    proxy = TcpProxy(database.server.host, database.server.port).start()
    yield proxy
    with contextlib.suppress(OSError):
        proxy.cut()


@pytest.fixture
def installed(release, tmp_path):
    return install_release(release, tmp_path / "node")


@pytest.fixture
def two_nodes_on_the_database(release, tmp_path, database):
    """Two nodes running from one database config store (migrated from node a's config.json).

    Yields [(install dir, socket path, HTTP port)] of both.
    """
    nodes = []
    for name in ("a", "b"):
        install = install_release(release, tmp_path / name)
        port, socket_path = configure(install, tmp_path, database.dsn())
        nodes.append((install, port, socket_path))
    install_a, port_a, sock_a = nodes[0]
    first = MattermostProcess(install_a).start(port_a)
    try:
        migrated = mmctl(install_a, "--local", "config", "migrate", str(install_a / "config" / "config.json"),
                         database.dsn(), socket_path=sock_a)
        assert migrated.returncode == 0, migrated.stderr
    finally:
        assert first.stop() == 0
    servers = []
    for install, port, socket_path in nodes:
        env = {"MM_CONFIG": database.dsn(), "MM_SERVICESETTINGS_LISTENADDRESS": f"127.0.0.1:{port}",
               "MM_SERVICESETTINGS_LOCALMODESOCKETLOCATION": str(socket_path)}
        servers.append(MattermostProcess(install, env=env).start(port))
    yield [(install, socket_path, port) for install, port, socket_path in nodes]
    for server in servers:
        assert server.stop() == 0
