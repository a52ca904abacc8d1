"""Long coverage-guided fuzz campaigns: ``python -m tests.fuzz [--runs N] [TARGET ...]``.

Each target runs in a process of its own (libFuzzer ends the process when it is done), one after
the other, under atheris: bootmenu, efi, pefile, pyelftools and tomllib are instrumented for
coverage, the corpus starts from :func:`tests.fuzz.corpus.seeds` and grows in
``build/fuzz/<target>/corpus``; an input that lets an error escape or takes too long is written
to ``build/fuzz/<target>/crash-…`` (libFuzzer's own name for it).  At the end a table gives each
target's inputs, seconds, coverage (libFuzzer's edges and features) and crashes; the exit status
is 1 when any target crashed.  See tests/fuzz/README.md.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "build" / "fuzz"
# Modules whose code atheris instruments (everything a target reaches that parses bytes).
INSTRUMENTED = ["bootmenu", "efi", "pefile", "elftools", "tomllib"]
# libFuzzer's own limit per input, far above the targets' SLOW_SECONDS: a backstop for an input
# that never returns to the target's own check.
HARD_TIMEOUT = 30
RSS_LIMIT_MB = 2048


@dataclass
class Result:
    target: str
    runs: int | None
    seconds: float
    edges: int | None
    features: int | None
    corpus: int | None
    crashes: list[str]


def _child(name: str, libfuzzer_args: list[str]) -> None:
    import atheris  # only the campaigns need it; the short form in make test does not

    with atheris.instrument_imports(include=INSTRUMENTED):
        from tests.fuzz import targets

    target = targets.BY_NAME[name]

    def one_input(data: bytes) -> None:
        targets.check(target, data)

    atheris.Setup([sys.argv[0], *libfuzzer_args], one_input)
    atheris.Fuzz()


def _dict_entry(token: bytes) -> str:
    escaped = "".join(
        chr(b) if 0x20 <= b < 0x7F and b not in b'"\\' else f"\\x{b:02x}" for b in token
    )
    return f'"{escaped}"'


def _prepare(name: str, out: Path) -> list[str]:
    """Write the target's seeds and dictionary; the libFuzzer arguments that use them."""
    from tests.fuzz import corpus, targets

    target = targets.BY_NAME[name]
    seeds = out / "seeds"
    seeds.mkdir(parents=True, exist_ok=True)
    for old in seeds.iterdir():
        old.unlink()
    for n, data in enumerate(corpus.seeds(name)):
        (seeds / f"seed-{n:03d}").write_bytes(data[: target.max_len])
    (out / "corpus").mkdir(exist_ok=True)
    args = [str(out / "corpus"), str(seeds), f"-max_len={target.max_len}"]
    if target.tokens:
        (out / "dict").write_text("\n".join(_dict_entry(t) for t in target.tokens) + "\n")
        args.append(f"-dict={out / 'dict'}")
    return args


_STATS = re.compile(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/", re.MULTILINE)
_DONE = re.compile(r"^Done (\d+) runs in (\d+) second", re.MULTILINE)


def _run(name: str, runs: int, seed: int) -> Result:
    out = OUT / name
    for old in out.glob("crash-*"):
        old.unlink()
    args = [
        *_prepare(name, out),
        f"-runs={runs}",
        f"-seed={seed}",
        f"-timeout={HARD_TIMEOUT}",
        f"-rss_limit_mb={RSS_LIMIT_MB}",
        f"-artifact_prefix={out}/",
        "-print_final_stats=1",
    ]
    command = [sys.executable, "-m", "tests.fuzz", "--child", name, "--", *args]
    start = time.monotonic()
    with (out / "log").open("w") as log:
        subprocess.run(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, check=False)
    seconds = time.monotonic() - start
    text = (out / "log").read_text(errors="replace")
    stats = _STATS.findall(text)
    done = _DONE.search(text)
    last = stats[-1] if stats else None
    crashes = sorted(str(p.relative_to(ROOT)) for p in out.glob("*-*") if _is_artifact(p))
    return Result(
        target=name,
        runs=int(done.group(1)) if done else (int(last[0]) if last else None),
        seconds=seconds,
        edges=int(last[1]) if last else None,
        features=int(last[2]) if last else None,
        corpus=int(last[3]) if last else None,
        crashes=crashes,
    )


def _is_artifact(path: Path) -> bool:
    return path.name.split("-", 1)[0] in ("crash", "timeout", "oom", "leak", "slow")


def _table(results: list[Result]) -> str:
    lines = [
        "| target | inputs | seconds | edges | features | corpus | crashes |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        crashes = ", ".join(r.crashes) or "0"
        lines.append(
            f"| {r.target} | {r.runs} | {r.seconds:.0f} | {r.edges} | {r.features} | {r.corpus} "
            f"| {crashes} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        name, rest = argv[1], argv[2:]
        _child(name, rest[1:] if rest[:1] == ["--"] else rest)
        return 0
    from tests.fuzz import targets

    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("targets", nargs="*", metavar="TARGET", help="default: all")
    parser.add_argument("--runs", type=int, default=100_000, help="inputs per target")
    parser.add_argument("--seed", type=int, default=1, help="libFuzzer's random seed")
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    args = parser.parse_args(argv)
    if args.list:
        for t in targets.TARGETS:
            print(f"{t.name:12} {t.entry}")
        return 0
    unknown = [n for n in args.targets if n not in targets.BY_NAME]
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; --list names them")
    results = []
    for name in args.targets or [t.name for t in targets.TARGETS]:
        result = _run(name, args.runs, args.seed)
        results.append(result)
        print(_table([result]).splitlines()[-1], flush=True)
    print()
    print(_table(results))
    return 1 if any(r.crashes for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
