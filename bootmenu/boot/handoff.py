"""The hand-off: from a chosen :class:`BootEntry` to a loaded kernel and the final jump.

Three steps, each its own function so that front ends can show what will happen before it does:

1. :meth:`Handoff.route` finds the first of the core's handlers (a :class:`Handoff` holds them,
   in the order they are tried) that accepts the entry in this :class:`Environment` (lockdown,
   which kexec system calls and tools exist), and why each one tried before declined: the one
   answer to "how would this entry start", which the menu shows (:attr:`Route.text`).
2. :meth:`Handoff.plan` reads every file the boot needs, re-validates the kernel bytes it will
   load and the initrds (``validate.inspect_image``), and returns a :class:`Plan`: the method,
   why it was chosen, each segment with its size and SHA-256, and the problems that forbid the
   boot.
3. :meth:`Handoff.execute` runs the pre-boot hooks (:mod:`bootmenu.boot.hooks`), loads (reading
   the files again and refusing any whose bytes differ from the plan's), calls the caller's
   ``before_jump`` and jumps the way the handler says (:attr:`Handler.reboot_command`).
   Anything that fails before the jump undoes the load (:meth:`Handler.undo`) and raises
   :class:`HandoffError` with a sentence.

Methods: Linux kernels and UKIs go through ``kexec_file_load`` (the kernel checks signatures);
kexec-tools' ``kexec_load`` is the fallback outside lockdown; Multiboot kernels need kexec-tools
(:func:`kexec_handlers`).  EFI applications go through the UEFI payload
(:mod:`bootmenu.boot.payload`, no firmware reset) or BootNext and a firmware reset
(:mod:`bootmenu.boot.bootnext`); the core builds the list with this machine's settings.  See
``docs/handoff.md``.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Protocol

from bootmenu import arch
from bootmenu.boot import hooks
from bootmenu.errors import ERRORS, FormatError, HandoffError, PathError
from bootmenu.model import BootEntry, ImageInfo, Kind, Module
from bootmenu.system import run, syscalls
from bootmenu.system.fs import VolumeReader
from bootmenu.system.sysfs import EFI_DIR
from bootmenu.validate import inspect_image
from efi import pe, uki

log = logging.getLogger(__name__)

# Lockdown modes in which the kernel refuses kexec_load and unsigned kexec_file_load images.
LOCKDOWN_MODES: Final = frozenset({"integrity", "confidentiality"})
# Each initrd but the last is padded with zeros to this alignment when initrds are
# concatenated: the kernel's unpacker finds a cpio archive only at a 4-byte boundary and skips
# the zeros (GRUB pads the same way).
INITRD_ALIGN: Final = 4
# Where kexec-tools lives when PATH (in an initramfs: often just /bin) does not say.
KEXEC_TOOLS_PATH: Final = "/usr/sbin:/sbin:/usr/bin:/bin"
KEXEC_TOOLS_TIMEOUT: Final = 120.0
# kexec_file_load errors after which kexec_load may still work: no such system call, or the
# running kernel has no loader for this image (ENOEXEC) or dislikes it (EINVAL).
FALLBACK_ERRNOS: Final = frozenset({errno.ENOSYS, errno.EINVAL, errno.ENOEXEC})
# Errors of the kernel's signature check (verify_pefile_signature and the keyring code).
SIGNATURE_ERRNOS: Final = frozenset(
    {
        errno.EKEYREJECTED,
        errno.ENOKEY,
        errno.EKEYEXPIRED,
        errno.EKEYREVOKED,
        errno.EBADMSG,
        errno.ENODATA,
        errno.ENOPKG,
    }
)
NOT_SIGNED: Final = (
    "the kernel is not signed with a key this kernel trusts, and lockdown forbids other ways "
    "to load it"
)
# kexec-tools' --type names for Multiboot 1 and 2 (kexec-tools 2.0.25, x86).
MULTIBOOT_TYPES: Final = {1: "multiboot-x86", 2: "multiboot2-x86"}
MULTIBOOT_HOSTS: Final = frozenset({"x86_64", "i386"})


class Method(StrEnum):
    """How an entry is started."""

    KEXEC_FILE_LOAD = "kexec_file_load"
    KEXEC_LOAD = "kexec_load"
    MULTIBOOT = "multiboot"
    BOOTNEXT = "bootnext"
    PAYLOAD = "payload"


@dataclass(frozen=True)
class Segment:
    """One piece of what is loaded: ``what`` is ``kernel``, ``initrd``, ``module`` or
    ``cmdline``; ``source`` where it comes from (``"/dev/vda2:/vmlinuz-6.1"``,
    ``"/dev/vda1:/EFI/Linux/a.efi .linux section"``); ``sha256`` of a file's bytes (None for
    the command line)."""

    what: str
    source: str
    size: int
    sha256: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"what": self.what, "source": self.source, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class Plan:
    """What :func:`execute` will do for ``entry``.

    ``kernel`` and ``initrd`` name sources (as in ``segments``), ``cmdline`` is the command line
    the kernel gets, ``modules`` the Multiboot modules as configured.  ``reason`` says why this
    method; ``problems`` (sentences) forbid the boot; ``notes`` are worth telling the user.
    """

    entry: BootEntry
    method: Method
    kernel: str
    initrd: tuple[str, ...]
    cmdline: str
    modules: tuple[Module, ...]
    segments: tuple[Segment, ...]
    reason: str
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def bootable(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "entry": self.entry.to_json(),
            "method": self.method.value,
            "kernel": self.kernel,
            "initrd": list(self.initrd),
            "cmdline": self.cmdline,
            "modules": [{"path": m.path, "cmdline": m.cmdline} for m in self.modules],
            "segments": [s.to_json() for s in self.segments],
            "reason": self.reason,
            "bootable": self.bootable,
            "problems": list(self.problems),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Environment:
    """What the running system allows.  ``lockdown`` is the kernel's lockdown mode (None: no
    lockdown LSM); ``kexec_tools`` the path of the ``kexec`` program; ``dry_run``: do
    everything up to loading, but neither load nor jump."""

    lockdown: str | None
    kexec_file_load_available: bool
    kexec_tools: str | None
    efi: bool
    host_arch: str
    dry_run: bool = False

    @property
    def locked_down(self) -> bool:
        return self.lockdown in LOCKDOWN_MODES


ReaderFor = Callable[[str], VolumeReader]


class Handler(Protocol):
    """One way of starting entries (one per :class:`Method` in a :class:`Handoff`).

    ``kinds``: the entry kinds it is asked about at all.  ``accepts`` returns None when the
    handler can start ``entry`` here, else the reason it cannot.  ``plan`` may plan a method it
    delegates to (the ``kexec_file_load`` handler plans ``kexec_load`` for a kernel
    ``kexec_file_load`` would refuse).  ``load`` loads a plan of its method; on failure it
    leaves nothing loaded by itself and raises :class:`HandoffError`.  What
    :meth:`Handoff.execute` needs besides: ``reboot_command``, the ``reboot(2)`` command that
    jumps once the plan is loaded (kexec, or a firmware restart for BootNext), and ``undo``,
    which forgets what ``load`` did when the jump cannot happen (it never raises).
    """

    method: Method
    kinds: frozenset[Kind]
    reboot_command: int

    def accepts(self, entry: BootEntry, env: Environment) -> str | None: ...

    def plan(self, entry: BootEntry, reader_for: ReaderFor, env: Environment) -> Plan: ...

    def load(self, plan: Plan, reader_for: ReaderFor, env: Environment) -> None: ...

    def undo(self, env: Environment) -> None: ...


# -- reading what a boot needs --------------------------------------------------------------


@dataclass(frozen=True)
class _Piece:
    what: str
    source: str
    data: bytes
    module: Module | None = None

    def segment(self) -> Segment:
        return Segment(
            self.what, self.source, len(self.data), hashlib.sha256(self.data).hexdigest()
        )


@dataclass(frozen=True)
class _Payload:
    """The bytes of one boot, read and (when asked) validated."""

    kernel: _Piece | None = None
    kernel_info: ImageInfo | None = None
    kernel_words: str = "the kernel"
    initrds: tuple[_Piece, ...] = ()
    modules: tuple[_Piece, ...] = ()
    cmdline: str = ""
    cmdline_source: str = "the entry's command line"
    multiboot: int | None = None
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def pieces(self) -> tuple[_Piece, ...]:
        head = (self.kernel,) if self.kernel is not None else ()
        return head + self.initrds + self.modules


def _unique(items: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _read(reader: VolumeReader, path: str, problems: list[str]) -> bytes | None:
    try:
        return reader.read(path)
    except PathError as e:
        problems.append(str(e))
        return None


def _check(
    data: bytes, label: str, expect: str, env: Environment, problems: list[str]
) -> ImageInfo:
    info = inspect_image(data, expect=expect, host_arch=env.host_arch)
    problems.extend(f"{label}: {p}" for p in info.problems)
    return info


def _read_initrds(
    reader: VolumeReader,
    paths: Sequence[str],
    env: Environment,
    problems: list[str],
    *,
    validate: bool,
) -> list[_Piece]:
    pieces: list[_Piece] = []
    for path in paths:
        data = _read(reader, path, problems)
        if data is None:
            continue
        if validate:
            _check(data, path, "initrd", env, problems)
        pieces.append(_Piece("initrd", f"{reader.volume.name}:{path}", data))
    return pieces


def _read_linux(
    entry: BootEntry, reader: VolumeReader, env: Environment, *, validate: bool
) -> _Payload:
    problems: list[str] = []
    kernel: _Piece | None = None
    info: ImageInfo | None = None
    data = _read(reader, entry.kernel, problems)
    if data is not None:
        if validate:
            info = _check(data, entry.kernel, Kind.LINUX.value, env, problems)
        kernel = _Piece("kernel", f"{reader.volume.name}:{entry.kernel}", data)
    initrds = _read_initrds(reader, entry.initrd, env, problems, validate=validate)
    notes: list[str] = []
    if entry.devicetree:
        notes.append(
            f"the entry's devicetree {entry.devicetree} is not passed on: the new kernel gets "
            "the running kernel's"
        )
    return _Payload(
        kernel=kernel,
        kernel_info=info,
        initrds=tuple(initrds),
        cmdline=entry.cmdline,
        problems=tuple(problems),
        notes=tuple(notes),
    )


def _read_uki(
    entry: BootEntry, reader: VolumeReader, env: Environment, *, validate: bool
) -> _Payload:
    """A UKI's .linux, .ucode + .initrd (+ the entry's own initrds) and .cmdline."""
    name = f"{reader.volume.name}:{entry.kernel}"
    problems: list[str] = []
    notes: list[str] = []
    data = _read(reader, entry.kernel, problems)
    if data is None:
        return _Payload(problems=tuple(problems))
    if validate:
        _check(data, entry.kernel, Kind.UKI.value, env, problems)
    try:
        image = pe.parse_pe(data)
        parsed = uki.parse_uki(data)
    except FormatError as e:
        return _Payload(problems=(*problems, f"{entry.kernel}: {e}"))
    kernel: _Piece | None = None
    info: ImageInfo | None = None
    linux = pe.section_data(data, image, ".linux")
    if linux is None:
        problems.append(f"{entry.kernel}: not a UKI: no .linux section")
    else:
        if validate:
            info = _check(linux, f"{entry.kernel} .linux section", Kind.LINUX.value, env, problems)
        kernel = _Piece("kernel", f"{name} .linux section", linux)
    initrds: list[_Piece] = []
    # systemd-stub passes the microcode (.ucode) before the initrd.
    for section in (".ucode", ".initrd"):
        content = pe.section_data(data, image, section)
        if content is None:
            continue
        if validate:
            _check(content, f"{entry.kernel} {section} section", "initrd", env, problems)
        initrds.append(_Piece("initrd", f"{name} {section} section", content))
    initrds += _read_initrds(reader, entry.initrd, env, problems, validate=validate)
    own = (parsed.cmdline or "").strip()
    if entry.cmdline != own:
        cmdline, source = entry.cmdline, "the edited command line"
        notes.append(f"the command line was edited; the UKI's own is {own!r}")
        if env.locked_down:
            notes.append(
                f"under lockdown ({env.lockdown}) and Secure Boot an edited command line may "
                "be refused or ignored"
            )
    else:
        cmdline = own
        source = f"{name} .cmdline section" if parsed.cmdline is not None else "none (empty)"
    return _Payload(
        kernel=kernel,
        kernel_info=info,
        kernel_words="the UKI's kernel (.linux)",
        initrds=tuple(initrds),
        cmdline=cmdline,
        cmdline_source=source,
        problems=tuple(problems),
        notes=tuple(notes),
    )


def _read_multiboot(
    entry: BootEntry, reader: VolumeReader, env: Environment, *, validate: bool
) -> _Payload:
    vol = reader.volume.name
    problems: list[str] = []
    kernel: _Piece | None = None
    info: ImageInfo | None = None
    version = entry.multiboot
    data = _read(reader, entry.kernel, problems)
    if data is not None:
        # Also when not validating: the version decides kexec-tools' --type.
        checked: list[str] = []
        info = _check(data, entry.kernel, Kind.MULTIBOOT.value, env, checked)
        found = info.details.get("multiboot")
        both = bool(info.details.get("also_multiboot1"))
        if version is None and isinstance(found, int):
            version = found
        elif version == 2 and found == 1:
            checked.append(
                f"{entry.kernel}: the entry asks for Multiboot 2, but the kernel has only a "
                "Multiboot 1 header"
            )
        elif version == 1 and found == 2 and not both:
            checked.append(
                f"{entry.kernel}: the entry asks for Multiboot 1, but the kernel has only a "
                "Multiboot 2 header"
            )
        if validate:
            problems.extend(checked)
        kernel = _Piece("kernel", f"{vol}:{entry.kernel}", data)
    modules: list[_Piece] = []
    for module in entry.modules:
        content = _read(reader, module.path, problems)
        if content is not None:
            modules.append(_Piece("module", f"{vol}:{module.path}", content, module))
    return _Payload(
        kernel=kernel,
        kernel_info=info,
        modules=tuple(modules),
        cmdline=entry.cmdline,
        multiboot=version,
        problems=tuple(problems),
    )


_READERS: Final = {
    Kind.LINUX: _read_linux,
    Kind.UKI: _read_uki,
    Kind.MULTIBOOT: _read_multiboot,
}


def _payload(
    entry: BootEntry, reader_for: ReaderFor, env: Environment, *, validate: bool
) -> _Payload:
    read = _READERS.get(entry.kind)
    if read is None:
        raise HandoffError(f"cannot load {entry.kind.value} entries with kexec")
    try:
        reader = reader_for(entry.root)
    except ERRORS as e:
        return _Payload(problems=(f"cannot read {entry.root}: {e}",))
    return read(entry, reader, env, validate=validate)


def _reload(plan: Plan, reader_for: ReaderFor, env: Environment) -> _Payload:
    """Read the plan's files again; HandoffError if any is gone or its bytes changed since
    they were checked (only the checked bytes may be loaded)."""
    payload = _payload(plan.entry, reader_for, env, validate=False)
    if payload.problems:
        raise HandoffError(f'cannot start "{plan.entry.title}": ' + "; ".join(payload.problems))
    planned = [s for s in plan.segments if s.sha256 is not None]
    actual = [p.segment() for p in payload.pieces]
    for want, got in zip(planned, actual, strict=False):
        if (want.what, want.source, want.sha256) != (got.what, got.source, got.sha256):
            raise HandoffError(
                f"{want.source} changed after it was checked; bootmenu does not load it"
            )
    if len(planned) != len(actual):
        raise HandoffError(
            f'the files of "{plan.entry.title}" changed after they were checked; '
            "bootmenu does not load them"
        )
    return payload


def concatenate_initrds(parts: Sequence[bytes]) -> bytes:
    """Initrds as one file, in order, each but the last padded with zeros to 4 bytes."""
    out = bytearray()
    for i, part in enumerate(parts):
        out += part
        if i < len(parts) - 1:
            out += b"\0" * (-len(part) % INITRD_ALIGN)
    return bytes(out)


# -- planning --------------------------------------------------------------------------------


def _describe_kernel(info: ImageInfo | None) -> str:
    if info is None:
        return "of unknown format"
    if info.format == "bzimage":
        details = info.details
        bits = "64-bit" if details.get("entry_64bit") else "32-bit"
        stub = " with an EFI stub" if details.get("efi_stub") else ""
        return f"a {bits} bzImage{stub}"
    where = f" for {info.architecture}" if info.architecture else ""
    return f"a {info.format} image{where}"


def _kexec_method(payload: _Payload, env: Environment) -> tuple[Method, str, list[str], list[str]]:
    """The method, the reason, problems and notes for a Linux kernel (plain or from a UKI)."""
    info = payload.kernel_info
    what = payload.kernel_words
    problems: list[str] = []
    notes: list[str] = []
    refusal: str | None = None
    if info is not None and info.format == "bzimage" and env.host_arch == "x86_64":
        reason = info.details.get("kexec_file_load_reason")
        refusal = reason if isinstance(reason, str) else None
    if env.locked_down:
        mode = env.lockdown
        if not env.kexec_file_load_available:
            problems.append(
                f"this kernel has no kexec_file_load, and lockdown ({mode}) forbids kexec_load"
            )
        if refusal:
            problems.append(
                f"kexec_file_load would refuse {what}: {refusal}; lockdown ({mode}) forbids "
                "loading it any other way"
            )
        if info is not None and info.signed is not True:
            notes.append(
                f"{what} carries no signature; under lockdown ({mode}) the running kernel "
                "will refuse it"
            )
        return (
            Method.KEXEC_FILE_LOAD,
            f"kexec_file_load: {what} is {_describe_kernel(info)}, and lockdown ({mode}) "
            "allows no other way",
            problems,
            notes,
        )
    if not env.kexec_file_load_available or refusal:
        why = (
            "this kernel has no kexec_file_load"
            if not env.kexec_file_load_available
            else f"kexec_file_load would refuse {what}: {refusal}"
        )
        if env.kexec_tools is None:
            problems.append(f"{why}, and kexec-tools (for kexec_load) is not installed")
        return Method.KEXEC_LOAD, f"kexec_load via kexec-tools: {why}", problems, notes
    if env.kexec_tools is not None:
        notes.append("if the running kernel refuses it, kexec-tools (kexec_load) is tried next")
    return (
        Method.KEXEC_FILE_LOAD,
        f"kexec_file_load: {what} is {_describe_kernel(info)}",
        problems,
        notes,
    )


def _cmdline_segment(cmdline: str, source: str) -> Segment:
    return Segment("cmdline", source, len(cmdline.encode()) + 1)


def _build_plan(
    entry: BootEntry,
    payload: _Payload,
    method: Method,
    reason: str,
    problems: Sequence[str],
    notes: Sequence[str],
) -> Plan:
    segments = [p.segment() for p in payload.pieces]
    segments.append(_cmdline_segment(payload.cmdline, payload.cmdline_source))
    return Plan(
        entry=entry,
        method=method,
        kernel=payload.kernel.source if payload.kernel else entry.kernel,
        initrd=tuple(p.source for p in payload.initrds),
        cmdline=payload.cmdline,
        modules=entry.modules,
        segments=tuple(segments),
        reason=reason,
        problems=_unique([*entry.problems, *payload.problems, *problems]),
        notes=_unique([*payload.notes, *notes]),
    )


def _plan_kexec(entry: BootEntry, reader_for: ReaderFor, env: Environment) -> Plan:
    payload = _payload(entry, reader_for, env, validate=True)
    method, reason, problems, notes = _kexec_method(payload, env)
    return _build_plan(entry, payload, method, reason, problems, notes)


def _proc_path(fd: int) -> str:
    """A path through which another process (kexec-tools) can open our descriptor ``fd``."""
    return f"/proc/{os.getpid()}/fd/{fd}"


@contextmanager
def _memfds() -> Iterator[Callable[[str, bytes], int]]:
    """A factory of sealed memfds, all closed when the block ends."""
    with ExitStack() as stack:

        def make(name: str, data: bytes) -> int:
            fd = syscalls.memfd(f"bootmenu-{name}", data)
            stack.callback(os.close, fd)
            return fd

        yield make


def kexec_tools_linux_argv(kexec: str, kernel: str, initrd: str | None, cmdline: str) -> list[str]:
    """kexec-tools' command line that loads a Linux kernel with kexec_load."""
    argv = [kexec, "--load", "--kexec-syscall"]
    if initrd is not None:
        argv.append(f"--initrd={initrd}")
    argv.append(f"--command-line={cmdline}")
    argv.append(kernel)
    return argv


