"""The core facade: fallback to the next entry when loading fails, systemd-boot's one-shot."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootmenu.boot import handoff
from bootmenu.core import Attempt, Core
from bootmenu.errors import HandoffError
from efi.variables import SYSTEMD_BOOT_VENDOR, EfiVariable, encode_utf16_string
from tests.images import bzimage


@pytest.fixture
def boot(tmp_path: Path) -> Path:
    root = tmp_path / "boot"
    (root / "loader" / "entries").mkdir(parents=True)
    (root / "vmlinuz").write_bytes(bzimage())
    for name in ("a", "b", "c"):
        (root / "loader" / "entries" / f"{name}.conf").write_text(
            f"title {name.upper()}\nlinux /vmlinuz\noptions entry={name}\n"
        )
    return root


def make_core(boot: Path, tmp_path: Path, *, dry_run: bool = True, **options: object) -> Core:
    efi = tmp_path / "efivars"
    efi.mkdir(exist_ok=True)
    core = Core(
        roots=[str(boot)],
        config_file=None,
        options=options,
        cmdline="",
        dry_run=dry_run,
        efivars_dir=str(efi),
    )
    core.start()
    return core


def failing_first(monkeypatch: pytest.MonkeyPatch, fail_on: str) -> list[str]:
    """Make the load of one entry fail (as kexec refusing the image would), record the others."""
    loaded: list[str] = []
    real_execute = handoff.Handoff.execute

    def execute(
        self: handoff.Handoff, plan: handoff.Plan, *args: object, **kwargs: object
    ) -> handoff.Plan:
        if plan.cmdline == f"entry={fail_on}":
            raise HandoffError("kexec_file_load: Invalid argument")
        loaded.append(plan.cmdline)
        return real_execute(self, plan, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(handoff.Handoff, "execute", execute)
    return loaded


def test_fallback_tries_the_next_entry(
    boot: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    core = make_core(boot, tmp_path)
    decision = core.decide()
    assert decision.entry is not None
    failing = decision.entry.cmdline.removeprefix("entry=")
    loaded = failing_first(monkeypatch, failing)
    attempts: list[Attempt] = []
    plan = core.boot([decision.entry, *decision.fallbacks], report=attempts.append)
    assert plan.entry == decision.fallbacks[0]
    assert loaded == [decision.fallbacks[0].cmdline]
    assert [a.error is None for a in attempts] == [False, True]
    assert "Invalid argument" in (attempts[0].error or "")


def test_without_fallback_the_failure_is_the_answer(
    boot: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    core = make_core(boot, tmp_path, fallback=False)
    decision = core.decide()
    assert decision.entry is not None and decision.fallbacks == ()
    failing_first(monkeypatch, decision.entry.cmdline.removeprefix("entry="))
    with pytest.raises(HandoffError, match="Invalid argument"):
        core.boot([decision.entry])


def test_systemd_oneshot_is_honoured_and_consumed_once(boot: Path, tmp_path: Path) -> None:
    efi = tmp_path / "efivars"
    efi.mkdir()
    var = EfiVariable("LoaderEntryOneShot", SYSTEMD_BOOT_VENDOR, 0x7, encode_utf16_string("a.conf"))
    (efi / var.filename).write_bytes(bytes(var))
    core = make_core(boot, tmp_path, dry_run=False)
    decision = core.decide()
    assert decision.entry is not None and decision.entry.id == "a.conf"
    assert "LoaderEntryOneShot" in decision.reason
    core.consume_oneshot()
    assert not (efi / var.filename).exists()
    again = make_core(boot, tmp_path, dry_run=False).decide()
    assert again.entry is not None and again.entry.id != "a.conf"


def test_dry_run_leaves_the_oneshot_alone(boot: Path, tmp_path: Path) -> None:
    efi = tmp_path / "efivars"
    efi.mkdir()
    var = EfiVariable("LoaderEntryOneShot", SYSTEMD_BOOT_VENDOR, 0x7, encode_utf16_string("a.conf"))
    (efi / var.filename).write_bytes(bytes(var))
    make_core(boot, tmp_path, dry_run=True).consume_oneshot()
    assert (efi / var.filename).exists()
