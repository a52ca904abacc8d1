"""What a new user sees from ``bootmenu list``: no benchmark lines, a table that fits."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootmenu import core
from bootmenu.cli import main


@pytest.fixture
def boot(tmp_path: Path) -> Path:
    root = tmp_path / "boot"
    (root / "loader" / "entries").mkdir(parents=True)
    (root / "loader" / "entries" / "linux.conf").write_text(
        "title My Linux\nlinux /vmlinuz\noptions root=/dev/sda2 ro\n"
    )
    return root


def test_list_prints_no_phase_lines(
    boot: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(core, "_phases_logged", set())
    monkeypatch.delenv("BOOTMENU_PHASES", raising=False)
    assert main(["list", "--root", str(boot), "--no-validate"]) == 0
    assert "phase" not in capsys.readouterr().err


def test_the_bench_switch_prints_them(
    boot: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(core, "_phases_logged", set())
    monkeypatch.setenv("BOOTMENU_PHASES", "1")
    assert main(["list", "--root", str(boot), "--no-validate"]) == 0
    err = capsys.readouterr().err
    assert "bootmenu: phase start t=" in err
    assert "bootmenu: phase first-entry t=" in err