def kexec_tools_multiboot_argv(
    kexec: str,
    version: int,
    kernel: str,
    modules: Sequence[tuple[str, str]],
    cmdline: str,
) -> list[str]:
    """kexec-tools' command line for a Multiboot ``version`` kernel; ``modules`` are
    (path, command line) pairs.  kexec-tools splits ``--module`` at the first space: the path
    must contain none, and the module's command line is the whole string (path first)."""
    argv = [kexec, "--load", "--kexec-syscall", f"--type={MULTIBOOT_TYPES[version]}"]
    argv.append(f"--command-line={cmdline}")
    for path, args in modules:
        if " " in path:
            raise HandoffError(f"kexec-tools cannot load a module whose path has a space: {path}")
        argv.append(f"--module={path} {args}" if args else f"--module={path}")
    argv.append(kernel)
    return argv


def _run_kexec_tools(argv: Sequence[str], env: Environment) -> None:
    if env.dry_run:
        log.info("dry run: would run %s", " ".join(argv))
        return
    try:
        run.run(argv, timeout=KEXEC_TOOLS_TIMEOUT)
    except run.CommandError as e:
        raise HandoffError(f"kexec-tools could not load the kernel: {e}") from e


def _file_load_error(e: OSError, env: Environment) -> str:
    code = e.errno
    if env.locked_down and (code in SIGNATURE_ERRNOS or code == errno.EPERM):
        return NOT_SIGNED
    if code in SIGNATURE_ERRNOS:
        return (
            "the kernel is not signed with a key this kernel trusts, and this kernel demands "
            "signed kernels for kexec (KEXEC_SIG_FORCE)"
        )
    if code == errno.EPERM:
        return (
            "bootmenu may not load kernels: it needs the CAP_SYS_BOOT capability, and kexec "
            "must not be switched off (sysctl kernel.kexec_load_disabled)"
        )
    if code == errno.EBUSY:
        return "another kernel is being loaded at the same time"
    if code == errno.ENOMEM:
        return "there is not enough memory to load the kernel and its initrd"
    if code in FALLBACK_ERRNOS:
        if env.locked_down:
            return (
                f"the running kernel refused it ({e.strerror}), and lockdown "
                f"({env.lockdown}) forbids other ways to load it"
            )
        return (
            f"the running kernel refused it with kexec_file_load ({e.strerror}), and "
            "kexec-tools (for kexec_load) is not installed"
        )
    return f"kexec_file_load failed: {e.strerror}"


