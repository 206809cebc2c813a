"""The postgresql_client role on systems that cannot be booted here (Amazon Linux 2023, RHEL, Ubuntu).

The role runs for real (check mode) against the controller with another system's facts; the
JSON callback shows which vars file it loaded and the exact package task it ran.
"""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from harness.ansible import run_playbook  # noqa: E402

PLAYBOOK = "tests/unit/roles/postgresql_client.yml"


def run_role(tmp_path, distribution, major, family, pkg_mgr):
    facts = {
        "ansible_facts": {
            "distribution": distribution,
            "distribution_major_version": major,
            "os_family": family,
            "pkg_mgr": pkg_mgr,
        },
        "ansible_python_interpreter": sys.executable,
    }
    extra = tmp_path / "facts.json"
    extra.write_text(json.dumps(facts))
    run = run_playbook(
        PLAYBOOK,
        "-i",
        "localhost,",
        "--check",
        "-e",
        f"@{extra}",
        env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"},
        check=False,
    )
    data = json.loads(run.output[run.output.index("{") :])
    return {task["task"]["name"].split(" : ")[-1]: task["hosts"]["localhost"] for task in data["plays"][0]["tasks"]}


@pytest.mark.slow
def test_amazon_linux_2023_installs_postgresql15_with_dnf(tmp_path):
    tasks = run_role(tmp_path, "Amazon", "2023", "RedHat", "dnf")
    loaded = tasks["Load the package names for this distribution"]
    assert [Path(p).name for p in loaded["ansible_included_var_files"]] == ["Amazon.yml"]
    install = tasks["Install the PostgreSQL client tools (dnf)"]
    assert install["action"] == "ansible.builtin.dnf"
    args = install["invocation"]["module_args"]
    assert args["name"] == ["postgresql15", "python3-psycopg2"]
    assert args["state"] == "present"
    # The only failure: this Debian controller has no dnf Python bindings.
    assert "Could not import the dnf python module" in install["msg"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("distribution", "major", "family", "pkg_mgr", "vars_file", "task"),
    [
        ("Rocky", "9", "RedHat", "dnf", "RedHat.yml", "Install the PostgreSQL client tools (dnf)"),
        ("Ubuntu", "24", "Debian", "apt", "Debian.yml", "Install the PostgreSQL client tools (apt)"),
        ("Debian", "12", "Debian", "apt", "Debian-12.yml", "Install the PostgreSQL client tools (apt)"),
    ],
)
def test_other_systems_pick_their_vars_and_package_manager(
    tmp_path, distribution, major, family, pkg_mgr, vars_file, task
):
    tasks = run_role(tmp_path, distribution, major, family, pkg_mgr)
    loaded = tasks["Load the package names for this distribution"]
    assert [Path(p).name for p in loaded["ansible_included_var_files"]] == [vars_file]
    assert task in tasks
