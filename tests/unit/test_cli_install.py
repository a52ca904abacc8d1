"""``bootmenu install`` / ``remove`` on the command line: options and clear errors (the work
itself is tested against a real GPT disk in tests/integration/test_install.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootmenu.cli import build_parser, main
from bootmenu.errors import EXIT_ERROR, EXIT_USAGE


def test_first_and_once_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["install", "x.efi", "--first", "--once"]) == EXIT_USAGE
    assert "not allowed with argument" in capsys.readouterr().err
    args = build_parser().parse_args(["install", "x.efi", "--once", "--esp", "/boot/efi"])
    assert (args.once, args.first, args.esp) == (True, False, Path("/boot/efi"))


def test_an_esp_that_is_not_a_mount_point_is_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (["install", str(tmp_path / "bootmenu.efi")], ["remove"]):
        assert main([*argv, "--esp", str(tmp_path)]) == EXIT_ERROR
        err = capsys.readouterr().err
        assert err == f"bootmenu: {tmp_path} is not the mount point of a filesystem\n"
