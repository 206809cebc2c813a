"""Channels, posts and the schema version of the stand-in against real PostgreSQL.

What a backup-restore drill relies on: a team comes with its default channels, a post created
through the local socket reads back by id, unknown ids answer as the real server, and
db_migrations holds the schema version the real server of that version records.
"""

import subprocess
import sys

import pytest
from mattermost_standin.build_release import build_release
from mattermost_standin.fixtures import MattermostProcess, api, configure, install_release

USER = {"username": "drill", "email": "drill@example.com", "password": "Dr1ll-passw0rd"}
UNKNOWN_ID = "q" * 26


@pytest.fixture
def node(installed, tmp_path, database):
    """A running node: (install dir, socket path, server)."""
    port, socket_path = configure(installed, tmp_path, database.dsn())
    server = MattermostProcess(installed).start(port)
    yield installed, socket_path, server
    assert server.stop() == 0


def _team_and_user(socket_path, team_name="staff"):
    status, user, _ = api(socket_path, "POST", "/users", USER)
    assert status == 201, user
    status, team, _ = api(socket_path, "POST", "/teams", {"name": team_name, "display_name": "Staff", "type": "O"})
    assert status == 201, team
    return team, user


def _channel(socket_path, team_id, name):
    status, channel, _ = api(socket_path, "GET", f"/teams/{team_id}/channels/name/{name}")
    assert status == 200, channel
    return channel


def test_a_team_gets_its_default_channels(node, database):
    _, socket_path, _ = node
    team, _ = _team_and_user(socket_path)
    town, off = _channel(socket_path, team["id"], "town-square"), _channel(socket_path, team["id"], "off-topic")
    assert (town["display_name"], off["display_name"]) == ("Town Square", "Off-Topic")
    for channel in (town, off):
        assert (channel["team_id"], channel["type"], channel["creator_id"], channel["delete_at"]) == \
            (team["id"], "O", "", 0)
        assert channel["total_msg_count"] == channel["last_post_at"] == 0
    assert list(town)[:8] == ["id", "create_at", "update_at", "delete_at", "team_id", "type", "display_name", "name"]
    rows = database.query("SELECT name, displayname, type FROM channels WHERE teamid = %s ORDER BY name", (team["id"],))
    assert rows == [("off-topic", "Off-Topic", "O"), ("town-square", "Town Square", "O")]

    status, body, _ = api(socket_path, "GET", f"/teams/{team['id']}/channels/name/lounge")
    assert (status, body["id"], body["message"]) == (404, "app.channel.get_by_name.missing.app_error",
                                                     "Channel does not exist.")
    status, body, _ = api(socket_path, "GET", f"/teams/{team['id']}/channels/name/Town")  # not a channel name
    assert (status, body["id"]) == (400, "api.context.invalid_url_param.app_error")

    # TeamSettings.ExperimentalDefaultChannels replaces off-topic for teams created afterwards.
    assert api(socket_path, "PUT", "/config/patch", {"TeamSettings": {"ExperimentalDefaultChannels": ["lounge"]}})[0] \
        == 200
    _, other, _ = api(socket_path, "POST", "/teams", {"name": "other", "display_name": "Other", "type": "O"})
    assert _channel(socket_path, other["id"], "lounge")["display_name"] == "lounge"
    assert api(socket_path, "GET", f"/teams/{other['id']}/channels/name/off-topic")[0] == 404


def test_a_post_created_through_the_socket_reads_back_by_id(node, database):
    _, socket_path, _ = node
    team, user = _team_and_user(socket_path)
    town = _channel(socket_path, team["id"], "town-square")

    body = {"channel_id": town["id"], "user_id": user["id"], "message": "before the snapshot #drill",
            "pending_post_id": "pending-1"}
    status, post, _ = api(socket_path, "POST", "/posts", body)
    assert status == 201, post
    assert (post["message"], post["user_id"], post["channel_id"]) == (body["message"], user["id"], town["id"])
    assert (post["type"], post["root_id"], post["props"], post["file_ids"], post["hashtags"]) == \
        ("", "", {}, [], "#drill")
    assert post["pending_post_id"] == "pending-1"
    assert post["create_at"] == post["update_at"] > 0 and post["delete_at"] == post["edit_at"] == 0

    status, read, _ = api(socket_path, "GET", f"/posts/{post['id']}")
    assert status == 200, read
    assert read == {**post, "pending_post_id": ""}  # the pending id is echoed once, not stored
    assert database.query("SELECT message, userid, channelid FROM posts WHERE id = %s", (post["id"],)) == \
        [(body["message"], user["id"], town["id"])]

    # The channel's counters move with the post (the real post store updates Channels).
    town = _channel(socket_path, team["id"], "town-square")
    assert (town["total_msg_count"], town["total_msg_count_root"]) == (1, 1)
    assert town["last_post_at"] == town["last_root_post_at"] == post["create_at"]

    # A reply, then the channel's page: newest first.
    status, reply, _ = api(socket_path, "POST", "/posts", {"channel_id": town["id"], "user_id": user["id"],
                                                           "message": "a reply", "root_id": post["id"]})
    assert status == 201, reply
    assert api(socket_path, "GET", f"/posts/{post['id']}")[1]["reply_count"] == 1
    status, page, _ = api(socket_path, "GET", f"/channels/{town['id']}/posts")
    assert status == 200, page
    assert page["order"] == [reply["id"], post["id"]]
    assert set(page["posts"]) == {reply["id"], post["id"]}
    assert (page["next_post_id"], page["prev_post_id"]) == ("", "")
    status, first, _ = api(socket_path, "GET", f"/channels/{town['id']}/posts?per_page=1")
    assert (first["order"], first["prev_post_id"]) == ([reply["id"]], post["id"])
    assert set(first["posts"]) == {reply["id"], post["id"]}  # the reply's root comes along


