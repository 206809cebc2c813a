"""The Mattermost stand-in against real PostgreSQL: the behaviour the node roles rely on."""

import json
import os
import socket
import stat
import subprocess
import sys
import tarfile
import time

import pytest
from mattermost_standin.build_release import build_release, write_test_license
from mattermost_standin.fixtures import (
    MattermostProcess,
    api,
    configure,
    free_port,
    free_port_both,
    http_get,
    install_release,
    mmctl,
    read_config,
    serve_directory,
    write_config,
)

# --------------------------------------------------------------------------- the release


def test_release_layout_checksum_and_signature(release, tmp_path):
    with tarfile.open(release.tarball) as tar:
        members = {m.name: m for m in tar.getmembers()}
    for name in ("mattermost/bin/mattermost", "mattermost/bin/mmctl", "mattermost/config/config.json",
                 "mattermost/client", "mattermost/logs", "mattermost/plugins"):
        assert name in members, name
    assert members["mattermost/bin/mattermost"].mode & 0o111
    assert stat.S_IMODE(members["mattermost/config/config.json"].mode) == 0o600
    assert release.tarball.name == "mattermost-11.7.9-linux-amd64.tar.gz"

    # The role's path: download over HTTP, check the sum, verify the signature with the public key.
    with serve_directory(release.tarball.parent) as url:
        for path in (release.tarball, release.sha256, release.signature, release.public_key):
            status, body, _ = http_get(f"{url}/{path.name}")
            assert status == 200
            assert (body if isinstance(body, bytes) else body.encode()) == path.read_bytes()
    check = subprocess.run(["sha256sum", "-c", release.sha256.name], cwd=release.tarball.parent,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr

    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    gpg = ["gpg", "--homedir", str(home), "--batch"]
    subprocess.run([*gpg, "--import", str(release.public_key)], check=True, capture_output=True)
    good = subprocess.run([*gpg, "--verify", str(release.signature), str(release.tarball)], capture_output=True)
    assert good.returncode == 0, good.stderr

    tampered = tmp_path / release.tarball.name
    tampered.write_bytes(release.tarball.read_bytes() + b"\0")
    bad = subprocess.run([*gpg, "--verify", str(release.signature), str(tampered)], capture_output=True)
    assert bad.returncode != 0
    assert b"BAD signature" in bad.stderr


@pytest.mark.parametrize(("version", "config_version"), [("9.5.8", "9.5"), ("10.6.3", "10.6"),
                                                         ("10.11.8", "10.11.8"), ("11.7.9", "10.11.8")])
def test_release_packages_the_versions_real_config(tmp_path, version, config_version):
    release = build_release(version, tmp_path / "out")
    assert release.config_version == config_version
    install = install_release(release, tmp_path / "node")
    cluster = read_config(install)["ClusterSettings"]
    if version.startswith("9."):
        assert cluster["MaxIdleConns"] == 100
        assert "EnableExperimentalGossipEncryption" in cluster
        assert "EnableGossipEncryption" not in cluster
    else:
        assert "MaxIdleConns" not in cluster
    if config_version == "10.11.8":
        assert cluster["EnableGossipEncryption"] is True
    out = subprocess.run([sys.executable, str(install / "bin" / "mattermost"), "version"], capture_output=True,
                         text=True, check=True).stdout
    assert f"Version: {version}\n" in out


# --------------------------------------------------------------------------- start-up and ping


def test_percent_encoded_password_connects_and_ping_reports_version(installed, tmp_path, database, postgres_pair):
    replica = database.dsn(host=postgres_pair.replica.host, port=postgres_pair.replica.port)
    port, socket_path = configure(installed, tmp_path, database.dsn(),
                                  SqlSettings={"DataSourceReplicas": [replica, database.dsn(port=free_port())]})
    server = MattermostProcess(installed).start(port)
    try:
        status, body, headers = server.ping()
        assert status == 200
        assert body["status"] == "OK"
        assert body["ActiveSearchBackend"] == "database"
        assert "database_status" not in body
        assert headers["X-Version-Id"].startswith("11.7.9.")
        assert mmctl(installed, "--local", "system", "version", socket_path=socket_path).stdout.startswith(
            "Server version 11.7.9.")
        status, body, _ = server.ping(deep=True)
        assert (status, body["database_status"], body["filestore_status"]) == (200, "OK", "OK")
        messages = [line["msg"] for line in server.log_lines()]
        assert messages.count("Connected to the read replica") == 1
        assert messages.count("Read replica is unreachable; leaving it out") == 1
        tables = {r[0] for r in database.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert {"configurations", "configurationfiles", "db_config_migrations", "users", "teams"} <= tables
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize("where", ["DataSource", "DataSourceReplicas"])
def test_unencoded_password_fails_to_start(installed, tmp_path, database, where):
    raw = (f"postgres://{database.user}:{database.password}@{database.server.host}:{database.server.port}/"
           f"{database.name}?sslmode=require")
    if where == "DataSource":
        port, _ = configure(installed, tmp_path, raw)
    else:
        port, _ = configure(installed, tmp_path, database.dsn(), SqlSettings={"DataSourceReplicas": [raw]})
    server = MattermostProcess(installed).start(port, wait=False)
    code, out = server.wait_exit()
    assert code == 1
    assert f"Failed to parse {where}" in out


def test_unreachable_database_fails_start_up(installed, tmp_path, database):
    dead = database.dsn(port=free_port())
    port, _ = configure(installed, tmp_path, dead)
    server = MattermostProcess(installed, env={"MM_STANDIN_DB_RETRY_SECONDS": "1"}).start(port, wait=False)
    code, out = server.wait_exit()
    assert code == 1
    assert "Failed to ping DB" in out
    assert any(line["msg"] == "Failed to ping DB" and line["level"] == "error" for line in server.log_lines())


def test_verify_full_needs_the_ca_that_signed_the_server_and_its_host_name(installed, tmp_path, database,
                                                                             postgres_pair):
    """sslmode=verify-full with sslrootcert, as the roles write the DSN (lib/pq checks both, as libpq does)."""
    server_ca = tmp_path / "server-ca.pem"  # the harness's certificate is self-signed for CN=localhost
    server_ca.write_bytes((postgres_pair.primary.datadir / "server.crt").read_bytes())
    other_ca = tmp_path / "other-ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", str(tmp_path / "other-ca.key"), "-out", str(other_ca)], check=True, capture_output=True)

    port, _ = configure(installed, tmp_path, database.dsn(host="localhost", sslmode="verify-full",
                                                          extra=f"sslrootcert={server_ca}&connect_timeout=10"))
    server = MattermostProcess(installed).start(port)
    try:
        assert server.ping()[0] == 200
    finally:
        assert server.stop() == 0

    refused = [("localhost", other_ca, "certificate verify failed"),
               ("127.0.0.1", server_ca, "does not match host name")]
    for host, ca, reason in refused:
        port, _ = configure(installed, tmp_path, database.dsn(host=host, sslmode="verify-full",
                                                              extra=f"sslrootcert={ca}&connect_timeout=10"))
        server = MattermostProcess(installed, env={"MM_STANDIN_DB_RETRY_SECONDS": "1"}).start(port, wait=False)
        code, out = server.wait_exit()
        assert code == 1, out
        assert "Failed to ping DB" in out and reason in out, out


