"""Shared parts of the Mattermost stand-in: config stores, DataSource parsing, logging.

Python 3.11 standard library plus psycopg2 only: this module runs inside the test hosts.
"""

import datetime
import hashlib
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse
from pathlib import Path

VERSION_FILE = Path(__file__).resolve().parent / "VERSION"
DEFAULTS_FILE = Path(__file__).resolve().parent / "default-config.json"
INSTALL_DIR = Path(__file__).resolve().parent.parent.parent  # <install>/bin/_standin/common.py

# lib/pq only knows these modes; anything else is refused like lib/pq does.
SSL_MODES = ("disable", "require", "verify-ca", "verify-full")
# Parameters lib/pq understands that libpq (psycopg2) does not: accepted and dropped.
LIBPQ_UNKNOWN = {"binary_parameters", "disable_prepared_binary_result"}
LIBPQ_PASSTHROUGH = {"connect_timeout", "sslrootcert", "sslcert", "sslkey", "application_name",
                     "options", "fallback_application_name", "search_path"}


def version():
    return VERSION_FILE.read_text().strip() if VERSION_FILE.exists() else "0.0.0"


def new_id():
    """A 26-character id shaped like model.NewId() (base32, lower case)."""
    alphabet = "ybndrfg8ejkmcpqxot1uwisza345h769"
    return "".join(secrets.choice(alphabet) for _ in range(26))


def now_ms():
    return int(time.time() * 1000)


# --------------------------------------------------------------------------- logging

class Logger:
    """JSON lines to <install>/logs/mattermost.log (or LogSettings.FileLocation) and stdout."""

    def __init__(self):
        self._lock = threading.Lock()
        self._file = None

    def open(self, location=None):
        # Like fileutils.FindDir("logs"): ./logs of the working directory first, then the install's.
        directory = Path(location) if location else next(
            (d for d in (Path.cwd() / "logs", INSTALL_DIR / "logs") if d.is_dir()), INSTALL_DIR / "logs")
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._file = open(directory / "mattermost.log", "a", encoding="utf-8")  # noqa: SIM115 - kept open
        except OSError as exc:
            self.log("warn", "Could not open the log file", error=str(exc))

    def log(self, level, msg, **fields):
        record = {
            "timestamp": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " Z",
            "level": level,
            "msg": msg,
            "caller": "standin",
            **fields,
        }
        line = json.dumps(record, default=str)
        with self._lock:
            print(line, flush=True)
            if self._file:
                self._file.write(line + "\n")
                self._file.flush()

    def info(self, msg, **fields):
        self.log("info", msg, **fields)

    def warn(self, msg, **fields):
        self.log("warn", msg, **fields)

    def error(self, msg, **fields):
        self.log("error", msg, **fields)


LOG = Logger()


# --------------------------------------------------------------------------- DataSource

class DataSourceError(ValueError):
    pass


_USERINFO_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:~!$&'()*+,;=%@")


def _go_unescape(text, what):
    """Percent-decoding with Go's strictness: a '%' must start a valid two-digit escape."""
    i = 0
    while i < len(text):
        if text[i] == "%":
            chunk = text[i + 1:i + 3]
            if len(chunk) != 2 or any(c not in "0123456789abcdefABCDEF" for c in chunk):
                raise DataSourceError(f'parse DataSource: invalid URL escape "%{chunk}" in {what}')
            i += 3
        else:
            i += 1
    return urllib.parse.unquote(text)


def is_dsn(value):
    return value.startswith(("postgres://", "postgresql://", "mysql://"))


