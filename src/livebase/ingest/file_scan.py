"""One streamed pass over a file: its sha256 and, fed chunk by chunk, its blank rows.

A load needs both only after DuckDB has staged the file: the checksum goes into ``loads``,
the blank rows renumber the staged rows as a spreadsheet counts them. So for a UTF-8 CSV the
pass runs in a thread of its own (:class:`FileScan`) while DuckDB reads the same file; both
release the GIL for their heavy work (hashing, NumPy, DuckDB's parse), and the load waits
for the scan only once the file is staged. Files that are converted first (Windows-1251,
UTF-16, gzip, XLSX) and standard input are read before staging, as before.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from livebase.ingest.sniff import BlankRows

__all__ = ["CHUNK", "FileScan", "ProgressFn", "checksum_and_blanks", "file_checksum", "read_chunks"]

ProgressFn = Callable[[int], None]
"""Called with the number of bytes just processed."""

CHUNK = 1 << 20


def read_chunks(path: Path, stop: threading.Event | None = None) -> Iterator[bytes]:
    """The file's bytes, ``CHUNK`` at a time (until ``stop`` is set, when given)."""
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk
            if stop is not None and stop.is_set():
                return


def file_checksum(path: Path) -> str:
    """The sha256 of a file's bytes (streamed), as ``loads.checksum`` records it.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "a.csv"
    >>> _ = path.write_bytes(b"")
    >>> file_checksum(path)[:12]
    'e3b0c44298fc'
    """
    return checksum_and_blanks(path, None)


def checksum_and_blanks(
    path: Path,
    progress: ProgressFn | None,
    blanks: BlankRows | None = None,
    known: str | None = None,
    stop: threading.Event | None = None,
) -> str:
    """The sha256 of the file (``known`` when the caller has it: not computed again), feeding
    every chunk to ``blanks`` on the way."""
    digest = hashlib.sha256()
    for chunk in read_chunks(path, stop):
        if known is None:
            digest.update(chunk)
        if blanks is not None:
            blanks.feed(chunk)
        if progress:
            progress(len(chunk))
    return known or digest.hexdigest()


class FileScan:
    """:func:`checksum_and_blanks` of a file, running in a thread while the caller goes on
    (``progress``, when given, is called from that thread).

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "a.csv"
    >>> _ = path.write_bytes(b"h;h\\n1;2\\n\\n3;4\\n")
    >>> scan = FileScan(path, BlankRows())
    >>> checksum, blank_rows = scan.result()
    >>> checksum[:12], blank_rows
    ('43e570e0fd5b', (3,))
    """

    def __init__(
        self,
        path: Path,
        blanks: BlankRows,
        known: str | None = None,
        progress: ProgressFn | None = None,
    ) -> None:
        self._path = path
        self._progress = progress
        self._blanks = blanks
        self._known = known
        self._stop = threading.Event()
        self._checksum: str | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="livebase-file-scan", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._checksum = checksum_and_blanks(
                self._path, self._progress, self._blanks, self._known, self._stop
            )
        except BaseException as exc:  # handed to the thread that waits, in result()
            self._error = exc

    def result(self) -> tuple[str, tuple[int, ...]]:
        """Wait for the scan: the file's sha256 and its blank rows. Re-raises what the scan
        raised (a file that cannot be read)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        if self._stop.is_set() or self._checksum is None:
            raise RuntimeError("the scan of the file was cancelled")
        return self._checksum, tuple(self._blanks.found)

    def cancel(self) -> None:
        """Stop the scan after the chunk it is reading, and wait for it (a load that ends
        before it needs the scan)."""
        self._stop.set()
        self._thread.join()