def test_deep_ping_fails_while_database_is_down_and_recovers(installed, tmp_path, database, db_proxy):
    port, socket_path = configure(installed, tmp_path, database.dsn(port=db_proxy.port))
    server = MattermostProcess(installed).start(port)
    try:
        assert server.ping(deep=True)[0] == 200
        db_proxy.cut()
        status, body, headers = server.ping(deep=True)
        assert status == 500
        assert (body["status"], body["database_status"]) == ("UNHEALTHY", "UNHEALTHY")
        assert headers["database_status"] == "UNHEALTHY"
        # Like the real server, the plain ping (the load balancer's) does not touch the database.
        assert server.ping()[0] == 200
        status_cmd = mmctl(installed, "--local", "system", "status", socket_path=socket_path)
        assert status_cmd.returncode == 1
        assert "Database Status: UNHEALTHY" in status_cmd.stdout
        db_proxy.restore()
        status, body, _ = server.ping(deep=True)
        assert (status, body["database_status"]) == (200, "OK")
        status_cmd = mmctl(installed, "--local", "system", "status", socket_path=socket_path)
        assert status_cmd.returncode == 0, status_cmd.stderr
        assert "Server status: OK\n" in status_cmd.stdout
    finally:
        assert server.stop() == 0


def test_env_overrides_listen_address_and_datasource(installed, tmp_path, database):
    configure(installed, tmp_path, database.dsn().replace("mmuser_", "nobody_"))
    port = free_port()
    env = {"MM_SERVICESETTINGS_LISTENADDRESS": f"127.0.0.1:{port}", "MM_SQLSETTINGS_DATASOURCE": database.dsn()}
    server = MattermostProcess(installed, env=env).start(port)
    try:
        assert server.ping(deep=True)[0] == 200
    finally:
        assert server.stop() == 0


