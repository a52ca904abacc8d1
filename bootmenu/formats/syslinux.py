"""syslinux / extlinux / isolinux configuration files (and U-Boot's extlinux.conf dialect).

The format is described in syslinux's ``doc/syslinux.txt`` and ``doc/menu.txt``: one keyword per
line, keywords case-insensitive, ``#`` starts a comment line.  A ``LABEL`` opens an entry whose
image defaults to the label name; ``KERNEL`` picks the loader by file extension (``.c32`` COM32
module, ``.0`` PXE, ``.bs``/``.bin`` boot sector, ``.bss``, ``.com``/``.cbt`` COMBOOT, ``.img``
floppy image, anything else a Linux kernel) while ``LINUX``, ``COM32``, ``BOOT``… force the type.
An ``APPEND`` before the first ``LABEL`` is the default for labels that have none; ``APPEND -``
means "no options".  The working directory is the directory of the main configuration file:
relative paths (``INCLUDE`` files too) resolve against it, absolute ones against the filesystem
root.

The ``DEFAULT`` label wins over ``MENU DEFAULT`` (menu.c32 applies the global default after all
labels are recorded), and a ``MENU DEFAULT`` inside ``MENU BEGIN … MENU END`` is only that
submenu's default; a ``DEFAULT`` naming no label is a command line (kernel and options) that
syslinux boots as if typed at the prompt, unless it starts a menu module or ``IMPLICIT 0`` says
only labels boot.

U-Boot reads the same files (``extlinux.conf``) and adds ``FDT``/``DEVICETREE``, ``FDTDIR`` and
``FDTOVERLAYS``; those are recorded on the label.

Pure code: files named by ``INCLUDE`` are read through the injected ``read`` callable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bootmenu.errors import ERRORS
from bootmenu.model import Module

# Deepest INCLUDE / MENU INCLUDE nesting followed (a file including itself is caught earlier).
MAX_INCLUDE_DEPTH = 16
# Files read by INCLUDE in all: files that include each other would be read once for each
# order of them (a loop is only cut on one chain of includes).
MAX_INCLUDES = 64

# Kernel types (SyslinuxLabel.kernel_type).
LINUX = "linux"
MULTIBOOT = "multiboot"
COM32 = "com32"
LOCALBOOT = "localboot"
CHAIN = "chain"
OTHER = "other"

# Keywords that name the image of a label, and the type each forces (None: by extension).
_IMAGE_KEYWORDS: dict[str, str | None] = {
    "kernel": None,
    "linux": LINUX,
    "com32": COM32,
    "boot": OTHER,
    "bss": OTHER,
    "pxe": OTHER,
    "fdimage": OTHER,
    "comboot": OTHER,
    "config": OTHER,
}

# File extensions KERNEL looks at (doc/syslinux.txt, "OTHER OPERATING SYSTEMS").
_OTHER_EXTENSIONS = (".0", ".bin", ".bs", ".bss", ".com", ".cbt", ".img")

# COM32 modules that are menus (a DEFAULT naming one of them starts the menu UI).
_MENU_MODULES = ("menu.c32", "vesamenu.c32")

# Keywords read and deliberately ignored (display, console, PXE, menu layout…).
_IGNORED = frozenset(
    {
        "say",
        "display",
        "font",
        "kbdmap",
        "serial",
        "console",
        "noescape",
        "nocomplete",
        "nohalt",
        "allowoptions",
        "onerror",
        "path",
        "ipappend",
        "sysappend",
        "sendcookies",
        "pxeretry",
        "endtext",
        "kaslrseed",
    }
    | {f"f{n}" for n in range(1, 13)}
)


@dataclass(frozen=True)
class SyslinuxLabel:
    """One ``LABEL`` block."""

    name: str  # LABEL name
    menu_label: str | None  # MENU LABEL (with ^ accelerator marks removed)
    kernel: str | None  # path with a leading '/', resolved against the config's directory
    kernel_type: str  # "linux" | "multiboot" | "com32" | "localboot" | "chain" | "other"
    initrd: tuple[str, ...]  # INITRD a,b,c and initrd= in APPEND (comma lists), resolved
    append: str  # APPEND without initrd=…; "-" means none
    modules: tuple[Module, ...]  # mboot.c32: APPEND xen.gz args --- vmlinuz args --- initrd.img
    menu_default: bool
    hidden: bool  # MENU HIDE
    problems: tuple[str, ...]
    # U-Boot: FDT / DEVICETREE file, FDTDIR directory, FDTOVERLAYS files (all resolved).
    devicetree: str | None = None
    fdtdir: str | None = None
    fdt_overlays: tuple[str, ...] = ()
    # Titles of the MENU BEGIN submenus the label sits in, outermost first.
    submenu: tuple[str, ...] = ()


@dataclass(frozen=True)
class SyslinuxConfig:
    labels: tuple[SyslinuxLabel, ...]
    default: str | None  # DEFAULT label (or MENU DEFAULT label); may be a kernel command line
    timeout: float | None  # seconds (TIMEOUT is in 1/10 s; 0 = wait forever -> None)
    prompt: bool
    warnings: tuple[str, ...]
    total_timeout: float | None = None  # TOTALTIMEOUT in seconds (not cancelled by a key press)
    ontimeout: str | None = None  # ONTIMEOUT: label or command line booted when the time is up
    ui: str | None = None  # UI module (menu.c32, vesamenu.c32…) or None for the boot: prompt
    title: str | None = None  # top-level MENU TITLE


@dataclass
class _Label:
    """A label while it is being read (mutable)."""

    name: str
    origin: str
    submenu: tuple[str, ...]
    image: str | None = None  # KERNEL/LINUX/… argument, with any inline options
    forced_type: str | None = None
    localboot: bool = False
    append: str | None = None
    initrd: str | None = None
    menu_label: str | None = None
    menu_default: bool = False
    hidden: bool = False
    navigation: bool = False  # MENU EXIT / GOTO / QUIT: a menu action, nothing to boot
    devicetree: str | None = None
    fdtdir: str | None = None
    fdt_overlays: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class _State:
    config_dir: str
    read: Callable[[str], str | None]
    labels: list[_Label] = field(default_factory=list)
    current: _Label | None = None
    submenus: list[str] = field(default_factory=list)
    global_append: str | None = None
    default: str | None = None
    ui: str | None = None
    timeout: float | None = None
    total_timeout: float | None = None
    ontimeout: str | None = None
    prompt: bool = False
    title: str | None = None
    implicit: bool = True  # IMPLICIT 0: only labels boot, never a bare kernel name
    warnings: list[str] = field(default_factory=list)
    includes: int = 0  # files read by INCLUDE so far


def parse(text: str, config_path: str, read: Callable[[str], str | None]) -> SyslinuxConfig:
    """Parse a syslinux configuration file.

    ``config_path`` is the file's path inside its filesystem (with a leading ``/``); its
    directory is the working directory relative paths resolve against.  ``read(path)`` returns
    the text of an ``INCLUDE``d file or None when it does not exist.
    """
    config_path = "/" + config_path.lstrip("/")
    config_dir = resolve("/", config_path.rsplit("/", 1)[0])[0] or "/"
    state = _State(config_dir=config_dir, read=read)
    _parse_file(state, text, config_path, chain=(config_path,))
    _finish_label(state)

    labels = tuple(_build(state, lab) for lab in state.labels if not lab.navigation)
    seen: set[str] = set()
    for lab in labels:
        if lab.name in seen:
            state.warnings.append(f"label {lab.name!r} is defined more than once; the first wins")
        seen.add(lab.name)
    default = _default(state, labels)
    if default is not None and default not in {lab.name for lab in labels} and not state.implicit:
        # IMPLICIT 0 (doc/syslinux.txt): a name that is no LABEL is not loaded as a kernel.
        state.warnings.append(
            f"DEFAULT {default} names no label, and IMPLICIT 0 boots only labels; no default"
        )
        default = None
    if default is not None and default not in {lab.name for lab in labels}:
        # DEFAULT is a command line typed at the boot: prompt; offer it as an entry of its own.
        implicit = _Label(name=default, origin=f"{config_path} DEFAULT", submenu=(), image=default)
        labels += (_build(state, implicit),)
    return SyslinuxConfig(
        labels=labels,
        default=default,
        timeout=state.timeout,
        prompt=state.prompt,
        warnings=tuple(state.warnings),
        total_timeout=state.total_timeout,
        ontimeout=state.ontimeout,
        ui=state.ui,
        title=state.title,
    )


def _parse_file(state: _State, text: str, path: str, chain: tuple[str, ...]) -> None:
    """Read one file; ``chain`` lists the files being read, outermost first, ending in it."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        lineno = i + 1
        line = lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = _split(line)
        where = f"{path} line {lineno}"
        if keyword == "text":
            # TEXT HELP … ENDTEXT: help text shown by the menu, skipped here.
            while i < len(lines) and _split(lines[i].strip())[0] != "endtext":
                i += 1
            i += 1
            continue
        if keyword == "menu":
            _menu(state, rest, where, chain)
        elif keyword == "include":
            _include(state, rest, where, chain)
        else:
            _keyword(state, keyword, rest, where)