def parse_datasource(dsn):
    """Turn a Mattermost DataSource URL into psycopg2.connect() keyword arguments.

    Follows Go's url.Parse (userinfo up to the last '@' of the authority, user and password
    percent-decoded, characters outside RFC 3986 userinfo refused) and lib/pq's ParseURL
    (host default localhost, port 5432, sslmode default require, only disable / require /
    verify-ca / verify-full).
    """
    if not dsn.startswith(("postgres://", "postgresql://")):
        raise DataSourceError("unsupported DataSource: only postgres:// URLs are supported by the stand-in")
    rest = dsn.split("://", 1)[1]
    # Go: the fragment starts at the first '#', the query at the first '?', the path at the first '/'.
    if "#" in rest:
        rest = rest.split("#", 1)[0]
    authority_and_path, _, query = rest.partition("?")
    authority, slash, path = authority_and_path.partition("/")
    userinfo, at, hostport = authority.rpartition("@")
    if not at:
        userinfo, hostport = "", authority
    if userinfo and any(c not in _USERINFO_OK for c in userinfo):
        raise DataSourceError("parse DataSource: net/url: invalid userinfo")
    user, colon, password = userinfo.partition(":")
    params = {}
    if user:
        params["user"] = _go_unescape(user, "user")
    if colon:
        params["password"] = _go_unescape(password, "password")
    host, port = hostport, ""
    if hostport.startswith("["):
        host, _, port = hostport[1:].partition("]")
        port = port.lstrip(":")
    elif ":" in hostport:
        host, port = hostport.rsplit(":", 1)
    if port and not port.isdigit():
        raise DataSourceError(f'parse DataSource: invalid port ":{port}" after host')
    params["host"] = urllib.parse.unquote(host) or "localhost"
    params["port"] = int(port) if port else 5432
    dbname = urllib.parse.unquote(path) if slash else ""
    if dbname:
        params["dbname"] = dbname
    query_params = urllib.parse.parse_qs(query, keep_blank_values=True)
    sslmode = query_params.pop("sslmode", ["require"])[-1] or "require"
    if sslmode not in SSL_MODES:
        raise DataSourceError(
            f'pq: unsupported sslmode "{sslmode}"; only "require" (default), "verify-full", '
            f'"verify-ca", and "disable" supported'
        )
    params["sslmode"] = sslmode
    for key, values in query_params.items():
        if key in LIBPQ_UNKNOWN:
            continue
        if key in LIBPQ_PASSTHROUGH:
            params[key] = values[-1]
    if "connect_timeout" in params:
        params["connect_timeout"] = int(params["connect_timeout"])
    return params


def redact_dsn(dsn):
    """The DataSource without its password, for log lines."""
    try:
        scheme, rest = dsn.split("://", 1)
        authority = rest.split("/", 1)[0].split("?", 1)[0]
        if "@" in authority:
            userinfo = authority.rpartition("@")[0]
            if ":" in userinfo:
                return dsn.replace(userinfo, userinfo.split(":", 1)[0] + ":****", 1)
        return dsn
    except ValueError:
        return "<unparseable>"


def connect(dsn, timeout=None):
    import psycopg2  # only needed where a database is used

    params = parse_datasource(dsn)
    if timeout is not None:
        params["connect_timeout"] = max(1, int(timeout))
    params.setdefault("connect_timeout", 10)
    # A silently dropped peer must not hang a request: libpq gives up on unacknowledged data after 5 s.
    params.setdefault("tcp_user_timeout", 5000)
    return psycopg2.connect(**params)


# --------------------------------------------------------------------------- env overrides

def _env_value(current, raw):
    if isinstance(current, bool):
        return raw.strip().lower() in ("1", "t", "true", "yes", "on")
    if isinstance(current, int):
        try:
            return int(raw)
        except ValueError:
            return current
    if isinstance(current, float):
        try:
            return float(raw)
        except ValueError:
            return current
    if isinstance(current, list):
        return raw.split()
    return raw


def apply_env_overrides(config, environ=None):
    """Apply MM_<SECTION>_<KEY>[_<KEY>...] variables to the config (a new dict); return it and the names used."""
    environ = os.environ if environ is None else environ
    config = json.loads(json.dumps(config))
    used = []

    def walk(node, prefix):
        for key, value in node.items():
            name = f"{prefix}_{key.upper()}"
            if isinstance(value, dict) and value:
                walk(value, name)
            elif name in environ:
                node[key] = _env_value(value, environ[name])
                used.append(name)

    walk(config, "MM")
    return config, used


# --------------------------------------------------------------------------- config stores

CONFIG_SCHEMA = [
    # server/config/migrations/postgres/000001_create_configurations.up.sql and later ones
    """CREATE TABLE IF NOT EXISTS configurations (
        id VARCHAR(26) PRIMARY KEY,
        value TEXT NOT NULL,
        createat BIGINT NOT NULL,
        active BOOLEAN NULL UNIQUE
    )""",
    """CREATE TABLE IF NOT EXISTS configurationfiles (
        name VARCHAR(64) PRIMARY KEY,
        data TEXT NOT NULL,
        createat BIGINT NOT NULL,
        updateat BIGINT NOT NULL
    )""",
    "ALTER TABLE configurations ADD COLUMN IF NOT EXISTS sha CHAR(64) DEFAULT ''",
    """CREATE TABLE IF NOT EXISTS db_config_migrations (
        version BIGINT PRIMARY KEY,
        name VARCHAR NOT NULL
    )""",
]
CONFIG_MIGRATIONS = [(1, "create_configurations"), (2, "create_configurationfiles"), (3, "add_sha_to_configurations")]

