"""Build a release-shaped tarball of the Mattermost stand-in, its SHA-256 and a detached GPG signature.

    python tests/mattermost_standin/build_release.py --version 11.7.9 --out /tmp/release
    python tests/mattermost_standin/build_release.py --license /tmp/release/test.mattermost-license

From Python: ``build_release(version, out_dir, config_source=None) -> Release``.
"""

import argparse
import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent
PACKAGE = HERE / "standin"
CONFIGS = HERE / "configs"
DEFAULT_VERSION = "11.7.9"
PUBLIC_KEY_NAME = "mattermost-test-signing-key.asc"
KEY_UID = "Mattermost stand-in test signing key <standin-test@example.invalid>"

LAUNCHER = """#!/usr/bin/python3
# Mattermost stand-in for tests ({what}); see README.md in the tarball. Not the real Mattermost.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from _standin.{module} import main  # noqa: E402

sys.exit(main())
"""

README = """Mattermost {version} STAND-IN (test equipment, not Mattermost)

This tarball has the shape of a Mattermost release but contains the stand-in written for
the mattermost_ha.aws collection's tests: bin/mattermost and bin/mmctl are small Python
programs that imitate the server behaviour the collection's roles depend on.
config/config.json is a real default config.json of Mattermost {config_version}.
"""


class Release(NamedTuple):
    version: str
    tarball: Path
    sha256: Path
    signature: Path
    public_key: Path
    fingerprint: str
    config_version: str


def reference_config_for(version):
    """The packaged default config: the closest real one (9.5, 10.6 or 10.11.8; 10.11.8 also for v11)."""
    parts = [int(p) for p in version.split(".")[:2]]
    major, minor = parts[0], parts[1] if len(parts) > 1 else 0
    if major <= 9:
        name = "9.5"
    elif major == 10 and minor <= 8:
        name = "10.6"
    else:
        name = "10.11.8"
    return name, CONFIGS / f"config-{name}.json"


def _add_bytes(tar, name, data, mode=0o644):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = int(time.time())
    info.uname = info.gname = "root"
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar, name, mode=0o755):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    info.mtime = int(time.time())
    tar.addfile(info)


def _gpg(gnupghome, *args, **kwargs):
    return subprocess.run(["gpg", "--homedir", str(gnupghome), "--batch", "--no-tty", *args],
                          check=True, capture_output=True, **kwargs)


def make_signing_key(gnupghome):
    """A throw-away ed25519 signing key without passphrase in gnupghome; returns its fingerprint."""
    gnupghome = Path(gnupghome)
    gnupghome.mkdir(parents=True, exist_ok=True, mode=0o700)
    _gpg(gnupghome, "--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key", KEY_UID,
         "ed25519", "sign", "1y")
    listing = _gpg(gnupghome, "--with-colons", "--list-secret-keys", text=True).stdout
    return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))


