"""``python -m rootfs build --settings FILE``: the owner's settings built into the initramfs are
checked first; a file bootmenu would ignore any part of stops the build (docs/install.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootmenu.password import pbkdf2_hash
from rootfs.build import check_settings
from rootfs.host import BuildError


def test_a_clean_file_is_built_in_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "bootmenu.toml"
    text = f'timeout = 3\npassword = "{pbkdf2_hash("owner", b"0123456789abcdef", 1000)}"\n'
    path.write_text(text)
    assert check_settings(path) == text.encode()


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("timeout = 3\npasword = 'x'\n", "unknown setting 'pasword'"),
        ('password = "hunter2"\n', "password"),
        ("timeout = [\n", "TOML"),
    ],
)
def test_a_file_with_any_problem_stops_the_build(tmp_path: Path, text: str, said: str) -> None:
    path = tmp_path / "bootmenu.toml"
    path.write_text(text)
    with pytest.raises(BuildError, match="not built in") as raised:
        check_settings(path)
    assert said in str(raised.value)
