"""Application data of the stand-in in PostgreSQL: users, teams, members, channels, posts,
licenses, cluster nodes, and the schema migrations a real server of this version has applied.

Table and column names follow the real schema where that costs nothing (Users, Teams,
TeamMembers, Channels, Posts, Licenses, Systems, ClusterDiscovery, db_migrations; PostgreSQL
folds them to lower case). Passwords are hashed with scrypt (the real server uses bcrypt,
which the stdlib lacks).
"""

import base64
import contextlib
import hashlib
import json
import re
import secrets
import threading
import time

from . import common, migrations

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
    # The enum of migration 000090_create_enums (the values of the versions the stand-in claims).
    """DO $$ BEGIN
        IF to_regtype('channel_type') IS NULL THEN
            CREATE TYPE channel_type AS ENUM ('P', 'G', 'O', 'D');
        END IF;
    END $$""",
    """CREATE TABLE IF NOT EXISTS channels (
        id VARCHAR(26) PRIMARY KEY, createat BIGINT, updateat BIGINT, deleteat BIGINT DEFAULT 0,
        teamid VARCHAR(26), type channel_type, displayname VARCHAR(64), name VARCHAR(64),
        header VARCHAR(1024) DEFAULT '', purpose VARCHAR(250) DEFAULT '', lastpostat BIGINT DEFAULT 0,
        totalmsgcount BIGINT DEFAULT 0, extraupdateat BIGINT DEFAULT 0, creatorid VARCHAR(26) DEFAULT '',
        schemeid VARCHAR(26), groupconstrained BOOLEAN, shared BOOLEAN, totalmsgcountroot BIGINT DEFAULT 0,
        lastrootpostat BIGINT DEFAULT 0, bannerinfo JSONB, defaultcategoryname VARCHAR(64) NOT NULL DEFAULT '',
        autotranslation BOOLEAN DEFAULT FALSE, UNIQUE (name, teamid)
    )""",
    """CREATE TABLE IF NOT EXISTS posts (
        id VARCHAR(26) PRIMARY KEY, createat BIGINT, updateat BIGINT, deleteat BIGINT DEFAULT 0,
        userid VARCHAR(26), channelid VARCHAR(26), rootid VARCHAR(26) DEFAULT '', originalid VARCHAR(26) DEFAULT '',
        message VARCHAR(65535), type VARCHAR(26) DEFAULT '', props JSONB, hashtags VARCHAR(1000) DEFAULT '',
        filenames VARCHAR(4000) DEFAULT '[]', fileids VARCHAR(300) DEFAULT '[]', hasreactions BOOLEAN DEFAULT FALSE,
        editat BIGINT DEFAULT 0, ispinned BOOLEAN DEFAULT FALSE, remoteid VARCHAR(26)
    )""",
    "CREATE INDEX IF NOT EXISTS idx_posts_channel_id_update_at ON posts (channelid, updateat)",
    # Exactly as morph (drivers/postgres) creates its table, named as Mattermost configures it.
    "CREATE TABLE IF NOT EXISTS db_migrations (version bigint not null primary key, name varchar not null)",
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


