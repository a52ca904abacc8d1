"""os-release(5) files and the title/version/sort key systemd-boot derives for UKIs."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bootmenu.errors import FormatError
from bootmenu.formats.osrelease import OsRelease, parse_os_release, uki_fields

FIXTURES = Path(__file__).parent.parent / "fixtures" / "osrelease"


def read(name: str) -> OsRelease:
    return parse_os_release((FIXTURES / name).read_text())


def test_fedora40() -> None:
    osrel = read("fedora40")
    assert osrel.name == "Fedora Linux"
    assert osrel.id == "fedora"
    assert osrel.version_id == "40"
    assert osrel.pretty_name == "Fedora Linux 40 (Workstation Edition)"
    assert osrel.version == "40 (Workstation Edition)"
    assert osrel.version_codename == ""
    assert osrel.variant_id == "workstation"
    assert osrel.get("SUPPORT_END") == "2025-05-13"
    assert osrel.get("LOGO") == "fedora-logo-icon"
    assert len(osrel.raw) == 22
    assert osrel.problems == ()


def test_rocky9_quoted_id_like() -> None:
    osrel = read("rocky9")
    assert osrel.id == "rocky"
    assert osrel.id_like == ("rhel", "centos", "fedora")
    assert osrel.get("CPE_NAME") == "cpe:/o:rocky:rocky:9::baseos"


def test_quoting_rules() -> None:
    osrel = read("quoting")
    # Double quotes: backslash escapes ", \, $ and `; before anything else it stays.
    assert osrel.pretty_name == 'Example "Linux" costs $0 `not run` C:\\ and \\q'
    # Single quotes: everything literal.
    assert osrel.name == 'Single $quoted "as is"'
    assert osrel.id_like == ("debian", "ubuntu")
    # Unquoted: backslash escapes the next character, trailing blanks are dropped.
    assert osrel.version == "plain value with escapes"
    # Quoted parts next to each other are joined.
    assert osrel.version_id == "1.23"
    # '#' only starts a comment at the start of a line; a quote inside a plain value is literal.
    assert osrel.build_id == "2024-09-01 # not a comment"
    assert osrel.variant == "it's"
    assert osrel.get("HOME_URL") == ""
    assert osrel.get("lowercase_key") == "allowed"
    # A quoted value may span lines.
    assert osrel.image_version == "spans\ntwo lines"
    assert osrel.image_id == "after-multiline"
    assert osrel.get("1BAD") is None
    assert osrel.problems == (
        "line 13: '1BAD' is not a valid variable name, ignored",
        "line 14: 'THIS LINE HAS NO EQUALS SIGN' has no '=', ignored",
    )


def test_last_line_without_newline() -> None:
    osrel = read("no-trailing-newline")
    assert (osrel.name, osrel.id) == ("Alpine", "alpine")


def test_later_assignment_wins() -> None:
    osrel = parse_os_release("ID=first\nID=second\n")
    assert osrel.id == "second"
    assert osrel.get("ID") == "second"
    assert osrel.raw == (("ID", "first"), ("ID", "second"))


def test_nul_is_not_text() -> None:
    with pytest.raises(FormatError):
        parse_os_release("ID=a\x00b\n")


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        # PRETTY_NAME is the title; VERSION comes before VERSION_ID; the sort key is ID.
        (
            "fedora40",
            ("Fedora Linux 40 (Workstation Edition)", "40 (Workstation Edition)", "fedora"),
        ),
        ("ubuntu2404", ("Ubuntu 24.04.1 LTS", "24.04.1 LTS (Noble Numbat)", "ubuntu")),
        # Arch has no version at all: BUILD_ID is the last resort.
        ("arch", ("Arch Linux", "rolling", "arch")),
        # No PRETTY_NAME: IMAGE_ID is the title and the sort key, IMAGE_VERSION the version.
        ("mkosi-appliance-osrel", ("kiosk-appliance", "23.7.1", "kiosk-appliance")),
        # systemd-boot's own .osrel (it can be started from /EFI/Linux/ for testing).
        ("systemd-boot-osrel", ("systemd-boot 255.8-1.fc40", "255.8-1.fc40", "systemd-boot")),
    ],
)
def test_uki_fields(fixture: str, expected: tuple[str, str | None, str | None]) -> None:
    assert uki_fields(read(fixture), "linux.efi") == expected


def test_uki_fields_without_any_name_fall_back_to_file_name() -> None:
    osrel = parse_os_release("VERSION_ID=3\n")
    assert uki_fields(osrel, "appliance-3+2-1.efi") == ("appliance-3.efi", "3", None)


def test_uki_fields_empty_values_count_as_absent() -> None:
    osrel = parse_os_release('PRETTY_NAME=""\nNAME=Foo\nIMAGE_ID=\nID=foo\n')
    assert uki_fields(osrel, "x.efi") == ("Foo", None, "foo")


keys = st.from_regex(r"[A-Z_][A-Z0-9_]{0,10}", fullmatch=True)
values = st.text(
    alphabet=st.characters(exclude_categories=["Cs", "Cc"], exclude_characters="\x00"),
    max_size=30,
)


def quote(value: str) -> str:
    escaped = "".join("\\" + c if c in '"\\`$' else c for c in value)
    return f'"{escaped}"'


@settings(max_examples=300, deadline=None)
@given(pairs=st.lists(st.tuples(keys, values), max_size=8))
def test_round_trip_double_quoted(pairs: list[tuple[str, str]]) -> None:
    text = "".join(f"{k}={quote(v)}\n" for k, v in pairs)
    assert parse_os_release(text).raw == tuple(pairs)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=400))
def test_parse_never_raises_anything_but_format_error(text: str) -> None:
    try:
        osrel = parse_os_release(text)
    except FormatError:
        return
    title, _version, _sort_key = uki_fields(osrel, "x.efi")
    assert isinstance(title, str)
