"""Property tests: image validation never raises, whatever the bytes, and never calls garbage
bootable."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bootmenu.validate import inspect_image
from tests.images import bzimage, initrd

MAGICS = [b"MZ", b"\x7fELF", b"070701", b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"\xfd7zXZ\x00", b""]
KINDS = [None, "linux", "uki", "multiboot", "efi", "initrd"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(MAGICS), st.binary(max_size=4096), st.sampled_from(KINDS))
def test_arbitrary_bytes_never_raise(magic: bytes, body: bytes, expect: str | None) -> None:
    info = inspect_image(magic + body, expect=expect, host_arch="x86_64")
    assert isinstance(info.problems, tuple)
    if expect in ("linux", "uki", "multiboot", "efi"):
        # random bytes are never a bootable kernel
        assert info.problems


REAL = {"bzimage": bzimage(), "initrd": initrd()}


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(REAL)),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8),
    st.integers(0, 12_000),
)
def test_mutated_images_never_raise(name: str, flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(REAL[name])
    for offset, value in flips:
        if offset < len(data):
            data[offset] = value
    expect = "initrd" if name == "initrd" else "linux"
    info = inspect_image(bytes(data[:cut]), expect=expect, host_arch="x86_64")
    assert isinstance(info.problems, tuple)


def test_gzip_compressed_multiboot_kernel_is_looked_into(mb_kernels: dict[int, bytes]) -> None:
    """Xen ships as xen-*.gz; kexec-tools unpacks it, so validation must look inside."""
    import gzip

    info = inspect_image(gzip.compress(mb_kernels[2]), expect="multiboot", host_arch="x86_64")
    assert (info.kind, info.format, info.problems) == ("multiboot", "multiboot2", ())
    assert info.details["compression"] == "gzip"
    broken = inspect_image(gzip.compress(b"\x00" * 4096), expect="multiboot", host_arch="x86_64")
    assert broken.problems
