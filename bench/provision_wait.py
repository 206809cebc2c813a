"""Wall time of playbooks/provision.yml with and without a 60 s certificate validation wait.

The certificate is requested first and waited for only after the network, Aurora and the app
instances have been started, so a 60 s validation delay should cost much less than 60 s on top
of the run without it. Runs the whole provision.yml (the moto switches of EMULATOR_FRONTEND_VARS,
no Route 53 zone, Instance Connect Endpoint off) on two moto servers, MOTO_ACM_VALIDATION_WAIT=0
and =60, each from an empty account.

    .venv/bin/python bench/provision_wait.py
"""

import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests/integration/aws")]

from frontend_prereqs import EMULATOR_FRONTEND_VARS  # noqa: E402
from harness.ansible import run_playbook  # noqa: E402
from harness.moto_server import REGION, MotoServer  # noqa: E402

PLAYBOOK = "playbooks/provision.yml"


def timed_run(wait):
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-acm{wait}-"))
    server = MotoServer(workdir, acm_validation_wait=wait).start()
    try:
        values = {
            "mattermost_ha_region": REGION,
            "mattermost_ha_instance_connect_endpoint": False,
            **EMULATOR_FRONTEND_VARS,
            "mattermost_ha_certificate_records_file": str(workdir / "records.csv"),
        }
        started = time.monotonic()
        run = run_playbook(PLAYBOOK, "-e", json.dumps(values), env=server.env(REGION))
        elapsed = time.monotonic() - started
        return elapsed, run.changed
    finally:
        server.stop()


def main():
    results = {wait: timed_run(wait) for wait in (0, 60)}
    for wait, (elapsed, changed) in results.items():
        print(f"MOTO_ACM_VALIDATION_WAIT={wait:>2}: {elapsed:6.1f} s (changed={changed})")
    extra = results[60][0] - results[0][0]
    print(f"cost of a 60 s validation wait: {extra:+.1f} s (fully sequential would be about +60 s)")


if __name__ == "__main__":
    main()
