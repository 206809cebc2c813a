"""Helpers to install, run and serve the Mattermost stand-in from tests.

- ``serve_directory(path, host="127.0.0.1")``: serve release files over HTTP (context manager).
- ``install_release(release, dest)``: unpack a built tarball; returns ``dest/mattermost``.
- ``MattermostProcess``: run ``bin/mattermost`` of an unpacked release on free ports.
- ``mmctl(install_dir, *args, socket=...)``: run ``bin/mmctl``.
- ``configure(install_dir, tmp_path, datasource, **sections)``: free ports, private socket, DataSource.
- ``pg_dsn(host, port, user, password, dbname)``: a DataSource with user and password percent-encoded.
- ``api(target, method, path, body=None, token=None)``: one API request to a local-mode socket
  (a path) or a TCP port (an int); returns (status, JSON body or None, headers).
"""

import contextlib
import functools
import http.client
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_port_both():
    """A port free for TCP and UDP (gossip uses both)."""
    for _ in range(50):
        port = free_port()
        with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("0.0.0.0", port))
            return port
    raise RuntimeError("no port free for TCP and UDP")


def pg_dsn(host, port, user, password, dbname, sslmode="require", extra="connect_timeout=10"):
    quote = functools.partial(urllib.parse.quote, safe="")
    query = f"sslmode={sslmode}" + (f"&{extra}" if extra else "")
    return f"postgres://{quote(user)}:{quote(password)}@{host}:{port}/{quote(dbname)}?{query}"


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.socket_path = str(path)

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def api(target, method, path, body=None, token=None):
    conn = (http.client.HTTPConnection("127.0.0.1", target, timeout=10) if isinstance(target, int)
            else _UnixConnection(target))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, "/api/v4" + path, body=data, headers=headers)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    return response.status, json.loads(raw) if raw else None, dict(response.getheaders())


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def serve_directory(directory, host="127.0.0.1", port=0):
    """Serve directory over HTTP in a thread; yields the base URL (http://host:port)."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer((host, port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        shown = "127.0.0.1" if host in ("", "0.0.0.0") else host
        yield f"http://{shown}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def install_release(release, dest):
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(release.tarball) as tar:
        tar.extractall(dest, filter="tar")
    return dest / "mattermost"


def read_config(install_dir):
    return json.loads((Path(install_dir) / "config" / "config.json").read_text())


def write_config(install_dir, config):
    (Path(install_dir) / "config" / "config.json").write_text(json.dumps(config, indent=4))


def http_get(url, timeout=5):
    """(status, parsed JSON or text, headers) without raising on HTTP errors."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            status, body, headers = resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as err:
        status, body, headers = err.code, err.read(), err.headers
    try:
        return status, json.loads(body), headers
    except ValueError:
        try:
            return status, body.decode(), headers
        except UnicodeDecodeError:
            return status, body, headers


def mmctl(install_dir, *args, socket_path=None, env=None, check=False):
    environment = dict(os.environ, **(env or {}))
    if socket_path:
        environment["MMCTL_LOCAL_SOCKET_PATH"] = str(socket_path)
    return subprocess.run([sys.executable, str(Path(install_dir) / "bin" / "mmctl"), *args],
                          capture_output=True, text=True, env=environment, check=check, timeout=60)


class MattermostProcess:
    """bin/mattermost of an unpacked release, run with the venv's Python (it has psycopg2)."""

    def __init__(self, install_dir, env=None):
        self.install_dir = Path(install_dir)
        self.env = {**os.environ, "MM_STANDIN_DB_RETRY_SECONDS": "3", **(env or {})}
        self.proc = None
        self.port = None

    @property
    def log_path(self):
        return self.install_dir / "logs" / "mattermost.log"

    def start(self, port, wait=True, timeout=30):
        self.port = port
        self.stdout_path = self.install_dir / "stdout.log"
        with open(self.stdout_path, "a") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(self.install_dir / "bin" / "mattermost")], cwd=self.install_dir,
                env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mattermost exited with {self.proc.returncode}:\n{self.output()}")
            with contextlib.suppress(OSError):
                status, _, _ = http_get(self.url("/api/v4/system/ping"), timeout=2)
                if status == 200:
                    return
            time.sleep(0.1)
        raise TimeoutError("mattermost did not answer the ping")

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def ping(self, deep=False):
        return http_get(self.url("/api/v4/system/ping" + ("?get_server_status=true" if deep else "")))

    def output(self):
        return self.stdout_path.read_text() if self.stdout_path.exists() else ""

    def wait_exit(self, timeout=30):
        self.proc.wait(timeout=timeout)
        return self.proc.returncode, self.output()

    def stop(self, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def log_lines(self):
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.strip()]


def configure(install_dir, tmp_path, datasource, **sections):
    """Point the installed config.json at free ports, a private socket and the given DataSource."""
    config = read_config(install_dir)
    port = free_port()
    socket_path = tmp_path / f"mm-{uuid.uuid4().hex[:8]}.socket"
    config["ServiceSettings"]["ListenAddress"] = f"127.0.0.1:{port}"
    config["ServiceSettings"]["EnableLocalMode"] = True
    config["ServiceSettings"]["LocalModeSocketLocation"] = str(socket_path)
    config["SqlSettings"]["DataSource"] = datasource
    config["FileSettings"]["Directory"] = str(tmp_path / "data") + "/"
    for section, values in sections.items():
        config.setdefault(section, {}).update(values)
    write_config(install_dir, config)
    return port, socket_path
