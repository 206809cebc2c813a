"""One default per shared public variable: roles/common holds it, every other role depends on it.

The argument specs keep documenting, per role, the shared variables the role reads; their
documented default must be common's (none for a required one or a template). The ports and
paths the roles share are variables, not literals, in what the roles run (defaults, vars,
tasks, templates).
"""

import re
from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[3] / "roles"
COMMON = yaml.safe_load((ROLES / "common" / "defaults" / "main.yml").read_text())
OTHER_ROLES = sorted(p.name for p in ROLES.iterdir() if p.is_dir() and p.name != "common")
LITERALS = re.compile(r"\b(8065|8067|8074|9100)\b|(?<!/var)/opt/mattermost\b|mattermost_local\.socket")


def _yaml(path):
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def test_common_has_the_new_public_variables():
    assert {k: COMMON[k] for k in ("mattermost_ha_app_port", "mattermost_ha_gossip_port",
                                   "mattermost_ha_metrics_port", "mattermost_ha_node_exporter_port",
                                   "mattermost_ha_home", "mattermost_ha_local_socket")} == {
        "mattermost_ha_app_port": 8065, "mattermost_ha_gossip_port": 8074, "mattermost_ha_metrics_port": 8067,
        "mattermost_ha_node_exporter_port": 9100, "mattermost_ha_home": "/opt/mattermost",
        "mattermost_ha_local_socket": "/run/mattermost/mattermost_local.socket"}
    assert COMMON["mattermost_ha_deployment_tags"] == (
        "{{ mattermost_ha_tags | combine({'mattermost-ha:deployment': mattermost_ha_name}) }}")


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_role_depends_on_common(role):
    deps = _yaml(ROLES / role / "meta" / "main.yml").get("dependencies") or []
    assert {"role": "mattermost_ha.aws.common"} in deps


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_role_does_not_redefine_a_shared_variable(role):
    for kind in ("defaults", "vars"):
        for path in (ROLES / role / kind).glob("*.yml"):
            assert not set(_yaml(path)) & set(COMMON), path


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_documented_defaults_are_commons(role):
    specs = _yaml(ROLES / role / "meta" / "argument_specs.yml").get("argument_specs", {})
    for entry, spec in specs.items():
        for name, option in (spec.get("options") or {}).items():
            if name not in COMMON:
                continue
            if option.get("required") or "{{" in str(COMMON[name]):
                assert "default" not in option, (role, entry, name)
            else:
                assert option.get("default") == COMMON[name], (role, entry, name)


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_no_shared_port_or_path_literal(role):
    for kind in ("defaults", "vars", "tasks", "templates", "handlers"):
        for path in (ROLES / role / kind).rglob("*"):
            if path.is_file():
                found = [line for line in path.read_text().splitlines()
                         if LITERALS.search(line) and not line.lstrip().startswith("#")]
                assert not found, (path, found)
