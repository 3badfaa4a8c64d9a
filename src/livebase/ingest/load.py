"""Loading one file into the store: stage, validate in SQL, merge, record — all or nothing.

Steps, for one file:

1. ``prepare``: checksum, sniff, stream to a UTF-8 view (cp1251 and XLSX are converted).
2. Stage every cell as text in a temporary table (DuckDB's parallel CSV reader); lines the
   reader cannot split (missing or extra columns, broken quotes, bad bytes) are collected.
3. Parse and validate all rows in one query; each bad cell gets a problem text.
4. If anything is wrong and ``skip_bad_rows`` is off: raise, naming the first rows — nothing
   was written. Otherwise the bad rows go to ``<file>.rejected.csv``.
5. In one transaction: merge into the target table (insert new, update changed, count
   unchanged and duplicates), upsert customers, refresh ``customer_state``, record the load.
"""

from __future__ import annotations

import contextlib
import csv
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import duckdb

from livebase.config import IngestConfig
from livebase.errors import ConfigError, IngestError, InputValidationError, RowProblem
from livebase.features.state import refresh_customer_state
from livebase.ingest.mapping import ColumnMapping, map_columns
from livebase.ingest.parsing import (
    amount_sql,
    clean_amount_sql,
    integer_sql,
    json_sql,
    label_sql,
    quote,
    text_sql,
    timestamp_sql,
)
from livebase.ingest.presets import RETURN_REQUESTED_LABELS, STATUS_LABELS, Preset, normalize_label
from livebase.ingest.source import PreparedFile, ProgressFn, make_workdir, prepare
from livebase.store import Store

__all__ = ["LoadOptions", "LoadResult", "load_file"]

Stage = Literal["read", "stage", "validate", "merge"]
StageFn = Callable[[Stage], None]

_SHOWN_PROBLEMS = 10
_REQUIRED = "'a value is required here'"


@dataclass(frozen=True)
class LoadOptions:
    """What to load and how; ``loaded_at`` is the clock, given by the caller."""

    preset: Preset
    loaded_at: datetime
    config: IngestConfig = field(default_factory=IngestConfig)
    column_map: dict[str, str] = field(default_factory=dict)
    skip_bad_rows: bool = False
    default_currency: str = "USD"
    encoding: str | None = None
    delimiter: str | None = None
    clock: Callable[[], datetime] = datetime.now
    """Stamps the end of the load in the loads table."""


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

    def as_dict(self) -> dict[str, object]:
        return {
            k: (v.isoformat(sep=" ") if isinstance(v, datetime) else v)
            for k, v in self.__dict__.items()
        }


# ---------------------------------------------------------------------------------------------
# staging


def _drop(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop a temporary table or view of a load, whichever it is."""
    for kind in ("TABLE", "VIEW"):
        with contextlib.suppress(duckdb.Error):
            con.execute(f"DROP {kind} IF EXISTS {name}")


def _stage(
    con: duckdb.DuckDBPyConnection,
    prepared: PreparedFile,
    preset: Preset,
    ncols: int,
    has_header: bool,
) -> None:
    path = quote(str(prepared.read_path))
    con.execute("DROP TABLE IF EXISTS lb_stage")
    con.execute("DROP TABLE IF EXISTS lb_rejects")
    con.execute("DROP TABLE IF EXISTS lb_rejects_scan")
    if prepared.format == "parquet":
        described = con.execute(f"DESCRIBE SELECT * FROM read_parquet({path})").fetchall()
        cols = ", ".join(f'CAST("{row[0]}" AS VARCHAR) AS c{i}' for i, row in enumerate(described))
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
            SELECT {split} FROM (
                SELECT regexp_split_to_array(trim(line), '\\s+') AS parts
                FROM read_csv({path}, columns = {{'line': 'VARCHAR'}}, delim = '\\x01',
                              quote = '', escape = '', header = {str(has_header).lower()},
                              store_rejects = true, rejects_table = 'lb_rejects',
                              rejects_scan = 'lb_rejects_scan')
                WHERE trim(line) <> '')"""
        )
        return
    con.execute(
        f"""CREATE TEMP TABLE lb_stage AS SELECT * FROM read_csv({path},
            delim = {quote(prepared.delimiter)}, quote = '"', escape = '"',
            header = {str(has_header).lower()}, all_varchar = true,
            strict_mode = true, null_padding = false,
            auto_detect = false, columns = {{{", ".join(f"'c{i}': 'VARCHAR'" for i in range(ncols))}}},
            store_rejects = true, rejects_table = 'lb_rejects', rejects_scan = 'lb_rejects_scan',
            max_line_size = 10000000)"""
    )


