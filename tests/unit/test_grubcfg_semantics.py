"""GRUB's own semantics in the grub.cfg interpreter, each from a configuration as a
distribution writes it (the scenarios under tests/fixtures/grub/, read as in test_grubcfg)."""

from __future__ import annotations

from bootmenu.formats.grubcfg import interpret
from tests.unit.test_grubcfg import TreeFiles, by_title, inline, run


def test_hex_escapes_in_words_are_kept_as_fedoras_grub_keeps_them() -> None:
    config = run("centos7-dvd", "dvd", "/EFI/BOOT/grub.cfg")
    install = by_title(config, "Install CentOS 7")
    assert install.cmdline == r"inst.stage2=hd:LABEL=CentOS\x207\x20x86_64 quiet"
    assert install.root == "dvd"  # search -l 'CentOS 7 x86_64' found the DVD by its label
    assert install.problems == ()


def test_the_kernel_command_line_is_escaped_as_grubs_builder_writes_it() -> None:
    # /etc/default/grub had GRUB_CMDLINE_LINUX_DEFAULT='quiet splash acpi_osi=\"Windows 2015\"'
    # (single quotes: the backslashes reach grub.cfg); GRUB's lexer makes the words
    # acpi_osi="Windows and 2015", and grub_create_loader_cmdline puts a backslash before
    # each quote again.
    config = run("ubuntu2204-acpi-osi", "ubuntu-root", "/boot/grub/grub.cfg")
    first = config.entries[0]
    assert first.title == "Ubuntu"
    assert first.cmdline == (
        "root=UUID=c1f0e7a2-3b4c-4d5e-8f9a-0b1c2d3e4f50 ro quiet splash "
        r"acpi_osi=\"Windows 2015\" vt.handoff=7"
    )


def test_command_line_words_with_quotes_backslashes_and_spaces() -> None:
    config = inline(
        "menuentry 'Linux' {\n"
        "\tlinux /vmlinuz root=/dev/sda2 'acpi_osi=!Windows 2012' init=/bin/sh\\\\x "
        '"msg=it\'s"\n}\n'
    )
    # GRUB (lib/cmdline.c): "acpi_osi=!Windows 2012" quoted for its space, \ and ' escaped.
    assert config.entries[0].cmdline == (
        'root=/dev/sda2 "acpi_osi=!Windows 2012" init=/bin/sh\\\\x msg=it\\\'s'
    )


def test_file_tests_tell_files_from_directories_as_grubs_test_c() -> None:
    # On the "data" filesystem /boot is a directory, /boot/grub.cfg a file with text in it
    # and /boot/vmlinuz-6.6 an empty file.
    files = TreeFiles("handwritten")
    checks = "".join(
        f'if [ {op} {path} ]; then r="$r {op}{name}"; fi\n'
        for path, name in (
            ("/boot", "dir"),
            ("/boot/grub.cfg", "file"),
            ("/boot/vmlinuz-6.6", "empty"),
        )
        for op in ("-f", "-d", "-e", "-s")
    )
    text = checks + "menuentry 'dir as kernel' {\n\tlinux /boot root=/dev/sda2\n}\n"
    config = interpret(text, files, config_path="/boot/grub.cfg", root="data")
    assert config.env["r"].split() == [
        "-ddir", "-edir",
        "-ffile", "-efile", "-sfile",
        "-fempty", "-eempty",
    ]  # fmt: skip
    assert config.entries[0].problems == ("kernel /boot is a directory",)


def test_chainloader_arguments_are_joined_as_they_are() -> None:
    config = inline(
        "menuentry 'shell' {\n\tchainloader /EFI/tools/shell.efi 'fs0:\\run me.nsh'\n}\n"
    )
    assert config.entries[0].cmdline == "fs0:\\run me.nsh"


def test_search_set_takes_the_next_word_as_the_variable() -> None:
    # Fedora CoreOS's grub.cfg; GRUB's argument parser gives --set the word after it.
    config = inline(
        "search --label boot --set boot --no-floppy\nset root=$boot\n"
        "menuentry 'CoreOS' {\n\tlinux /vmlinuz rw\n}\n"
    )
    assert config.env["boot"] == "label:boot"
    assert config.entries[0].root == "label:boot"
