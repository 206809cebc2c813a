"""bin/mmctl of the stand-in: the local-mode commands the roles use, with mmctl's messages and exit codes."""

import http.client
import json
import os
import socket
import stat
import sys
import uuid
from pathlib import Path

from . import common

DEFAULT_SOCKET = "/var/tmp/mattermost_local.socket"
LOCAL_ONLY = "this command is only available in local mode. Please set the --local flag"


class CommandError(Exception):
    pass


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.socket_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


class ServerError(Exception):
    def __init__(self, status, body):
        self.status = status
        self.body = body if isinstance(body, dict) else {}
        super().__init__(self.body.get("message") or f"HTTP {status}")

    def __str__(self):
        # model.AppError.Error() as a client sees it ("Where" is not sent): message[, detailed_error]
        message = self.body.get("message", f"HTTP {self.status}")
        detail = self.body.get("detailed_error", "")
        return message + (f", {detail}" if detail else "")


class LocalClient:
    def __init__(self, path):
        self.path = path

    def request(self, method, url, body=None, content_type="application/json"):
        conn = UnixHTTPConnection(self.path)
        try:
            data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
            headers = {"Content-Type": content_type, "User-Agent": f"mmctl/{common.version()} (linux)"}
            conn.request(method, url, body=data, headers=headers)
            response = conn.getresponse()
            payload = response.read()
        except OSError as exc:
            raise CommandError(f'{method} "http://_{url}": dial unix {self.path}: {exc.strerror or exc}') from exc
        finally:
            conn.close()
        try:
            decoded = json.loads(payload or b"null")
        except ValueError:
            decoded = None
        if response.status >= 400:
            raise ServerError(response.status, decoded)
        return decoded

    def get_or_none(self, url):
        try:
            return self.request("GET", url)
        except ServerError as err:
            if err.status in (400, 404):
                return None
            raise


def check_valid_socket(path):
    """Like mmctl's checkValidSocket: the socket exists, is 0600 and belongs to the user (or root runs mmctl)."""
    try:
        info = os.stat(path)
    except FileNotFoundError as exc:
        raise CommandError(
            f'socket file "{path}" doesn\'t exists, please check the server configuration for local mode') from exc
    if not stat.S_ISSOCK(info.st_mode) or stat.S_IMODE(info.st_mode) != 0o600:
        raise CommandError(f'invalid file mode for file "{path}", it must be a socket with 0600 permissions')
    if info.st_uid != os.getuid() and os.getuid() != 0:
        raise CommandError(f'owner of the file "{path}" must be the same user running mmctl')


def credentials_path():
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "mmctl" / "config"


# --------------------------------------------------------------------------- argument handling

GLOBAL_BOOL = {"--local", "--json", "--strict", "--suppress-warnings", "--quiet", "--disable-pager",
               "--insecure-sha1-intermediate", "--insecure-tls-version", "--skip-version-check"}
GLOBAL_VALUE = {"--format", "--config"}


def split_args(argv):
    """Pull global flags out from anywhere on the command line (cobra persistent flags)."""
    flags, rest = {}, []
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if name in GLOBAL_BOOL:
            flags[name] = value.lower() != "false" if eq else True
        elif name in GLOBAL_VALUE:
            if eq:
                flags[name] = value
            else:
                flags[name] = argv[i + 1] if i + 1 < len(argv) else ""
                i += 1
        else:
            rest.append(arg)
        i += 1
    return flags, rest


def parse_flags(args, bools=(), values=()):
    """cobra-style flags: --name value, --name=value, booleans; returns (flags, positionals)."""
    flags, positionals = {}, []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            key = name.replace("-", "_")
            if name in bools or key in bools:
                flags[key] = value.lower() != "false" if eq else True
            elif name in values or key in values:
                if eq:
                    flags[key] = value
                elif i + 1 < len(args):
                    flags[key] = args[i + 1]
                    i += 1
                else:
                    raise CommandError(f"flag needs an argument: --{name}")
            else:
                raise CommandError(f"unknown flag: --{name}")
        else:
            positionals.append(arg)
        i += 1
    return flags, positionals