def _load_kexec(plan: Plan, reader_for: ReaderFor, env: Environment, *, file_load: bool) -> None:
    """Load a Linux kernel (plain or from a UKI) from memfds: with kexec_file_load, falling
    back to kexec-tools when allowed, or (``file_load=False``) with kexec-tools directly."""
    payload = _reload(plan, reader_for, env)
    if payload.kernel is None:
        raise HandoffError(f'"{plan.entry.title}" has no kernel to load')
    with _memfds() as memfd:
        kernel_fd = memfd("kernel", payload.kernel.data)
        initrd_fd = (
            memfd("initrd", concatenate_initrds([p.data for p in payload.initrds]))
            if payload.initrds
            else None
        )

        def kexec_tools() -> None:
            if env.kexec_tools is None:
                raise HandoffError("kexec-tools (for kexec_load) is not installed")
            initrd = _proc_path(initrd_fd) if initrd_fd is not None else None
            argv = kexec_tools_linux_argv(
                env.kexec_tools, _proc_path(kernel_fd), initrd, plan.cmdline
            )
            _run_kexec_tools(argv, env)

        if not file_load:
            kexec_tools()
            return
        if env.dry_run:
            log.info(
                "dry run: would call kexec_file_load (kernel %d bytes, initrd %s bytes)",
                len(payload.kernel.data),
                os.fstat(initrd_fd).st_size if initrd_fd is not None else "no",
            )
            return
        try:
            syscalls.kexec_file_load(kernel_fd, initrd_fd, plan.cmdline)
        except OSError as e:
            if e.errno in FALLBACK_ERRNOS and not env.locked_down and env.kexec_tools:
                log.warning(
                    "kexec_file_load refused %s (%s); trying kexec_load through kexec-tools",
                    plan.kernel,
                    e.strerror,
                )
                kexec_tools()
                return
            raise HandoffError(_file_load_error(e, env)) from e