def _structural_problems(
    con: duckdb.DuckDBPyConnection, ncols: int, prepared: PreparedFile
) -> tuple[list[RowProblem], list[int]]:
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


# ---------------------------------------------------------------------------------------------
# parsing


def _decimal_mode(
    con: duckdb.DuckDBPyConnection, cells: list[str], options: LoadOptions, delimiter: str
) -> Literal["comma", "point"]:
    if options.config.decimal != "auto":
        return options.config.decimal
    if not cells:
        return "point"
    votes = []
    for cell in cells:
        cleaned = clean_amount_sql(cell)
        votes.append(
            f"count(*) FILTER (WHERE regexp_matches({cleaned}, '\\d,\\d{{1,2}}$') "
            f"OR regexp_matches({cleaned}, '\\.\\d{{3}},')), "
            f"count(*) FILTER (WHERE regexp_matches({cleaned}, '\\d\\.\\d{{1,2}}$') "
            f"OR regexp_matches({cleaned}, ',\\d{{3}}\\.'))"
        )
    # the first rows decide; a later value in the other convention is an error, never a guess
    row = con.execute(
        f"SELECT {', '.join(votes)} FROM (SELECT * FROM lb_stage LIMIT 200000)"
    ).fetchone()
    assert row is not None
    comma = sum(row[0::2])
    point = sum(row[1::2])
    if comma != point:
        return "comma" if comma > point else "point"
    return "comma" if delimiter == ";" else "point"


def _cell(mapping: ColumnMapping, name: str) -> str | None:
    positions = mapping.fields.get(name)
    if not positions:
        return None
    if len(positions) == 1:
        return f"c{positions[0]}"
    return "coalesce(" + ", ".join(f"nullif(trim(c{p}), '')" for p in positions) + ")"


def _status_table(con: duckdb.DuckDBPyConnection, options: LoadOptions) -> None:
    labels = dict(STATUS_LABELS)
    for label, status in options.config.orders.statuses.items():
        labels[normalize_label(label)] = status
    rows = []
    for label, status in labels.items():
        flagged = label in RETURN_REQUESTED_LABELS
        if flagged and options.config.revenue.return_requested == "refunded":
            status = "refunded"
        rows.append((label, status, flagged))
    con.execute("DROP TABLE IF EXISTS lb_status")
    con.execute("CREATE TEMP TABLE lb_status (label VARCHAR, status VARCHAR, flagged BOOLEAN)")
    con.executemany("INSERT INTO lb_status VALUES (?, ?, ?)", rows)