def test_unknown_and_missing_ids_answer_as_the_real_server(node):
    _, socket_path, _ = node
    team, user = _team_and_user(socket_path)
    town = _channel(socket_path, team["id"], "town-square")

    status, body, _ = api(socket_path, "GET", f"/posts/{UNKNOWN_ID}")
    assert (status, body["id"], body["message"]) == (404, "app.post.get.app_error", "Unable to get the post.")
    status, body, _ = api(socket_path, "GET", "/posts/abc")
    assert (status, body["id"]) == (400, "api.context.invalid_url_param.app_error")

    cases = [
        ({"user_id": user["id"], "message": "x"}, 400, "api.context.invalid_param.app_error",
         "Invalid post.channel_id parameter."),
        ({"channel_id": UNKNOWN_ID, "user_id": user["id"], "message": "x"}, 400,
         "api.context.invalid_param.app_error", "Invalid post.channel_id parameter."),
        ({"channel_id": town["id"], "message": "x"}, 400, "api.context.invalid_body_param.app_error",
         "Invalid or missing user_id in request body."),
        ({"channel_id": town["id"], "user_id": UNKNOWN_ID, "message": "x"}, 404, "app.user.missing_account.const",
         "Unable to find the user."),
        ({"channel_id": town["id"], "user_id": user["id"], "message": "x", "type": "system_join_team"}, 400,
         "api.context.invalid_param.app_error", "Invalid post.type parameter."),
        ({"channel_id": town["id"], "user_id": user["id"], "message": "x", "root_id": UNKNOWN_ID}, 400,
         "api.post.create_post.root_id.app_error", "Invalid RootId parameter."),
        ({"channel_id": town["id"], "user_id": user["id"], "message": 5}, 400,
         "api.context.invalid_body_param.app_error", "Invalid or missing post in request body."),
    ]
    for request, status, error_id, message in cases:
        got, body, _ = api(socket_path, "POST", "/posts", request)
        assert (got, body["id"], body["message"]) == (status, error_id, message), request

    status, body, _ = api(socket_path, "GET", f"/channels/{UNKNOWN_ID}/posts")
    assert (status, body["id"]) == (404, "app.channel.get.existing.app_error")
    status, body, _ = api(socket_path, "GET", f"/channels/{town['id']}/posts?since=1")  # not imitated: README
    assert (status, body["id"]) == (404, "api.context.404.app_error")


def test_db_migrations_hold_the_schema_version(installed, tmp_path, database):
    port, _ = configure(installed, tmp_path, database.dsn())
    columns = None
    for _ in range(2):  # a restart records nothing twice
        server = MattermostProcess(installed).start(port)
        assert server.stop() == 0
        assert database.query("SELECT Version FROM db_migrations ORDER BY Version DESC LIMIT 1") == [(171,)]
        assert database.query("SELECT count(*), count(DISTINCT version) FROM db_migrations") == [(167, 167)]
        columns = database.query("SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                                 "WHERE table_name = 'db_migrations' ORDER BY ordinal_position")
    assert columns == [("version", "bigint", "NO"), ("name", "character varying", "NO")]
    assert database.query("SELECT name FROM db_migrations WHERE version IN (1, 171) ORDER BY version") == \
        [("create_teams",), ("drop_property_fields_protected_index",)]

    mattermost = [sys.executable, str(installed / "bin" / "mattermost"), "db"]
    run = subprocess.run([*mattermost, "version"], cwd=installed, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "Current database schema version is: 171\n" in run.stdout
    run = subprocess.run([*mattermost, "version", "--all"], cwd=installed, capture_output=True, text=True, timeout=60)
    listed = [line for line in run.stdout.splitlines() if line.startswith("Varsion: ")]
    assert listed[0] == "Varsion: 171, Name: drop_property_fields_protected_index"
    assert listed[-1] == "Varsion: 1, Name: create_teams" and len(listed) == 167
    run = subprocess.run([*mattermost, "migrate"], cwd=installed, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "Database successfully migrated\n" in run.stdout


def test_a_release_built_to_fail_cannot_start_but_migrates_the_schema_of_its_version(tmp_path, database):
    """The upgrade tests' broken release (build_release start_failure): its server exits 1 before it
    listens, while `mattermost db migrate` applies its version's migrations (11.8: 168 to 170 too)."""
    broken = build_release("11.8.1", tmp_path / "release", start_failure="a reason of the test")
    installed = install_release(broken, tmp_path / "node")
    port, _ = configure(installed, tmp_path, database.dsn())
    run = subprocess.run([sys.executable, str(installed / "bin" / "mattermost"), "db", "migrate"], cwd=installed,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "Database successfully migrated\n" in run.stdout, run.stderr
    assert database.query("SELECT version FROM db_migrations WHERE version BETWEEN 168 AND 170") == \
        [(168,), (169,), (170,)]
    server = MattermostProcess(installed).start(port, wait=False)
    code, output = server.wait_exit()
    assert code == 1
    assert "Failed to start server" in output and "a reason of the test" in output
    assert "Server is started" not in output
