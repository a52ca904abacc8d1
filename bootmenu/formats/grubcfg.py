"""An interpreter for the part of GRUB 2's script language that generated ``grub.cfg`` files use.

GRUB does not read its configuration, it runs it: ``grub-mkconfig`` output decides the default
entry with ``if`` tests on variables loaded from ``grubenv``, sets ``$root`` with ``search``,
builds menu entries inside ``if`` blocks and submenus, and Fedora's ``blscfg`` command makes
entries out of Boot Loader Specification files at run time.  So this module runs it too, the way
GRUB does (``grub-core/script/yylex.l``, ``parser.y``, ``execute.c``, ``normal/menu.c``), with
every side effect replaced by a call to a :class:`GrubFiles` object the caller provides.

What it runs:

* The lexer of GRUB: words glued from unquoted, ``'single'`` and ``"double"`` quoted parts,
  backslash escapes (``\\xNN`` kept as written, as Fedora's and RHEL's GRUB keep it),
  ``$var``/``${var}`` (split into several words when unquoted, never inside
  single quotes), ``#`` comments, ``;`` and newlines, ``{ }``.
* ``if``/``elif``/``else``/``fi``, ``for``, ``while``/``until``, ``function``, ``menuentry`` and
  ``submenu``, ``name=value``, ``set``/``unset``/``export``, ``[``/``test``, ``true``/``false``,
  ``search``, ``source``/``configfile``, ``load_env``, ``blscfg``, ``eval``, ``return``,
  ``break``/``continue``/``shift``/``setparams``.
* Inside menu entries the loader commands (``linux``/``linuxefi``/``linux16``, ``initrd*``,
  ``multiboot``/``multiboot2``, ``module``/``module2``, ``chainloader``, ``devicetree``) are
  recorded into a :class:`GrubEntry`.

Menu entries are run the way GRUB runs them when one is chosen: after the whole file, on a copy
of the final variables; a submenu's body runs in a new context that only sees exported
variables.  Commands GRUB has but that only change the screen, load modules or save state
(``insmod``, ``terminal_output``, ``echo``, ``save_env``…) do nothing; unknown commands fail
with a warning.  Nothing here raises: syntax errors cost the broken statement (a broken menu
entry is still listed, with the error as its problem), loops and recursion are cut off with a
warning.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NoReturn, Protocol

from bootmenu.errors import FormatError
from bootmenu.formats import bls
from bootmenu.formats.grubenv import parse_grubenv
from bootmenu.model import Module

__all__ = ["GrubConfig", "GrubEntry", "GrubFiles", "interpret"]


class GrubFiles(Protocol):
    """How the interpreter reaches files.  ``device`` is a device token (what ``search``
    returned, the ``root`` given to :func:`interpret`, or a GRUB device name such as
    ``hd0,gpt2`` that the configuration named itself); None when no device is known.
    ``path`` always starts with ``/``."""

    def read(self, device: str | None, path: str) -> bytes | None:
        """The file's contents; None when it is missing or cannot be read."""
        ...

    def exists(self, device: str | None, path: str) -> bool:
        """Whether a file or a directory of that name exists."""
        ...

    def listdir(self, device: str | None, path: str) -> Sequence[str] | None:
        """The names in a directory; None when it is not a directory."""
        ...

    def search(self, how: str, value: str) -> str | None:
        """``how`` is ``fs-uuid``, ``label`` or ``file``; the device token found, or None."""
        ...


@dataclass(frozen=True)
class GrubEntry:
    """One bootable item of the menu, as GRUB would run it when chosen.

    ``path`` are the titles of the enclosing submenus and the entry's own; ``index`` the
    positions as GRUB numbers them (an entry that GRUB drops because of a syntax error is still
    listed here, with the problem, and shares its number with the entry after it).  ``cmdline``
    (and each module's) is the arguments after the file name, joined as GRUB joins them; GRUB
    itself puts ``BOOT_IMAGE=<kernel>`` in front of a Linux command line, which is not done
    here.  ``root`` is the device the kernel (or chainloaded file) is on.
    """

    title: str
    id: str | None
    path: tuple[str, ...]
    index: tuple[int, ...]
    kind: str  # "linux" | "multiboot" | "multiboot2" | "chainloader" | "none"
    root: str | None
    kernel: str | None
    initrd: tuple[str, ...]
    cmdline: str
    modules: tuple[Module, ...]
    chainloader: str | None
    command: str | None
    bls_id: str | None
    problems: tuple[str, ...]
    # Parallel to ``modules``: whether GRUB would decompress the module (no ``--nounzip``).
    module_unzip: tuple[bool, ...] = ()
    devicetree: str | None = None
    # "fwsetup", "reboot" or "halt" for entries that do that instead of booting.
    action: str | None = None
    classes: tuple[str, ...] = ()
    # The configuration file (path on its device) that defined the entry.
    origin: str | None = None


@dataclass(frozen=True)
class GrubConfig:
    """The menu a configuration produces.

    ``entries`` are in menu order with submenu children in place (submenus themselves are not
    entries).  ``default`` is what GRUB would boot when nobody touches a key; ``timeout`` is
    None when GRUB waits for ever.  ``env`` are the top-level variables after the run.
    """

    entries: tuple[GrubEntry, ...]
    default: GrubEntry | None
    timeout: int | None
    env: Mapping[str, str]
    warnings: tuple[str, ...]
    timeout_style: str | None = None  # "menu", "countdown" or "hidden"


# --------------------------------------------------------------------------------------------
# Limits that keep a hostile or broken configuration from running for ever.

MAX_PARSE_DEPTH = 32  # nested blocks in one file
# Parsing work (statements parsed, words read, tokens skipped to recover from an error) for
# each token of a file: recovery reads the statements after a broken one again, which for a
# file of nothing but unclosed blocks is quadratic in its length.
PARSE_WORK_PER_TOKEN = 2
PARSE_WORK_MIN = 20_000
MAX_EXEC_DEPTH = 60  # nested blocks + function calls + sourced files while running
MAX_STEPS = 20_000  # commands run for the top level, or for one menu entry
MAX_TOTAL_STEPS = 400_000  # commands run for the whole configuration
MAX_SOURCE_BYTES = 4 * 1024 * 1024
# Memory: one variable's value, and every byte assigned to variables over the whole run (GRUB
# has neither limit; ``while true; do set a="$a$a"; done`` would fill the machine's memory).
MAX_VALUE = 64 * 1024
MAX_ASSIGNED = 16 * 1024 * 1024
# Every byte of the files the run reads (source, configfile, load_env, blscfg, [ -s ]): a loop
# that sources a large file again and again stops here, not after an hour.
MAX_READ = 16 * 1024 * 1024
# How many commands run between two looks at the caller's deadline.
DEADLINE_EVERY = 256

