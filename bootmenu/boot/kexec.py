"""Starting Linux kernels, UKIs and Multiboot kernels through kexec: the handlers
:func:`kexec_handlers` gives the core (``kexec_file_load``, kexec-tools' ``kexec_load``,
Multiboot through kexec-tools), how they read and check every file of an entry, and how they
load it through sealed memfds.  The steps around them (route, plan, execute) are
:mod:`bootmenu.boot.handoff`'s; docs/handoff.md says which method is chosen when.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Final

from bootmenu.boot.handoff import (
    Environment,
    Handler,
    Method,
    Plan,
    ReaderFor,
    Segment,
    cmdline_segment,
    unique,
)
from bootmenu.errors import ERRORS, FormatError, HandoffError, PathError
from bootmenu.model import BootEntry, ImageInfo, Kind, Module
from bootmenu.system import run, syscalls
from bootmenu.system.fs import VolumeReader
from bootmenu.validate import inspect_image
from efi import pe, uki

log = logging.getLogger(__name__)

# Each initrd but the last is padded with zeros to this alignment when initrds are
# concatenated: the kernel's unpacker finds a cpio archive only at a 4-byte boundary and skips
# the zeros (GRUB pads the same way).
INITRD_ALIGN: Final = 4
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


# -- reading what a boot needs --------------------------------------------------------------


@dataclass(frozen=True)
class _Piece:
    what: str
    source: str
    data: bytes
    module: Module | None = None
    # Computed once, when the piece is read: the plan records it, the load compares it.
    sha256: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha256", hashlib.sha256(self.data).hexdigest())

    def segment(self) -> Segment:
        return Segment(self.what, self.source, len(self.data), self.sha256)


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


# The bytes of the latest plan as they were read and checked.  Its load takes them instead of
# reading the files again: a boot reads each file once, and what is loaded is exactly what was
# checked whatever the disk holds by then.  One plan only (the one a boot follows); a load of
# an older plan reads the files again and compares them with the plan's checksums.
_checked_lock = threading.Lock()
_checked: list[tuple[str, tuple[Segment, ...], _Payload]] = []


def _file_segments(segments: Sequence[Segment]) -> tuple[Segment, ...]:
    return tuple(s for s in segments if s.sha256 is not None)


def _remember(plan: Plan, payload: _Payload) -> None:
    with _checked_lock:
        _checked[:] = [(plan.entry.id, _file_segments(plan.segments), payload)]


def _take_checked(plan: Plan) -> _Payload | None:
    """The checked bytes of ``plan`` when they are still held (given up by this call)."""
    with _checked_lock:
        for entry_id, segments, payload in _checked:
            if entry_id == plan.entry.id and segments == _file_segments(plan.segments):
                _checked.clear()
                return payload
    return None


def _reload(plan: Plan, reader_for: ReaderFor, env: Environment) -> _Payload:
    """The plan's bytes: those read and checked when it was made, or else the files read
    again; HandoffError if any is gone or its bytes changed since they were checked (only the
    checked bytes may be loaded)."""
    held = _take_checked(plan)
    if held is not None:
        return held
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


def initrd_parts(parts: Sequence[bytes]) -> list[bytes]:
    """Initrds as the parts of one file, in order, each but the last followed by the zeros that
    pad it to 4 bytes (written in turn into the memfd: no joined copy)."""
    out: list[bytes] = []
    for i, part in enumerate(parts):
        out.append(part)
        if i < len(parts) - 1 and len(part) % INITRD_ALIGN:
            out.append(b"\0" * (-len(part) % INITRD_ALIGN))
    return out


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


def _build_plan(
    entry: BootEntry,
    payload: _Payload,
    method: Method,
    reason: str,
    problems: Sequence[str],
    notes: Sequence[str],
) -> Plan:
    segments = [p.segment() for p in payload.pieces]
    segments.append(cmdline_segment(payload.cmdline, payload.cmdline_source))
    plan = Plan(
        entry=entry,
        method=method,
        kernel=payload.kernel.source if payload.kernel else entry.kernel,
        initrd=tuple(p.source for p in payload.initrds),
        cmdline=payload.cmdline,
        modules=entry.modules,
        segments=tuple(segments),
        reason=reason,
        problems=unique([*entry.problems, *payload.problems, *problems]),
        notes=unique([*payload.notes, *notes]),
    )
    if not plan.problems:
        _remember(plan, payload)
    return plan


def _plan_kexec(entry: BootEntry, reader_for: ReaderFor, env: Environment) -> Plan:
    payload = _payload(entry, reader_for, env, validate=True)
    method, reason, problems, notes = _kexec_method(payload, env)
    return _build_plan(entry, payload, method, reason, problems, notes)


def _proc_path(fd: int) -> str:
    """A path through which another process (kexec-tools) can open our descriptor ``fd``."""
    return f"/proc/{os.getpid()}/fd/{fd}"


@contextmanager
def _memfds() -> Iterator[Callable[[str, bytes | Sequence[bytes]], int]]:
    """A factory of sealed memfds, all closed when the block ends."""
    with ExitStack() as stack:

        def make(name: str, data: bytes | Sequence[bytes]) -> int:
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
            memfd("initrd", initrd_parts([p.data for p in payload.initrds]))
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


def kexec_handlers() -> tuple[Handler, ...]:
    """The handlers that start Linux, UKIs and Multiboot kernels, in the order they are tried."""
    return (KexecFileLoad(), KexecLoad(), Multiboot())


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