# -- the handlers ----------------------------------------------------------------------------


class KexecHandler:
    """What the handlers that load through kexec share: they jump with ``reboot(KEXEC)`` and
    undo a load by unloading."""

    reboot_command: int = syscalls.LINUX_REBOOT_CMD_KEXEC

    def undo(self, env: Environment) -> None:
        unload(env)


class _LinuxKexec(KexecHandler):
    """What the two ways of loading a Linux kernel or a UKI share: the entries they take, the
    plan (the same files and checks), the load but for the system call."""

    kinds: frozenset[Kind] = frozenset({Kind.LINUX, Kind.UKI})
    file_load: bool

    def accepts(self, entry: BootEntry, env: Environment) -> str | None:
        if entry.kind not in self.kinds:
            return f"it starts only Linux kernels and UKIs, not {entry.kind.value} entries"
        return self._unavailable(env)

    def _unavailable(self, env: Environment) -> str | None:
        raise NotImplementedError

    def plan(self, entry: BootEntry, reader_for: ReaderFor, env: Environment) -> Plan:
        return _plan_kexec(entry, reader_for, env)

    def load(self, plan: Plan, reader_for: ReaderFor, env: Environment) -> None:
        _load_kexec(plan, reader_for, env, file_load=self.file_load)


class KexecFileLoad(_LinuxKexec):
    """Linux kernels and UKIs through kexec_file_load (plans kexec_load when the kernel would
    be refused and lockdown allows it)."""

    method: Method = Method.KEXEC_FILE_LOAD
    file_load = True

    def _unavailable(self, env: Environment) -> str | None:
        if not env.kexec_file_load_available:
            return "this kernel has no kexec_file_load system call"
        return None


