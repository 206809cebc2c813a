"""DataSource parsing and MM_* overrides of the Mattermost stand-in (no database needed)."""

import urllib.parse

import pytest
from mattermost_standin.standin.common import DataSourceError, apply_env_overrides, parse_datasource

NASTY = "p@ss:w/rd?x#y&z=1 two!'three"


def test_percent_encoded_user_and_password_are_decoded():
    encoded = urllib.parse.quote(NASTY, safe="")
    params = parse_datasource(f"postgres://mm%40user:{encoded}@db.example.com:6432/mattermost"
                              "?sslmode=verify-full&sslrootcert=/etc/ssl/rds.pem&connect_timeout=10"
                              "&binary_parameters=yes")
    assert params == {"user": "mm@user", "password": NASTY, "host": "db.example.com", "port": 6432,
                      "dbname": "mattermost", "sslmode": "verify-full", "sslrootcert": "/etc/ssl/rds.pem",
                      "connect_timeout": 10}


def test_defaults_follow_lib_pq():
    params = parse_datasource("postgres://mmuser:secret@/mattermost")
    assert (params["host"], params["port"], params["sslmode"]) == ("localhost", 5432, "require")


def test_raw_at_sign_works_like_go_last_at_rule():
    assert parse_datasource("postgres://u:p@ss@h/db")["password"] == "p@ss"


@pytest.mark.parametrize("raw", ["pa ss", "pa#ss", "pa/ss", "pa?ss"])
def test_unencoded_reserved_characters_break_the_url(raw):
    # Go: a space is an invalid userinfo; '#', '/' and '?' end the authority early, leaving "u:pa" as
    # host:port, so the port "pa" is invalid. Either way the server cannot start: the role must encode.
    with pytest.raises(DataSourceError, match="invalid userinfo|invalid port"):
        parse_datasource(f"postgres://u:{raw}@h:5432/db?sslmode=disable")


def test_bad_escape_and_unsupported_sslmode_are_refused():
    with pytest.raises(DataSourceError, match="invalid URL escape"):
        parse_datasource("postgres://u:100%@h/db")
    with pytest.raises(DataSourceError, match='unsupported sslmode "prefer"'):
        parse_datasource("postgres://u:p@h/db?sslmode=prefer")


def test_env_overrides_use_section_and_key_names_and_keep_types():
    config = {"ServiceSettings": {"ListenAddress": ":8065", "EnableLocalMode": False},
              "ClusterSettings": {"GossipPort": 8074},
              "SqlSettings": {"DataSourceReplicas": []}}
    env = {"MM_SERVICESETTINGS_LISTENADDRESS": ":9000", "MM_SERVICESETTINGS_ENABLELOCALMODE": "true",
           "MM_CLUSTERSETTINGS_GOSSIPPORT": "9074", "MM_SQLSETTINGS_DATASOURCEREPLICAS": "postgres://a postgres://b",
           "MM_NOSUCHSECTION_KEY": "x"}
    result, used = apply_env_overrides(config, env)
    assert result == {"ServiceSettings": {"ListenAddress": ":9000", "EnableLocalMode": True},
                      "ClusterSettings": {"GossipPort": 9074},
                      "SqlSettings": {"DataSourceReplicas": ["postgres://a", "postgres://b"]}}
    assert "MM_NOSUCHSECTION_KEY" not in used
    assert config["ServiceSettings"]["ListenAddress"] == ":8065"  # the stored config is not changed