def _parse(
    con: duckdb.DuckDBPyConnection,
    mapping: ColumnMapping,
    preset: Preset,
    options: LoadOptions,
    prepared: PreparedFile,
    first_row: int,
    reject_lines: list[int],
) -> set[str]:
    """Create ``lb_rows``: one typed row per staged row, with ``_e_<field>`` problems.

    Returns the column names of ``lb_rows``.
    """
    cfg = options.config
    low = cfg.dates.min.isoformat()
    high = (options.loaded_at + timedelta(days=cfg.dates.max_days_after_load)).isoformat(sep=" ")
    amount_cells = [c for n in ("amount", "paid_amount") if (c := _cell(mapping, n))]
    decimal = _decimal_mode(con, amount_cells, options, prepared.delimiter)

    select: list[str] = []
    problems: list[tuple[str, str]] = []
    for spec in preset.fields:
        cell = _cell(mapping, spec.name)
        if cell is None:
            continue
        if spec.type in {"id", "text", "status"}:
            select.append(f"{text_sql(cell)} AS {spec.name}")
            if spec.required:
                problems.append(
                    (spec.name, f"CASE WHEN {text_sql(cell)} IS NULL THEN {_REQUIRED} END")
                )
            continue
        if spec.type == "timestamp":
            value, problem = timestamp_sql(cell, day_first=cfg.dates.day_first, low=low, high=high)
        elif spec.type == "amount":
            value, problem = amount_sql(cell, decimal)
        elif spec.type == "integer":
            value, problem = integer_sql(cell)
        else:
            value, problem = json_sql(cell)
        if spec.required:
            problem = f"CASE WHEN {text_sql(cell)} IS NULL THEN {_REQUIRED} ELSE {problem} END"
        select.append(f"{value} AS {spec.name}")
        problems.append((spec.name, problem))

    if mapping.attributes:
        pairs = ", ".join(
            f"{quote(name)}, nullif(trim(c{i}), '')" for i, name in mapping.attributes
        )
        select.append(f"json_object({pairs}) AS attributes")
    else:
        select.append("CAST(NULL AS JSON) AS attributes")

    if reject_lines:
        # row numbers: staged row k sits after the rejected lines that precede it
        con.execute("DROP TABLE IF EXISTS lb_reject_lines")
        con.execute("CREATE TEMP TABLE lb_reject_lines (line BIGINT)")
        con.executemany("INSERT INTO lb_reject_lines VALUES (?)", [[x] for x in reject_lines])
        row_expr = (
            f"(s.rowid + {first_row} + (SELECT count(*) FROM (SELECT line, "
            f"row_number() OVER (ORDER BY line) - 1 AS j FROM lb_reject_lines) r "
            f"WHERE r.line - {first_row} - r.j <= s.rowid))"
        )
    else:
        row_expr = f"(s.rowid + {first_row})"

    problem_cols = [f"{expr} AS _e_{name}" for name, expr in problems]
    parsed_sql = (
        f"SELECT {row_expr} AS _row, s.rowid AS _row_id, "
        f"{', '.join(select + problem_cols)} FROM lb_stage s"
    )
    columns = {"_row", "_row_id", "attributes"}
    columns |= {spec.name for spec in preset.fields if _cell(mapping, spec.name) is not None}
    columns |= {f"_e_{name}" for name, _ in problems}
    _drop(con, "lb_rows")
    # rows carry their staged row id, so their order need not be kept (faster on 2 cores)
    con.execute("SET preserve_insertion_order = false")
    try:
        if preset.kind == "orders":
            _derive_orders(con, mapping, options, parsed_sql, columns)
        else:
            con.execute(f"CREATE TEMP TABLE lb_rows AS {parsed_sql}")
    finally:
        con.execute("RESET preserve_insertion_order")
    return {r[0] for r in con.execute("DESCRIBE lb_rows").fetchall()}


def _derive_orders(
    con: duckdb.DuckDBPyConnection,
    mapping: ColumnMapping,
    options: LoadOptions,
    parsed_sql: str,
    cols: set[str],
) -> None:
    """Order status, revenue amount and date, customer and order ids, row-level rules."""
    _status_table(con, options)

    def col(name: str, sql_type: str = "VARCHAR") -> str:
        return name if name in cols else f"CAST(NULL AS {sql_type})"

    rev = options.config.revenue
    currency = quote(
        mapping.currency_from_header or options.config.orders.currency or options.default_currency
    )
    default_status = quote(options.preset.default_status or "paid")
    customer = f"coalesce({col('customer_id')}, lower({col('email')}))"
    created, paid_at = col("created_at", "TIMESTAMP"), col("paid_at", "TIMESTAMP")
    paid_col = col("paid_amount", "DECIMAL(18,2)")
    revenue_date = (
        "coalesce(_paid_at, _created)" if rev.date == "paid_at" else "coalesce(_created, _paid_at)"
    )
    partial = "coalesce(_paid, 0)" if rev.partially_paid == "paid_amount" else "0"
    hashed_id = (
        "'h:' || substr(md5(concat_ws('|', _cust, CAST(_created AS VARCHAR), "
        "CAST(amount AS VARCHAR), CAST(row_number() OVER (PARTITION BY _cust, _created, amount "
        "ORDER BY _row) AS VARCHAR))), 1, 20)"
    )
    order_id = "order_id" if "order_id" in cols else hashed_id
    unknown_status = (
        "CASE WHEN status IS NOT NULL AND _mapped IS NULL THEN "
        "'unknown status; map it in livebase.yaml under ingest.orders.statuses "
        "(e.g. \"' || status || '\": paid)' END"
        if "status" in cols
        else "CAST(NULL AS VARCHAR)"
    )
    partial_problem = (
        "CAST(NULL AS VARCHAR)"
        if "paid_amount" in cols or rev.partially_paid == "nothing"
        else "CASE WHEN _st = 'partially_paid' THEN 'partially paid, but the file has no "
        "paid-amount column (such as «Оплачено»)' END"
    )
    join_status = (
        f"LEFT JOIN (SELECT label AS _label, status AS _mapped, flagged AS _flagged "
        f"FROM lb_status) m ON m._label = {label_sql('status')}"
        if "status" in cols
        else "LEFT JOIN (SELECT NULL AS _mapped, false AS _flagged) m ON true"
    )
    # materialised once: every later pass (checks, merge, customers) reads plain columns
    con.execute(
        f"""CREATE TEMP TABLE lb_rows AS
        WITH parsed AS ({parsed_sql}), base AS (
            SELECT p.*, _mapped, coalesce(_mapped, {default_status}) AS _st,
                   coalesce(_flagged, false) AS _flag, {customer} AS _cust,
                   {created} AS _created, {paid_at} AS _paid_at, {paid_col} AS _paid
            FROM parsed p {join_status}
        )
        SELECT
            _row, _row_id,
            {order_id} AS order_id,
            _cust AS customer_id,
            _created AS created_at,
            CASE WHEN _st IN ('paid', 'partially_paid') THEN {revenue_date}
                 ELSE _paid_at END AS paid_at,
            amount,
            CAST(CASE _st WHEN 'paid' THEN coalesce(nullif(_paid, 0), amount)
                          WHEN 'partially_paid' THEN {partial}
                          ELSE 0 END AS DECIMAL(18,2)) AS paid_amount,
            coalesce({col("currency")}, {currency}) AS currency,
            _st AS status,
            {col("status")} AS source_status,
            _flag AS return_requested,
            {col("items")} AS items,
            CAST({col("quantity", "BIGINT")} AS INTEGER) AS quantity,
            {col("promo_code")} AS promo_code,
            attributes,
            {col("email")} AS email,
            {col("phone")} AS phone,
            {col("name")} AS name,
            COLUMNS('^_e_'),
            {unknown_status} AS _e_status_label,
            {partial_problem} AS _e_partial,
            CASE WHEN _cust IS NULL THEN 'no customer: neither a customer id nor an email' END
                AS _e_customer,
            CASE WHEN amount < 0 AND _st <> 'refunded'
                 THEN 'negative amount on an order that is not a refund' END AS _e_negative,
            CASE WHEN _created IS NULL AND _paid_at IS NULL
                  AND {col("_e_created_at")} IS NULL AND {col("_e_paid_at")} IS NULL
                 THEN 'no date: the order has neither a creation nor a payment date' END
                AS _e_nodate
        FROM base"""
    )