class KexecLoad(_LinuxKexec):
    """Linux kernels and UKIs (their .linux) through kexec-tools and kexec_load."""

    method: Method = Method.KEXEC_LOAD
    file_load = False

    def _unavailable(self, env: Environment) -> str | None:
        if env.locked_down:
            return f"lockdown ({env.lockdown}) allows only kexec_file_load"
        if env.kexec_tools is None:
            return "kexec-tools is not installed"
        return None


class Multiboot(KexecHandler):
    """Multiboot 1 and 2 kernels with modules, through kexec-tools (x86 only)."""

    method: Method = Method.MULTIBOOT
    kinds: frozenset[Kind] = frozenset({Kind.MULTIBOOT})

    def accepts(self, entry: BootEntry, env: Environment) -> str | None:
        if entry.kind not in self.kinds:
            return f"it starts only Multiboot kernels, not {entry.kind.value} entries"
        if env.locked_down:
            return (
                f"lockdown ({env.lockdown}) forbids kexec_load, the only way to load a "
                "Multiboot kernel (kexec_file_load takes only signed Linux kernels)"
            )
        if env.host_arch not in MULTIBOOT_HOSTS:
            return (
                f"kexec-tools loads Multiboot kernels only on x86, this machine is {env.host_arch}"
            )
        if env.kexec_tools is None:
            return "kexec-tools, which loads Multiboot kernels, is not installed"
        return None

    def plan(self, entry: BootEntry, reader_for: ReaderFor, env: Environment) -> Plan:
        payload = _payload(entry, reader_for, env, validate=True)
        problems: list[str] = []
        version = payload.multiboot
        if version not in MULTIBOOT_TYPES and payload.kernel_info is not None:
            problems.append(f"{entry.kernel}: cannot tell whether it is Multiboot 1 or 2")
        notes = [
            "kexec-tools puts the kernel's file name in front of its command line (as GRUB "
            "Legacy did); Multiboot kernels such as Xen skip it"
        ]
        kind = MULTIBOOT_TYPES.get(version or 0, "multiboot")
        reason = (
            f"kexec_load via kexec-tools (--type={kind}): the kernel is a Multiboot "
            f"{version or '?'} kernel"
        )
        return _build_plan(entry, payload, Method.MULTIBOOT, reason, problems, notes)

    def load(self, plan: Plan, reader_for: ReaderFor, env: Environment) -> None:
        payload = _reload(plan, reader_for, env)
        if payload.kernel is None:
            raise HandoffError(f'"{plan.entry.title}" has no kernel to load')
        version = payload.multiboot
        if version not in MULTIBOOT_TYPES or env.kexec_tools is None:
            raise HandoffError(f'cannot load "{plan.entry.title}" with kexec-tools')
        with _memfds() as memfd:
            kernel = _proc_path(memfd("kernel", payload.kernel.data))
            modules = []
            for piece in payload.modules:
                module = piece.module or Module(piece.source)
                modules.append((_proc_path(memfd("module", piece.data)), module.cmdline))
            argv = kexec_tools_multiboot_argv(
                env.kexec_tools, version, kernel, modules, plan.cmdline
            )
            _run_kexec_tools(argv, env)


