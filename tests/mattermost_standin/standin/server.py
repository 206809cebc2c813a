"""bin/mattermost of the stand-in: the parts of the Mattermost server the roles depend on.

See tests/mattermost_standin/README.md for what is imitated and what is not.
"""

import argparse
import contextlib
import email.parser
import email.policy
import json
import os
import re
import signal
import socket
import socketserver
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import common, metrics
from .common import LOG
from .store import (
    AppError,
    AppStore,
    LicenseError,
    applied_migrations,
    ensure_app_schema,
    is_valid_id,
    parse_license,
    schema_version,
)

DEFAULT_SOCKET = "/var/tmp/mattermost_local.socket"
# Present only in a release built to fail at start-up (build_release.py start_failure).
START_FAILURE_FILE = Path(__file__).resolve().parent / "START_FAILURE"


def _env_seconds(name, default):
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return float(default)


def _split_listen(address, default_port):
    """':8065' / '0.0.0.0:8065' / '[::]:8065' -> (host, port) for bind()."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port or default_port)


def _interface_addresses():
    """(interface, IPv4 address) of the interfaces that have one, loopback last."""
    import fcntl  # Linux only, used only when clustering
    import struct

    found = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _, name in socket.if_nameindex():
            try:
                packed = fcntl.ioctl(sock.fileno(), 0x8915, struct.pack("256s", name.encode()[:15]))  # SIOCGIFADDR
            except OSError:
                continue
            found.append((name, socket.inet_ntoa(packed[20:24])))
    return sorted(found, key=lambda item: item[1].startswith("127."))


def _advertised_address(cluster_settings):
    """Like model.GetServerIPAddress: OverrideHostname / AdvertiseAddress, else the first non-loopback IPv4."""
    if cluster_settings.get("OverrideHostname"):
        return cluster_settings["OverrideHostname"]
    if cluster_settings.get("AdvertiseAddress"):
        return cluster_settings["AdvertiseAddress"]
    if not cluster_settings.get("UseIPAddress", True):
        return socket.gethostname()
    wanted = cluster_settings.get("NetworkInterface") or ""
    for name, address in _interface_addresses():
        if (not wanted or name == wanted) and not address.startswith("127."):
            return address
    return "127.0.0.1"


# --------------------------------------------------------------------------- cluster

class Cluster:
    """Discovery through the ClusterDiscovery table plus a gossip listener on TCP and UDP."""

    TYPE = "mattermost_app"  # model.CDSTypeApp

    def __init__(self, app):
        self.app = app
        settings = app.config["ClusterSettings"]
        self.node_id = app.node_id
        self.name = settings.get("ClusterName", "")
        self.port = int(settings.get("GossipPort", 8074))
        self.bind = settings.get("BindAddress") or "0.0.0.0"
        self.hostname = _advertised_address(settings)
        self.interval = _env_seconds("MM_STANDIN_CLUSTER_PING_SECONDS", 5)
        self.stop_event = threading.Event()
        self.tcp = self.udp = None
        self.threads = []

    def hello(self):
        return json.dumps({"id": self.node_id, "version": common.version(), "hostname": self.hostname,
                           "config_hash": self.app.config_hash, "cluster_name": self.name}).encode()

    def start(self):
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((self.bind, self.port))
        self.tcp.listen(16)
        self.tcp.settimeout(0.5)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((self.bind, self.port))
        self.udp.settimeout(0.5)
        self._heartbeat()
        for target in (self._serve_tcp, self._serve_udp, self._heartbeat_loop):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self.threads.append(thread)
        LOG.info("Cluster gossip listening", address=f"{self.bind}:{self.port}", advertise=self.hostname,
                 cluster_name=self.name, node_id=self.node_id)

    def _serve_tcp(self):
        while not self.stop_event.is_set():
            try:
                conn, _ = self.tcp.accept()
            except (TimeoutError, OSError):
                continue
            with conn, contextlib.suppress(OSError):
                conn.sendall(self.hello() + b"\n")

    def _serve_udp(self):
        while not self.stop_event.is_set():
            try:
                _, peer = self.udp.recvfrom(2048)
            except (TimeoutError, OSError):
                continue
            with contextlib.suppress(OSError):
                self.udp.sendto(self.hello(), peer)

    def _heartbeat(self):
        now = common.now_ms()
        try:
            with self.app.store.transaction(timeout=3) as cur:
                cur.execute(
                    """INSERT INTO clusterdiscovery (id, type, clustername, hostname, gossipport, port,
                       createat, lastpingat) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
                       ON CONFLICT (id) DO UPDATE SET lastpingat = EXCLUDED.lastpingat""",
                    (self.node_id, self.TYPE, self.name, self.hostname, self.port, self.port, now, now),
                )
        except Exception as exc:  # a lost heartbeat is logged, the next one retries
            LOG.warn("Cluster discovery heartbeat failed", error=str(exc))

    def _heartbeat_loop(self):
        while not self.stop_event.wait(self.interval):
            self._heartbeat()

    def _probe(self, host, port):
        try:
            with socket.create_connection((host, port), timeout=1) as conn:
                conn.settimeout(1)
                data = conn.recv(4096)
            return json.loads(data.decode().strip() or "{}")
        except (OSError, ValueError):
            return None

    def peers(self):
        fresh_after = common.now_ms() - int(self.interval * 3 * 1000)
        with self.app.store.transaction(timeout=3) as cur:
            cur.execute(
                "SELECT id, hostname, gossipport FROM clusterdiscovery WHERE type = %s AND clustername = %s "
                "AND lastpingat >= %s AND id <> %s ORDER BY createat",
                (self.TYPE, self.name, fresh_after, self.node_id),
            )
            rows = cur.fetchall()
        peers = []
        for node_id, host, port in rows:
            hello = self._probe(host, port)
            if hello and hello.get("id") == node_id:
                peers.append({"id": node_id, "version": hello.get("version", ""), "schema_version": "",
                              "config_hash": hello.get("config_hash", ""), "ipaddress": f"{host}:{port}",
                              "hostname": hello.get("hostname", host)})
        return peers

    def status(self):
        me = {"id": self.node_id, "version": common.version(), "schema_version": "",
              "config_hash": self.app.config_hash, "ipaddress": f"{self.hostname}:{self.port}",
              "hostname": self.hostname}
        return [me, *self.peers()]

    def stop(self):
        self.stop_event.set()
        for sock in (self.tcp, self.udp):
            if sock:
                with contextlib.suppress(OSError):
                    sock.close()
        with contextlib.suppress(Exception), self.app.store.transaction(timeout=2) as cur:
            cur.execute("DELETE FROM clusterdiscovery WHERE id = %s", (self.node_id,))


# --------------------------------------------------------------------------- HTTP

def _json_response(handler, status, body, headers=None):
    data = json.dumps(body, separators=(",", ":")).encode()  # compact, as Go's encoding/json writes it
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.send_header("X-Version-Id", handler.server.app.version_id())
    handler.send_header("X-Request-Id", common.new_id())
    service = handler.server.app.config.get("ServiceSettings", {})
    if service.get("TLSStrictTransport"):  # web/handlers.go: on every API response
        handler.send_header("Strict-Transport-Security", f"max-age={service.get('TLSStrictTransportMaxAge', 63072000)}")
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(data)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mattermost-standin"

    def log_message(self, format, *args):
        pass

    def address_string(self):
        return "local" if self.server.local else self.client_address[0]

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self):
        app = self.server.app
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        body = self._body() if self.command in ("POST", "PUT") else b""
        started = time.monotonic()
        _ROUTED.handler = None
        try:
            status, payload, headers = app.route(self.command, url.path, query, body, self.headers,
                                                 local=self.server.local)
        except AppError as err:
            status, payload, headers = err.status, err.to_json(), {}
        except Exception as exc:  # reported like the real server's 500 AppError
            LOG.error("Request failed", path=url.path, error=str(exc))
            err = AppError("ServeHTTP", "app.internal.app_error", "Internal error.", 500, str(exc))
            status, payload, headers = 500, err.to_json(), {}
        app.metrics.observe_request(_ROUTED.handler, self.command, status, time.monotonic() - started)
        _json_response(self, status, payload, headers)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _dispatch  # http.server naming


# The route the request on this thread matched (its Go handler's name), for mattermost_api_time.
_ROUTED = threading.local()


class TCPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    local = False


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    local = True


class MetricsHandler(BaseHTTPRequestHandler):
    def log_message(self, format, *args):
        pass

    def do_GET(self):  # http.server naming
        if self.path.split("?")[0] != "/metrics":
            self.send_error(404)
            return
        data = self.server.app.metrics.text(self.server.app).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


# --------------------------------------------------------------------------- the app

class App:
    def __init__(self, config_location=None):
        self.node_id = common.new_id()
        self.started = time.time()
        self.config_store = common.ConfigStore(config_location)
        try:
            raw = self.config_store.load()
        except Exception as exc:  # any failure to load is fatal, like the real server
            common.fail("Failed to load configuration", source=self.config_store.describe(), error=str(exc))
        self.config, self.env_used = common.apply_env_overrides(raw)
        self.config_hash = common.hash_config(self.config)
        self.datasource = self.config["SqlSettings"]["DataSource"]
        self.store = AppStore(self.datasource)
        self.license = None
        self.cluster = None
        self.metrics_server = None
        self.servers = []
        self.socket_path = None
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.metrics = metrics.Metrics(self.started)

    # ------------------------------------------------------------------ start-up
    def connect_database(self):
        try:
            common.parse_datasource(self.datasource)
        except common.DataSourceError as exc:
            common.fail("Failed to parse DataSource", error=str(exc))
        sql = self.config["SqlSettings"]
        replicas = [*(sql.get("DataSourceReplicas") or []), *(sql.get("DataSourceSearchReplicas") or [])]
        for replica in replicas:
            try:
                common.parse_datasource(replica)
            except common.DataSourceError as exc:
                common.fail("Failed to parse DataSourceReplicas", error=str(exc))
        deadline = time.monotonic() + _env_seconds("MM_STANDIN_DB_RETRY_SECONDS", 10)
        while True:
            try:
                conn = common.connect(self.datasource, timeout=3)
                try:
                    recorded = ensure_app_schema(conn)
                    common.ensure_config_schema(conn)
                finally:
                    conn.close()
                LOG.info("Pinged the database", datasource=common.redact_dsn(self.datasource))
                if recorded is None:
                    LOG.warn("The stand-in has no list of the schema migrations of this version; "
                             "db_migrations is left as it is", version=common.version())
                break
            except Exception as exc:  # retried, then fatal
                if time.monotonic() >= deadline:
                    common.fail("Failed to ping DB", error=str(exc), datasource=common.redact_dsn(self.datasource))
                LOG.error("Failed to ping DB", error=str(exc), retrying_in_seconds=1)
                time.sleep(1)
        # Replicas: an unreachable one is left out (the replica monitor's job), not fatal.
        for replica in replicas:
            try:
                common.connect(replica, timeout=3).close()
                LOG.info("Connected to the read replica", datasource=common.redact_dsn(replica))
            except Exception as exc:  # a replica that does not answer is reported and skipped
                LOG.warn("Read replica is unreachable; leaving it out", datasource=common.redact_dsn(replica),
                         error=str(exc))

    def load_license(self):
        raw = None
        with contextlib.suppress(Exception):
            raw = self.store.active_license()
        location = self.config["ServiceSettings"].get("LicenseFileLocation") or ""
        if raw is None and location:
            path = Path(location) if Path(location).is_absolute() else common.INSTALL_DIR / location
            try:
                raw = path.read_text()
                self.store.save_license(parse_license(raw)["id"], raw)
            except (OSError, LicenseError) as exc:
                LOG.error("Failed to read license set in environment.", error=str(exc), path=str(path))
                raw = None
        if raw:
            try:
                self.license = parse_license(raw)
                LOG.info("License key valid", id=self.license["id"], features=self.license["features"])
            except LicenseError as exc:
                LOG.error("Invalid license", error=str(exc))

    def licensed(self, feature):
        return bool(self.license and self.license.get("features", {}).get(feature))

    def start_cluster(self):
        if not self.config["ClusterSettings"].get("Enable") or self.cluster:
            return
        if not self.licensed("cluster"):
            LOG.warn("Clustering can't be enabled without a valid license that supports it; "
                     "running as a standalone node", cluster_enabled=True)
            return
        cluster = Cluster(self)
        try:
            cluster.start()
        except OSError as exc:
            common.fail("Failed to start the cluster gossip listener", error=str(exc), port=cluster.port)
        self.cluster = cluster

    def start_http(self):
        service = self.config["ServiceSettings"]
        host, port = _split_listen(service.get("ListenAddress") or ":8065", 8065)
        try:
            server = TCPServer((host, port), Handler)
        except OSError as exc:
            common.fail("Error starting server", error=str(exc), address=f"{host}:{port}")
        server.app = self
        self.servers.append(server)
        threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True).start()
        LOG.info("Server is listening on " + (service.get("ListenAddress") or ":8065"),
                 address=f"{host}:{server.server_address[1]}")

        if service.get("EnableLocalMode"):
            path = service.get("LocalModeSocketLocation") or DEFAULT_SOCKET
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            old_umask = os.umask(0o177)
            try:
                local = UnixServer(path, Handler)
            finally:
                os.umask(old_umask)
            os.chmod(path, 0o600)
            local.app = self
            self.socket_path = path
            self.servers.append(local)
            threading.Thread(target=local.serve_forever, args=(0.1,), daemon=True).start()
            LOG.info("Starting unix socket server", socket=path)

        self.start_metrics()

    def start_metrics(self):
        settings = self.config.get("MetricsSettings", {})
        if not settings.get("Enable") or self.metrics_server:
            return
        if not self.licensed("metrics"):
            LOG.warn("Metrics are enabled but the license does not include them: /metrics is not served")
            return
        host, port = _split_listen(settings.get("ListenAddress") or ":8067", 8067)
        try:
            server = ThreadingHTTPServer((host, port), MetricsHandler)
        except OSError as exc:
            LOG.error("Metrics server failed to start", error=str(exc), address=f"{host}:{port}")
            return
        server.daemon_threads = True
        server.app = self
        self.metrics_server = server
        self.servers.append(server)
        threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True).start()
        LOG.info("Metrics and profiling server is started", address=f"{host}:{port}")

    def notify_systemd(self):
        target = os.environ.get("NOTIFY_SOCKET")
        if not target:
            return
        address = "\0" + target[1:] if target.startswith("@") else target
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(address)
                sock.sendall(b"READY=1")
        except OSError as exc:
            LOG.warn("Failed to notify systemd", error=str(exc))

    def run(self):
        LOG.open(self.config.get("LogSettings", {}).get("FileLocation") or None)
        LOG.info("Server is initializing...", go_version="n/a (stand-in)", version=common.version(),
                 config_store=self.config_store.describe(), env_overrides=sorted(self.env_used))
        if self.config_store.is_database and self.config["ClusterSettings"].get("ReadOnlyConfig"):
            LOG.info("ClusterSettings.ReadOnlyConfig is ignored with a database configuration store")
        self.connect_database()
        self.load_license()
        self.start_cluster()
        # A release built with start_failure (build_release.py): the server gets this far, as a
        # real one that fails late in start-up (a plugin, the HTTP listener), then exits 1 unready.
        if START_FAILURE_FILE.exists():
            common.fail("Failed to start server", error=START_FAILURE_FILE.read_text().strip())
        self.start_http()
        LOG.info("Server is started", version=common.version(), node_id=self.node_id)
        self.notify_systemd()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stop_event.set())
        while not self.stop_event.wait(0.1):
            pass
        self.shutdown()
        return 0

    def shutdown(self):
        LOG.info("Stopping Server...")
        for server in self.servers:
            server.shutdown()
            server.server_close()
        if self.cluster:
            self.cluster.stop()
        if self.socket_path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.socket_path)
        LOG.info("Server stopped")

    # ------------------------------------------------------------------ helpers
    def version_id(self):
        version = common.version()
        return f"{version}.{version}.{self.config_hash}.{'true' if self.license else 'false'}"

    def filestore_ok(self):
        files = self.config.get("FileSettings", {})
        if files.get("DriverName") == "amazons3":
            # The stand-in cannot reach S3: it checks the mandatory fields only (see README).
            return bool(files.get("AmazonS3Bucket")) and bool(files.get("AmazonS3Region") or
                                                              files.get("AmazonS3Endpoint"))
        directory = Path(files.get("Directory") or "./data/")
        if not directory.is_absolute():
            directory = Path.cwd() / directory
        try:
            directory.mkdir(parents=True, exist_ok=True)
            probe = directory / "testfile"
            probe.write_text("testingwrite")
            probe.unlink()
            return True
        except OSError:
            return False

    # ------------------------------------------------------------------ routes
    def route(self, method, path, query, body, headers, local):
        if not path.startswith("/api/v4/"):
            raise AppError("ServeHTTP", "api.context.404.app_error", "Sorry, we could not find the page.", 404)
        if method == "HEAD":  # gorilla/mux serves HEAD only where a route lists it; the ping is the one used
            method = "GET" if path == "/api/v4/system/ping" else method
        routes = LOCAL_ROUTES if local else TCP_ROUTES
        for pattern, allowed, handler, session_required in routes:
            match = pattern.fullmatch(path[len("/api/v4"):])
            if match and method in allowed:
                _ROUTED.handler = metrics.handler_name(handler.__name__, method)
                session = None
                if session_required:
                    session = self.session_from(headers)
                return handler(self, method, match, query, body, headers, session=session)
        if not local and self.session_from(headers, required=False) is None:
            # Every other API route of the real server wants a session first.
            raise AppError("ServeHTTP", "api.context.session_expired.app_error",
                           "Invalid or expired session, please login again.", 401)
        raise AppError("ServeHTTP", "api.context.404.app_error", "Sorry, we could not find the page.", 404,
                       f"{method} {path} is not served {'in local mode' if local else 'by the stand-in over TCP'}")

    def session_from(self, headers, required=True):
        """The session of `Authorization: Bearer <token>` (or `Token`, or the MMAUTHTOKEN cookie)."""
        auth = headers.get("Authorization") or ""
        token = ""
        if auth[:7].lower() == "bearer ":
            token = auth[7:].strip()
        elif auth[:6].lower() == "token ":
            token = auth[6:].strip()
        if not token:
            for part in (headers.get("Cookie") or "").split(";"):
                name, _, value = part.strip().partition("=")
                if name == "MMAUTHTOKEN":
                    token = value
        session = self.store.get_session(token) if token else None
        if session is None and required:
            raise AppError("ServeHTTP", "api.context.session_expired.app_error",
                           "Invalid or expired session, please login again.", 401)
        return session

    def r_ping(self, method, match, query, body, headers, session=None):
        return self.ping(query)

    def ping(self, query):
        body = {"status": "OK", "AndroidLatestVersion": "", "AndroidMinVersion": "", "IosLatestVersion": "",
                "IosMinVersion": "", "ActiveSearchBackend": "database"}
        headers = {}
        if query.get("get_server_status", [""])[0] == "true":
            body["database_status"] = "OK"
            try:
                self.store.health_check(self.node_id)
            except Exception as exc:  # reported as UNHEALTHY, like the real server
                LOG.warn("Unable to write to database.", error=str(exc))
                body["database_status"] = "UNHEALTHY"
                body["status"] = "UNHEALTHY"
            body["filestore_status"] = "OK"
            if not self.filestore_ok():
                LOG.warn("Unable to test filestore connection.")
                body["filestore_status"] = "UNHEALTHY"
                body["status"] = "UNHEALTHY"
            headers = {"status": body["status"], "database_status": body["database_status"],
                       "filestore_status": body["filestore_status"]}
        status = 200
        if body["status"] != "OK" and query.get("use_rest_semantics", [""])[0] != "true":
            status = 500
        return status, body, headers

    def _json(self, body):
        try:
            return json.loads(body or b"{}")
        except ValueError as exc:
            raise AppError("ServeHTTP", "api.context.invalid_body_param.app_error", "Invalid or missing body.",
                           400, str(exc)) from exc

    def r_config_migrate(self, method, match, query, body, headers, session=None):
        data = self._json(body)
        source, target = data.get("from", ""), data.get("to", "")
        if not source or not target:
            raise AppError("MigrateConfig", "api.context.invalid_body_param.app_error",
                           "Invalid or missing from/to in request body.", 400)
        try:
            migrate_config(source, target)
        except Exception as exc:  # returned as the real API's 500
            LOG.error("Failed to migrate config", error=str(exc))
            raise AppError("MigrateConfig", "api.config.migrate_config.app_error",
                           "Failed to migrate config store.", 500, str(exc)) from exc
        LOG.info("Migrated the configuration", source=common.redact_dsn(source), target=common.redact_dsn(target))
        return 200, {"status": "OK"}, {}

    def r_users(self, method, match, query, body, headers, session=None):
        if method == "POST":
            min_len = int(self.config.get("PasswordSettings", {}).get("MinimumLength", 8))
            return 201, self.store.create_user(self._json(body), min_len), {}
        in_team = query.get("in_team", [None])[0]
        page = int(query.get("page", ["0"])[0])
        per_page = int(query.get("per_page", ["60"])[0])
        return 200, self.store.list_users(page, per_page, in_team), {}

    def r_user_by_username(self, method, match, query, body, headers, session=None):
        return 200, self.store.get_user(urllib.parse.unquote(match.group(1)), by="username"), {}

    def r_user_by_email(self, method, match, query, body, headers, session=None):
        return 200, self.store.get_user(urllib.parse.unquote(match.group(1)), by="email"), {}

    def r_user(self, method, match, query, body, headers, session=None):
        return 200, self.store.get_user(match.group(1)), {}

    def r_user_roles(self, method, match, query, body, headers, session=None):
        self.store.update_user_roles(match.group(1), self._json(body).get("roles", "system_user"))
        return 200, {"status": "OK"}, {}

    def r_teams(self, method, match, query, body, headers, session=None):
        if method == "POST":
            defaults = self.config.get("TeamSettings", {}).get("ExperimentalDefaultChannels") or []
            return 201, self.store.create_team(self._json(body), defaults), {}
        return 200, self.store.list_teams(), {}

    def r_team_search(self, method, match, query, body, headers, session=None):
        return 200, self.store.search_teams(self._json(body).get("term", "")), {}

    def r_team_by_name(self, method, match, query, body, headers, session=None):
        return 200, self.store.get_team(urllib.parse.unquote(match.group(1)), by="name"), {}

    def r_team(self, method, match, query, body, headers, session=None):
        return 200, self.store.get_team(match.group(1)), {}

    def r_team_members(self, method, match, query, body, headers, session=None):
        team_id = match.group(1)
        data = self._json(body)
        return 201, self.store.add_member(team_id, data.get("user_id", "")), {}

    # ------------------------------------------------------------------ channels and posts (local mode)
    @staticmethod
    def _invalid_url_param(name):
        return AppError("Context", "api.context.invalid_url_param.app_error",
                        f"Invalid or missing {name} parameter in request URL.", 400)

    @staticmethod
    def _invalid_body_param(name, detail=""):
        return AppError("Context", "api.context.invalid_body_param.app_error",
                        f"Invalid or missing {name} in request body.", 400, detail)

    def r_channel_by_name(self, method, match, query, body, headers, session=None):
        """getChannelByName (api4/channel.go); the local session passes every permission check."""
        name = urllib.parse.unquote(match.group(2))
        if not _valid_channel_identifier(name):
            raise self._invalid_url_param("channel_name")
        include_deleted = query.get("include_deleted", ["false"])[0].lower() in ("1", "t", "true")
        return 200, self.store.get_channel_by_name(match.group(1), name, include_deleted), {}

    def r_create_post(self, method, match, query, body, headers, session=None):
        """localCreatePost (api4/post_local.go): the author is the body's user_id, which must exist."""
        try:
            data = json.loads(body or b"null")
        except ValueError as exc:
            raise self._invalid_body_param("post", str(exc)) from exc
        data = {} if data is None else data
        if not isinstance(data, dict) or not _decodes_as_post(data):
            raise self._invalid_body_param("post", "the body does not decode as a model.Post")
        user_id = data.get("user_id") or ""
        if not is_valid_id(user_id):
            raise self._invalid_body_param("user_id")
        self.store.get_user(user_id)
        # CreatePostAsUser: the channel must exist, the type must not be a system one.
        try:
            self.store.get_channel(data.get("channel_id") or "", where="CreatePostAsUser")
        except AppError as err:
            raise AppError("CreatePostAsUser", "api.context.invalid_param.app_error",
                           "Invalid post.channel_id parameter.", 400, err.message) from err
        if (data.get("type") or "").startswith("system_"):
            raise AppError("CreatePostAsUser", "api.context.invalid_param.app_error", "Invalid post.type parameter.",
                           400)
        post = self.store.create_post(data)
        post["pending_post_id"] = data.get("pending_post_id") or ""  # echoed, not stored
        LOG.info("Post created", post_id=post["id"], channel_id=post["channel_id"], user_id=post["user_id"])
        return 201, post, {}

    def r_post(self, method, match, query, body, headers, session=None):
        """getPost (api4/post.go)."""
        post_id = match.group(1)
        if not is_valid_id(post_id):
            raise self._invalid_url_param("post_id")
        return 200, self.store.get_post(post_id), {}

    def r_channel_posts(self, method, match, query, body, headers, session=None):
        """getPostsForChannel (api4/post.go), the plain page form only (README)."""
        channel_id = match.group(1)
        if any(key in query for key in ("since", "before", "after")):
            raise AppError("ServeHTTP", "api.context.404.app_error", "Sorry, we could not find the page.", 404,
                           "GET /channels/{channel_id}/posts with since, before or after is not imitated")
        if not is_valid_id(channel_id):
            raise self._invalid_url_param("channel_id")
        self.store.get_channel(channel_id)
        page, per_page = _page_params(query)
        return 200, self.store.channel_posts(channel_id, page, per_page), {}

    def r_license(self, method, match, query, body, headers, session=None):
        raw = body
        content_type = headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                f"Content-Type: {content_type}\r\n\r\n".encode() + body)
            raw = b""
            for part in message.iter_parts():
                if part.get_param("name", header="content-disposition") == "license":
                    raw = part.get_payload(decode=True) or b""
        try:
            lic = parse_license(raw)
        except LicenseError as exc:
            raise AppError("addLicense", "api.license.add_license.invalid.app_error", "Invalid license file.",
                           400, str(exc)) from exc
        self.store.save_license(lic["id"], raw.decode() if isinstance(raw, bytes) else raw)
        self.license = lic
        LOG.info("License uploaded", id=lic["id"])
        self.start_cluster()
        self.start_metrics()
        return 200, lic, {}

    # ------------------------------------------------------------------ config (local mode)
    def _save_config(self, new):
        """Store.Set, then the config listeners: saved without MM_* overrides, applied on this node."""
        stored = self.config_store.load(persist=False)
        new = common.desanitize(new, stored)
        for name in self.env_used:  # a value that came from MM_* is not persisted
            parts = name[3:].split("_")
            section = next((k for k in new if k.upper() == parts[0]), None)
            key = next((k for k in (new.get(section) or {}) if k.upper() == "_".join(parts[1:])), None)
            if section and key and new[section][key] == self.config[section][key]:
                new[section][key] = stored.get(section, {}).get(key)
        invalid = self._validate(new)
        if invalid:
            raise AppError("UpdateConfig", invalid[0], invalid[1], 400)
        if not self.config_store.is_database and self._read_only(new):
            # Only the file store refuses; the database store has no such check.
            raise AppError("saveConfig", "ent.cluster.save_config.error", "Cluster configuration has changed.", 403)
        if self.config_store.save(new):
            LOG.info("Saved the configuration", store=self.config_store.describe())
        self.reload_config()
        return 200, common.sanitize(self.config), {}

    @staticmethod
    def _validate(config):
        cluster = config.get("ClusterSettings") or {}
        if cluster.get("Enable") and not cluster.get("ClusterName"):
            return "model.config.is_valid.cluster_name.app_error", "ClusterName is required when clustering."
        if not isinstance((config.get("SqlSettings") or {}).get("DataSourceReplicas") or [], list):
            return "model.config.is_valid.sql_data_src.app_error", "Invalid data source replicas."
        return None

    @staticmethod
    def _read_only(config):
        cluster = config.get("ClusterSettings") or {}
        return bool(cluster.get("Enable") and cluster.get("ReadOnlyConfig"))

    def reload_config(self):
        """What a config change or reload changes in the stand-in: the in-memory config and its hash.

        Listeners, the database pool, local mode and clustering keep what they started with, like
        the settings the real server reads only at start (see the README).
        """
        raw = self.config_store.load(persist=False)
        self.config, self.env_used = common.apply_env_overrides(raw)
        self.config_hash = common.hash_config(self.config)

    def r_config(self, method, match, query, body, headers, session=None):
        if method == "PUT":
            return self._save_config(self._json(body))
        return 200, self.config, {}

    def r_config_patch(self, method, match, query, body, headers, session=None):
        patch = self._json(body)
        if not isinstance(patch, dict):
            raise AppError("PatchConfig", "api.context.invalid_body_param.app_error", "Invalid or missing config.",
                           400)
        return self._save_config(_deep_merge(json.loads(json.dumps(self.config)), patch))

    def r_config_reload(self, method, match, query, body, headers, session=None):
        self.reload_config()
        LOG.info("Reloaded the configuration", store=self.config_store.describe())
        return 200, {"status": "OK"}, {}

    # ------------------------------------------------------------------ users, and the session API over TCP
    def r_login(self, method, match, query, body, headers, session=None):
        data = self._json(body)
        user, token = self.store.login(data.get("login_id") or "", data.get("password") or "")
        return 200, user, {"Token": token}

    def r_user_password(self, method, match, query, body, headers, session=None):
        data = self._json(body)
        min_len = int(self.config.get("PasswordSettings", {}).get("MinimumLength", 8))
        self.store.set_password(match.group(1), data.get("new_password") or "", min_len)
        return 200, {"status": "OK"}, {}

    def r_cluster_status(self, method, match, query, body, headers, session=None):
        # sysconsole_read_environment_high_availability, "and not restricted admin" (api4/cluster.go)
        restricted = self.config.get("ExperimentalSettings", {}).get("RestrictSystemAdmin")
        if "system_admin" not in session["roles"].split() or restricted:
            raise AppError("getClusterStatus", "api.context.permissions.app_error",
                           "You do not have the appropriate permissions.", 403)
        return 200, self.cluster.status() if self.cluster else [], {}