# ---------------------------------------------------------------------------------------------
# problems


_ROW_RULES = {
    "_e_status_label": "status",
    "_e_partial": "status",
    "_e_customer": "customer_id",
    "_e_negative": "amount",
    "_e_nodate": "created_at",
}


def _problem_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall() if r[0].startswith("_e_")]


def _collect_problems(
    con: duckdb.DuckDBPyConnection, table: str, mapping: ColumnMapping, limit: int
) -> tuple[list[RowProblem], int]:
    columns = _problem_columns(con, table)
    if not columns:
        return [], 0
    any_bad = " OR ".join(f"{c} IS NOT NULL" for c in columns)
    total = con.execute(f"SELECT count(*) FROM {table} WHERE {any_bad}").fetchone()
    assert total is not None
    if total[0] == 0:
        return [], 0
    parts: list[str] = []
    for col in columns:
        field_name = _ROW_RULES.get(col, col.removeprefix("_e_"))
        positions = mapping.fields.get(field_name) or []
        header = mapping.headers[positions[0]] if positions else field_name
        raw = f"CAST(s.c{positions[0]} AS VARCHAR)" if positions else "NULL"
        parts.append(
            f"SELECT t._row, {quote(header)} AS col, {raw} AS val, t.{col} AS problem, "
            f"{len(parts)} AS ord FROM {table} t JOIN lb_stage s ON s.rowid = t._row_id "
            f"WHERE t.{col} IS NOT NULL"
        )
    rows = con.execute(
        f"SELECT * FROM ({' UNION ALL '.join(parts)}) ORDER BY _row, ord LIMIT {limit}"
    ).fetchall()
    return [RowProblem(int(r[0]), r[1], r[2], r[3]) for r in rows], int(total[0])


# ---------------------------------------------------------------------------------------------
# merging


