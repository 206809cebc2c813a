#!/usr/bin/env python3
"""A CA of the lab's own and one server certificate per database host, signed by it.

    db_tls.py OUT_DIR HOST...

The PostgreSQL containers serve the certificate of their host name, so that the app nodes
can connect with sslmode=verify-full and the lab CA as sslrootcert, as they do with Aurora
and the RDS CA bundle. OUT_DIR also gets other-ca.pem, a CA that signed none of them (for
the tests of a CA that does not match). Files already there are kept: running it again
changes nothing.

`issue_server_cert` makes one certificate for several DNS names (a restored cluster's
container also answers to the cluster's endpoints: tests/lab/controller.py), and can issue
it again when the names change.
"""

import subprocess
import sys
import tempfile
from pathlib import Path


def _openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _make_ca(out, name, subject):
    if not (out / f"{name}.pem").exists():
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "365", "-subj", subject,
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                 "-keyout", str(out / f"{name}.key"), "-out", str(out / f"{name}.pem"))


def issue_server_cert(ca_dir, name, dns_names, out_dir=None, renew=False):
    """The lab CA's (ca_dir/ca.pem and ca.key) certificate for `dns_names`, the first one its CN.

    Writes <out_dir>/<name>.crt and <name>.key (out_dir: ca_dir). An existing certificate is
    kept unless `renew`; a renewed one has a new key. Returns the certificate's path.
    """
    ca = Path(ca_dir)
    out = Path(out_dir or ca_dir)
    out.mkdir(parents=True, exist_ok=True)
    crt, key = out / f"{name}.crt", out / f"{name}.key"
    if crt.exists() and not renew:
        return crt
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        csr, ext, new_key, new_crt = (Path(tmp) / part for part in ("csr", "ext", "key", "crt"))
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={dns_names[0]}",
                 "-keyout", str(new_key), "-out", str(csr))
        san = ",".join(f"DNS:{dns}" for dns in dns_names)
        ext.write_text(f"subjectAltName={san}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
        # The serial file sits next to the CA, whichever directory the certificate goes to.
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca / "ca.pem"), "-CAkey", str(ca / "ca.key"),
                 "-CAcreateserial", "-CAserial", str(ca / "ca.srl"), "-days", "365", "-extfile", str(ext),
                 "-out", str(new_crt))
        # Key first: a reader that finds the new certificate also finds its key.
        new_key.replace(key)
        new_crt.replace(crt)
    return crt


def make_db_certs(out_dir, hosts):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _make_ca(out, "ca", "/CN=mattermost-ha lab database CA")
    _make_ca(out, "other-ca", "/CN=mattermost-ha lab unrelated CA")
    for host in hosts:
        issue_server_cert(out, host, [host])
    return out / "ca.pem"


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    make_db_certs(sys.argv[1], sys.argv[2:])