def _split(line: str) -> tuple[str, str, str]:
    """Split ``KEYWORD rest`` into the lower-cased keyword, separator and rest."""
    parts = line.split(None, 1)
    if not parts:
        return "", "", ""
    return parts[0].lower(), " ", parts[1].strip() if len(parts) > 1 else ""


def _keyword(state: _State, keyword: str, rest: str, where: str) -> None:
    cur = state.current
    if keyword == "label":
        _finish_label(state)
        # syslinux keeps the first word, U-Boot the whole line ("Fedora Linux (6.5…) 39"):
        # the whole line works for both, as DEFAULT matches either.
        name = " ".join(rest.split())
        if not name:
            state.warnings.append(f"{where}: LABEL without a name is ignored")
            return
        state.current = _Label(name=name, origin=where, submenu=tuple(state.submenus))
    elif keyword in _IMAGE_KEYWORDS:
        if cur is None:
            state.warnings.append(f"{where}: {keyword.upper()} outside a LABEL is ignored")
            return
        cur.image = rest
        cur.forced_type = _IMAGE_KEYWORDS[keyword]
        cur.localboot = False
    elif keyword == "localboot":
        if cur is None:
            state.warnings.append(f"{where}: LOCALBOOT outside a LABEL is ignored")
            return
        cur.localboot = True
        cur.image = rest
    elif keyword == "append":
        if cur is None:
            state.global_append = rest
        else:
            cur.append = rest
    elif keyword == "initrd":
        if cur is not None:
            cur.initrd = rest
    elif keyword in ("fdt", "devicetree"):
        if cur is not None:
            cur.devicetree = rest
    elif keyword in ("fdtdir", "devicetreedir"):
        if cur is not None:
            cur.fdtdir = rest
    elif keyword in ("fdtoverlays", "devicetree-overlay"):
        if cur is not None:
            cur.fdt_overlays = rest
    elif keyword == "default":
        state.default = rest or None
    elif keyword == "ui":
        state.ui = rest or None
    elif keyword in ("timeout", "totaltimeout"):
        seconds = _tenths(rest, where, state.warnings)
        if keyword == "timeout":
            state.timeout = seconds
        else:
            state.total_timeout = seconds
    elif keyword == "ontimeout":
        state.ontimeout = rest or None
    elif keyword == "prompt":
        state.prompt = (_int(rest) or 0) != 0
    elif keyword == "implicit":
        state.implicit = (_int(rest) or 0) != 0
    elif keyword not in _IGNORED:
        state.warnings.append(f"{where}: unknown keyword {keyword.upper()!r} is ignored")


