"""The one HOST:PORT parser: [v6]:port, port 0 only for listening, errors that show a good value."""
from __future__ import annotations

import pytest
from stackeye.core.address import Address, AddressError, parse_address, same_endpoint


@pytest.mark.parametrize("text, listen, expected", [
    ("127.0.0.1:4317", False, Address("127.0.0.1", 4317)),
    (" kafka-1.internal:9092 ", False, Address("kafka-1.internal", 9092)),
    ("[::1]:4317", False, Address("::1", 4317)),
    ("[::]:0", True, Address("::", 0)),
    ("0.0.0.0:0", True, Address("0.0.0.0", 0)),
])
def test_good_addresses(text, listen, expected):
    assert parse_address(text, listen=listen) == expected
    assert parse_address(str(expected), listen=listen) == expected  # str() writes it back ([v6] in brackets)


@pytest.mark.parametrize("text, listen, words", [
    ("4317", True, "expected HOST:PORT like 127.0.0.1:4317"),
    (":4317", True, "expected HOST:PORT"),
    ("host:port", True, "bad port 'port'"),
    ("host:65536", True, "from 1 to 65535"),
    ("host:0", False, "port 0"),
    ("::1:4317", True, "in brackets: [::1]:4317"),
    ("[::1:4317", True, "unclosed '['"),
    ("[nope]:4317", True, "not an IPv6 address"),
    ("ho st:1", True, "bad host"),
])
def test_bad_addresses_say_what_a_good_one_looks_like(text, listen, words):
    with pytest.raises(AddressError) as err:
        parse_address(text, listen=listen)
    assert words in str(err.value)
    assert any(w in str(err.value) for w in ("e.g.", "like", "instead of")), "shows a good value"


def test_port_0_is_for_listening_only():
    assert parse_address("127.0.0.1:0", listen=True).port == 0
    with pytest.raises(AddressError, match="a connect address needs the server's port"):
        parse_address("127.0.0.1:0", listen=False)


def test_same_endpoint_treats_loopback_and_wildcard_as_this_host():
    assert same_endpoint("localhost:4317", "127.0.0.1:4317")
    assert same_endpoint("[::1]:4317", "0.0.0.0:4317")
    assert not same_endpoint("localhost:4317", "127.0.0.1:14317")
    assert not same_endpoint("10.0.0.5:4317", "127.0.0.1:4317")
