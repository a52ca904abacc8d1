"""The CLI contract: list, inspect, boot and autoboot; exit codes, JSON shape, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bootmenu.cli import main
from tests.images import bzimage, initrd

LIST_KEYS = {
    "id", "title", "kind", "source", "root", "kernel", "initrd", "cmdline", "modules",
    "version", "default", "tries_left", "tries_done", "architecture", "bootable", "problems",
}  # fmt: skip
INSPECT_KEYS = {
    "path",
    "format",
    "kind",
    "architecture",
    "bootable",
    "signed",
    "problems",
    "details",
}


@pytest.fixture
def boot(tmp_path: Path) -> Path:
    root = tmp_path / "boot"
    (root / "loader" / "entries").mkdir(parents=True)
    (root / "vmlinuz-6.6.0").write_bytes(bzimage("6.6.0"))
    (root / "initrd-6.6.0").write_bytes(initrd())
    (root / "loader" / "entries" / "linux.conf").write_text(
        "title My Linux\nversion 6.6.0\nlinux /vmlinuz-6.6.0\ninitrd /initrd-6.6.0\n"
        "options root=/dev/sda2 ro\n"
    )
    (root / "loader" / "entries" / "broken.conf").write_text("title Broken\nlinux /nope\n")
    return root


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_json_contract(boot: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list", "--root", str(boot), "--json")
    assert code == 0
    doc = json.loads(out)
    entries = doc["entries"]
    assert [e["id"] for e in entries] == ["linux.conf", "broken.conf"]
    for e in entries:
        assert set(e) >= LIST_KEYS
    good, broken = entries
    assert good["root"] == str(boot)
    assert good["kernel"] == "/vmlinuz-6.6.0" and good["initrd"] == ["/initrd-6.6.0"]
    assert good["cmdline"] == "root=/dev/sda2 ro"
    assert good["bootable"] is True and good["default"] is True
    assert broken["bootable"] is False and "no such file" in broken["problems"][0]


def test_list_text_table(boot: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list", "--root", str(boot))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["KIND", "TITLE"]
    assert lines[1].startswith("*") and "My Linux" in lines[1] and lines[1].endswith("ok")
    assert "cannot boot: /nope: no such file" in lines[2]


def test_list_missing_root_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "list", "--root", str(tmp_path / "nothing"))
    assert code == 2 and "not a directory" in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "frobnicate")[0] == 2
    assert run(capsys, "inspect")[0] == 2
    assert run(capsys)[0] == 2


def test_inspect_bootable_kernel(boot: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "inspect", str(boot / "vmlinuz-6.6.0"), "--json")
    report = json.loads(out)
    assert code == 0
    assert set(report) == INSPECT_KEYS
    assert (report["format"], report["kind"], report["architecture"]) == (
        "bzimage",
        "linux",
        "x86_64",
    )
    assert report["bootable"] is True and report["problems"] == []


def test_inspect_initrd(boot: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "inspect", str(boot / "initrd-6.6.0"), "--json")
    assert code == 0 and json.loads(out)["kind"] == "initrd"


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00" * 100, b"MZ" + b"\xff" * 300, bzimage()[:700], b"\x7fELF" + b"\x02" * 60],
    ids=["empty", "zeros", "broken-pe", "truncated-bzimage", "broken-elf"],
)
def test_inspect_bad_input_exit_1_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    path = tmp_path / "image"
    path.write_bytes(content)
    code, out, err = run(capsys, "inspect", str(path), "--json")
    assert code == 1
    report = json.loads(out)
    assert report["bootable"] is False and report["problems"]
    assert "Traceback" not in out + err


def test_inspect_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "inspect", str(tmp_path / "missing"))
    assert code == 1 and "no such file" in err


def write_config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bootmenu.toml"
    path.write_text(text)
    return str(path)


def test_autoboot_dry_run_json_plan(
    boot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, 'default = "My*"\n')
    code, out, err = run(
        capsys, "autoboot", "--root", str(boot), "--config", config, "--dry-run", "--json"
    )
    assert code == 0, err
    plan = json.loads(out)
    assert plan["entry"]["id"] == "linux.conf"
    assert plan["method"] in ("kexec_file_load", "kexec_load")
    assert plan["kernel"].endswith(":/vmlinuz-6.6.0")
    assert plan["cmdline"] == "root=/dev/sda2 ro"
    assert "default 'My*'" in plan["reason"] and config in plan["reason"]
    assert "autoboot:" in err  # each decision logged in one line


def test_autoboot_never_picks_the_broken_entry(
    boot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, 'default = "Broken"\n')
    code, out, _ = run(
        capsys, "autoboot", "--root", str(boot), "--config", config, "--dry-run", "--json"
    )
    assert code == 0
    plan = json.loads(out)
    assert plan["entry"]["id"] == "linux.conf"
    assert "cannot boot" in plan["reason"] and "no such file" in plan["reason"]


def test_once_on_command_line_option(boot: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (boot / "loader" / "entries" / "other.conf").write_text(
        "title Other\nlinux /vmlinuz-6.6.0\noptions root=/dev/other\n"
    )
    code, out, _ = run(
        capsys, "autoboot", "--root", str(boot), "--config", "/nonexistent.toml",
        "--set", "once=other", "--dry-run", "--json",
    )  # fmt: skip
    assert code == 0
    assert json.loads(out)["cmdline"] == "root=/dev/other"


def test_bad_config_file_never_blocks_booting(
    boot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, "timeout = [this is not toml\n")
    code, out, err = run(
        capsys, "autoboot", "--root", str(boot), "--config", config, "--dry-run", "--json"
    )
    assert code == 0
    assert json.loads(out)["entry"]["id"] == "linux.conf"
    assert config in err  # the warning names the file


def test_boot_by_id_and_unknown_id(boot: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "boot", "linux.conf", "--root", str(boot), "--dry-run", "--json")
    assert code == 0 and json.loads(out)["entry"]["id"] == "linux.conf"
    code, _, err = run(capsys, "boot", "nope", "--root", str(boot), "--dry-run")
    assert code == 2 and "no entry with id 'nope'" in err
    code, _, err = run(capsys, "boot", "broken.conf", "--root", str(boot), "--dry-run")
    assert code == 1 and "cannot boot" in err


def test_bad_setting_on_command_line_is_a_usage_error(
    boot: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "autoboot", "--root", str(boot), "--set", "timeout=soon")
    assert code == 2 and "timeout" in err


def test_set_timeout_words(boot: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--set timeout=menu-force` is valid, as in a file or on the kernel command line."""
    for word in ("menu-force", "auto", "0"):
        code, _, err = run(
            capsys, "autoboot", "--root", str(boot), "--config", "/nonexistent.toml",
            "--set", f"timeout={word}", "--dry-run",
        )  # fmt: skip
        assert code == 0, err