def test_local_socket_is_0600_sigterm_exits_cleanly_and_systemd_is_notified(installed, tmp_path, database):
    port, socket_path = configure(installed, tmp_path, database.dsn())
    notify_path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(str(notify_path))
        notify.settimeout(20)
        server = MattermostProcess(installed, env={"NOTIFY_SOCKET": str(notify_path)}).start(port)
        assert notify.recv(64) == b"READY=1"
    info = os.stat(socket_path)
    assert stat.S_ISSOCK(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == os.getuid()
    assert server.stop() == 0
    assert not socket_path.exists()
    assert server.log_lines()[-1]["msg"] == "Server stopped"


# --------------------------------------------------------------------------- mmctl


def test_mmctl_refuses_without_local(installed, tmp_path, database):
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "XDG_CONFIG_HOME": ""}
    result = mmctl(installed, "config", "migrate", "/opt/mattermost/config/config.json", database.dsn(), env=env)
    assert result.returncode == 1
    assert "cannot read user credentials, maybe you need to use login first" in result.stderr
    # With saved credentials, mmctl reaches the command's own check.
    (home / ".config" / "mmctl").mkdir(parents=True)
    (home / ".config" / "mmctl" / "config").write_text("{}")
    result = mmctl(installed, "config", "migrate", "/opt/mattermost/config/config.json", database.dsn(), env=env)
    assert result.returncode == 1
    assert "Error: this command is only available in local mode. Please set the --local flag" in result.stderr


def test_mmctl_without_server_socket(installed, tmp_path):
    missing = tmp_path / "none.socket"
    result = mmctl(installed, "--local", "user", "list", socket_path=missing)
    assert result.returncode == 1
    assert f'socket file "{missing}" doesn\'t exists, please check the server configuration for local mode' \
        in result.stderr


