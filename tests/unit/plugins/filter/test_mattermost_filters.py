"""The DSN and environment-file filters, with the hardest password the issue names."""

import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from ansible.errors import AnsibleFilterError

REPO = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(REPO / "collections"))

from ansible_collections.mattermost_ha.aws.plugins.filter.mattermost import (  # noqa: E402
    mattermost_dsn,
    mattermost_env_quote,
    mattermost_settings_split,
)

PASSWORD = "p@ss:w/rd?#&=!' x"


def test_dsn_percent_encodes_every_reserved_character():
    dsn = mattermost_dsn("mm user", PASSWORD, "db.example.com")
    assert dsn == (
        "postgres://mm%20user:p%40ss%3Aw%2Frd%3F%23%26%3D%21%27%20x@db.example.com:5432/mattermost"
        "?sslmode=require&connect_timeout=10"
    )
    # What Go's url.Parse does: split, then unescape user info.
    parts = urlsplit(dsn)
    assert unquote(parts.password) == PASSWORD
    assert unquote(parts.username) == "mm user"
    assert parts.hostname == "db.example.com" and parts.port == 5432
    assert parts.path == "/mattermost"


def test_dsn_options():
    dsn = mattermost_dsn(
        "u", "p", "10.0.0.5", port="6432", database="mm", sslmode="verify-full",
        connect_timeout=None, sslrootcert="/etc/ssl/rds/global-bundle.pem",
    )
    assert dsn == "postgres://u:p@10.0.0.5:6432/mm?sslmode=verify-full&sslrootcert=/etc/ssl/rds/global-bundle.pem"
    assert mattermost_dsn("u", "p", "::1").startswith("postgres://u:p@[::1]:5432/")
    assert mattermost_dsn("u", "p", ["r1", "r2"], connect_timeout=None) == [
        "postgres://u:p@r1:5432/mattermost?sslmode=require",
        "postgres://u:p@r2:5432/mattermost?sslmode=require",
    ]
    assert mattermost_dsn("u", "p", []) == []


@pytest.mark.parametrize(
    "kwargs",
    [dict(password=""), dict(host=""), dict(sslmode="disabled"), dict(port="x")],
)
def test_dsn_refuses_bad_input(kwargs):
    args = dict(username="u", password="p", host="h")
    args.update(kwargs)
    with pytest.raises(AnsibleFilterError):
        mattermost_dsn(**args)


def test_env_quote_round_trips_through_a_shell(tmp_path):
    # systemd's EnvironmentFile= removes the same escapes inside double quotes as sh does;
    # the Molecule scenario checks systemd itself.
    for value in (PASSWORD, 'a"b\\c$HOME`x`', mattermost_dsn("u", PASSWORD, "h")):
        env_file = tmp_path / "env"
        env_file.write_text("X=" + mattermost_env_quote(value) + "\n")
        out = subprocess.run(
            ["sh", "-c", '. "$1"; printf %s "$X"', "sh", str(env_file)], capture_output=True, text=True, check=True
        )
        assert out.stdout == value


def test_env_quote_refuses_newlines():
    with pytest.raises(AnsibleFilterError):
        mattermost_env_quote("a\nb")


def test_settings_split_puts_secret_looking_values_apart_and_loses_nothing():
    settings = {
        "EmailSettings": {"SMTPPassword": "hunter2", "SMTPServer": "smtp.example.com", "SMTPPort": "587"},
        "FileSettings": {"AmazonS3SecretAccessKey": "s3cret", "MaxFileSize": 100},
        "ServiceSettings": {"SiteURL": "https://chat.example.com"},
        "PluginSettings": {"Plugins": {}},
    }
    parts = mattermost_settings_split(settings)
    assert parts["secret"] == {"EmailSettings": {"SMTPPassword": "hunter2"},
                               "FileSettings": {"AmazonS3SecretAccessKey": "s3cret"}}
    assert "hunter2" not in repr(parts["public"]) and "s3cret" not in repr(parts["public"])
    assert parts["public"]["ServiceSettings"] == {"SiteURL": "https://chat.example.com"}
    assert parts["public"]["PluginSettings"] == {"Plugins": {}}
    merged = {k: {**parts["public"].get(k, {}), **parts["secret"].get(k, {})} for k in settings}
    assert merged == settings
