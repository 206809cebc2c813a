#!/usr/bin/env python3
"""Record every distinct command line of the node's processes (read from /proc/*/cmdline) to a file.

Runs on the app nodes from prepare to verify (a transient systemd unit), polling every 20 ms so
that short-lived processes (mmctl, psql, the modules' helpers) are seen too.
"""

import os
import sys
import time


def main(path):
    seen = set()
    with open(path, "a", encoding="utf-8") as out:
        while True:
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as handle:
                        data = handle.read()
                except OSError:
                    continue
                if data and data not in seen:
                    seen.add(data)
                    out.write(data.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace") + "\n")
                    out.flush()
            time.sleep(0.02)


if __name__ == "__main__":
    main(sys.argv[1])
