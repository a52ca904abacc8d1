"""GRUB environment blocks and $variable expansion."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bootmenu.errors import FormatError
from bootmenu.formats.grubenv import expand, expand_report, parse_grubenv

FIXTURES = Path(__file__).parent.parent / "fixtures" / "grubenv"


def read(name: str) -> dict[str, str]:
    return parse_grubenv((FIXTURES / name).read_bytes())


def test_fedora31_block() -> None:
    env = read("fedora31")
    assert list(env) == ["saved_entry", "kernelopts", "boot_success", "boot_indeterminate"]
    assert env["saved_entry"] == "2a7f1c5e8d6a4f0b9c3e1d2f4a5b6c7d-5.3.16-300.fc31.x86_64"
    # The trailing blank grub2-mkconfig leaves in kernelopts is part of the value.
    assert env["kernelopts"].endswith("rd.lvm.lv=fedora_localhost-live/swap rhgb quiet ")
    assert env["boot_success"] == "0"


def test_rhel9_empty_values() -> None:
    env = read("rhel9")
    assert env["tuned_params"] == ""
    assert env["tuned_initrd"] == ""
    assert env["menu_auto_hide"] == "1"


def test_escapes_as_grub_writes_them() -> None:
    env = read("escapes")
    assert env["windows_path"] == "C:\\Windows\\System32"
    assert env["motd"] == "first line\nsecond line"
    assert env["saved_entry"] == (
        "Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.1.0-18-amd64"
    )
    # A later assignment to the same name wins.
    assert env["next_entry"] == "1"


def test_block_without_padding() -> None:
    assert read("unpadded") == {"saved_entry": "0", "next_entry": ""}


def test_unterminated_last_line_is_dropped_like_grub_does() -> None:
    assert read("truncated") == {"saved_entry": "gnulinux-simple-0b7a3c2e"}


def test_not_an_environment_block() -> None:
    with pytest.raises(FormatError) as caught:
        read("not-grubenv")
    assert "not a GRUB environment block" in str(caught.value)


def test_empty_file_is_not_an_environment_block() -> None:
    with pytest.raises(FormatError):
        parse_grubenv(b"")


def test_expand() -> None:
    variables = {"kernelopts": "root=/dev/sda2 ro", "tuned_params": ""}
    assert expand("$kernelopts $tuned_params", variables) == "root=/dev/sda2 ro "
    assert expand("${kernelopts}quiet", variables) == "root=/dev/sda2 roquiet"
    assert expand_report("a $nope ${nope} $x", variables) == ("a $nope ${nope} $x", ("nope", "x"))
    assert expand("costs $", variables) == "costs $"


def grub_block(variables: dict[str, str], size: int = 1024) -> bytes:
    """An environment block written the way grub_envblk_set() writes one."""
    body = b"# GRUB Environment Block\n"
    for name, value in variables.items():
        escaped = value.encode().replace(b"\\", b"\\\\").replace(b"\n", b"\\\n")
        body += name.encode() + b"=" + escaped + b"\n"
    return body + b"#" * max(0, size - len(body))


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=12)
values = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(variables=st.dictionaries(names, values, max_size=6))
def test_round_trip(variables: dict[str, str]) -> None:
    assert parse_grubenv(grub_block(variables)) == variables


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=600), signed=st.booleans())
def test_parse_never_raises_anything_but_format_error(data: bytes, signed: bool) -> None:
    if signed:
        data = b"# GRUB Environment Block\n" + data
    try:
        env = parse_grubenv(data)
    except FormatError:
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
