"""bootmenu.system.run: real (harmless) programs, and the sentences their failures turn into."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from bootmenu.errors import BootmenuError
from bootmenu.system.run import CommandError, run


def test_success_captures_output() -> None:
    result = run(["sh", "-c", "printf out; printf err >&2"])
    assert result.returncode == 0
    assert result.stdout == b"out"
    assert result.stderr == b"err"


def test_input_is_passed_and_stdin_is_otherwise_empty() -> None:
    assert run(["cat"], input=b"menu keys").stdout == b"menu keys"
    assert run(["cat"], timeout=5).stdout == b""  # /dev/null, not the terminal


def test_paths_and_env() -> None:
    result = run([Path("/bin/sh"), "-c", 'printf %s "$BOOTMENU_T"'], env={"BOOTMENU_T": "x y"})
    assert result.stdout == b"x y"


def test_logs_the_command_at_debug_level(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="bootmenu.system.run"):
        run(["sh", "-c", "exit 0"])
    assert [r.getMessage() for r in caplog.records] == ["+ sh -c 'exit 0'"]


def test_nonzero_exit() -> None:
    with pytest.raises(CommandError) as caught:
        run(["false"])
    assert str(caught.value) == "false failed (exit 1)"
    assert caught.value.returncode == 1
    assert caught.value.cmd == ("false",)
    assert isinstance(caught.value, BootmenuError)


def test_nonzero_exit_quotes_the_last_stderr_line() -> None:
    script = "echo first >&2; echo 'Cannot determine the file type' >&2; echo >&2; exit 3"
    with pytest.raises(CommandError) as caught:
        run(["sh", "-c", script])
    assert str(caught.value) == "sh -c … failed (exit 3): Cannot determine the file type"
    assert caught.value.stderr == b"first\nCannot determine the file type\n\n"


def test_short_form_keeps_the_first_argument() -> None:
    with pytest.raises(CommandError) as caught:
        run(["sh", "-c", "exit 2", "kexec", "-l", "/boot/vmlinuz"])
    assert str(caught.value).startswith("sh -c … failed (exit 2)")


def test_killed_by_signal() -> None:
    with pytest.raises(CommandError) as caught:
        run(["sh", "-c", "kill -9 $$"])
    assert str(caught.value) == "sh: killed by SIGKILL"
    assert caught.value.returncode == -9


def test_missing_program() -> None:
    with pytest.raises(CommandError) as caught:
        run(["/nonexistent/sbin/kexec", "-l", "vmlinuz"])
    assert str(caught.value) == "kexec: not found"
    assert caught.value.returncode == 127


def test_missing_program_raises_even_without_check() -> None:
    with pytest.raises(CommandError, match=r"^bootmenu-no-such-program: not found$"):
        run(["bootmenu-no-such-program"], check=False)


def test_exit_127_means_not_found() -> None:
    with pytest.raises(CommandError) as caught:
        run(["sh", "-c", "exit 127"])
    assert str(caught.value) == "sh: not found"


def test_not_executable(tmp_path: Path) -> None:
    script = tmp_path / "kexec"
    script.write_text("#!/bin/sh\nexit 0\n")
    os.chmod(script, 0o644)
    with pytest.raises(CommandError) as caught:
        run([script])
    assert str(caught.value) == "kexec: cannot be run: Permission denied"


def test_timeout() -> None:
    with pytest.raises(CommandError) as caught:
        run(["sh", "-c", "sleep 5", "x"], timeout=0.2)
    assert str(caught.value) == "sh -c … did not finish within 0.2 s"
    assert caught.value.returncode is None


def test_check_false_returns_the_failure() -> None:
    result = run(["sh", "-c", "echo oops >&2; exit 4"], check=False)
    assert result.returncode == 4
    assert result.stderr == b"oops\n"


def test_without_capture_output_is_inherited(capfd: pytest.CaptureFixture[str]) -> None:
    result = run(["sh", "-c", "echo to-terminal"], capture=False)
    assert result.stdout is None
    assert capfd.readouterr().out == "to-terminal\n"


def test_empty_command_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        run([])