# How the menu names each way an entry starts (Route.text).
ROUTE_WORDS: Final = {
    Method.KEXEC_FILE_LOAD: "kexec_file_load",
    Method.KEXEC_LOAD: "kexec_load",
    Method.MULTIBOOT: "kexec (Multiboot)",
    Method.BOOTNEXT: "BootNext and a firmware reset",
    Method.PAYLOAD: "the UEFI payload, no firmware reset",
}


def kexec_handlers() -> tuple[Handler, ...]:
    """The handlers that start Linux, UKIs and Multiboot kernels, in the order they are tried."""
    return (KexecFileLoad(), KexecLoad(), Multiboot())


# -- the public steps ------------------------------------------------------------------------


def _probe_kexec_file_load() -> bool:
    """Whether the running kernel has kexec_file_load.  Called with no file (fd -1) it fails
    without side effects: EBADF when it exists, ENOSYS when not (EPERM: it exists, but we may
    not use it; the real load will say so)."""
    try:
        syscalls.kexec_file_load(-1, None, "")
    except OSError as e:
        return e.errno != errno.ENOSYS
    return True


def environment(*, dry_run: bool = False, efi_dir: Path = EFI_DIR) -> Environment:
    """What the running system allows."""
    kexec = shutil.which("kexec") or shutil.which("kexec", path=KEXEC_TOOLS_PATH)
    return Environment(
        lockdown=syscalls.lockdown(),
        kexec_file_load_available=_probe_kexec_file_load(),
        kexec_tools=kexec,
        efi=efi_dir.is_dir(),
        host_arch=arch.host(),
        dry_run=dry_run,
    )