# --------------------------------------------------------------------------- output

class Printer:
    def __init__(self, as_json):
        self.as_json = as_json
        self.items = []

    def out(self, text, obj=None):
        if self.as_json:
            self.items.append(obj if obj is not None else text)
        else:
            print(text)

    def flush(self):
        if self.as_json and self.items:
            print(json.dumps(self.items[0] if len(self.items) == 1 else self.items, indent=2))


def error(text):
    print(text, file=sys.stderr)


def multierror(messages):
    """hashicorp/go-multierror's format, which mmctl returns for per-argument failures."""
    head = "1 error occurred:" if len(messages) == 1 else f"{len(messages)} errors occurred:"
    return head + "\n" + "".join(f"\t* {m}\n" for m in messages)


# --------------------------------------------------------------------------- commands

def find_user(client, arg):
    if ".." not in arg:
        user = client.get_or_none(f"/api/v4/users/email/{arg}")
        if user:
            return user
    if "/" not in arg:
        user = client.get_or_none(f"/api/v4/users/username/{arg}")
        if user:
            return user
        if len(arg) == 26:
            return client.get_or_none(f"/api/v4/users/{arg}")
    return None


def find_team(client, arg):
    team = client.get_or_none(f"/api/v4/teams/{arg}") if len(arg) == 26 else None
    return team or client.get_or_none(f"/api/v4/teams/name/{arg}")


USER_TEMPLATE = ("id: {id}\nusername: {username}\nnickname: {nickname}\nposition: {position}\n"
                 "first_name: {first_name}\nlast_name: {last_name}\nemail: {email}\nauth_service: {auth_service}")


def cmd_config_migrate(client, printer, args):
    _, pos = parse_flags(args)
    if len(pos) != 2:
        raise CommandError(f"accepts 2 arg(s), received {len(pos)}")
    client.request("POST", "/api/v4/config/migrate", {"from": pos[0], "to": pos[1]})


def cmd_config_show(client, printer, args):
    print(json.dumps(client.request("GET", "/api/v4/config"), indent=2))


def cmd_config_get(client, printer, args):
    _, pos = parse_flags(args)
    if len(pos) != 1:
        raise CommandError(f"accepts 1 arg(s), received {len(pos)}")
    value = client.request("GET", "/api/v4/config")
    for part in pos[0].split("."):
        if not isinstance(value, dict) or part not in value:
            raise CommandError("invalid key")
        value = value[part]
    print(json.dumps(value, indent=2))


def cmd_user_create(client, printer, args):
    flags, _ = parse_flags(
        args, bools={"system_admin", "system-admin", "email_verified", "email-verified", "guest",
                     "disable-welcome-email", "disable_welcome_email"},
        values={"email", "username", "password", "nickname", "firstname", "lastname", "locale"})
    for required in ("username", "email", "password"):
        if not flags.get(required):
            raise CommandError(f'required flag(s) "{required}" not set')
    payload = {"username": flags["username"], "email": flags["email"], "password": flags["password"],
               "nickname": flags.get("nickname", ""), "first_name": flags.get("firstname", ""),
               "last_name": flags.get("lastname", ""), "locale": flags.get("locale", ""),
               "email_verified": bool(flags.get("email_verified"))}
    try:
        user = client.request("POST", "/api/v4/users", payload)
    except ServerError as err:
        raise CommandError(f"Unable to create user. Error: {err}") from err
    if flags.get("system_admin"):
        try:
            client.request("PUT", f"/api/v4/users/{user['id']}/roles", {"roles": "system_user system_admin"})
        except ServerError as err:
            raise CommandError(f"Unable to update user roles. Error: {err}") from err
    printer.out(f"Created user {user['username']}", user)


