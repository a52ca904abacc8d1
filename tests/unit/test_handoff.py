"""bootmenu.boot.handoff: method choice, plans, the kexec-tools command lines and execute()'s
order.

No root needed: the system calls (kexec_file_load, kexec_unload, sync, reboot) and kexec-tools
are replaced by a recorder that reads the memfds it is handed — through the same descriptor or
``/proc/PID/fd/N`` path the real kernel or kexec-tools would get — so the tests check the bytes
that would be loaded.  Kernels are tests.images bzImages, tests/mbkernel.py's Multiboot kernels,
UKIs made from tests/fixtures/pe/hello-x64.efi, and (marked ``debian``) Debian's kernel.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bootmenu.boot import handoff, kexec
from bootmenu.boot.handoff import Environment, Method, Plan
from bootmenu.boot.hooks import HookVeto
from bootmenu.errors import HandoffError
from bootmenu.model import BootEntry, Kind, Volume
from bootmenu.system import run, syscalls
from bootmenu.system.fs import VolumeReader
from tests import factories
from tests.debian import OSREL, append_section, build_uki, debian_bytes
from tests.images import bzimage, initrd

ROOT = "/dev/vda2"
KEXEC = "/usr/sbin/kexec"
CMDLINE = "root=UUID=0b2a1b7c-3c4f-4e37-9d38-7d1c0d51a3a9 ro quiet"
PE_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "pe"
HANDOFF = handoff.Handoff(kexec.kexec_handlers())
ENV = factories.environment(lockdown="none", kexec_tools=KEXEC)
LOCKED = replace(ENV, lockdown="integrity")
PROC_FD = re.compile(r"/proc/\d+/fd/\d+")


class Jumped(BaseException):
    """What the fake reboot(LINUX_REBOOT_CMD_KEXEC) raises: the real one does not return."""


def _content(fd: int) -> bytes:
    return os.pread(fd, os.fstat(fd).st_size, 0)


class FakeSystem:
    """Records the calls execute() makes, in order, and what would have been loaded."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.file_load_error: int | None = None
        self.kexec_tools_error: int | None = None
        self.loaded: tuple[bytes, bytes | None, str] | None = None
        self.argv: list[str] | None = None
        self.files: dict[str, bytes] = {}
        self.systemctl_error: str | None = None

    def kexec_file_load(
        self, kernel_fd: int, initrd_fd: int | None, cmdline: str, flags: int = 0
    ) -> None:
        self.calls.append("kexec_file_load")
        if self.file_load_error is not None:
            raise OSError(self.file_load_error, os.strerror(self.file_load_error), "kexec")
        initrd_data = _content(initrd_fd) if initrd_fd is not None else None
        self.loaded = (_content(kernel_fd), initrd_data, cmdline)

    def kexec_unload(self) -> None:
        self.calls.append("unload")

    def sync(self) -> None:
        self.calls.append("sync")

    def reboot(self, cmd: int) -> None:
        assert cmd == syscalls.LINUX_REBOOT_CMD_KEXEC
        self.calls.append("reboot")
        raise Jumped

    def before_jump(self) -> None:
        self.calls.append("before_jump")