Declined = tuple[tuple[Method, str], ...]


@dataclass(frozen=True)
class Route:
    """How an entry would start: the handler that accepts it (None: none can) and why each
    handler tried before it declined, in order."""

    entry: BootEntry
    handler: Handler | None
    declined: Declined = ()

    @property
    def reasons(self) -> list[str]:
        return [f"{method.value}: {reason}" for method, reason in self.declined]

    @property
    def text(self) -> str:
        """One line for the menu: how the entry would start, and why not a way tried before."""
        if self.handler is None:
            return "cannot start: " + (
                "; ".join(self.reasons) or f"no way to start {self.entry.kind.value}"
            )
        text = f"starts via {ROUTE_WORDS.get(self.handler.method, self.handler.method.value)}"
        if self.reasons:
            text += " (not " + "; ".join(self.reasons) + ")"
        return text

    def require(self) -> Handler:
        """The handler, or HandoffError with every reason when none accepted the entry."""
        if self.handler is not None:
            return self.handler
        if not self.reasons:
            raise HandoffError(
                f'cannot start "{self.entry.title}": bootmenu has no way to start '
                f"{self.entry.kind.value} entries"
            )
        raise HandoffError(f'cannot start "{self.entry.title}": ' + "; ".join(self.reasons))


class Handoff:
    """The handlers of one machine, in the order they are tried (the core builds it with its
    settings), and the steps: :meth:`route`, :meth:`plan`, :meth:`execute`."""

    def __init__(self, handlers: Sequence[Handler]) -> None:
        methods = [h.method for h in handlers]
        if len(set(methods)) != len(methods):
            raise ValueError(f"one handler per method, not {[m.value for m in methods]}")
        self.handlers: tuple[Handler, ...] = tuple(handlers)

    def handler(self, method: Method) -> Handler:
        for handler in self.handlers:
            if handler.method == method:
                return handler
        raise HandoffError(f"bootmenu cannot start entries with {method.value} (not available)")

    def route(self, entry: BootEntry, env: Environment) -> Route:
        """The handler that would start ``entry`` and why each one tried before declined."""
        declined: list[tuple[Method, str]] = []
        for handler in self.handlers:
            if entry.kind not in handler.kinds:
                continue
            reason = handler.accepts(entry, env)
            if reason is None:
                return Route(entry, handler, tuple(declined))
            declined.append((handler.method, reason))
        return Route(entry, None, tuple(declined))

    def plan(self, entry: BootEntry, reader_for: ReaderFor, env: Environment) -> Plan:
        """How ``entry`` would be started.  Problems (unreadable or invalid files, a method
        that is not allowed) are in ``Plan.problems``; HandoffError only when no handler
        accepts it.  Why the handlers tried first declined is added to the notes ("not
        payload: …")."""
        route = self.route(entry, env)
        result = route.require().plan(entry, reader_for, env)
        if route.declined:
            notes = [*result.notes, *(f"not {r}" for r in route.reasons)]
            result = replace(result, notes=_unique(notes))
        return result

    def execute(
        self,
        plan: Plan,
        reader_for: ReaderFor,
        env: Environment,
        *,
        hooks_dir: Path | None,
        before_jump: Callable[[], None],
        progress: Callable[[str], None] | None = None,
    ) -> Plan:
        """Start ``plan`` with the handler of its method: see :func:`execute`."""
        return execute(
            plan,
            self.handler(plan.method),
            reader_for,
            env,
            hooks_dir=hooks_dir,
            before_jump=before_jump,
            progress=progress,
        )


