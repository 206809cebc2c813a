"""Every route the stand-in's local-mode socket serves is one the real server's local mode registers.

The reference is section 1 of tests/mattermost_standin/reference/mattermost-local-api.md (a copy
of /work/shared/reference, read in Mattermost's api4/*_local.go): its table, and the list of
"Other local routes" under it, where the post, bot, command, webhook, role, LDAP, upload and
import/export routes are. The feature-flagged families at the end of that list are left out:
the stand-in serves none of them. No database needed.
"""

import re
from pathlib import Path

import pytest
from mattermost_standin.standin import migrations, server

REFERENCE = Path(server.__file__).resolve().parents[1] / "reference" / "mattermost-local-api.md"


def _normalize(path):
    return re.sub(r"\{\w+\}", "{}", path)


def _section_one():
    text = REFERENCE.read_text()
    return text[text.index("## 1. Every route registered in local mode"):text.index("## 2. ")]


def _expand(cell, previous=None):
    """'/a/{x}, .../{x}/b (remark)' or '/a and /b' -> full paths; '.../c' is relative to the path before it."""
    cell = re.sub(r"\([^)]*\)", "", cell.replace("**", ""))
    paths = []
    for part in (p.strip() for p in re.split(r",| and ", cell)):
        if part.startswith(".../"):
            rest = part[4:]
            head = "/" + rest.split("/")[0]
            if paths and head in paths[-1]:  # '/a/{c}, .../{c}/name/{n}': from the segment of that name
                part = paths[-1][: paths[-1].index(head)] + "/" + rest
            else:  # 'GET /bots/{id}; POST .../enable, .../disable': below the path of the entry before
                part = (previous or paths[-1]) + "/" + rest
        if part.startswith("/"):
            paths.append(part)
    return paths


def table_routes():
    """{(METHOD, normalized path)} of the table of section 1."""
    routes = set()
    for line in _section_one()[: _section_one().index("Other local routes")].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[2].startswith(("/", "**")) or cells[1] in ("Methods", "-"):
            continue
        for path in _expand(cells[2]):
            for method in (m.strip() for m in cells[1].split(",")):
                routes.add((method, _normalize(path)))
    return routes


def listed_routes():
    """{(METHOD, normalized path)} of the list of other local routes ('- Posts (post_local.go): POST /posts; ...')."""
    text = _section_one()[_section_one().index("Other local routes"):]
    items = re.split(r"\n(?=- )", text)
    routes = set()
    for item in items:
        item = " ".join(item.split())
        if not item.startswith("- ") or item.startswith("- Feature-flagged") or ": " not in item:
            continue
        body = item.split(": ", 1)[1]
        body = re.split(r"\.(?: |$)", body)[0]  # the routes end at the first sentence
        previous = None
        for entry in (e.strip() for e in body.split(";")):
            match = re.match(r"^((?:GET|POST|PUT|PATCH|DELETE)(?:, (?:GET|POST|PUT|PATCH|DELETE))*) (.+)$", entry)
            if not match:
                continue
            paths = _expand(match.group(2), previous)
            for path in paths:
                for method in match.group(1).split(", "):
                    routes.add((method, _normalize(path)))
            previous = paths[-1] if paths else previous
    return routes


def standin_routes():
    return {(method, _normalize(template)) for template, methods, _ in server.LOCAL_ROUTE_TEMPLATES
            for method in methods}


def test_reference_is_read():
    table, listed = table_routes(), listed_routes()
    assert ("PUT", "/config/patch") in table
    assert ("GET", "/teams/{}/channels/name/{}") in table
    assert ("GET", "/users/{}/preferences/{}/name/{}") in table
    assert len(table) > 80
    assert {("POST", "/posts"), ("GET", "/posts/{}"), ("DELETE", "/posts/{}"), ("GET", "/channels/{}/posts"),
            ("POST", "/bots/{}/enable"), ("POST", "/bots/{}/assign/{}"), ("PUT", "/commands/{}/move"),
            ("DELETE", "/hooks/outgoing/{}"), ("POST", "/ldap/migrateid"), ("DELETE", "/exports/{}")} <= listed
    assert ("POST", "/bots") not in listed  # "No POST /bots."
    assert not any("cluster" in path for _, path in table | listed)


def test_the_socket_serves_no_route_the_real_local_mode_lacks():
    extra = standin_routes() - (table_routes() | listed_routes())
    assert not extra, f"the stand-in's socket serves routes the real local mode does not have: {sorted(extra)}"


def test_the_drill_routes_are_served():
    assert {("GET", "/teams/{}/channels/name/{}"), ("POST", "/posts"), ("GET", "/posts/{}"),
            ("GET", "/channels/{}/posts")} <= standin_routes()


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/v4/cluster/status"),  # session API only
    ("GET", "/api/v4/teams/" + "t" * 26 + "/members/" + "u" * 26),
    ("GET", "/api/v4/teams/" + "t" * 26 + "/members"),
    ("GET", "/api/v4/license/client"),
    ("GET", "/api/v4/teams/name/staff/channels/name/town-square"),  # a real local route the stand-in lacks
    ("POST", "/api/v4/posts/ids"),  # session API only
    ("DELETE", "/api/v4/posts/" + "p" * 26),  # a real local route the stand-in lacks
    ("GET", "/api/v4/channels/" + "c" * 26),
])
def test_no_route_for_paths_the_stand_in_does_not_serve(method, path):
    assert not any(pattern.fullmatch(path[len("/api/v4"):]) and method in methods
                   for pattern, methods, _, _ in server.LOCAL_ROUTES)


def test_tcp_serves_ping_and_login_without_a_session_and_cluster_status_with_one():
    tcp = {template: session for template, _, _, session in server.TCP_ROUTE_TEMPLATES}
    assert tcp == {"/system/ping": False, "/users/login": False, "/cluster/status": True}


def test_schema_migrations_of_11_7():
    applied = migrations.for_version("11.7.9")
    versions = [version for version, _ in applied]
    assert max(versions) == 171
    assert applied[-1] == (171, "drop_property_fields_protected_index")
    assert 110 not in versions and not {168, 169, 170} & set(versions)
    assert len(versions) == len(set(versions)) == 167
    assert applied[:2] == [(1, "create_teams"), (2, "create_team_members")]
    assert migrations.for_version("10.11.8") is None


def test_schema_migrations_of_11_8_add_168_to_170():
    versions = [version for version, _ in migrations.for_version("11.8.0")]
    assert set(versions) - {version for version, _ in migrations.for_version("11.7.9")} == {168, 169, 170}
    assert max(versions) == 171 and 110 not in versions
