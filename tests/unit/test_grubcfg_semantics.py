"""GRUB's own semantics in the grub.cfg interpreter, each from a configuration as a
distribution writes it (the scenarios under tests/fixtures/grub/, read as in test_grubcfg)."""

from __future__ import annotations

from tests.unit.test_grubcfg import by_title, run


def test_hex_escapes_in_words_are_kept_as_fedoras_grub_keeps_them() -> None:
    config = run("centos7-dvd", "dvd", "/EFI/BOOT/grub.cfg")
    install = by_title(config, "Install CentOS 7")
    assert install.cmdline == r"inst.stage2=hd:LABEL=CentOS\x207\x20x86_64 quiet"
    assert install.root == "dvd"  # search -l 'CentOS 7 x86_64' found the DVD by its label
    assert install.problems == ()
