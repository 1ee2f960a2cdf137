"""Secrets: their recognisable form, the stored hash, the verification."""
from __future__ import annotations

import hashlib

import pytest
from stackeye.auth import secrets as se


def test_a_new_secret_reads_se_kind_keyid_random_and_is_stored_as_its_sha256():
    s = se.generate(se.API_KIND)
    prefix, kind, key_id, rest = s.text.split("_", 3)
    assert (prefix, kind, key_id) == ("se", "key", s.key_id) and len(key_id) == 8 and int(key_id, 16) >= 0
    assert len(rest) == 43  # 32 random bytes, base64url
    assert s.sha256 == hashlib.sha256(s.text.encode()).hexdigest()
    assert se.parse(s.text) == se.Parsed("key", s.key_id)
    assert se.verify(s.text, s.sha256) and not se.verify(s.text + "x", s.sha256)


def test_every_secret_is_new():
    assert len({se.generate(se.INGEST_KIND).text for _ in range(200)}) == 200


@pytest.mark.parametrize("text", ["", "s3cret", "se_key_123_abc", "se_xyz_0123abcd_" + "a" * 43,
                                  "se_ing_0123ABCD_" + "a" * 43, "se_ing_0123abcd_" + "a" * 42])
def test_other_texts_are_not_in_the_form(text):
    assert se.parse(text) is None


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="ing, key"):
        se.generate("adm")
