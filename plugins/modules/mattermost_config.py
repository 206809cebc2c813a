#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the mattermost_ha.aws collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mattermost_config
short_description: Deep-merge settings into a Mattermost config.json, or into the configuration a server runs
version_added: 0.1.0
description:
  - Merges O(settings) and O(secret_settings) into the C(config.json) of an installed Mattermost
    server, key by key, leaving every other setting as it is.
  - With O(local_socket), works on the configuration the server runs instead, through its local-mode
    API. Once the configuration is in the database that is the only place a setting takes effect.
    O(apply=patch) sends the changed settings, and only those, with C(PUT /api/v4/config/patch) (the
    server saves them in its configuration store, once per cluster when that is the database);
    O(apply=reload) makes this node reload its configuration from the store (C(POST /api/v4/config/reload))
    when what it runs differs from the settings, and fails if it still differs afterwards.
  - Checks every key against the configuration of the installed version (O(defaults_path), or the
    file itself) and reports the keys that version does not have, for example the
    C(ClusterSettings.MaxIdleConns) of old guides, which current releases no longer know.
  - Values of secret-looking keys (passwords, salts, keys, tokens, C(DataSource)) and every value
    passed in O(secret_settings) are masked in the diff, the results and the warnings.
  - Writes the file atomically and only when a value changes.
author:
  - mattermost_ha.aws maintainers (@mattermost-ha)
options:
  path:
    description:
      - The C(config.json) to change. It must exist (the release tarball ships one).
      - Exactly one of O(path) and O(local_socket) is required.
    type: path
  local_socket:
    description:
      - The server's local-mode socket (C(ServiceSettings.LocalModeSocketLocation)); the module then reads
        C(GET /api/v4/config) there and changes the running configuration as O(apply) says.
      - File attributes (O(owner), O(mode), ...) and O(backup) do not apply.
    type: path
  apply:
    description:
      - With O(local_socket), V(patch) saves the changed settings with C(PUT /api/v4/config/patch);
        V(reload) only asks the node to reload from its store when it runs other values.
    type: str
    choices: [patch, reload]
    default: patch
  settings:
    description:
      - Settings to merge, nested like C(config.json), for example a dictionary with the key C(ServiceSettings)
        holding a dictionary with the key C(SiteURL).
      - Nested dictionaries are merged; lists and other values replace the current value.
    type: dict
    default: {}
  secret_settings:
    description:
      - Settings merged after O(settings), for values that must never be shown, such as
        C(SqlSettings.DataSource) with its password. Never logged.
    type: dict
    default: {}
  defaults_path:
    description:
      - The default C(config.json) shipped with the installed version. Keys are checked against
        it as well as against O(path), so a configuration carried over from an older version
        is still checked against the version that runs it.
      - When omitted, keys are checked against O(path) only.
    type: path
  unknown_keys:
    description:
      - What to do with keys the installed version does not have.
      - V(warn) leaves them out and warns, V(fail) fails without changing anything, V(keep) writes
        them anyway. They are returned in RV(unknown_keys) in every case.
    type: str
    choices: [warn, fail, keep]
    default: warn
  backup:
    description:
      - Keep a time-stamped copy of the previous file when it changes.
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.files
attributes:
  check_mode:
    support: full
    description: Computes the merge and the diff without writing.
  diff_mode:
    support: full
    description: Shows the change as JSON with secrets masked.
  platform:
    platforms: posix
    support: full
    description: Any POSIX host.
notes:
  - Once the configuration lives in the database (C(MM_CONFIG) set to a DSN), the server no
    longer reads this file; use O(local_socket).
  - Versions whose C(GET /api/v4/config) hides secrets (shown as 32 asterisks) cannot be compared on those
    settings; they are returned in RV(hidden_keys) and left as they are.
"""

EXAMPLES = r"""
- name: Change a setting in the configuration the cluster runs from the database
  mattermost_ha.aws.mattermost_config:
    local_socket: /run/mattermost/mattermost_local.socket
    apply: patch
    defaults_path: /opt/mattermost/config.defaults.json
    settings:
      TeamSettings:
        SiteName: Chat
  run_once: true
  register: patched

- name: Have every other node reload it
  mattermost_ha.aws.mattermost_config:
    local_socket: /run/mattermost/mattermost_local.socket
    apply: reload
    settings:
      TeamSettings:
        SiteName: Chat

- name: Point Mattermost at the database and the shared file store
  mattermost_ha.aws.mattermost_config:
    path: /opt/mattermost/config/config.json
    owner: mattermost
    group: mattermost
    mode: "0600"
    settings:
      ServiceSettings:
        SiteURL: https://chat.example.com
        EnableLocalMode: true
      FileSettings:
        DriverName: amazons3
        AmazonS3Bucket: example-files
        AmazonS3Region: us-east-1
    secret_settings:
      SqlSettings:
        DataSource: "{{ 'mmuser' | mattermost_ha.aws.mattermost_dsn(db_password, 'db.example.com') }}"

