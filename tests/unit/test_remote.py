"""One core, menus on several consoles (bootmenu.remote): a real Core over a --root directory,
served on a Unix socket to RemoteCores in this process, as the following menus' processes use it."""

from __future__ import annotations

import pickle
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bootmenu import remote
from bootmenu.config import defaults
from bootmenu.core import Core, Progress, View
from bootmenu.errors import HandoffError, UsageError
from bootmenu.model import Kind
from bootmenu.system import ipc
from tests.images import bzimage, initrd


@pytest.fixture
def root(tmp_path: Path) -> Path:
    boot = tmp_path / "boot"
    (boot / "loader/entries").mkdir(parents=True)
    (boot / "vmlinuz").write_bytes(bzimage("6.1.0-remote-amd64"))
    (boot / "initrd.img").write_bytes(initrd())
    (boot / "loader/entries/debian.conf").write_text(
        "title Debian\nlinux /vmlinuz\ninitrd /initrd.img\noptions quiet\n"
    )
    return boot


class Views:
    """What on_change was told, and a way to wait for a view that satisfies a test."""

    def __init__(self) -> None:
        self.seen: list[View] = []
        self.changed = threading.Condition()

    def __call__(self, view: View) -> None:
        with self.changed:
            self.seen.append(view)
            self.changed.notify_all()

    def wait(self, test: Callable[[View], bool], timeout: float = 5) -> View:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                found = next((v for v in reversed(self.seen) if test(v)), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                assert left > 0, f"no such view; saw {len(self.seen)}"
                self.changed.wait(left)


@pytest.fixture
def served(root: Path, tmp_path: Path) -> Iterator[tuple[Core, remote.CoreServer, Path]]:
    core = Core(roots=[str(root)], config_file=None, cmdline="", dry_run=True,
                efivars_dir=str(tmp_path / "none"))  # fmt: skip
    core.start()
    server = remote.CoreServer(core, tmp_path / "run/core.sock")
    core.on_change = server.publish
    yield core, server, tmp_path / "run/core.sock"
    server.close()
    core.close()


def test_a_following_menu_sees_the_same_entries_and_decision(
    served: tuple[Core, remote.CoreServer, Path],
) -> None:
    core, _, path = served
    follower = remote.RemoteCore(Views(), path)
    try:
        assert follower.leads is False and follower.dry_run is True
        assert follower.config.timeout == core.config.timeout
        assert [e.id for e in follower.start().entries] == ["debian.conf"]
        assert follower.decide().entry == core.decide().entry
    finally:
        follower.close()


def test_a_key_on_one_console_stops_the_countdown_on_the_others(
    served: tuple[Core, remote.CoreServer, Path],
) -> None:
    _, _, path = served
    first_views, second_views = Views(), Views()
    first = remote.RemoteCore(first_views, path)
    second = remote.RemoteCore(second_views, path)
    try:
        first.touch()
        assert second_views.wait(lambda v: v.touched).touched
    finally:
        first.close()
        second.close()


def test_the_leaders_countdown_and_a_boot_are_shown_everywhere(
    served: tuple[Core, remote.CoreServer, Path],
) -> None:
    core, _, path = served
    watcher_views = Views()
    watcher = remote.RemoteCore(watcher_views, path)
    booter = remote.RemoteCore(Views(), path)
    try:
        core.set_countdown(4)
        assert watcher_views.wait(lambda v: v.countdown == 4).countdown == 4
        steps: list[Progress] = []
        plan = booter.boot(booter.view().entries, progress=steps.append)  # a dry run: returns
        assert plan.entry.id == "debian.conf" and plan.segments
        assert [s.step for s in steps][:2] == ["read", "read"] and steps[-1].step == "load"
        booting = watcher_views.wait(lambda v: v.booting is not None)
        assert booting.booting is not None and "'Debian'" in booting.booting
        assert watcher_views.wait(lambda v: v.booting is None) is not None  # over
    finally:
        watcher.close()
        booter.close()


def test_errors_keep_their_type_and_unknown_calls_are_refused(
    served: tuple[Core, remote.CoreServer, Path],
) -> None:
    _, _, path = served
    follower = remote.RemoteCore(Views(), path)
    try:
        for name in ("close", "find", "rescue_shell"):  # not calls a menu makes of the core
            with pytest.raises(UsageError, match=f"the core has no call '{name}'"):
                follower._call(name)
        with pytest.raises(HandoffError, match="the filesystem /no/such is no longer available"):
            follower.list_files("/no/such")
        assert [e.id for e in follower.view().entries] == ["debian.conf"]  # still connected
    finally:
        follower.close()


def test_a_message_cannot_carry_other_classes() -> None:
    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("pwned",))

    with pytest.raises(ipc.ChannelClosed, match=r"builtins\.print is not allowed"):
        ipc.loads(pickle.dumps(Evil()))
    view = View((), (), ("a warning",), touched=True)
    assert ipc.loads(ipc.dumps(view)) == view
    # Enum members travel as their class and value, never through builtins.getattr (which
    # Debian 12's Python 3.11.2 pickles them with, and loads() refuses).
    config = remote._portable(defaults())
    data = ipc.dumps((Kind.LINUX, config))
    assert b"getattr" not in data
    assert ipc.loads(data) == (Kind.LINUX, config)
    with pytest.raises(ipc.ChannelClosed, match=r"builtins\.getattr is not allowed"):
        ipc.loads(pickle.dumps(getattr))
    # As Python 3.11.2 pickles an enum member (by name, through getattr): still by value here.
    by_name = Kind.__reduce_ex__
    try:
        Kind.__reduce_ex__ = lambda self, proto: (getattr, (type(self), self.name))  # type: ignore[method-assign]
        assert b"getattr" not in ipc.dumps(Kind.UKI)
        assert ipc.loads(ipc.dumps(Kind.UKI)) is Kind.UKI
    finally:
        Kind.__reduce_ex__ = by_name  # type: ignore[method-assign]


def test_other_consoles() -> None:
    assert remote.other_consoles(["tty0", "ttyS0"]) == ["/dev/tty1"]
    assert remote.other_consoles(["ttyS1", "ttyS0"]) == ["/dev/ttyS1"]
    assert remote.other_consoles(["ttyS0"]) == []
    assert remote.other_consoles(["tty0", "ttyS0"], ["ttyS2"]) == ["/dev/ttyS2"]
    assert remote.other_consoles(["ttyS0"], ["ttyS0", "ttyS1"], own="/dev/ttyS0") == ["/dev/ttyS1"]