def _deep_merge(base, patch):
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict) and base[key]:
            _deep_merge(base[key], value)
        else:
            base[key] = value
    return base


# model.IsValidChannelIdentifier: 1 to 64 characters of IsValidAlphaNumHyphenUnderscore (lower case).
_CHANNEL_IDENTIFIER = re.compile(r"^[a-z0-9]+([a-z\-_0-9]+|(__)?)[a-z0-9]*$")

# Go types of the model.Post fields a client sends; a body where one has another type does not decode.
_POST_FIELD_TYPES = {"id": str, "user_id": str, "channel_id": str, "root_id": str, "original_id": str,
                     "message": str, "type": str, "hashtags": str, "pending_post_id": str, "props": dict,
                     "file_ids": list, "create_at": int, "update_at": int, "edit_at": int, "delete_at": int,
                     "is_pinned": bool, "has_reactions": bool}


def _valid_channel_identifier(name):
    return 1 <= len(name) <= 64 and bool(_CHANNEL_IDENTIFIER.match(name))


def _decodes_as_post(data):
    for key, kind in _POST_FIELD_TYPES.items():
        value = data.get(key)
        if value is None:
            continue
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            return False
        if kind is not int and not isinstance(value, kind):
            return False
    return all(isinstance(f, str) for f in data.get("file_ids") or [])


