"""Headless autoboot over discovered disks: real udevd, loop devices, a disk settings file,
a dry-run plan, and disk images that stay bit-identical."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bootmenu.core import Core
from tests import images
from tests.integration.conftest import sha256
from tests.integration.udev import Disks, Part, disks, udevd  # noqa: F401

pytestmark = pytest.mark.root


def entry(title: str, kernel: str, options: str) -> bytes:
    return f"title {title}\nlinux /{kernel}\ninitrd /initrd\noptions {options}\n".encode()


def test_autoboot_dry_run_over_discovered_disks(disks: Disks, tmp_path: Path) -> None:  # noqa: F811
    layout = [
        Part(
            "40M",
            "ext4",
            label="boot",
            dirty=True,  # an unclean shutdown: the journal must not be replayed
            files={
                "loader/entries/main.conf": entry("Main", "vmlinuz", "root=LABEL=main"),
                "loader/entries/broken.conf": entry("Broken", "vmlinuz-gone", "root=x"),
                "loader/entries/other.conf": entry("Other", "vmlinuz", "root=LABEL=other"),
                "vmlinuz": images.bzimage("6.6.0-main"),
                "initrd": images.initrd(),
                "bootmenu.toml": b'default = "Broken"\ntimeout = 7\n',
            },
        ),
        Part("20M", "ext4", label="data"),
    ]
    disk = disks.build(layout, size="128M")
    before = sha256(disk.image)
    prefix = str(tmp_path)
    core = Core(
        config_file=None,
        cmdline="quiet bootmenu.once=other bootmenu.disk_config_from=LABEL=boot",
        dry_run=True,
        efivars_dir=str(tmp_path / "no-efivars"),
        device_filter=lambda d: (d.backing_file or "").startswith(prefix),
        mount_base=tmp_path / "run",
    )
    try:
        view = core.start()
        assert {e.id for e in view.entries} == {"main.conf", "broken.conf", "other.conf"}
        # The disk's settings file was read (timeout), the kernel command line's one-shot wins.
        assert core.config.timeout == 7
        assert "bootmenu.toml" in core.config.sources["timeout"]
        decision = core.decide()
        assert decision.entry is not None and decision.entry.id == "other.conf"
        assert "one-shot" in decision.reason
        plan = core.boot([decision.entry, *decision.fallbacks])
        assert plan.entry.id == "other.conf" and plan.cmdline == "root=LABEL=other"
        assert plan.entry.root == disk.part(1)
        # Without the one-shot, the disk file's default is broken: never chosen.
        core.config = dataclasses.replace(core.config, once=None)
        fallback = core.decide()
        assert fallback.entry is not None and fallback.entry.id != "broken.conf"
        assert "cannot boot" in fallback.reason
    finally:
        core.close()
    disks.release_all()
    assert sha256(disk.image) == before
