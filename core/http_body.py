"""Reading a request body: streamed, limited while it arrives, decoded with a cap.

The limit applies twice: to the bytes on the wire (checked against ``Content-Length`` before
reading, and again chunk by chunk, so a chunked upload is stopped as soon as it passes it) and to
the bytes after ``Content-Encoding: gzip``/``deflate`` decoding, which is done incrementally with
``zlib``'s ``max_length`` so a small zip bomb is refused without ever being inflated in memory.
"""
from __future__ import annotations

import zlib

from starlette.requests import Request as StarletteRequest

from stackeye.core.http_errors import HTTPError

# zlib window bits per Content-Encoding: gzip framing, or zlib framing (what HTTP calls deflate).
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


async def read_body(request: StarletteRequest, limit: int) -> bytes:
    """The decoded body of ``request``; HTTPError 413 over ``limit``, 400 when it does not decode,
    415 for a Content-Encoding other than gzip, deflate or identity."""
    encoding = request.headers.get("content-encoding", "").strip().lower()
    decoder = None if encoding in ("", "identity") else _Decoder(encoding, limit)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPError(413, f"request body of {declared} bytes is over the limit of {limit} bytes: send smaller requests",
                        limit=limit)
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise HTTPError(413, f"request body is over the limit of {limit} bytes: send smaller requests", limit=limit)
        if decoder is not None:
            decoder.feed(chunk)
        elif chunk:
            chunks.append(chunk)
    if decoder is not None:
        return decoder.finish() if received else b""
    return b"".join(chunks)


class _Decoder:
    """Incremental gzip/deflate decoding that stops at ``limit`` decoded bytes."""

    def __init__(self, encoding: str, limit: int):
        if encoding not in _WBITS:
            raise HTTPError(415, f"unsupported Content-Encoding {encoding!r}: use gzip, deflate or none")
        self.encoding = encoding
        self.limit = limit
        self._z = zlib.decompressobj(_WBITS[encoding])
        self._out: list[bytes] = []
        self._size = 0

    def feed(self, data: bytes) -> None:
        while data:
            try:
                piece = self._z.decompress(data, self.limit - self._size + 1)
            except zlib.error as exc:
                raise self._invalid(str(exc)) from None
            self._take(piece)
            if self._z.unconsumed_tail:  # stopped at max_length: _take did not refuse it, go on
                data = self._z.unconsumed_tail
            elif self._z.eof and self._z.unused_data:
                if self.encoding != "gzip":
                    raise self._invalid("data after the end of the compressed stream")
                data = self._z.unused_data  # the next member of a multi-member gzip body
                self._z = zlib.decompressobj(_WBITS["gzip"])
            else:
                data = b""

    def finish(self) -> bytes:
        if not self._z.eof:
            raise self._invalid("the body ends before the compressed stream does")
        return b"".join(self._out)

    def _take(self, piece: bytes) -> None:
        self._size += len(piece)
        if self._size > self.limit:
            raise HTTPError(413, f"the {self.encoding}-decoded request body is over the limit of {self.limit} bytes: "
                                 f"send smaller requests", limit=self.limit)
        if piece:
            self._out.append(piece)

    def _invalid(self, why: str) -> HTTPError:
        return HTTPError(400, f"the body is not valid {self.encoding}: {why}")