def _menu(state: _State, rest: str, where: str, chain: tuple[str, ...]) -> None:
    sub, _, arg = _split(rest)
    cur = state.current
    if sub == "label":
        if cur is not None:
            cur.menu_label = arg.replace("^", "")
        elif state.submenus:
            state.submenus[-1] = arg.replace("^", "")
    elif sub == "default":
        if cur is not None:
            cur.menu_default = True
    elif sub == "hide":
        if cur is not None:
            cur.hidden = True
    elif sub == "title":
        if state.submenus:
            # A submenu's title names it unless MENU LABEL already did.
            if state.submenus[-1].startswith("\0"):
                state.submenus[-1] = arg.replace("^", "")
        else:
            state.title = arg
    elif sub == "begin":
        _finish_label(state)
        # Placeholder name until MENU LABEL / MENU TITLE give one ("\0" marks it unnamed).
        state.submenus.append("\0" + (arg or "submenu"))
    elif sub == "end":
        _finish_label(state)
        if state.submenus:
            state.submenus.pop()
        else:
            state.warnings.append(f"{where}: MENU END without MENU BEGIN is ignored")
    elif sub in ("exit", "goto", "quit"):
        if cur is not None:
            cur.navigation = True
    elif sub == "include":
        _include(state, arg, where, chain)
    elif sub == "separator":
        _finish_label(state)
    # Colours, geometry, passwords, backgrounds… do not change what boots.


