"""A QEMU machine driven through its serial console, for the VM tier, the demo and bench.

:class:`Machine` starts ``qemu-system-x86_64`` with the serial console on a pseudo-terminal
(pexpect), so a test reads what the guest prints and types keys into it, and a QMP socket for
monitor commands (device hot-plug).  Every byte the guest prints is written to a log file; every
timeout or unexpected exit raises :class:`MachineError` with that file's path and the last lines.

Defaults follow what was measured on the development machines: TCG (nested KVM fails there;
``BOOTMENU_QEMU_ACCEL=kvm`` opts in), ``-cpu max`` (with QEMU's default CPU the guest's random
generator is not ready and Python stalls), 1 GiB, 2 CPUs, q35.  Firmware is SeaBIOS (QEMU's
default) or OVMF with the code read-only and a private copy of the variable store per machine.
``-device isa-debug-exit`` lets a guest end QEMU with a chosen status: a value V written to port
0xf4 gives exit status ``(V << 1) | 1``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import socket
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, Literal

import pexpect

QEMU: Final = "qemu-system-x86_64"
DEBUG_EXIT_DEVICE: Final = "isa-debug-exit,iobase=0xf4,iosize=0x04"

# Debian 12's ovmf package (4 MiB flash layout; the 2 MiB files are the older layout).
OVMF_CODE_CANDIDATES: Final = (
    Path("/usr/share/OVMF/OVMF_CODE_4M.fd"),
    Path("/usr/share/OVMF/OVMF_CODE.fd"),
)
OVMF_VARS_CANDIDATES: Final = (
    Path("/usr/share/OVMF/OVMF_VARS_4M.fd"),
    Path("/usr/share/OVMF/OVMF_VARS.fd"),
)

Firmware = Literal["seabios", "ovmf"]
Bus = Literal["virtio", "ahci", "nvme", "usb"]
# USB disks are usb-storage devices on one xHCI controller, added when any disk is on usb.
XHCI_ARGS: Final = ("-device", "qemu-xhci,id=xhci")


class MachineError(AssertionError):
    """The guest did not do what was expected (timeout, early exit); names the serial log
    (also as ``log_path``, so a test can say what the guest did instead)."""

    def __init__(self, message: str, log_path: Path | None = None) -> None:
        super().__init__(message)
        self.log_path = log_path


def accel() -> str:
    """``tcg`` unless ``BOOTMENU_QEMU_ACCEL`` says otherwise (``kvm`` is an opt-in)."""
    return os.environ.get("BOOTMENU_QEMU_ACCEL", "tcg")


def time_scale() -> float:
    """Multiplier for every timeout (``BOOTMENU_VM_TIMEOUT_SCALE``, default 1): slow CI hosts."""
    try:
        return max(float(os.environ.get("BOOTMENU_VM_TIMEOUT_SCALE", "1")), 0.1)
    except ValueError:
        return 1.0


def ovmf_files() -> tuple[Path, Path] | None:
    """(code, vars template) of the installed OVMF, or None (Debian package ``ovmf``)."""
    code = next((p for p in OVMF_CODE_CANDIDATES if p.is_file()), None)
    if code is None:
        return None
    # The variable store must match the code's flash layout (4M with 4M).
    wanted = "OVMF_VARS_4M.fd" if code.name.endswith("_4M.fd") else "OVMF_VARS.fd"
    variables = next((p for p in OVMF_VARS_CANDIDATES if p.name == wanted and p.is_file()), None)
    return None if variables is None else (code, variables)


def missing_prerequisites(firmware: Firmware = "seabios") -> list[str]:
    """Sentences naming what this host lacks to run a machine (empty when nothing)."""
    missing = []
    if shutil.which(QEMU) is None:
        missing.append(f"{QEMU} is not installed (Debian package qemu-system-x86)")
    if firmware == "ovmf" and ovmf_files() is None:
        missing.append("OVMF is not installed (Debian package ovmf)")
    return missing


@dataclass(frozen=True)
class Disk:
    """A raw disk image attached to the machine: a virtio-blk device, a port of q35's AHCI
    controller, an NVMe controller of its own or a USB mass-storage device (usb-storage on an
    xHCI controller).  ``serial`` shows up in the guest as the disk's ID_SERIAL (NVMe requires
    one: ``nvme<N>`` when not given); ``readonly`` attaches it read-only (tests that prove
    bootmenu never writes keep images writable and compare checksums instead)."""

    path: Path
    bus: Bus = "virtio"
    serial: str | None = None
    readonly: bool = False


class _QMP:
    """The smallest QMP client: one command at a time, events skipped."""

    def __init__(self, path: Path, timeout: float) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock.connect(str(path))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.sock.settimeout(timeout)
        self.file = self.sock.makefile("rwb")
        self._read()  # greeting
        self.execute("qmp_capabilities")

    def _read(self) -> dict[str, Any]:
        while True:
            line = self.file.readline()
            if not line:
                raise ConnectionError("QMP socket closed")
            message: dict[str, Any] = json.loads(line)
            if "event" not in message:
                return message

    def execute(self, command: str, **arguments: Any) -> Any:
        request: dict[str, Any] = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        self.file.write(json.dumps(request).encode() + b"\n")
        self.file.flush()
        reply = self._read()
        if "error" in reply:
            raise RuntimeError(f"QMP {command}: {reply['error'].get('desc', reply['error'])}")
        return reply.get("return")

    def close(self) -> None:
        self.file.close()
        self.sock.close()


class _TimedLog:
    """pexpect's ``logfile_read``: writes everything to the log file and notes, for every
    line, when it arrived (seconds since QEMU started, host clock)."""

    def __init__(self, file: IO[str], started: float) -> None:
        self.file = file
        self.started = started
        self.partial = ""
        self.lines: list[tuple[float, str]] = []

    def write(self, text: str) -> None:
        self.file.write(text)
        now = time.monotonic() - self.started
        self.partial += text
        *complete, self.partial = self.partial.split("\n")
        for line in complete:
            self.lines.append((now, line.replace("\r", "")))

    def flush(self) -> None:
        self.file.flush()


class Machine:
    """One QEMU process.  Use as a context manager; QEMU is killed on exit if still running.

    Boot either a kernel directly (``kernel``/``initrd``/``append``, through OVMF's EFI stub
    loader or SeaBIOS's Linux loader) or from the disks (``kernel=None``).
    """

    def __init__(
        self,
        log_path: Path,
        *,
        firmware: Firmware = "seabios",
        kernel: Path | None = None,
        initrd: Path | None = None,
        append: str | None = None,
        disks: Sequence[Disk | Path] = (),
        memory_mib: int = 1024,
        cpus: int = 2,
        no_reboot: bool = True,
        debug_exit: bool = True,
        extra_args: Sequence[str] = (),
        state_dir: Path | None = None,
    ) -> None:
        problems = missing_prerequisites(firmware)
        if problems:
            raise MachineError("; ".join(problems))
        self.log_path = log_path
        self.firmware = firmware
        # The OVMF variable store copy and the QMP socket (a short path: sockets allow 107 bytes).
        self._own_state = state_dir is None
        self._state = state_dir or Path(tempfile.mkdtemp(prefix="bootmenu-vm-"))
        self.qmp_path = self._state / "qmp.sock"
        args = [
            "-machine", "q35", "-accel", accel(), "-cpu", "max",
            "-m", str(memory_mib), "-smp", str(cpus),
            "-nographic", "-nodefaults", "-serial", "mon:stdio",
            "-qmp", f"unix:{self.qmp_path},server=on,wait=off",
        ]  # fmt: skip
        if no_reboot:
            args.append("-no-reboot")
        if debug_exit:
            args += ["-device", DEBUG_EXIT_DEVICE]
        if firmware == "ovmf":
            files = ovmf_files()
            assert files is not None
            code, template = files
            self.vars_path = self._state / "OVMF_VARS.fd"
            shutil.copyfile(template, self.vars_path)
            args += [
                "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={code}",
                "-drive", f"if=pflash,format=raw,unit=1,file={self.vars_path}",
            ]  # fmt: skip
        if kernel is not None:
            args += ["-kernel", str(kernel)]
            if initrd is not None:
                args += ["-initrd", str(initrd)]
            if append is not None:
                args += ["-append", append]
        attached = [item if isinstance(item, Disk) else Disk(item) for item in disks]
        if any(disk.bus == "usb" for disk in attached):
            args += XHCI_ARGS
        for n, disk in enumerate(attached):
            args += self._disk_args(n, disk)
        args += list(extra_args)
        self.args = args
        self.child: pexpect.spawn[str] | None = None
        self._log: IO[str] | None = None
        self._timed: _TimedLog | None = None
        self.exit_status: int | None = None
        self._qmp: _QMP | None = None
        self.started = 0.0

    @staticmethod
    def _disk_args(n: int, disk: Disk) -> list[str]:
        drive = f"file={disk.path},format=raw,if=none,id=disk{n},cache=unsafe"
        if disk.readonly:
            drive += ",readonly=on"
        serial = f",serial={disk.serial}" if disk.serial else ""
        if disk.bus == "virtio":
            device = f"virtio-blk-pci,drive=disk{n},id=dev{n}{serial}"
        elif disk.bus == "nvme":
            device = f"nvme,drive=disk{n},id=dev{n},serial={disk.serial or f'nvme{n}'}"
        elif disk.bus == "usb":
            device = f"usb-storage,bus=xhci.0,drive=disk{n},id=dev{n}{serial}"
        else:  # q35 has an AHCI controller with six ports: ide.0 … ide.5
            device = f"ide-hd,drive=disk{n},bus=ide.{n},id=dev{n}{serial}"
        return ["-drive", drive, "-device", device]

    @property
    def command(self) -> str:
        return shlex.join([QEMU, *self.args])

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> Machine:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w", encoding="utf-8", errors="replace")  # noqa: SIM115
        self._log.write(f"# {self.command}\n")
        self._log.flush()
        self.started = time.monotonic()
        self.child = pexpect.spawn(
            QEMU,
            self.args,
            encoding="utf-8",
            codec_errors="replace",
            dimensions=(24, 80),
            timeout=None,
            maxread=65536,
            searchwindowsize=None,
        )
        self._timed = _TimedLog(self._log, self.started)
        self.child.logfile_read = self._timed
        return self

    def __enter__(self) -> Machine:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._qmp is not None:
            self._qmp.close()
            self._qmp = None
        if self.child is not None:
            if self.child.isalive():
                self.child.terminate(force=True)
            self.child.close(force=True)
            if self.exit_status is None:
                self.exit_status = self.child.exitstatus
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._own_state:
            shutil.rmtree(self._state, ignore_errors=True)

    def elapsed(self) -> float:
        """Seconds since QEMU was started."""
        return time.monotonic() - self.started

    # -- the serial console --------------------------------------------------------------------

    def _child(self) -> pexpect.spawn[str]:
        if self.child is None:
            raise MachineError("the machine was not started")
        return self.child

    @property
    def output(self) -> str:
        """Everything the guest printed so far (the log file without its first line)."""
        if self._log is not None:
            self._log.flush()
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        text = text.split("\n", 1)[1] if "\n" in text else ""
        # The guest's CR LF arrives as CR CR LF through the pseudo-terminal.
        return re.sub(r"\r+\n", "\n", text)

    def _failure(self, what: str, timeout: float | None = None) -> MachineError:
        tail = "\n".join(self.output.replace("\r", "").splitlines()[-30:])
        when = f" within {timeout:.0f} s" if timeout is not None else ""
        return MachineError(
            f"{what}{when} (after {self.elapsed():.1f} s).\n"
            f"serial log: {self.log_path}\nQEMU: {self.command}\n--- last lines ---\n{tail}",
            self.log_path,
        )

    def expect(
        self,
        pattern: str | re.Pattern[str],
        timeout: float = 120,
        *,
        fail: Sequence[str | re.Pattern[str]] = (),
    ) -> re.Match[str]:
        """Wait until the guest prints something matching ``pattern`` (a regular expression);
        returns the match.  If a ``fail`` pattern matches first, raise at once (and wait a
        moment so the log shows what followed).  ``timeout`` is scaled by :func:`time_scale`."""
        child = self._child()
        timeout *= time_scale()
        compiled = re.compile(pattern) if isinstance(pattern, str) else pattern
        failures = [re.compile(f) if isinstance(f, str) else f for f in fail]
        try:
            index = child.expect([compiled, *failures], timeout=timeout)
        except pexpect.TIMEOUT:
            raise self._failure(f"{compiled.pattern!r} did not appear", timeout) from None
        except pexpect.EOF:
            self._reap()
            raise self._failure(
                f"QEMU exited with status {self.exit_status} before {compiled.pattern!r} appeared"
            ) from None
        match = child.match
        assert isinstance(match, re.Match)
        if index > 0:
            with contextlib.suppress(pexpect.TIMEOUT, pexpect.EOF):
                child.expect([pexpect.TIMEOUT], timeout=2)
            raise self._failure(
                f"the guest printed {match.group(0).strip()!r} while waiting for "
                f"{compiled.pattern!r}"
            )
        return match

    def timed_lines(self) -> list[tuple[float, str]]:
        """Every complete line so far with its arrival time (seconds since QEMU started, host
        clock; under TCG the guest's clock runs at the host's pace)."""
        return list(self._timed.lines) if self._timed is not None else []

    def send(self, keys: str) -> None:
        """Type ``keys`` on the serial console (escape sequences as the guest's terminal
        expects them, e.g. ``"\\x1b[B"`` for Down, ``"\\r"`` for Enter)."""
        self._child().send(keys)

    def _reap(self) -> None:
        child = self._child()
        child.close()
        if child.signalstatus is not None:
            self.exit_status = -child.signalstatus
        else:
            self.exit_status = child.exitstatus

    def wait_exit(self, timeout: float = 60) -> int:
        """Wait for QEMU to end and return its exit status (isa-debug-exit: ``(V << 1) | 1``;
        a guest power-off: 0; killed by signal N: -N)."""
        child = self._child()
        timeout *= time_scale()
        try:
            child.expect(pexpect.EOF, timeout=timeout)
        except pexpect.TIMEOUT:
            raise self._failure("QEMU did not exit", timeout) from None
        self._reap()
        assert self.exit_status is not None
        return self.exit_status

    # -- the monitor ---------------------------------------------------------------------------

    def qmp(self, command: str, **arguments: Any) -> Any:
        """Run a QMP command (``qmp("device_del", id="dev1")``) and return its result."""
        if self._qmp is None:
            self._qmp = _QMP(self.qmp_path, timeout=30)
        return self._qmp.execute(command, **arguments)

    def monitor(self, command: str) -> str:
        """Run a human monitor command (``monitor("info block")``) and return its output."""
        return str(self.qmp("human-monitor-command", **{"command-line": command}))
