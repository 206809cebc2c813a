"""mattermost_config against the real config.json files of Mattermost 9.5, 10.6 and 10.11.8."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[4]
# The collection resolves in place through collections/ (see ansible.cfg).
sys.path.insert(0, str(REPO / "collections"))

from ansible_collections.mattermost_ha.aws.plugins.module_utils.mattermost_config import (  # noqa: E402
    FAKE_SETTING,
    MASK,
    changed_paths,
    hidden_paths,
    mask_secrets,
    merge_settings,
    needs_restart,
    patch_for,
)

# Real config.json files written by Mattermost 9.5, ~10.6 and 10.11.8 (see the README there),
# stored once, beside the stand-in that ships them in its releases.
REFERENCE = Path(__file__).resolve().parents[3] / "mattermost_standin" / "configs"
PASSWORD = "p@ss:w/rd?#&=!' x"
DSN = "postgres://mmuser:p%40ss%3Aw%2Frd%3F%23%26%3D%21%27%20x@db:5432/mattermost?sslmode=require"

GUIDE_CLUSTER = {
    "Enable": True,
    "ClusterName": "Production",
    "UseIPAddress": True,
    "GossipPort": 8074,
    "StreamingPort": 8075,
    "MaxIdleConns": 100,
    "MaxIdleConnsPerHost": 128,
    "IdleConnTimeoutMilliseconds": 90000,
}


def load(version):
    path = REFERENCE / f"config-{version}.json"
    if not path.exists():
        pytest.fail(f"reference config {path} missing")
    return json.loads(path.read_text())


def test_guide_cluster_block_is_known_to_9_5():
    merged, unknown = merge_settings(load("9.5"), {"ClusterSettings": GUIDE_CLUSTER})
    assert unknown == []
    assert merged["ClusterSettings"]["MaxIdleConns"] == 100


def test_guide_cluster_block_on_10_11_reports_the_removed_keys():
    current = load("10.11.8")
    merged, unknown = merge_settings(current, {"ClusterSettings": GUIDE_CLUSTER})
    assert unknown == [
        "ClusterSettings.IdleConnTimeoutMilliseconds",
        "ClusterSettings.MaxIdleConns",
        "ClusterSettings.MaxIdleConnsPerHost",
        "ClusterSettings.StreamingPort",
    ]
    assert "MaxIdleConns" not in merged["ClusterSettings"]
    assert merged["ClusterSettings"]["Enable"] is True
    assert merged["ClusterSettings"]["EnableGossipEncryption"] is True  # untouched default
    # SqlSettings.MaxIdleConns is a real key and stays.
    assert merged["SqlSettings"]["MaxIdleConns"] == 20


def test_keep_writes_unknown_keys_but_still_reports_them():
    merged, unknown = merge_settings(load("10.11.8"), {"ClusterSettings": {"MaxIdleConns": 5}}, keep_unknown=True)
    assert unknown == ["ClusterSettings.MaxIdleConns"]
    assert merged["ClusterSettings"]["MaxIdleConns"] == 5


def test_unknown_section_and_gossip_encryption_rename_between_versions():
    _, unknown = merge_settings(
        load("10.11.8"), {"ClusterSettings": {"EnableExperimentalGossipEncryption": True}, "NoSuchSettings": {"A": 1}}
    )
    assert unknown == ["ClusterSettings.EnableExperimentalGossipEncryption", "NoSuchSettings"]
    _, unknown = merge_settings(load("9.5"), {"ClusterSettings": {"EnableGossipEncryption": True}})
    assert unknown == ["ClusterSettings.EnableGossipEncryption"]


def test_metrics_keys_depend_on_the_version():
    _, unknown = merge_settings(load("9.5"), {"MetricsSettings": {"Enable": True, "EnableClientMetrics": True}})
    assert unknown == ["MetricsSettings.EnableClientMetrics"]
    _, unknown = merge_settings(load("10.11.8"), {"MetricsSettings": {"Enable": True, "EnableClientMetrics": True}})
    assert unknown == []


def test_plugin_maps_are_free_form():
    merged, unknown = merge_settings(
        load("10.11.8"),
        {"PluginSettings": {"PluginStates": {"com.example.new": {"Enable": True}}, "Plugins": {"x": {"a": 1}}}},
    )
    assert unknown == []
    assert merged["PluginSettings"]["PluginStates"]["com.example.new"] == {"Enable": True}
    assert merged["PluginSettings"]["PluginStates"]["playbooks"] == {"Enable": True}


def test_lists_replace_and_nothing_else_moves():
    current = load("10.6")
    settings = {
        "ServiceSettings": {"SiteURL": "https://chat.example.com", "EnableLocalMode": True},
        "SqlSettings": {"DataSource": DSN, "DataSourceReplicas": [DSN.replace("@db", "@reader")]},
        "FileSettings": {"DriverName": "amazons3", "AmazonS3Bucket": "b", "AmazonS3Region": "us-east-1"},
    }
    merged, unknown = merge_settings(current, settings)
    assert unknown == []
    assert changed_paths(current, merged) == [
        "FileSettings.AmazonS3Bucket",
        "FileSettings.AmazonS3Region",
        "FileSettings.DriverName",
        "ServiceSettings.EnableLocalMode",
        "ServiceSettings.SiteURL",
        "SqlSettings.DataSource",
        "SqlSettings.DataSourceReplicas",
    ]
    # merging again changes nothing
    again, _ = merge_settings(merged, settings)
    assert again == merged


def test_known_config_from_defaults_of_the_new_version():
    # a 9.5 file carried over to 10.11: keys are checked against the union of both.
    old = load("9.5")
    new_defaults = load("10.11.8")
    _, unknown = merge_settings(old, {"MetricsSettings": {"EnableClientMetrics": True}}, known=new_defaults)
    assert unknown == []


def test_mask_secrets_masks_keys_and_values():
    config = load("10.11.8")
    config["SqlSettings"]["DataSource"] = DSN
    config["SqlSettings"]["DataSourceReplicas"] = [DSN]
    config["FileSettings"]["PublicLinkSalt"] = "salt-value"
    config["ServiceSettings"]["SiteURL"] = "https://x/" + PASSWORD
    masked = mask_secrets(config, [PASSWORD])
    text = json.dumps(masked)
    assert PASSWORD not in text and "p%40ss" not in text and "salt-value" not in text
    assert masked["SqlSettings"]["DataSource"] == MASK
    assert masked["SqlSettings"]["DataSourceReplicas"] == [MASK]
    assert masked["ServiceSettings"]["SiteURL"] == MASK
    assert masked["SqlSettings"]["AtRestEncryptKey"] == ""  # empty stays visible
    assert masked["ClusterSettings"] == config["ClusterSettings"]


# --- the module itself, run as Ansible runs it (ansible.module_utils + JSON args on stdin) ---


def run_module(args, check=False, diff=False):
    payload = {"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=check, _ansible_diff=diff)}
    proc = subprocess.run(
        [sys.executable, "-m", "ansible_collections.mattermost_ha.aws.plugins.modules.mattermost_config"],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=REPO / "collections",
        env=dict(os.environ, PYTHONPATH=str(REPO / "collections")),
    )
    out = proc.stdout.strip()
    assert out, proc.stderr
    return json.loads(out[out.index("{") :]), proc.stdout + proc.stderr


@pytest.fixture
def config_1011(tmp_path):
    path = tmp_path / "config.json"
    shutil.copy(REFERENCE / "config-10.11.8.json", path)
    path.chmod(0o644)
    return path


def module_args(path, **extra):
    args = {
        "path": str(path),
        "mode": "0600",
        "settings": {"ServiceSettings": {"SiteURL": "https://chat.example.com"}, "ClusterSettings": GUIDE_CLUSTER},
        "secret_settings": {"SqlSettings": {"DataSource": DSN, "DataSourceReplicas": [DSN]}},
    }
    args.update(extra)
    return args


def test_module_check_mode_changes_nothing_and_hides_the_password(config_1011):
    before = config_1011.read_bytes()
    result, raw = run_module(module_args(config_1011), check=True, diff=True)
    assert result["changed"] is True
    assert config_1011.read_bytes() == before
    assert oct(config_1011.stat().st_mode & 0o777) == "0o644"
    assert "ClusterSettings.MaxIdleConns" in result["unknown_keys"]
    assert "SqlSettings.DataSource" in result["changed_keys"]
    assert "https://chat.example.com" in result["diff"]["after"]
    assert DSN not in raw and "p%40ss" not in raw
    assert "MaxIdleConns" in json.dumps(result.get("warnings", []))


def test_module_writes_then_is_idempotent(config_1011):
    result, raw = run_module(module_args(config_1011), diff=True)
    assert result["changed"] is True and "p%40ss" not in raw
    written = json.loads(config_1011.read_text())
    assert written["SqlSettings"]["DataSource"] == DSN
    assert written["ClusterSettings"]["Enable"] is True
    assert "MaxIdleConns" not in written["ClusterSettings"]
    assert oct(config_1011.stat().st_mode & 0o777) == "0o600"
    again, _ = run_module(module_args(config_1011), diff=True)
    assert again["changed"] is False
    assert again["changed_keys"] == []


def test_module_unknown_keys_fail_leaves_the_file(config_1011):
    before = config_1011.read_bytes()
    result, _ = run_module(module_args(config_1011, unknown_keys="fail"))
    assert result["failed"] is True
    assert "ClusterSettings.MaxIdleConns" in result["msg"]
    assert config_1011.read_bytes() == before


def test_module_on_9_5_accepts_the_guide_block(tmp_path):
    path = tmp_path / "config.json"
    shutil.copy(REFERENCE / "config-9.5.json", path)
    result, _ = run_module(module_args(path, unknown_keys="fail"))
    assert result["changed"] is True and result["unknown_keys"] == []
    assert json.loads(path.read_text())["ClusterSettings"]["StreamingPort"] == 8075


def test_module_missing_file_fails_clearly(tmp_path):
    result, _ = run_module(module_args(tmp_path / "nope.json"))
    assert result["failed"] is True and "install Mattermost first" in result["msg"]


# --- the local-API mode's helpers: the patch body, settings the server hides, restarts ---


def test_patch_holds_only_the_changed_settings():
    current = load("10.11.8")
    merged, _ = merge_settings(current, {"TeamSettings": {"SiteName": "Chat"}, "ClusterSettings": {"Enable": True},
                                         "SqlSettings": {"DataSourceReplicas": [DSN]}})
    paths = changed_paths(current, merged)
    assert paths == ["ClusterSettings.Enable", "SqlSettings.DataSourceReplicas", "TeamSettings.SiteName"]
    assert patch_for(merged, paths) == {"ClusterSettings": {"Enable": True},
                                        "SqlSettings": {"DataSourceReplicas": [DSN]},
                                        "TeamSettings": {"SiteName": "Chat"}}


def test_settings_read_only_at_start_need_a_restart():
    assert needs_restart("ClusterSettings.Enable")
    assert needs_restart("SqlSettings.DataSourceReplicas")
    assert needs_restart("ServiceSettings.ListenAddress")
    assert not needs_restart("ServiceSettings.SiteURL")
    assert not needs_restart("TeamSettings.SiteName")
    assert not needs_restart("LogSettings.ConsoleLevel")


def test_secrets_a_sanitizing_server_hides_are_not_compared():
    current = load("10.11.8")
    current["SqlSettings"]["DataSource"] = FAKE_SETTING
    current["SqlSettings"]["DataSourceReplicas"] = [FAKE_SETTING]
    merged, _ = merge_settings(current, {"SqlSettings": {"DataSource": DSN, "DataSourceReplicas": [DSN]},
                                         "TeamSettings": {"SiteName": "Chat"}})
    paths = changed_paths(current, merged)
    assert hidden_paths(current, merged, paths) == ["SqlSettings.DataSource", "SqlSettings.DataSourceReplicas"]
