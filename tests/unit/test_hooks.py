"""bootmenu.boot.hooks: real small shell scripts as pre-boot hooks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bootmenu.boot import hooks
from bootmenu.boot.hooks import HookInput, HookVeto
from bootmenu.errors import HandoffError

CMDLINE = "root=/dev/vda2 ro quiet"
INFO = HookInput(
    entry_id="debian-6.1",
    title="Debian GNU/Linux 12 (bookworm)",
    kind="linux",
    kernel="/dev/vda2:/vmlinuz-6.1",
    cmdline=CMDLINE,
    method="kexec_file_load",
    plan={"method": "kexec_file_load", "cmdline": CMDLINE, "entry": {"id": "debian-6.1"}},
)
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def hook(directory: Path, name: str, body: str, mode: int = 0o755) -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(mode)
    return path


def run_hooks(
    directory: Path, info: HookInput = INFO, **kw: float
) -> tuple[str, tuple[hooks.HookResult, ...]]:
    return hooks.run_hooks(directory, info, base_env=ENV, **kw)


def test_hooks_run_in_name_order_and_odd_files_are_skipped(tmp_path: Path) -> None:
    d = tmp_path / "hooks.d"
    log = tmp_path / "log"
    for name in ("20-second", "10-first", "9-last-by-bytes", "Z-upper"):
        hook(d, name, f"echo {name} >> {log}\n")
    hook(d, ".hidden", f"echo hidden >> {log}\n")
    hook(d, "30-backup~", f"echo backup >> {log}\n")
    hook(d, "40-not-executable", f"echo plain >> {log}\n", mode=0o644)
    (d / "50-directory").mkdir()
    assert [p.name for p in hooks.find_hooks(d)] == [
        "10-first",
        "20-second",
        "9-last-by-bytes",
        "Z-upper",
    ]
    cmdline, results = run_hooks(d)
    assert log.read_text().split() == ["10-first", "20-second", "9-last-by-bytes", "Z-upper"]
    assert cmdline == CMDLINE
    assert [r.hook for r in results] == ["10-first", "20-second", "9-last-by-bytes", "Z-upper"]
    assert all(r.cmdline is None for r in results)


def test_no_directory_means_no_hooks(tmp_path: Path) -> None:
    assert hooks.find_hooks(tmp_path / "missing") == ()
    assert hooks.run_hooks(None, INFO) == (CMDLINE, ())
    assert run_hooks(tmp_path / "missing") == (CMDLINE, ())


def test_unreadable_directory_stops_the_boot(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    with pytest.raises(HandoffError, match="cannot read the pre-boot hooks directory"):
        hooks.find_hooks(not_a_dir)


def test_environment_and_plan_on_stdin(tmp_path: Path) -> None:
    d = tmp_path / "hooks.d"
    out = tmp_path / "out"
    hook(
        d,
        "10-dump",
        f"env | grep ^BOOTMENU_ | sort > {out}.env\ncat > {out}.json\n",
    )
    run_hooks(d)
    assert (tmp_path / "out.env").read_text().splitlines() == [
        "BOOTMENU_DRY_RUN=0",
        "BOOTMENU_ENTRY_CMDLINE=root=/dev/vda2 ro quiet",
        "BOOTMENU_ENTRY_ID=debian-6.1",
        "BOOTMENU_ENTRY_KERNEL=/dev/vda2:/vmlinuz-6.1",
        "BOOTMENU_ENTRY_KIND=linux",
        "BOOTMENU_ENTRY_TITLE=Debian GNU/Linux 12 (bookworm)",
        "BOOTMENU_HOOK_PROTOCOL=1",
        "BOOTMENU_METHOD=kexec_file_load",
    ]
    assert json.loads((tmp_path / "out.json").read_text()) == {
        "method": "kexec_file_load",
        "cmdline": CMDLINE,
        "entry": {"id": "debian-6.1"},
    }


def test_dry_run_is_announced(tmp_path: Path) -> None:
    d = tmp_path / "hooks.d"
    hook(d, "10-dry", f'echo "$BOOTMENU_DRY_RUN" > {tmp_path / "dry"}\n')
    run_hooks(d, HookInput(**{**INFO.__dict__, "dry_run": True}))
    assert (tmp_path / "dry").read_text() == "1\n"


def test_cmdline_changes_chain(tmp_path: Path) -> None:
    d = tmp_path / "hooks.d"
    hook(d, "10-console", 'echo "hello"\necho "cmdline=$BOOTMENU_ENTRY_CMDLINE console=ttyS0"\n')
    hook(
        d,
        "20-seen",
        f'cat > {tmp_path / "plan.json"}\necho "$BOOTMENU_ENTRY_CMDLINE" > {tmp_path / "env"}\n',
    )
    hook(
        d,
        "30-last-wins",
        'echo "cmdline=first"\nprintf "cmdline=$BOOTMENU_ENTRY_CMDLINE 3\\r\\n"\n',
    )
    cmdline, results = run_hooks(d)
    assert cmdline == "root=/dev/vda2 ro quiet console=ttyS0 3"
    assert (tmp_path / "env").read_text() == "root=/dev/vda2 ro quiet console=ttyS0\n"
    seen = json.loads((tmp_path / "plan.json").read_text())
    assert seen["cmdline"] == "root=/dev/vda2 ro quiet console=ttyS0"
    assert [r.cmdline for r in results] == [
        "root=/dev/vda2 ro quiet console=ttyS0",
        None,
        "root=/dev/vda2 ro quiet console=ttyS0 3",
    ]


def test_empty_cmdline_is_allowed(tmp_path: Path) -> None:
    d = tmp_path / "hooks.d"
    hook(d, "10-clear", "echo cmdline=\n")
    assert run_hooks(d)[0] == ""


def test_veto_with_reason_stops_later_hooks(tmp_path: Path) -> None:
    d = tmp_path / "hooks.d"
    hook(d, "10-ac", "echo 'not on AC power;' >&2\necho 'plug the charger in' >&2\nexit 1\n")
    hook(d, "20-never", f"touch {tmp_path / 'ran'}\n")
    with pytest.raises(HookVeto) as caught:
        run_hooks(d)
    assert str(caught.value) == (
        "the pre-boot hook 10-ac refused the boot: not on AC power; plug the charger in"
    )
    assert caught.value.hook == "10-ac"
    assert caught.value.reason == "not on AC power; plug the charger in"
    assert isinstance(caught.value, HandoffError)
    assert not (tmp_path / "ran").exists()


def test_veto_without_reason(tmp_path: Path) -> None:
    d = tmp_path / "hooks.d"
    hook(d, "10-silent", "exit 1\n")
    with pytest.raises(HookVeto, match=r"refused the boot: it gave no reason$"):
        run_hooks(d)


def test_timeout_is_a_veto(tmp_path: Path) -> None:
    d = tmp_path / "hooks.d"
    hook(d, "10-slow", "exec sleep 30\n")
    with pytest.raises(HookVeto) as caught:
        run_hooks(d, timeout=0.5)
    assert str(caught.value) == (
        "the pre-boot hook 10-slow failed, so the boot is stopped: 10-slow did not finish "
        "within 0.5 s"
    )


def test_hook_that_cannot_be_executed(tmp_path: Path) -> None:
    d = tmp_path / "hooks.d"
    d.mkdir()
    path = d / "10-no-shebang"
    path.write_bytes(b"\x00\x01not a program")
    path.chmod(0o755)
    with pytest.raises(HookVeto) as caught:
        run_hooks(d)
    assert str(caught.value) == (
        "the pre-boot hook 10-no-shebang failed, so the boot is stopped: it cannot be run: "
        "Exec format error"
    )


@pytest.mark.parametrize(
    ("name", "script", "says"),
    [
        pytest.param(
            "10-broken",
            "echo 'syntax error near fi' >&2\nexit 3\n",
            "the pre-boot hook 10-broken failed, so the boot is stopped: 10-broken failed "
            "(exit 3): syntax error near fi",
            id="other-exit-status-is-a-crash",
        ),
        pytest.param("10-segv", "kill -SEGV $$\n", "10-segv: killed by SIGSEGV", id="killed"),
        pytest.param(
            "10-nul", "printf 'cmdline=a\\000b\\n'\n", "containing a NUL character", id="nul"
        ),
        pytest.param(
            "10-latin1", "printf 'cmdline=caf\\351\\n'\n", "not UTF-8 text", id="not-utf8"
        ),
    ],
)
def test_a_hook_that_fails_is_a_veto_with_a_sentence(
    tmp_path: Path, name: str, script: str, says: str
) -> None:
    d = tmp_path / "hooks.d"
    hook(d, name, script)
    with pytest.raises(HookVeto) as caught:
        run_hooks(d)
    assert says in str(caught.value)
    assert str(caught.value).startswith(f"the pre-boot hook {name} ")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_stdout(data: bytes) -> None:
    """Whatever a hook prints: a command line, nothing, or a HookVeto; nothing else."""
    try:
        result = hooks._parse_stdout("10-fuzz", data)
    except HookVeto:
        return
    assert result is None or "\0" not in result
