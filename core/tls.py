"""The server certificate of a process's listeners, for HTTPS and gRPC, reloadable in place.

:class:`ServerTLS` reads a PEM certificate chain and its key (and, for mTLS, the CA that signs the
clients' certificates) and hands out what each kind of listener needs: an :class:`ssl.SSLContext`
for the HTTP servers (uvicorn) and dynamic credentials for gRPC. :meth:`ServerTLS.reload`
(``SIGHUP``) reads the files again without closing a listener: the HTTP servers' one context is
loaded anew in place, and gRPC's certificate fetcher, asked at every handshake, hands the new
pair over once. Connections already open keep the certificate they were opened with.

A reload first loads the files into a scratch context, so a missing file, a broken PEM or a key
that does not match the certificate leaves the served certificate as it was (and logs why).
A reloaded client CA is added to the trusted ones: a CA stops being trusted only at a restart.
"""
from __future__ import annotations

import dataclasses
import logging
import ssl
import threading

import grpc

log = logging.getLogger("stackeye.tls")


class TLSError(ValueError):
    """A certificate, key or CA file that cannot be used; the message names the file and the fix."""


@dataclasses.dataclass(frozen=True)
class TLSFiles:
    """``cert``: PEM chain (server first); ``key``: its PEM key ('' = the key is in ``cert``);
    ``client_ca``: PEM of the CA that signs client certificates ('' = no client certificates)."""

    cert: str
    key: str = ""
    client_ca: str = ""

    @property
    def key_file(self) -> str:
        return self.key or self.cert


@dataclasses.dataclass(frozen=True)
class _Loaded:
    """The bytes of one successful load: what gRPC is handed."""

    chain: bytes
    key: bytes
    client_ca: bytes | None


def _read(path: str, what: str, flag: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise TLSError(f"cannot read the {what} {path!r} ({exc.strerror or exc}): give a readable PEM file "
                       f"with {flag}") from None
    if b"-----BEGIN " not in data:
        raise TLSError(f"the {what} {path!r} is not PEM (no '-----BEGIN' line): give a PEM file with {flag}")
    return data


def _load(files: TLSFiles, context: ssl.SSLContext) -> _Loaded:
    """Read ``files`` and load them into ``context``; :class:`TLSError` names what is wrong."""
    chain = _read(files.cert, "TLS certificate", "--tls-cert")
    key = _read(files.key_file, "TLS key", "--tls-key")
    client_ca = _read(files.client_ca, "client CA", "--client-ca") if files.client_ca else None
    try:
        context.load_cert_chain(files.cert, files.key or None)
    except ssl.SSLError as exc:
        raise TLSError(f"cannot use the TLS certificate {files.cert!r} with the key {files.key_file!r} ({exc.reason or exc}): "
                       "give the certificate with --tls-cert and its own private key (unencrypted PEM) with "
                       "--tls-key") from None
    if client_ca is not None:
        try:
            context.load_verify_locations(cadata=client_ca.decode("ascii", "replace"))
        except (ssl.SSLError, ValueError) as exc:
            raise TLSError(f"cannot use the client CA {files.client_ca!r} ({exc}): give the PEM certificate of "
                           "the CA that signs client certificates with --client-ca") from None
    return _Loaded(chain, key, client_ca)


def _context(files: TLSFiles) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED if files.client_ca else ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    return context


class ServerTLS:
    """One certificate (and client CA) shared by every listener of a process; see the module docstring."""

    def __init__(self, files: TLSFiles):
        self.files = files
        self._context = _context(files)
        self._loaded = _load(files, self._context)
        self._generation = 0
        self._lock = threading.Lock()

    @property
    def mutual(self) -> bool:
        """Whether clients must show a certificate signed by the client CA."""
        return self.files.client_ca != ""

    def ssl_context(self) -> ssl.SSLContext:
        """The context of the HTTPS servers (the same object for all; reloads change it in place)."""
        return self._context

    def grpc_credentials(self) -> grpc.ServerCredentials:
        """Credentials for ``server.add_secure_port``; a reload reaches new connections."""
        seen = [self._generation]

        def fetch():
            with self._lock:
                if seen[0] == self._generation:
                    return None  # unchanged: gRPC keeps the configuration it has
                seen[0] = self._generation
                return self._grpc_config(self._loaded)

        return grpc.dynamic_ssl_server_credentials(self._grpc_config(self._loaded), fetch,
                                                   require_client_authentication=self.mutual)

    @staticmethod
    def _grpc_config(loaded: _Loaded):
        return grpc.ssl_server_certificate_configuration([(loaded.key, loaded.chain)], loaded.client_ca)

    def reload(self) -> bool:
        """Read the files again; True when the new ones are served. On any problem the old
        certificate stays and the reason is logged."""
        try:
            loaded = _load(self.files, _context(self.files))  # the scratch load: nothing served changes if it fails
            _load(self.files, self._context)
        except TLSError as exc:
            log.error("TLS reload failed; still serving the previous certificate: %s", exc)
            return False
        with self._lock:
            self._loaded = loaded
            self._generation += 1
        log.info("TLS certificate reloaded from %s", self.files.cert)
        return True