# Files a config may point at that the real `config migrate` copies into configurationfiles.
CONFIG_FILE_KEYS = [
    ("SamlSettings", "IdpCertificateFile"),
    ("SamlSettings", "PublicCertificateFile"),
    ("SamlSettings", "PrivateKeyFile"),
    ("LogSettings", "AdvancedLoggingConfig"),
    ("ExperimentalAuditSettings", "AdvancedLoggingConfig"),
]


def _advisory_lock_id():
    return 4242424242  # one fixed key: config schema creation is serialised across nodes


def ensure_config_schema(conn):
    with conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_advisory_lock_id(),))
        for statement in CONFIG_SCHEMA:
            cur.execute(statement)
        for number, name in CONFIG_MIGRATIONS:
            cur.execute(
                "INSERT INTO db_config_migrations (version, name) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (number, name),
            )


def config_json(config):
    return json.dumps(config, indent=4, sort_keys=False)


def read_db_config(conn):
    with conn, conn.cursor() as cur:
        cur.execute("SELECT value FROM configurations WHERE active")
        row = cur.fetchone()
    return json.loads(row[0]) if row else None


def write_db_config(conn, config):
    """Store config as the new active row; an unchanged config (same SHA-256) is not written. True if written."""
    value = config_json(config)
    sha = hashlib.sha256(value.encode()).hexdigest()
    with conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_advisory_lock_id() + 1,))
        cur.execute("SELECT sha FROM configurations WHERE active")
        row = cur.fetchone()
        if row and (row[0] or "").strip() == sha:
            return False
        cur.execute("UPDATE configurations SET active = NULL WHERE active")
        cur.execute(
            "INSERT INTO configurations (id, value, createat, active, sha) VALUES (%s, %s, %s, TRUE, %s)",
            (new_id(), value, now_ms(), sha),
        )
    return True


def write_db_config_file(conn, name, data):
    with conn, conn.cursor() as cur:
        cur.execute(
            """INSERT INTO configurationfiles (name, data, createat, updateat) VALUES (%s, %s, %s, %s)
               ON CONFLICT (name) DO UPDATE SET data = EXCLUDED.data, updateat = EXCLUDED.updateat""",
            (name, data, now_ms(), now_ms()),
        )


def write_config_file(path, config):
    """Like the file store's persist: indented JSON, mode 0600."""
    path = Path(path)
    data = config_json(config)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


# Per-installation secrets model.Config.SetDefaults() generates when empty (blank in a release's config.json).
GENERATED_SECRETS = [("SqlSettings", "AtRestEncryptKey"), ("FileSettings", "PublicLinkSalt")]


def random_string(length=32):
    alphabet = "ybndrfg8ejkmcpqxot1uwisza345h769"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def normalize(config, defaults):
    """What the real config store keeps of a loaded config: SetDefaults() plus Go's JSON round trip.

    Missing or null settings get the version's default, keys the version does not know are dropped
    (sections that are maps, like PluginSettings.Plugins, are kept as they are), and empty
    per-installation secrets are generated.
    """
    def merge(current, default):
        if isinstance(default, dict) and default and isinstance(current, dict):
            return {key: merge(current.get(key), value) for key, value in default.items()}
        return default if current is None else current

    result = merge(config, defaults) if defaults is not None else json.loads(json.dumps(config))
    for section, key in GENERATED_SECRETS:
        if isinstance(result.get(section), dict) and not result[section].get(key):
            result[section][key] = random_string()
    return result


def resolve_config_file(location):
    path = Path(location)
    if path.is_absolute():
        return path
    for base in (Path.cwd(), INSTALL_DIR):
        for candidate in (base / path, base / "config" / path):
            if candidate.exists():
                return candidate
    return INSTALL_DIR / "config" / path


