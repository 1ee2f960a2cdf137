"""Test certificates made by the ``openssl`` CLI: CAs and the server and client certificates they sign."""
from __future__ import annotations

import shutil
import subprocess

from .services import require


def _ossl(*args) -> None:
    if not shutil.which("openssl"):
        require(False, "openssl is needed to make test certificates: apt-get install openssl")
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca(d, name: str = "ca") -> None:
    """``<name>.pem``/``<name>.key``: a self-signed CA."""
    _ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/{name}.key", "-out", f"{d}/{name}.pem",
          "-days", "2", "-subj", f"/CN=stackeye test {name}")


def make_leaf(d, name: str, ca: str = "ca", serial: int = 1, client: bool = False) -> None:
    """``<name>.pem``/``<name>.key`` signed by CA ``ca`` with serial number ``serial``: a server
    certificate for localhost and 127.0.0.1, or (``client``) a client certificate."""
    _ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/{name}.key", "-out", f"{d}/{name}.csr",
          "-subj", f"/CN={'stackeye test agent' if client else 'localhost'}")
    with open(f"{d}/{name}.ext", "w") as f:
        f.write("extendedKeyUsage=clientAuth\n" if client
                else "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    _ossl("x509", "-req", "-in", f"{d}/{name}.csr", "-CA", f"{d}/{ca}.pem", "-CAkey", f"{d}/{ca}.key",
          "-set_serial", str(serial), "-out", f"{d}/{name}.pem", "-days", "2", "-extfile", f"{d}/{name}.ext")


def make_certs(d) -> None:
    """Write ``ca.pem``/``ca.key`` and ``server.pem``/``server.key`` (for localhost and 127.0.0.1) into ``d``."""
    make_ca(d)
    make_leaf(d, "server")