# -- unlock: the password /init asks for before any shell -----------------------------------------


def unlock(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, typed: list[str], *, password: str | None
) -> tuple[int, list[float]]:
    import getpass

    from bootmenu.password import pbkdf2_hash

    config = tmp_path / "bootmenu.toml"
    hashed = pbkdf2_hash(password, b"0123456789abcdef", 1000) if password else ""
    config.write_text(f'password = "{hashed}"\n')
    answers = iter(typed)

    def ask(prompt: str) -> str:
        try:
            return next(answers)
        except StopIteration:
            raise EOFError from None

    slept: list[float] = []
    monkeypatch.setattr(getpass, "getpass", ask)
    monkeypatch.setattr("time.sleep", slept.append)
    return main(["unlock", "--config", str(config)]), slept


def test_unlock_gives_way_with_the_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    status, slept = unlock(monkeypatch, tmp_path, ["wrong", "right"], password="right")
    assert status == 0
    assert slept and 0 < slept[0] <= 1.0  # the second try waited after the first failure


def test_unlock_refuses_without_the_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    status, slept = unlock(monkeypatch, tmp_path, ["a", "b", "c", "d"], password="right")
    assert status == 1
    assert len(slept) == 2 and slept[0] < slept[1]  # 1 s, then 2 s
    status, _ = unlock(monkeypatch, tmp_path, [], password="right")  # end of input
    assert status == 1


def test_unlock_without_a_password_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    status, _ = unlock(monkeypatch, tmp_path, [], password=None)
    assert status == 0
