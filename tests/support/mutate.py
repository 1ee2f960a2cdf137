"""Deterministic byte mutation for the fuzz tests and bench/fuzz.py: many hostile inputs per second,
the same ones on every run (a failure names its seed and index, so it can be replayed)."""
from __future__ import annotations

import random
from typing import Iterator, Sequence

# bytes that steer a protobuf parser: varint continuation, wire types 0-7 on low field numbers,
# lengths at their limits
_INTERESTING = (b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", b"\x80", b"\x00", b"\x7f", b"\x0a\xff\xff\xff\xff\x0f",
                b"\x12\x00", b"\x1a\x80\x80\x80\x80\x10", b"\x0f", b"\x0c", b"\x0b", b"\xc0\x80", b"\xed\xa0\x80")


def mutate(rng: random.Random, data: bytes, seeds: Sequence[bytes]) -> bytes:
    """``data`` changed by one to four random edits (flip, insert, delete, truncate, splice, repeat)."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(8)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:
            buf[min(pos, len(buf) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:
            buf[pos:pos] = rng.choice(_INTERESTING)
        elif op == 2:
            buf[pos:pos] = rng.randbytes(rng.randint(1, 16))
        elif op == 3:
            del buf[pos:pos + rng.randint(1, 32)]
        elif op == 4:
            del buf[pos:]
        elif op == 5:
            other = rng.choice(seeds)
            start = rng.randrange(len(other) + 1)
            buf[pos:pos] = other[start:start + rng.randint(1, 64)]
        elif op == 6 and buf:
            end = min(len(buf), pos + rng.randint(1, 32))
            buf[pos:pos] = buf[pos:end] * rng.randint(2, 8)
        elif buf:
            buf[min(pos, len(buf) - 1)] = rng.randrange(256)
    return bytes(buf)


def mutations(seeds: Sequence[bytes], count: int, seed: int = 0) -> Iterator[bytes]:
    """``count`` inputs: each a mutation of a seed, or of an earlier mutation (to go deeper)."""
    rng = random.Random(seed)
    last = seeds[0]
    for _ in range(count):
        base = last if rng.random() < 0.3 else rng.choice(seeds)
        last = mutate(rng, base, seeds)
        yield last