def _page_params(query):
    """web/params.go: page (default 0) and per_page (default 60, at most 200); bad values take the default."""
    def number(name, default):
        try:
            value = int(query.get(name, [""])[0])
        except ValueError:
            return default
        return default if value < 0 else value
    return number("page", 0), min(number("per_page", 60), 200)


# Path variables as the real routes (api4/api.go) match them; user_id and team_id stay 26 characters
# (an id of another shape answers 404 where the real server's Require* answers 400, see the README).
_VARIABLE_PATTERNS = {"user_id": "[a-z0-9]{26}", "team_id": "[a-z0-9]{26}", "post_id": "[A-Za-z0-9]+",
                      "channel_id": "[A-Za-z0-9]+", "channel_name": "[A-Za-z0-9_-]+"}


def _compile(template):
    """An upstream route template (/users/{user_id}/roles) as a regex for the path after /api/v4."""
    pattern = re.sub(r"\{(\w+)\}", lambda m: "(" + _VARIABLE_PATTERNS.get(m.group(1), "[^/]+") + ")", template)
    return re.compile(pattern)


# (template as upstream writes it, methods, handler). Only routes the real local mode registers
# (api4/*_local.go); tests/integration/standin/test_standin_local_routes.py checks them against
# section 1 of tests/mattermost_standin/reference/mattermost-local-api.md (its table and its list of
# other local routes, where the post routes are).
LOCAL_ROUTE_TEMPLATES = [
    ("/system/ping", ("GET",), App.r_ping),
    ("/config", ("GET", "PUT"), App.r_config),
    ("/config/patch", ("PUT",), App.r_config_patch),
    ("/config/reload", ("POST",), App.r_config_reload),
    ("/config/migrate", ("POST",), App.r_config_migrate),
    ("/users", ("GET", "POST"), App.r_users),
    ("/users/username/{username}", ("GET",), App.r_user_by_username),
    ("/users/email/{email}", ("GET",), App.r_user_by_email),
    ("/users/{user_id}", ("GET",), App.r_user),
    ("/users/{user_id}/roles", ("PUT",), App.r_user_roles),
    ("/users/{user_id}/password", ("PUT",), App.r_user_password),
    ("/teams", ("GET", "POST"), App.r_teams),
    ("/teams/search", ("POST",), App.r_team_search),
    ("/teams/name/{team_name}", ("GET",), App.r_team_by_name),
    ("/teams/{team_id}", ("GET",), App.r_team),
    ("/teams/{team_id}/members", ("POST",), App.r_team_members),
    ("/teams/{team_id}/channels/name/{channel_name}", ("GET",), App.r_channel_by_name),
    ("/posts", ("POST",), App.r_create_post),
    ("/posts/{post_id}", ("GET",), App.r_post),
    ("/channels/{channel_id}/posts", ("GET",), App.r_channel_posts),
    ("/license", ("POST",), App.r_license),
]
LOCAL_ROUTES = [(_compile(t), methods, handler, False) for t, methods, handler in LOCAL_ROUTE_TEMPLATES]

