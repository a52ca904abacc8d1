"""``bootmenu menu``: the dry-run plan printed as ``boot --dry-run`` prints it, the exit
statuses /init relies on, and the factory handing the core its on_change callback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bootmenu import cli
from bootmenu.core import Core, View
from bootmenu.errors import EXIT_SHELL
from bootmenu.tui import app as tui_app
from bootmenu.tui.app import MenuResult
from tests import factories
from tests.images import bzimage
from tests.tui.fakecore import FEDORA_NEW


@pytest.fixture
def boot(tmp_path: Path) -> Path:
    root = tmp_path / "boot"
    (root / "loader" / "entries").mkdir(parents=True)
    (root / "vmlinuz").write_bytes(bzimage())
    (root / "loader" / "entries" / "a.conf").write_text("title A\nlinux /vmlinuz\noptions quiet\n")
    return root


def fake_terminal(monkeypatch: pytest.MonkeyPatch, result: MenuResult) -> list[Core]:
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    cores: list[Core] = []

    def run_menu(factory: Callable[[Callable[[View], None]], Core], *, dry_run: bool) -> MenuResult:
        seen: list[View] = []
        core = factory(seen.append)
        assert core.on_change is not None
        core.on_change(core.view())
        assert len(seen) == 1 and dry_run
        cores.append(core)
        return result

    monkeypatch.setattr(tui_app, "run_menu", run_menu)
    return cores


def test_dry_run_prints_the_plan(
    boot: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = factories.plan(FEDORA_NEW)
    cores = fake_terminal(monkeypatch, MenuResult(0, plan, "'Fedora' (x): chosen in the menu"))
    status = cli.main(["menu", "--root", str(boot), "--config", "/nonexistent", "--dry-run"])
    assert status == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"would boot: {FEDORA_NEW.title} ({FEDORA_NEW.id})"
    assert out[1] == "  why: 'Fedora' (x): chosen in the menu"
    assert f"  command line: {FEDORA_NEW.cmdline}" in out
    assert all(
        line.startswith("  note: ")
        for line in out[out.index(f"  command line: {FEDORA_NEW.cmdline}") + 1 :]
    )
    assert cores[0].roots == [str(boot)] and cores[0].dry_run


def test_rescue_shell_status(boot: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_terminal(monkeypatch, MenuResult(EXIT_SHELL, message="rescue shell requested"))
    assert cli.main(["menu", "--root", str(boot), "--dry-run"]) == 3


def test_needs_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    assert cli.main(["menu"]) == 2
    assert "needs a terminal" in capsys.readouterr().err
