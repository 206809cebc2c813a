"""Wall time of the frontend provisioning with and without a 60 s certificate validation wait.

The certificate is requested first and waited for only after Aurora and the app instances have
been started, so a 60 s validation delay should cost much less than 60 s on top of the run
without it. Runs the issue-5 part of provision.yml (tests/integration/aws/playbooks/frontend.yml)
on two moto servers, MOTO_ACM_VALIDATION_WAIT=0 and =60, each from an empty account.

    .venv/bin/python bench/provision_wait.py
"""

import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests/integration/aws")]

from frontend_prereqs import create_prerequisites, lab_vars, write_vars  # noqa: E402
from harness.ansible import run_playbook  # noqa: E402
from harness.aws import AwsAccount  # noqa: E402
from harness.moto_server import MotoServer  # noqa: E402

PLAYBOOK = "tests/integration/aws/playbooks/frontend.yml"


def timed_run(wait):
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-acm{wait}-"))
    server = MotoServer(workdir, acm_validation_wait=wait).start()
    try:
        aws = AwsAccount(server)
        os.environ.update(aws.env)
        values = lab_vars(aws, create_prerequisites(aws), records_file=workdir / "records.csv")
        started = time.monotonic()
        run = run_playbook(PLAYBOOK, "-e", write_vars(workdir / "vars.yml", values), env=aws.env)
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