# Over TCP: the ping without authentication, the login, and the session-protected routes used.
TCP_ROUTE_TEMPLATES = [
    ("/system/ping", ("GET",), App.r_ping, False),
    ("/users/login", ("POST",), App.r_login, False),
    ("/cluster/status", ("GET",), App.r_cluster_status, True),
]
TCP_ROUTES = [(_compile(t), methods, handler, session) for t, methods, handler, session in TCP_ROUTE_TEMPLATES]

# --------------------------------------------------------------------------- config migrate

def migrate_config(source, target):
    """Copy the config (env overrides of this process folded in) and its referenced files to the target store."""
    source_store = common.ConfigStore(source)
    config = source_store.load(persist=False)
    config, _ = common.apply_env_overrides(config)
    files = {}
    base = source_store.path.parent if source_store.path else common.INSTALL_DIR / "config"
    for section, key in common.CONFIG_FILE_KEYS:
        name = config.get(section, {}).get(key)
        if isinstance(name, str) and name and not name.lstrip().startswith(("{", "[")):
            path = Path(name) if Path(name).is_absolute() else base / name
            if path.is_file():
                files[name] = path.read_text()
    for name in config.get("PluginSettings", {}).get("SignaturePublicKeyFiles") or []:
        path = Path(name) if Path(name).is_absolute() else base / name
        if path.is_file():
            files[name] = path.read_text()
    if common.is_dsn(target):
        conn = common.connect(target)
        try:
            common.ensure_config_schema(conn)
            common.write_db_config(conn, config)
            for name, data in files.items():
                common.write_db_config_file(conn, name, data)
        finally:
            conn.close()
    else:
        path = common.resolve_config_file(target)
        common.write_config_file(path, config)
        for name, data in files.items():
            (path.parent / name).write_text(data)