class ConfigStore:
    """The config source named by MM_CONFIG: a JSON file or a postgres:// DSN."""

    def __init__(self, location=None):
        self.location = location or os.environ.get("MM_CONFIG") or "config.json"
        self.is_database = is_dsn(self.location)
        self.path = None if self.is_database else resolve_config_file(self.location)

    def describe(self):
        return redact_dsn(self.location) if self.is_database else str(self.path)

    def load(self, persist=True):
        """The stored config, normalized like the real store does on load, without env overrides.

        With persist (the server's own store), a config the normalization changed is written back,
        as the real server does: a file store must be writable then, a database store gets a new
        active row (an empty database store is created from the defaults).
        """
        defaults = json.loads(DEFAULTS_FILE.read_text())
        if not self.is_database:
            # The server's own store creates a missing file from the defaults; a migration source must exist.
            if not self.path.exists() and not persist:
                raise FileNotFoundError(f"failed to create source store: open {self.path}: no such file or directory")
            loaded = json.loads(self.path.read_text()) if self.path.exists() else {}
            config = normalize(loaded, defaults)
            if persist and config != loaded:
                try:
                    write_config_file(self.path, config)
                except OSError as exc:
                    raise OSError(f"failed to persist: failed to write file: open {self.path}: "
                                  f"{exc.strerror or exc}") from exc
                LOG.info("Wrote the normalized configuration back to the file", path=str(self.path))
            return config
        conn = connect(self.location)
        try:
            ensure_config_schema(conn)
            loaded = read_db_config(conn)
            config = normalize(loaded if loaded is not None else defaults, defaults)
            if persist and config != loaded:
                write_db_config(conn, config)
                LOG.info("Created the configuration in the database from the defaults" if loaded is None
                         else "Wrote the normalized configuration back to the database")
            return config
        finally:
            conn.close()

    def save(self, config):
        """Store.Set's persisting step: defaults applied; True when something was written."""
        config = normalize(config, json.loads(DEFAULTS_FILE.read_text()))
        if not self.is_database:
            if self.path.exists() and json.loads(self.path.read_text()) == config:
                return False
            write_config_file(self.path, config)
            return True
        conn = connect(self.location)
        try:
            return write_db_config(conn, config)
        finally:
            conn.close()


# model.FakeSetting and the settings Config.Sanitize() replaces with it.
FAKE_SETTING = "********************************"
SECRET_SETTINGS = [
    ("SqlSettings", "DataSource"), ("SqlSettings", "AtRestEncryptKey"), ("FileSettings", "PublicLinkSalt"),
    ("FileSettings", "AmazonS3SecretAccessKey"), ("EmailSettings", "SMTPPassword"),
    ("GitLabSettings", "Secret"), ("GoogleSettings", "Secret"), ("Office365Settings", "Secret"),
    ("OpenIdSettings", "Secret"), ("LdapSettings", "BindPassword"), ("ElasticsearchSettings", "Password"),
    ("MessageExportSettings", "GlobalRelaySettings.SMTPPassword"), ("ServiceSettings", "SplitKey"),
]
SECRET_LISTS = [("SqlSettings", "DataSourceReplicas"), ("SqlSettings", "DataSourceSearchReplicas")]


def sanitize(config):
    """Config.Sanitize(): secrets replaced by the fake setting (a new dict)."""
    config = json.loads(json.dumps(config))
    for section, key in SECRET_SETTINGS:
        node, *path = [config.get(section)] + key.split(".")
        for part in path[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and node.get(path[-1]):
            node[path[-1]] = FAKE_SETTING
    for section, key in SECRET_LISTS:
        values = (config.get(section) or {}).get(key)
        if values:
            config[section][key] = [FAKE_SETTING] * len(values)
    return config


def desanitize(new, current):
    """Store.Set: a fake setting in the config being saved keeps the current value."""
    new = json.loads(json.dumps(new))
    for section, key in SECRET_SETTINGS:
        node, old, *path = new.get(section), current.get(section), *key.split(".")
        for part in path[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
            old = old.get(part) if isinstance(old, dict) else None
        if isinstance(node, dict) and node.get(path[-1]) == FAKE_SETTING and isinstance(old, dict):
            node[path[-1]] = old.get(path[-1])
    for section, key in SECRET_LISTS:
        values = (new.get(section) or {}).get(key)
        if values and all(v == FAKE_SETTING for v in values):
            new[section][key] = (current.get(section) or {}).get(key)
    return new


def hash_config(config):
    return hashlib.sha256(config_json(config).encode()).hexdigest()[:32]


def fail(msg, **fields):
    LOG.error(msg, **fields)
    sys.exit(1)
