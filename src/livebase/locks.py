"""The workspace job lock: batch jobs take turns on the analytics store, readers wait politely.

DuckDB lets one process write a file, and a long job (a 10M-row ingest, a backfill) holds it
for minutes. So livebase commands on one workspace coordinate through ``livebase.lock``
(``flock``): a batch job that writes the analytics store holds it exclusively; a read-only
command holds it shared. A command that must wait says for whom, once, and then waits (up to
``wait_timeout`` seconds) instead of failing::

    waiting for 'livebase ingest' (pid 4121, started 14:05:12) to finish…

Who holds the lock is written beside it, one small JSON file per holder under
``.livebase/holders/`` (removed on release; those of dead processes are ignored). Within one
process the lock is re-entrant, so a command that opens the store twice does not wait for
itself. The operational store (SQLite/PostgreSQL) needs none of this.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> release = acquire(root, exclusive=True, command="livebase segment")
>>> [h.command for h in holders(root)]
['livebase segment']
>>> release()
>>> holders(root)
[]
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from livebase.errors import StoreError
from livebase.i18n import LazyText, _l, choose_language, joined, translate

__all__ = ["LOCK_FILE", "Holder", "WorkspaceBusyError", "acquire", "holders"]

LOCK_FILE = "livebase.lock"
HOLDERS_DIR = Path(".livebase") / "holders"
DEFAULT_WAIT_SECONDS = 3600.0
_POLL_SECONDS = 0.2


class WorkspaceBusyError(StoreError):
    """Another livebase command kept the workspace longer than this one would wait."""


@dataclass(frozen=True)
class Holder:
    """A process holding the workspace lock."""

    pid: int
    command: str
    exclusive: bool
    started: datetime

    def describe(self) -> str:
        return _l(
            "'{command}' (pid {pid}, started {started})",
            command=self.command,
            pid=self.pid,
            started=self.started.strftime("%H:%M:%S"),
        )


@dataclass
class _Held:
    fd: int
    exclusive: bool
    count: int
    holder_file: Path | None


_HELD: dict[Path, _Held] = {}
_GUARD = threading.Lock()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def holders(root: Path) -> list[Holder]:
    """The live processes holding (or just taking) the lock of the workspace at ``root``."""
    folder = root / HOLDERS_DIR
    found: list[Holder] = []
    if not folder.is_dir():
        return found
    for entry in sorted(folder.glob("*.json")):
        try:
            data = json.loads(entry.read_text(encoding="utf-8"))
            holder = Holder(
                int(data["pid"]),
                str(data["command"]),
                bool(data["exclusive"]),
                datetime.fromisoformat(data["started"]),
            )
        except (OSError, ValueError, KeyError):
            continue
        if _alive(holder.pid):
            found.append(holder)
        else:
            entry.unlink(missing_ok=True)
    return found


_OPTIONS_WITH_VALUES = {"--workspace", "-w", "--wait-timeout"}


def _default_command() -> str:
    """``livebase <command> <subcommand>`` from this process's arguments (global options out)."""
    words: list[str] = []
    skip = False
    for word in sys.argv[1:]:
        if skip:
            skip = False
        elif word in _OPTIONS_WITH_VALUES:
            skip = True
        elif word.startswith("-"):
            if words:  # the command's own options begin: its name is complete
                break
        else:
            words.append(word)
    return " ".join(["livebase", *words[:2]])


def _joined(found: list[Holder]) -> LazyText:
    """The holders, one after another, each translatable."""
    return joined([h.describe() for h in found])


def _notify_stderr(message: str) -> None:
    print(translate(message, choose_language()), file=sys.stderr, flush=True)


def _register(root: Path, exclusive: bool, command: str) -> Path | None:
    folder = root / HOLDERS_DIR
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{os.getpid()}-{time.monotonic_ns()}.json"
        path.write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "command": command,
                    "exclusive": exclusive,
                    "started": datetime.now().isoformat(timespec="seconds"),
                }
            ),
            encoding="utf-8",
        )
    except OSError:
        return None
    return path


def acquire(
    root: Path,
    *,
    exclusive: bool,
    command: str | None = None,
    wait_timeout: float | None = None,
    notify: Callable[[str], None] | None = None,
) -> Callable[[], None]:
    """Take the workspace lock (waiting for other commands); returns the function that releases it.

    ``exclusive`` for commands that write the analytics store, shared for readers.
    ``wait_timeout`` (seconds, default an hour or ``LIVEBASE_WAIT_TIMEOUT``) bounds the wait.
    """
    root = root.resolve()
    lock_path = root / LOCK_FILE
    command = command or _default_command()
    notify = notify or _notify_stderr
    if wait_timeout is None:
        wait_timeout = float(os.environ.get("LIVEBASE_WAIT_TIMEOUT", DEFAULT_WAIT_SECONDS))
    with _GUARD:
        held = _HELD.get(lock_path)
        if held is not None and (held.exclusive or not exclusive):
            held.count += 1
            return lambda: _release(lock_path)
    upgrading = held is not None
    if held is not None:  # this process reads and now wants to write: convert its lock
        fd = held.fd
    else:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except PermissionError:
            if exclusive:
                raise StoreError(
                    _l(
                        "cannot write in the workspace folder {root} (permission denied creating "
                        "{file}): run livebase as a user who can write there",
                        root=root,
                        file=LOCK_FILE,
                    )
                ) from None
            return lambda: None  # a read-only folder: nothing can write, nothing to wait for
    registered = _register(root, exclusive, command)
    operation = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    deadline = time.monotonic() + wait_timeout
    said = False
    try:
        while True:
            try:
                fcntl.flock(fd, operation | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                others = [
                    h for h in holders(root) if h.pid != os.getpid() and (exclusive or h.exclusive)
                ]
                if not said and others:
                    notify(_l("waiting for {names} to finish…", names=_joined(others)))
                    said = True
                if time.monotonic() >= deadline:
                    raise WorkspaceBusyError(
                        _l(
                            "the workspace {root} is still busy with {names} after {seconds} s: "
                            "try again when it has finished, or wait longer with "
                            "--wait-timeout SECONDS",
                            root=root,
                            names=_joined(others) if others else _l("another livebase command"),
                            seconds=f"{wait_timeout:.0f}",
                        )
                    ) from None
                time.sleep(_POLL_SECONDS)
    except BaseException:
        if not upgrading:
            os.close(fd)
        if registered is not None:
            registered.unlink(missing_ok=True)
        raise
    with _GUARD:
        if held is not None:
            if held.holder_file is not None:
                held.holder_file.unlink(missing_ok=True)
            held.exclusive, held.count, held.holder_file = True, held.count + 1, registered
        else:
            _HELD[lock_path] = _Held(fd, exclusive, 1, registered)
    return lambda: _release(lock_path)


def _release(lock_path: Path) -> None:
    with _GUARD:
        held = _HELD.get(lock_path)
        if held is None:
            return
        held.count -= 1
        if held.count > 0:
            return
        del _HELD[lock_path]
    fcntl.flock(held.fd, fcntl.LOCK_UN)
    os.close(held.fd)
    if held.holder_file is not None:
        held.holder_file.unlink(missing_ok=True)
