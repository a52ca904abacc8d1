"""rootfs.apt: apt-cache records, Depends fields and the library-package closure."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rootfs.apt import Record, closure, parse_depends, parse_records
from rootfs.host import BuildError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "rootfs"


def records() -> dict[str, Record]:
    text = (FIXTURES / "apt-cache-show.txt").read_text()
    return {r.package: r for r in parse_records(text)}


def test_records_of_real_apt_cache_output() -> None:
    recs = records()
    assert sorted(recs) == ["kexec-tools", "libc6", "libxenmisc4.17", "python3.11-minimal"]
    kexec = recs["kexec-tools"]
    assert kexec.version == "1:2.0.25-3+deb12u3"
    assert kexec.size == 85260
    assert kexec.sha256.startswith("1d386c0ef897")
    assert kexec.deb_name == "kexec-tools_1%3a2.0.25-3+deb12u3_amd64.deb"
    assert kexec.depends == (
        ("libc6",), ("libxenmisc4.17",), ("debconf", "debconf-2.0"), ("debconf",)
    )  # fmt: skip
    # Pre-Depends count as dependencies too
    assert recs["python3.11-minimal"].depends[0] == ("libc6",)


def test_depends_drops_versions_and_qualifiers() -> None:
    assert parse_depends("libc6:amd64 (>= 2.34), python3:any | python3-minimal") == (
        ("libc6",), ("python3", "python3-minimal")
    )  # fmt: skip
    assert parse_depends("") == ()


Lookup = Callable[[Sequence[str]], dict[str, Record]]


def fake_lookup(known: Mapping[str, Record]) -> tuple[list[list[str]], Lookup]:
    calls: list[list[str]] = []

    def lookup(names: Sequence[str]) -> dict[str, Record]:
        calls.append(list(names))
        return {n: known[n] for n in names if n in known}

    return calls, lookup


def test_closure_follows_library_packages_only() -> None:
    recs = records()
    calls, lookup = fake_lookup(recs)
    found = closure(["kexec-tools"], lookup, lambda name: name.startswith("lib"))
    assert sorted(found) == ["kexec-tools", "libc6", "libxenmisc4.17"]
    # level by level: the root, then its library dependencies, then theirs (all unknown here)
    assert calls[0] == ["kexec-tools"]
    assert calls[1] == ["libc6", "libxenmisc4.17"]
    assert "libgcc-s1" in calls[2] and "libxencall1" in calls[2] and "debconf" not in calls[2]


def test_unknown_root_package_is_an_error() -> None:
    _, lookup = fake_lookup(records())
    with pytest.raises(BuildError, match="apt knows no package nope"):
        closure(["nope"], lookup, lambda name: True)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parsers_take_any_text(text: str) -> None:
    parse_records(text)
    parse_records(f"Package: p\nVersion: 1\nSize: {text}\nDepends: {text}\n")
    parse_depends(text)
