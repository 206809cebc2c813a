"""The stand-in's local-mode socket serves only routes the real server's local mode registers.

The reference is the route table of tests/mattermost_standin/reference/mattermost-local-api.md
(copied from /work/shared/reference, read in Mattermost's api4/*_local.go). No database needed.
"""

import re
from pathlib import Path

import pytest
from mattermost_standin.standin import server

REFERENCE = Path(server.__file__).resolve().parents[1] / "reference" / "mattermost-local-api.md"


def _normalize(path):
    return re.sub(r"\{\w+\}", "{}", path)


def _expand(cell):
    """'/a/{x}, .../{x}/b (remark)' -> ['/a/{x}', '/a/{x}/b']."""
    cell = re.sub(r"\([^)]*\)", "", cell.replace("**", ""))
    paths = []
    for part in (p.strip() for p in cell.split(",")):
        if part.startswith(".../"):
            rest = part[4:]
            previous = paths[-1]
            head = rest.split("/")[0]
            part = previous[: previous.index("/" + head)] + "/" + rest
        if part.startswith("/"):
            paths.append(part)
    return paths


def reference_local_routes():
    """{(METHOD, normalized path)} of section 1's table."""
    text = REFERENCE.read_text()
    section = text[text.index("## 1. Every route registered in local mode"):text.index("Other local routes")]
    routes = set()
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[2].startswith(("/", "**")) or cells[1] in ("Methods", "-"):
            continue
        for path in _expand(cells[2]):
            for method in (m.strip() for m in cells[1].split(",")):
                routes.add((method, _normalize(path)))
    return routes


def standin_local_routes():
    return {(method, _normalize(template)) for template, methods, _ in server.LOCAL_ROUTE_TEMPLATES
            for method in methods}


def test_reference_table_is_read():
    routes = reference_local_routes()
    assert ("PUT", "/config/patch") in routes
    assert ("POST", "/config/migrate") in routes
    assert ("DELETE", "/teams/{}/members/{}") in routes
    assert ("GET", "/users/{}/preferences/{}/name/{}") in routes
    assert len(routes) > 80
    assert not any("cluster" in path for _, path in routes)


def test_standin_socket_serves_no_route_the_real_local_mode_lacks():
    extra = standin_local_routes() - reference_local_routes()
    assert not extra, f"the stand-in's socket serves routes the real local mode does not have: {sorted(extra)}"


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/v4/cluster/status"),
    ("GET", "/api/v4/teams/" + "t" * 26 + "/members/" + "u" * 26),
    ("GET", "/api/v4/teams/" + "t" * 26 + "/members"),
    ("GET", "/api/v4/license/client"),
])
def test_socket_has_no_route_for_paths_only_the_session_api_serves(method, path):
    assert not any(pattern.fullmatch(path[len("/api/v4"):]) and method in methods
                   for pattern, methods, _, _ in server.LOCAL_ROUTES)


def test_tcp_serves_ping_and_login_without_a_session_and_cluster_status_with_one():
    tcp = {template: session for template, _, _, session in server.TCP_ROUTE_TEMPLATES}
    assert tcp == {"/system/ping": False, "/users/login": False, "/cluster/status": True}
