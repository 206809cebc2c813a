"""A real PostgreSQL 15 primary with a streaming replica on loopback.

They stand for the Aurora writer and a reader instance: scram-sha-256 passwords over TCP,
TLS on (a throw-away self-signed certificate, so `sslmode=require` works), and a replica
made with `pg_basebackup -R` that follows the primary by streaming replication.
"""

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2

from .net import free_port, wait_for_port

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
SUPERUSER = "postgres"
SUPERUSER_PASSWORD = "harness-superuser-pw"
REPLICATION_USER = "replicator"
REPLICATION_PASSWORD = "harness-replication-pw"


def _as_postgres():
    """initdb refuses to run as root: as root, run the server as the postgres user."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


class PostgresServer:
    def __init__(self, datadir, port, log_path):
        self.datadir = Path(datadir)
        self.port = port
        self.host = "127.0.0.1"
        self.log_path = Path(log_path)

    def pg(self, tool, *args, **kwargs):
        return subprocess.run(
            [*_as_postgres(), str(PG_BIN / tool), *args],
            check=True,
            capture_output=True,
            text=True,
            **kwargs,
        )

    def start(self):
        self.pg("pg_ctl", "-D", str(self.datadir), "-l", str(self.log_path), "-w", "-t", "60", "start")
        wait_for_port(self.port)
        return self

    def stop(self, mode="fast"):
        if (self.datadir / "postmaster.pid").exists():
            self.pg("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "stop")

    def connect(self, dbname="postgres", user=SUPERUSER, password=SUPERUSER_PASSWORD, **kwargs):
        conn = psycopg2.connect(
            host=self.host, port=self.port, dbname=dbname, user=user, password=password,
            sslmode="require", connect_timeout=10, **kwargs,
        )
        conn.autocommit = True
        return conn

    def dsn(self, user=SUPERUSER, password=SUPERUSER_PASSWORD, dbname="postgres"):
        return (f"host={self.host} port={self.port} dbname={dbname} user={user} "
                f"password={password} sslmode=require")


class PostgresPair:
    """Primary (writer) and streaming replica (reader) in one temporary directory."""

    def __init__(self, base_dir=None):
        self.base = Path(base_dir or tempfile.mkdtemp(prefix="mmha-pg-"))
        self.primary = PostgresServer(self.base / "primary", free_port(), self.base / "primary.log")
        self.replica = PostgresServer(self.base / "replica", free_port(), self.base / "replica.log")

    def _init_primary(self):
        pw_file = self.base / "pwfile"
        pw_file.write_text(SUPERUSER_PASSWORD + "\n")
        self.primary.pg(
            "initdb", "-D", str(self.primary.datadir), "-U", SUPERUSER, f"--pwfile={pw_file}",
            "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8",
        )
        pw_file.unlink()
        subprocess.run(
            [*_as_postgres(), "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
             "-subj", "/CN=localhost", "-keyout", str(self.primary.datadir / "server.key"),
             "-out", str(self.primary.datadir / "server.crt")],
            check=True, capture_output=True,
        )
        with open(self.primary.datadir / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# mattermost_ha test harness\n"
                "listen_addresses = '127.0.0.1'\n"
                f"port = {self.primary.port}\n"
                f"unix_socket_directories = '{self.base}'\n"
                "ssl = on\n"
                "wal_level = replica\n"
                "max_wal_senders = 5\n"
                "hot_standby = on\n"
                "fsync = off\n"
                "synchronous_commit = on\n"
            )
        with open(self.primary.datadir / "pg_hba.conf", "a") as hba:
            hba.write(f"host replication {REPLICATION_USER} 127.0.0.1/32 scram-sha-256\n")

    def start(self):
        """Start both servers; if any step fails, nothing of the pair is left running."""
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self):
        self.base.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            pg_uid = pwd.getpwnam("postgres")
            os.chown(self.base, pg_uid.pw_uid, pg_uid.pw_gid)
            os.chmod(self.base, 0o700)
        self._init_primary()
        self.primary.start()
        with self.primary.connect() as conn, conn.cursor() as cur:
            cur.execute(
                f"CREATE ROLE {REPLICATION_USER} WITH REPLICATION LOGIN PASSWORD %s",
                (REPLICATION_PASSWORD,),
            )
        env = dict(os.environ, PGPASSWORD=REPLICATION_PASSWORD, PGSSLMODE="require")
        self.replica.pg(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port), "-U", REPLICATION_USER,
            "-D", str(self.replica.datadir), "-R", "-X", "stream", "-c", "fast", env=env,
        )
        with open(self.replica.datadir / "postgresql.conf", "a") as conf:
            conf.write(f"port = {self.replica.port}\n")
        self.replica.start()
        self.wait_for_replica()
        return self

    def wait_for_replica(self, timeout=30):
        """Wait until the replica is in recovery and streaming from the primary."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.primary.connect() as conn, conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
                if cur.fetchone()[0] >= 1:
                    return
            time.sleep(0.2)
        raise TimeoutError("the replica did not start streaming")

    def wait_replayed(self, timeout=30):
        """Wait until the replica has replayed everything the primary has written so far."""
        with self.primary.connect() as conn, conn.cursor() as cur:
            cur.execute("SELECT pg_current_wal_lsn()")
            lsn = cur.fetchone()[0]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.replica.connect() as conn, conn.cursor() as cur:
                cur.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,))
                if cur.fetchone()[0]:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"the replica did not replay up to {lsn}")

    def stop(self):
        for server in (self.replica, self.primary):
            with contextlib.suppress(subprocess.CalledProcessError):
                server.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)
