"""The one error type of the HTTP stack: raised anywhere in a request, answered as JSON.

``HTTPError(404, "no such view: x", parameter="name")`` becomes status 404 with the body
``{"error": "no such view: x", "parameter": "name"}``.
"""
from __future__ import annotations


class HTTPError(Exception):
    def __init__(self, status: int, message: str, **extra):
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra
