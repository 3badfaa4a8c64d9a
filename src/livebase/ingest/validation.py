"""Parse and check every staged row in one set-based query: typed values beside problem texts.

``parse_rows`` turns ``lb_stage`` (text cells) into ``lb_rows``: one typed row per staged row,
its row number as a spreadsheet shows it (``_row``), and one ``_e_<field>`` column per check,
NULL when the cell is fine. For orders it also derives the stored status, revenue and date,
and applies the row-level money and customer rules. ``collect_problems`` reads the problems
back, naming row, column header and the cell as it was in the file.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal, NamedTuple

import duckdb

from livebase.errors import RowProblem
from livebase.i18n import N_
from livebase.ingest.mapping import ColumnMapping
from livebase.ingest.options import LoadOptions
from livebase.ingest.parsing import (
    CellSql,
    amount_sql,
    clean_amount_sql,
    integer_sql,
    json_sql,
    label_sql,
    quote,
    stacked_select,
    text_sql,
    timestamp_sql,
    trim_sql,
)
from livebase.ingest.presets import RETURN_REQUESTED_LABELS, STATUS_LABELS, Preset, normalize_label
from livebase.ingest.row_rules import (
    refuse_conflicting_duplicates,
    resolve_customers_by_contact,
)
from livebase.ingest.source import PreparedFile
from livebase.ingest.staging import blank_row_sql

__all__ = ["ParsedRows", "cell_sql", "collect_problems", "parse_rows", "problem_columns"]

_REQUIRED = quote(N_("a value is required here"))
# what Excel shows in a cell whose formula failed
_EXCEL_ERROR = r"#(DIV/0!|N/A|VALUE!|REF!|NAME\?|NUM!|NULL!|SPILL!|CALC!|GETTING_DATA)"


def _excel_problem(cell: str) -> str:
    return (
        f"'a spreadsheet error (' || trim({cell}) || ') where a value should be: fix the formula "
        "in the workbook, or clear the cell'"
    )


# an id Excel turned into a number and showed in scientific notation (5,00E+06)
_SCIENTIFIC = r"[+-]?[0-9]+([.,][0-9]+)?[eE][+]?[0-9]+"
_SCIENTIFIC_PROBLEM = N_(
    "an id that Excel turned into a number in scientific notation: its digits are lost, so "
    "different ids would merge; export the file again and do not open it in Excel before "
    "loading (or format the column as Text)"
)


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


def cell_sql(mapping: ColumnMapping, name: str, *, trimmed: bool = False) -> str | None:
    """The staged cell of a field (the first non-empty one when several columns map to it);
    ``trimmed``: without surrounding spaces."""
    positions = mapping.fields.get(name)
    if not positions:
        return None
    if len(positions) == 1:
        return trim_sql(f"c{positions[0]}") if trimmed else f"c{positions[0]}"
    return "coalesce(" + ", ".join(f"nullif({trim_sql(f'c{p}')}, '')" for p in positions) + ")"


def _status_table(
    con: duckdb.DuckDBPyConnection, options: LoadOptions, status_cell: str | None
) -> None:
    """``lb_status``: every known label (normalised) with its status; and ``lb_status_raw``:
    the file's own status cells (``status_cell``, trimmed as the parse trims them) with the
    status their normalised label maps to. The parse joins on the cell itself: the
    normalisation (lower case, ё, a regular expression) runs once per distinct status of the
    file, a handful, not once per row."""
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
    con.execute("DROP TABLE IF EXISTS lb_status_raw")
    if status_cell is not None:
        con.execute(
            f"""CREATE TEMP TABLE lb_status_raw AS
            SELECT d._raw, m.status AS _mapped, m.flagged AS _flagged
            FROM (SELECT DISTINCT {status_cell} AS _raw FROM lb_stage) d
            JOIN lb_status m ON m.label = {label_sql("d._raw")}"""
        )


class ParsedRows(NamedTuple):
    """What :func:`parse_rows` made: the columns of ``lb_rows``, and how many of its rows
    repeat an order id of an earlier row (None when not counted)."""

    columns: set[str]
    repeated_ids: int | None


def parse_rows(
    con: duckdb.DuckDBPyConnection,
    mapping: ColumnMapping,
    preset: Preset,
    options: LoadOptions,
    prepared: PreparedFile,
    first_row: int,
    reject_lines: list[int],
    *,
    view: bool = False,
) -> ParsedRows:
    """Create ``lb_rows``: one typed row per staged row, with its problems (``_problems``
    and ``_e_*`` columns, NULL when the row is good).

    With ``view``, ``lb_rows`` is a view (parsed when read) and the rules across rows
    (customers found by contact, conflicting duplicates) are not applied: for a first load
    that inserts the good rows straight into ``orders`` and takes the detailed path when one
    row is not good (:mod:`livebase.ingest.first_load`)."""
    cfg = options.config
    low = cfg.dates.min.isoformat()
    high = (options.loaded_at + timedelta(days=cfg.dates.max_days_after_load)).isoformat(sep=" ")
    amount_cells = [c for n in ("amount", "paid_amount") if (c := cell_sql(mapping, n))]
    decimal = _decimal_mode(con, amount_cells, options, prepared.delimiter)

    # layer 0: each field's cell trimmed once; the builders' layers follow, then the values
    trimmed: list[str] = []
    layered: list[tuple[dict[str, str], ...]] = []
    select: list[str] = []
    problems: list[tuple[str, str]] = []
    for spec in preset.fields:
        cell = cell_sql(mapping, spec.name, trimmed=True)
        if cell is None:
            continue
        text = f"_t_{spec.name}"
        trimmed.append(f"{cell} AS {text}")
        parsed: CellSql
        if spec.type in {"id", "text", "status"}:
            parsed = CellSql(text_sql(text), "CAST(NULL AS VARCHAR)")
            if spec.type == "id":
                # Excel's scientific notation has an E: the regular expression runs on those only
                parsed = CellSql(
                    parsed.value,
                    f"CASE WHEN contains({text}, 'E') OR contains({text}, 'e') THEN CASE WHEN "
                    f"regexp_full_match({text}, {quote(_SCIENTIFIC)}) "
                    f"THEN {quote(_SCIENTIFIC_PROBLEM)} END END",
                )
        elif spec.type == "timestamp":
            parsed = timestamp_sql(
                text,
                day_first=cfg.dates.day_first,
                low=low,
                high=high,
                timezone=options.timezone,
                name=spec.name,
            )
        elif spec.type == "amount":
            parsed = amount_sql(text, decimal, name=spec.name)
        elif spec.type == "integer":
            parsed = integer_sql(text, name=spec.name)
        else:
            parsed = json_sql(text, name=spec.name)
        # a spreadsheet error (#DIV/0!, #N/A…) is never a value, whatever the column; it
        # starts with #, so the regular expression runs on those cells only
        excel = f"_x_{spec.name}"
        first = {
            excel: f"CASE WHEN starts_with({text}, '#') "
            f"THEN regexp_full_match({text}, {quote(_EXCEL_ERROR)}) ELSE false END"
        }
        layers = parsed.layers or ({},)
        layered.append(({**first, **layers[0]}, *layers[1:]))
        checks = f"WHEN {excel} THEN {_excel_problem(text)} "
        if spec.required:
            checks = f"WHEN {text_sql(text)} IS NULL THEN {_REQUIRED} " + checks
        select.append(f"CASE WHEN {excel} THEN NULL ELSE {parsed.value} END AS {spec.name}")
        problems.append((spec.name, f"CASE {checks}ELSE {parsed.problem} END"))
    if preset.layout == "whitespace":
        expected = len(mapping.headers)
        trimmed.append("s._parts AS _parts")
        problems.append(
            (
                "row_shape",
                f"CASE WHEN _parts <> {expected} THEN 'has ' || _parts || ' values separated "
                f"by spaces, expected {expected} (a space inside a number, like 1 234.00?)' END",
            )
        )

    if mapping.attributes:
        pairs = ", ".join(
            f"{quote(name)}, nullif({trim_sql(f'c{i}')}, '')" for i, name in mapping.attributes
        )
        trimmed.append(f"json_object({pairs}) AS attributes")
    else:
        trimmed.append("CAST(NULL AS JSON) AS attributes")
    select.append("attributes")

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
    staged = (
        f"(SELECT {row_expr} AS _row, s.rowid AS _row_id, {', '.join(trimmed)} FROM lb_stage s "
        f"WHERE NOT ({blank_row_sql(len(mapping.headers), 's')}))"
    )
    parsed_sql = stacked_select(staged, ["*"], layered, ["_row", "_row_id", *select, *problem_cols])
    columns = {"_row", "_row_id", "attributes"}
    columns |= {spec.name for spec in preset.fields if cell_sql(mapping, spec.name) is not None}
    columns |= {f"_e_{name}" for name, _ in problems}
    # rows carry their staged row id, so their order need not be kept (faster on 2 cores)
    con.execute("SET preserve_insertion_order = false")
    field_checks = [f"_e_{name}" for name, _ in problems]
    repeated = None
    try:
        if preset.kind == "orders":
            repeated = _derive_orders(
                con, mapping, options, parsed_sql, columns, field_checks, view=view
            )
        else:
            _record_checks(con, field_checks)
            con.execute(f"CREATE TEMP TABLE lb_rows AS {_folded(parsed_sql, field_checks)}")
    finally:
        con.execute("RESET preserve_insertion_order")
    return ParsedRows({r[0] for r in con.execute("DESCRIBE lb_rows").fetchall()}, repeated)


def _derive_orders(
    con: duckdb.DuckDBPyConnection,
    mapping: ColumnMapping,
    options: LoadOptions,
    parsed_sql: str,
    cols: set[str],
    field_checks: list[str],
    *,
    view: bool = False,
) -> int | None:
    """Order status, revenue amount and date, customer and order ids, row-level rules.
    Returns how many rows repeat an order id of an earlier row (None when not counted).
    With ``view``: ``lb_rows`` is a view, and the rules across rows are left out."""
    _status_table(con, options, cell_sql(mapping, "status", trimmed=True))
    # the checks in the order a row's problems are listed; the two that later passes update
    # (customer by contact, conflicting duplicates) stay columns of their own
    _record_checks(con, [*field_checks, *_ORDER_RULES])
    folded = [*field_checks, *(c for c in _ORDER_RULES if c not in _UPDATED_RULES)]

    def col(name: str, sql_type: str = "VARCHAR") -> str:
        return name if name in cols else f"CAST(NULL AS {sql_type})"

    rev = options.config.revenue
    currency = quote(
        mapping.currency_from_header or options.config.orders.currency or options.default_currency
    )
    default_status = quote(options.preset.default_status or "paid")
    # the file's customer id; a file without that column is keyed by email
    customer = "customer_id" if "customer_id" in cols else f"lower({col('email')})"
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
    paid_missing = (
        "CASE WHEN _st = 'partially_paid' AND _paid IS NULL "
        f"AND {col('_e_paid_amount')} IS NULL THEN {quote(_PAID_MISSING)} END"
        if "paid_amount" in cols and rev.partially_paid == "paid_amount"
        else "CAST(NULL AS VARCHAR)"
    )
    join_status = (
        "LEFT JOIN lb_status_raw m ON m._raw = p.status"
        if "status" in cols
        else "LEFT JOIN (SELECT NULL AS _mapped, false AS _flagged) m ON true"
    )
    # materialised once: every later pass (checks, merge, customers) reads plain columns
    derived = f"""
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
            CASE WHEN _cust IS NULL THEN {quote(_NO_CUSTOMER)} END AS _e_customer,
            CASE WHEN amount < 0 AND _st <> 'refunded'
                 THEN 'negative amount on an order that is not a refund' END AS _e_negative,
            CASE WHEN _paid < 0 AND _st <> 'refunded'
                 THEN 'negative paid amount on an order that is not a refund' END
                AS _e_paid_negative,
            {paid_missing} AS _e_paid_missing,
            CAST(NULL AS VARCHAR) AS _e_conflict,
            CASE WHEN _created IS NULL AND _paid_at IS NULL
                  AND {col("_e_created_at")} IS NULL AND {col("_e_paid_at")} IS NULL
                 THEN 'no date: the order has neither a creation nor a payment date' END
                AS _e_nodate
        FROM base"""
    if view:
        con.execute(f"CREATE TEMP VIEW lb_rows AS {_folded(derived, folded)}")
        return None
    con.execute(f"CREATE TEMP TABLE lb_rows AS {_folded(derived, folded)}")
    if "email" in cols or "phone" in cols:
        resolve_customers_by_contact(con, "email" in cols, "phone" in cols)
    if "order_id" in cols and options.conflicting_duplicates == "refuse":
        return refuse_conflicting_duplicates(con)
    return None


_NO_CUSTOMER = N_("no customer: neither a customer id nor an email or phone")
_PAID_MISSING = N_(
    "partially paid, but the paid amount is empty: fill in how much was paid (0 if nothing)"
)
# row-level rules → the fields whose column a problem names (the first the file has)
_ROW_RULES: dict[str, tuple[str, ...]] = {
    "_e_status_label": ("status",),
    "_e_partial": ("status",),
    "_e_customer": ("customer_id", "email", "phone"),
    "_e_negative": ("amount",),
    "_e_paid_negative": ("paid_amount",),
    "_e_paid_missing": ("paid_amount",),
    "_e_conflict": ("order_id",),
    "_e_nodate": ("created_at",),
}


_ORDER_RULES = list(_ROW_RULES)
_UPDATED_RULES = ("_e_customer", "_e_conflict")


def _record_checks(con: duckdb.DuckDBPyConnection, checks: list[str]) -> None:
    """``lb_checks``: every check of this load, in the order a row's problems are listed."""
    con.execute("DROP TABLE IF EXISTS lb_checks")
    con.execute("CREATE TEMP TABLE lb_checks (name VARCHAR, ord INTEGER)")
    con.executemany("INSERT INTO lb_checks VALUES (?, ?)", [[c, i] for i, c in enumerate(checks)])


