"""New secrets, their recognisable form, and the hash that is stored in their place.

A secret reads ``se_<kind>_<keyid>_<random>``: ``kind`` is ``ing`` (an ingest token) or ``key`` (an
API key), ``keyid`` 8 hex digits naming its entry in the key file, ``random`` 32 bytes from
:func:`secrets.token_urlsafe`. The prefix lets a secret scanner (or a person) recognise a leaked
one and find its key to revoke; the kind keeps an ingest token from being taken for an API key.

Only the SHA-256 of the whole text is kept. A slow password hash (bcrypt, scrypt, argon2) exists to
make guessing a *human-chosen* password expensive; these secrets are 256 random bits, out of reach
of any guessing however fast the hash, so one SHA-256 per request is enough and costs nothing.
Comparisons go through :func:`hmac.compare_digest` so their time says nothing about the digest.
"""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import secrets

PREFIX = "se"
INGEST_KIND, API_KIND = "ing", "key"
KINDS = (INGEST_KIND, API_KIND)
_FORM = re.compile(r"se_(ing|key)_([0-9a-f]{8})_([A-Za-z0-9_-]{43})")


@dataclasses.dataclass(frozen=True)
class NewSecret:
    """A freshly made secret: ``text`` is shown once and never stored, ``sha256`` is."""

    kind: str
    key_id: str
    text: str

    @property
    def sha256(self) -> str:
        return digest(self.text)


@dataclasses.dataclass(frozen=True)
class Parsed:
    kind: str
    key_id: str


def new_key_id() -> str:
    return secrets.token_hex(4)


def generate(kind: str, key_id: str | None = None) -> NewSecret:
    if kind not in KINDS:
        raise ValueError(f"unknown secret kind {kind!r}: use one of {', '.join(KINDS)}")
    key_id = key_id or new_key_id()
    return NewSecret(kind, key_id, f"{PREFIX}_{kind}_{key_id}_{secrets.token_urlsafe(32)}")


def parse(text: str) -> Parsed | None:
    """The kind and key id of a secret in stackeye's form, or None for any other text."""
    m = _FORM.fullmatch(text)
    return Parsed(m.group(1), m.group(2)) if m else None


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def verify(text: str, sha256_hex: str) -> bool:
    return hmac.compare_digest(digest(text).encode(), sha256_hex.encode())