def test_config_round_trip_through_config_migrate(installed, tmp_path, database):
    port, socket_path = configure(installed, tmp_path, database.dsn(),
                                  SamlSettings={"IdpCertificateFile": "saml-idp.crt"})
    (installed / "config" / "saml-idp.crt").write_text("-----BEGIN CERTIFICATE-----\nstand-in\n")
    config_file = installed / "config" / "config.json"
    # The server's own MM_* variables are folded into the migrated config.
    server = MattermostProcess(installed, env={"MM_TEAMSETTINGS_SITENAME": "Folded In"}).start(port)
    try:
        missing = mmctl(installed, "--local", "config", "migrate", "/nonexistent/config.json", database.dsn(),
                        socket_path=socket_path)
        assert missing.returncode == 1
        assert "Failed to migrate config store." in missing.stderr
        for flag_position in ("before", "after"):
            args = ["config", "migrate", str(config_file), database.dsn()]
            args = ["--local", *args] if flag_position == "before" else [*args, "--local"]
            result = mmctl(installed, *args, socket_path=socket_path)
            assert result.returncode == 0, result.stderr
    finally:
        assert server.stop() == 0
    rows = database.query("SELECT value, active, sha FROM configurations")
    assert len(rows) == 1, "an unchanged config must not be written twice"
    value, active, sha = rows[0]
    assert active is True
    stored = json.loads(value)
    assert stored["TeamSettings"]["SiteName"] == "Folded In"
    assert stored["SqlSettings"]["DataSource"] == database.dsn()
    assert len(sha) == 64
    files = database.query("SELECT name, data FROM configurationfiles")
    assert files == [("saml-idp.crt", "-----BEGIN CERTIFICATE-----\nstand-in\n")]

    # Restart from the database: config.json is no longer read, MM_CONFIG only locates the store.
    config_file.write_text("{ not json")
    port2 = free_port()
    env = {"MM_CONFIG": database.dsn(), "MM_SERVICESETTINGS_LISTENADDRESS": f"127.0.0.1:{port2}"}
    server = MattermostProcess(installed, env=env).start(port2)
    try:
        result = mmctl(installed, "--local", "config", "get", "TeamSettings.SiteName", socket_path=socket_path)
        assert json.loads(result.stdout) == "Folded In"
        # Env overrides apply at run time but are not persisted.
        assert "127.0.0.1:" + str(port2) not in database.query("SELECT value FROM configurations")[0][0]
    finally:
        assert server.stop() == 0


def test_empty_database_store_is_created_from_defaults(installed, tmp_path, database):
    port = free_port()
    socket_path = tmp_path / "mm.socket"
    env = {"MM_CONFIG": database.dsn(), "MM_SQLSETTINGS_DATASOURCE": database.dsn(),
           "MM_SERVICESETTINGS_LISTENADDRESS": f"127.0.0.1:{port}", "MM_SERVICESETTINGS_ENABLELOCALMODE": "true",
           "MM_SERVICESETTINGS_LOCALMODESOCKETLOCATION": str(socket_path)}
    server = MattermostProcess(installed, env=env).start(port)
    try:
        rows = database.query("SELECT value FROM configurations WHERE active")
        assert len(rows) == 1
        stored = json.loads(rows[0][0])
        assert stored["ServiceSettings"]["ListenAddress"] == ":8065"
        assert stored["SqlSettings"]["DataSource"].startswith("postgres://mmuser:mostest@localhost/")
    finally:
        assert server.stop() == 0


def test_users_teams_and_members(installed, tmp_path, database):
    port, socket_path = configure(installed, tmp_path, database.dsn())
    server = MattermostProcess(installed).start(port)

    def run(*args):
        return mmctl(installed, "--local", *args, socket_path=socket_path)

    try:
        assert run("user", "search", "admin").returncode == 1
        created = run("user", "create", "--email", "admin@example.com", "--username", "admin",
                      "--password", "Sup3r-secret!", "--system-admin")
        assert created.returncode == 0, created.stderr
        assert created.stdout.strip() == "Created user admin"
        again = run("user", "create", "--email", "admin@example.com", "--username", "admin",
                    "--password", "Sup3r-secret!", "--system-admin")
        assert again.returncode == 1
        assert "An account with that username already exists." in again.stderr
        found = run("user", "search", "admin")
        assert found.returncode == 0
        assert "username: admin\n" in found.stdout
        roles, password = database.query("SELECT roles, password FROM users WHERE username = 'admin'")[0]
        assert roles == "system_user system_admin"
        assert password.startswith("scrypt$") and "Sup3r" not in password

        missing = run("team", "search", "staff")
        assert (missing.returncode, missing.stdout) == (0, "")
        assert "Unable to find team 'staff'" in missing.stderr
        team = run("team", "create", "--name", "staff", "--display-name", "Staff")
        assert team.returncode == 0, team.stderr
        assert run("team", "create", "--name", "staff", "--display-name", "Staff").returncode == 1
        assert run("team", "search", "staff").stdout.startswith("staff: Staff (")

        assert run("user", "list", "--team", "staff").stdout == ""
        for _ in range(2):  # adding an existing member succeeds, like the real server
            added = run("team", "users", "add", "staff", "admin")
            assert added.returncode == 0, added.stderr
        assert run("user", "list", "--team", "staff").stdout.endswith(": admin (admin@example.com)\n")
        assert run("team", "users", "add", "nope", "admin").returncode == 1
    finally:
        assert server.stop() == 0


# --------------------------------------------------------------------------- cluster and license


def _cluster_node(release, tmp_path, database, name, gossip_port, env=None):
    install = install_release(release, tmp_path / name)
    port, socket_path = configure(
        install, tmp_path, database.dsn(),
        ClusterSettings={"Enable": True, "ClusterName": "standin-test", "GossipPort": gossip_port,
                         "AdvertiseAddress": "127.0.0.1", "BindAddress": "127.0.0.1"},
        MetricsSettings={"Enable": True, "ListenAddress": f"127.0.0.1:{free_port()}"},
    )
    server = MattermostProcess(install, env={"MM_STANDIN_CLUSTER_PING_SECONDS": "1", **(env or {})})
    return install, port, socket_path, server


ADMIN = {"username": "admin", "email": "admin@example.com", "password": "Sup3r-secret!"}


def _admin_token(socket_path, port):
    """Create the system admin through the socket (once), log in over TCP; the session token."""
    status, user, _ = api(socket_path, "GET", "/users/username/admin")
    if status == 404:
        status, user, _ = api(socket_path, "POST", "/users", ADMIN)
        assert status == 201, user
        assert api(socket_path, "PUT", f"/users/{user['id']}/roles", {"roles": "system_user system_admin"})[0] == 200
    status, _, headers = api(port, "POST", "/users/login", {"login_id": "admin", "password": ADMIN["password"]})
    assert status == 200
    return headers["Token"]


def _cluster_status(socket_path, port):
    status, body, _ = api(port, "GET", "/cluster/status", token=_admin_token(socket_path, port))
    assert status == 200, body
    return body


def test_two_nodes_see_each_other_only_when_licensed(release, tmp_path, database):
    gossip_a, gossip_b = free_port_both(), free_port_both()
    install_a, port_a, sock_a, node_a = _cluster_node(release, tmp_path, database, "a", gossip_a)
    install_b, port_b, sock_b, node_b = _cluster_node(release, tmp_path, database, "b", gossip_b)
    node_a.start(port_a)
    node_b.start(port_b)
    try:
        assert _cluster_status(sock_a, port_a) == []
        assert _cluster_status(sock_b, port_b) == []
        assert any("Clustering can't be enabled without a valid license" in line["msg"]
                   for line in node_a.log_lines())
        assert database.query("SELECT count(*) FROM clusterdiscovery")[0][0] == 0
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", gossip_a), timeout=1):
            pass

        license_file = write_test_license(tmp_path / "test.mattermost-license")
        uploaded = mmctl(install_a, "--local", "license", "upload", str(license_file), socket_path=sock_a)
        assert (uploaded.returncode, uploaded.stdout.strip()) == (0, "Uploaded license file")
        # The license is in the database; the other node reads it when it restarts.
        assert node_b.stop() == 0
        node_b.start(port_b)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            status_a, status_b = _cluster_status(sock_a, port_a), _cluster_status(sock_b, port_b)
            if len(status_a) == 2 and len(status_b) == 2:
                break
            time.sleep(0.3)
        assert {n["ipaddress"] for n in status_a} == {f"127.0.0.1:{gossip_a}", f"127.0.0.1:{gossip_b}"}
        rows = database.query("SELECT type, clustername, hostname, gossipport FROM clusterdiscovery")
        assert sorted(rows) == sorted([("mattermost_app", "standin-test", "127.0.0.1", gossip_a),
                                       ("mattermost_app", "standin-test", "127.0.0.1", gossip_b)])
        assert {n["id"] for n in status_a} == {n["id"] for n in status_b}
        assert all(n["version"] == "11.7.9" for n in status_a)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.settimeout(3)
            udp.sendto(b"ping", ("127.0.0.1", gossip_b))
            assert json.loads(udp.recv(2048))["version"] == "11.7.9"

        metrics_port = read_config(install_a)["MetricsSettings"]["ListenAddress"].rsplit(":", 1)[1]
        status, text, _ = http_get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert status == 200
        assert "mattermost_http_requests_total" in text

        # A node that stops leaves the others' view.
        assert node_b.stop() == 0
        assert [n["ipaddress"] for n in _cluster_status(sock_a, port_a)] == [f"127.0.0.1:{gossip_a}"]
    finally:
        node_a.stop()
        node_b.stop()


