"""Boot Loader Specification type #1 entries, loader.conf, boot counting and menu order."""

from __future__ import annotations

import fnmatch as py_fnmatch
import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bootmenu.errors import FormatError
from bootmenu.formats.bls import (
    BlsEntry,
    MenuMode,
    SortFields,
    compare_sort_fields,
    entry_id,
    fnmatch,
    match_default,
    parse_counting,
    parse_entry,
    parse_loader_conf,
    sort_entries,
    version_compare,
)
from bootmenu.formats.grubenv import parse_grubenv

FIXTURES = Path(__file__).parent.parent / "fixtures"
BLS = FIXTURES / "bls"
FEDORA_MID = "2a7f1c5e8d6a4f0b9c3e1d2f4a5b6c7d"
RHEL_MID = "8b0e7e4ad5f3413a9c1b7e2f0d6a5c94"


def load(directory: str, variables: dict[str, str] | None = None) -> list[BlsEntry]:
    return [
        parse_entry(path.name, path.read_text(), variables)
        for path in sorted((BLS / directory).iterdir())
    ]


def one(directory: str, name: str, variables: dict[str, str] | None = None) -> BlsEntry:
    return parse_entry(name, (BLS / directory / name).read_text(), variables)


def menu(directory: str) -> list[str]:
    entries = sort_entries(load(directory), key=lambda e: e.sort_fields)
    return [e.filename for e in entries]


# --------------------------------------------------------------------------------------------
# Boot counting


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("foo+3-1.conf", ("foo.conf", 3, 1)),
        # "If the second counter is missing, then it is assumed to be equivalent to zero."
        ("foo+3.conf", ("foo.conf", 3, 0)),
        ("foo.conf", ("foo.conf", None, None)),
        # UKIs (type #2) count the same way.
        ("fedora-6.8.9.efi", ("fedora-6.8.9.efi", None, None)),
        ("fedora-6.8.9+2-1.efi", ("fedora-6.8.9.efi", 2, 1)),
        # Only the last '+' starts a counter; the suffix is matched ignoring case.
        ("memtest86+.conf", ("memtest86+.conf", None, None)),
        ("c++-dev+0-5.CONF", ("c++-dev.conf", 0, 5)),
        # A counter in the middle of the name is no counter.
        ("foo+3-1-beta.conf", ("foo+3-1-beta.conf", None, None)),
        ("foo+3-.conf", ("foo+3-.conf", None, None)),
        ("foo+-1.conf", ("foo+-1.conf", None, None)),
        # Counters beyond INT_MAX are not counters for systemd-boot.
        ("foo+2147483648.conf", ("foo+2147483648.conf", None, None)),
        ("foo+2147483647-0.conf", ("foo.conf", 2147483647, 0)),
        # Other suffixes never carry counters.
        ("foo+3-1.txt", ("foo+3-1.txt", None, None)),
    ],
)
def test_parse_counting(filename: str, expected: tuple[str, int | None, int | None]) -> None:
    assert parse_counting(filename) == expected


def test_entry_id_is_lower_case_without_counter() -> None:
    assert entry_id("Fedora-6.8.9-300.FC40.x86_64+3-0.conf") == "fedora-6.8.9-300.fc40.x86_64.conf"


@settings(max_examples=300, deadline=None)
@given(
    base=st.text(alphabet="abcXYZ019.-_", min_size=0, max_size=20),
    left=st.integers(min_value=0, max_value=2**31 - 1),
    done=st.integers(min_value=0, max_value=2**31 - 1) | st.none(),
    suffix=st.sampled_from([".conf", ".efi"]),
)
def test_parse_counting_round_trip(base: str, left: int, done: int | None, suffix: str) -> None:
    counter = f"+{left}" if done is None else f"+{left}-{done}"
    assert parse_counting(base + counter + suffix) == (base + suffix, left, done or 0)


# --------------------------------------------------------------------------------------------
# Entries


def test_fedora31_kernelopts_expanded_from_grubenv() -> None:
    env = parse_grubenv((FIXTURES / "grubenv" / "fedora31").read_bytes())
    entry = one("fedora31", f"{FEDORA_MID}-5.3.7-301.fc31.x86_64.conf", env)
    assert entry.id == f"{FEDORA_MID}-5.3.7-301.fc31.x86_64.conf"
    assert entry.title == "Fedora (5.3.7-301.fc31.x86_64) 31 (Thirty One)"
    assert entry.version == "5.3.7-301.fc31.x86_64"
    assert entry.linux == "/vmlinuz-5.3.7-301.fc31.x86_64"
    assert entry.initrd == ("/initramfs-5.3.7-301.fc31.x86_64.img",)
    assert entry.options == (
        "root=/dev/mapper/fedora_localhost--live-root ro "
        "resume=/dev/mapper/fedora_localhost--live-swap rd.lvm.lv=fedora_localhost-live/root "
        "rd.lvm.lv=fedora_localhost-live/swap rhgb quiet"
    )
    assert entry.problems == ()
    # GRUB's own keys are kept, unexpanded, for whoever wants them.
    assert entry.other == (
        ("grub_users", "$grub_users"),
        ("grub_arg", "--unrestricted"),
        ("grub_class", "kernel"),
    )


def test_fedora31_without_grubenv_value_expands_to_nothing_as_in_grub() -> None:
    entry = one("fedora31", f"{FEDORA_MID}-0-rescue.conf", {"saved_entry": "x"})
    assert entry.options == ""
    assert entry.problems == ()
    (note,) = entry.notes
    assert "$kernelopts" in note
    assert "'options'" in note


def test_no_expansion_for_systemd_boot() -> None:
    entry = one("fedora31", f"{FEDORA_MID}-0-rescue.conf")
    assert entry.options == "$kernelopts"
    assert entry.problems == ()


def test_rhel9_empty_tuned_variables_vanish() -> None:
    env = parse_grubenv((FIXTURES / "grubenv" / "rhel9").read_bytes())
    entry = one("rhel9", f"{RHEL_MID}-5.14.0-362.8.1.el9_3.x86_64.conf", env)
    assert entry.initrd == ("/initramfs-5.14.0-362.8.1.el9_3.x86_64.img",)
    assert entry.options.endswith("rd.lvm.lv=rhel/swap rhgb quiet")
    assert entry.options.startswith("root=/dev/mapper/rhel-root ro crashkernel=1G-4G:192M,")
    assert entry.problems == ()


def test_rhel9_tuned_initrd_with_two_paths_gives_two_initrds() -> None:
    env = parse_grubenv((FIXTURES / "grubenv" / "rhel9-realtime").read_bytes())
    entry = one("rhel9", f"{RHEL_MID}-5.14.0-362.8.1.el9_3.x86_64.conf", env)
    assert entry.initrd == (
        "/initramfs-5.14.0-362.8.1.el9_3.x86_64.img",
        "/tuned-initrd.img",
        "/early-microcode-rt.img",
    )
    assert entry.options.endswith(
        "rhgb quiet skew_tick=1 tsc=reliable rcupdate.rcu_normal_after_boot=1 "
        "isolcpus=managed_irq,domain,2-7 intel_pstate=disable nosoftlockup"
    )


def test_braced_variable_and_unknown_variable_in_initrd() -> None:
    text = "linux /vmlinuz\ninitrd ${early} /initrd.img $missing\n"
    entry = parse_entry("x.conf", text, {"early": "/ucode.img"})
    assert entry.initrd == ("/ucode.img", "/initrd.img")
    assert entry.problems == ()
    assert entry.notes == (
        "'initrd' refers to $missing, which is not set in the GRUB environment; it expands "
        "to nothing, as in GRUB",
    )


def test_arch_entry_multiple_initrds_and_options_lines() -> None:
    entry = one("arch", "arch.conf")
    assert entry.title == "Arch Linux"
    assert entry.linux == "/vmlinuz-linux"
    assert entry.initrd == ("/intel-ucode.img", "/initramfs-linux.img")
    assert entry.options == (
        "root=PARTUUID=3f1c2b8e-6d0a-4c55-9e61-7a2d4b9f0c13 rw quiet loglevel=3"
    )
    assert entry.sort_key is None and entry.version is None and entry.architecture is None
    assert entry.problems == () and entry.notes == ()


def test_tab_separated_entry_with_comment() -> None:
    entry = one("arch", "arch-lts.conf")
    assert entry.title == "Arch Linux LTS"
    assert entry.initrd == ("/intel-ucode.img", "/initramfs-linux-lts.img")


def test_efi_entry() -> None:
    entry = one("arch", "memtest86+.conf")
    assert entry.efi == "/memtest86+/memtest.efi"
    assert entry.linux is None
    assert entry.tries_left is None
    assert entry.problems == ()


def test_aarch64_entry_with_devicetree_and_overlays() -> None:
    entry = one("misc", "debian-rockpro64.conf")
    assert entry.architecture == "aarch64"
    assert entry.architecture_raw == "aa64"
    assert entry.devicetree == (
        "/5c0e8f2a9b7d4c1e8a3f6b2d0c9e7a41/6.1.0-18-arm64/rockchip/rk3399-rockpro64.dtb"
    )
    assert entry.devicetree_overlay == (
        "/5c0e8f2a9b7d4c1e8a3f6b2d0c9e7a41/overlays/rk3399-spi-flash.dtbo",
        "/5c0e8f2a9b7d4c1e8a3f6b2d0c9e7a41/overlays/rk3399-uart2.dtbo",
        "/5c0e8f2a9b7d4c1e8a3f6b2d0c9e7a41/overlays/rk3399-pcie-gen2.dtbo",
    )
    assert entry.machine_id == "5c0e8f2a9b7d4c1e8a3f6b2d0c9e7a41"
    assert entry.sort_key == "debian"
    assert entry.problems == ()


def test_uefi_shell_with_x64_architecture() -> None:
    entry = one("misc", "uefi-shell.conf")
    assert (entry.efi, entry.architecture, entry.architecture_raw) == (
        "/shellx64.efi",
        "x86_64",
        "x64",
    )
    assert entry.notes == ()


def test_linux_architecture_name_is_a_note_not_a_problem() -> None:
    entry = one("misc", "linux-arch-name.conf")
    assert entry.architecture == "x86_64"
    assert entry.problems == ()
    assert len(entry.notes) == 1 and "'x64'" in entry.notes[0]


def test_unknown_architecture_is_a_problem() -> None:
    entry = one("misc", "sparc.conf")
    assert entry.architecture is None
    assert entry.architecture_raw == "sparc64"
    assert entry.problems == ("architecture 'sparc64' is not an architecture name we know",)


def test_both_linux_and_efi_is_a_problem() -> None:
    entry = one("misc", "both-linux-and-efi.conf")
    assert entry.linux == "/vmlinuz-linux" and entry.efi == "/EFI/BOOT/BOOTX64.EFI"
    assert len(entry.problems) == 1
    assert "'linux' and 'efi'" in entry.problems[0]


def test_no_kernel_is_a_problem() -> None:
    entry = one("misc", "no-kernel.conf")
    assert entry.version == "6.6.30-1-lts"
    assert entry.problems == (
        "the entry has neither a 'linux' nor an 'efi' line, so nothing to boot",
    )


def test_uki_key_counts_as_something_to_boot() -> None:
    entry = one("misc", "uki-entry.conf")
    assert entry.uki == "/EFI/Linux/2a7f1c5e8d6a4f0b9c3e1d2f4a5b6c7d-6.11.4-301.fc41.x86_64.efi"
    assert entry.options == "quiet"
    assert entry.problems == ()


def test_crlf_quotes_blanks_and_valueless_lines() -> None:
    entry = one("misc", "crlf-quoted.conf")
    # systemd-boot strips a pair of quotes around a whole value.
    assert entry.title == "Manjaro Linux"
    assert entry.version == "6.9.3-1-MANJARO"
    assert entry.machine_id == "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
    # "sort-key" without a value is ignored, as systemd-boot ignores it.
    assert entry.sort_key is None
    # The commented-out options line is skipped; blanks inside a value are kept.
    assert entry.options == (
        "root=UUID=aa0c3e5b-1f2d-4e6a-8b7c-9d0e1f2a3b4c rw  quiet apparmor=1 security=apparmor"
    )
    assert entry.initrd == ("/initramfs-6.9-x86_64.img",)


def test_later_single_key_wins() -> None:
    entry = parse_entry("x.conf", "title One\nlinux /a\ntitle Two\nlinux /b\n")
    assert (entry.title, entry.linux) == ("Two", "/b")
    assert entry.problems == ()


def test_nul_is_not_text() -> None:
    with pytest.raises(FormatError):
        parse_entry("x.conf", "title a\x00b\nlinux /vmlinuz\n")


@settings(max_examples=300, deadline=None)
@given(
    filename=st.text(max_size=30),
    text=st.text(max_size=400),
    variables=st.none() | st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=4),
)
def test_parse_entry_never_raises_anything_but_format_error(
    filename: str, text: str, variables: dict[str, str] | None
) -> None:
    try:
        entry = parse_entry(filename, text, variables)
    except FormatError:
        return
    assert isinstance(entry.problems, tuple)


# --------------------------------------------------------------------------------------------
# loader.conf


def test_loader_conf_arch() -> None:
    conf = parse_loader_conf((BLS / "loader" / "arch.conf").read_text())
    assert conf.default == "arch.conf"
    assert (conf.timeout, conf.timeout_raw, conf.menu) == (4, "4", MenuMode.TIMEOUT)
    assert conf.console_mode == "max"
    assert conf.editor is False and conf.auto_entries is True
    assert conf.raw == (
        ("default", "arch.conf"),
        ("timeout", "4"),
        ("console-mode", "max"),
        ("editor", "no"),
    )
    assert conf.problems == ()


def test_loader_conf_menu_force_waits_forever() -> None:
    conf = parse_loader_conf((BLS / "loader" / "menu-force.conf").read_text())
    assert (conf.timeout, conf.timeout_raw, conf.menu) == (None, "menu-force", MenuMode.FORCE)
    assert conf.default == "@saved"


def test_loader_conf_menu_hidden() -> None:
    conf = parse_loader_conf((BLS / "loader" / "hidden.conf").read_text())
    assert (conf.timeout, conf.menu) == (0, MenuMode.HIDDEN)
    assert conf.auto_entries is False
    assert conf.default == "2A7F1C5E8D6A4F0B9C3E1D2F4A5B6C7D-*"


def test_loader_conf_menu_disabled() -> None:
    conf = parse_loader_conf((BLS / "loader" / "disabled.conf").read_text())
    assert (conf.timeout, conf.timeout_raw, conf.menu) == (0, "menu-disabled", MenuMode.DISABLED)
    assert conf.editor is False


def test_loader_conf_without_timeout_boots_at_once() -> None:
    conf = parse_loader_conf((BLS / "loader" / "comments-only.conf").read_text())
    assert (conf.timeout, conf.timeout_raw, conf.menu) == (0, None, MenuMode.HIDDEN)
    assert conf.raw == () and conf.default is None and conf.console_mode is None