def _include(state: _State, rest: str, where: str, chain: tuple[str, ...]) -> None:
    words = rest.split()
    if not words:
        state.warnings.append(f"{where}: INCLUDE without a file name is ignored")
        return
    path, problem = resolve(state.config_dir, words[0])
    if path is None:
        state.warnings.append(f"{where}: INCLUDE {words[0]}: {problem}")
        return
    if path in chain:
        state.warnings.append(f"{where}: INCLUDE {path} includes itself (a loop); not read again")
        return
    if len(chain) > MAX_INCLUDE_DEPTH:
        state.warnings.append(
            f"{where}: INCLUDE {path} is nested more than {MAX_INCLUDE_DEPTH} deep; not read"
        )
        return
    if state.includes >= MAX_INCLUDES:
        state.warnings.append(
            f"{where}: INCLUDE {path}: more than {MAX_INCLUDES} files are included in all; not read"
        )
        return
    state.includes += 1
    try:
        text = state.read(path)
    except ERRORS as exc:
        state.warnings.append(f"{where}: INCLUDE {path} could not be read: {exc}")
        return
    if text is None:
        state.warnings.append(f"{where}: INCLUDE {path} does not exist")
        return
    _parse_file(state, text, path, (*chain, path))


def _finish_label(state: _State) -> None:
    if state.current is not None:
        state.labels.append(state.current)
        state.current = None


def _tenths(value: str, where: str, warnings: list[str]) -> float | None:
    number = _int(value)
    if number is None or number < 0:
        warnings.append(f"{where}: {value!r} is not a timeout in tenths of a second")
        return None
    return number / 10 if number else None


def _int(value: str) -> int | None:
    """``atoi``-like: the leading decimal digits of the first word, or None."""
    word = value.split()[0] if value.split() else ""
    digits = ""
    for ch in word.lstrip("+"):
        if not ch.isdigit():
            break
        digits += ch
    return int(digits) if digits and digits.isascii() else None


def resolve(base_dir: str, path: str) -> tuple[str | None, str | None]:
    """Resolve ``path`` against ``base_dir`` lexically.

    Returns ``(path, None)`` with a normalised absolute path, or ``(None, problem)`` when the
    path would leave the filesystem through ``..``.
    """
    parts: list[str] = []
    joined = path if path.startswith("/") else f"{base_dir}/{path}"
    for part in joined.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None, f"path {path!r} goes above the root of its filesystem"
            parts.pop()
        else:
            parts.append(part)
    return "/" + "/".join(parts), None


def _kernel_type(image: str) -> str:
    name = image.rsplit("/", 1)[-1].lower()
    if name.endswith(".c32"):
        if name == "mboot.c32":
            return MULTIBOOT
        if name == "chain.c32":
            return CHAIN
        return COM32
    if name.endswith(_OTHER_EXTENSIONS):
        return OTHER
    return LINUX