def cmd_user_search(client, printer, args):
    _, pos = parse_flags(args)
    if not pos:
        raise CommandError("expected at least one argument. See help text for details")
    found, missing = [], []
    for arg in pos:
        user = find_user(client, arg)
        (found if user else missing).append(user or arg)
    if missing:
        text = multierror([f"user {m} not found" for m in missing])
        error(text)
        raise CommandError(text)
    for i, user in enumerate(found):
        text = USER_TEMPLATE.format(**{k: (v if v is not None else "") for k, v in user.items()})
        printer.out(("------------------------------\n" if i else "") + text, user)


def cmd_user_list(client, printer, args):
    flags, _ = parse_flags(args, bools={"all", "inactive"}, values={"page", "per-page", "team"})
    query = f"page={int(flags.get('page', 0))}&per_page={int(flags.get('per_page', 200))}"
    if flags.get("team"):
        team = client.get_or_none(f"/api/v4/teams/name/{flags['team']}")
        if not team:
            raise CommandError(f"Failed to get team {flags['team']}: Unable to find the existing team.")
        query += f"&in_team={team['id']}"
    for user in client.request("GET", f"/api/v4/users?{query}"):
        printer.out(f"{user['id']}: {user['username']} ({user['email']})", user)


def cmd_team_create(client, printer, args):
    flags, _ = parse_flags(args, bools={"private"}, values={"name", "display-name", "display_name", "email"})
    if not flags.get("name"):
        raise CommandError("name is required")
    if not flags.get("display_name"):
        raise CommandError("display Name is required")
    payload = {"name": flags["name"], "display_name": flags["display_name"], "email": flags.get("email", ""),
               "type": "I" if flags.get("private") else "O"}
    try:
        team = client.request("POST", "/api/v4/teams", payload)
    except ServerError as err:
        raise CommandError(f"Team creation failed: {err}") from err
    printer.out(f"New team {team['name']} successfully created", team)


def cmd_team_list(client, printer, args):
    for team in client.request("GET", "/api/v4/teams"):
        printer.out(team["name"] + (" (archived)" if team["delete_at"] else ""), team)


def cmd_team_search(client, printer, args):
    teams = {}
    for term in args:
        found = client.request("POST", "/api/v4/teams/search", {"term": term})
        if not found:
            error(f"Unable to find team '{term}'")
            continue
        for team in found:
            teams[team["name"]] = team
    for name in sorted(teams):
        team = teams[name]
        printer.out(f"{team['name']}: {team['display_name']} ({team['id']})", team)


def cmd_team_users_add(client, printer, args):
    _, pos = parse_flags(args)
    if len(pos) < 2:
        raise CommandError(f"requires at least 2 arg(s), only received {len(pos)}")
    team = find_team(client, pos[0])
    if not team:
        raise CommandError(f"Unable to find team '{pos[0]}'")
    failures = []
    for arg in pos[1:]:
        user = find_user(client, arg)
        if not user:
            failures.append(f"can't find user '{arg}'")
            error(failures[-1])
            continue
        try:
            client.request("POST", f"/api/v4/teams/{team['id']}/members",
                           {"team_id": team["id"], "user_id": user["id"]})
        except ServerError as err:
            # Like mmctl's addUserToTeam: printed, but not counted in the exit code.
            error(f"Unable to add '{arg}' to {team['name']}. Error: {err}")
    if failures:
        raise CommandError(multierror(failures))


def cmd_license_upload(client, printer, args):
    _, pos = parse_flags(args)
    if len(pos) != 1:
        raise CommandError("enter one license file to upload")
    try:
        data = Path(pos[0]).read_bytes()
    except OSError as exc:
        raise CommandError(f"open {pos[0]}: {exc.strerror}") from exc
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"license\"; filename=\"{Path(pos[0]).name}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    client.request("POST", "/api/v4/license", body, content_type=f"multipart/form-data; boundary={boundary}")
    printer.out("Uploaded license file")


def cmd_system_version(client, printer, args):
    conn = UnixHTTPConnection(client.path)
    try:
        conn.request("GET", "/api/v4/system/ping")
        response = conn.getresponse()
        response.read()
    except OSError as exc:
        raise CommandError(f"unable to fetch server version: {exc}") from exc
    finally:
        conn.close()
    # Client4 reports the whole X-Version-Id header as the server version.
    version = response.getheader("X-Version-Id") or ""
    printer.out(f"Server version {version}", {"version": version})


