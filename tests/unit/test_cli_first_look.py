"""What a new user sees from ``bootmenu list``: no benchmark lines, a table that fits."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from bootmenu import cli, phases
from bootmenu.cli import main
from tests.unit.test_scanner_paths import scan, volumes


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
    monkeypatch.setattr(phases, "_logged", set())
    monkeypatch.delenv("BOOTMENU_PHASES", raising=False)
    assert main(["list", "--root", str(boot), "--no-validate"]) == 0
    assert "phase" not in capsys.readouterr().err


def test_the_bench_switch_prints_them(
    boot: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(phases, "_logged", set())
    monkeypatch.setenv("BOOTMENU_PHASES", "1")
    assert main(["list", "--root", str(boot), "--no-validate"]) == 0
    err = capsys.readouterr().err
    assert "bootmenu: phase start t=" in err
    assert "bootmenu: phase first-entry t=" in err


def test_list_on_an_80_column_terminal_keeps_titles_apart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entries = scan(volumes("ubuntu2204")).entries  # Ubuntu 22.04's grub.cfg, on its ESP
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setattr(shutil, "get_terminal_size", lambda *a: os.terminal_size((80, 24)))
    lines = cli._table(entries).splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    # Each title, wrapped inside its column, read back whole: none is cut.
    start = lines[0].index("TITLE")
    end = lines[0].index("VERSION")
    titles: list[str] = []
    for line in lines[1:]:
        cell = line[start:end].strip()
        if line[:start].strip():
            titles.append(cell)
        else:
            titles[-1] += " " + cell
    assert titles == [e.title for e in entries]


def test_list_says_what_it_waits_for_while_it_waits(capsys: pytest.CaptureFixture[str]) -> None:
    from bootmenu.cli import _SaysWhatItWaitsFor
    from bootmenu.core import View

    says = _SaysWhatItWaitsFor(after=0)
    waiting = View((), (), (), settled=False, waiting=("udev to process /dev/sdb",))
    says(waiting)
    says(waiting)  # the same wait is said once
    says(View((), (), (), settled=False, waiting=("scanning /dev/sdb1",)))
    says(View((), (), (), settled=True))
    assert capsys.readouterr().err.splitlines() == [
        "bootmenu: waiting for udev to process /dev/sdb",
        "bootmenu: waiting for scanning /dev/sdb1",
    ]


def test_the_bench_switch_can_name_a_file(
    boot: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """BOOTMENU_PHASES=/path: the phase lines go to that file (a second serial port in the
    bench, so the menu's screen is not drawn over), not to the console."""
    monkeypatch.setattr(phases, "_logged", set())
    target = tmp_path / "ttyS1"
    monkeypatch.setenv("BOOTMENU_PHASES", str(target))
    assert main(["list", "--root", str(boot), "--no-validate"]) == 0
    assert "phase" not in capsys.readouterr().err
    lines = target.read_text().splitlines()
    assert [line.split(" t=")[0] for line in lines] == [
        "bootmenu: phase start",
        "bootmenu: phase settled",
        "bootmenu: phase first-entry",
    ]
    for line in lines:  # "… t=SECONDS hwm=KIB": the bench's clock and peak memory
        seconds, hwm = line.split(" t=")[1].split(" hwm=")
        assert float(seconds) > 0 and int(hwm) > 0
