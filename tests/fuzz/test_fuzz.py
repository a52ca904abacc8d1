"""The short form of the fuzz targets, in ``make test``: every target's seeds, regression inputs
and a few thousand mutants of them (:mod:`tests.fuzz.mutate`, seeded by the target's name, so
every run feeds the same inputs).  Only the errors a target's contract allows may escape, and no
input may take longer than the bound (generous here: CI shares its cores).

``FUZZ_SHORT_RUNS`` changes the number of inputs per target (``python -m tests.fuzz`` runs the
long coverage-guided campaigns).
"""

from __future__ import annotations

import os

import pytest

from tests.fuzz import corpus, mutate
from tests.fuzz.targets import BY_NAME, TARGETS, Target, check

RUNS = int(os.environ.get("FUZZ_SHORT_RUNS", "2000"))
# A shared CI machine is slower than the campaigns' bound allows for.
SLOW_SECONDS = 5.0


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_short_fuzz(target: Target) -> None:
    seeds = corpus.seeds(target.name)
    assert seeds, f"{target.name} has no seed inputs"
    for n, data in enumerate(mutate.inputs(seeds, RUNS, seed=target.name, tokens=target.tokens)):
        try:
            check(target, data, slow_seconds=SLOW_SECONDS)
        except Exception as e:
            pytest.fail(
                f"{target.name} input {n} ({len(data)} bytes, {data[:120]!r}…): "
                f"{type(e).__name__}: {e}"
            )


def test_every_target_has_seeds_from_the_fixtures_or_the_builders() -> None:
    assert {name: len(corpus.seeds(name)) > 0 for name in BY_NAME} == dict.fromkeys(BY_NAME, True)


def test_the_mutants_are_the_same_on_every_run() -> None:
    seeds = corpus.seeds("bls")
    first = list(mutate.inputs(seeds, 300, seed="bls", tokens=BY_NAME["bls"].tokens))
    again = list(mutate.inputs(seeds, 300, seed="bls", tokens=BY_NAME["bls"].tokens))
    assert first == again
    assert len(first) == 300 and len(set(first)) > 250  # mutants, not copies of the seeds


def test_an_error_the_contract_does_not_allow_escapes() -> None:
    """The check itself: a target whose entry point raises ValueError fails it."""

    def broken(data: bytes) -> None:
        raise ValueError("a parser bug")

    with pytest.raises(ValueError, match="a parser bug"):
        check(Target("broken", "nothing", broken, BY_NAME["bls"].raises), b"x")
    check(BY_NAME["bls"], b"title a\0b")  # a typed FormatError (NUL in the text) is allowed