def test_loader_conf_invalid_lines_are_ignored_and_reported() -> None:
    conf = parse_loader_conf((BLS / "loader" / "invalid.conf").read_text())
    assert (conf.timeout, conf.timeout_raw) == (3, "3")
    assert conf.editor is True  # "maybe" was ignored, the default stays
    assert conf.default is None  # "@firmware" is not a special entry systemd-boot knows
    assert conf.console_mode is None
    assert [p.split(":")[0] for p in conf.problems] == [
        "loader.conf line 1",
        "loader.conf line 2",
        "loader.conf line 3",
        "loader.conf line 4",
    ]
    assert ("beep", "yes") in conf.raw and ("random-seed-mode", "always") in conf.raw


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=400))
def test_parse_loader_conf_never_raises_anything_but_format_error(text: str) -> None:
    try:
        conf = parse_loader_conf(text)
    except FormatError:
        return
    assert conf.timeout is None or conf.timeout >= 0


# --------------------------------------------------------------------------------------------
# Version comparison
#
# Expected results come from the Version Format Specification's examples and were checked
# against `systemd-analyze compare-versions` (systemd 252).


@pytest.mark.parametrize(
    ("a", "op", "b"),
    [
        ("11", "==", "11"),
        ("systemd-123", "==", "systemd-123"),
        ("bar-123", "<", "foo-123"),
        ("123a", ">", "123"),
        ("123.a", ">", "123"),
        ("123.a", "<", "123.b"),
        ("123a", ">", "123.a"),
        ("11α", "==", "11β"),
        ("A", "<", "a"),
        ("", "<", "0"),
        ("0.", ">", "0"),
        ("0.0", ">", "0"),
        ("0", ">", "~"),
        ("", ">", "~"),
        ("1_", "==", "1"),
        ("_1", "==", "1"),
        ("1_", "<", "1.2"),
        ("1_2_3", ">", "1.3.3"),
        ("1+", "==", "1"),
        ("+1", "==", "1"),
        ("1+", "<", "1.2"),
        ("1+2+3", ">", "1.3.3"),
        # Numbers compare as numbers, not as text: 6.10 is newer than 6.9.
        ("6.10.3-200.fc40.x86_64", ">", "6.9.12-200.fc40.x86_64"),
        ("007", "==", "7"),
        # '~' marks a pre-release: older than the release, newer than the previous one.
        ("6.11~rc5", "<", "6.11"),
        ("6.11~rc5", ">", "6.10.3"),
        ("6.11~rc5", ">", "6.11~rc4"),
        # '-' separates the release: 123-9 is older than 123.1-1.
        ("123-9", "<", "123.1-1"),
        # '^' (patched release) sorts above '-' and the end, below '.' and a direct letter.
        ("123^post1", ">", "123-1.1"),
        ("123^post1", ">", "123"),
        ("123^post1", "<", "123.a-1"),
        ("1^a", "<", "1.a"),
        (None, "==", ""),
    ],
)
def test_version_compare(a: str | None, op: str, b: str | None) -> None:
    expected = {"<": -1, "==": 0, ">": 1}[op]
    assert version_compare(a, b) == expected
    assert version_compare(b, a) == -expected


def test_version_compare_systemd_documented_order() -> None:
    # The list in the comment of systemd's strverscmp_improved(), oldest first.
    ordered = [
        "122.1",
        "123~rc1-1",
        "123",
        "123-a",
        "123-a.1",
        "123-1",
        "123-1.1",
        "123^post1",
        "123.a-1",
        "123.1-1",
        "123a-1",
        "124-1",
    ]
    for older, newer in itertools.pairwise(ordered):
        assert version_compare(older, newer) == -1, (older, newer)


version_text = st.text(alphabet="0129aAz.-~^_+", max_size=8)


@settings(max_examples=300, deadline=None)
@given(a=version_text, b=version_text, c=version_text)
def test_version_compare_is_a_total_order(a: str, b: str, c: str) -> None:
    assert version_compare(a, a) == 0
    assert version_compare(a, b) == -version_compare(b, a)
    if version_compare(a, b) <= 0 and version_compare(b, c) <= 0:
        assert version_compare(a, c) <= 0


