"""uvicorn serving a :class:`stackeye.core.http.Router` from a background thread with its own event loop.

The socket is bound in the constructor, so a taken port fails there, synchronously, with
``OSError("cannot listen for {name} on {address}: …")``; :meth:`HTTPServer.start` returns once
uvicorn accepts connections; :meth:`HTTPServer.stop` stops accepting, lets requests in flight
finish (at most :data:`GRACE_S`), closes idle keep-alive connections and joins the thread.

TLS: give ``ssl_context`` (a server context, :meth:`stackeye.core.tls.ServerTLS.ssl_context`); the
server then speaks HTTPS only. The context stays the caller's: loading a new certificate into it
(a reload) reaches the next handshake without a restart.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor

import uvicorn
import uvloop

from stackeye.core.address import parse_address

log = logging.getLogger("stackeye.http")

# Threads that run the (synchronous) handlers, per server: the event loop's default executor. They spend their time off the GIL: the
# receiver waits for the spool's group-commit fsync (so the more requests wait together, the fewer
# fsyncs), API handlers wait on storage queries (serialized by the storage itself beyond a few). 32
# lets that many requests share one fsync or queue at the store while health and /metrics still
# find a free thread; further requests wait in the event loop, costing no thread until one frees.
HANDLER_THREADS = 32
# Idle keep-alive connections are kept this long: above the 60 s idle timeout of common load
# balancers and proxies, so they close first (the other way round, a request can meet a closed socket),
# and well above the SDK exporters' 5 s export interval.
KEEP_ALIVE_S = 65
# On stop, requests in flight get this long to finish; then they are cancelled (the client retries).
GRACE_S = 5.0


class HTTPServer:
    def __init__(self, router, address: str, name: str, max_body_bytes: int = 64 << 20, *,
                 ssl_context: ssl.SSLContext | None = None):
        """``router``: a :class:`stackeye.core.http.Router`; ``max_body_bytes`` caps a request body,
        as sent and after decoding."""
        self.address = address
        self.name = name
        self.scheme = "https" if ssl_context else "http"
        config = uvicorn.Config(
            # httptools (C) parses HTTP/1.1 at about half the CPU of the pure-Python h11 (bench/RESULTS.md).
            router.asgi(name, max_body_bytes), interface="asgi3", http="httptools", lifespan="off",
            log_config=None, log_level="warning", access_log=False,  # requests are counted, not logged
            proxy_headers=False, server_header=False, headers=[("server", "stackeye")],
            timeout_keep_alive=KEEP_ALIVE_S, timeout_graceful_shutdown=GRACE_S,
            ssl_context_factory=(lambda *_: ssl_context) if ssl_context else None)
        config.load()
        try:
            where = parse_address(address, listen=True)
            self._socket = socket.create_server((where.host, where.port), backlog=config.backlog,
                                                family=socket.AF_INET6 if ":" in where.host else socket.AF_INET)
        except (OSError, ValueError) as exc:
            raise OSError(f"cannot listen for {name} on {address}: {exc}") from None
        self.port = self._socket.getsockname()[1]
        self._server = uvicorn.Server(config)
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"http-{name}", daemon=True)

    def _run(self) -> None:
        try:
            uvloop.run(self._serve())  # libuv's event loop: less CPU per request than asyncio's own
        except BaseException as exc:  # noqa: BLE001 - uvicorn ends a failed startup with SystemExit
            self._failure = exc
            log.error("%s on %s stopped: %r", self.name, self.address, exc)

    async def _serve(self) -> None:
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(HANDLER_THREADS, thread_name_prefix=f"http-{self.name}-handler"))
        await self._server.serve(sockets=[self._socket])

    def start(self) -> None:
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise OSError(f"cannot serve {self.name} on {self.address}: {self._failure!r}")
            self._thread.join(0.005)
        log.info("%s listening on %s://%s", self.name, self.scheme, self.address.rpartition(":")[0] + f":{self.port}")

    def stop(self) -> None:
        if not self._thread.is_alive():
            self._socket.close()  # never started (or already stopped)
            return
        self._server.should_exit = True
        self._thread.join(GRACE_S + 5)
        if self._thread.is_alive():
            log.warning("%s: the server did not stop in %.0fs; forcing it", self.name, GRACE_S + 5)
            self._server.force_exit = True
            self._thread.join(5)