- name: Refuse settings the installed version does not know
  mattermost_ha.aws.mattermost_config:
    path: /opt/mattermost/config/config.json
    defaults_path: /opt/mattermost/config.defaults.json
    unknown_keys: fail
    settings:
      ClusterSettings:
        Enable: true
        ClusterName: production
"""

RETURN = r"""
unknown_keys:
  description: Dotted paths of the keys the installed version does not have.
  returned: always
  type: list
  elements: str
  sample: ["ClusterSettings.MaxIdleConns"]
changed_keys:
  description: Dotted paths of the settings whose value changed.
  returned: always
  type: list
  elements: str
  sample: ["ClusterSettings.Enable", "SqlSettings.DataSource"]
restart_keys:
  description: The changed settings that take effect only when the servers restart.
  returned: always
  type: list
  elements: str
  sample: ["ClusterSettings.Enable"]
hidden_keys:
  description:
    - Settings the server does not show (secrets, on versions that sanitize C(GET /api/v4/config)), left as they are.
  returned: with O(local_socket)
  type: list
  elements: str
  sample: ["SqlSettings.DataSource"]
backup_file:
  description: The copy of the previous file, when O(backup=true) and the file changed.
  returned: changed and backup requested
  type: str
  sample: /opt/mattermost/config/config.json.12345.2026-11-28@04:00:00~
