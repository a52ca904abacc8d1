"""``/bootmenu.toml`` on a disk in the menu: the core starts before any disk is scanned
(``start(wait=False)``), so the file must be read when discovery reports the filesystem.

Found by the VM test tests/vm/test_bootnext.py: in the initramfs' default mode (the menu) a
``/bootmenu.toml`` with ``default``/``timeout = 0`` on the ESP was ignored."""

from __future__ import annotations

from pathlib import Path

from bootmenu.core import Core
from bootmenu.discover.monitor import Snapshot
from bootmenu.model import Volume

PARTUUID = "b0075a1d-0000-4000-8000-0000000e5b01"


def discovered(core: Core, *volumes: Volume) -> None:
    """What discovery does when it has scanned ``volumes`` (the menu's path)."""
    core._discovered(Snapshot(volumes=volumes, generation=1))


def make_core(tmp_path: Path) -> Core:
    efivars = tmp_path / "efivars"
    efivars.mkdir()
    return Core(config_file=None, cmdline="", dry_run=True, efivars_dir=str(efivars))


def test_disk_file_found_after_start_is_applied(tmp_path: Path) -> None:
    esp = tmp_path / "esp"
    esp.mkdir()
    (esp / "bootmenu.toml").write_text('default = "marker.conf"\ntimeout = 0\n')
    core = make_core(tmp_path)
    assert core.config.default is None  # nothing scanned yet

    discovered(core, Volume("/dev/vda1", esp, fstype="vfat", partuuid=PARTUUID))

    assert core.config.default == "marker.conf"
    assert core.config.timeout == 0
    assert core.config.sources["timeout"] == f"PARTUUID={PARTUUID}:/bootmenu.toml"


def test_disk_file_is_applied_once_and_warnings_are_not_repeated(tmp_path: Path) -> None:
    esp = tmp_path / "esp"
    esp.mkdir()
    (esp / "bootmenu.toml").write_text("timeout = 3\nno_such_setting = 1\n")
    core = make_core(tmp_path)
    volume = Volume("/dev/vda1", esp, fstype="vfat", partuuid=PARTUUID)

    for _ in range(3):
        discovered(core, volume)

    assert core.config.timeout == 3
    unknown = [w for w in core.view().warnings if "no_such_setting" in w]
    assert len(unknown) == 1, core.view().warnings
