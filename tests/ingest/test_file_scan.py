"""The file scan (checksum and blank rows) that runs beside DuckDB's staging: the same answer
as the scan in line, its errors handed to the load, and cancelled by a load that stops before
it needs it."""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

import livebase.ingest.load as load_module
from livebase.errors import IngestError
from livebase.ingest import PRESETS, LoadOptions, load_file
from livebase.ingest.file_scan import CHUNK, FileScan, checksum_and_blanks
from livebase.ingest.sniff import BlankRows
from livebase.store import Store

LOADED_AT = datetime(2026, 11, 22, 12, 0)
HEADER = "ID заказа;ID пользователя;Email;Дата создания;Статус;Стоимость, RUB\n"


def _options() -> LoadOptions:
    return LoadOptions(PRESETS["getcourse"], loaded_at=LOADED_AT, clock=lambda: LOADED_AT)


def _scan_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "livebase-file-scan"]


def _export(rows: int, blank_every: int = 0) -> str:
    lines = [HEADER]
    for i in range(1, rows + 1):
        lines.append(
            f'{i};{i % 900};"u{i % 900}@example.ru";01.03.2026 10:15;Завершен;"1 490,00"\n'
        )
        if blank_every and i % blank_every == 0:
            lines.append("  \n")
    return "".join(lines)


def test_the_background_scan_gives_the_checksum_and_blank_rows_of_the_scan_in_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "orders.csv"
    # several chunks, blank lines among them, a quoted cell holding a line break and a blank line
    text = _export(30_000, blank_every=7_001) + '99999;1;"a\n\nb";01.03.2026;Завершен;1\n'
    path.write_bytes(text.encode("utf-8"))
    assert path.stat().st_size > 2 * CHUNK

    in_line = BlankRows()
    checksum = checksum_and_blanks(path, None, in_line)
    background = FileScan(path, BlankRows())

    assert background.result() == (checksum, tuple(in_line.found))
    assert checksum == hashlib.sha256(path.read_bytes()).hexdigest()
    assert in_line.found == [7_003, 14_005, 21_007, 28_009]
    assert not _scan_threads()


def test_a_cancelled_scan_stops_and_says_so_when_asked_for_its_result(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(_export(60_000).encode("utf-8"))
    assert path.stat().st_size > 3 * CHUNK
    # the pass stops after the chunk it is reading once stop is set
    read: list[int] = []
    stop = threading.Event()
    stop.set()
    checksum_and_blanks(path, read.append, BlankRows(), stop=stop)
    assert read == [CHUNK]

    scan = FileScan(path, BlankRows())
    scan.cancel()
    assert not _scan_threads()
    with pytest.raises(RuntimeError, match="cancelled"):
        scan.result()


def test_a_file_the_scan_cannot_read_raises_in_the_thread_that_waits(tmp_path: Path) -> None:
    scan = FileScan(tmp_path / "gone.csv", BlankRows())
    with pytest.raises(FileNotFoundError):
        scan.result()


def test_a_load_records_the_checksum_of_the_scan_and_numbers_rows_after_blank_lines(
    tmp_path: Path,
) -> None:
    path = tmp_path / "orders.csv"
    text = _export(5_000, blank_every=2_000) + "5001;1;u1@example.ru;32.03.2026;Завершен;10\n"
    path.write_bytes(text.encode("utf-8"))
    store = Store.in_memory()
    with pytest.raises(IngestError) as refused:
        load_file(store, str(path), _options())
    # header, 5,000 rows, two blank lines: the bad row is row 5,004 of the sheet
    assert "row 5004" in str(refused.value)
    assert not _scan_threads()

    path.write_bytes(_export(5_000, blank_every=2_000).encode("utf-8"))
    result = load_file(store, str(path), _options())
    assert result.rows_inserted == 5_000
    assert result.checksum == hashlib.sha256(path.read_bytes()).hexdigest()
    assert not _scan_threads()


def test_a_load_that_fails_before_it_needs_the_scan_cancels_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(_export(40_000).encode("utf-8"))
    cancelled: list[FileScan] = []
    cancel = FileScan.cancel

    def spy(scan: FileScan) -> None:
        cancelled.append(scan)
        cancel(scan)

    def refuse(*args: object, **kwargs: object) -> None:
        raise duckdb.IOException("the disk is full")

    monkeypatch.setattr(FileScan, "cancel", spy)
    monkeypatch.setattr(load_module, "stage_file", refuse)
    with pytest.raises(IngestError, match="the disk is full"):
        load_file(Store.in_memory(), str(path), _options())
    assert len(cancelled) == 1
    assert not _scan_threads()
