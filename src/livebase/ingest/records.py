"""What a load leaves behind besides the merged rows: its row in ``loads``, and the rejected rows.

``write_rejected`` writes ``FILE.rejected.csv`` beside the input (with ``--skip-bad-rows``):
one line per rejected row, with the reasons and the row's cells as they were in the file.
``record_load`` inserts the load's row, whose counts always add up to the rows read.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from livebase.errors import IngestError, RowProblem
from livebase.ingest.mapping import ColumnMapping
from livebase.ingest.source import PreparedFile
from livebase.ingest.validation import collect_problems

__all__ = ["LoadResult", "record_load", "write_rejected"]


def write_rejected(
    con: duckdb.DuckDBPyConnection,
    prepared: PreparedFile,
    table: str,
    mapping: ColumnMapping,
    structural: list[RowProblem],
    *,
    fallback_folder: Path | None = None,
) -> Path:
    """Write the rejected rows beside the input; returns where they went.

    When the input's folder cannot be written (a read-only share, a mounted export), they go
    to ``fallback_folder`` (the workspace's ``rejected/``); without one, the load is refused
    naming the path, before anything is written to the store.
    """
    original = prepared.original
    if prepared.display == "<stdin>":
        target = Path.cwd() / "stdin.rejected.csv"
    else:
        target = original.with_name(original.name + ".rejected.csv")
    problems, _ = collect_problems(con, table, mapping, limit=2**62)
    by_row: dict[int, list[RowProblem]] = {}
    for p in problems:
        by_row.setdefault(p.row, []).append(p)
    raw_rows: dict[int, list[str]] = {}
    if by_row:
        placeholders = ", ".join(str(r) for r in by_row)
        ncols = len(mapping.headers)
        cells = ", ".join(f"c{i}" for i in range(ncols))
        for row in con.execute(
            f"SELECT t._row, {cells} FROM {table} t JOIN lb_stage s ON s.rowid = t._row_id "
            f"WHERE t._row IN ({placeholders})"
        ).fetchall():
            raw_rows[int(row[0])] = ["" if v is None else str(v) for v in row[1:]]
    try:
        handle = target.open("w", encoding="utf-8-sig", newline="")
    except OSError as exc:
        if fallback_folder is None:
            raise IngestError(
                f"cannot write the rejected rows to {target} ({_reason(exc)}); nothing was "
                "loaded: copy the file to a folder you can write to and load it from there",
                file=prepared.display,
            ) from None
        try:
            fallback_folder.mkdir(parents=True, exist_ok=True)
            target = fallback_folder / target.name
            handle = target.open("w", encoding="utf-8-sig", newline="")
        except OSError as again:
            raise IngestError(
                f"cannot write the rejected rows to {target} ({_reason(again)}) nor beside the "
                "input; nothing was loaded",
                file=prepared.display,
            ) from None
    with handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["row", "column", "problem", "value", *mapping.headers])
        for p in structural:
            writer.writerow([p.row, p.column, p.problem, p.value or ""])
        for row_number in sorted(by_row):
            first = by_row[row_number][0]
            problem = "; ".join(f"{p.column}: {p.problem}" for p in by_row[row_number])
            writer.writerow(
                [
                    row_number,
                    first.column,
                    problem,
                    first.value or "",
                    *raw_rows.get(row_number, []),
                ]
            )
    return target


def _reason(exc: OSError) -> str:
    return (exc.strerror or type(exc).__name__).lower()


@dataclass(frozen=True)
class LoadResult:
    """One row of the ``loads`` table, plus what a person should know about the load."""

    load_id: int
    kind: str
    file: str
    checksum: str
    preset: str
    rows_read: int
    rows_inserted: int
    rows_updated: int
    rows_unchanged: int
    rows_duplicate: int
    rows_rejected: int
    rejected_file: str | None
    started_at: datetime
    finished_at: datetime
    encoding: str
    notes: tuple[str, ...] = ()
    options: str = ""
    """Fingerprint of the options that shaped the rows (:func:`~livebase.ingest.unchanged.options_fingerprint`)."""
    skipped_since: int | None = None
    """Set when the file was skipped as unchanged: the load that read its rows."""

    @property
    def skipped(self) -> bool:
        """The file was the store's latest load, unchanged: nothing was staged or merged."""
        return self.skipped_since is not None

    def as_dict(self) -> dict[str, object]:
        return {
            k: (v.isoformat(sep=" ") if isinstance(v, datetime) else v)
            for k, v in self.__dict__.items()
        }


def record_load(con: duckdb.DuckDBPyConnection, result: LoadResult) -> None:
    """Insert the load's row into ``loads`` (inside the load's transaction)."""
    con.execute(
        """INSERT INTO loads (load_id, kind, file, checksum, preset, rows_read, rows_inserted,
            rows_updated, rows_unchanged, rows_duplicate, rows_rejected, rejected_file,
            started_at, finished_at, options, skipped_since)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            result.load_id,
            result.kind,
            result.file,
            result.checksum,
            result.preset,
            result.rows_read,
            result.rows_inserted,
            result.rows_updated,
            result.rows_unchanged,
            result.rows_duplicate,
            result.rows_rejected,
            result.rejected_file,
            result.started_at,
            result.finished_at,
            result.options or None,
            result.skipped_since,
        ],
    )
