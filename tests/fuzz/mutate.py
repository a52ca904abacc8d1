"""A small deterministic mutation engine for the short form of the fuzz targets.

libFuzzer (through atheris) drives the long campaigns by coverage; ``make test`` has no time for
that and must give the same inputs on every run, so it mutates the seeds with a seeded
``random.Random``: the byte, word and block mutations libFuzzer uses most (bit flips, "interesting"
integers, inserted format keywords, copied, erased and spliced blocks, truncation).
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Iterator, Sequence

INTERESTING_8 = (0, 1, 0x7F, 0x80, 0xFF)
INTERESTING_32 = (0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x10000, 0xFFFF, 0x1000)

Mutation = Callable[[random.Random, bytearray, Sequence[bytes], Sequence[bytes]], None]


def _offset(rng: random.Random, data: bytearray) -> int:
    return rng.randrange(len(data)) if data else 0


def _flip(
    rng: random.Random, data: bytearray, seeds: Sequence[bytes], tokens: Sequence[bytes]
) -> None:
    if data:
        data[_offset(rng, data)] ^= 1 << rng.randrange(8)


def _byte(
    rng: random.Random, data: bytearray, seeds: Sequence[bytes], tokens: Sequence[bytes]
) -> None:
    if data:
        data[_offset(rng, data)] = rng.choice((*INTERESTING_8, rng.randrange(256)))


def _word(
    rng: random.Random, data: bytearray, seeds: Sequence[bytes], tokens: Sequence[bytes]
) -> None:
    if len(data) >= 4:
        at = rng.randrange(len(data) - 3)
        value = rng.choice((*INTERESTING_32, rng.getrandbits(32)))
        data[at : at + 4] = struct.pack(rng.choice(("<I", ">I")), value)


def _token(
    rng: random.Random, data: bytearray, seeds: Sequence[bytes], tokens: Sequence[bytes]
) -> None:
    word = rng.choice(tokens) if tokens else bytes([rng.randrange(256)])
    at = rng.randrange(len(data) + 1)
    if rng.random() < 0.5:
        data[at:at] = word
    else:
        data[at : at + len(word)] = word


def _erase(
    rng: random.Random, data: bytearray, seeds: Sequence[bytes], tokens: Sequence[bytes]
) -> None:
    if data:
        at = _offset(rng, data)
        del data[at : at + rng.randint(1, min(64, len(data) - at))]


def _copy(
    rng: random.Random, data: bytearray, seeds: Sequence[bytes], tokens: Sequence[bytes]
) -> None:
    if data:
        at = _offset(rng, data)
        block = data[at : at + rng.randint(1, 64)]
        to = rng.randrange(len(data) + 1)
        data[to:to] = block * rng.choice((1, 1, 2, 16))


def _splice(
    rng: random.Random, data: bytearray, seeds: Sequence[bytes], tokens: Sequence[bytes]
) -> None:
    other = rng.choice(seeds)
    if other:
        at = rng.randrange(len(other))
        block = other[at : at + rng.randint(1, 256)]
        to = rng.randrange(len(data) + 1)
        data[to : to + len(block)] = block


def _truncate(
    rng: random.Random, data: bytearray, seeds: Sequence[bytes], tokens: Sequence[bytes]
) -> None:
    if data:
        del data[rng.randrange(len(data)) :]


MUTATIONS: tuple[Mutation, ...] = (_flip, _byte, _word, _token, _erase, _copy, _splice, _truncate)
# Weights: small changes often, a cut-off file now and then.
WEIGHTS = (4, 4, 3, 4, 2, 2, 2, 1)


def inputs(
    seeds: Sequence[bytes], count: int, *, seed: str, tokens: Sequence[bytes] = ()
) -> Iterator[bytes]:
    """The seeds themselves, then mutants (1–6 mutations of a seed each) up to ``count`` inputs
    in all; the same ``seed`` gives the same inputs."""
    rng = random.Random(seed)
    pool = list(seeds) or [b""]
    yield from pool[:count]
    for _ in range(count - min(count, len(pool))):
        data = bytearray(rng.choice(pool))
        for _ in range(rng.randint(1, 6)):
            rng.choices(MUTATIONS, WEIGHTS)[0](rng, data, pool, tokens)
        yield bytes(data)
