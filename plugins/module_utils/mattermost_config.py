# -*- coding: utf-8 -*-

# Copyright: Contributors to the mattermost_ha.aws collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Merge settings into a Mattermost config.json, checked against the installed version.

Pure functions, no Ansible imports: the module and the unit tests share them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import re

# Values of keys whose name matches this are never shown (diff, results, warnings).
SECRET_KEY_PATTERN = re.compile(
    r"(password|secret|salt|datasource|encryptkey|privatekey|accesskey|token|apikey|_key$|key$)",
    re.IGNORECASE,
)
MASK = "********"

# Sections that are maps of free-form keys (plugin ids), not settings of the server.
FREE_FORM_MAPS = (
    ("PluginSettings", "Plugins"),
    ("PluginSettings", "PluginStates"),
)


def is_secret_key(name):
    return bool(SECRET_KEY_PATTERN.search(str(name)))


def _is_free_form(path, base_value):
    if isinstance(base_value, dict) and not base_value:
        return True
    return any(tuple(path[: len(prefix)]) == prefix for prefix in FREE_FORM_MAPS)


def merge_settings(current, settings, known=None, keep_unknown=False):
    """Deep-merge ``settings`` into a copy of ``current``.

    ``known`` is the config of the installed version (its shipped defaults); a key is
    unknown when neither ``known`` nor ``current`` has it at that place (maps of plugin
    ids are free-form). Unknown keys are left out unless ``keep_unknown``.

    Returns ``(merged, unknown_keys)`` with unknown keys as dotted paths, sorted.
    """
    merged = copy.deepcopy(current)
    unknown = []
    _merge(merged, settings, known if known is not None else current, [], unknown, keep_unknown)
    return merged, sorted(unknown)


def _merge(target, overlay, known, path, unknown, keep_unknown):
    for key, value in overlay.items():
        here = path + [key]
        known_here = known if isinstance(known, dict) else {}
        exists = key in target or key in known_here or _is_free_form(path, known)
        if not exists:
            unknown.append(".".join(str(p) for p in here))
            if not keep_unknown:
                continue
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value, known_here.get(key, target[key]), here, unknown, keep_unknown)
        elif isinstance(value, dict) and target.get(key) is None and isinstance(known_here.get(key), dict):
            target[key] = {}
            _merge(target[key], value, known_here[key], here, unknown, keep_unknown)
        else:
            target[key] = copy.deepcopy(value)


def mask_secrets(data, secret_values=()):
    """A copy of ``data`` with the values of secret-looking keys masked.

    Any string that contains one of ``secret_values`` is masked too, wherever it is.
    """
    secret_values = [s for s in secret_values if s]

    def _walk(value, key=None):
        if isinstance(value, dict):
            return {k: _walk(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [_walk(v, key) for v in value]
        if isinstance(value, str) and value and key is not None and is_secret_key(key):
            return MASK
        if isinstance(value, str) and any(s in value for s in secret_values):
            return MASK
        return value

    return _walk(data)


def changed_paths(before, after, path=()):
    """Dotted paths of the leaves that differ between two configs, sorted."""
    out = []
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after)):
            out.extend(changed_paths(before.get(key), after.get(key), path + (str(key),)))
    elif before != after:
        out.append(".".join(path))
    return out


def leaf_strings(data):
    """Every string leaf in a nested structure (used to mask secrets passed separately)."""
    if isinstance(data, dict):
        for value in data.values():
            yield from leaf_strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from leaf_strings(value)
    elif isinstance(data, str):
        yield data


# What GET /api/v4/config shows instead of a secret on versions that sanitize it (model.FakeSetting).
FAKE_SETTING = "********************************"

# Settings the server reads only at start: a change needs a restart of every node, where a
# config reload is enough for the others. Prefixes of dotted paths.
RESTART_SETTINGS = (
    "ClusterSettings.",
    "SqlSettings.",
    "ServiceSettings.ListenAddress",
    "ServiceSettings.EnableLocalMode",
    "ServiceSettings.LocalModeSocketLocation",
    "ServiceSettings.ConnectionSecurity",
    "ServiceSettings.TLSCertFile",
    "ServiceSettings.TLSKeyFile",
    "ServiceSettings.LicenseFileLocation",
    "MetricsSettings.ListenAddress",
)


def needs_restart(path):
    return any(path == prefix or path.startswith(prefix) for prefix in RESTART_SETTINGS)


def _get_path(data, path):
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def hidden_paths(current, merged, paths):
    """The changed paths whose current value the server hid (FakeSetting): they cannot be compared."""
    out = []
    for path in paths:
        value = _get_path(current, path)
        if value == FAKE_SETTING or (isinstance(value, list) and value and all(v == FAKE_SETTING for v in value)):
            out.append(path)
    return out


def patch_for(merged, paths):
    """The part of ``merged`` holding ``paths`` (the body of PUT /api/v4/config/patch)."""
    patch = {}
    for path in paths:
        parts = path.split(".")
        node = patch
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = copy.deepcopy(_get_path(merged, path))
    return patch