"""

import json
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import open_url

from ansible_collections.mattermost_ha.aws.plugins.module_utils.mattermost_config import (
    changed_paths,
    hidden_paths,
    leaf_strings,
    mask_secrets,
    merge_settings,
    needs_restart,
    patch_for,
)


def _load(module, path, what):
    try:
        with open(path, "rb") as handle:
            return json.loads(handle.read().decode("utf-8"))
    except (IOError, OSError) as exc:
        module.fail_json(msg="Cannot read the %s %s: %s" % (what, path, to_native(exc)))
    except ValueError as exc:
        module.fail_json(msg="The %s %s is not valid JSON: %s" % (what, path, to_native(exc)))


def _dump(data):
    # Mattermost writes its config with four-space indentation and a trailing newline.
    return json.dumps(data, indent=4, ensure_ascii=False) + "\n"


def _merge_dicts(first, second):
    out = dict(first)
    for key, value in second.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge_dicts(out[key], value)
        else:
            out[key] = value
    return out


def _api(module, method, path, body=None, secrets=()):
    """One request to the local-mode API; the decoded JSON answer. Failures are reported with secrets masked."""
    socket_path = module.params["local_socket"]
    data = None if body is None else json.dumps(body)
    try:
        response = open_url(
            "http://localhost/api/v4" + path,
            method=method,
            data=data,
            headers={"Content-Type": "application/json"},
            unix_socket=socket_path,
            timeout=60,
        )
        raw = response.read()
    except HTTPError as exc:
        detail = to_text(exc.read() or b"", errors="replace")
        for secret in secrets:
            detail = detail.replace(secret, "********")
        module.fail_json(msg="%s %s on %s answered %s: %s" % (method, path, socket_path, exc.code, detail))
    except (URLError, OSError, IOError) as exc:
        module.fail_json(msg="%s %s on %s failed: %s" % (method, path, socket_path, to_native(exc)))
    try:
        return json.loads(to_text(raw)) if raw else None
    except ValueError:
        module.fail_json(msg="%s %s on %s did not answer JSON" % (method, path, socket_path))


def _compare(module, current, wanted, known, server_view=True, warn=True):
    """Merge wanted into current: (merged, unknown keys, changed keys, hidden keys), applying unknown_keys.

    server_view: current comes from GET /api/v4/config, where secrets may be hidden (not compared).
    """
    policy = module.params["unknown_keys"]
    merged, unknown = merge_settings(current, wanted, known=known, keep_unknown=(policy == "keep"))
    if unknown and policy == "fail":
        module.fail_json(
            msg="The installed Mattermost version has no setting %s; remove it or set unknown_keys=warn"
            % ", ".join(unknown),
            unknown_keys=unknown,
            changed_keys=[],
        )
    if unknown and policy == "warn" and warn:
        module.warn("Left out settings the installed Mattermost version does not have: %s" % ", ".join(unknown))
    changed_keys = changed_paths(current, merged)
    hidden = hidden_paths(current, merged, changed_keys) if server_view else []
    changed_keys = [key for key in changed_keys if key not in hidden]
    return merged, unknown, changed_keys, hidden


def run_on_server(module, wanted, secrets):
    """local_socket: compare with the running configuration, then patch it or reload it."""
    socket_path = module.params["local_socket"]
    current = _api(module, "GET", "/config", secrets=secrets)
    if not isinstance(current, dict):
        module.fail_json(msg="GET /api/v4/config on %s did not return a configuration" % socket_path)
    known = None
    if module.params["defaults_path"]:
        known = _merge_dicts(_load(module, module.params["defaults_path"], "default configuration"), current)
    merged, unknown, changed_keys, hidden = _compare(module, current, wanted, known)
    result = dict(
        changed=bool(changed_keys),
        unknown_keys=unknown,
        changed_keys=changed_keys,
        restart_keys=[key for key in changed_keys if needs_restart(key)],
        hidden_keys=hidden,
    )
    if module._diff:
        what = "running configuration" if module.params["apply"] == "reload" else "configuration store"
        header = "%s (%s)" % (socket_path, what)
        result["diff"] = dict(
            before_header=header,
            after_header=header,
            before=_dump(mask_secrets(current, secrets)),
            after=_dump(mask_secrets(_without(merged, current, hidden), secrets)),
        )
    if not changed_keys or module.check_mode:
        module.exit_json(**result)
    if module.params["apply"] == "patch":
        _api(module, "PUT", "/config/patch", patch_for(merged, changed_keys), secrets=secrets)
    else:
        _api(module, "POST", "/config/reload", secrets=secrets)
    after = _api(module, "GET", "/config", secrets=secrets)
    still = _compare(module, after, wanted, known, warn=False)[2]
    if still:
        module.fail_json(
            msg="After %s, the server on %s still runs other values for: %s"
            % ("PUT /api/v4/config/patch" if module.params["apply"] == "patch" else "POST /api/v4/config/reload",
               socket_path, ", ".join(still)),
            **result
        )
    module.exit_json(**result)


def _without(merged, current, paths):
    """merged with the hidden paths put back to what the server showed (they are not changed)."""
    out = json.loads(json.dumps(merged))
    for path in paths:
        parts = path.split(".")
        node, source = out, current
        for part in parts[:-1]:
            node, source = node[part], source[part]
        node[parts[-1]] = source[parts[-1]]
    return out


def run_on_file(module, wanted, secrets):
    """path: merge into the config.json on disk and write it back atomically."""
    path = module.params["path"]
    if not os.path.isfile(path):
        module.fail_json(msg="%s does not exist: install Mattermost first (the release ships a config.json)" % path)
    current = _load(module, path, "configuration")
    known = None
    if module.params["defaults_path"]:
        known = _merge_dicts(_load(module, module.params["defaults_path"], "default configuration"), current)
    merged, unknown, changed_keys, _hidden = _compare(module, current, wanted, known, server_view=False)
    changed = bool(changed_keys)
    result = dict(
        changed=changed,
        unknown_keys=unknown,
        changed_keys=changed_keys,
        restart_keys=[key for key in changed_keys if needs_restart(key)],
    )
    if module._diff:
        result["diff"] = dict(
            before_header=path,
            after_header=path,
            before=_dump(mask_secrets(current, secrets)),
            after=_dump(mask_secrets(merged, secrets)),
        )

    if changed and not module.check_mode:
        if module.params["backup"]:
            result["backup_file"] = module.backup_local(path)
        fd, tmp = tempfile.mkstemp(prefix=".config.json.", dir=os.path.dirname(path))
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(to_bytes(_dump(merged)))
            module.atomic_move(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    file_args = module.load_file_common_arguments(module.params)
    result["changed"] = module.set_fs_attributes_if_different(file_args, result["changed"], diff=None)
    module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path"),
            local_socket=dict(type="path"),
            apply=dict(type="str", choices=["patch", "reload"], default="patch"),
            settings=dict(type="dict", default={}),
            secret_settings=dict(type="dict", default={}, no_log=True),
            defaults_path=dict(type="path"),
            unknown_keys=dict(type="str", choices=["warn", "fail", "keep"], default="warn"),
            backup=dict(type="bool", default=False),
        ),
        add_file_common_args=True,
        supports_check_mode=True,
        required_one_of=[("path", "local_socket")],
        mutually_exclusive=[("path", "local_socket")],
    )
    secrets = list(leaf_strings(module.params["secret_settings"]))
    wanted = _merge_dicts(module.params["settings"], module.params["secret_settings"])
    if module.params["local_socket"]:
        run_on_server(module, wanted, secrets)
    run_on_file(module, wanted, secrets)


if __name__ == "__main__":
    main()