def _next_load_id(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT coalesce(max(load_id), 0) + 1 FROM loads").fetchone()
    assert row is not None
    return int(row[0])


def _merge(
    con: duckdb.DuckDBPyConnection,
    table: str,
    key: str,
    columns: list[str],
    source: str,
    load_id: int,
    *,
    keep_when_null: bool = False,
) -> tuple[int, int, int, int]:
    """Merge ``source`` (with ``_row``) into ``table``; returns inserted, updated, unchanged, dup.

    The last row of a key in the file wins. With ``keep_when_null``, an empty cell keeps the
    stored value (a users export without phones does not erase known phones).
    """
    cols = ", ".join(columns)
    _drop(con, "lb_latest")
    keys = con.execute(
        f"""SELECT count(*), count(DISTINCT {key}),
                   (SELECT count(*) FROM (SELECT DISTINCT {key} FROM {source}) k
                    SEMI JOIN {table} t ON t.{key} = k.{key})
            FROM {source}"""
    ).fetchone()
    assert keys is not None
    rows, distinct, matched = (int(v) for v in keys)
    duplicates = rows - distinct
    if not duplicates and not matched:
        # the common first load of a file: nothing to compare, one insert pass
        con.execute(
            f"""INSERT INTO {table} ({key}, {cols}, first_load, last_load)
                SELECT {key}, {cols}, {load_id}, {load_id} FROM {source}"""
        )
        return distinct, 0, 0, 0
    if duplicates:
        con.execute(
            f"""CREATE TEMP TABLE lb_latest AS SELECT {key}, {cols} FROM {source}
            QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY _row DESC) = 1"""
        )
    else:
        con.execute(f"CREATE TEMP TABLE lb_latest AS SELECT {key}, {cols} FROM {source}")
    new = {c: (f"coalesce(l.{c}, t.{c})" if keep_when_null else f"l.{c}") for c in columns}
    changed = " OR ".join(f"t.{c} IS DISTINCT FROM {new[c]}" for c in columns)
    counts = con.execute(
        f"""SELECT count(*) FILTER (WHERE t.{key} IS NULL),
                   count(*) FILTER (WHERE t.{key} IS NOT NULL AND ({changed})),
                   count(*) FILTER (WHERE t.{key} IS NOT NULL AND NOT ({changed}))
            FROM lb_latest l LEFT JOIN {table} t ON t.{key} = l.{key}"""
    ).fetchone()
    assert counts is not None
    sets = ", ".join(f"{c} = {new[c]}" for c in columns)
    if counts[1]:
        con.execute(
            f"""UPDATE {table} t SET {sets}, last_load = {load_id} FROM lb_latest l
                WHERE t.{key} = l.{key} AND ({changed})"""
        )
    if counts[0]:
        con.execute(
            f"""INSERT INTO {table} ({key}, {cols}, first_load, last_load)
                SELECT l.{key}, {", ".join("l." + c for c in columns)}, {load_id}, {load_id}
                FROM lb_latest l ANTI JOIN {table} t ON t.{key} = l.{key}"""
        )
    return int(counts[0]), int(counts[1]), int(counts[2]), duplicates


def _upsert_customers_from(con: duckdb.DuckDBPyConnection, source: str, load_id: int) -> None:
    """Customers seen in orders or events: insert new ones, fill missing contact fields.

    ``source`` has customer_id, email, phone and name; a users export (``livebase ingest
    customers``) is the place for time zones, creation dates and attributes.
    """
    con.execute("DROP TABLE IF EXISTS lb_cust")
    con.execute(
        # contacts repeat on every order of a customer: any non-empty value will do, and max()
        # is the cheapest deterministic pick (an arg_max per column cost 2× at 10M rows)
        f"""CREATE TEMP TABLE lb_cust AS
        SELECT customer_id, max(email) AS email, max(phone) AS phone, max(name) AS name,
               CAST(NULL AS VARCHAR) AS timezone, CAST(NULL AS TIMESTAMP) AS created_at,
               CAST(NULL AS JSON) AS attributes
        FROM {source} WHERE customer_id IS NOT NULL GROUP BY customer_id"""
    )
    assign = ", ".join(
        f"{c} = coalesce(t.{c}, l.{c})" for c in ("email", "phone", "name", "created_at")
    )
    con.execute(
        f"""UPDATE customers t SET {assign} FROM lb_cust l
            WHERE t.customer_id = l.customer_id
              AND ((t.email IS NULL AND l.email IS NOT NULL)
                   OR (t.phone IS NULL AND l.phone IS NOT NULL)
                   OR (t.name IS NULL AND l.name IS NOT NULL))"""
    )
    con.execute(
        f"""INSERT INTO customers (customer_id, email, phone, name, timezone, created_at,
                                   attributes, first_load, last_load)
            SELECT l.customer_id, l.email, l.phone, l.name, l.timezone, l.created_at,
                   l.attributes, {load_id}, {load_id}
            FROM lb_cust l ANTI JOIN customers t ON t.customer_id = l.customer_id"""
    )


_ORDER_COLUMNS = [
    "customer_id",
    "created_at",
    "paid_at",
    "amount",
    "paid_amount",
    "currency",
    "status",
    "source_status",
    "return_requested",
    "items",
    "quantity",
    "promo_code",
    "attributes",
]


def _merge_orders(con: duckdb.DuckDBPyConnection, good: str, load_id: int) -> tuple[int, ...]:
    good_rows = f"(SELECT * FROM lb_rows WHERE {good})"
    # an order re-sent under another customer leaves its old customer's state to refresh too
    con.execute("DROP TABLE IF EXISTS lb_moved")
    con.execute(
        f"""CREATE TEMP TABLE lb_moved AS SELECT DISTINCT o.customer_id
        FROM orders o JOIN {good_rows} g ON g.order_id = o.order_id
        WHERE o.customer_id <> g.customer_id"""
    )
    counts = _merge(con, "orders", "order_id", _ORDER_COLUMNS, good_rows, load_id)
    contacts = f"""(SELECT customer_id, email, phone, name, CAST(NULL AS VARCHAR) AS timezone,
               CAST(NULL AS TIMESTAMP) AS created_at, CAST(NULL AS JSON) AS cust_attributes, _row
        FROM {good_rows})"""
    _upsert_customers_from(con, contacts, load_id)
    refresh_customer_state(
        con,
        f"SELECT customer_id FROM {good_rows} UNION ALL SELECT customer_id FROM lb_moved",
        load_id,
    )
    return counts


def _merge_customers(
    con: duckdb.DuckDBPyConnection, good: str, load_id: int, cols: set[str]
) -> tuple[int, ...]:
    def pick(name: str, sql_type: str = "VARCHAR") -> str:
        return name if name in cols else f"CAST(NULL AS {sql_type})"

    full_name = pick("name")
    if "first_name" in cols or "last_name" in cols:
        joined = f"nullif(trim(concat_ws(' ', {pick('first_name')}, {pick('last_name')})), '')"
        full_name = f"coalesce({pick('name')}, {joined})"
    con.execute("DROP TABLE IF EXISTS lb_good_customers")
    con.execute(
        f"""CREATE TEMP TABLE lb_good_customers AS
        SELECT _row, customer_id, lower({pick("email")}) AS email, {pick("phone")} AS phone,
               {full_name} AS name, {pick("timezone")} AS timezone,
               {pick("created_at", "TIMESTAMP")} AS created_at, attributes AS cust_attributes
        FROM lb_rows WHERE {good}"""
    )
    con.execute("DROP TABLE IF EXISTS lb_cust_view")
    con.execute(
        "CREATE TEMP TABLE lb_cust_view AS SELECT _row, customer_id, email, phone, name, "
        "timezone, created_at, cust_attributes AS attributes FROM lb_good_customers"
    )
    counts = _merge(
        con,
        "customers",
        "customer_id",
        ["email", "phone", "name", "timezone", "created_at", "attributes"],
        "lb_cust_view",
        load_id,
        keep_when_null=True,
    )
    refresh_customer_state(con, "SELECT customer_id FROM lb_good_customers", load_id)
    return counts


def _merge_events(
    con: duckdb.DuckDBPyConnection, good: str, load_id: int, cols: set[str]
) -> tuple[int, ...]:
    props = "properties" if "properties" in cols else "CAST(NULL AS JSON)"
    if "attributes" in cols:
        props = f"coalesce({props}, attributes)" if "properties" in cols else "attributes"
    event_id = ("coalesce(event_id, " if "event_id" in cols else "(") + (
        "'h:' || substr(md5(concat_ws('|', customer_id, CAST(ts AS VARCHAR), name, "
        f"CAST({props} AS VARCHAR), CAST(row_number() OVER (PARTITION BY customer_id, ts, name, "
        f"CAST({props} AS VARCHAR) ORDER BY _row) AS VARCHAR))), 1, 20))"
    )
    con.execute("DROP TABLE IF EXISTS lb_good_events")
    con.execute(
        f"""CREATE TEMP TABLE lb_good_events AS
        SELECT _row, {event_id} AS event_id, customer_id, ts, name, {props} AS properties
        FROM lb_rows WHERE {good}"""
    )
    con.execute("DROP TABLE IF EXISTS lb_latest")
    con.execute(
        """CREATE TEMP TABLE lb_latest AS
        SELECT *, count(*) OVER (PARTITION BY event_id) - 1 AS _dups FROM lb_good_events
        QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY _row DESC) = 1"""
    )
    counts = con.execute(
        """SELECT count(*) FILTER (WHERE e.event_id IS NULL),
                  count(*) FILTER (WHERE e.event_id IS NOT NULL), coalesce(sum(l._dups), 0)
           FROM lb_latest l LEFT JOIN events e USING (event_id)"""
    ).fetchone()
    assert counts is not None
    con.execute(
        f"""INSERT INTO events SELECT event_id, customer_id, ts, name, properties, {load_id}
            FROM lb_latest ANTI JOIN events USING (event_id)"""
    )
    con.execute("DROP TABLE IF EXISTS lb_event_customers")
    con.execute(
        """CREATE TEMP TABLE lb_event_customers AS
        SELECT customer_id, NULL AS email, NULL AS phone, NULL AS name, NULL AS timezone,
               CAST(NULL AS TIMESTAMP) AS created_at, CAST(NULL AS JSON) AS cust_attributes, _row
        FROM lb_good_events"""
    )
    _upsert_customers_from(con, "lb_event_customers", load_id)
    refresh_customer_state(con, "SELECT customer_id FROM lb_good_events", load_id)
    # events are immutable: a repeated event id is unchanged
    return int(counts[0]), 0, int(counts[1]), int(counts[2])


# ---------------------------------------------------------------------------------------------
# the whole load


def _write_rejected(
    con: duckdb.DuckDBPyConnection,
    prepared: PreparedFile,
    table: str,
    mapping: ColumnMapping,
    structural: list[RowProblem],
) -> Path:
    original = prepared.original
    if prepared.display == "<stdin>":
        target = Path.cwd() / "stdin.rejected.csv"
    else:
        target = original.with_name(original.name + ".rejected.csv")
    problems, _ = _collect_problems(con, table, mapping, limit=2**62)
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
    with target.open("w", encoding="utf-8-sig", newline="") as handle:
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


def _has_header(prepared: PreparedFile, preset: Preset) -> bool:
    if not preset.headerless_columns or not prepared.headers:
        return True
    first = prepared.headers[0].replace(".", "").replace("-", "")
    return not first.isdigit()


def load_file(
    store: Store,
    item: str,
    options: LoadOptions,
    *,
    progress: ProgressFn | None = None,
    stage: StageFn | None = None,
) -> LoadResult:
    """Load one file (path or '-' for stdin) of the preset's kind; all rows or none.

    >>> import tempfile, pathlib, datetime
    >>> from livebase.ingest.presets import PRESETS
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "orders.csv").write_text("order_id,customer_id,date,amount\\n"
    ...                                        "A1,c1,2026-01-05,10.50\\nA2,c2,2026-01-06,3\\n")
    >>> store = Store.in_memory()
    >>> result = load_file(store, str(folder / "orders.csv"),
    ...     LoadOptions(PRESETS["generic"], loaded_at=datetime.datetime(2026, 2, 1)))
    >>> result.rows_read, result.rows_inserted, store.fetch_value("SELECT sum(paid_amount) FROM orders")
    (2, 2, Decimal('13.50'))
    """
    preset = options.preset
    started = options.loaded_at
    workdir = make_workdir()
    con = store.con
    if store.path is not None:
        try:
            con.execute(f"SET memory_limit = {quote(options.config.memory_limit)}")
        except duckdb.Error as exc:
            raise ConfigError(
                f"not a memory size: '{options.config.memory_limit}' (e.g. 2GB)",
                key="ingest.memory_limit",
            ) from exc
    try:
        if stage:
            stage("read")
        prepared = prepare(
            item,
            workdir,
            layout=preset.layout,
            delimiter=options.delimiter,
            encoding=options.encoding,
            progress=progress,
        )
        has_header = _has_header(prepared, preset)
        headers = prepared.headers
        if prepared.format == "parquet":
            headers = tuple(
                r[0]
                for r in con.execute(
                    f"DESCRIBE SELECT * FROM read_parquet({quote(str(prepared.read_path))})"
                ).fetchall()
            )
        if not has_header:
            ncols = len(headers)
            names = preset.headerless_columns.get(ncols)
            if names is None:
                raise IngestError(
                    f"no header line, and {ncols} columns where preset '{preset.name}' expects "
                    f"{' or '.join(str(n) for n in preset.headerless_columns)}",
                    file=prepared.display,
                )
            headers = names
        if not headers or not any(h.strip() for h in headers):
            raise IngestError("the first line (the header) is empty", file=prepared.display)
        mapping = map_columns(headers, preset, file=prepared.display, explicit=options.column_map)
        if stage:
            stage("stage")
        try:
            _stage(con, prepared, preset, len(headers), has_header)
        except duckdb.Error as exc:
            raise IngestError(
                f"cannot read the file as {prepared.format.upper()}: {exc}", file=prepared.display
            ) from None
        structural, reject_lines = _structural_problems(con, len(headers), prepared)
        if (
            structural
            and prepared.ascii_head
            and not options.encoding
            and any("not UTF-8 text" in p.problem for p in structural)
        ):
            # the start of the file was plain ASCII, so UTF-8 was a guess: it is Windows-1251
            return load_file(
                store, item, replace(options, encoding="cp1251"), progress=progress, stage=stage
            )
        broken_quote = next((p for p in structural if "quote is opened" in p.problem), None)
        if broken_quote is not None:
            raise IngestError(
                f"row {broken_quote.row}: {broken_quote.problem}. Everything after it reads as "
                "one value, so rows cannot be told apart (not even with --skip-bad-rows): "
                f"close the quote in '{broken_quote.value}'",
                file=prepared.display,
            )
        staged = con.execute("SELECT count(*) FROM lb_stage").fetchone()
        assert staged is not None
        rows_read = int(staged[0]) + len(structural)
        if rows_read == 0:
            raise IngestError("the file has a header but no rows", file=prepared.display)

        if stage:
            stage("validate")
        first_row = 2 if has_header else 1
        skipped = sorted(set(reject_lines) | set(prepared.skipped_lines))
        cols = _parse(con, mapping, preset, options, prepared, first_row, skipped)
        table = "lb_rows"
        problems, total_bad = _collect_problems(con, table, mapping, _SHOWN_PROBLEMS)
        all_problems = sorted(structural + problems, key=lambda p: p.row)
        total = total_bad + len(structural)
        if total and not options.skip_bad_rows:
            raise InputValidationError(
                prepared.display, all_problems[:_SHOWN_PROBLEMS], total=total
            )

        rejected_file = None
        good = "true"
        if total:
            rejected_file = str(_write_rejected(con, prepared, table, mapping, structural))
            # keep the valid rows once, so later passes need not re-check every cell
            valid = " AND ".join(f"{c} IS NULL" for c in _problem_columns(con, table))
            con.execute(f"CREATE TEMP TABLE lb_valid AS SELECT * FROM lb_rows WHERE {valid}")
            _drop(con, "lb_rows")
            con.execute("ALTER TABLE lb_valid RENAME TO lb_rows")
        if stage:
            stage("merge")
        with store.transaction():
            load_id = _next_load_id(con)
            if preset.kind == "orders":
                counts = _merge_orders(con, good, load_id)
            elif preset.kind == "customers":
                counts = _merge_customers(con, good, load_id, cols)
            else:
                counts = _merge_events(con, good, load_id, cols)
            inserted, updated, unchanged, duplicate = counts
            rejected = total_bad + len(structural)
            if inserted + updated + unchanged + duplicate + rejected != rows_read:
                raise IngestError(
                    f"internal check failed: {inserted}+{updated}+{unchanged}+{duplicate}"
                    f"+{rejected} rows accounted for, {rows_read} read; nothing was loaded",
                    file=prepared.display,
                )
            finished = options.clock()
            con.execute(
                "INSERT INTO loads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    load_id,
                    preset.kind,
                    prepared.display,
                    prepared.checksum,
                    preset.name,
                    rows_read,
                    inserted,
                    updated,
                    unchanged,
                    duplicate,
                    rejected,
                    rejected_file,
                    started,
                    finished,
                ],
            )
        return LoadResult(
            load_id,
            preset.kind,
            prepared.display,
            prepared.checksum,
            preset.name,
            rows_read,
            inserted,
            updated,
            unchanged,
            duplicate,
            rejected,
            rejected_file,
            started,
            finished,
            prepared.encoding,
            tuple(mapping.notes),
        )
    finally:
        for name in (
            "lb_moved",
            "lb_valid",
            "lb_stage",
            "lb_rows",
            "lb_latest",
            "lb_order_customers",
            "lb_cust",
            "lb_touched",
            "lb_good_customers",
            "lb_cust_view",
            "lb_good_events",
            "lb_event_customers",
            "lb_status",
            "lb_reject_lines",
            "lb_rejects",
            "lb_rejects_scan",
        ):
            _drop(con, name)
        shutil.rmtree(workdir, ignore_errors=True)
        if store.path is not None:
            with contextlib.suppress(duckdb.Error):
                con.execute("RESET memory_limit")
