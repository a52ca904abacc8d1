"""Pre-boot hooks: programs that may stop a boot or adjust its kernel command line.

The protocol (documented for users in ``docs/handoff.md``):

- Hooks are the executable regular files in the hooks directory (``hooks_dir``, default
  ``/etc/bootmenu/hooks.d``), run one after the other in the order of their names (byte order, as
  ``run-parts`` does).  Names starting with ``.`` or ending in ``~`` are skipped, as are files
  that are not executable.
- Each hook gets the boot plan as one JSON object on standard input and these environment
  variables (on top of bootmenu's own environment): ``BOOTMENU_ENTRY_ID``,
  ``BOOTMENU_ENTRY_TITLE``, ``BOOTMENU_ENTRY_KIND``, ``BOOTMENU_ENTRY_KERNEL``,
  ``BOOTMENU_ENTRY_CMDLINE``, ``BOOTMENU_METHOD``, ``BOOTMENU_DRY_RUN`` (``1`` or ``0``) and
  ``BOOTMENU_HOOK_PROTOCOL`` (``1``).
- Exit status 0: go on.  A line ``cmdline=TEXT`` on standard output replaces the kernel command
  line with TEXT (the last such line counts); later hooks see the new command line.  Other output
  is logged and otherwise ignored.
- Exit status 1: veto.  The boot is stopped; what the hook wrote to standard error is the reason
  shown to the user.
- Anything else — another exit status, death by a signal, not finishing within
  :data:`HOOK_TIMEOUT` seconds, a file that cannot be executed — is a veto too: a hook that
  cannot say yes has said no.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from bootmenu.errors import HandoffError
from bootmenu.system import run

log = logging.getLogger(__name__)

HOOK_TIMEOUT: Final = 10.0
HOOK_PROTOCOL: Final = "1"
EXIT_GO_ON: Final = 0
EXIT_VETO: Final = 1
CMDLINE_PREFIX: Final = "cmdline="
# How much of a hook's standard error is shown as its reason.
MAX_REASON: Final = 500


class HookVeto(HandoffError):
    """A pre-boot hook stopped the boot: it said no, failed, or took too long.

    ``hook`` is the hook's file name, ``reason`` the sentence without the hook's name.
    """

    def __init__(self, message: str, *, hook: str, reason: str):
        super().__init__(message)
        self.hook = hook
        self.reason = reason


@dataclass(frozen=True)
class HookInput:
    """What hooks are told about the boot about to happen."""

    entry_id: str
    title: str
    kind: str
    kernel: str
    cmdline: str
    method: str
    # The boot plan as JSON (``handoff.Plan.to_json()``), given on standard input.
    plan: Mapping[str, Any]
    dry_run: bool = False

    def environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """``base`` (bootmenu's own environment) plus the ``BOOTMENU_*`` variables."""
        env = dict(base)
        env.update(
            {
                "BOOTMENU_ENTRY_ID": self.entry_id,
                "BOOTMENU_ENTRY_TITLE": self.title,
                "BOOTMENU_ENTRY_KIND": self.kind,
                "BOOTMENU_ENTRY_KERNEL": self.kernel,
                "BOOTMENU_ENTRY_CMDLINE": self.cmdline,
                "BOOTMENU_METHOD": self.method,
                "BOOTMENU_DRY_RUN": "1" if self.dry_run else "0",
                "BOOTMENU_HOOK_PROTOCOL": HOOK_PROTOCOL,
            }
        )
        return env


@dataclass(frozen=True)
class HookResult:
    """One hook that said yes; ``cmdline`` is the command line it asked for, if any."""

    hook: str
    cmdline: str | None = None


def find_hooks(directory: Path) -> tuple[Path, ...]:
    """The hooks in ``directory``, in the order they run.  A directory that does not exist has
    none; one that exists but cannot be read raises :class:`HandoffError` (a hook that might
    have said no must not be skipped silently)."""
    try:
        names = sorted(os.listdir(directory), key=os.fsencode)
    except FileNotFoundError:
        return ()
    except OSError as e:
        raise HandoffError(
            f"cannot read the pre-boot hooks directory {directory}: {e.strerror}"
        ) from e
    hooks: list[Path] = []
    for name in names:
        if name.startswith(".") or name.endswith("~"):
            continue
        path = directory / name
        try:
            st = os.stat(path)
        except OSError as e:
            log.warning("pre-boot hook %s skipped: %s", path, e.strerror)
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        if not os.access(path, os.X_OK):
            log.warning("pre-boot hook %s skipped: it is not executable", path)
            continue
        hooks.append(path)
    return tuple(hooks)


def _reason(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    text = " ".join(line for line in lines if line)
    if len(text) > MAX_REASON:
        text = text[: MAX_REASON - 1] + "…"
    return text


def _parse_stdout(name: str, stdout: bytes) -> str | None:
    """The command line a hook asked for (the last ``cmdline=`` line), or None."""
    cmdline: str | None = None
    for raw in stdout.split(b"\n"):
        line = raw.removesuffix(b"\r")
        if not line.startswith(CMDLINE_PREFIX.encode()):
            if line.strip():
                log.info("pre-boot hook %s: %s", name, line.decode("utf-8", "replace"))
            continue
        value = line[len(CMDLINE_PREFIX) :]
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            reason = "it printed a command line that is not UTF-8 text"
            raise HookVeto(
                f"the pre-boot hook {name} failed, so the boot is stopped: {reason}",
                hook=name,
                reason=reason,
            ) from None
        if "\0" in text:
            reason = "it printed a command line containing a NUL character"
            raise HookVeto(
                f"the pre-boot hook {name} failed, so the boot is stopped: {reason}",
                hook=name,
                reason=reason,
            )
        cmdline = text
    return cmdline


def run_hook(
    path: Path,
    info: HookInput,
    *,
    timeout: float = HOOK_TIMEOUT,
    base_env: Mapping[str, str] | None = None,
) -> HookResult:
    """Run one hook; :class:`HookVeto` unless it exits with status 0."""
    name = path.name
    stdin = json.dumps(info.plan, ensure_ascii=False).encode()
    env = info.environment(os.environ if base_env is None else base_env)
    try:
        result = run.run([path], check=False, input=stdin, timeout=timeout, env=env)
    except run.CommandError as e:
        raise HookVeto(
            f"the pre-boot hook {name} failed, so the boot is stopped: {e}",
            hook=name,
            reason=str(e),
        ) from e
    except OSError as e:  # e.g. ENOEXEC: a script without "#!" line
        reason = f"it cannot be run: {e.strerror}"
        raise HookVeto(
            f"the pre-boot hook {name} failed, so the boot is stopped: {reason}",
            hook=name,
            reason=reason,
        ) from e
    if result.returncode == EXIT_VETO:
        reason = _reason(result.stderr) or "it gave no reason"
        raise HookVeto(
            f"the pre-boot hook {name} refused the boot: {reason}", hook=name, reason=reason
        )
    if result.returncode != EXIT_GO_ON:
        reason = run.describe_failure([str(path)], result.returncode, result.stderr)
        raise HookVeto(
            f"the pre-boot hook {name} failed, so the boot is stopped: {reason}",
            hook=name,
            reason=reason,
        )
    return HookResult(hook=name, cmdline=_parse_stdout(name, result.stdout))


def run_hooks(
    directory: Path | None,
    info: HookInput,
    *,
    timeout: float = HOOK_TIMEOUT,
    base_env: Mapping[str, str] | None = None,
) -> tuple[str, tuple[HookResult, ...]]:
    """Run every hook in ``directory`` in order.

    Returns the command line after all hooks (each hook sees its predecessors' changes) and
    what each hook said.  The first veto raises :class:`HookVeto`; the hooks after it do not run.
    """
    if directory is None:
        return info.cmdline, ()
    results: list[HookResult] = []
    for path in find_hooks(directory):
        log.info("running pre-boot hook %s", path)
        result = run_hook(path, info, timeout=timeout, base_env=base_env)
        results.append(result)
        if result.cmdline is not None and result.cmdline != info.cmdline:
            log.info(
                "pre-boot hook %s changed the kernel command line from %r to %r",
                path.name,
                info.cmdline,
                result.cmdline,
            )
            info = replace(
                info, cmdline=result.cmdline, plan={**info.plan, "cmdline": result.cmdline}
            )
    return info.cmdline, tuple(results)