@pytest.fixture
def system(monkeypatch: pytest.MonkeyPatch) -> FakeSystem:
    fake = FakeSystem()
    real_run = run.run
    monkeypatch.setattr(syscalls, "kexec_file_load", fake.kexec_file_load)
    monkeypatch.setattr(syscalls, "kexec_unload", fake.kexec_unload)
    monkeypatch.setattr(syscalls, "sync", fake.sync)
    monkeypatch.setattr(syscalls, "reboot", fake.reboot)

    def fake_run(cmd: Sequence[str | Path], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        argv = [os.fspath(a) for a in cmd]
        if argv[0] == "systemctl":
            fake.calls.append(" ".join(argv))
            if fake.systemctl_error is not None:
                raise run.CommandError(fake.systemctl_error, cmd=argv, returncode=1)
            return subprocess.CompletedProcess(argv, 0, b"", b"")
        if argv[0] != KEXEC:
            return real_run(cmd, **kwargs)  # pre-boot hooks really run
        fake.calls.append("kexec-tools")
        fake.argv = argv
        # kexec-tools opens these paths while we still hold the descriptors.
        fake.files = {p: Path(p).read_bytes() for p in PROC_FD.findall(" ".join(argv))}
        if fake.kexec_tools_error is not None:
            raise run.CommandError(
                "kexec -l … failed (exit 1): Cannot load", cmd=argv, returncode=1
            )
        return subprocess.CompletedProcess(argv, 0, b"", b"")

    monkeypatch.setattr(run, "run", fake_run)
    return fake


@pytest.fixture
def volume(tmp_path: Path) -> Path:
    path = tmp_path / "vda2"
    path.mkdir()
    return path


def readers(path: Path) -> Callable[[str], VolumeReader]:
    def reader_for(root: str) -> VolumeReader:
        assert root == ROOT
        return VolumeReader(Volume(name=root, path=path))

    return reader_for


def put(volume: Path, name: str, data: bytes) -> bytes:
    target = volume / name.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return data


def linux_entry(**changes: Any) -> BootEntry:
    return factories.linux(**{"root": ROOT, "cmdline": CMDLINE, **changes})


def odd_initrd(text: str) -> bytes:
    """An initrd whose length is not a multiple of 4, so concatenation must pad it."""
    for n in range(64):
        noise = hashlib.sha256(f"{text}{n}".encode()).digest()[: n % 7]  # incompressible bytes
        data = initrd({"init": b"#!/bin/sh\n# " + text.encode() + noise})
        if len(data) % 4:
            return data
    raise AssertionError("no odd-sized initrd")


@pytest.fixture
def debian_like(volume: Path) -> tuple[bytes, bytes]:
    kernel = put(volume, "/vmlinuz-6.1", bzimage("6.1.0-13-amd64"))
    rd = put(volume, "/initrd.img-6.1", odd_initrd("main"))
    return kernel, rd


# -- choosing and planning Linux kernels ------------------------------------------------------


def test_linux_with_one_initrd(volume: Path, debian_like: tuple[bytes, bytes]) -> None:
    kernel, rd = debian_like
    plan = HANDOFF.plan(linux_entry(), readers(volume), ENV)
    assert plan.problems == ()
    assert plan.method is Method.KEXEC_FILE_LOAD
    assert plan.reason == "kexec_file_load: the kernel is a 64-bit bzImage"
    assert plan.kernel == "/dev/vda2:/vmlinuz-6.1"
    assert plan.initrd == ("/dev/vda2:/initrd.img-6.1",)
    assert plan.cmdline == CMDLINE
    assert [(s.what, s.source, s.size) for s in plan.segments] == [
        ("kernel", "/dev/vda2:/vmlinuz-6.1", len(kernel)),
        ("initrd", "/dev/vda2:/initrd.img-6.1", len(rd)),
        ("cmdline", "the entry's command line", len(CMDLINE) + 1),
    ]
    assert plan.segments[0].sha256 == (
        hashlib.sha256((volume / "vmlinuz-6.1").read_bytes()).hexdigest()
    )
    assert "kexec-tools (kexec_load) is tried next" in plan.notes[0]


def test_plan_json(volume: Path, debian_like: tuple[bytes, bytes]) -> None:
    plan = HANDOFF.plan(linux_entry(), readers(volume), ENV)
    data = json.loads(json.dumps(plan.to_json()))
    assert data["entry"]["id"] == "debian-6.1"
    assert data["entry"]["title"] == "Debian GNU/Linux 12, 6.1"
    assert data["method"] == "kexec_file_load"
    assert data["kernel"] == "/dev/vda2:/vmlinuz-6.1"
    assert data["initrd"] == ["/dev/vda2:/initrd.img-6.1"]
    assert data["cmdline"] == CMDLINE
    assert data["modules"] == []
    assert [s["what"] for s in data["segments"]] == ["kernel", "initrd", "cmdline"]
    assert data["reason"].startswith("kexec_file_load:")
    assert data["bootable"] is True


def test_several_initrds_are_concatenated_in_order(volume: Path, system: FakeSystem) -> None:
    kernel = put(volume, "/vmlinuz-6.1", bzimage())
    ucode = put(volume, "/intel-ucode.img", odd_initrd("microcode"))
    main = put(volume, "/initrd.img-6.1", odd_initrd("main"))
    entry = linux_entry(initrd=("/intel-ucode.img", "/initrd.img-6.1"))
    plan = HANDOFF.plan(entry, readers(volume), ENV)
    assert plan.initrd == ("/dev/vda2:/intel-ucode.img", "/dev/vda2:/initrd.img-6.1")
    assert [s.size for s in plan.segments if s.what == "initrd"] == [len(ucode), len(main)]
    with pytest.raises(Jumped):
        HANDOFF.execute(plan, readers(volume), ENV, hooks_dir=None, before_jump=system.before_jump)
    assert system.loaded is not None
    loaded_kernel, loaded_initrd, cmdline = system.loaded
    assert loaded_kernel == kernel
    padding = (4 - len(ucode) % 4) % 4
    assert padding > 0
    assert loaded_initrd == ucode + b"\0" * padding + main
    assert len(loaded_initrd) == len(ucode) + padding + len(main)
    assert cmdline == CMDLINE


def test_kernel_without_initrd(volume: Path, system: FakeSystem) -> None:
    put(volume, "/vmlinuz-6.1", bzimage())
    plan = HANDOFF.plan(linux_entry(initrd=()), readers(volume), ENV)
    assert plan.initrd == ()
    with pytest.raises(Jumped):
        HANDOFF.execute(plan, readers(volume), ENV, hooks_dir=None, before_jump=system.before_jump)
    assert system.loaded is not None and system.loaded[1] is None


def test_kernel_kexec_file_load_would_refuse_falls_back_to_kexec_load(volume: Path) -> None:
    put(volume, "/vmlinuz-6.1", bzimage(xloadflags=0))  # no 64-bit entry point
    put(volume, "/initrd.img-6.1", initrd())
    plan = HANDOFF.plan(linux_entry(), readers(volume), ENV)
    assert plan.problems == ()
    assert plan.method is Method.KEXEC_LOAD
    assert plan.reason == (
        "kexec_load via kexec-tools: kexec_file_load would refuse the kernel: it has no "
        "64-bit entry point (XLF_KERNEL_64 is not set)"
    )


def test_refused_kernel_without_kexec_tools(volume: Path) -> None:
    put(volume, "/vmlinuz-6.1", bzimage(xloadflags=0x2))
    put(volume, "/initrd.img-6.1", initrd())
    env = replace(ENV, kexec_tools=None)
    plan = HANDOFF.plan(linux_entry(), readers(volume), env)
    assert plan.problems == (
        "kexec_file_load would refuse the kernel: it has no 64-bit entry point "
        "(XLF_KERNEL_64 is not set), and kexec-tools (for kexec_load) is not installed",
    )


def test_refused_kernel_under_lockdown_is_a_problem(volume: Path) -> None:
    put(volume, "/vmlinuz-6.1", bzimage(xloadflags=0x1))
    put(volume, "/initrd.img-6.1", initrd())
    plan = HANDOFF.plan(linux_entry(), readers(volume), LOCKED)
    assert plan.method is Method.KEXEC_FILE_LOAD
    assert plan.problems == (
        "kexec_file_load would refuse the kernel: it cannot be loaded above 4 GiB "
        "(XLF_CAN_BE_LOADED_ABOVE_4G is not set); lockdown (integrity) forbids loading it any "
        "other way",
    )


def test_without_kexec_file_load_kexec_tools_is_chosen(
    volume: Path, debian_like: tuple[bytes, bytes]
) -> None:
    env = replace(ENV, kexec_file_load_available=False)
    assert HANDOFF.route(linux_entry(), env).require().method is Method.KEXEC_LOAD
    plan = HANDOFF.plan(linux_entry(), readers(volume), env)
    assert (plan.method, plan.reason) == (
        Method.KEXEC_LOAD,
        "kexec_load via kexec-tools: this kernel has no kexec_file_load",
    )


def test_under_lockdown_without_kexec_file_load_nothing_accepts() -> None:
    env = replace(LOCKED, kexec_file_load_available=False)
    with pytest.raises(HandoffError) as caught:
        HANDOFF.route(linux_entry(), env).require()
    assert str(caught.value) == (
        'cannot start "Debian GNU/Linux 12, 6.1": kexec_file_load: this kernel has no '
        "kexec_file_load system call; kexec_load: lockdown (integrity) allows only "
        "kexec_file_load"
    )


def test_unsigned_kernel_under_lockdown_is_noted(
    volume: Path, debian_like: tuple[bytes, bytes]
) -> None:
    plan = HANDOFF.plan(linux_entry(), readers(volume), LOCKED)
    assert plan.problems == ()
    assert plan.reason == (
        "kexec_file_load: the kernel is a 64-bit bzImage, and lockdown (integrity) allows no "
        "other way"
    )
    # A plain bzImage cannot even carry a signature (it is not a PE file).
    assert plan.notes == (
        "the kernel carries no signature; under lockdown (integrity) the running kernel will "
        "refuse it",
    )


def test_invalid_kernel_is_never_loaded(volume: Path, system: FakeSystem) -> None:
    put(volume, "/vmlinuz-6.1", b"\x7fELF" + b"\0" * 60 + b"not a kernel" * 100)
    put(volume, "/initrd.img-6.1", initrd())
    plan = HANDOFF.plan(linux_entry(), readers(volume), ENV)
    assert plan.problems == ("/vmlinuz-6.1: unreadable ELF header: Invalid EI_CLASS b'\\x00'",)
    with pytest.raises(HandoffError) as caught:
        HANDOFF.execute(plan, readers(volume), ENV, hooks_dir=None, before_jump=system.before_jump)
    assert str(caught.value).startswith('cannot start "Debian GNU/Linux 12, 6.1": /vmlinuz-6.1:')
    assert system.calls == []


def test_kernel_for_another_architecture(volume: Path) -> None:
    put(volume, "/vmlinuz-6.1", bzimage())
    put(volume, "/initrd.img-6.1", initrd())
    plan = HANDOFF.plan(linux_entry(), readers(volume), replace(ENV, host_arch="aarch64"))
    assert plan.problems == ("/vmlinuz-6.1: built for x86_64, but this machine is aarch64",)


def test_missing_and_broken_initrds_are_problems(volume: Path) -> None:
    put(volume, "/vmlinuz-6.1", bzimage())
    put(volume, "/broken.img", b"\x1f\x8b\x08\x00" + b"\xff" * 200)
    entry = linux_entry(initrd=("/initrd.img-6.1", "/broken.img"))
    plan = HANDOFF.plan(entry, readers(volume), ENV)
    assert plan.problems[0] == "/initrd.img-6.1: no such file on /dev/vda2"
    assert plan.problems[1].startswith("/broken.img: ")
    assert len(plan.problems) == 2


def test_entry_problems_stay_problems(volume: Path, debian_like: tuple[bytes, bytes]) -> None:
    entry = linux_entry(problems=("the entry file names no kernel version",))
    plan = HANDOFF.plan(entry, readers(volume), ENV)
    assert plan.problems == ("the entry file names no kernel version",)


def test_unreadable_volume_is_a_problem() -> None:
    def reader_for(root: str) -> VolumeReader:
        raise HandoffError(f"{root} is not mounted")

    plan = HANDOFF.plan(linux_entry(), reader_for, ENV)
    assert plan.problems == ("cannot read /dev/vda2: /dev/vda2 is not mounted",)


# -- loading Linux kernels -----------------------------------------------------------------------


def execute(
    plan: Plan, volume: Path, system: FakeSystem, env: Environment = ENV, **kw: Any
) -> Plan:
    return HANDOFF.execute(
        plan,
        readers(volume),
        env,
        hooks_dir=kw.get("hooks_dir"),
        before_jump=kw.get("before_jump", system.before_jump),
    )


def test_success_loads_then_prepares_then_jumps(
    volume: Path, debian_like: tuple[bytes, bytes], system: FakeSystem
) -> None:
    plan = HANDOFF.plan(linux_entry(), readers(volume), ENV)
    with pytest.raises(Jumped):
        execute(plan, volume, system)
    assert system.calls == ["kexec_file_load", "before_jump", "sync", "reboot"]
    assert system.loaded is not None
    assert system.loaded[0] == debian_like[0]
    assert system.loaded[1] == debian_like[1]


# -- switching from a running system (issue 14) --------------------------------------------------


def test_under_systemd_the_kernel_is_loaded_and_systemd_makes_the_jump(
    volume: Path, debian_like: tuple[bytes, bytes], system: FakeSystem
) -> None:
    env = replace(ENV, init=handoff.Init.SYSTEMD)
    plan = HANDOFF.plan(linux_entry(), readers(volume), env)
    final = execute(plan, volume, system, env)
    assert system.calls == ["kexec_file_load", "before_jump", "systemctl --no-block kexec"]
    assert any("systemctl kexec" in note for note in final.notes)


def test_when_systemd_refuses_the_kernel_is_unloaded(
    volume: Path, debian_like: tuple[bytes, bytes], system: FakeSystem
) -> None:
    env = replace(ENV, init=handoff.Init.SYSTEMD)
    system.systemctl_error = "Access denied"
    plan = HANDOFF.plan(linux_entry(), readers(volume), env)
    with pytest.raises(HandoffError, match=r"systemd did not take the jump.*Access denied"):
        execute(plan, volume, system, env)
    assert system.calls[-2:] == ["systemctl --no-block kexec", "unload"]


def test_under_another_init_nothing_is_loaded_unless_now(
    volume: Path, debian_like: tuple[bytes, bytes], system: FakeSystem
) -> None:
    env = replace(ENV, init=handoff.Init.OTHER)
    plan = HANDOFF.plan(linux_entry(), readers(volume), env)
    with pytest.raises(HandoffError, match=r"not run by systemd.*--now"):
        execute(plan, volume, system, env)
    assert system.calls == []
    with pytest.raises(Jumped):
        execute(plan, volume, system, replace(env, now=True))
    assert system.calls == ["kexec_file_load", "before_jump", "sync", "reboot"]


def test_now_under_systemd_jumps_at_once(
    volume: Path, debian_like: tuple[bytes, bytes], system: FakeSystem
) -> None:
    env = replace(ENV, init=handoff.Init.SYSTEMD, now=True)
    plan = HANDOFF.plan(linux_entry(), readers(volume), env)
    with pytest.raises(Jumped):
        execute(plan, volume, system, env)
    assert "systemctl --no-block kexec" not in system.calls


@pytest.mark.parametrize("code", [errno.ENOEXEC, errno.EINVAL, errno.ENOSYS])
def test_refused_by_kexec_file_load_falls_back_to_kexec_tools(
    volume: Path, debian_like: tuple[bytes, bytes], system: FakeSystem, code: int
) -> None:
    kernel, rd = debian_like
    system.file_load_error = code
    plan = HANDOFF.plan(linux_entry(), readers(volume), ENV)
    with pytest.raises(Jumped):
        execute(plan, volume, system)
    assert system.calls == ["kexec_file_load", "kexec-tools", "before_jump", "sync", "reboot"]
    assert system.argv is not None
    kernel_path, initrd_path = system.argv[-1], system.argv[3].removeprefix("--initrd=")
    assert system.argv == [
        KEXEC,
        "--load",
        "--kexec-syscall",
        f"--initrd={initrd_path}",
        f"--command-line={CMDLINE}",
        kernel_path,
    ]
    assert system.files == {kernel_path: kernel, initrd_path: rd}


def test_kexec_load_plan_uses_kexec_tools(
    volume: Path, debian_like: tuple[bytes, bytes], system: FakeSystem
) -> None:
    env = replace(ENV, kexec_file_load_available=False)
    plan = HANDOFF.plan(linux_entry(), readers(volume), env)
    with pytest.raises(Jumped):
        execute(plan, volume, system, env)
    assert system.calls == ["kexec-tools", "before_jump", "sync", "reboot"]
    assert system.argv is not None and system.argv[:3] == [KEXEC, "--load", "--kexec-syscall"]
    assert sorted(system.files.values()) == sorted(debian_like)


@pytest.mark.parametrize("code", [errno.EKEYREJECTED, errno.EPERM, errno.ENOKEY])
def test_unsigned_kernel_under_lockdown(
    volume: Path, debian_like: tuple[bytes, bytes], system: FakeSystem, code: int
) -> None:
    system.file_load_error = code
    plan = HANDOFF.plan(linux_entry(), readers(volume), LOCKED)
    with pytest.raises(HandoffError) as caught:
        execute(plan, volume, system, LOCKED)
    assert str(caught.value) == (
        "the kernel is not signed with a key this kernel trusts, and lockdown forbids other "
        "ways to load it"
    )
    assert system.calls == ["kexec_file_load", "unload"]


def test_refusal_under_lockdown_does_not_fall_back(
    volume: Path, debian_like: tuple[bytes, bytes], system: FakeSystem
) -> None:
    system.file_load_error = errno.ENOEXEC
    plan = HANDOFF.plan(linux_entry(), readers(volume), LOCKED)
    with pytest.raises(HandoffError, match=r"lockdown \(integrity\) forbids other ways"):
        execute(plan, volume, system, LOCKED)
    assert system.calls == ["kexec_file_load", "unload"]


def test_eperm_without_lockdown_is_a_permission_problem(
    volume: Path, debian_like: tuple[bytes, bytes], system: FakeSystem
) -> None:
    system.file_load_error = errno.EPERM
    plan = HANDOFF.plan(linux_entry(), readers(volume), ENV)
    with pytest.raises(HandoffError, match="CAP_SYS_BOOT"):
        execute(plan, volume, system)
    assert system.calls == ["kexec_file_load", "unload"]


def test_kexec_tools_failure_unloads(
    volume: Path, debian_like: tuple[bytes, bytes], system: FakeSystem
) -> None:
    system.file_load_error = errno.ENOEXEC
    system.kexec_tools_error = 1
    plan = HANDOFF.plan(linux_entry(), readers(volume), ENV)
    with pytest.raises(HandoffError) as caught:
        execute(plan, volume, system)
    assert str(caught.value) == (
        "kexec-tools could not load the kernel: kexec -l … failed (exit 1): Cannot load"
    )
    assert system.calls == ["kexec_file_load", "kexec-tools", "unload"]


def test_failure_in_before_jump_unloads(
    volume: Path, debian_like: tuple[bytes, bytes], system: FakeSystem
) -> None:
    def before_jump() -> None:
        system.calls.append("before_jump")
        raise OSError(errno.EBUSY, "Device or resource busy", "/mnt/vda2")

    plan = HANDOFF.plan(linux_entry(), readers(volume), ENV)
    with pytest.raises(HandoffError) as caught:
        execute(plan, volume, system, before_jump=before_jump)
    assert str(caught.value).startswith('preparing the jump into "Debian GNU/Linux 12, 6.1"')
    assert system.calls == ["kexec_file_load", "before_jump", "unload"]


def test_failed_reboot_unloads(
    volume: Path, debian_like: tuple[bytes, bytes], system: FakeSystem,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    def reboot(cmd: int) -> None:
        system.calls.append("reboot")
        raise OSError(errno.EINVAL, "Invalid argument", "reboot")

    monkeypatch.setattr(syscalls, "reboot", reboot)
    plan = HANDOFF.plan(linux_entry(), readers(volume), ENV)
    with pytest.raises(HandoffError, match=r"the jump into .* failed: Invalid argument"):
        execute(plan, volume, system)
    assert system.calls == ["kexec_file_load", "before_jump", "sync", "reboot", "unload"]


def test_a_boot_loads_the_bytes_its_plan_checked(
    volume: Path, debian_like: tuple[bytes, bytes], system: FakeSystem
) -> None:
    """Each file is read once for a boot: the load takes the bytes the plan read and checked,
    whatever the disk holds by then (the swapped initrd is never read)."""
    kernel, checked_initrd = debian_like
    plan = HANDOFF.plan(linux_entry(), readers(volume), ENV)
    put(volume, "/initrd.img-6.1", initrd({"init": b"#!/bin/sh\necho swapped\n"}))
    with pytest.raises(Jumped):
        execute(plan, volume, system)
    assert system.loaded is not None
    assert system.loaded[:2] == (kernel, checked_initrd)


def test_file_changed_after_an_older_plan_is_not_loaded(
    volume: Path, debian_like: tuple[bytes, bytes], system: FakeSystem
) -> None:
    """A plan whose bytes are no longer held (another plan was made since) reads its files
    again and loads them only when their checksums are the plan's."""
    plan = HANDOFF.plan(linux_entry(), readers(volume), ENV)
    HANDOFF.plan(linux_entry(id="other", title="Other"), readers(volume), ENV)
    put(volume, "/initrd.img-6.1", initrd({"init": b"#!/bin/sh\necho swapped\n"}))
    with pytest.raises(HandoffError) as caught:
        execute(plan, volume, system)
    assert str(caught.value) == (
        "/dev/vda2:/initrd.img-6.1 changed after it was checked; bootmenu does not load it"
    )
    assert system.calls == ["unload"]


def test_dry_run_neither_loads_nor_jumps(
    volume: Path, debian_like: tuple[bytes, bytes], system: FakeSystem, tmp_path: Path
) -> None:
    hooks_dir = tmp_path / "hooks"
    hooks_dir.mkdir()
    seen = tmp_path / "seen"
    script = hooks_dir / "10-record"
    script.write_text(
        f'#!/bin/sh\necho "$BOOTMENU_DRY_RUN" > {seen}\n'
        'echo "cmdline=$BOOTMENU_ENTRY_CMDLINE debug"\n'
    )
    script.chmod(0o755)
    env = replace(ENV, dry_run=True)
    plan = HANDOFF.plan(linux_entry(), readers(volume), env)
    final = execute(plan, volume, system, env, hooks_dir=hooks_dir)
    assert system.calls == []
    assert seen.read_text() == "1\n"
    assert final.cmdline == CMDLINE + " debug"


def test_dry_run_still_checks_the_files(
    volume: Path, debian_like: tuple[bytes, bytes], system: FakeSystem
) -> None:
    env = replace(ENV, dry_run=True)
    plan = HANDOFF.plan(linux_entry(), readers(volume), env)
    HANDOFF.plan(linux_entry(id="other", title="Other"), readers(volume), env)
    (volume / "vmlinuz-6.1").unlink()
    with pytest.raises(HandoffError, match=r"/vmlinuz-6\.1: no such file on /dev/vda2"):
        execute(plan, volume, system, env)
    assert system.calls == []


# -- hooks around the load -------------------------------------------------------------------


def hook(directory: Path, name: str, body: str) -> None:
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


def test_hook_veto_means_no_load(
    volume: Path, debian_like: tuple[bytes, bytes], system: FakeSystem, tmp_path: Path
) -> None:
    hooks_dir = tmp_path / "hooks"
    hook(hooks_dir, "50-battery", "echo 'the battery is at 3 %' >&2\nexit 1\n")
    plan = HANDOFF.plan(linux_entry(), readers(volume), ENV)
    with pytest.raises(HookVeto) as caught:
        execute(plan, volume, system, hooks_dir=hooks_dir)
    assert (
        str(caught.value) == "the pre-boot hook 50-battery refused the boot: the battery is at 3 %"
    )
    assert system.calls == []


def test_hook_adjusts_the_command_line(
    volume: Path, debian_like: tuple[bytes, bytes], system: FakeSystem, tmp_path: Path
) -> None:
    hooks_dir = tmp_path / "hooks"
    hook(hooks_dir, "10-console", 'echo "cmdline=$BOOTMENU_ENTRY_CMDLINE console=ttyS0"\n')
    hook(
        hooks_dir,
        "20-check",
        f'[ "$BOOTMENU_METHOD" = kexec_file_load ] || exit 2\ncat > {tmp_path / "plan.json"}\n',
    )
    plan = HANDOFF.plan(linux_entry(), readers(volume), ENV)
    with pytest.raises(Jumped):
        execute(plan, volume, system, hooks_dir=hooks_dir)
    assert system.loaded is not None
    assert system.loaded[2] == CMDLINE + " console=ttyS0"
    seen = json.loads((tmp_path / "plan.json").read_text())
    assert seen["cmdline"] == CMDLINE + " console=ttyS0"
    assert seen["entry"]["id"] == "debian-6.1"


def test_hook_changes_are_noted_in_the_plan(
    volume: Path, debian_like: tuple[bytes, bytes], system: FakeSystem, tmp_path: Path
) -> None:
    hooks_dir = tmp_path / "hooks"
    hook(hooks_dir, "10-quiet", "echo cmdline=root=/dev/vda2 ro\n")
    env = replace(ENV, dry_run=True)
    final = execute(
        HANDOFF.plan(linux_entry(), readers(volume), env), volume, system, env, hooks_dir=hooks_dir
    )
    assert final.cmdline == "root=/dev/vda2 ro"
    assert final.segments[-1] == handoff.Segment("cmdline", "pre-boot hook 10-quiet", 18)
    assert (
        "the pre-boot hook 10-quiet changed the command line to 'root=/dev/vda2 ro'" in final.notes
    )


# -- UKIs -----------------------------------------------------------------------------------------


def small_uki(sections: dict[str, bytes]) -> bytes:
    data = (PE_FIXTURES / "hello-x64.efi").read_bytes()
    for name, content in sections.items():
        data = append_section(data, name, content)
    return data


def uki_entry(**changes: Any) -> BootEntry:
    return factories.uki(**{"root": ROOT, "cmdline": CMDLINE, **changes})


@pytest.fixture
def uki_parts(volume: Path) -> dict[str, bytes]:
    parts = {
        ".osrel": OSREL.encode(),
        ".cmdline": CMDLINE.encode() + b"\n",
        ".ucode": odd_initrd("microcode"),
        ".linux": bzimage(),
        ".initrd": odd_initrd("main"),
    }
    put(volume, "/EFI/Linux/debian-6.1.efi", small_uki(parts))
    return parts


def test_uki_plan(volume: Path, uki_parts: dict[str, bytes]) -> None:
    plan = HANDOFF.plan(uki_entry(), readers(volume), ENV)
    name = "/dev/vda2:/EFI/Linux/debian-6.1.efi"
    assert plan.problems == ()
    assert plan.method is Method.KEXEC_FILE_LOAD
    assert plan.reason == "kexec_file_load: the UKI's kernel (.linux) is a 64-bit bzImage"
    assert plan.kernel == f"{name} .linux section"
    assert plan.initrd == (f"{name} .ucode section", f"{name} .initrd section")
    assert plan.cmdline == CMDLINE
    assert [(s.what, s.source, s.size) for s in plan.segments] == [
        ("kernel", f"{name} .linux section", len(uki_parts[".linux"])),
        ("initrd", f"{name} .ucode section", len(uki_parts[".ucode"])),
        ("initrd", f"{name} .initrd section", len(uki_parts[".initrd"])),
        ("cmdline", f"{name} .cmdline section", len(CMDLINE) + 1),
    ]


def test_uki_load_extracts_sections(
    volume: Path, uki_parts: dict[str, bytes], system: FakeSystem
) -> None:
    plan = HANDOFF.plan(uki_entry(), readers(volume), ENV)
    with pytest.raises(Jumped):
        execute(plan, volume, system)
    assert system.loaded is not None
    kernel, rd, cmdline = system.loaded
    assert kernel == uki_parts[".linux"]
    ucode = uki_parts[".ucode"]
    assert rd == ucode + b"\0" * (-len(ucode) % 4) + uki_parts[".initrd"]
    assert cmdline == CMDLINE


def test_uki_fallback_passes_the_extracted_kernel(
    volume: Path, uki_parts: dict[str, bytes], system: FakeSystem
) -> None:
    system.file_load_error = errno.ENOEXEC
    plan = HANDOFF.plan(uki_entry(), readers(volume), ENV)
    with pytest.raises(Jumped):
        execute(plan, volume, system)
    assert system.argv is not None
    assert system.files[system.argv[-1]] == uki_parts[".linux"]
    assert system.argv[-2] == f"--command-line={CMDLINE}"


def test_uki_with_edited_cmdline(volume: Path, uki_parts: dict[str, bytes]) -> None:
    plan = HANDOFF.plan(uki_entry(cmdline="root=/dev/vda3 single"), readers(volume), LOCKED)
    assert plan.cmdline == "root=/dev/vda3 single"
    assert plan.segments[-1].source == "the edited command line"
    assert plan.notes == (
        f"the command line was edited; the UKI's own is {CMDLINE!r}",
        "under lockdown (integrity) and Secure Boot an edited command line may be refused or "
        "ignored",
        "the UKI's kernel (.linux) carries no signature; under lockdown (integrity) the running "
        "kernel will refuse it",
    )


def test_uki_under_lockdown_has_no_fallback(
    volume: Path, uki_parts: dict[str, bytes], system: FakeSystem
) -> None:
    system.file_load_error = errno.EKEYREJECTED
    plan = HANDOFF.plan(uki_entry(), readers(volume), LOCKED)
    with pytest.raises(HandoffError, match="not signed with a key this kernel trusts"):
        execute(plan, volume, system, LOCKED)
    assert system.calls == ["kexec_file_load", "unload"]


def test_uki_with_invalid_linux_section(volume: Path) -> None:
    put(volume, "/EFI/Linux/bad.efi", small_uki({".linux": b"\0" * 4096}))
    plan = HANDOFF.plan(uki_entry(kernel="/EFI/Linux/bad.efi", cmdline=""), readers(volume), ENV)
    assert plan.problems
    assert any(p.startswith("/EFI/Linux/bad.efi .linux section: ") for p in plan.problems)


@pytest.mark.debian
def test_debian_uki(volume: Path, tmp_path: Path, system: FakeSystem) -> None:
    vmlinuz = debian_bytes("vmlinuz")
    rd = initrd()
    uki = build_uki(
        tmp_path,
        {".osrel": OSREL.encode(), ".cmdline": CMDLINE.encode(), ".linux": vmlinuz, ".initrd": rd},
    )
    put(volume, "/EFI/Linux/debian-6.1.efi", uki)
    plan = HANDOFF.plan(uki_entry(), readers(volume), LOCKED)
    assert plan.problems == ()
    assert plan.notes == ()  # Debian's kernel is signed
    assert plan.reason == (
        "kexec_file_load: the UKI's kernel (.linux) is a 64-bit bzImage with an EFI stub, and "
        "lockdown (integrity) allows no other way"
    )
    assert [s.size for s in plan.segments] == [len(vmlinuz), len(rd), len(CMDLINE) + 1]
    with pytest.raises(Jumped):
        execute(plan, volume, system, LOCKED)
    assert system.loaded == (vmlinuz, rd, CMDLINE)


# -- Multiboot ------------------------------------------------------------------------------------


def mb_entry(version: int | None, **changes: Any) -> BootEntry:
    return factories.multiboot(**{"root": ROOT, "multiboot": version, **changes})


@pytest.mark.parametrize("version", [1, 2])
def test_multiboot_argv(
    volume: Path, system: FakeSystem, mb_kernels: dict[int, bytes], version: int
) -> None:
    kernel = put(volume, "/boot/xen.elf", mb_kernels[version])
    dom0 = put(volume, "/boot/vmlinuz-6.1", bzimage())
    rd = put(volume, "/boot/initrd.img", initrd())
    plan = HANDOFF.plan(mb_entry(version), readers(volume), ENV)
    assert plan.problems == ()
    kind = {1: "multiboot-x86", 2: "multiboot2-x86"}[version]
    assert plan.method is Method.MULTIBOOT
    assert plan.reason == (
        f"kexec_load via kexec-tools (--type={kind}): the kernel is a Multiboot {version} kernel"
    )
    assert [(s.what, s.source) for s in plan.segments] == [
        ("kernel", "/dev/vda2:/boot/xen.elf"),
        ("module", "/dev/vda2:/boot/vmlinuz-6.1"),
        ("module", "/dev/vda2:/boot/initrd.img"),
        ("cmdline", "the entry's command line"),
    ]
    with pytest.raises(Jumped):
        execute(plan, volume, system)
    assert system.calls == ["kexec-tools", "before_jump", "sync", "reboot"]
    argv = system.argv
    assert argv is not None
    paths = PROC_FD.findall(" ".join(argv))
    assert len(paths) == 3
    kernel_path, dom0_path, rd_path = paths[2], paths[0], paths[1]
    assert argv == [
        KEXEC,
        "--load",
        "--kexec-syscall",
        f"--type={kind}",
        "--command-line=dom0_mem=1024M console=com1",
        f"--module={dom0_path} root=/dev/vda2 ro",
        f"--module={rd_path}",
        kernel_path,
    ]
    assert system.files == {kernel_path: kernel, dom0_path: dom0, rd_path: rd}


def test_multiboot_version_from_the_kernel(volume: Path, mb_kernels: dict[int, bytes]) -> None:
    put(volume, "/boot/xen.elf", mb_kernels[2])
    put(volume, "/boot/vmlinuz-6.1", b"dom0")
    put(volume, "/boot/initrd.img", b"rd")
    plan = HANDOFF.plan(mb_entry(None), readers(volume), ENV)
    assert "--type=multiboot2-x86" in plan.reason


def test_multiboot_version_mismatch(volume: Path, mb_kernels: dict[int, bytes]) -> None:
    put(volume, "/boot/xen.elf", mb_kernels[1])
    put(volume, "/boot/vmlinuz-6.1", b"dom0")
    put(volume, "/boot/initrd.img", b"rd")
    plan = HANDOFF.plan(mb_entry(2), readers(volume), ENV)
    assert plan.problems == (
        "/boot/xen.elf: the entry asks for Multiboot 2, but the kernel has only a Multiboot 1 "
        "header",
    )


def test_missing_module(volume: Path, mb_kernels: dict[int, bytes]) -> None:
    put(volume, "/boot/xen.elf", mb_kernels[1])
    put(volume, "/boot/vmlinuz-6.1", b"dom0")
    plan = HANDOFF.plan(mb_entry(1), readers(volume), ENV)
    assert plan.problems == ("/boot/initrd.img: no such file on /dev/vda2",)


def test_multiboot_refused_under_lockdown_and_elsewhere() -> None:
    with pytest.raises(HandoffError) as caught:
        HANDOFF.route(mb_entry(2), LOCKED).require()
    assert str(caught.value) == (
        'cannot start "Xen hypervisor": multiboot: lockdown (integrity) forbids kexec_load, the '
        "only way to load a Multiboot kernel (kexec_file_load takes only signed Linux kernels)"
    )
    with pytest.raises(HandoffError, match="only on x86, this machine is aarch64"):
        HANDOFF.route(mb_entry(2), replace(ENV, host_arch="aarch64")).require()
    with pytest.raises(HandoffError, match="kexec-tools, which loads Multiboot kernels, is not"):
        HANDOFF.route(mb_entry(2), replace(ENV, kexec_tools=None)).require()


def test_module_path_with_space_is_refused() -> None:
    with pytest.raises(HandoffError, match="whose path has a space"):
        kexec.kexec_tools_multiboot_argv(KEXEC, 1, "/k", [("/a b", "")], "")


# -- EFI applications and the registry ------------------------------------------------------------


def efi_entry() -> BootEntry:
    return factories.efi_app()


def efi_handoff() -> handoff.Handoff:
    """The core's order: the payload first, the kexec handlers, BootNext last."""
    from bootmenu.boot import bootnext, payload

    return handoff.Handoff(
        (
            payload.Payload(paths=(Path("/nonexistent/UniversalPayload.elf"),)),
            *kexec.kexec_handlers(),
            bootnext.BootNext(directory="/nonexistent/efivars"),
        )
    )


def test_efi_applications_need_a_uefi_boot() -> None:
    route = efi_handoff().route(efi_entry(), replace(ENV, efi=False))

    assert route.handler is None
    assert [method for method, _ in route.declined] == [Method.PAYLOAD, Method.BOOTNEXT]
    with pytest.raises(HandoffError) as caught:
        route.require()
    assert str(caught.value) == (
        'cannot start "Windows Boot Manager": payload: this machine did not start through UEFI; '
        "bootnext: this machine did not start through UEFI, so there is no firmware boot manager "
        "to hand EFI applications to"
    )
    assert route.text.startswith("cannot start: payload: this machine did not start through")


class FakeBootNext:
    method = Method.BOOTNEXT
    kinds = frozenset({Kind.EFI})
    reboot_command = 0x1234567
    undone = 0

    def accepts(self, entry: BootEntry, env: Environment) -> str | None:
        return None

    def plan(
        self, entry: BootEntry, reader_for: Callable[[str], VolumeReader], env: Environment
    ) -> Plan:
        return factories.plan(entry, method=self.method, segments=(), reason="bootnext: test")

    def load(self, plan: Plan, reader_for: Callable[[str], VolumeReader], env: Environment) -> None:
        pass

    def undo(self, env: Environment) -> None:
        self.undone += 1


def test_the_first_handler_that_accepts_is_used_in_the_order_given() -> None:
    fake = FakeBootNext()
    both = handoff.Handoff((*kexec.kexec_handlers(), fake))

    assert both.route(efi_entry(), ENV).require() is fake
    assert both.route(linux_entry(), ENV).require().method is Method.KEXEC_FILE_LOAD
    assert both.plan(efi_entry(), readers(Path("/nonexistent")), ENV).reason == "bootnext: test"
    assert both.handler(Method.BOOTNEXT) is fake
    with pytest.raises(HandoffError, match="cannot start entries with payload"):
        both.handler(Method.PAYLOAD)
    with pytest.raises(ValueError, match="one handler per method"):
        handoff.Handoff((fake, FakeBootNext()))


def test_execute_jumps_and_undoes_the_way_the_handler_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reboots: list[int] = []
    monkeypatch.setattr(syscalls, "sync", lambda: None)
    monkeypatch.setattr(syscalls, "reboot", reboots.append)
    fake = FakeBootNext()
    plan = fake.plan(efi_entry(), readers(Path("/nonexistent")), ENV)

    with pytest.raises(HandoffError, match="did not jump"):
        handoff.Handoff((fake,)).execute(
            plan, readers(Path("/nonexistent")), ENV, hooks_dir=None, before_jump=lambda: None
        )
    assert reboots == [fake.reboot_command]
    assert fake.undone == 1
    # A plan is only ever started by its own method's handler: none here, no start.
    with pytest.raises(HandoffError, match="cannot start entries with bootnext"):
        HANDOFF.execute(
            plan, readers(Path("/nonexistent")), ENV, hooks_dir=None, before_jump=lambda: None
        )
    assert reboots == [fake.reboot_command]


# -- probing the system ---------------------------------------------------------------------------


def test_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def no_file_load(kernel_fd: int, initrd_fd: int | None, cmdline: str, flags: int = 0) -> None:
        assert kernel_fd == -1
        raise OSError(errno.ENOSYS, "Function not implemented", "kexec_file_load")

    monkeypatch.setattr(syscalls, "kexec_file_load", no_file_load)
    monkeypatch.setattr(syscalls, "lockdown", lambda: "integrity")
    env = handoff.environment(dry_run=True, efi_dir=tmp_path / "none")
    assert env.lockdown == "integrity" and env.locked_down
    assert env.kexec_file_load_available is False
    assert env.efi is False
    assert env.dry_run is True

    def exists(kernel_fd: int, initrd_fd: int | None, cmdline: str, flags: int = 0) -> None:
        raise OSError(errno.EBADF, "Bad file descriptor", "kexec_file_load")

    monkeypatch.setattr(syscalls, "kexec_file_load", exists)
    env = handoff.environment(efi_dir=tmp_path)
    assert env.kexec_file_load_available is True
    assert env.efi is True
    assert not env.dry_run


def test_probe_is_harmless_on_this_machine() -> None:
    """The real probe (fd -1) returns an answer and loads nothing."""
    before = syscalls.kexec_loaded()
    assert isinstance(handoff.environment().kexec_file_load_available, bool)
    assert syscalls.kexec_loaded() == before


def test_dry_run_does_not_run_kexec_tools(
    volume: Path, debian_like: tuple[bytes, bytes], system: FakeSystem
) -> None:
    env = replace(ENV, kexec_file_load_available=False, dry_run=True)
    plan = HANDOFF.plan(linux_entry(), readers(volume), env)
    assert plan.method is Method.KEXEC_LOAD
    assert execute(plan, volume, system, env) == plan
    assert system.calls == []