def test_license_file_location_is_read_at_start(installed, tmp_path, database):
    license_file = write_test_license(tmp_path / "lic", cluster=False)
    port, socket_path = configure(installed, tmp_path, database.dsn(),
                                  ServiceSettings={"LicenseFileLocation": str(license_file)})
    server = MattermostProcess(installed).start(port)
    try:
        assert server.ping()[2]["X-Version-Id"].endswith(".true")
        assert database.query("SELECT value FROM systems WHERE name = 'ActiveLicenseId'")
        bad = tmp_path / "bad"
        bad.write_text("not a license")
        result = mmctl(installed, "--local", "license", "upload", str(bad), socket_path=socket_path)
        assert result.returncode == 1
        assert "Invalid license file." in result.stderr
    finally:
        assert server.stop() == 0


def test_server_writes_defaults_and_secrets_back_once(installed, tmp_path, database):
    """Like the real config store: SetDefaults() on load, written back when that changed anything."""
    port, _ = configure(installed, tmp_path, database.dsn())
    config = read_config(installed)
    assert config["SqlSettings"]["AtRestEncryptKey"] == ""
    del config["TeamSettings"]["SiteName"]
    config["ClusterSettings"]["MaxIdleConns"] = 100  # a 9.5 key this version does not know
    config["ServiceSettings"]["SiteURL"] = "https://chat.example.com"
    write_config(installed, config)
    server = MattermostProcess(installed).start(port)
    assert server.stop() == 0
    written = read_config(installed)
    assert len(written["SqlSettings"]["AtRestEncryptKey"]) == 32
    assert len(written["FileSettings"]["PublicLinkSalt"]) == 32
    assert written["TeamSettings"]["SiteName"] == "Mattermost"
    assert "MaxIdleConns" not in written["ClusterSettings"]
    assert written["ServiceSettings"]["SiteURL"] == "https://chat.example.com"
    config_file = installed / "config" / "config.json"
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    before = config_file.read_bytes()
    server = MattermostProcess(installed).start(port)
    assert server.stop() == 0
    assert config_file.read_bytes() == before, "a complete config is not rewritten"


def test_shared_fixtures_serve_the_default_release(mattermost_release, mattermost_release_url):
    assert mattermost_release.version == "11.7.9"
    status, body, _ = http_get(f"{mattermost_release_url}/{mattermost_release.sha256.name}")
    assert status == 200
    assert body == mattermost_release.sha256.read_text()


# --------------------------------------------------------------------------- held to the real server


def test_socket_answers_404_where_the_real_local_mode_has_no_route(installed, tmp_path, database):
    port, socket_path = configure(installed, tmp_path, database.dsn())
    server = MattermostProcess(installed).start(port)
    try:
        _admin_token(socket_path, port)
        _, team, _ = api(socket_path, "POST", "/teams", {"name": "staff", "display_name": "Staff", "type": "O"})
        _, user, _ = api(socket_path, "GET", "/users/username/admin")
        assert api(socket_path, "POST", f"/teams/{team['id']}/members",
                   {"team_id": team["id"], "user_id": user["id"]})[0] == 201
        for path in ("/cluster/status", f"/teams/{team['id']}/members/{user['id']}", f"/teams/{team['id']}/members",
                     "/license/client", "/nonexistent"):
            status, body, _ = api(socket_path, "GET", path)
            assert (status, body["id"]) == (404, "api.context.404.app_error"), path
        # Membership the way the real local mode offers it.
        status, members, _ = api(socket_path, "GET", f"/users?in_team={team['id']}&per_page=200")
        assert status == 200
        assert [m["username"] for m in members] == ["admin"]
    finally:
        assert server.stop() == 0


