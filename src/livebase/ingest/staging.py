"""Stage one prepared file as text cells in the load's temporary tables, and read back the
lines the CSV reader could not split.

Every cell lands as VARCHAR in ``lb_stage`` (columns ``c0``, ``c1``, …), so no value can fail
a cast here; typing and checking happen in :mod:`livebase.ingest.validation`. Lines the reader
cannot split (missing or extra columns, broken quotes, bad bytes) land in ``lb_rejects`` and
come back as :class:`~livebase.errors.RowProblem` rows naming the line.

The temporary tables belong to the load's own cursor (a DuckDB connection of its own), so
they vanish when the load closes it, whichever way the load ends.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from livebase.errors import RowProblem
from livebase.ingest.parsing import quote, trim_sql
from livebase.ingest.presets import Preset
from livebase.ingest.source import PreparedFile

__all__ = ["blank_row_sql", "parquet_columns", "stage_file", "structural_problems"]


def parquet_columns(con: duckdb.DuckDBPyConnection, path: Path) -> list[tuple[str, str]]:
    """(name, DuckDB type) of every column of a Parquet file."""
    described = con.execute(f"DESCRIBE SELECT * FROM read_parquet({quote(str(path))})").fetchall()
    return [(str(row[0]), str(row[1])) for row in described]


def blank_row_sql(ncols: int, alias: str) -> str:
    """True for a staged row whose cells are all empty: Excel's trailing rows of bare
    separators (``;;;;``) are blank rows of the sheet, skipped like blank lines.

    >>> import duckdb
    >>> rows = "SELECT * FROM (VALUES ('  ', '\u00a0'), ('', 'x'), (NULL, '')) s(c0, c1)"
    >>> duckdb.connect().execute(f"SELECT {blank_row_sql(2, 's')} FROM ({rows}) s").fetchall()
    [(True,), (False,), (True,)]
    """
    cells = ", ".join(f"nullif({trim_sql(f'{alias}.c{i}')}, '')" for i in range(ncols))
    return f"coalesce({cells}) IS NULL"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _parquet_cell(name: str, type_: str, timezone: str) -> str:
    """A Parquet column as text, as a person reads the value (not as the machine's zone)."""
    column = _identifier(name)
    if type_.startswith("TIMESTAMP WITH TIME ZONE"):
        # a moment in time: written in the workspace's zone, never the machine's
        return f"CAST(timezone({quote(timezone)}, {column}) AS VARCHAR)"
    scale = re.fullmatch(r"DECIMAL\(\d+,\s*(\d+)\)", type_)
    if scale and int(scale.group(1)) > 0:
        # DECIMAL(38,9) holds 10.5 as 10.500000000: the trailing zeros say nothing
        return f"regexp_replace(CAST({column} AS VARCHAR), '\\.?0+$', '')"
    return f"CAST({column} AS VARCHAR)"


def stage_file(
    con: duckdb.DuckDBPyConnection,
    prepared: PreparedFile,
    preset: Preset,
    ncols: int,
    has_header: bool,
    *,
    timezone: str = "UTC",
) -> None:
    """Create ``lb_stage`` (every cell as text) and ``lb_rejects`` (lines that did not split)."""
    path = quote(str(prepared.read_path))
    if prepared.format == "parquet":
        cols = ", ".join(
            f"{_parquet_cell(name, type_, timezone)} AS c{i}"
            for i, (name, type_) in enumerate(parquet_columns(con, prepared.read_path))
        )
        con.execute(f"CREATE TEMP TABLE lb_stage AS SELECT {cols} FROM read_parquet({path})")
        con.execute(
            "CREATE TEMP TABLE lb_rejects (line BIGINT, column_idx BIGINT, error_type VARCHAR, "
            "csv_line VARCHAR, error_message VARCHAR)"
        )
        return
    if preset.layout == "whitespace":
        split = ", ".join(f"parts[{i + 1}] AS c{i}" for i in range(ncols))
        con.execute(
            f"""CREATE TEMP TABLE lb_stage AS
            SELECT {split}, len(parts) AS _parts, line AS _line FROM (
                SELECT regexp_split_to_array(trim(line), '\\s+') AS parts, line
                FROM read_csv({path}, columns = {{'line': 'VARCHAR'}}, delim = '\\x01',
                              quote = '', escape = '', header = {str(has_header).lower()},
                              store_rejects = true, rejects_table = 'lb_rejects',
                              rejects_scan = 'lb_rejects_scan')
                WHERE trim(line) <> '')"""
        )
        return
    # DuckDB takes the escape sequence, not the character itself
    new_line = ", new_line = '\\n'" if prepared.line_end == "\n" else ""
    con.execute(
        f"""CREATE TEMP TABLE lb_stage AS SELECT * FROM read_csv({path},
            delim = {quote(prepared.delimiter)}, quote = '"', escape = '"',
            header = {str(has_header).lower()}, all_varchar = true,
            strict_mode = true, null_padding = false,
            auto_detect = false, columns = {{{", ".join(f"'c{i}': 'VARCHAR'" for i in range(ncols))}}},
            store_rejects = true, rejects_table = 'lb_rejects', rejects_scan = 'lb_rejects_scan',
            max_line_size = 10000000{new_line})"""
    )


def structural_problems(
    con: duckdb.DuckDBPyConnection, ncols: int, prepared: PreparedFile
) -> tuple[list[RowProblem], list[int]]:
    """The lines the reader rejected, as problems, and their row numbers."""
    rows = con.execute(
        "SELECT line, column_idx, error_type, csv_line, error_message FROM lb_rejects ORDER BY line"
    ).fetchall()
    ends_with_newline = _ends_with_newline(prepared.read_path) if prepared.format == "csv" else True
    last_line = rows[-1][0] if rows else None
    problems: list[RowProblem] = []
    lines: list[int] = []
    for line, _column_idx, error_type, csv_line, message in rows:
        if lines and lines[-1] == int(line):
            continue  # the reader reports a short line once per missing column: keep one
        lines.append(int(line))
        if str(csv_line or "").strip(prepared.delimiter + " \t\r\n") == "":
            continue  # a row of bare separators (Excel's trailing rows): blank, not a problem
        found = str(message)
        if error_type == "INVALID ENCODING":
            problem = (
                "not UTF-8 text while the rest of the file is UTF-8 (mixed encoding: this "
                "line was probably pasted from a Windows-1251 file); re-save the file in one "
                "encoding"
            )
        elif error_type in {"MISSING COLUMNS", "TOO MANY COLUMNS"}:
            got = found.rsplit("Found:", 1)[-1].strip()
            problem = f"has {got} columns, the header has {ncols}"
            if error_type == "MISSING COLUMNS" and line == last_line and not ends_with_newline:
                problem += " — the last line is cut short: the file looks truncated"
            elif error_type == "TOO MANY COLUMNS":
                problem += " (a delimiter inside a value that is not in quotes?)"
        elif error_type in {"UNQUOTED VALUE", "UNTERMINATED QUOTE"} or "quote" in found.lower():
            problem = "a quote is opened and never closed (a truncated or broken line)"
            if line == last_line and not ends_with_newline:
                problem += " — the file looks truncated"
        else:
            problem = found
        problems.append(
            RowProblem(int(line), "(whole row)", str(csv_line or "").strip()[:80], problem)
        )
    return problems, lines


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(0, 2)
        if handle.tell() == 0:
            return True
        handle.seek(-1, 2)
        return handle.read(1) in (b"\n", b"\r")
