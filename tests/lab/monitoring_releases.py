"""Prometheus, Alertmanager, node_exporter and blackbox_exporter releases for the lab, made from Debian's packages.

prometheus.prometheus's roles download each program's release tarball and its sha256sums.txt
from GitHub (`https://github.com/prometheus/<name>/releases/download/v<version>/...`), which
these machines cannot reach. Debian packages the real programs, so the lab downloads the
packages from Debian's mirror (`apt-get download`), and lays their binaries out exactly as the
upstream release does:

    <name>-<version>.linux-amd64/<binaries>, LICENSE, NOTICE (and Prometheus 2.x's consoles/,
    console_libraries/)

under the same path below LAB_DIR/release/github/, with a sha256sums.txt beside it. The lab's
release server answers there, so the maintained roles install real binaries through their own
download, checksum and unpack tasks, with nothing but the URL's host changed.

What differs from upstream's tarball: the binaries are Debian's builds (same source, Debian's
Go and patches; Debian's Prometheus serves its web UI from /usr/share/prometheus/web, which the
tarball does not hold, so the UI pages are missing while the API answers; Debian's Alertmanager
reads its notification templates from /usr/share/prometheus/alertmanager, which the lab copies
onto the monitoring node from LAB_DIR/release/debian-alertmanager), and the console directories
hold Debian's README only.
"""

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

# Debian package -> (upstream repository, tarball name, {upstream binary: path in the package}).
PACKAGES = {
    "prometheus": ("prometheus/prometheus", "prometheus",
                   {"prometheus": "usr/bin/prometheus", "promtool": "usr/bin/promtool"}),
    "prometheus-alertmanager": ("prometheus/alertmanager", "alertmanager",
                                {"alertmanager": "usr/bin/prometheus-alertmanager", "amtool": "usr/bin/amtool"}),
    "prometheus-node-exporter": ("prometheus/node_exporter", "node_exporter",
                                 {"node_exporter": "usr/bin/prometheus-node-exporter"}),
    "prometheus-blackbox-exporter": ("prometheus/blackbox_exporter", "blackbox_exporter",
                                     {"blackbox_exporter": "usr/bin/prometheus-blackbox-exporter"}),
}
# Prometheus 2.x release tarballs carry these; the role copies them for versions below 3.0.
PROMETHEUS_DIRS = {"consoles": "etc/prometheus/consoles", "console_libraries": "etc/prometheus/console_libraries"}
ARCH = "linux-amd64"
DEBIAN_ALERTMANAGER_TEMPLATES = "usr/share/prometheus/alertmanager"


def _upstream_version(deb_version):
    """2.42.0+ds-5+deb12u1 -> 2.42.0; 1:1.5.0-1+b6 -> 1.5.0."""
    version = deb_version.split(":", 1)[-1]
    return version.split("+", 1)[0].split("-", 1)[0].split("~", 1)[0]


def _download(package, into):
    """The package's .deb from the machine's apt sources; returns (path, Debian version)."""
    candidate = subprocess.run(["apt-cache", "policy", package], check=True, capture_output=True, text=True).stdout
    deb_version = next((line.split()[-1] for line in candidate.splitlines() if "Candidate:" in line), "")
    if not deb_version or deb_version == "(none)":
        raise RuntimeError(f"apt knows no package {package}: run `apt-get update` (make setup does)")
    found = sorted(into.glob(f"{package}_*.deb"))
    if not found:
        subprocess.run(["apt-get", "download", "-q", package], cwd=into, check=True, capture_output=True)
        found = sorted(into.glob(f"{package}_*.deb"))
    return found[-1], deb_version


def _add(tar, path, arcname, mode=None):
    info = tar.gettarinfo(str(path), arcname)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    if mode is not None:
        info.mode = mode
    if info.isfile():
        with open(path, "rb") as handle:
            tar.addfile(info, handle)
    else:
        tar.addfile(info)


def _shape(deb, repo, name, binaries, release_root):
    """One upstream-shaped release from a .deb; returns its version and file."""
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(work / "root")], check=True)
        fields = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], check=True, capture_output=True,
                                text=True).stdout.strip()
        version = _upstream_version(fields)
        top = f"{name}-{version}.{ARCH}"
        out_dir = release_root / repo / "releases" / "download" / f"v{version}"
        if name == "alertmanager":
            # Debian's build reads its notification templates from this directory instead of
            # carrying them inside the binary: the lab puts them on the monitoring node (hosts.yml).
            templates = release_root.parent / "debian-alertmanager"
            templates.mkdir(parents=True, exist_ok=True)
            for template in (work / "root" / DEBIAN_ALERTMANAGER_TEMPLATES).glob("*.tmpl"):
                shutil.copy2(template, templates / template.name)
        tarball = out_dir / f"{top}.tar.gz"
        if tarball.exists() and (out_dir / "sha256sums.txt").exists():
            return version, tarball
        out_dir.mkdir(parents=True, exist_ok=True)
        staging = work / top
        staging.mkdir()
        for binary, source in binaries.items():
            shutil.copy2(work / "root" / source, staging / binary)
        copyright_file = work / "root" / "usr/share/doc" / deb.name.split("_", 1)[0] / "copyright"
        for extra in ("LICENSE", "NOTICE"):
            target = staging / extra
            if copyright_file.exists():
                shutil.copy2(copyright_file, target)
            else:
                target.write_text(f"See the Debian package {deb.name}.\n")
        if name == "prometheus":
            for directory, source in PROMETHEUS_DIRS.items():
                shutil.copytree(work / "root" / source, staging / directory)
        partial = tarball.with_suffix(".partial")
        # Byte for byte the same from the same package (gzip's header time too): the roles keep
        # what they downloaded in a cache on the controller and check it against sha256sums.txt.
        with open(partial, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as gz, \
                tarfile.open(fileobj=gz, mode="w") as tar:
            for path in sorted([staging, *staging.rglob("*")]):
                arcname = str(path.relative_to(work))
                _add(tar, path, arcname, 0o755 if path.is_dir() or path.name in binaries else 0o644)
        partial.rename(tarball)
        digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
        (out_dir / "sha256sums.txt").write_text(f"{digest}  {tarball.name}\n")
        # The files' time is the package's build time, as an upstream release asset's is its upload
        # time: the roles' download (ansible.builtin.uri with dest) asks If-Modified-Since its cached
        # copy, and reports a change on every answer but 304.
        built = (work / "root" / next(iter(binaries.values()))).stat().st_mtime
        for path in (tarball, out_dir / "sha256sums.txt"):
            os.utime(path, (built, built))
        return version, tarball


def prepare(lab_dir, base_url):
    """Shape every release (once; later calls reuse them) and describe them in monitoring.json."""
    release_dir = Path(lab_dir) / "release"
    info_file = release_dir / "monitoring.json"
    if info_file.exists():
        return json.loads(info_file.read_text())
    downloads = Path(lab_dir) / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    info = {}
    for package, (repo, name, binaries) in PACKAGES.items():
        deb, deb_version = _download(package, downloads)
        version, tarball = _shape(deb, repo, name, binaries, release_dir / "github")
        info[name] = {
            "version": version,
            "debian_package": f"{package} {deb_version}",
            "binary_url": f"{base_url}/github/{repo}/releases/download/v{version}/{tarball.name}",
            "checksums_url": f"{base_url}/github/{repo}/releases/download/v{version}/sha256sums.txt",
            "tarball": str(tarball),
        }
    info_file.write_text(json.dumps(info, indent=2))
    return info