_KEYWORDS = frozenset(
    {
        "if",
        "then",
        "elif",
        "else",
        "fi",
        "for",
        "in",
        "do",
        "done",
        "while",
        "until",
        "function",
        "menuentry",
        "submenu",
        "!",
    }
)
_BLANKS = " \t\r\f\v"
_WORD_END = frozenset(" \t\r\f\v\n;{}|&<>")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DIGITS = re.compile(r"[0-9]+")
_FIELDS = re.compile(r"[^ \t\n\r\f\v]+")
_HEX_ESCAPE = re.compile(r"\\x[0-9A-Fa-f]{2}")
_CMDLINE_SPECIAL = re.compile(r"\\x[0-9A-Fa-f]{2}|[\\'\"]")
_VALID_NAME = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+|[?#*@])\Z")

_FEATURES = (
    "feature_chainloader_bpb",
    "feature_ntldr",
    "feature_platform_search_hint",
    "feature_default_font_path",
    "feature_all_video_module",
    "feature_menuentry_id",
    "feature_menuentry_options",
    "feature_200_final",
    "feature_nativedisk_cmd",
    "feature_timeout_style",
)

# Commands GRUB has that change nothing bootmenu cares about: they succeed and are skipped.
_IGNORED = frozenset(
    {
        "acpi",
        "background_color",
        "background_image",
        "badram",
        "boot",
        "cat",
        "clear",
        "cryptomount",
        "cutmem",
        "distrust",
        "drivemap",
        "echo",
        "efi_gop",
        "efi_uga",
        "gettext",
        "gfxterm_background_color",
        "gfxterm_background_image",
        "help",
        "insmod",
        "keymap",
        "loadfont",
        "ls",
        "lsfonts",
        "lsmod",
        "nativedisk",
        "net_bootp",
        "normal_exit",
        "outb",
        "pager",
        "parttool",
        "password",
        "password_pbkdf2",
        "play",
        "rmmod",
        "save_env",
        "serial",
        "setpci",
        "sleep",
        "terminal",
        "terminal_input",
        "terminal_output",
        "terminfo",
        "trust",
        "usb",
        "verify_detached",
        "videoinfo",
        "cpuid",
    }
)
# Commands that exist but report failure here: no key is held down, no hardware list matches.
_FAILING = frozenset({"keystatus", "hwmatch"})
# Loaders bootmenu cannot start.
_FOREIGN_LOADERS = frozenset(
    {
        "appleloader",
        "freedos",
        "kfreebsd",
        "knetbsd",
        "kopenbsd",
        "legacy_kernel",
        "ntldr",
        "plan9",
        "truecrypt",
        "xnu_kernel",
        "xnu_kernel64",
    }
)
_LINUX = frozenset({"linux", "linuxefi", "linux16"})
_INITRD = frozenset({"initrd", "initrdefi", "initrd16"})
_MENU_OPTIONS_WITH_VALUE = frozenset({"class", "users", "hotkey", "source", "id"})
# search.fs_uuid UUID [VARIABLE] and friends, with the names older GRUBs used.
_SEARCH_ALIASES = {
    "search.fs_uuid": "fs-uuid",
    "search_fs_uuid": "fs-uuid",
    "search.fs_label": "label",
    "search_label": "label",
    "search.file": "file",
    "search_fs_file": "file",
}


# --------------------------------------------------------------------------------------------
# Lexer


@dataclass(frozen=True)
class _Part:
    kind: str  # "lit", "sq", "dq" (quoted text), "var", "dqvar" (a variable, unquoted/quoted)
    text: str


@dataclass(frozen=True)
class _Tok:
    kind: str  # "word", "nl", "semi", "lbrace", "rbrace", "op", "error", "eof"
    line: int
    col: int
    bol: bool  # the first token on its line
    parts: tuple[_Part, ...] = ()
    text: str = ""  # the operator, or the error message

    @property
    def keyword(self) -> str | None:
        if self.kind == "word" and len(self.parts) == 1 and self.parts[0].kind == "lit":
            text = self.parts[0].text
            if text in _KEYWORDS:
                return text
        return None

    def describe(self) -> str:
        if self.kind == "word":
            return repr("".join(p.text for p in self.parts))
        return {
            "nl": "end of line",
            "semi": "';'",
            "lbrace": "'{'",
            "rbrace": "'}'",
            "eof": "end of file",
        }.get(self.kind, repr(self.text))


class _Lexer:
    def __init__(self, text: str) -> None:
        self.s = text
        self.n = len(text)
        self.i = 0
        self.line = 1
        self.line_start = 0
        self.last_line = 0  # line of the last token produced
        self.col_at = (0, 0)  # (position, its column) of the last column computed
        self.toks: list[_Tok] = []

    def _newline_at(self, pos: int) -> None:
        self.line += 1
        self.line_start = pos + 1

    def _col(self, pos: int) -> int:
        """The column of ``pos``, tabs every 8 columns (counted on from the last token of the
        same line, so long lines cost linear time)."""
        if self.col_at[0] < self.line_start or self.col_at[0] > pos:
            self.col_at = (self.line_start, 0)
        start, col = self.col_at
        for c in self.s[start:pos]:
            col = (col // 8 + 1) * 8 if c == "\t" else col + 1
        self.col_at = (pos, col)
        return col

    def _emit(
        self, kind: str, line: int, col: int, parts: tuple[_Part, ...] = (), text: str = ""
    ) -> None:
        bol = line != self.last_line
        self.last_line = line
        self.toks.append(_Tok(kind, line, col, bol, parts, text))

    def run(self) -> list[_Tok]:
        s = self.s
        while True:
            while self.i < self.n:
                c = s[self.i]
                if c in _BLANKS:
                    self.i += 1
                elif c == "\\" and self.i + 1 < self.n and s[self.i + 1] == "\n":
                    self._newline_at(self.i + 1)
                    self.i += 2
                else:
                    break
            if self.i >= self.n:
                self._emit("eof", self.line + 1, 0)
                return self.toks
            start = self.i
            line, col = self.line, self._col(start)
            c = s[start]
            if c == "#":
                end = s.find("\n", start)
                self.i = self.n if end < 0 else end
            elif c == "\n":
                self._emit("nl", line, col)
                self.last_line = line
                self._newline_at(start)
                self.i += 1
            elif c == ";":
                self._emit("semi", line, col)
                self.i += 1
            elif c == "{":
                self._emit("lbrace", line, col)
                self.i += 1
            elif c == "}":
                self._emit("rbrace", line, col)
                self.i += 1
            elif c in "|&<>":
                op = c * 2 if s.startswith(c * 2, start) else c
                self._emit("op", line, col, text=op)
                self.i += len(op)
            else:
                parts, error = self._word()
                if parts:
                    self._emit("word", line, col, parts=tuple(parts))
                if error is not None:
                    self._emit("error", line, col, text=error)
                    # Carry on after the line the broken quote started on.
                    end = s.find("\n", start)
                    self.i = self.n if end < 0 else end
                    self.line = line
                    self.line_start = s.rfind("\n", 0, start) + 1

    def _word(self) -> tuple[list[_Part], str | None]:
        s = self.s
        parts: list[_Part] = []
        buf: list[str] = []

        def flush() -> None:
            if buf:
                parts.append(_Part("lit", "".join(buf)))
                buf.clear()

        while self.i < self.n:
            c = s[self.i]
            if c in _WORD_END:
                break
            if c == "\\":
                if self.i + 1 >= self.n:
                    self.i += 1
                    break
                nxt = s[self.i + 1]
                if nxt == "\n":
                    self._newline_at(self.i + 1)
                elif _HEX_ESCAPE.match(s, self.i):
                    # Fedora's and RHEL's GRUB keep \xNN as written (dracut decodes it in
                    # LABEL=CentOS\x207\x20x86_64); the configurations that use it are theirs.
                    buf.append(s[self.i : self.i + 4])
                    self.i += 2
                else:
                    buf.append(nxt)
                self.i += 2
            elif c == "'":
                end = s.find("'", self.i + 1)
                if end < 0:
                    flush()
                    return parts, "unterminated single quote"
                flush()
                text = s[self.i + 1 : end]
                self._count_lines(self.i, end)
                parts.append(_Part("sq", text))
                self.i = end + 1
            elif c == '"' or (c == "$" and s.startswith('"', self.i + 1)):
                flush()
                self.i += 2 if c == "$" else 1
                if not self._dquote(parts):
                    return parts, "unterminated double quote"
            elif c == "$":
                var = self._variable()
                if var is None:
                    buf.append("$")
                    self.i += 1
                else:
                    flush()
                    parts.append(_Part("var", var))
            else:
                buf.append(c)
                self.i += 1
        flush()
        return parts, None

    def _count_lines(self, start: int, end: int) -> None:
        pos = self.s.find("\n", start, end)
        while pos >= 0:
            self._newline_at(pos)
            pos = self.s.find("\n", pos + 1, end)

    def _dquote(self, parts: list[_Part]) -> bool:
        """Read a double-quoted string (after the quote); False when it never ends."""
        s = self.s
        buf: list[str] = []
        while self.i < self.n:
            c = s[self.i]
            if c == '"':
                parts.append(_Part("dq", "".join(buf)))
                self.i += 1
                return True
            if c == "\\" and self.i + 1 < self.n and s[self.i + 1] in '$\\"\n':
                if s[self.i + 1] == "\n":
                    self._newline_at(self.i + 1)
                else:
                    buf.append(s[self.i + 1])
                self.i += 2
            elif c == "$":
                var = self._variable()
                if var is None:
                    buf.append("$")
                    self.i += 1
                else:
                    parts.append(_Part("dq", "".join(buf)))
                    buf.clear()
                    parts.append(_Part("dqvar", var))
            else:
                if c == "\n":
                    self._newline_at(self.i)
                buf.append(c)
                self.i += 1
        return False

    def _variable(self) -> str | None:
        """At a ``$``: the variable name (and move past it), or None for a literal ``$``."""
        s = self.s
        j = self.i + 1
        if j < self.n and s[j] == "{":
            end = s.find("}", j + 1)
            if end < 0:
                return None
            name = s[j + 1 : end]
            if not _VALID_NAME.match(name):
                return None
            self.i = end + 1
            return name
        m = _NAME.match(s, j) or _DIGITS.match(s, j)
        if m:
            self.i = m.end()
            return m.group(0)
        if j < self.n and s[j] in "?#*@":
            self.i = j + 1
            return s[j]
        return None


# --------------------------------------------------------------------------------------------
# Parser


@dataclass(frozen=True)
class _Cmd:
    words: tuple[_Tok, ...]
    file: str
    line: int
    negate: bool = False


@dataclass(frozen=True)
class _If:
    branches: tuple[tuple[tuple[_Node, ...], tuple[_Node, ...]], ...]
    orelse: tuple[_Node, ...] | None


@dataclass(frozen=True)
class _For:
    var: str
    words: tuple[_Tok, ...]
    body: tuple[_Node, ...]


@dataclass(frozen=True)
class _While:
    cond: tuple[_Node, ...]
    body: tuple[_Node, ...]
    until: bool


@dataclass(frozen=True)
class _Func:
    name: str
    body: tuple[_Node, ...]


@dataclass(frozen=True)
class _Menu:
    submenu: bool
    words: tuple[_Tok, ...]
    body: tuple[_Node, ...]
    file: str
    line: int
    error: str | None = None  # a syntax error in the body: the entry cannot run


_Node = _Cmd | _If | _For | _While | _Func | _Menu
_Block = tuple[_Node, ...]


class _SyntaxError(Exception):
    def __init__(self, message: str, line: int, menu: _Menu | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.menu = menu  # a menu entry whose header was read before the error


class _TooBroken(_SyntaxError):
    """The file's parsing work is used up: the rest of the file is not read."""


def _where(file: str, line: int, main: str) -> str:
    return f"line {line}" if file == main else f"line {line} of {file}"


class _Parser:
    def __init__(self, text: str, file: str, main: str) -> None:
        self.toks = _Lexer(text.replace("\r\n", "\n")).run()
        self.p = 0
        self.file = file
        self.main = main
        self.depth = 0
        self.warnings: list[str] = []
        # What each statement parsed to (or the error it raised) and where it ended, by
        # (token, recover, depth): see _statement_once.
        self.parsed: dict[tuple[int, bool, int], tuple[_Node | _SyntaxError, int]] = {}
        self.work_left = PARSE_WORK_MIN + PARSE_WORK_PER_TOKEN * len(self.toks)

    def parse(self) -> _Block:
        return self._block(frozenset(), recover=True, opener=None)

    # -- helpers

    def _peek(self) -> _Tok:
        return self.toks[self.p]

    def _fail(self, message: str, tok: _Tok | None = None) -> NoReturn:
        tok = tok or self._peek()
        raise _SyntaxError(message, tok.line)

    def _skip_separators(self) -> None:
        while self._peek().kind in ("nl", "semi"):
            self.p += 1

    def _expect_keyword(self, keyword: str) -> None:
        tok = self._peek()
        if tok.keyword != keyword:
            self._fail(f"expected '{keyword}' before {tok.describe()}")
        self.p += 1

    # -- blocks

    def _block(self, ends: frozenset[str], *, recover: bool, opener: _Tok | None) -> _Block:
        self.depth += 1
        try:
            if self.depth > MAX_PARSE_DEPTH:
                self._fail("blocks are nested too deeply")
            items: list[_Node] = []
            while True:
                self._skip_separators()
                tok = self._peek()
                if tok.kind == "eof":
                    if not ends:
                        return tuple(items)
                    if opener is not None and opener.kind == "lbrace":
                        self._fail("unmatched '{'", opener)
                    if opener is not None:
                        closer = "fi" if opener.keyword == "if" else "done"
                        self._fail(f"'{opener.keyword}' without a matching '{closer}'", opener)
                    self._fail("unexpected end of file")
                if (tok.kind == "rbrace" and "}" in ends) or (tok.keyword in ends):
                    return tuple(items)
                if tok.kind == "rbrace":
                    if opener is not None and opener.keyword is not None:
                        closer = "fi" if opener.keyword == "if" else "done"
                        self._fail(
                            f"'{opener.keyword}' at line {opener.line} has no matching "
                            f"'{closer}' before '}}'"
                        )
                    if opener is not None:
                        self._fail("unexpected '}'")  # the enclosing statement is broken
                    self._report(_SyntaxError("unexpected '}'", tok.line))
                    self.p += 1
                    continue
                start = self.p
                try:
                    items.append(self._statement_once(recover))
                except _SyntaxError as e:
                    if not recover or (isinstance(e, _TooBroken) and ends):
                        raise
                    self._report(e)
                    if e.menu is not None:
                        items.append(e.menu)
                    if isinstance(e, _TooBroken):
                        self.p = len(self.toks) - 1  # the end of the file
                        continue
                    self._resync(start)
        finally:
            self.depth -= 1

    def _report(self, e: _SyntaxError) -> None:
        self.warnings.append(f"{_where(self.file, e.line, self.main)}: syntax error: {e.message}")

    def _resync(self, start: int) -> None:
        """Skip the broken statement that started at token ``start``: resume at the next line
        that is indented no deeper than it (generated files are indented consistently)."""
        first = self.toks[start]
        i = start + 1
        while True:
            tok = self.toks[i]
            if tok.kind == "eof":
                break
            if tok.bol and tok.line > first.line and tok.col <= first.col:
                if tok.col == first.col:
                    if tok.kind == "rbrace" or tok.keyword in ("fi", "done"):
                        i += 1  # the broken statement's own end
                        break
                    if tok.keyword in ("then", "elif", "else", "do"):
                        i += 1
                        continue
                break
            i += 1
        self.work_left -= i - start
        self.p = max(i, start + 1)

    # -- statements

    def _statement_once(self, recover: bool) -> _Node:
        """:meth:`_statement`, parsed once for each place: after a broken statement the
        recovery parses the statements inside it again, and without this ``if true`` on 25
        lines (each block left open) took minutes, twice as long for each line more."""
        self.work_left -= self.depth  # a deeper statement costs more to parse again
        if self.work_left < 0:
            raise _TooBroken(
                "the file is too broken to read on (error recovery gave up)", self._peek().line
            )
        key = (self.p, recover, self.depth)
        if key not in self.parsed:
            try:
                self.parsed[key] = (self._statement(recover), self.p)
            except _SyntaxError as e:
                self.parsed[key] = (e, self.p)
        result, self.p = self.parsed[key]
        if isinstance(result, _SyntaxError):
            raise result.with_traceback(None)
        return result

    def _statement(self, recover: bool) -> _Node:
        tok = self._peek()
        kw = tok.keyword
        if tok.kind != "word" or kw in ("then", "elif", "else", "fi", "do", "done", "in"):
            if tok.kind == "error":
                self._fail(tok.text)
            self._fail(f"unexpected {tok.describe()}")
        if kw == "if":
            return self._if(recover)
        if kw == "for":
            return self._for(recover)
        if kw in ("while", "until"):
            return self._while(recover, until=kw == "until")
        if kw == "function":
            return self._function()
        if kw in ("menuentry", "submenu"):
            return self._menu(submenu=kw == "submenu")
        if kw == "!":
            self.p += 1
            if self._peek().kind != "word":
                self._fail(f"unexpected {self._peek().describe()} after '!'")
            cmd = self._command()
            return _Cmd(cmd.words, cmd.file, cmd.line, negate=True)
        return self._command()

    def _words(self) -> list[_Tok]:
        words: list[_Tok] = []
        while True:
            tok = self._peek()
            if tok.kind == "word":
                words.append(tok)
                self.p += 1
            elif tok.kind in ("op", "error"):
                self._fail(tok.text if tok.kind == "error" else f"unexpected '{tok.text}'")
            else:
                self.work_left -= len(words)
                return words

    def _command(self) -> _Cmd:
        line = self._peek().line
        words = self._words()
        tok = self._peek()
        if tok.kind == "lbrace":
            self._fail("unexpected '{'")
        return _Cmd(tuple(words), self.file, line)

    def _if(self, recover: bool) -> _If:
        opener = self._peek()
        self.p += 1
        branches: list[tuple[_Block, _Block]] = []
        orelse: _Block | None = None
        then_ends = frozenset({"then"})
        body_ends = frozenset({"elif", "else", "fi"})
        cond = self._block(then_ends, recover=recover, opener=opener)
        self._expect_keyword("then")
        body = self._block(body_ends, recover=recover, opener=opener)
        branches.append((cond, body))
        while True:
            kw = self._peek().keyword
            self.p += 1
            if kw == "elif":
                cond = self._block(then_ends, recover=recover, opener=opener)
                self._expect_keyword("then")
                body = self._block(body_ends, recover=recover, opener=opener)
                branches.append((cond, body))
            elif kw == "else":
                orelse = self._block(frozenset({"fi"}), recover=recover, opener=opener)
                self._expect_keyword("fi")
                break
            else:
                break
        return _If(tuple(branches), orelse)

    def _for(self, recover: bool) -> _For:
        opener = self._peek()
        self.p += 1
        name_tok = self._peek()
        name = _plain(name_tok)
        if name is None or not _NAME.fullmatch(name):
            self._fail(f"expected a variable name after 'for', found {name_tok.describe()}")
        self.p += 1
        self._expect_keyword("in")
        words = self._words()
        self._skip_separators()
        self._expect_keyword("do")
        body = self._block(frozenset({"done"}), recover=recover, opener=opener)
        self._expect_keyword("done")
        return _For(name, tuple(words), body)

    def _while(self, recover: bool, *, until: bool) -> _While:
        opener = self._peek()
        self.p += 1
        cond = self._block(frozenset({"do"}), recover=recover, opener=opener)
        self._expect_keyword("do")
        body = self._block(frozenset({"done"}), recover=recover, opener=opener)
        self._expect_keyword("done")
        return _While(cond, body, until)

    def _brace_body(self, recover: bool) -> _Block:
        self._skip_separators()
        opener = self._peek()
        if opener.kind != "lbrace":
            self._fail(f"expected '{{' before {opener.describe()}")
        self.p += 1
        body = self._block(frozenset({"}"}), recover=recover, opener=opener)
        self.p += 1  # the '}'
        return body

    def _function(self) -> _Func:
        self.p += 1
        name_tok = self._peek()
        name = _plain(name_tok)
        if name is None:
            self._fail(f"expected a function name, found {name_tok.describe()}")
        self.p += 1
        return _Func(name, self._brace_body(recover=False))

    def _menu(self, *, submenu: bool) -> _Menu:
        line = self._peek().line
        self.p += 1
        words = tuple(self._words())
        try:
            body = self._brace_body(recover=submenu)
        except _TooBroken:
            raise
        except _SyntaxError as e:
            # The entry is lost (GRUB drops it); keep its header to show it with the error.
            message = f"syntax error at {_where(self.file, e.line, self.main)}: {e.message}"
            broken = _Menu(submenu, words, (), self.file, line, message)
            raise _SyntaxError(e.message, e.line, broken) from None
        return _Menu(submenu, words, body, self.file, line)


def _plain(tok: _Tok) -> str | None:
    """The text of a word made of unquoted characters only."""
    if tok.kind == "word" and len(tok.parts) == 1 and tok.parts[0].kind == "lit":
        return tok.parts[0].text
    return None


# --------------------------------------------------------------------------------------------
# Running


class _Return(Exception):
    def __init__(self, ok: bool) -> None:
        self.ok = ok


class _Break(Exception):
    def __init__(self, levels: int, is_continue: bool) -> None:
        self.levels = levels
        self.is_continue = is_continue


class _Exit(Exception):
    pass


class _OutOfSteps(Exception):
    """The run used up a budget: commands (no ``why``), memory, bytes read or time."""

    def __init__(self, why: str | None = None) -> None:
        super().__init__(why)
        self.why = why


class _Budgeted:
    """The caller's files, counting every byte read against :data:`MAX_READ`."""

    def __init__(self, files: GrubFiles) -> None:
        self.inner = files
        self.read_bytes = 0

    def read(self, device: str | None, path: str) -> bytes | None:
        data = self.inner.read(device, path)
        if data is not None:
            self.read_bytes += len(data)
            if self.read_bytes > MAX_READ:
                raise _OutOfSteps(
                    f"the configuration read more than {MAX_READ // (1024 * 1024)} MiB of files "
                    "(a loop of source?)"
                )
        return data

    def exists(self, device: str | None, path: str) -> bool:
        return self.inner.exists(device, path)

    def listdir(self, device: str | None, path: str) -> Sequence[str] | None:
        return self.inner.listdir(device, path)

    def search(self, how: str, value: str) -> str | None:
        return self.inner.search(how, value)


class _ConfigSwitched(Exception):
    """``configfile`` at the top level: its menu replaces this one, the rest is not run."""


@dataclass
class _Ctx:
    vars: dict[str, str]
    exported: set[str]

    def copy(self) -> _Ctx:
        return _Ctx(dict(self.vars), set(self.exported))

    def child(self) -> _Ctx:
        """A new context as GRUB opens for a submenu or ``configfile``: exported only."""
        return _Ctx({k: v for k, v in self.vars.items() if k in self.exported}, set(self.exported))


@dataclass
class _Item:
    submenu: bool
    title: str
    id: str | None
    args: tuple[str, ...]
    body: _Block
    file: str
    classes: tuple[str, ...] = ()
    error: str | None = None
    bls_id: str | None = None
    problems: tuple[str, ...] = ()


@dataclass
class _Loader:
    kind: str = "none"
    command: str | None = None
    root: str | None = None
    kernel: str | None = None
    initrd: list[str] = field(default_factory=list)
    cmdline: str = ""
    modules: list[Module] = field(default_factory=list)
    unzip: list[bool] = field(default_factory=list)
    chainloader: str | None = None
    devicetree: str | None = None
    action: str | None = None
    problems: list[str] = field(default_factory=list)
    # (what, device, path) of every file the loader would open, checked afterwards.
    files: list[tuple[str, str | None, str]] = field(default_factory=list)
    opened_config: bool = False

    def problem(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)


class _EnvView(Mapping[str, str]):
    """The variables as blscfg sees them: an unset variable expands to nothing."""

    def __init__(self, variables: Mapping[str, str]) -> None:
        self._vars = variables

    def __getitem__(self, key: str) -> str:
        return self._vars.get(key, "")

    def __iter__(self) -> Iterator[str]:
        return iter(self._vars)

    def __len__(self) -> int:
        return len(self._vars)


def _cmdline(args: Sequence[str]) -> str:
    """Arguments joined the way GRUB's ``grub_create_loader_cmdline`` builds a kernel command
    line: a backslash, ``'`` or ``"`` gets a backslash in front (``\\xNN`` is kept as it is,
    as in Fedora's and RHEL's GRUB), and an argument holding a space is put in double quotes."""
    return " ".join(_cmdline_word(a) for a in args)


def _cmdline_word(arg: str) -> str:
    escaped = _CMDLINE_SPECIAL.sub(
        lambda m: m.group(0) if len(m.group(0)) == 4 else "\\" + m.group(0), arg
    )
    return f'"{escaped}"' if " " in arg else escaped


def _long_int(digits: str, base: int) -> int:
    if len(digits) > 18:
        return 2**63  # out of any range; avoids Python's limit on long conversions
    return int(digits, base)


def _strtoul(text: str) -> int | None:
    """GRUB's ``grub_strtoul(text, 0, 0)``: leading number, None when there is none."""
    s = text.lstrip(" \t\n\r\f\v")
    m = re.match(r"0[xX]([0-9a-fA-F]+)", s)
    if m:
        return _long_int(m.group(1), 16)
    m = re.match(r"0([0-7]*)", s)
    if m:
        return _long_int(m.group(1), 8) if m.group(1) else 0
    m = re.match(r"[+]?([0-9]+)", s)
    if m:
        return _long_int(m.group(1), 10)
    return None


def _to_int(text: str) -> int:
    """A number as ``test -eq`` reads it: leading sign and digits, anything else is 0."""
    m = re.match(r"\s*([+-]?)([0-9]+)", text)
    if not m:
        return 0
    value = _long_int(m.group(2), 10)
    return -value if m.group(1) == "-" else value


def _menuentry_eq(name: str, spec: str) -> bool:
    """GRUB's ``menuentry_eq``: ``spec`` up to its first single ``>`` (``>>`` is a literal
    ``>``) equals ``name``."""
    i = j = 0
    while True:
        if j < len(spec) and spec[j] == ">" and not spec.startswith(">>", j):
            return i == len(name)
        if spec.startswith(">>", j):
            j += 1
        c2 = spec[j] if j < len(spec) else None
        c1 = name[i] if i < len(name) else None
        if c1 != c2:
            return False
        if c1 is None:
            return True
        i += 1
        j += 1


def _default_tail(spec: str | None) -> str | None:
    """What GRUB passes on as ``default`` into a submenu: the part after the first single
    ``>``."""
    if not spec:
        return None
    i = 0
    while i < len(spec):
        if spec[i] == ">":
            if spec.startswith(">>", i):
                i += 2
                continue
            return spec[i + 1 :] or None
        i += 1
    return None


def _escape_id(text: str) -> str:
    return text.replace(">", ">>")


class _Interpreter:
    def __init__(
        self,
        files: GrubFiles,
        *,
        config_path: str,
        root: str | None,
        platform: str,
        expired: Callable[[], bool] | None = None,
    ):
        self.files = _Budgeted(files)
        self.expired = expired
        self.assigned = 0  # bytes assigned to variables so far
        self.main = config_path
        self.root = root
        self.platform = platform
        self.warnings: list[str] = []
        self.warned: set[str] = set()
        self.functions: dict[str, _Func] = {}
        self.ctx = _Ctx({}, set())
        self.menu: list[_Item] | None = None
        self.args: list[str] = []
        self.ok = True  # status of the last command ($?)
        self.loader: _Loader | None = None
        self.reading: list[tuple[str | None, str]] = []
        self.depth = 0
        self.calls = 0  # functions being run
        self.loops = 0  # loops being run
        self.steps = 0
        self.total_steps = 0
        self.out_of_time = False  # the caller's deadline has passed
        self.entries: list[GrubEntry] = []
        self.bls_shown: set[str] = set()

    # -- messages

    def warn(self, text: str) -> None:
        if text not in self.warned:  # a set: a run may warn hundreds of thousands of times
            self.warned.add(text)
            self.warnings.append(text)

    def where(self, file: str, line: int) -> str:
        return _where(file, line, self.main)

    # -- the whole run

    def run(self, text: str, env: Mapping[str, str] | None) -> GrubConfig:
        self._initial_env(env)
        top: list[_Item] = []
        self.menu = top
        self.reading.append((self.root, self.main))
        try:
            block = self.parse(text, self.main)
            self.exec_block(block)
        except _ConfigSwitched:
            pass
        except _Exit:
            pass
        except _OutOfSteps as e:
            why = e.why or f"after running {MAX_STEPS} commands (an endless loop?)"
            self.warn(f"{self.main}: stopped {why}; the rest of the file was not run")
        except (_Return, _Break):
            pass
        except RecursionError:
            self.warn(f"{self.main}: nested too deeply; the rest of the file was not run")
        self.reading.pop()
        final = self.ctx
        default = self.walk(top, final, (), ())
        timeout = self._timeout(final.vars.get("timeout"))
        style = final.vars.get("timeout_style") or None
        if timeout is None:
            style = None  # GRUB ignores the style when it waits for ever
        return GrubConfig(
            entries=tuple(self.entries),
            default=default,
            timeout=timeout,
            env=MappingProxyType(dict(final.vars)),
            warnings=tuple(self.warnings),
            timeout_style=style,
        )

    def _initial_env(self, env: Mapping[str, str] | None) -> None:
        directory = self.main.rsplit("/", 1)[0] if "/" in self.main else ""
        dev_dir = f"({self.root}){directory}" if self.root is not None else directory
        values = {
            "prefix": dev_dir,
            "cmdpath": dev_dir,
            "config_file": f"({self.root}){self.main}" if self.root is not None else self.main,
            "config_directory": dev_dir,
            "grub_platform": self.platform,
            "grub_cpu": "i386" if self.platform == "pc" else "x86_64",
        }
        if self.root is not None:
            values["root"] = self.root
        for name in _FEATURES:
            values[name] = "y"
        self.ctx = _Ctx(values, set(values))
        for key, value in (env or {}).items():
            self.setvar(key, value)

    @staticmethod
    def _timeout(value: str | None) -> int | None:
        if value is None:
            return None
        number = _strtoul(value)
        if number is None or value.strip().startswith("-"):
            return None
        return number

    def parse(self, text: str, file: str) -> _Block:
        self._check_deadline()  # parsing a sourced file costs as much as thousands of commands
        parser = _Parser(text, file, self.main)
        try:
            block = parser.parse()
        except _SyntaxError as e:  # only "nested too deeply" can escape the recovery
            parser.warnings.append(f"{self.where(file, e.line)}: syntax error: {e.message}")
            block = ()
        for w in parser.warnings:
            self.warn(w)
        return block

    # -- the menu

    def walk(
        self, items: list[_Item], ctx: _Ctx, path: tuple[str, ...], index: tuple[int, ...]
    ) -> GrubEntry | None:
        """Make the entries of one menu level; return the default entry of this level."""
        shown: list[tuple[_Item, GrubEntry | None]] = []
        for item in items:
            position = (*index, len(shown))
            if item.error is not None:
                self.entries.append(self._broken_entry(item, path, position))
                continue
            if item.submenu:
                shown.append((item, self._run_submenu(item, ctx, path, position)))
            else:
                entry = self._run_entry(item, ctx, path, position)
                self.entries.append(entry)
                shown.append((item, entry))
        if not shown:
            return None
        chosen = self._pick(shown, ctx)
        return shown[chosen][1]

    def _pick(self, shown: list[tuple[_Item, GrubEntry | None]], ctx: _Ctx) -> int:
        spec = ctx.vars.get("default")
        if spec is None:
            return 0
        if spec == "saved":
            spec = ctx.vars.get("saved_entry", "")
        # Ids first, then titles, and only then a number: Fedora's fix to GRUB (upstream
        # reads "2d6f…-6.5.6" as entry 2, and BLS ids start with a hex machine id).
        for i, (item, _entry) in enumerate(shown):
            if item.id is not None and _menuentry_eq(item.id, spec):
                return i
        for i, (item, _entry) in enumerate(shown):
            if _menuentry_eq(item.title, spec):
                return i
        number = _strtoul(spec)
        return number if number is not None and 0 <= number < len(shown) else 0

    def _enter(self, item: _Item, ctx: _Ctx, path: tuple[str, ...]) -> None:
        """Set what GRUB sets before it runs a menu item: ``chosen``, ``default``."""
        chosen = ">".join(_escape_id(p) for p in path[:-1])
        own = _escape_id(item.id or item.title)
        ctx.vars["chosen"] = f"{chosen}>{own}" if chosen else own
        tail = _default_tail(ctx.vars.get("default"))
        if tail is None:
            ctx.vars.pop("default", None)
        else:
            ctx.vars["default"] = tail

    def _run_body(
        self, item: _Item, ctx: _Ctx, menu: list[_Item] | None, loader: _Loader | None
    ) -> _Ctx:
        """Run a menu item's body as GRUB does when it is chosen; return the context after
        it (``configfile`` may have replaced it)."""
        saved = (self.ctx, self.menu, self.loader, self.args, self.calls, self.loops, self.ok)
        self.ctx, self.menu, self.loader = ctx, menu, loader
        self.args = [item.title, *item.args]
        self.calls = self.loops = 0
        self.steps = 0
        try:
            self.exec_block(item.body)
        except (_Return, _Break, _Exit, _ConfigSwitched):
            pass
        except _OutOfSteps as e:
            text = f"stopped {e.why or f'after running {MAX_STEPS} commands (an endless loop?)'}"
            if loader is not None:
                loader.problem(text)
            else:
                self.warn(f"submenu {item.title!r}: {text}")
        except RecursionError:
            if loader is not None:
                loader.problem("nested too deeply to run")
        finally:
            final = self.ctx
            (self.ctx, self.menu, self.loader, self.args, self.calls, self.loops, self.ok) = saved
        return final

    def _run_submenu(
        self, item: _Item, ctx: _Ctx, path: tuple[str, ...], index: tuple[int, ...]
    ) -> GrubEntry | None:
        sub = ctx.child()
        default = ctx.vars.get("default")
        if default is not None:
            sub.vars["default"] = default
        own_path = (*path, item.title)
        self._enter(item, sub, own_path)
        children: list[_Item] = []
        sub = self._run_body(item, sub, children, None)
        return self.walk(children, sub, own_path, index)

    def _run_entry(
        self, item: _Item, ctx: _Ctx, path: tuple[str, ...], index: tuple[int, ...]
    ) -> GrubEntry:
        own = ctx.copy()
        own_path = (*path, item.title)
        self._enter(item, own, own_path)
        loader = _Loader()
        self._run_body(item, own, None, loader)
        problems = list(item.problems)
        for what, device, file in loader.files:
            if "\0" in file:  # no file has such a name; the volume's other entries stay
                shown = file.replace("\0", "\\0")
                loader.problem(f"{what} {shown}: the path contains a NUL byte")
            elif not self.files.exists(device, file):
                loader.problem(f"{what} {file} does not exist")
            elif self.files.listdir(device, file) is not None:
                loader.problem(f"{what} {file} is a directory")
        problems.extend(p for p in loader.problems if p not in problems)
        if loader.kind == "none" and loader.action is None and not loader.opened_config:
            problems.append("the entry loads nothing to boot")
        return GrubEntry(
            title=item.title,
            id=item.id,
            path=own_path,
            index=index,
            kind=loader.kind,
            root=loader.root,
            kernel=loader.kernel,
            initrd=tuple(loader.initrd),
            cmdline=loader.cmdline,
            modules=tuple(loader.modules),
            chainloader=loader.chainloader,
            command=loader.command,
            bls_id=item.bls_id,
            problems=tuple(problems),
            module_unzip=tuple(loader.unzip),
            devicetree=loader.devicetree,
            action=loader.action,
            classes=item.classes,
            origin=item.file,
        )

    def _broken_entry(
        self, item: _Item, path: tuple[str, ...], index: tuple[int, ...]
    ) -> GrubEntry:
        return GrubEntry(
            title=item.title,
            id=item.id,
            path=(*path, item.title),
            index=index,
            kind="none",
            root=None,
            kernel=None,
            initrd=(),
            cmdline="",
            modules=(),
            chainloader=None,
            command=None,
            bls_id=item.bls_id,
            problems=(item.error or "syntax error",),
            classes=item.classes,
            origin=item.file,
        )

    # -- statements

    def exec_block(self, block: _Block) -> bool:
        self.depth += 1
        try:
            if self.depth > MAX_EXEC_DEPTH + MAX_PARSE_DEPTH:
                raise RecursionError
            ok = True
            for node in block:
                ok = self.exec_node(node)
            return ok
        finally:
            self.depth -= 1

    def exec_node(self, node: _Node) -> bool:
        if isinstance(node, _Cmd):
            self._step()
            argv = self.expand(node.words)
            ok = self.command(argv, node) if argv else True
            if node.negate:
                ok = not ok
            self.ok = ok
            return ok
        if isinstance(node, _If):
            for cond, body in node.branches:
                if self.exec_block(cond):
                    return self.exec_block(body)
            return self.exec_block(node.orelse) if node.orelse is not None else True
        if isinstance(node, _For):
            return self._loop(node)
        if isinstance(node, _While):
            return self._loop(node)
        if isinstance(node, _Func):
            self.functions[node.name] = node
            return True
        return self.define_menu(node)

    def _loop(self, node: _For | _While) -> bool:
        self.loops += 1
        ok = True
        try:
            if isinstance(node, _For):
                for value in self.expand(node.words):
                    self._step()
                    self.setvar(node.var, value)
                    try:
                        ok = self.exec_block(node.body)
                    except _Break as b:
                        if b.levels > 1:
                            raise _Break(b.levels - 1, b.is_continue) from None
                        if not b.is_continue:
                            break
            else:
                while True:
                    self._step()
                    if self.exec_block(node.cond) == node.until:
                        break
                    try:
                        ok = self.exec_block(node.body)
                    except _Break as b:
                        if b.levels > 1:
                            raise _Break(b.levels - 1, b.is_continue) from None
                        if not b.is_continue:
                            break
        finally:
            self.loops -= 1
        return ok

    def _step(self) -> None:
        self.steps += 1
        self.total_steps += 1
        if self.steps > MAX_STEPS or self.total_steps > MAX_TOTAL_STEPS:
            raise _OutOfSteps
        if self.out_of_time or self.total_steps % DEADLINE_EVERY == 0:
            self._check_deadline()

    def _check_deadline(self) -> None:
        """Stop once the caller's time is up, and at once from then on: every menu entry's
        body is run after the top level, and each would have run on to the next look."""
        if self.expired is not None and (self.out_of_time or self.expired()):
            self.out_of_time = True
            raise _OutOfSteps("when the time for scanning this filesystem ran out")

    # -- words

    def getvar(self, name: str) -> str:
        if name.isdigit():
            n = int(name) if len(name) < 6 else 10**6
            return self.args[n - 1] if 1 <= n <= len(self.args) else ""
        if name == "?":
            return "0" if self.ok else "1"
        if name == "#":
            return str(len(self.args))
        if name in ("*", "@"):
            return " ".join(self.args)
        return self.ctx.vars.get(name, "")

    def setvar(self, name: str, value: str) -> None:
        if name == "root" and len(value) >= 2 and value[0] == "(" and value[-1] == ")":
            value = value[1:-1]  # GRUB's write hook on root drops the parentheses
        if len(value) > MAX_VALUE:
            raise _OutOfSteps(f"when ${name} grew past {MAX_VALUE // 1024} KiB (a runaway loop?)")
        self.assigned += len(value)
        if self.assigned > MAX_ASSIGNED:
            raise _OutOfSteps(
                f"after assigning more than {MAX_ASSIGNED // (1024 * 1024)} MiB to variables "
                "(a runaway loop?)"
            )
        self.ctx.vars[name] = value

    def expand(self, words: Sequence[_Tok]) -> list[str]:
        out: list[str] = []
        for tok in words:
            fields: list[str] = []
            cur: str | None = None
            for part in tok.parts:
                if part.kind == "var":
                    pieces = _FIELDS.findall(self.getvar(part.text))
                    if not pieces:
                        continue
                    cur = (cur or "") + pieces[0]
                    for piece in pieces[1:]:
                        fields.append(cur)
                        cur = piece
                elif part.kind == "dqvar":
                    cur = (cur or "") + self.getvar(part.text)
                else:
                    cur = (cur or "") + part.text
            if cur is not None:
                fields.append(cur)
            out.extend(fields)
        return out

    # -- commands

    def command(self, argv: list[str], node: _Cmd) -> bool:
        name, args = argv[0], argv[1:]
        handler = _COMMANDS.get(name)
        if handler is not None:
            return handler(self, name, args, node)
        func = self.functions.get(name)
        if func is not None:
            return self.call(func, args, node)
        if "=" in name:
            key, _, value = name.partition("=")
            self.setvar(key, value)
            return True
        if name in _IGNORED:
            return True
        if name in _FAILING:
            return False
        if name in _FOREIGN_LOADERS:
            if self.loader is not None:
                self.loader.kind = "none"
                self.loader.problem(f"the entry uses '{name}', which bootmenu cannot boot")
            return True
        self.warn(f"{self.where(node.file, node.line)}: unknown command '{name}' (ignored)")
        return False

    def call(self, func: _Func, args: list[str], node: _Cmd) -> bool:
        if self.depth >= MAX_EXEC_DEPTH:
            self.warn(
                f"{self.where(node.file, node.line)}: function '{func.name}' calls itself too "
                f"deeply; stopped"
            )
            return False
        saved_args, saved_loops = self.args, self.loops
        self.args, self.loops = list(args), 0
        self.calls += 1
        try:
            return self.exec_block(func.body)
        except _Return as r:
            return r.ok
        except _Break:
            return True
        finally:
            self.args, self.loops = saved_args, saved_loops
            self.calls -= 1

    def define_menu(self, node: _Menu) -> bool:
        where = self.where(node.file, node.line)
        kind = "submenu" if node.submenu else "menuentry"
        if self.menu is None:
            self.warn(f"{where}: a {kind} inside a menu entry is ignored")
            return False
        argv = self.expand(node.words)
        classes: list[str] = []
        entry_id: str | None = None
        rest: list[str] = []
        i = 0
        while i < len(argv):
            arg = argv[i]
            if arg == "--":
                rest.extend(argv[i + 1 :])
                break
            if arg.startswith("--") and len(arg) > 2:
                option, eq, value = arg[2:].partition("=")
                if option in _MENU_OPTIONS_WITH_VALUE:
                    if not eq:
                        if i + 1 >= len(argv):
                            self.warn(f"{where}: {kind} option --{option} needs a value")
                            break
                        i += 1
                        value = argv[i]
                    if option == "class":
                        classes.append(value)
                    elif option == "id":
                        entry_id = value
                elif option != "unrestricted":
                    self.warn(f"{where}: unknown {kind} option '{arg}' (ignored)")
            else:
                rest.append(arg)
            i += 1
        if not rest:
            self.warn(f"{where}: {kind} without a title is ignored")
            return False
        self.menu.append(
            _Item(
                submenu=node.submenu,
                title=rest[0],
                id=entry_id,
                args=tuple(rest[1:]),
                body=node.body,
                file=node.file,
                classes=tuple(classes),
                error=node.error,
            )
        )
        return True

    # individual commands; each returns the command's success

    def cmd_set(self, name: str, args: list[str], node: _Cmd) -> bool:
        if not args:
            return True
        key, eq, value = args[0].partition("=")
        if not eq or not key:
            return False
        self.setvar(key, value)
        return True

    def cmd_unset(self, name: str, args: list[str], node: _Cmd) -> bool:
        for key in args:
            self.ctx.vars.pop(key, None)
            self.ctx.exported.discard(key)
        return True

    def cmd_export(self, name: str, args: list[str], node: _Cmd) -> bool:
        for key in args:
            self.ctx.vars.setdefault(key, "")
            self.ctx.exported.add(key)
        return True

    def cmd_true(self, name: str, args: list[str], node: _Cmd) -> bool:
        return name == "true"

    def cmd_test(self, name: str, args: list[str], node: _Cmd) -> bool:
        if name == "[":
            if not args or args[-1] != "]":
                self.warn(f"{self.where(node.file, node.line)}: '[' without a closing ']'")
                return False
            args = args[:-1]
        try:
            return _Test(self, args).run()
        except _TestError as e:
            self.warn(f"{self.where(node.file, node.line)}: {name}: {e}")
            return False

    def cmd_return(self, name: str, args: list[str], node: _Cmd) -> bool:
        ok = not args or _to_int(args[0]) == 0
        if name == "exit":
            raise _Exit
        if self.calls == 0:
            self.warn(f"{self.where(node.file, node.line)}: 'return' outside a function")
            return False
        raise _Return(ok)

    def cmd_break(self, name: str, args: list[str], node: _Cmd) -> bool:
        if self.loops == 0:
            return False
        levels = max(1, _to_int(args[0])) if args else 1
        raise _Break(levels, name == "continue")

    def cmd_shift(self, name: str, args: list[str], node: _Cmd) -> bool:
        count = _to_int(args[0]) if args else 1
        if count < 0 or count > len(self.args):
            return False
        self.args = self.args[count:]
        return True

    def cmd_setparams(self, name: str, args: list[str], node: _Cmd) -> bool:
        self.args = list(args)
        return True

    def cmd_eval(self, name: str, args: list[str], node: _Cmd) -> bool:
        return self.exec_block(self.parse(" ".join(args), node.file))

    def cmd_search(self, name: str, args: list[str], node: _Cmd) -> bool:
        how: str | None = None
        var: str | None = None
        positional: list[str] = []
        alias = _SEARCH_ALIASES.get(name)
        if alias is not None:
            if not args:
                return False
            how = alias
            positional = args[:1]
            var = args[1] if len(args) > 1 else None
        else:
            i = 0
            while i < len(args):
                arg = args[i]
                if arg in ("--fs-uuid", "-u"):
                    how = "fs-uuid"
                elif arg in ("--label", "-l"):
                    how = "label"
                elif arg in ("--file", "-f"):
                    how = "file"
                elif arg in ("--set", "-s"):
                    # GRUB's argument parser (lib/arg.c) gives an option that takes a value
                    # the next word unless it starts with '-': "--set boot" sets $boot.
                    var = "root"
                    if i + 1 < len(args) and not args[i + 1].startswith("-"):
                        i += 1
                        var = args[i]
                elif arg.startswith("--set="):
                    var = arg[len("--set=") :] or "root"
                elif arg.startswith("--hint") or arg == "-h":
                    if "=" not in arg:
                        i += 1  # the hint is the next argument
                elif arg.startswith("-") and len(arg) > 1:
                    pass  # --no-floppy, --efidisk-only, --cryptodisk-only…
                else:
                    positional.append(arg)
                i += 1
        where = self.where(node.file, node.line)
        if not positional:
            self.warn(f"{where}: search without anything to search for")
            return False
        if how is None:
            self.warn(f"{where}: search without --fs-uuid, --label or --file")
            return False
        value = positional[0]
        if how == "file" and not value.startswith("/"):
            return False
        found = self.files.search(how, value)
        if found is None:
            return False
        if var is not None:
            self.setvar(var, found)
        return True

    # files

    def resolve(self, spec: str) -> tuple[str | None, str]:
        """Split a GRUB file name into (device, path); the device defaults to ``$root``."""
        if spec.startswith("("):
            end = spec.find(")")
            if end > 0:
                device: str | None = spec[1:end] or None
                rest = spec[end + 1 :]
            else:
                device, rest = self._root_device(), spec
        else:
            device, rest = self._root_device(), spec
        if rest.startswith("/"):
            rest = re.sub("/{2,}", "/", rest)
        return device, rest

    def _root_device(self) -> str | None:
        return self.ctx.vars.get("root") or None

    def _read(self, spec: str, what: str, node: _Cmd) -> tuple[str | None, str, bytes | None]:
        device, path = self.resolve(spec)
        if not path.startswith("/"):
            self.warn(f"{self.where(node.file, node.line)}: {what}: '{spec}' is not a file name")
            return device, path, None
        data = self.files.read(device, path)
        if data is None:
            self.warn(f"{self.where(node.file, node.line)}: {what}: {spec} cannot be read")
        return device, path, data

    def cmd_source(self, name: str, args: list[str], node: _Cmd) -> bool:
        where = self.where(node.file, node.line)
        if not args:
            return False
        if name == "configfile" and self.loader is not None:
            self.loader.opened_config = True
            self.loader.problem(
                f"the entry opens another configuration file ({args[0]}) instead of booting"
            )
            return True
        device, path = self.resolve(args[0])
        if (device, path) in self.reading:
            self.warn(
                f"{where}: {args[0]} is already being read ({name} loop); not reading it again"
            )
            return False
        if self.depth >= MAX_EXEC_DEPTH:
            self.warn(f"{where}: {name} {args[0]}: files are nested too deeply")
            return False
        device, path, data = self._read(args[0], name, node)
        if data is None:
            return False
        if len(data) > MAX_SOURCE_BYTES:
            self.warn(f"{where}: {name}: {args[0]} is too large for a configuration file")
            return False
        text = data.decode("utf-8", errors="replace")
        block = self.parse(text, path)
        if name == "configfile":
            return self._configfile(device, path, block, where)
        self.reading.append((device, path))
        try:
            self.exec_block(block)
        except _Exit:
            pass
        finally:
            self.reading.pop()
        return True

    def _configfile(self, device: str | None, path: str, block: _Block, where: str) -> NoReturn:
        """``configfile`` outside an entry: GRUB shows the new file's menu, in a new context
        (only exported variables), and never comes back to this file's menu.  Nothing to warn
        about: every Debian, Ubuntu and Fedora ESP stub does it."""
        self.ctx = self.ctx.child()
        directory = path.rsplit("/", 1)[0]
        prefix = f"({device})" if device is not None else ""
        self.ctx.vars["config_file"] = f"{prefix}{path}"
        self.ctx.vars["config_directory"] = f"{prefix}{directory}"
        self.ctx.exported.update(("config_file", "config_directory"))
        if self.menu is not None:
            self.menu.clear()
        self.reading.append((device, path))
        try:
            self.exec_block(block)
        except _Exit:
            pass
        finally:
            self.reading.pop()
        raise _ConfigSwitched

    def cmd_load_env(self, name: str, args: list[str], node: _Cmd) -> bool:
        file: str | None = None
        only: list[str] = []
        i = 0
        while i < len(args):
            arg = args[i]
            if arg in ("-f", "--file"):
                if i + 1 < len(args):
                    file = args[i + 1]
                i += 1
            elif arg.startswith("--file="):
                file = arg[len("--file=") :]
            elif arg in ("-s", "--skip-sig"):
                pass
            else:
                only.append(arg)
            i += 1
        if file is None:
            file = self.ctx.vars.get("prefix", "") + "/grubenv"
        _device, _path, data = self._read(file, "load_env", node)
        if data is None:
            return False
        try:
            variables = parse_grubenv(data)
        except FormatError as e:
            self.warn(f"{self.where(node.file, node.line)}: load_env {file}: {e}")
            return False
        for key, value in variables.items():
            if not only or key in only:
                self.setvar(key, value)
        return True

    def cmd_blscfg(self, name: str, args: list[str], node: _Cmd) -> bool:
        where = self.where(node.file, node.line)
        if self.menu is None:
            self.warn(f"{where}: blscfg inside a menu entry is ignored")
            return False
        mode = "all"
        explicit: str | None = None
        if args:
            if args[0] in ("default", "non-default"):
                mode = args[0]
            elif args[0].startswith("("):
                explicit = args[0]
            else:
                mode = "id:" + args[0]
        if explicit is not None:
            device, directory = self.resolve(explicit)
            candidates = [directory.rstrip("/") or "/"]
        else:
            if self.platform == "efi":
                device = self._root_device()
            else:
                device = self.ctx.vars.get("boot") or self._root_device()
            blsdir = self.ctx.vars.get("blsdir") or "/loader/entries"
            candidates = [blsdir.rstrip("/") or "/", "/boot/loader/entries"]
        names: Sequence[str] | None = None
        directory = candidates[0]
        for directory in candidates:
            if directory.startswith("/"):
                names = self.files.listdir(device, directory)
            if names is not None:
                break
        if names is None:
            self.warn(f"{where}: blscfg: no {' or '.join(candidates)} directory")
            return False
        parsed: list[bls.BlsEntry] = []
        for filename in sorted(names):
            if filename.startswith(".") or len(filename) <= 5 or not filename.endswith(".conf"):
                continue
            file = f"{directory.rstrip('/')}/{filename}"
            data = self.files.read(device, file)
            if data is None:
                self.warn(f"{where}: blscfg: {file} cannot be read")
                continue
            try:
                entry = bls.parse_entry(
                    filename, data.decode("utf-8", errors="replace"), _EnvView(self.ctx.vars)
                )
            except FormatError as e:
                self.warn(f"{where}: blscfg: {e}")
                continue
            if entry.linux is None:
                self.warn(f"{where}: blscfg: {file} has no 'linux' line; skipped")
                continue
            parsed.append(entry)
        ordered = bls.sort_entries(parsed, key=lambda e: e.sort_fields)
        default = self.ctx.vars.get("default")
        for position, entry in enumerate(ordered):
            grub_id = entry.filename[: -len(".conf")]
            if grub_id in self.bls_shown:
                continue
            is_default = default is not None and (
                default in (grub_id, entry.title) or _strtoul(default) == position
            )
            if mode == "default" and not is_default:
                continue
            if mode == "non-default" and is_default:
                continue
            if mode.startswith("id:") and mode[3:] != grub_id:
                continue
            self.bls_shown.add(grub_id)
            self.menu.append(self._bls_item(entry, grub_id, directory, where))
        return True

    def _bls_item(self, entry: bls.BlsEntry, grub_id: str, directory: str, where: str) -> _Item:
        """The menu entry GRUB's blscfg makes: a script of ``linux``/``initrd`` lines."""
        linux = entry.linux or ""
        options = entry.options
        if not options:
            options = re.sub(
                r"\$([A-Za-z0-9_]+)",
                lambda m: self.ctx.vars.get(m.group(1), ""),
                self.ctx.vars.get("default_kernelopts", ""),
            )
        initrds = list(entry.initrd)
        early = _FIELDS.findall(self.ctx.vars.get("early_initrd", ""))
        if early:
            base = initrds[0] if initrds else linux
            directory_of = base[: base.rfind("/") + 1]
            initrds = [directory_of + e for e in early] + initrds
        lines = [f"linux ($root){linux} {options}".rstrip()]
        if initrds:
            lines.append("initrd " + " ".join(f"($root){i}" for i in initrds))
        if entry.devicetree:
            lines.append(f"devicetree ($root){entry.devicetree}")
        file = f"{directory.rstrip('/')}/{entry.filename}"
        body = self.parse("\n".join(lines) + "\n", file)
        classes = tuple(v for k, v in entry.other if k == "grub_class")
        return _Item(
            submenu=False,
            title=entry.title or linux,
            id=grub_id,
            args=(),
            body=body,
            file=file,
            classes=classes,
            bls_id=grub_id,
            problems=entry.problems,
        )

    # loaders

    def _need_entry(self, name: str, node: _Cmd) -> _Loader | None:
        if self.loader is None:
            self.warn(
                f"{self.where(node.file, node.line)}: '{name}' outside a menu entry is ignored"
            )
        return self.loader

    def _file_arg(self, loader: _Loader, what: str, spec: str) -> tuple[str | None, str]:
        device, path = self.resolve(spec)
        if not path.startswith("/"):
            loader.problem(f"{what} '{spec}' is not an absolute path")
            path = "/" + path
        else:
            loader.files.append((what, device, path))
        return device, path

    def cmd_linux(self, name: str, args: list[str], node: _Cmd) -> bool:
        loader = self._need_entry(name, node)
        if loader is None:
            return False
        kind = "linux" if name in _LINUX else name
        if kind in ("multiboot", "multiboot2"):
            while args and args[0].startswith("--quirk"):
                args = args[1:]
        if not args:
            loader.problem(f"'{name}' is given no file to load")
            return False
        loader.files = [f for f in loader.files if f[0] == "devicetree"]
        what = "kernel" if kind == "linux" else "multiboot kernel"
        device, path = self._file_arg(loader, what, args[0])
        loader.kind, loader.command, loader.root, loader.kernel = kind, name, device, path
        loader.cmdline = _cmdline(args[1:])
        loader.initrd, loader.modules, loader.unzip = [], [], []
        loader.chainloader = None
        return True

    def cmd_initrd(self, name: str, args: list[str], node: _Cmd) -> bool:
        loader = self._need_entry(name, node)
        if loader is None:
            return False
        if loader.kind != "linux":
            loader.problem("initrd without linux")
            return False
        if not args:
            loader.problem(f"'{name}' is given no file to load")
            return False
        loader.initrd = []
        loader.files = [f for f in loader.files if f[0] != "initrd"]
        for spec in args:
            if spec.startswith("newc:"):
                spec = spec.split(":", 2)[-1]
            device, path = self._file_arg(loader, "initrd", spec)
            if device != loader.root:
                loader.problem(f"initrd {spec} is on another device than the kernel")
            loader.initrd.append(path)
        return True

    def cmd_module(self, name: str, args: list[str], node: _Cmd) -> bool:
        loader = self._need_entry(name, node)
        if loader is None:
            return False
        if loader.kind not in ("multiboot", "multiboot2"):
            loader.problem(f"{name} without multiboot")
            return False
        unzip = True
        while args and args[0].startswith("--"):
            if args[0] == "--nounzip":
                unzip = False
            args = args[1:]
        if not args:
            loader.problem(f"'{name}' is given no file to load")
            return False
        device, path = self._file_arg(loader, "module", args[0])
        if device != loader.root:
            loader.problem(f"module {args[0]} is on another device than the kernel")
        loader.modules.append(Module(path, _cmdline(args[1:])))
        loader.unzip.append(unzip)
        return True

    def cmd_chainloader(self, name: str, args: list[str], node: _Cmd) -> bool:
        loader = self._need_entry(name, node)
        if loader is None:
            return False
        while args and args[0].startswith("--"):
            args = args[1:]
        if not args:
            loader.problem("'chainloader' is given no file to load")
            return False
        loader.files = [f for f in loader.files if f[0] == "devicetree"]
        device, path = self.resolve(args[0])
        if path.startswith("/"):
            loader.files.append(("file", device, path))
        elif not re.fullmatch(r"[0-9]*\+[0-9]+", path):
            loader.problem(f"chainloader '{args[0]}' is not an absolute path")
        loader.kind, loader.command, loader.root = "chainloader", name, device
        loader.kernel, loader.chainloader = None, path
        loader.cmdline = " ".join(args[1:])  # GRUB's chainloader joins them as they are
        loader.initrd, loader.modules, loader.unzip = [], [], []
        return True

    def cmd_devicetree(self, name: str, args: list[str], node: _Cmd) -> bool:
        loader = self._need_entry(name, node)
        if loader is None or not args:
            return False
        _device, loader.devicetree = self._file_arg(loader, "devicetree", args[0])
        return True

    def cmd_action(self, name: str, args: list[str], node: _Cmd) -> bool:
        if name == "fwsetup" and args[:1] == ["--is-supported"]:
            return self.platform == "efi"
        if self.loader is not None:
            self.loader.action = name
        return name != "fwsetup" or self.platform == "efi"


_Handler = Callable[[_Interpreter, str, list[str], _Cmd], bool]
_COMMANDS: dict[str, _Handler] = {
    "set": _Interpreter.cmd_set,
    "unset": _Interpreter.cmd_unset,
    "export": _Interpreter.cmd_export,
    "true": _Interpreter.cmd_true,
    "false": _Interpreter.cmd_true,
    "[": _Interpreter.cmd_test,
    "test": _Interpreter.cmd_test,
    "return": _Interpreter.cmd_return,
    "exit": _Interpreter.cmd_return,
    "break": _Interpreter.cmd_break,
    "continue": _Interpreter.cmd_break,
    "shift": _Interpreter.cmd_shift,
    "setparams": _Interpreter.cmd_setparams,
    "eval": _Interpreter.cmd_eval,
    "search": _Interpreter.cmd_search,
    **dict.fromkeys(_SEARCH_ALIASES, _Interpreter.cmd_search),
    "source": _Interpreter.cmd_source,
    ".": _Interpreter.cmd_source,
    "configfile": _Interpreter.cmd_source,
    "load_env": _Interpreter.cmd_load_env,
    "blscfg": _Interpreter.cmd_blscfg,
    "linux": _Interpreter.cmd_linux,
    "linuxefi": _Interpreter.cmd_linux,
    "linux16": _Interpreter.cmd_linux,
    "multiboot": _Interpreter.cmd_linux,
    "multiboot2": _Interpreter.cmd_linux,
    "initrd": _Interpreter.cmd_initrd,
    "initrdefi": _Interpreter.cmd_initrd,
    "initrd16": _Interpreter.cmd_initrd,
    "module": _Interpreter.cmd_module,
    "module2": _Interpreter.cmd_module,
    "chainloader": _Interpreter.cmd_chainloader,
    "devicetree": _Interpreter.cmd_devicetree,
    "fwsetup": _Interpreter.cmd_action,
    "reboot": _Interpreter.cmd_action,
    "halt": _Interpreter.cmd_action,
}


# --------------------------------------------------------------------------------------------
# test / [


class _TestError(Exception):
    pass


_BINARY = frozenset(
    {"=", "==", "!=", "<", "<=", ">", ">=", "-eq", "-ne", "-lt", "-le", "-gt", "-ge"}
    | {"-pgt", "-plt", "-nt", "-ot"}
)
_UNARY = frozenset({"-n", "-z", "-f", "-e", "-d", "-s"})


class _Test:
    """GRUB's ``test``: ``!``, ``-a`` (binds tighter), ``-o``, ``( )``, string, number and
    file tests."""

    def __init__(self, interp: _Interpreter, args: list[str]) -> None:
        self.interp = interp
        self.a = args
        self.i = 0

    def run(self) -> bool:
        if not self.a:
            return False
        value = self._or(0)
        if self.i < len(self.a):
            raise _TestError(f"unexpected '{self.a[self.i]}'")
        return value

    def _peek(self) -> str | None:
        return self.a[self.i] if self.i < len(self.a) else None

    def _or(self, depth: int) -> bool:
        value = self._and(depth)
        while self._peek() == "-o":
            self.i += 1
            right = self._and(depth)
            value = value or right
        return value

    def _and(self, depth: int) -> bool:
        value = self._not(depth)
        while self._peek() == "-a":
            self.i += 1
            right = self._not(depth)
            value = value and right
        return value

    def _not(self, depth: int) -> bool:
        negate = False
        while self._peek() == "!" and self.i + 1 < len(self.a):
            negate = not negate
            self.i += 1
        value = self._primary(depth)
        return not value if negate else value

    def _primary(self, depth: int) -> bool:
        a = self._peek()
        if a is None:
            raise _TestError("an argument is missing")
        n = len(self.a)
        if self.i + 2 < n and self.a[self.i + 1] in _BINARY:
            left, op, right = self.a[self.i], self.a[self.i + 1], self.a[self.i + 2]
            self.i += 3
            return self._binary(left, op, right)
        if a == "(" and depth < 20:
            self.i += 1
            value = self._or(depth + 1)
            if self._peek() != ")":
                raise _TestError("')' expected")
            self.i += 1
            return value
        if a in _UNARY and self.i + 1 < n:
            self.i += 2
            return self._unary(a, self.a[self.i - 1])
        self.i += 1
        return a != ""

    @staticmethod
    def _binary(left: str, op: str, right: str) -> bool:
        if op in ("=", "=="):
            return left == right
        if op == "!=":
            return left != right
        if op == "<":
            return left < right
        if op == "<=":
            return left <= right
        if op == ">":
            return left > right
        if op == ">=":
            return left >= right
        if op in ("-pgt", "-plt"):
            lnum, rnum = _to_int(left.lstrip(_NON_DIGITS)), _to_int(right.lstrip(_NON_DIGITS))
            return lnum > rnum if op == "-pgt" else lnum < rnum
        if op in ("-nt", "-ot"):
            return False  # file times are not known here
        x, y = _to_int(left), _to_int(right)
        return {
            "-eq": x == y,
            "-ne": x != y,
            "-lt": x < y,
            "-le": x <= y,
            "-gt": x > y,
            "-ge": x >= y,
        }[op]

    def _unary(self, op: str, arg: str) -> bool:
        if op == "-n":
            return arg != ""
        if op == "-z":
            return arg == ""
        device, path = self.interp.resolve(arg)
        if not path.startswith("/"):
            return False
        # As GRUB's test.c: -f is a file that is not a directory, -d a directory, -e either,
        # -s a file that opens (a directory does not) and is not empty.
        files = self.interp.files
        is_dir = files.listdir(device, path) is not None
        if op == "-d":
            return is_dir
        if op == "-e":
            return is_dir or files.exists(device, path)
        if is_dir:
            return False
        if op == "-f":
            return files.exists(device, path)
        return bool(files.read(device, path))


_NON_DIGITS = "".join(chr(c) for c in range(128) if not chr(c).isdigit())


# --------------------------------------------------------------------------------------------
# Entry point


def interpret(
    text: str,
    files: GrubFiles,
    *,
    config_path: str = "/boot/grub/grub.cfg",
    root: str | None = None,
    env: Mapping[str, str] | None = None,
    platform: str = "efi",
    expired: Callable[[], bool] | None = None,
) -> GrubConfig:
    """Run ``text``, the ``grub.cfg`` at ``config_path`` on device ``root``, and return its menu.

    ``env`` are variables set before the run (after GRUB's own: ``prefix``, ``root``,
    ``grub_platform``, ``feature_*``…).  ``platform`` is ``efi`` or ``pc``.  ``expired``, when
    given, is asked every few hundred commands whether the caller's time is up (the run then
    stops, as when a budget is used up).  Never raises for anything in the configuration; what
    went wrong is in ``warnings`` and in each entry's ``problems``; time, memory and bytes read
    are bounded (:data:`MAX_STEPS`, :data:`MAX_VALUE`, :data:`MAX_ASSIGNED`, :data:`MAX_READ`).
    """
    interp = _Interpreter(
        files, config_path=config_path, root=root, platform=platform, expired=expired
    )
    return interp.run(text, env)
