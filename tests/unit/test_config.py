"""bootmenu.config: the settings table and everything derived from it."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bootmenu import config
from bootmenu.config import (
    TIMEOUT_MENU_FORCE,
    Config,
    EfiHandoff,
    Layer,
    LogLevel,
    Mode,
    defaults,
    load,
    merge,
    parse_assignment,
    parse_cmdline,
    parse_efi,
    parse_options,
    parse_toml,
    split_cmdline,
)
from bootmenu.errors import ConfigError

ROOT = Path(__file__).parent.parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "config"


def text(name: str) -> str:
    return (FIXTURES / name).read_text()


# --- the table and its documentation -----------------------------------------------------------

# The settings and defaults users rely on: changing one must be a conscious decision.
EXPECTED_DEFAULTS = {
    "timeout": '`"auto"`',
    "default": "not set",
    "once": "not set",
    "order_devices": "`[]`",
    "order_sources": "`[]`",
    "order_kinds": "`[]`",
    "fallback": "`true`",
    "wait_for": "`[]`",
    "wait_timeout": "`10`",
    "settle_timeout": "`30`",
    "hide": "`[]`",
    "console": "`[]`",
    "hooks_dir": '`"/etc/bootmenu/hooks.d"`',
    "efi_handoff": '`"auto"`',
    "mode": '`"menu"`',
    "allow_disk_config": "`true`",
    "disk_config_from": "`[]`",
    "autoboot_removable": "`false`",
    "removable_filesystems": '`["vfat", "iso9660", "udf", "ext4", "exfat", "squashfs"]`',
    "log_level": '`"info"`',
    "use_efi_vars": "`true`",
    "password": "not set",
}


def docs_section() -> str:
    document = (ROOT / "docs" / "config.md").read_text()
    begin = document.index(config.DOCS_BEGIN) + len(config.DOCS_BEGIN) + 1
    return document[begin : document.index(config.DOCS_END)]


def test_table_names_the_expected_settings() -> None:
    assert [s.name for s in config.SETTINGS] == list(EXPECTED_DEFAULTS)
    assert config.BY_NAME["wait_timeout"].cmdline == "bootmenu.wait_timeout"


def test_docs_are_generated_from_the_table() -> None:
    assert docs_section() == config.render_markdown(), (
        "docs/config.md is stale: run `python -m bootmenu.config --update-docs`"
    )


def test_docs_list_exactly_the_settings_with_their_defaults() -> None:
    rows = re.findall(
        r"^\| \[`(\w+)`\]\(#\w+\) \| (.+?) \| `bootmenu\.\1=` \|", docs_section(), re.M
    )
    assert dict(rows) == EXPECTED_DEFAULTS
    headings = re.findall(r"^### `(\w+)`$", docs_section(), re.M)
    assert headings == list(EXPECTED_DEFAULTS)


def test_docs_mark_settings_a_disk_file_cannot_change() -> None:
    section = docs_section()
    for name in (
        "wait_for",
        "wait_timeout",
        "console",
        "hooks_dir",
        "allow_disk_config",
        "disk_config_from",
        "autoboot_removable",
        "removable_filesystems",
        "fallback",
    ):
        assert f"| [`{name}`](#{name}) |" in section
        assert re.search(rf"\| \[`{name}`\].*\| no \|$", section, re.M), name
    assert re.search(r"\| \[`default`\].*\| yes \|$", section, re.M)


def test_defaults() -> None:
    c = defaults()
    assert c.timeout is None and c.default is None and c.once is None
    assert c.fallback is True and c.allow_disk_config is True and c.use_efi_vars is True
    assert c.wait_timeout == 10
    assert c.hooks_dir == "/etc/bootmenu/hooks.d"
    assert c.efi_handoff is EfiHandoff.AUTO and c.log_level is LogLevel.INFO
    assert c.order_devices == c.order_sources == c.order_kinds == c.hide == c.console == ()
    assert set(c.sources.values()) == {"default"}
    assert not c.is_set("timeout")


def test_config_is_frozen_and_hashable() -> None:
    c = defaults()
    with pytest.raises(AttributeError):
        c.timeout = 5  # type: ignore[misc]
    assert hash(c) == hash(defaults())


def test_settings_help_and_argparse_epilog() -> None:
    parser = argparse.ArgumentParser(prog="bootmenu")
    config.add_help_epilog(parser)
    help_text = parser.format_help()
    assert '  timeout=SECONDS|auto|menu-force  (default: "auto")' in help_text
    assert '  efi_handoff=auto|bootnext|payload  (default: "auto")' in help_text
    assert "  default=GLOB  (default: not set)" in help_text
    for name in EXPECTED_DEFAULTS:
        assert f"\n  {name}=" in help_text


def test_main_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    assert config.main(["--markdown"]) == 0
    assert capsys.readouterr().out == docs_section()


def test_main_update_docs(tmp_path: Path) -> None:
    doc = tmp_path / "config.md"
    doc.write_text(f"# Title\n\n{config.DOCS_BEGIN}\nstale\n{config.DOCS_END}\n\nAfter.\n")
    assert config.main(["--update-docs", str(doc)]) == 0
    updated = doc.read_text()
    assert updated.startswith(f"# Title\n\n{config.DOCS_BEGIN}\n<!-- Generated")
    assert "stale" not in updated and updated.endswith(f"{config.DOCS_END}\n\nAfter.\n")
    assert "### `use_efi_vars`" in updated


def test_main_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert config.main(["--check", str(FIXTURES / "minimal.toml")]) == 0
    out = capsys.readouterr().out
    assert f"timeout = 0  # {FIXTURES / 'minimal.toml'}\n" in out
    assert "wait_timeout = 10  # default\n" in out
    assert "# default is not set (default)\n" in out
    assert config.main(["--check", str(FIXTURES / "typos.toml")]) == 1
    assert "unknown setting 'timout' ignored" in capsys.readouterr().err
    assert config.main(["--check", str(FIXTURES / "absent.toml")]) == 1


# --- TOML --------------------------------------------------------------------------------------


def test_full_file() -> None:
    layer, warnings = parse_toml(text("full.toml"), "/etc/bootmenu.toml")
    assert warnings == ()
    c = merge([layer])
    assert c.timeout == 3
    assert c.default == "debian-*"
    assert c.once == "memtest86+"
    assert c.order_devices == ("PARTLABEL=root-a", "/dev/nvme0n1p*")
    assert c.order_sources == ("uki", "bls", "grub")
    assert c.order_kinds == ("uki", "linux")
    assert c.fallback is False
    assert c.wait_for == (
        "PARTUUID=6b2c1f0e-8a3d-4c5e-9f1a-0b2c3d4e5f60",
        "LABEL=data",
        "/dev/md0",
    )
    assert c.wait_timeout == 30
    assert c.settle_timeout == 45
    assert c.hide == ("*rescue*", "Memory test*")
    assert c.console == ("ttyS0", "tty0")
    assert c.hooks_dir == "/usr/lib/bootmenu/hooks"
    assert c.efi_handoff is EfiHandoff.BOOTNEXT
    assert c.mode is Mode.AUTOBOOT
    assert c.allow_disk_config is False
    assert c.disk_config_from == ("PARTLABEL=settings",)
    assert c.autoboot_removable is True
    assert c.removable_filesystems == ("vfat", "iso9660")
    assert c.log_level is LogLevel.DEBUG
    assert c.use_efi_vars is False
    assert c.password is not None and c.password.startswith("$pbkdf2-sha256$1000$")
    assert set(c.sources.values()) == {"/etc/bootmenu.toml"}


def test_mistakes_become_warnings_naming_file_key_and_problem() -> None:
    layer, warnings = parse_toml(text("typos.toml"), "/etc/bootmenu.toml")
    assert dict(layer.values) == {"default": "Arch Linux"}
    assert warnings == (
        "/etc/bootmenu.toml: unknown setting 'timout' ignored (did you mean 'timeout'?)",
        '/etc/bootmenu.toml: timeout: expected a number of seconds, "auto" or "menu-force", '
        'got "5s"; ignored',
        '/etc/bootmenu.toml: fallback: expected true or false, got a string ("yes"); ignored',
        "/etc/bootmenu.toml: console: item 2 should be a string, not an integer (1); ignored",
        "/etc/bootmenu.toml: wait_timeout: must be 0 or more, not -1; ignored",
        '/etc/bootmenu.toml: order_sources: "systemd-boot" matches no entry source (known: bls, '
        "uki, grub, syslinux, efi-removable, windows, haiku, multiboot, firmware, custom); ignored",
        '/etc/bootmenu.toml: wait_for: "sda1" is not a device (UUID=…, PARTUUID=…, LABEL=…, '
        "PARTLABEL=… or /dev/…); ignored",
        '/etc/bootmenu.toml: efi_handoff: "kexec" is not one of auto, bootnext, payload; ignored',
        '/etc/bootmenu.toml: hooks_dir: "hooks.d" is not an absolute path; ignored',
        "/etc/bootmenu.toml: unknown setting 'menu' ignored",
    )


def test_syntax_error_raises_with_file_and_line() -> None:
    with pytest.raises(ConfigError, match=r"^/etc/bootmenu.toml: not valid TOML: .*line 2"):
        parse_toml(text("syntax-error.toml"), "/etc/bootmenu.toml")


def test_disk_file_may_not_change_initramfs_settings() -> None:
    origin = config.disk_origin("PARTUUID=1234")
    assert origin == "PARTUUID=1234:/bootmenu.toml"
    layer, warnings = parse_toml(text("disk.toml"), origin, on_disk=True)
    assert dict(layer.values) == {"default": "Windows*", "timeout": 10}
    refused = ("hide", "hooks_dir", "allow_disk_config", "wait_for", "console", "once",
               "efi_handoff", "use_efi_vars")  # fmt: skip
    assert warnings == tuple(
        f"PARTUUID=1234:/bootmenu.toml: {key} cannot be set in a file on disk; ignored"
        for key in refused
    )


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("timeout = 0", 0),
        ('timeout = "auto"', None),
        ('timeout = "menu-force"', TIMEOUT_MENU_FORCE),
        ('default = ""', None),
        ('console = "ttyS0"', ("ttyS0",)),
        ("hide = []", ()),
        ('efi_handoff = "PAYLOAD"', EfiHandoff.PAYLOAD),
        ('order_kinds = ["*"]', ("*",)),
    ],
)
def test_toml_spellings(line: str, value: object) -> None:
    layer, warnings = parse_toml(line, "f")
    assert warnings == ()
    assert list(layer.values.values()) == [value]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("timeout = true", "got a boolean (True)"),
        ("timeout = 1.5", "got a float (1.5)"),
        ("timeout = 99999999999", "99999999999 seconds is too long"),
        ("default = 1979-05-27", "got a date or time"),
        ('default = "a\\u0007b"', "contains control characters"),
        ('hide = [""]', "an empty pattern matches nothing"),
        ("hide = {a = 1}", "got a table"),
        ('console = ["tty S0"]', "not a console device name"),
        ('log_level = "trace"', "is not one of debug, info, warning, error"),
    ],
)
def test_toml_type_problems(line: str, problem: str) -> None:
    layer, warnings = parse_toml(line, "f")
    assert dict(layer.values) == {}
    assert len(warnings) == 1 and problem in warnings[0]


# --- kernel command line -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cmdline", "words"),
    [
        ("a b=c\n", (("a", None), ("b", "c"))),
        ('x="a b" y', (("x", "a b"), ("y", None))),
        ('"x=a b" y', (("x", "a b"), ("y", None))),
        ('x=a"b c"d', (("x", 'a"b c"d'),)),
        ('x="a b', (("x", "a b"),)),
        ('"quoted word"', (("quoted word", None),)),
        ("x=a=b  \t y=", (("x", "a=b"), ("y", ""))),
        ("", ()),
    ],
)
def test_split_cmdline_like_the_kernel(cmdline: str, words: tuple[tuple[str, str | None]]) -> None:
    assert split_cmdline(cmdline) == words


def test_cmdline_fedora() -> None:
    layer, warnings = parse_cmdline(text("cmdline-fedora.txt"))
    assert warnings == ()
    assert dict(layer.values) == {
        "default": "Fedora Linux (6.8*",
        "timeout": TIMEOUT_MENU_FORCE,
        "console": ("ttyS0", "tty0"),
        "wait_for": ("PARTUUID=6b2c1f0e-8a3d-4c5e-9f1a-0b2c3d4e5f60", "LABEL=data"),
        "fallback": False,
        "hide": ("*rescue*", "Memory test*"),
    }
    assert layer.origin == "kernel command line"


def test_cmdline_mistakes() -> None:
    layer, warnings = parse_cmdline(text("cmdline-mistakes.txt"))
    assert dict(layer.values) == {
        "timeout": 3,  # the later, bad word is ignored
        "use_efi_vars": True,
        "default": None,
        "once": "arch.conf",  # after "--": bootmenu is init, those words are ours too
    }
    assert warnings == (
        'kernel command line: bootmenu.timeout: "5s" is not a number of seconds, "auto" or '
        '"menu-force"; ignored',
        "kernel command line: unknown setting 'bootmenu.tmeout' ignored (did you mean 'timeout'?)",
        'kernel command line: bootmenu.log_level: "verbose" is not one of debug, info, warning, '
        "error; ignored",
        'kernel command line: bootmenu.order_kinds: "grub" matches no entry kind (known: linux, '
        "uki, multiboot, efi); ignored",
    )


@pytest.mark.parametrize(
    ("word", "value"),
    [
        ("bootmenu.fallback=no", False),
        ("bootmenu.fallback=ON", True),
        ("bootmenu.fallback=1", True),
        ("bootmenu.timeout=auto", None),
        ("bootmenu.timeout=0", 0),
        ("bootmenu.hide=", ()),
        ("bootmenu.hide=a,,b ,", ("a", "b")),
        ("bootmenu.timeout=1 bootmenu.timeout=2", 2),
    ],
)
def test_cmdline_values(word: str, value: object) -> None:
    layer, warnings = parse_cmdline(word)
    assert warnings == ()
    assert list(layer.values.values()) == [value]


def test_cmdline_needs_values() -> None:
    layer, warnings = parse_cmdline("bootmenu.timeout bootmenu.hooks_dir=rel")
    assert dict(layer.values) == {}
    assert warnings == (
        "kernel command line: bootmenu.timeout: needs a value (NAME=VALUE); ignored",
        'kernel command line: bootmenu.hooks_dir: "rel" is not an absolute path; ignored',
    )


# --- EFI variables and options -----------------------------------------------------------------


def test_efi_layers_name_their_variable() -> None:
    layers, warnings = parse_efi(
        {
            "LoaderConfigTimeout": "menu-hidden",
            "LoaderEntryDefault": "fedora.conf",
            "LoaderEntryOneShot": "auto-windows",
            "LoaderInfo": "systemd-boot 255",
        }
    )
    assert warnings == ()
    assert layers == (
        Layer("EFI variable LoaderConfigTimeout", {"timeout": 0}),
        Layer("EFI variable LoaderEntryDefault", {"default": "fedora.conf"}),
        Layer("EFI variable LoaderEntryOneShot", {"once": "auto-windows"}),
    )


@pytest.mark.parametrize(
    ("variables", "timeout"),
    [
        ({"LoaderConfigTimeout": "7"}, 7),
        ({"LoaderConfigTimeout": "menu-force"}, TIMEOUT_MENU_FORCE),
        ({"LoaderConfigTimeout": "menu-disabled"}, 0),
        ({"LoaderConfigTimeout": "0"}, 0),
        ({"LoaderConfigTimeoutOneShot": "0"}, TIMEOUT_MENU_FORCE),
        ({"LoaderConfigTimeout": "3", "LoaderConfigTimeoutOneShot": "20"}, 20),
    ],
)
def test_efi_timeouts(variables: dict[str, str], timeout: int) -> None:
    layers, _ = parse_efi(variables)
    assert merge(layers).timeout == timeout


def test_efi_bad_timeout() -> None:
    layers, warnings = parse_efi({"LoaderConfigTimeoutOneShot": "soon"})
    assert layers == ()
    assert warnings == (
        'EFI variable LoaderConfigTimeoutOneShot: "soon" is not a number of seconds, menu-force, '
        "menu-hidden or menu-disabled; ignored",
    )


def test_options_accept_text_and_typed_values() -> None:
    layer = parse_options({"timeout": "4", "hide": ["x*"], "fallback": False, "default": None})
    assert dict(layer.values) == {"timeout": 4, "hide": ("x*",), "fallback": False}
    assert layer.origin == "command line option"


def test_bad_options_raise() -> None:
    with pytest.raises(ConfigError, match="command line option: unknown setting 'timout'"):
        parse_options({"timout": 3})
    with pytest.raises(ConfigError, match='command line option: timeout: "soon" is not'):
        parse_options({"timeout": "soon"})


def test_parse_assignment() -> None:
    assert parse_assignment("wait-timeout=30") == ("wait_timeout", 30)
    assert parse_assignment("fallback") == ("fallback", True)
    assert parse_assignment("console=ttyS0,tty0") == ("console", ("ttyS0", "tty0"))
    with pytest.raises(ConfigError, match="needs a value"):
        parse_assignment("timeout")
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        parse_assignment("colour=red")


# --- merging and loading -----------------------------------------------------------------------


def test_merge_later_layers_win_and_sources_are_recorded() -> None:
    c = merge(
        [
            Layer("/etc/bootmenu.toml", {"timeout": 5, "hide": ("a",)}),
            Layer("kernel command line", {"timeout": 1}),
        ]
    )
    assert (c.timeout, c.hide, c.wait_timeout) == (1, ("a",), 10)
    assert c.sources["timeout"] == "kernel command line"
    assert c.sources["hide"] == "/etc/bootmenu.toml"
    assert c.sources["wait_timeout"] == "default"
    assert c.is_set("hide") and not c.is_set("default")


EFI = {
    "LoaderConfigTimeout": "8",
    "LoaderEntryDefault": "fedora.conf",
    "LoaderEntryOneShot": "auto-windows",
}


def test_load_precedence() -> None:
    c, warnings = load(
        system_text="timeout = 1\ndefault = 'sys'\nhide = ['s*']\nlog_level = 'error'\n"
        "wait_timeout = 3\nfallback = false\n",
        disk_text=text("disk.toml"),
        disk_origin="LABEL=STICK:/bootmenu.toml",
        efi=EFI,
        cmdline="quiet bootmenu.once=cmdline* bootmenu.log_level=warning bootmenu.wait_timeout=4",
        cli={"log_level": "debug"},
    )
    assert c.wait_timeout == 4 and c.sources["wait_timeout"] == "kernel command line"
    assert c.fallback is False and c.sources["fallback"] == "/etc/bootmenu.toml"
    assert c.hide == ("s*",) and c.sources["hide"] == "/etc/bootmenu.toml"  # not the stick's
    assert c.timeout == 8 and c.sources["timeout"] == "EFI variable LoaderConfigTimeout"
    assert c.default == "fedora.conf" and c.sources["default"] == "EFI variable LoaderEntryDefault"
    assert c.once == "cmdline*" and c.sources["once"] == "kernel command line"
    assert c.log_level is LogLevel.DEBUG and c.sources["log_level"] == "command line option"
    assert len(warnings) == 8  # the disk file's eight forbidden keys
    assert all(w.startswith("LABEL=STICK:/bootmenu.toml: ") for w in warnings)


def test_load_disk_file_forbidden_by_initramfs_file() -> None:
    c, warnings = load(
        system_text=text("full.toml"),
        disk_text=text("disk.toml"),
        disk_origin="sdb1:/bootmenu.toml",
    )
    assert c.default == "debian-*"
    assert warnings == (
        "sdb1:/bootmenu.toml: not read (allow_disk_config is false in /etc/bootmenu.toml)",
    )


def test_load_disk_file_forbidden_on_kernel_command_line() -> None:
    c, warnings = load(
        system_file=None, disk_text="default = 'x'", cmdline="bootmenu.allow_disk_config=0"
    )
    assert c.default is None
    assert warnings == (
        "/bootmenu.toml: not read (allow_disk_config is false in kernel command line)",
    )


def test_load_efi_vars_disabled() -> None:
    c, warnings = load(system_file=None, efi=EFI, cmdline="bootmenu.use_efi_vars=no")
    assert (c.timeout, c.default, c.once) == (None, None, None)
    assert warnings == ()
    c, _ = load(system_text=text("full.toml"), efi=EFI)  # use_efi_vars = false in the file
    assert c.timeout == 3 and c.sources["timeout"] == "/etc/bootmenu.toml"


def test_load_reads_system_file(tmp_path: Path) -> None:
    path = tmp_path / "bootmenu.toml"
    path.write_text("timeout = 2\n")
    c, warnings = load(system_file=str(path))
    assert c.timeout == 2 and c.sources["timeout"] == str(path)
    assert warnings == ()
    c, warnings = load(system_file=str(tmp_path / "absent.toml"))
    assert c == defaults() and warnings == ()


@pytest.mark.parametrize(
    ("system_text", "problem"),
    [
        (text("syntax-error.toml"), "not valid TOML"),
        (b"timeout = 5\n\xff\n", "not UTF-8 text (byte 12)"),
        (b"#" * (config.MAX_FILE_SIZE + 1), "larger than 1048576 bytes"),
    ],
)
def test_load_bad_file_gives_defaults_and_a_warning(system_text: str | bytes, problem: str) -> None:
    c, warnings = load(system_text=system_text, cmdline="bootmenu.wait_timeout=1")
    assert c == merge([Layer("kernel command line", {"wait_timeout": 1})])
    assert len(warnings) == 1
    assert warnings[0].startswith("/etc/bootmenu.toml: ") and problem in warnings[0]


def test_load_accepts_utf8_bytes_with_bom() -> None:
    c, warnings = load(system_text="\ufeffdefault = 'Débian*'\n".encode())
    assert c.default == "Débian*" and warnings == ()


def test_load_bad_cli_raises() -> None:
    with pytest.raises(ConfigError, match="wait_timeout"):
        load(system_file=None, cli={"wait_timeout": -3})


def test_dump_names_sources() -> None:
    c, _ = load(system_file=None, cmdline='"bootmenu.hide=a b,c" bootmenu.timeout=menu-force')
    dumped = config.dump(c)
    assert 'hide = ["a b", "c"]  # kernel command line\n' in dumped
    assert 'timeout = "menu-force"  # kernel command line\n' in dumped
    assert "# once is not set (default)\n" in dumped
    # What dump() writes is a settings file that gives the same settings back.
    layer, warnings = parse_toml(dumped, "dump")
    assert warnings == () and merge([layer]) == c


def test_first_match() -> None:
    patterns = ("PARTLABEL=root-*", "/dev/nvme*")
    assert config.first_match(patterns, ["/dev/nvme0n1p2", None, "PARTLABEL=root-b"]) == 0
    assert config.first_match(patterns, ["/dev/nvme1n1p1"]) == 1
    assert config.first_match(patterns, ["/dev/sda1", "LABEL=x"]) is None
    assert config.first_match(("Fedora*",), ["fedora-6.8.conf", "fedora"]) is None


# --- properties --------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_parse_toml_arbitrary_text(source: str) -> None:
    try:
        layer, warnings = parse_toml(source, "f")
    except ConfigError:
        return
    assert isinstance(merge([layer]), Config)
    assert all(w.startswith("f: ") for w in warnings)


_VALUES = st.sampled_from(
    ["5", "auto", "menu-force", "yes", "ttyS0,tty0", "LABEL=x", "a*", "", "-1", '"q q"', "payload"]
)
_NAMES = st.sampled_from([*config.BY_NAME, "bogus", "wait-timeout"])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=20),
            st.builds(lambda n, v: f"bootmenu.{n}={v}", _NAMES, _VALUES),
            st.builds(lambda n: f"bootmenu.{n}", _NAMES),
        ),
        max_size=8,
    )
)
def test_load_never_raises_for_any_cmdline(words: list[str]) -> None:
    c, warnings = load(system_file=None, cmdline=" ".join(words))
    assert isinstance(c, Config)
    assert all(w.startswith("kernel command line: ") for w in warnings)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(blacklist_characters=' \t\n\v\f\r"'), min_size=1).filter(
            lambda w: not w.startswith("=")
        )
    )
)
def test_split_cmdline_plain_words(words: list[str]) -> None:
    """Without quotes, words are split at whitespace and at their first "="."""
    split = split_cmdline(" ".join(words))
    assert ["=".join(w for w in pair if w is not None) for pair in split] == words