def build_release(version=DEFAULT_VERSION, out_dir=".", config_source=None, arch="amd64", gnupghome=None,
                  start_failure=None):
    """Write mattermost-<version>-linux-<arch>.tar.gz, .sha256, .sig and the public key into out_dir.

    start_failure: a reason; the server of this release then cannot start (it logs "Failed to start
    server" with the reason and exits 1 before it listens or tells systemd it is ready), while
    `mattermost version` and `mattermost db migrate` work. Test equipment for failed upgrades.

    config_source: a config.json to package instead of the reference config chosen by version.
    gnupghome: an existing GnuPG home with one secret key to sign with; default a new throw-away key.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config_version, reference = reference_config_for(version)
    config_path = Path(config_source) if config_source else reference
    if config_source:
        config_version = f"custom ({config_path.name})"
    config_bytes = config_path.read_bytes()
    json.loads(config_bytes)  # refuse to package something that is not JSON
    defaults = reference.read_bytes()

    name = f"mattermost-{version}-linux-{arch}.tar.gz"
    tarball = out_dir / name
    with tarfile.open(tarball, "w:gz") as tar:
        for directory in ("mattermost", "mattermost/bin", "mattermost/bin/_standin", "mattermost/config",
                          "mattermost/client", "mattermost/client/plugins", "mattermost/logs", "mattermost/plugins",
                          "mattermost/prepackaged_plugins", "mattermost/fonts", "mattermost/i18n",
                          "mattermost/templates"):
            _add_dir(tar, directory)
        _add_bytes(tar, "mattermost/bin/mattermost",
                   LAUNCHER.format(what="server", module="server").encode(), 0o755)
        _add_bytes(tar, "mattermost/bin/mmctl", LAUNCHER.format(what="mmctl", module="mmctl").encode(), 0o755)
        for source in sorted(PACKAGE.glob("*.py")):
            _add_bytes(tar, f"mattermost/bin/_standin/{source.name}", source.read_bytes())
        _add_bytes(tar, "mattermost/bin/_standin/VERSION", f"{version}\n".encode())
        if start_failure:
            _add_bytes(tar, "mattermost/bin/_standin/START_FAILURE", f"{start_failure}\n".encode())
        _add_bytes(tar, "mattermost/bin/_standin/default-config.json", defaults)
        _add_bytes(tar, "mattermost/config/config.json", config_bytes, 0o600)
        _add_bytes(tar, "mattermost/client/root.html",
                   f"<!doctype html><title>Mattermost {version} stand-in</title>\n".encode())
        _add_bytes(tar, "mattermost/i18n/en.json", b"[]\n")
        _add_bytes(tar, "mattermost/README.md",
                   README.format(version=version, config_version=config_version).encode())
        _add_bytes(tar, "mattermost/NOTICE.txt", b"Test stand-in; see README.md.\n")

    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    sha_file = out_dir / f"{name}.sha256"
    sha_file.write_text(f"{digest}  {name}\n")

    own_home = gnupghome is None
    home = Path(tempfile.mkdtemp(prefix="mm-standin-gpg-")) if own_home else Path(gnupghome)
    try:
        if own_home:
            fingerprint = make_signing_key(home)
        else:
            listing = _gpg(home, "--with-colons", "--list-secret-keys", text=True).stdout
            fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
        signature = out_dir / f"{name}.sig"
        signature.unlink(missing_ok=True)
        _gpg(home, "--local-user", fingerprint, "--detach-sign", "--output", str(signature), str(tarball))
        public_key = out_dir / PUBLIC_KEY_NAME
        public_key.write_bytes(_gpg(home, "--armor", "--export", fingerprint).stdout)
    finally:
        if own_home:
            subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True, check=False)
            shutil.rmtree(home, ignore_errors=True)
    return Release(version, tarball, sha_file, signature, public_key, fingerprint, config_version)


def make_test_license(cluster=True, metrics=True, expires_in_days=365, customer="mattermost_ha.aws tests"):
    """A stand-in license (base64 of JSON). The real one is an RSA-signed blob; see README.md."""
    now = int(time.time() * 1000)
    document = {
        "id": hashlib.sha256(os.urandom(16)).hexdigest()[:26],
        "issued_at": now,
        "starts_at": now - 60_000,
        "expires_at": now + expires_in_days * 86_400_000,
        "sku_name": "Enterprise",
        "sku_short_name": "enterprise",
        "customer": {"name": customer, "email": "standin-test@example.invalid"},
        "features": {"cluster": cluster, "metrics": metrics, "users": 1000},
        "standin": True,
    }
    return base64.b64encode(json.dumps(document).encode()).decode() + "\n"


def write_test_license(path, **kwargs):
    path = Path(path)
    path.write_text(make_test_license(**kwargs))
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default=DEFAULT_VERSION)
    parser.add_argument("--out", default=".", help="output directory")
    parser.add_argument("--config", help="config.json to package instead of the version's reference config")
    parser.add_argument("--arch", default="amd64")
    parser.add_argument("--license", help="also write a stand-in license file to this path")
    parser.add_argument("--no-cluster-license", action="store_true", help="the license lacks the cluster feature")
    args = parser.parse_args(argv)
    release = build_release(args.version, args.out, args.config, args.arch)
    for field in ("tarball", "sha256", "signature", "public_key", "fingerprint", "config_version"):
        print(f"{field}: {getattr(release, field)}")
    if args.license:
        print(f"license: {write_test_license(args.license, cluster=not args.no_cluster_license)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
