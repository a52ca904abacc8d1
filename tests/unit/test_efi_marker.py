"""The marker EFI application the VM tests start through BootNext."""

from __future__ import annotations

import pytest

from bootmenu.validate import inspect_image
from efi import loaders, pe
from tests.efi_marker import DEFAULT_MARKER, build_marker_app, grub_cfg, key_grub_cfg


@pytest.mark.debian
def test_marker_app_is_a_valid_x64_efi_application() -> None:
    data = build_marker_app().read_bytes()
    info = inspect_image(data, expect="efi", host_arch="x86_64")
    assert (info.format, info.kind, info.architecture) == ("pe", "efi", "x86_64")
    assert info.problems == ()
    # grub-mkstandalone puts the embedded config into the memdisk inside the image.
    assert loaders.identify(data, pe.parse_pe(data)) == "grub"
    assert DEFAULT_MARKER.encode() in data


def test_marker_config_is_one_plain_word() -> None:
    assert "echo HELLO-1\nhalt\n" in grub_cfg("HELLO-1")
    with pytest.raises(ValueError):
        grub_cfg("two words; reboot\n")


def test_key_config_reads_console_input_only() -> None:
    config = key_grub_cfg("TYPE-NOW", "GOT")
    # Only UEFI's ConIn, never GRUB's own UART input terminal.
    assert [line for line in config.splitlines() if line.startswith("terminal_input")] == [
        "terminal_input console"
    ]
    assert 'echo TYPE-NOW\nread typed\necho "GOT[$typed]"\nhalt\n' in config
    with pytest.raises(ValueError):
        key_grub_cfg("PROMPT", "GOT[x]")
