#!/usr/bin/env python3
"""Run a command and SIGKILL its whole process group once a marker line has been printed.

    interrupt.py --marker 'TASK [... : Ask the server to copy config.json into the database' --delay 0.5 -- ansible-playbook ...

Exit status 0 when the command was killed at the marker, 1 when it ended without printing it.
"""

import argparse
import os
import signal
import subprocess
import sys
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--marker", required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    for line in proc.stdout:
        sys.stdout.write(line)
        if args.marker in line:
            time.sleep(args.delay)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            print(f"--- killed at: {args.marker}")
            return 0
    proc.wait()
    print(f"--- ended (rc={proc.returncode}) without reaching: {args.marker}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
