#!/usr/bin/env python3
"""A CA of the lab's own and one server certificate per database host, signed by it.

    db_tls.py OUT_DIR HOST...

The PostgreSQL containers serve the certificate of their host name, so that the app nodes
can connect with sslmode=verify-full and the lab CA as sslrootcert, as they do with Aurora
and the RDS CA bundle. OUT_DIR also gets other-ca.pem, a CA that signed none of them (for
the tests of a CA that does not match). Files already there are kept: running it again
changes nothing.
"""

import subprocess
import sys
from pathlib import Path


def _openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _make_ca(out, name, subject):
    if not (out / f"{name}.pem").exists():
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "365", "-subj", subject,
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                 "-keyout", str(out / f"{name}.key"), "-out", str(out / f"{name}.pem"))


def make_db_certs(out_dir, hosts):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _make_ca(out, "ca", "/CN=mattermost-ha lab database CA")
    _make_ca(out, "other-ca", "/CN=mattermost-ha lab unrelated CA")
    for host in hosts:
        if (out / f"{host}.crt").exists():
            continue
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={host}",
                 "-keyout", str(out / f"{host}.key"), "-out", str(out / f"{host}.csr"))
        ext = out / f"{host}.ext"
        ext.write_text(f"subjectAltName=DNS:{host}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
        _openssl("x509", "-req", "-in", str(out / f"{host}.csr"), "-CA", str(out / "ca.pem"),
                 "-CAkey", str(out / "ca.key"), "-CAcreateserial", "-days", "365", "-extfile", str(ext),
                 "-out", str(out / f"{host}.crt"))
        (out / f"{host}.csr").unlink()
        ext.unlink()
    return out / "ca.pem"


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    make_db_certs(sys.argv[1], sys.argv[2:])