def _with_cmdline(
    plan: Plan, cmdline: str, source: str, notes: Sequence[str], env: Environment
) -> Plan:
    segments = tuple(
        _cmdline_segment(cmdline, source) if s.what == "cmdline" else s for s in plan.segments
    )
    extra = list(notes)
    if plan.entry.kind is Kind.UKI and env.locked_down:
        extra.append(
            f"under lockdown ({env.lockdown}) and Secure Boot an edited command line may be "
            "refused or ignored"
        )
    return replace(plan, cmdline=cmdline, segments=segments, notes=_unique([*plan.notes, *extra]))


def _run_hooks(plan: Plan, env: Environment, hooks_dir: Path | None) -> Plan:
    info = hooks.HookInput(
        entry_id=plan.entry.id,
        title=plan.entry.title,
        kind=plan.entry.kind.value,
        kernel=plan.kernel,
        cmdline=plan.cmdline,
        method=plan.method.value,
        plan=plan.to_json(),
        dry_run=env.dry_run,
    )
    cmdline, results = hooks.run_hooks(hooks_dir, info)
    if cmdline == plan.cmdline:
        return plan
    notes: list[str] = []
    current, source = plan.cmdline, ""
    for result in results:
        if result.cmdline is not None and result.cmdline != current:
            current, source = result.cmdline, f"pre-boot hook {result.hook}"
            notes.append(f"the pre-boot hook {result.hook} changed the command line to {current!r}")
    return _with_cmdline(plan, cmdline, source, notes, env)


def unload(env: Environment) -> None:
    """Forget whatever kernel is loaded for kexec (never raises: it is cleanup)."""
    try:
        syscalls.kexec_unload()
        return
    except OSError as e:
        if e.errno != errno.ENOSYS or env.kexec_tools is None:
            log.warning("could not unload the kexec kernel: %s", e.strerror)
            return
    try:
        run.run([env.kexec_tools, "--unload"], timeout=KEXEC_TOOLS_TIMEOUT)
    except run.CommandError as e:
        log.warning("could not unload the kexec kernel: %s", e)


def execute(
    plan: Plan,
    handler: Handler,
    reader_for: ReaderFor,
    env: Environment,
    *,
    hooks_dir: Path | None,
    before_jump: Callable[[], None],
    progress: Callable[[str], None] | None = None,
) -> Plan:
    """Start ``plan`` with ``handler``: hooks, load, ``before_jump()``, jump.

    Does not return when the jump succeeds.  Any failure before it unloads what was loaded and
    raises :class:`HandoffError` (a hook's veto: :class:`hooks.HookVeto`).  With
    ``env.dry_run`` the hooks run (told so by ``BOOTMENU_DRY_RUN=1``), the files are read,
    checked and put into memfds, but nothing is loaded, ``before_jump`` is not called, and the
    final plan (with the hooks' changes) is returned.

    ``progress``, when given, is called with ``"hooks"``, ``"load"`` and ``"jump"`` as each
    step begins (for the menu's progress screen).
    """
    title = plan.entry.title
    step = progress or (lambda _: None)
    if plan.problems:
        raise HandoffError(f'cannot start "{title}": ' + "; ".join(plan.problems))
    if handler.method is not plan.method:
        raise HandoffError(
            f'cannot start "{title}": a {plan.method.value} plan given to the '
            f"{handler.method.value} handler"
        )

    def undo() -> None:
        handler.undo(env)

    step("hooks")
    plan = _run_hooks(plan, env, hooks_dir)
    log.info("starting %s with %s (%s)", title, plan.method.value, plan.reason)
    step("load")
    try:
        handler.load(plan, reader_for, env)
    except HandoffError:
        if not env.dry_run:
            undo()
        raise
    except (Exception, KeyboardInterrupt) as e:
        if not env.dry_run:
            undo()
        raise HandoffError(f'loading "{title}" failed: {e}') from e
    if env.dry_run:
        log.info("dry run: %s is ready to load; not loading, not jumping", title)
        return plan
    step("jump")
    try:
        before_jump()
    except (Exception, KeyboardInterrupt) as e:
        undo()
        raise HandoffError(
            f'preparing the jump into "{title}" failed: {e}; the loaded kernel was unloaded'
        ) from e
    try:
        syscalls.sync()
        syscalls.reboot(handler.reboot_command)
    except OSError as e:
        undo()
        raise HandoffError(
            f'the jump into "{title}" failed: {e.strerror or e}; the loaded kernel was unloaded'
        ) from e
    undo()
    raise HandoffError(
        f'the running kernel did not jump into "{title}"; the loaded kernel was unloaded'
    )