def test_session_api_over_tcp(installed, tmp_path, database):
    port, socket_path = configure(installed, tmp_path, database.dsn())
    server = MattermostProcess(installed).start(port)
    try:
        assert api(port, "GET", "/system/ping")[0] == 200
        status, body, _ = api(port, "GET", "/cluster/status")
        assert (status, body["id"]) == (401, "api.context.session_expired.app_error")
        assert api(port, "GET", "/config")[0] == 401
        token = _admin_token(socket_path, port)
        assert api(port, "GET", "/cluster/status", token=token)[:2] == (200, [])
        assert api(port, "GET", "/cluster/status", token="x" * 26)[0] == 401
        status, body, _ = api(port, "POST", "/users/login", {"login_id": "admin", "password": "wrong-password"})
        assert (status, body["id"]) == (401, "api.user.login.invalid_credentials_email_username")

        # A user without the permission, then the admin under RestrictSystemAdmin: 403.
        _, user, _ = api(socket_path, "POST", "/users", {"username": "plain", "email": "plain@example.com",
                                                         "password": "Plain-passw0rd"})
        _, _, headers = api(port, "POST", "/users/login", {"login_id": "plain", "password": "Plain-passw0rd"})
        status, body, _ = api(port, "GET", "/cluster/status", token=headers["Token"])
        assert (status, body["id"]) == (403, "api.context.permissions.app_error")
        assert api(socket_path, "PUT", "/config/patch", {"ExperimentalSettings": {"RestrictSystemAdmin": True}})[0] \
            == 200
        assert api(port, "GET", "/cluster/status", token=token)[0] == 403

        # A password set through the socket, JSON body, is the one the login takes.
        assert api(socket_path, "PUT", f"/users/{user['id']}/password", {"new_password": "New-passw0rd"})[0] == 200
        assert api(port, "POST", "/users/login", {"login_id": "plain", "password": "New-passw0rd"})[0] == 200
    finally:
        assert server.stop() == 0


def test_config_patch_on_a_database_store_reaches_other_nodes_on_reload(two_nodes_on_the_database, database):
    """One active row shared by the nodes; each node changes only on its own reload (no cluster code)."""
    (_, sock_a, _), (_, sock_b, port_b) = two_nodes_on_the_database
    status, saved, _ = api(sock_a, "PUT", "/config/patch", {"TeamSettings": {"SiteName": "Patched"}})
    assert status == 200
    assert saved["SqlSettings"]["DataSource"] == "********************************", "secrets are masked"
    assert api(sock_a, "GET", "/config")[1]["TeamSettings"]["SiteName"] == "Patched"
    assert api(sock_b, "GET", "/config")[1]["TeamSettings"]["SiteName"] != "Patched", "b still has its copy"
    assert api(sock_b, "POST", "/config/reload")[:2] == (200, {"status": "OK"})
    assert api(sock_b, "GET", "/config")[1]["TeamSettings"]["SiteName"] == "Patched"
    rows = database.query("SELECT value FROM configurations WHERE active")
    stored = json.loads(rows[0][0])
    assert stored["TeamSettings"]["SiteName"] == "Patched"
    assert stored["SqlSettings"]["DataSource"] == database.dsn(), "the placeholder kept the stored secret"
    assert f"127.0.0.1:{port_b}" not in rows[0][0], "MM_* overrides are not persisted"
    before = database.query("SELECT count(*) FROM configurations")[0][0]
    assert api(sock_a, "PUT", "/config/patch", {"TeamSettings": {"SiteName": "Patched"}})[0] == 200
    assert database.query("SELECT count(*) FROM configurations")[0][0] == before, "same config, no new row"