SYSTEM_STATUS = """Server status: {status}
Android Latest Version: {AndroidLatestVersion}
Android Minimum Version: {AndroidMinVersion}
Desktop Latest Version: {DesktopLatestVersion}
Desktop Minimum Version: {DesktopMinVersion}
Ios Latest Version: {IosLatestVersion}
Ios Minimum Version: {IosMinVersion}
Database Status: {database_status}
Filestore Status: {filestore_status}"""


def cmd_system_status(client, printer, args):
    status = client.request("GET", "/api/v4/system/ping?get_server_status=true&use_rest_semantics=true")
    fields = {key: "<no value>" for key in ("AndroidLatestVersion", "AndroidMinVersion", "DesktopLatestVersion",
                                             "DesktopMinVersion", "IosLatestVersion", "IosMinVersion")}
    fields.update(status)
    printer.out(SYSTEM_STATUS.format(**fields), status)
    # Newer mmctl exits non-zero when a component is unhealthy.
    if status.get("status") != "OK":
        raise CommandError(f"server status is unhealthy: {status.get('status')}")
    for key, label in (("database_status", "database"), ("filestore_status", "filestore")):
        if status.get(key, "OK") != "OK":
            raise CommandError(f"{label} status is unhealthy: {status[key]}")


COMMANDS = {
    ("system", "version"): cmd_system_version,
    ("system", "status"): cmd_system_status,
    ("config", "migrate"): cmd_config_migrate,
    ("config", "show"): cmd_config_show,
    ("config", "get"): cmd_config_get,
    ("user", "create"): cmd_user_create,
    ("user", "search"): cmd_user_search,
    ("user", "list"): cmd_user_list,
    ("team", "create"): cmd_team_create,
    ("team", "list"): cmd_team_list,
    ("team", "search"): cmd_team_search,
    ("team", "users", "add"): cmd_team_users_add,
    ("license", "upload"): cmd_license_upload,
}


def print_version():
    version = common.version()
    print(f"mmctl:\nVersion:\t{version}\nBuiltDate:\tn/a\nCommitDate:\tn/a\nGitCommit:\tstandin\n"
          "GitTreeState:\tclean\nGoVersion:\tn/a (stand-in)\nCompiler:\tgc\nPlatform:\tlinux/amd64")


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    global_flags, rest = split_args(argv)
    if not rest or rest[0] in ("help", "-h", "--help"):
        print("mmctl (Mattermost stand-in): " + ", ".join(" ".join(k) for k in COMMANDS) + ", version")
        return 0
    if rest[0] == "version":
        print_version()
        return 0
    command, handler = None, None
    for length in (3, 2):
        key = tuple(rest[:length])
        if key in COMMANDS:
            command, handler = key, COMMANDS[key]
            break
    if handler is None:
        print(f'Error: unknown command "{" ".join(rest[:2])}" for "mmctl"', file=sys.stderr)
        return 1
    args = rest[len(command):]
    printer = Printer(global_flags.get("--json") or global_flags.get("--format") == "json")
    try:
        if not global_flags.get("--local"):
            # withClient: without --local, mmctl needs saved credentials before anything else.
            creds = credentials_path()
            if not creds.exists():
                raise CommandError("cannot read user credentials, maybe you need to use login first: "
                                   f"stat {creds}: no such file or directory")
            if command == ("config", "migrate"):
                raise CommandError(LOCAL_ONLY)
            raise CommandError("the Mattermost stand-in's mmctl only works with --local")
        socket_path = os.environ.get("MMCTL_LOCAL_SOCKET_PATH") or DEFAULT_SOCKET
        check_valid_socket(socket_path)
        handler(LocalClient(socket_path), printer, args)
        printer.flush()
    except ServerError as err:
        print(f"Error: {err}", file=sys.stderr)
        return 1
    except CommandError as err:
        print(f"Error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
