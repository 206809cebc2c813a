# -*- coding: utf-8 -*-

# Copyright: Contributors to the mattermost_ha.aws collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters that build the strings Mattermost reads (database DSNs, environment-file lines) and check version changes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from urllib.parse import quote, urlencode

from ansible.errors import AnsibleFilterError

from ansible_collections.mattermost_ha.aws.plugins.module_utils.mattermost_config import is_secret_key
from ansible_collections.mattermost_ha.aws.plugins.module_utils.mattermost_versions import upgrade_refusal

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def mattermost_dsn(
    username,
    password,
    host,
    port=5432,
    database="mattermost",
    sslmode="require",
    connect_timeout=10,
    sslrootcert=None,
):
    """postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=...&connect_timeout=... with user and password percent-encoded.

    Mattermost parses the DSN with Go's url.Parse, so every reserved character in the user
    name and the password must be percent-encoded (quote with safe='').
    A list of hosts gives a list of DSNs (DataSourceReplicas).
    """
    if isinstance(host, (list, tuple)):
        return [
            mattermost_dsn(username, password, h, port, database, sslmode, connect_timeout, sslrootcert) for h in host
        ]
    for name, value in (("username", username), ("password", password), ("host", host)):
        if value is None or str(value) == "":
            raise AnsibleFilterError("mattermost_dsn: %s must not be empty" % name)
    if sslmode not in SSL_MODES:
        raise AnsibleFilterError("mattermost_dsn: sslmode must be one of %s" % ", ".join(SSL_MODES))
    try:
        port = int(port)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError("mattermost_dsn: port must be a number, got %r" % (port,)) from exc
    host = str(host)
    if ":" in host and not host.startswith("["):
        host = "[%s]" % host  # IPv6 literal
    params = [("sslmode", sslmode)]
    if connect_timeout not in (None, ""):
        params.append(("connect_timeout", int(connect_timeout)))
    if sslrootcert:
        params.append(("sslrootcert", sslrootcert))
    return "postgres://%s:%s@%s:%d/%s?%s" % (
        quote(str(username), safe=""),
        quote(str(password), safe=""),
        host,
        port,
        quote(str(database), safe=""),
        urlencode(params, safe="/"),
    )


def mattermost_env_quote(value):
    """Quote a value for a systemd EnvironmentFile= line (and a POSIX shell).

    Double quotes, with backslash, double quote, dollar and backquote escaped: systemd
    removes exactly these escapes inside double quotes. Newlines are refused.
    """
    value = str(value)
    if "\n" in value or "\r" in value:
        raise AnsibleFilterError("mattermost_env_quote: a value for an environment file cannot contain a newline")
    for char in ("\\", '"', "$", "`"):
        value = value.replace(char, "\\" + char)
    return '"%s"' % value


def mattermost_settings_split(settings):
    """Split config.json settings into ``{'public': ..., 'secret': ...}`` by the setting's name.

    A leaf whose key looks like a secret (password, secret, salt, key, token, data source, as
    the mattermost_config module masks them) goes to ``secret``, everything else to ``public``;
    maps that end up empty are left out. Both parts deep-merged give the input back.
    """
    if not isinstance(settings, dict):
        raise AnsibleFilterError("mattermost_settings_split: expects a dict of config.json sections")
    public, secret = {}, {}
    for key, value in settings.items():
        if isinstance(value, dict):
            parts = mattermost_settings_split(value)
            if parts["public"] or not value:
                public[key] = parts["public"]
            if parts["secret"]:
                secret[key] = parts["secret"]
        elif is_secret_key(key):
            secret[key] = value
        else:
            public[key] = value
    return {"public": public, "secret": secret}


def mattermost_upgrade_refusal(current, target, esr_versions, allow_downgrade=False):
    """Why a rolling change from the running version to the target must not run; '' when it may."""
    try:
        return upgrade_refusal(current, target, esr_versions, allow_downgrade)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule(object):
    def filters(self):
        return {
            "mattermost_dsn": mattermost_dsn,
            "mattermost_env_quote": mattermost_env_quote,
            "mattermost_settings_split": mattermost_settings_split,
            "mattermost_upgrade_refusal": mattermost_upgrade_refusal,
        }