def _build(state: _State, lab: _Label) -> SyslinuxLabel:
    problems: list[str] = []

    def res(path: str, what: str) -> str | None:
        resolved, problem = resolve(state.config_dir, path)
        if problem:
            problems.append(f"{what}: {problem}")
        return resolved

    append = lab.append if lab.append is not None else (state.global_append or "")
    if append.strip() == "-":
        append = ""

    kernel: str | None
    modules: tuple[Module, ...] = ()
    initrd: list[str] = []
    if lab.localboot:
        kernel, ktype = None, LOCALBOOT
        words: list[str] = []
    else:
        # The image defaults to the label name; options after it come before APPEND's.
        words = (lab.image if lab.image is not None else lab.name).split()
        if not words:
            problems.append(f"{lab.origin}: label {lab.name!r} names no image to boot")
            kernel, ktype = None, lab.forced_type or OTHER
        else:
            ktype = lab.forced_type or _kernel_type(words[0])
            if lab.forced_type == COM32:
                ktype = _kernel_type(words[0]) if words[0].lower().endswith(".c32") else COM32
            kernel = res(words[0], "kernel")
    options = " ".join([*words[1:], *append.split()])

    if ktype == MULTIBOOT:
        kernel, options, modules = _mboot(options, lab, problems, res)
    else:
        if lab.initrd:
            initrd.extend(_initrd_list(lab.initrd, res))
        kept: list[str] = []
        for word in options.split():
            if word.lower().startswith("initrd="):
                initrd.extend(_initrd_list(word[len("initrd=") :], res))
            else:
                kept.append(word)
        options = " ".join(kept)
    initrd = list(dict.fromkeys(initrd))
    if initrd and ktype not in (LINUX, OTHER):
        problems.append(f"initrd is given, but {ktype} images do not take one")

    overlays: list[str] = []
    for item in (lab.fdt_overlays or "").split():
        overlay = res(item, "FDTOVERLAYS")
        if overlay is not None:
            overlays.append(overlay)

    return SyslinuxLabel(
        name=lab.name,
        menu_label=lab.menu_label,
        kernel=kernel,
        kernel_type=ktype,
        initrd=tuple(initrd),
        append=options,
        modules=modules,
        menu_default=lab.menu_default,
        hidden=lab.hidden,
        problems=tuple(problems),
        devicetree=res(lab.devicetree.split()[0], "FDT") if lab.devicetree else None,
        fdtdir=res(lab.fdtdir.split()[0], "FDTDIR") if lab.fdtdir else None,
        fdt_overlays=tuple(overlays),
        submenu=tuple(s.lstrip("\0") for s in lab.submenu),
    )


def _initrd_list(value: str, res: Callable[[str, str], str | None]) -> list[str]:
    out: list[str] = []
    for item in value.split(","):
        item = item.strip()
        if item:
            path = res(item, "initrd")
            if path is not None:
                out.append(path)
    return out


def _mboot(
    options: str,
    lab: _Label,
    problems: list[str],
    res: Callable[[str, str], str | None],
) -> tuple[str | None, str, tuple[Module, ...]]:
    """mboot.c32: ``APPEND kernel args --- module args --- module args``.

    Returns the Multiboot kernel, its command line and the modules.
    """
    chunks: list[list[str]] = [[]]
    for word in options.split():
        if word == "---":
            chunks.append([])
        else:
            chunks[-1].append(word)
    if not chunks[0]:
        problems.append(f"{lab.origin}: mboot.c32 needs the Multiboot kernel in APPEND")
        return None, "", ()
    kernel = res(chunks[0][0], "Multiboot kernel")
    modules: list[Module] = []
    for chunk in chunks[1:]:
        if not chunk:
            problems.append(f"{lab.origin}: empty module between '---' separators")
            continue
        path = res(chunk[0], "module")
        if path is not None:
            modules.append(Module(path=path, cmdline=" ".join(chunk[1:])))
    return kernel, " ".join(chunks[0][1:]), tuple(modules)


def _default(state: _State, labels: tuple[SyslinuxLabel, ...]) -> str | None:
    names = {lab.name for lab in labels}
    if state.default is not None:
        if state.default in names:
            return state.default
        first = state.default.split()[0]
        for name in names:
            if name.split()[0] == first:
                return name
    # MENU DEFAULT inside MENU BEGIN … MENU END is that submenu's default (menu.c32 gives each
    # menu its own); the top-level menu's default is one marked outside any submenu.
    marked = [lab.name for lab in labels if lab.menu_default and not lab.submenu]
    if marked:
        return marked[-1]
    menu = state.ui is not None or (
        state.default is not None
        and state.default.split()[0].rsplit("/", 1)[-1].lower() in _MENU_MODULES
    )
    if menu:
        # The menu starts on its first entry.
        visible = [lab.name for lab in labels if not lab.hidden and not lab.submenu]
        return visible[0] if visible else None
    return state.default