def _folded(query: str, checks: list[str]) -> str:
    """``query`` with its problem columns ``checks`` folded into one list, ``_problems``:
    NULL on a good row, so a file of good rows stores one empty column, not one per check.

    >>> import duckdb
    >>> sql = _folded("SELECT 1 AS a, NULL AS _e_x, 'bad' AS _e_y", ["_e_x", "_e_y"])
    >>> duckdb.execute(sql).fetchone()
    (1, [{'c': '_e_y', 'p': 'bad'}])
    """
    if not checks:
        return f"SELECT *, CAST(NULL AS STRUCT(c VARCHAR, p VARCHAR)[]) AS _problems FROM ({query})"
    none = " AND ".join(f"{c} IS NULL" for c in checks)
    listed = ", ".join(f"{{'c': {quote(c)}, 'p': {c}}}" for c in checks)
    return (
        f"SELECT * EXCLUDE ({', '.join(checks)}), CASE WHEN {none} THEN NULL "
        f"ELSE list_filter([{listed}], lambda x: x.p IS NOT NULL) END AS _problems FROM ({query})"
    )


def problem_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The problem columns of ``table``: ``_problems`` (the folded checks) and the ``_e_*``
    checks kept as columns; a row is good when all are NULL."""
    return [
        r[0]
        for r in con.execute(f"DESCRIBE {table}").fetchall()
        if r[0].startswith("_e_") or r[0] == "_problems"
    ]


def collect_problems(
    con: duckdb.DuckDBPyConnection, table: str, mapping: ColumnMapping, limit: int
) -> tuple[list[RowProblem], int]:
    """The first ``limit`` problems (row, column header, cell as in the file, what is wrong),
    and how many rows have any."""
    columns = problem_columns(con, table)
    if not columns:
        return [], 0
    any_bad = " OR ".join(f"{c} IS NOT NULL" for c in columns)
    total = con.execute(f"SELECT count(*) FROM {table} WHERE {any_bad}").fetchone()
    assert total is not None
    if total[0] == 0:
        return [], 0
    checks = [str(r[0]) for r in con.execute("SELECT name FROM lb_checks ORDER BY ord").fetchall()]
    headers, raws = [], []
    for check in checks:
        fields = _ROW_RULES.get(check, (check.removeprefix("_e_"),))
        field_name = next((f for f in fields if mapping.fields.get(f)), fields[0])
        positions = mapping.fields.get(field_name) or []
        header = mapping.headers[positions[0]] if positions else field_name
        raw = f"CAST(s.c{positions[0]} AS VARCHAR)" if positions else "CAST(NULL AS VARCHAR)"
        if check == "_e_row_shape":
            header, raw = "(whole row)", "trim(s._line)"
        headers.append(quote(header))
        raws.append(raw)

    def by_check(name: str, values: list[str]) -> str:
        cases = " ".join(f"WHEN {quote(c)} THEN {v}" for c, v in zip(checks, values, strict=True))
        return f"CASE {name} {cases} END"

    parts: list[str] = []
    for col in columns:
        # one row per problem: the folded list unnested, or a check kept as a column
        problems = (
            f"SELECT _row, _row_id, x.c AS check, x.p AS problem FROM "
            f"(SELECT _row, _row_id, unnest(_problems) AS x FROM {table} "
            f"WHERE _problems IS NOT NULL)"
            if col == "_problems"
            else f"SELECT _row, _row_id, {quote(col)} AS check, {col} AS problem FROM {table} "
            f"WHERE {col} IS NOT NULL"
        )
        parts.append(problems)
    ords = [str(i) for i in range(len(checks))]
    rows = con.execute(
        f"SELECT t._row, {by_check('t.check', headers)} AS col, {by_check('t.check', raws)} "
        f"AS val, t.problem, {by_check('t.check', ords)} AS ord "
        f"FROM ({' UNION ALL '.join(parts)}) t JOIN lb_stage s ON s.rowid = t._row_id "
        f"ORDER BY t._row, ord LIMIT {limit}"
    ).fetchall()
    return [RowProblem(int(r[0]), r[1], r[2], r[3]) for r in rows], int(total[0])
