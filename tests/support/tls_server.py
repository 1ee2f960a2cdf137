"""A real ``stackeye up`` serving TLS (``--tls-cert``), asked over HTTPS with the test CA."""
from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request

from .server import StackeyeServer


class TLSStackeyeServer(StackeyeServer):
    """:class:`StackeyeServer` whose API is HTTPS; ``client`` (cert, key) is shown when the server asks (mTLS)."""

    def __init__(self, data_dir: str, certs_dir, extra_args: list[str] | None = None, client: tuple[str, str] | None = None):
        super().__init__(data_dir, ["--tls-cert", str(certs_dir / "served.pem"), "--tls-key", str(certs_dir / "served.key"),
                                    *(extra_args or [])])
        self.context = ssl.create_default_context(cafile=str(certs_dir / "ca.pem"))
        if client:
            self.context.load_cert_chain(*client)

    @property
    def http_url(self) -> str:
        return f"https://localhost:{self.http_port}"

    @property
    def otlp_http_url(self) -> str:
        return f"https://localhost:{self.otlp_http_port}"

    def request(self, method: str, path: str, body: dict | None = None, timeout: float = 30.0):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.http_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.context) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()