@settings(max_examples=300, deadline=None)
@given(a=st.text(max_size=30) | st.none(), b=st.text(max_size=30) | st.none())
def test_version_compare_any_text(a: str | None, b: str | None) -> None:
    assert version_compare(a, b) in (-1, 0, 1)


# --------------------------------------------------------------------------------------------
# Menu order
#
# The expected orders are derived from the specification's "Sorting" rules and systemd-boot's
# boot_entry_compare():
#   1. entries with "tries left" at zero ("bad") go last;
#   2. entries with sort-key before entries without;
#   3. with sort-key on both: sort-key ascending, then machine-id ascending, then version
#      descending (newest first);
#   4. then the id (file name, counter removed) in *decreasing* version order;
#   5. same id: more tries left first, then fewer tries done first.


def test_order_sort_key_groups_machine_ids_versions_and_bad_entries() -> None:
    m = FEDORA_MID
    assert menu("order") == [
        # "debian" < "fedora": the Debian install comes first although its id sorts last.
        "e4b59a1c0f7d4e2a8b6c3d5f7a9e1b20-6.1.0-18-amd64.conf",
        # Same sort-key: the other Fedora install's machine-id 0c1d… < 2a7f…, so its older
        # kernel is listed before this install's newest one.
        "0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f-6.8.5-301.fc40.x86_64.conf",
        # Versions newest first: 6.11 > 6.11~rc5 > 6.10.3 > 6.9.12 (6.10 is newer than 6.9).
        f"{m}-6.11.conf",
        f"{m}-6.11-rc5.conf",
        f"{m}-6.10.3-200.fc40.x86_64.conf",
        f"{m}-6.9.12-200.fc40.x86_64.conf",
        # No sort-key: after all entries with one, by id in decreasing order, so "windows"
        # comes before "arch", and "arch.conf" before "arch-lts.conf" ('-' sorts lowest).
        "windows.conf",
        "arch.conf",
        "arch-lts.conf",
        # No tries left: last, although it has a sort-key and the newest version.
        f"{m}-6.11.2-300.fc41.x86_64+0-3.conf",
    ]


def test_order_boot_counted_kernels() -> None:
    m = FEDORA_MID
    assert menu("counting") == [
        f"{m}-6.8.9-300.fc40.x86_64+3.conf",  # indeterminate, newest
        f"{m}-6.8.8-300.fc40.x86_64+1-2.conf",  # indeterminate
        f"{m}-6.8.5-300.fc40.x86_64.conf",  # good (no counter), oldest
        f"{m}-6.8.7-300.fc40.x86_64+0-3.conf",  # bad: last despite being newer than 6.8.5
    ]


def test_order_same_entry_differing_only_in_counters() -> None:
    assert menu("counting-ties") == [
        "ubuntu-6.8.0-45-generic+2-1.conf",  # most tries left
        "ubuntu-6.8.0-45-generic+1-0.conf",  # same tries left, fewer done
        "ubuntu-6.8.0-45-generic+1-2.conf",
        "ubuntu-6.8.0-45-generic+0-1.conf",  # bad entries last, "sorted by n" (tries done)
        "ubuntu-6.8.0-45-generic+0-3.conf",
    ]


def test_order_without_sort_key_uses_version_order_of_ids() -> None:
    m = FEDORA_MID
    assert menu("fedora31") == [
        f"{m}-5.3.16-300.fc31.x86_64.conf",  # 16 > 7 as numbers
        f"{m}-5.3.7-301.fc31.x86_64.conf",
        f"{m}-0-rescue.conf",
    ]


def test_order_arch_ids_descending() -> None:
    assert menu("arch") == [
        "memtest86+.conf",  # 'm' > 'a' in decreasing order
        "arch.conf",
        "arch-lts.conf",  # "lts" > "fallback"
        "arch-fallback.conf",
    ]


def test_sort_entries_is_stable_and_generic() -> None:
    same = SortFields("a.conf", None, None, None, None, None)
    items = [("first", same), ("second", same), ("third", same)]
    assert [name for name, _ in sort_entries(items, key=lambda i: i[1])] == [
        "first",
        "second",
        "third",
    ]