# --------------------------------------------------------------------------- CLI

def main(argv=None):
    parser = argparse.ArgumentParser(prog="mattermost", description="Mattermost server (test stand-in)")
    parser.add_argument("-c", "--config", help="configuration file or DSN (overrides MM_CONFIG)")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("server", help="run the server (default)")
    sub.add_parser("version", help="print the version")
    db = sub.add_parser("db", help="database commands")
    db.add_argument("action", choices=["migrate", "version"])
    db.add_argument("--all", action="store_true", help="db version: every applied migration")
    args = parser.parse_args(argv)

    if args.command == "version":
        version = common.version()
        print(f"Version: {version}\nBuild Number: {version}\nBuild Date: n/a\nBuild Hash: standin\n"
              "Build Enterprise Ready: true")
        return 0
    if args.command == "db":
        return _db_command(args)
    return App(args.config).run()


def _db_command(args):
    """mattermost db migrate | version [--all] (cmd/mattermost/commands/db.go).

    Both open the store first, which applies (here: records) the migrations, as sqlstore.New does.
    """
    app = App(args.config)
    app.connect_database()
    if args.action == "migrate":
        print("Database successfully migrated")
        return 0
    conn = common.connect(app.datasource, timeout=5)
    try:
        if args.all:
            for version, name in applied_migrations(conn):
                print(f"Varsion: {version}, Name: {name}")  # sic, as db.go prints it
            return 0
        version = schema_version(conn)
    finally:
        conn.close()
    if version is None:
        print("Error: failed to get schema version: unable to select from db_migrations: "
              "sql: no rows in result set", file=sys.stderr)
        return 1
    print(f"Current database schema version is: {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
