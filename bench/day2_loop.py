#!/usr/bin/env python3
"""Day-2 changes under load: requests through the lab's load balancer while the cluster changes.

    .venv/bin/python bench/day2_loop.py [--rate 20] [--json day2.json] [--keep-lab]

Brings the lab up (tests/lab/lab.py, with a third app container), converges it with site.yml,
then, each with its own request loop (tests/harness/traffic.py: at most 50 requests per second,
at most 10 minutes, to 127.0.0.1 only) through the lab's HAProxy:

  upgrade   playbooks/upgrade.yml to the next minor version (stand-in 11.8.0), both nodes
  scale     site.yml with mattermost_ha_app_count=3, then =2 (a loop each)
  setting   configure.yml with SqlSettings.MaxOpenConns changed (read only at start: a rolling
            restart of every node)

and prints, for each, the requests sent and failed, the 99th percentile latency and the
versions that answered. The goal is 0 failed requests in all three. Not part of `make test`
(about 10 minutes); the lab's own tests (tests/integration/lab/test_site.py) assert 0 failed
requests for the upgrade and the failed upgrade.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests/lab"))

import lab  # noqa: E402
from harness.ansible import run_playbook  # noqa: E402
from harness.traffic import RequestLoop  # noqa: E402

INVENTORY = ["-i", "inventories/local"]
UPGRADE_TO = "11.8.0"


def lab_settings(**extra):
    """The lab's mattermost_ha_settings (inventories/local) with `extra` merged in, as one extra var."""
    import yaml

    values = yaml.safe_load((REPO / "inventories/local/group_vars/all/main.yml").read_text())
    settings = values["mattermost_ha_settings"]
    for section, keys in extra.items():
        settings.setdefault(section, {}).update(keys)
    return json.dumps({"mattermost_ha_settings": settings})


def scenarios():
    version = ["-e", f"mattermost_ha_version={UPGRADE_TO}"]
    return {
        "upgrade": [("playbooks/upgrade.yml", version)],
        # One loop each: two site.yml runs would come near the loop's 10 minutes.
        "scale 2->3": [("site.yml", [*version, "-e", "mattermost_ha_app_count=3"])],
        "scale 3->2": [("site.yml", [*version, "-e", "mattermost_ha_app_count=2"])],
        "setting": [("playbooks/configure.yml", [*version, "-e", lab_settings(SqlSettings={"MaxOpenConns": 250})])],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20, help="requests per second (at most 50)")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--keep-lab", action="store_true", help="leave the lab up at the end")
    args = parser.parse_args()

    env = lab.lab_env()
    subprocess.run([sys.executable, str(REPO / "tests/lab/lab.py"), "up", "--app-count", "3"], check=True, cwd=REPO)
    results = {}
    try:
        started = time.monotonic()
        run_playbook("site.yml", *INVENTORY, env=env)
        print(f"site.yml converged in {time.monotonic() - started:.0f} s", flush=True)
        url = os.environ.get("MMHA_LAB_LB_URL", env.get("MMHA_LAB_LB_URL", "http://127.0.0.1:8080")).rstrip("/")
        for name, runs in scenarios().items():
            with RequestLoop(f"{url}/api/v4/system/ping", rate=args.rate) as loop:
                time.sleep(2)  # a baseline before the change
                started = time.monotonic()
                outcomes = [run_playbook(playbook, *INVENTORY, *extra, env=env, check=False).returncode
                            for playbook, extra in runs]
                took = time.monotonic() - started
                time.sleep(2)
            results[name] = {**loop.report(), "playbook_seconds": round(took, 1), "playbook_exit": outcomes}
            print(f"{name}: {json.dumps(results[name])}", flush=True)
    finally:
        if not args.keep_lab:
            run_playbook("playbooks/teardown.yml", *INVENTORY, "-e", "mattermost_ha_teardown_confirm=Mattermost",
                         env=env, check=False)
            subprocess.run([sys.executable, str(REPO / "tests/lab/lab.py"), "down"], cwd=REPO, check=False)

    print(f"\n{'change':<12}{'sent':>7}{'failed':>8}{'p99 ms':>9}{'playbook s':>12}  versions that answered")
    for name, r in results.items():
        print(f"{name:<12}{r['sent']:>7}{r['failed']:>8}{r['p99_ms']:>9}{r['playbook_seconds']:>12}  "
              f"{r['served_by_version']}  exit {r['playbook_exit']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if all(r["failed"] == 0 and not any(r["playbook_exit"]) for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
