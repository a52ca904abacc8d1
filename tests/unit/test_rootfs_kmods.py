"""rootfs.kmods: module closure over an excerpt of Debian 6.1's modules.dep/softdep/alias."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from rootfs import kmods

FIXTURES = Path(__file__).parent.parent / "fixtures" / "rootfs"


@dataclass(frozen=True)
class Files:
    dep: dict[str, tuple[str, ...]]
    softdep: dict[str, tuple[str, ...]]
    aliases: dict[str, str]
    builtin: frozenset[str]


def load() -> Files:
    return Files(
        dep=kmods.parse_modules_dep((FIXTURES / "modules.dep").read_text()),
        softdep=kmods.parse_softdep((FIXTURES / "modules.softdep").read_text()),
        aliases=kmods.parse_aliases((FIXTURES / "modules.alias").read_text()),
        builtin=kmods.parse_builtin((FIXTURES / "modules.builtin").read_text()),
    )


def test_module_name() -> None:
    assert kmods.module_name("kernel/fs/nls/nls_iso8859-1.ko") == "nls_iso8859_1"
    assert kmods.module_name("kernel/arch/x86/crypto/crc32c-intel.ko.xz") == "crc32c_intel"


def test_parsers_read_the_fixture() -> None:
    f = load()
    assert f.dep["kernel/fs/ext4/ext4.ko"] == (
        "kernel/lib/crc16.ko", "kernel/fs/mbcache.ko", "kernel/fs/jbd2/jbd2.ko"
    )  # fmt: skip
    # depmod writes one softdep line per dependency; they accumulate
    assert f.softdep == {
        "ext4": ("crypto_crc32c",),
        "btrfs": ("blake2b_256", "sha256", "xxhash64", "crypto_crc32c"),
    }
    assert f.aliases["fs_ext4"] == "ext4"
    assert f.aliases["crypto_crc32c"] == "crc32c_intel"  # the first provider wins
    assert f.builtin == frozenset({"8250", "unix"})


def test_virtio_blk_loads_after_its_dependencies() -> None:
    f = load()
    result = kmods.closure(["virtio_pci", "virtio_blk"], f.dep)
    assert result.paths == (
        "kernel/drivers/virtio/virtio_pci_legacy_dev.ko",
        "kernel/drivers/virtio/virtio_pci_modern_dev.ko",
        "kernel/drivers/virtio/virtio_ring.ko",
        "kernel/drivers/virtio/virtio.ko",
        "kernel/drivers/virtio/virtio_pci.ko",
        "kernel/drivers/block/virtio_blk.ko",
    )
    assert result.missing == () and result.builtin == ()


def test_ext4_pulls_its_soft_dependency_through_the_alias() -> None:
    f = load()
    result = kmods.closure(
        ["ext4", "nls-iso8859-1", "8250", "no_such_module"],
        f.dep,
        builtin=f.builtin,
        softdep=f.softdep,
        aliases=f.aliases,
    )
    assert result.paths == (
        "kernel/lib/crc16.ko",
        "kernel/fs/mbcache.ko",
        "kernel/fs/jbd2/jbd2.ko",
        "kernel/arch/x86/crypto/crc32c-intel.ko",
        "kernel/fs/ext4/ext4.ko",
        "kernel/fs/nls/nls_iso8859-1.ko",
    )
    assert result.builtin == ("8250",)
    assert result.missing == ("no_such_module",)


def test_soft_dependencies_that_do_not_exist_are_not_errors() -> None:
    f = load()
    result = kmods.closure(["btrfs"], f.dep, softdep=f.softdep, aliases=f.aliases)
    assert result.missing == ()
    assert result.paths[-1] == "kernel/fs/btrfs/btrfs.ko"
    assert "kernel/lib/raid6/raid6_pq.ko" in result.paths


def test_cycles_terminate() -> None:
    dep = {"a.ko": ("b.ko",), "b.ko": ("a.ko",)}
    assert set(kmods.closure(["a"], dep).paths) == {"a.ko", "b.ko"}


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parsers_take_any_text(text: str) -> None:
    kmods.parse_modules_dep(text)
    kmods.parse_softdep(text)
    kmods.parse_aliases(text)
    kmods.parse_builtin(text)
