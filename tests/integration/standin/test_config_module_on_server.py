"""The mattermost_config module's local_socket mode against the stand-in on a database config store."""

import json
import os
import subprocess
import sys
from pathlib import Path

from mattermost_standin.fixtures import api

REPO = Path(__file__).resolve().parents[3]


def run_module(args, check=False, diff=True):
    payload = {"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=check, _ansible_diff=diff)}
    proc = subprocess.run(
        [sys.executable, "-m", "ansible_collections.mattermost_ha.aws.plugins.modules.mattermost_config"],
        input=json.dumps(payload), capture_output=True, text=True, cwd=REPO / "collections",
        env=dict(os.environ, PYTHONPATH=str(REPO / "collections")),
    )
    out = proc.stdout.strip()
    assert out, proc.stderr
    return json.loads(out[out.index("{"):]), proc.stdout + proc.stderr


def test_patch_once_then_reload_the_other_node_idempotently(two_nodes_on_the_database, database):
    (install_a, sock_a, _), (_, sock_b, _) = two_nodes_on_the_database
    settings = {"TeamSettings": {"SiteName": "Patched"}, "ClusterSettings": {"Enable": True, "ClusterName": "c1"}}
    args = {"local_socket": str(sock_a), "apply": "patch", "settings": settings,
            "secret_settings": {"SqlSettings": {"DataSource": database.dsn()}},
            "defaults_path": str(install_a / "config" / "config.json")}
    rows_before = database.query("SELECT count(*) FROM configurations")[0][0]

    checked, raw = run_module(args, check=True)
    assert checked["changed"] is True
    assert checked["changed_keys"] == ["ClusterSettings.ClusterName", "ClusterSettings.Enable", "TeamSettings.SiteName"]
    assert checked["restart_keys"] == ["ClusterSettings.ClusterName", "ClusterSettings.Enable"]
    assert "Patched" in checked["diff"]["after"]
    assert database.password not in raw and "p%40ss" not in raw, "secrets are masked in the diff"
    assert database.query("SELECT count(*) FROM configurations")[0][0] == rows_before, "check mode wrote nothing"

    patched, _ = run_module(args)
    assert patched["changed"] is True
    assert database.query("SELECT count(*) FROM configurations")[0][0] == rows_before + 1, "one write"
    active = json.loads(database.query("SELECT value FROM configurations WHERE active")[0][0])
    assert active["TeamSettings"]["SiteName"] == "Patched" and active["ClusterSettings"]["Enable"] is True
    assert active["SqlSettings"]["DataSource"] == database.dsn()
    assert run_module(args)[0]["changed"] is False

    reload_b = dict(args, local_socket=str(sock_b), apply="reload")
    assert run_module(reload_b, check=True)[0]["changed"] is True
    assert api(sock_b, "GET", "/config")[1]["TeamSettings"]["SiteName"] != "Patched", "check mode did not reload"
    reloaded, _ = run_module(reload_b)
    assert reloaded["changed"] is True
    assert api(sock_b, "GET", "/config")[1]["TeamSettings"]["SiteName"] == "Patched"
    assert run_module(reload_b)[0]["changed"] is False


def test_unreachable_socket_fails_with_the_path(tmp_path):
    result, _ = run_module({"local_socket": str(tmp_path / "none.socket"), "settings": {}})
    assert result["failed"] is True
    assert "none.socket" in result["msg"]