def test_empty_sort_key_counts_as_unset() -> None:
    with_key = SortFields("a.conf", "fedora", None, None, None, None)
    empty_key = SortFields("z.conf", "", None, None, None, None)
    assert compare_sort_fields(with_key, empty_key) < 0


sort_fields = st.builds(
    SortFields,
    id=st.text(alphabet="ab12.-~", max_size=6),
    sort_key=st.none() | st.sampled_from(["", "arch", "fedora"]),
    machine_id=st.none() | st.sampled_from(["0c1d", "2a7f"]),
    version=st.none() | st.text(alphabet="129.-~^", max_size=5),
    tries_left=st.none() | st.integers(0, 3),
    tries_done=st.none() | st.integers(0, 3),
)


@settings(max_examples=300, deadline=None)
@given(items=st.lists(sort_fields, max_size=8))
def test_sort_entries_gives_a_consistent_order(items: list[SortFields]) -> None:
    ordered = sort_entries(items, key=lambda f: f)
    assert sorted(map(repr, ordered)) == sorted(map(repr, items))
    for earlier, later in itertools.pairwise(ordered):
        assert compare_sort_fields(earlier, later) <= 0
    for a in items:
        for b in items:
            assert compare_sort_fields(a, b) == -compare_sort_fields(b, a)


# --------------------------------------------------------------------------------------------
# Default entry


def test_match_default_plain_id() -> None:
    ids = ["arch.conf", "arch-lts.conf", "arch-fallback.conf"]
    assert match_default("arch-lts.conf", ids) == "arch-lts.conf"


def test_match_default_without_conf_suffix() -> None:
    assert match_default("arch", ["memtest86+.conf", "arch.conf"]) == "arch.conf"


def test_match_default_glob_takes_first_in_menu_order() -> None:
    conf = parse_loader_conf((BLS / "loader" / "hidden.conf").read_text())
    assert conf.default is not None
    ids = [e.id for e in sort_entries(load("counting"), key=lambda e: e.sort_fields)]
    # The pattern is written in upper case; systemd-boot lower-cases pattern and ids.
    assert match_default(conf.default, ids) == f"{FEDORA_MID}-6.8.9-300.fc40.x86_64.conf"


def test_match_default_special_and_missing() -> None:
    assert match_default("@saved", ["a.conf"]) is None
    assert match_default("debian-*", ["arch.conf", "fedora.conf"]) is None


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("fedora-*", "fedora-6.8.conf", True),
        ("*-lts.conf", "arch-lts.conf", True),
        ("*-lts.conf", "arch-lts.conf.bak", False),
        ("arch-?ts.conf", "arch-lts.conf", True),
        ("arch-[kl]ts.conf", "arch-lts.conf", True),
        ("arch-[a-k]ts.conf", "arch-lts.conf", False),
        ("[]]x", "]x", True),
        ("a\\*b", "a*b", True),
        ("a\\*b", "axb", False),
        ("*a*b*", "xxaxxbxx", True),
        ("*a*b", "xxaxxbxx", False),
        ("[", "[", False),  # an unterminated set never matches
    ],
)
def test_fnmatch(pattern: str, name: str, expected: bool) -> None:
    assert fnmatch(pattern, name) is expected


@settings(max_examples=300, deadline=None)
@given(pattern=st.text(alphabet="ab*?", max_size=8), name=st.text(alphabet="ab", max_size=8))
def test_fnmatch_agrees_with_python_for_simple_globs(pattern: str, name: str) -> None:
    assert fnmatch(pattern, name) == py_fnmatch.fnmatchcase(name, pattern)


@settings(max_examples=300, deadline=None)
@given(pattern=st.text(max_size=12), name=st.text(max_size=12))
def test_fnmatch_any_text(pattern: str, name: str) -> None:
    assert fnmatch(pattern, name) in (True, False)
