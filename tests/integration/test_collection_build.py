"""The built artifact: what ansible-galaxy builds is the collection, and it installs."""

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def galaxy(*args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "ANSIBLE_CONFIG"}
    return subprocess.run([str(BIN / "ansible-galaxy"), *args], cwd=cwd, env=env, check=True,
                          capture_output=True, text=True)


def test_build_then_install_into_an_empty_collections_path(tmp_path):
    galaxy("collection", "build", "--output-path", str(tmp_path), str(REPO), cwd=tmp_path)
    version = (REPO / "galaxy.yml").read_text().split("\nversion: ", 1)[1].split()[0]
    tarball = tmp_path / f"mattermost_ha-aws-{version}.tar.gz"
    assert tarball.is_file()

    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    # Test equipment and developer files stay out of the artifact.
    for excluded in ("tests/", "molecule/", "bench/", "collections/", "vendor/", ".ci/", "Makefile"):
        assert not any(n == excluded.rstrip("/") or n.startswith(excluded) for n in names), excluded
    assert "MANIFEST.json" in names and "meta/runtime.yml" in names

    target = tmp_path / "collections"
    target.mkdir()
    # --offline: the dependencies resolve to the ones the `ansible` package bundles (and
    # prometheus.prometheus, which make setup installs beside them from vendor/).
    galaxy("collection", "install", "--offline", "-p", str(target), str(tarball), cwd=tmp_path)
    installed = target / "ansible_collections" / "mattermost_ha" / "aws"
    manifest = json.loads((installed / "MANIFEST.json").read_text())
    assert manifest["collection_info"]["namespace"] == "mattermost_ha"
    assert manifest["collection_info"]["name"] == "aws"
    assert manifest["collection_info"]["version"] == version
    assert "amazon.aws" in manifest["collection_info"]["dependencies"]
