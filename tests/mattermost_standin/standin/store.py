"""Application data of the stand-in in PostgreSQL: users, teams, members, licenses, cluster nodes.

Table and column names follow the real schema where that costs nothing (Users, Teams,
TeamMembers, Licenses, Systems, ClusterDiscovery; PostgreSQL folds them to lower case).
Passwords are hashed with scrypt (the real server uses bcrypt, which the stdlib lacks).
"""

import base64
import contextlib
import hashlib
import json
import secrets
import threading
import time

from . import common

APP_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS users (
        id VARCHAR(26) PRIMARY KEY, createat BIGINT, updateat BIGINT, deleteat BIGINT DEFAULT 0,
        username VARCHAR(64) UNIQUE, password VARCHAR(256), authservice VARCHAR(32) DEFAULT '',
        email VARCHAR(128) UNIQUE, emailverified BOOLEAN DEFAULT FALSE, nickname VARCHAR(64) DEFAULT '',
        firstname VARCHAR(64) DEFAULT '', lastname VARCHAR(64) DEFAULT '', position VARCHAR(128) DEFAULT '',
        roles VARCHAR(256) DEFAULT 'system_user', locale VARCHAR(5) DEFAULT 'en'
    )""",
    """CREATE TABLE IF NOT EXISTS teams (
        id VARCHAR(26) PRIMARY KEY, createat BIGINT, updateat BIGINT, deleteat BIGINT DEFAULT 0,
        displayname VARCHAR(64), name VARCHAR(64) UNIQUE, description VARCHAR(255) DEFAULT '',
        email VARCHAR(128) DEFAULT '', type VARCHAR(255), allowopeninvite BOOLEAN DEFAULT FALSE
    )""",
    """CREATE TABLE IF NOT EXISTS teammembers (
        teamid VARCHAR(26), userid VARCHAR(26), roles VARCHAR(64) DEFAULT '', deleteat BIGINT DEFAULT 0,
        schemeuser BOOLEAN DEFAULT TRUE, schemeadmin BOOLEAN DEFAULT FALSE, createat BIGINT DEFAULT 0,
        PRIMARY KEY (teamid, userid)
    )""",
    "CREATE TABLE IF NOT EXISTS licenses (id VARCHAR(26) PRIMARY KEY, createat BIGINT, bytes VARCHAR(10000))",
    "CREATE TABLE IF NOT EXISTS systems (name VARCHAR(64) PRIMARY KEY, value VARCHAR(1024))",
    """CREATE TABLE IF NOT EXISTS sessions (
        id VARCHAR(26) PRIMARY KEY, token VARCHAR(26) UNIQUE, createat BIGINT, expiresat BIGINT,
        userid VARCHAR(26), roles VARCHAR(256)
    )""",
    """CREATE TABLE IF NOT EXISTS clusterdiscovery (
        id VARCHAR(26) PRIMARY KEY, type VARCHAR(64), clustername VARCHAR(64), hostname TEXT,
        gossipport INTEGER, port INTEGER, createat BIGINT, lastpingat BIGINT
    )""",
]


class AppError(Exception):
    """model.AppError: id, message, HTTP status."""

    def __init__(self, where, error_id, message, status, detailed=""):
        super().__init__(message)
        self.where = where
        self.error_id = error_id
        self.message = message
        self.status = status
        self.detailed = detailed

    def to_json(self):
        return {
            "id": self.error_id,
            "message": self.message,
            "detailed_error": self.detailed,
            "request_id": common.new_id(),
            "status_code": self.status,
        }


def ensure_app_schema(conn):
    with conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (4242424244,))
        for statement in APP_SCHEMA:
            cur.execute(statement)


def hash_password(password):
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return "scrypt$16384$8$1$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def check_password(password, hashed):
    try:
        _, n, r, p, salt, digest = hashed.split("$")
        computed = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p))
    except (ValueError, AttributeError):
        return False
    return secrets.compare_digest(computed, base64.b64decode(digest))


SESSION_LENGTH_MS = 30 * 24 * 3600 * 1000  # ServiceSettings.SessionLengthWebInHours default (720 h)

USER_COLUMNS = ["id", "createat", "updateat", "deleteat", "username", "authservice", "email", "emailverified",
                "nickname", "firstname", "lastname", "position", "roles", "locale"]
USER_JSON = {"createat": "create_at", "updateat": "update_at", "deleteat": "delete_at",
             "authservice": "auth_service", "emailverified": "email_verified", "firstname": "first_name",
             "lastname": "last_name"}
TEAM_COLUMNS = ["id", "createat", "updateat", "deleteat", "displayname", "name", "description", "email", "type",
                "allowopeninvite"]
TEAM_JSON = {"createat": "create_at", "updateat": "update_at", "deleteat": "delete_at",
             "displayname": "display_name", "allowopeninvite": "allow_open_invite"}


def _row(columns, mapping, row):
    return {mapping.get(col, col): value for col, value in zip(columns, row, strict=True)} if row else None


def _valid_username(name):
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789.-_")
    return 3 <= len(name) <= 22 and name[0].isalpha() and all(c in allowed for c in name)


def _valid_team_name(name):
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789-")
    return 2 <= len(name) <= 64 and name[0].isalnum() and all(c in allowed for c in name)


class AppStore:
    """The server's database access: a small pool of connections, each checked before reuse."""

    MAX_IDLE = 4

    def __init__(self, dsn):
        self.dsn = dsn
        self._idle = []
        self._lock = threading.Lock()

    def _checkout(self, timeout):
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return common.connect(self.dsn, timeout=timeout)
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT 1")
                conn.rollback()
                return conn
            except Exception:  # a broken pooled connection is dropped and replaced
                with contextlib.suppress(Exception):
                    conn.close()

    @contextlib.contextmanager
    def transaction(self, timeout=5):
        """A cursor in a transaction: committed when the block ends, rolled back when it raises."""
        import psycopg2  # only needed where a database is used

        conn = self._checkout(timeout)
        healthy = True
        try:
            with conn, conn.cursor() as cur:
                yield cur
        except psycopg2.Error:
            healthy = False
            raise
        finally:
            if healthy and not conn.closed:
                with self._lock:
                    if len(self._idle) < self.MAX_IDLE:
                        self._idle.append(conn)
                        conn = None
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()

    def _query(self, sql, args=(), one=False, write=False):
        with self.transaction() as cur:
            cur.execute(sql, args)
            if write and cur.description is None:
                return cur.rowcount
            return cur.fetchone() if one else cur.fetchall()

    # users
    def get_user(self, key, by="id"):
        column = {"id": "id", "username": "username", "email": "email"}[by]
        value = key.lower() if by != "id" else key
        row = self._query(f"SELECT {', '.join(USER_COLUMNS)} FROM users WHERE {column} = %s", (value,), one=True)
        if not row:
            raise AppError("GetUser", "app.user.missing_account.const", "Unable to find the user.", 404)
        return _row(USER_COLUMNS, USER_JSON, row)

    def list_users(self, page=0, per_page=60, in_team=None):
        sql = f"SELECT {', '.join('u.' + c for c in USER_COLUMNS)} FROM users u"
        args = []
        if in_team:
            sql += " JOIN teammembers m ON m.userid = u.id AND m.deleteat = 0 WHERE m.teamid = %s"
            args.append(in_team)
        sql += " ORDER BY u.username LIMIT %s OFFSET %s"
        args += [per_page, page * per_page]
        return [_row(USER_COLUMNS, USER_JSON, r) for r in self._query(sql, tuple(args))]

    def create_user(self, data, min_password_length=8):
        username = (data.get("username") or "").lower()
        email = (data.get("email") or "").lower()
        password = data.get("password") or ""
        if not _valid_username(username):
            raise AppError("CreateUser", "model.user.is_valid.username.app_error",
                           "Username must begin with a letter and contain between 3 and 22 characters including "
                           "numbers, lowercase letters, and the symbols \".\", \"-\", and \"_\".", 400)
        if "@" not in email or email.startswith("@") or email.endswith("@"):
            raise AppError("CreateUser", "model.user.is_valid.email.app_error", "Invalid email.", 400)
        self._check_password_rules(password, min_password_length)
        user_id = common.new_id()
        now = common.now_ms()
        with self.transaction() as cur:
            cur.execute("SELECT username, email FROM users WHERE username = %s OR email = %s", (username, email))
            clash = cur.fetchone()
            if clash and clash[0] == username:
                raise AppError("CreateUser", "app.user.save.username_exists.app_error",
                               "An account with that username already exists.", 400)
            if clash:
                raise AppError("CreateUser", "app.user.save.email_exists.app_error",
                               "An account with that email already exists.", 400)
            cur.execute(
                """INSERT INTO users (id, createat, updateat, username, password, email, emailverified,
                   nickname, firstname, lastname, roles, locale) VALUES
                   (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'system_user', %s)""",
                (user_id, now, now, username, hash_password(password), email, bool(data.get("email_verified")),
                 data.get("nickname", ""), data.get("first_name", ""), data.get("last_name", ""),
                 data.get("locale") or "en"),
            )
        return self.get_user(user_id)

    def update_user_roles(self, user_id, roles):
        self.get_user(user_id)
        self._query("UPDATE users SET roles = %s, updateat = %s WHERE id = %s",
                    (roles, common.now_ms(), user_id), write=True)

    def _check_password_rules(self, password, min_password_length):
        if len(password) < min_password_length:
            raise AppError("CreateUser", "model.user.is_valid.pwd_lowercase_uppercase_number_symbol.app_error",
                           f"Your password must contain at least {min_password_length} characters.", 400)

    def set_password(self, user_id, password, min_password_length=8):
        self.get_user(user_id)
        self._check_password_rules(password, min_password_length)
        self._query("UPDATE users SET password = %s, updateat = %s WHERE id = %s",
                    (hash_password(password), common.now_ms(), user_id), write=True)

    # sessions (POST /users/login over TCP)
    def login(self, login_id, password):
        row = self._query("SELECT id, password FROM users WHERE (username = %s OR email = %s) AND deleteat = 0",
                          (login_id.lower(), login_id.lower()), one=True)
        if not row or not check_password(password, row[1]):
            raise AppError("login", "api.user.login.invalid_credentials_email_username",
                           "Enter a valid email or username and/or password.", 401)
        user = self.get_user(row[0])
        now = common.now_ms()
        token = common.new_id()
        self._query("INSERT INTO sessions (id, token, createat, expiresat, userid, roles) "
                    "VALUES (%s, %s, %s, %s, %s, %s)",
                    (common.new_id(), token, now, now + SESSION_LENGTH_MS, user["id"], user["roles"]), write=True)
        return user, token

    def get_session(self, token):
        row = self._query("SELECT s.userid, u.roles FROM sessions s JOIN users u ON u.id = s.userid "
                          "WHERE s.token = %s AND s.expiresat > %s AND u.deleteat = 0",
                          (token, common.now_ms()), one=True)
        return {"user_id": row[0], "roles": row[1]} if row else None

    # teams
    def get_team(self, key, by="id"):
        column = {"id": "id", "name": "name"}[by]
        row = self._query(f"SELECT {', '.join(TEAM_COLUMNS)} FROM teams WHERE {column} = %s", (key,), one=True)
        if not row:
            raise AppError("GetTeam", "app.team.get.find.app_error", "Unable to find the existing team.", 404)
        return _row(TEAM_COLUMNS, TEAM_JSON, row)

    def list_teams(self):
        rows = self._query(f"SELECT {', '.join(TEAM_COLUMNS)} FROM teams ORDER BY name")
        return [_row(TEAM_COLUMNS, TEAM_JSON, r) for r in rows]

    def search_teams(self, term):
        term = term.lower()
        return [t for t in self.list_teams()
                if t["name"].startswith(term) or t["display_name"].lower().startswith(term)]

    def create_team(self, data):
        name = data.get("name") or ""
        display = data.get("display_name") or ""
        team_type = data.get("type") or "O"
        if not _valid_team_name(name):
            raise AppError("CreateTeam", "model.team.is_valid.url.app_error",
                           "Team URL must start with a letter or number, and contain between 2 and 64 lowercase "
                           "characters made up of numbers, letters and the symbol \"-\".", 400)
        if not display:
            raise AppError("CreateTeam", "model.team.is_valid.name.app_error", "Invalid name.", 400)
        if team_type not in ("O", "I"):
            raise AppError("CreateTeam", "model.team.is_valid.type.app_error", "Invalid type.", 400)
        team_id = common.new_id()
        now = common.now_ms()
        with self.transaction() as cur:
            cur.execute("SELECT 1 FROM teams WHERE name = %s", (name,))
            if cur.fetchone():
                raise AppError("CreateTeam", "app.team.save.existing.app_error",
                               "A team with that name already exists.", 400)
            cur.execute(
                """INSERT INTO teams (id, createat, updateat, displayname, name, email, type, allowopeninvite)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
                (team_id, now, now, display, name, data.get("email", ""), team_type, team_type == "O"),
            )
        return self.get_team(team_id)

    def add_member(self, team_id, user_id):
        self.get_team(team_id)
        self.get_user(user_id)
        self._query(
            """INSERT INTO teammembers (teamid, userid, roles, createat) VALUES (%s, %s, '', %s)
               ON CONFLICT (teamid, userid) DO UPDATE SET deleteat = 0""",
            (team_id, user_id, common.now_ms()), write=True,
        )
        return self.get_member(team_id, user_id)

    def get_member(self, team_id, user_id):
        row = self._query(
            "SELECT teamid, userid, roles, deleteat, schemeuser, schemeadmin FROM teammembers "
            "WHERE teamid = %s AND userid = %s AND deleteat = 0", (team_id, user_id), one=True)
        if not row:
            raise AppError("GetTeamMember", "app.team.get_member.missing.app_error",
                           "No team member found for that user ID and team ID.", 404)
        return {"team_id": row[0], "user_id": row[1], "roles": row[2], "delete_at": row[3],
                "scheme_user": row[4], "scheme_admin": row[5]}

    # licenses
    def save_license(self, license_id, raw):
        with self.transaction() as cur:
            cur.execute("INSERT INTO licenses (id, createat, bytes) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                        (license_id, common.now_ms(), raw))
            cur.execute(
                "INSERT INTO systems (name, value) VALUES ('ActiveLicenseId', %s) "
                "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value", (license_id,))

    def active_license(self):
        row = self._query(
            "SELECT l.bytes FROM systems s JOIN licenses l ON l.id = s.value WHERE s.name = 'ActiveLicenseId'",
            one=True)
        return row[0] if row else None

    # health check: like DBHealthCheckWrite / DBHealthCheckDelete (a Systems row written and removed)
    def health_check(self, node_id):
        with self.transaction(timeout=2) as cur:
            name = f"health_check_{node_id}"
            cur.execute("INSERT INTO systems (name, value) VALUES (%s, %s) "
                        "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value", (name, str(int(time.time()))))
            cur.execute("DELETE FROM systems WHERE name = %s", (name,))


# --------------------------------------------------------------------------- test licenses

class LicenseError(ValueError):
    pass


def parse_license(raw):
    """A stand-in license: base64 of a JSON document (or the JSON itself). See README.md."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    text = text.strip()
    try:
        if not text.startswith("{"):
            text = base64.b64decode(text, validate=False).decode()
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise LicenseError("Invalid license file.") from exc
    if not isinstance(data, dict) or not isinstance(data.get("features"), dict) or not data.get("id"):
        raise LicenseError("Invalid license file.")
    now = common.now_ms()
    if int(data.get("expires_at", 0)) < now:
        raise LicenseError("Invalid license file.")
    if int(data.get("starts_at", 0)) > now:
        raise LicenseError("Invalid license file.")
    return data
