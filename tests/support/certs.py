"""Test certificates made by the ``openssl`` CLI: a CA and a server certificate it signed."""
from __future__ import annotations

import shutil
import subprocess

from .services import require


def make_certs(d) -> None:
    """Write ``ca.pem``/``ca.key`` and ``server.pem``/``server.key`` (for localhost and 127.0.0.1) into ``d``."""
    if not shutil.which("openssl"):
        require(False, "openssl is needed to make test certificates: apt-get install openssl")

    def ossl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem",
         "-days", "2", "-subj", "/CN=stackeye test CA")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/server.key", "-out", f"{d}/server.csr",
         "-subj", "/CN=localhost")
    with open(f"{d}/san.ext", "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    ossl("x509", "-req", "-in", f"{d}/server.csr", "-CA", f"{d}/ca.pem", "-CAkey", f"{d}/ca.key", "-CAcreateserial",
         "-out", f"{d}/server.pem", "-days", "2", "-extfile", f"{d}/san.ext")
