#!/usr/bin/env python3
"""Build the scenario's stand-in releases: 11.7.9 and 11.7.10 signed by one throw-away key
(install, upgrade, rollback), a test license, and 11.7.11 signed by another key in other/.
Each directory gets signing-key.fpr, the fingerprint of its key (mattermost_ha_gpg_fingerprint).

    build_releases.py PROJECT_DIR OUT_DIR
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def main():
    project, out = Path(sys.argv[1]), Path(sys.argv[2])
    sys.path.insert(0, str(project / "tests" / "mattermost_standin"))
    from build_release import build_release, make_signing_key, write_test_license

    home = Path(tempfile.mkdtemp(prefix="nodes-gpg-"))
    try:
        make_signing_key(home)
        for version in ("11.7.9", "11.7.10"):
            built = build_release(version, out, gnupghome=home)
        (out / "signing-key.fpr").write_text(built.fingerprint + "\n")
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True, check=False)
        shutil.rmtree(home, ignore_errors=True)
    write_test_license(out / "test.mattermost-license")
    other = build_release("11.7.11", out / "other")  # its own throw-away key
    (out / "other" / "signing-key.fpr").write_text(other.fingerprint + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