def ensure_app_schema(conn, server_version=None):
    """Create the tables; record the schema migrations a real server of server_version has applied.

    Returns the migrations recorded ([(version, name)]), or None when the stand-in does not know
    them for that version (db_migrations is then left as it is).
    """
    applied = migrations.for_version(server_version or common.version())
    with conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (4242424244,))
        for statement in APP_SCHEMA:
            cur.execute(statement)
        if applied:
            # morph inserts one row per migration it applies; a restart finds them there.
            cur.executemany("INSERT INTO db_migrations (version, name) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                            applied)
    return applied


def schema_version(conn):
    """SqlStore.GetDBSchemaVersion: the highest applied migration, or None when there is none."""
    with conn, conn.cursor() as cur:
        cur.execute("SELECT Version FROM db_migrations ORDER BY Version DESC LIMIT 1")
        row = cur.fetchone()
    return row[0] if row else None


def applied_migrations(conn):
    """SqlStore.GetAppliedMigrations: [(version, name)], newest first."""
    with conn, conn.cursor() as cur:
        cur.execute("SELECT Version, Name FROM db_migrations ORDER BY Version DESC")
        return cur.fetchall()


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
CHANNEL_COLUMNS = ["id", "createat", "updateat", "deleteat", "teamid", "type", "displayname", "name", "header",
                   "purpose", "lastpostat", "totalmsgcount", "extraupdateat", "creatorid", "schemeid",
                   "groupconstrained", "autotranslation", "shared", "totalmsgcountroot", "lastrootpostat",
                   "bannerinfo", "defaultcategoryname"]
POST_COLUMNS = ["id", "createat", "updateat", "editat", "deleteat", "ispinned", "userid", "channelid", "rootid",
                "originalid", "message", "type", "props", "hashtags", "fileids", "hasreactions", "remoteid"]
# Default channel display names (i18n api.channel.create_default_channels.*); other names show as themselves.
DEFAULT_CHANNEL_DISPLAY_NAMES = {"town-square": "Town Square", "off-topic": "Off-Topic"}


def default_channel_names(experimental_default_channels=None):
    """App.DefaultChannelNames: town-square, then off-topic or TeamSettings.ExperimentalDefaultChannels."""
    names = ["town-square"]
    if not experimental_default_channels:
        return [*names, "off-topic"]
    for name in experimental_default_channels:
        if name not in names:
            names.append(name)
    return names


def channel_json(row):
    """model.Channel as the API encodes it (field order of the struct)."""
    c = dict(zip(CHANNEL_COLUMNS, row, strict=True))
    return {
        "id": c["id"], "create_at": c["createat"], "update_at": c["updateat"], "delete_at": c["deleteat"],
        "team_id": c["teamid"], "type": c["type"], "display_name": c["displayname"], "name": c["name"],
        "header": c["header"], "purpose": c["purpose"], "last_post_at": c["lastpostat"],
        "total_msg_count": c["totalmsgcount"], "extra_update_at": c["extraupdateat"], "creator_id": c["creatorid"],
        "scheme_id": c["schemeid"], "props": None, "group_constrained": c["groupconstrained"],
        "autotranslation": bool(c["autotranslation"]), "shared": c["shared"],
        "total_msg_count_root": c["totalmsgcountroot"], "policy_id": None, "last_root_post_at": c["lastrootpostat"],
        "banner_info": c["bannerinfo"], "policy_enforced": False, "default_category_name": c["defaultcategoryname"],
    }


def post_json(row, reply_count=0):
    """model.Post as the API encodes it after PreparePostForClient (field order of the struct)."""
    p = dict(zip(POST_COLUMNS, row, strict=True))
    body = {
        "id": p["id"], "create_at": p["createat"], "update_at": p["updateat"], "edit_at": p["editat"],
        "delete_at": p["deleteat"], "is_pinned": p["ispinned"], "user_id": p["userid"], "channel_id": p["channelid"],
        "root_id": p["rootid"], "original_id": p["originalid"], "message": p["message"], "type": p["type"],
        "props": p["props"] if p["props"] is not None else {}, "hashtags": p["hashtags"],
        "file_ids": json.loads(p["fileids"] or "[]"), "pending_post_id": "",
    }
    if p["hasreactions"]:
        body["has_reactions"] = True
    if p["remoteid"] is not None:
        body["remote_id"] = p["remoteid"]
    body.update({"reply_count": reply_count, "last_reply_at": 0, "participants": None, "metadata": {}})
    return body


# model.ParseHashtags, with Go's \pL as "a word character that is neither a digit nor _".
_PUNC_START = re.compile(r"^(?:[^\w\s#]|_)+")
_PUNC_END = re.compile(r"(?:[^\w\s]|_)+$")
_HASHTAG_START = re.compile(r"^#{2,}")
_VALID_HASHTAG = re.compile(r"^#[^\W\d_][\w\-.]*[^\W_]$")


def parse_hashtags(text):
    found = []
    for word in text.split():
        word = _HASHTAG_START.sub("#", _PUNC_END.sub("", _PUNC_START.sub("", word)))
        if _VALID_HASHTAG.match(word):
            found.append(word)
    hashtags = " ".join(found)
    if len(hashtags) + 1 > 1000:  # the real one cuts " #a #b ..." at 999 and drops the partial word
        cut = (" " + hashtags)[:999]
        hashtags = cut[:cut.rfind(" ")].strip() if " " in cut else ""
    return hashtags


def is_valid_id(value):
    """model.IsValidId: 26 letters or digits."""
    return isinstance(value, str) and len(value) == 26 and value.isalnum()


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

    def create_team(self, data, experimental_default_channels=None):
        """App.CreateTeam: the team, then its default channels (TeamService.createDefaultChannels).

        The channels are saved straight to the store, as the real team service does: no creator,
        no members (local mode has no user to add; a member added later is not joined to them,
        see the README).
        """
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
            for channel_name in default_channel_names(experimental_default_channels):
                cur.execute(
                    """INSERT INTO channels (id, createat, updateat, deleteat, teamid, type, displayname, name,
                       header, purpose, creatorid) VALUES (%s, %s, %s, 0, %s, 'O', %s, %s, '', '', '')""",
                    (common.new_id(), now, now, team_id,
                     DEFAULT_CHANNEL_DISPLAY_NAMES.get(channel_name, channel_name), channel_name),
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

    # channels
    def get_channel(self, channel_id, where="GetChannel"):
        row = self._query(f"SELECT {', '.join(CHANNEL_COLUMNS)} FROM channels WHERE id = %s", (channel_id,),
                          one=True)
        if not row:
            raise AppError(where, "app.channel.get.existing.app_error", "Unable to find the existing channel.", 404)
        return channel_json(row)

    def get_channel_by_name(self, team_id, name, include_deleted=False):
        """App.GetChannelByName: 404 app.channel.get_by_name.missing.app_error when there is none."""
        sql = f"SELECT {', '.join(CHANNEL_COLUMNS)} FROM channels WHERE teamid = %s AND name = %s"
        if not include_deleted:
            sql += " AND deleteat = 0"
        row = self._query(sql, (team_id, name), one=True)
        if not row:
            raise AppError("GetChannelByName", "app.channel.get_by_name.missing.app_error",
                           "Channel does not exist.", 404)
        return channel_json(row)

    # posts
    _REPLY_COUNT = ("(SELECT COUNT(*) FROM posts r WHERE r.rootid = "
                    "(CASE WHEN p.rootid = '' THEN p.id ELSE p.rootid END) AND r.deleteat = 0)")

    def _posts(self, where, args):
        columns = ", ".join("p." + c for c in POST_COLUMNS)
        rows = self._query(f"SELECT {columns}, {self._REPLY_COUNT} FROM posts p WHERE {where}", args)
        return [post_json(r[:-1], reply_count=r[-1]) for r in rows]

    def get_post(self, post_id):
        """App.GetSinglePost: 404 app.post.get.app_error for an unknown (or deleted) post."""
        found = self._posts("p.id = %s AND p.deleteat = 0", (post_id,))
        if not found:
            raise AppError("GetSinglePost", "app.post.get.app_error", "Unable to get the post.", 404)
        return found[0]

    def create_post(self, post):
        """App.CreatePost for a validated post: saved, the channel's counters moved (post_store SaveMultiple).

        post: user_id, channel_id, message, root_id, type, props, create_at (0: now). Post.SanitizeProps
        drops add_channel_member and force_notification. file_ids end up empty: the stand-in has no
        files, and attachFilesToPost keeps only the ids of files it could attach.
        """
        props = {k: v for k, v in (post.get("props") or {}).items()
                 if k not in ("add_channel_member", "force_notification")}
        post_id = common.new_id()
        create_at = post.get("create_at") or common.now_ms()
        root_id = post.get("root_id") or ""
        with self.transaction() as cur:
            if root_id:
                cur.execute("SELECT channelid, rootid FROM posts WHERE id = %s AND deleteat = 0", (root_id,))
                parent = cur.fetchone()
                if not parent or parent[1]:
                    raise AppError("createPost", "api.post.create_post.root_id.app_error",
                                   "Invalid RootId parameter.", 400)
                if parent[0] != post["channel_id"]:
                    # CreatePostAsUser turns this 500 of CreatePost into a 400.
                    raise AppError("createPost", "api.post.create_post.channel_root_id.app_error",
                                   "Invalid ChannelId for RootId parameter.", 400)
            cur.execute(
                """INSERT INTO posts (id, createat, updateat, editat, deleteat, ispinned, userid, channelid, rootid,
                   originalid, message, type, props, hashtags, filenames, fileids, hasreactions, remoteid)
                   VALUES (%s, %s, %s, 0, 0, FALSE, %s, %s, %s, '', %s, %s, %s, %s, '[]', %s, FALSE, '')""",
                (post_id, create_at, create_at, post["user_id"], post["channel_id"], root_id, post.get("message", ""),
                 post.get("type", ""), json.dumps(props), parse_hashtags(post.get("message", "")),
                 "[]"),
            )
            cur.execute(
                """UPDATE channels SET lastpostat = GREATEST(lastpostat, %s), totalmsgcount = totalmsgcount + 1,
                   lastrootpostat = CASE WHEN %s THEN GREATEST(lastrootpostat, %s) ELSE lastrootpostat END,
                   totalmsgcountroot = totalmsgcountroot + CASE WHEN %s THEN 1 ELSE 0 END WHERE id = %s""",
                (create_at, not root_id, create_at, not root_id, post["channel_id"]),
            )
        return self.get_post(post_id)

    def channel_posts(self, channel_id, page, per_page):
        """App.GetPostsPage (no threads collapsed): {order, posts} newest first, with the roots of the replies.

        Also the cursors AddCursorIdsForPostList sets without before/after/since: the post right
        after the first and right before the last of the page, or "".
        """
        page_posts = self._posts("p.channelid = %s AND p.deleteat = 0 ORDER BY p.createat DESC, p.id DESC "
                                 "LIMIT %s OFFSET %s", (channel_id, int(per_page), int(page) * int(per_page)))
        posts = {p["id"]: p for p in page_posts}
        roots = sorted({p["root_id"] for p in page_posts if p["root_id"] and p["root_id"] not in posts})
        for root in roots:
            for found in self._posts("p.id = %s", (root,)):
                posts[found["id"]] = found
        next_id = prev_id = ""
        if page_posts:
            after = self._query("SELECT id FROM posts WHERE channelid = %s AND createat > %s AND deleteat = 0 "
                                "ORDER BY createat ASC LIMIT 1", (channel_id, page_posts[0]["create_at"]), one=True)
            before = self._query("SELECT id FROM posts WHERE channelid = %s AND createat < %s AND deleteat = 0 "
                                 "ORDER BY createat DESC LIMIT 1", (channel_id, page_posts[-1]["create_at"]), one=True)
            next_id, prev_id = (after or [""])[0], (before or [""])[0]
        return {"order": [p["id"] for p in page_posts], "posts": posts, "next_post_id": next_id,
                "prev_post_id": prev_id, "first_inaccessible_post_time": 0}

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
