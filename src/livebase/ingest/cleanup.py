"""What a load leaves behind when it fails or is killed: nothing.

- SIGTERM ends a load as Ctrl+C does (:func:`terminate_cleanly`), so every ``finally`` runs:
  the temporary folder with converted copies is removed, the transaction rolled back.
- A load killed outright (SIGKILL, power cut) leaves DuckDB's file longer than its data (the
  rolled-back rows' blocks stay at its end) and possibly an empty ``<store>.tmp`` folder: the
  next load gives the space back (:func:`reclaim_store_space`) and removes the folder.
- Permission problems are found before any work, with the path named (:func:`check_writable`).

Measured by ``tests/ingest/test_load_cleanup.py`` (figures to re-take on a quiet machine):
a store of 2,371,584 bytes grew to 7,614,464 with a 1.5M-row load killed in its merge; the
next one-row load left it at 3,944,448, the same as that load on a copy never killed.
"""

from __future__ import annotations

import contextlib
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import duckdb

from livebase.errors import IngestError, StoreError

__all__ = [
    "Terminated",
    "check_writable",
    "reclaim_store_space",
    "remove_empty_temp_folder",
    "terminate_cleanly",
]

_FILE_HEADER = 3 * 4096  # DuckDB's file starts with a main header and two database headers


class Terminated(KeyboardInterrupt):
    """The process was asked to stop (SIGTERM) while loading: handled like Ctrl+C."""


@contextlib.contextmanager
def terminate_cleanly() -> Iterator[None]:
    """Inside, SIGTERM raises :class:`Terminated` (a KeyboardInterrupt), so cleanup runs.

    DuckDB turns a signal that arrives during a query into its own "Query interrupted"
    error; whatever the block raises after a SIGTERM comes out as :class:`Terminated`.
    Only the main thread can own signal handlers; elsewhere this does nothing.

    >>> with terminate_cleanly():
    ...     signal.getsignal(signal.SIGTERM).__name__
    '_raise_terminated'
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def _raise_terminated(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        raise Terminated(f"stopped by signal {signum}")

    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    except BaseException as exc:
        if received and not isinstance(exc, Terminated):
            raise Terminated(f"stopped by signal {received[0]}") from None
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


def _file_is_longer_than_its_blocks(con: duckdb.DuckDBPyConnection, path: Path) -> bool:
    row = con.execute("SELECT block_size, total_blocks FROM pragma_database_size()").fetchone()
    if row is None or not path.exists():
        return False
    block_size, total_blocks = int(row[0]), int(row[1])
    return path.stat().st_size > _FILE_HEADER + (total_blocks + 1) * block_size


def reclaim_store_space(con: duckdb.DuckDBPyConnection, path: Path | None) -> bool:
    """Give back the space of rolled-back writes at the end of the store file; True if done.

    DuckDB truncates its file at a checkpoint that writes something, so a one-statement
    change (a table created and dropped) is checkpointed. Cheap when nothing is to be
    reclaimed: the file's length is compared with the blocks in use first.
    """
    if path is None or not _file_is_longer_than_its_blocks(con, path):
        return False
    try:
        con.execute("CREATE TABLE livebase_reclaim_space (x INTEGER)")
        con.execute("DROP TABLE livebase_reclaim_space")
        con.execute("CHECKPOINT")
    except duckdb.Error:
        return False
    return True


def remove_empty_temp_folder(store_path: Path | None) -> None:
    """Remove DuckDB's ``<store>.tmp`` spill folder when a killed load left it empty."""
    if store_path is None:
        return
    with contextlib.suppress(OSError):
        store_path.with_name(store_path.name + ".tmp").rmdir()


def check_writable(folder: Path, *, what: str, hint: str) -> None:
    """Refuse early, naming ``folder``, when a file cannot be created in it.

    Tries to create a file (``os.access`` says yes to root on a read-only mount).

    >>> check_writable(Path(tempfile.mkdtemp()), what="the store", hint="")
    """
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".livebase-write-test-"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        message = f"cannot write {what} in {folder}: {reason.lower()}. {hint}".strip()
        if what == "the store":
            raise StoreError(message) from None
        raise IngestError(message) from None
