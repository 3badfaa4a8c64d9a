"""The store's first orders, parsed straight into ``orders`` when every row of the file is good.

The first import of an export is the biggest load a store sees (every order of the school's
history), and most exports have no bad row. For those, keeping the parsed rows in a temporary
table first, then copying them into ``orders``, is work the result does not need. So when
``orders`` is empty and the file is no bigger than the memory limit (:func:`fits_in_memory`:
bigger files, untried, keep the table), the load reads
``lb_rows`` as a view over the staged text and inserts its good rows straight into
``orders``, inside the load's transaction; then two counts decide:

- every staged row that is not blank was inserted: no row has a problem;
- no order id repeats: no duplicate to count, no conflicting rows to refuse.

When both hold, the insert is the merge (customers and ``customer_state`` follow from the
inserted orders). When not, the caller rolls the insert back and takes the detailed path
(:func:`livebase.ingest.validation.parse_rows` keeps every row with its problems), so what a
bad file is told is exactly what it always was.
"""

from __future__ import annotations

import duckdb

from livebase.ingest.mapping import ColumnMapping
from livebase.ingest.merge import ORDER_COLUMNS
from livebase.ingest.parsing import quote
from livebase.ingest.staging import blank_row_sql
from livebase.ingest.validation import cell_sql

__all__ = ["fits_in_memory", "insert_when_all_good", "staged_contacts_sql"]

_UNITS = {"B": 1, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
_NOT_GOOD = "livebase: a row of the file is not good"
"""The error that stops the straight insert at the first row that is not good."""
_SHARE = 1
"""The straight path is taken for a file of at most the memory limit."""


def fits_in_memory(con: duckdb.DuckDBPyConnection, size: int) -> bool:
    """Whether a file of ``size`` bytes is small enough, for DuckDB's memory limit, to be
    parsed straight into ``orders``.

    Measured side by side: at 1M rows (177 MB, limit 2GB) the straight insert took 10.6 s
    where the parse into a table and its copy into ``orders`` took 21.2 s. At 10M rows
    (1.8 GB, the staged text spilling to disk either way) it once took 537 s against 165 s +
    96 s, so files above a quarter of the limit kept the table; with the parse that trims
    only what trim changes, re-measured on 2026-12-02 (one process each, load about 2), the
    straight load took 81.5 s and 99.9 s against 114.9 s for the table, with the same peak
    (2.2 GB). Files up to the limit go straight now; bigger ones keep the table, untried.

    >>> con = duckdb.connect()
    >>> _ = con.execute("SET memory_limit = '2GB'")
    >>> [fits_in_memory(con, size) for size in (177_500_790, 1_816_004_727, 18_160_047_270)]
    [True, True, False]
    """
    row = con.execute("SELECT current_setting('memory_limit')").fetchone()
    assert row is not None
    number, _, unit = str(row[0]).partition(" ")
    try:
        limit = float(number) * _UNITS[unit.strip().upper()]
    except (KeyError, ValueError):
        return False  # a limit DuckDB writes another way: the table, as before
    return size * _SHARE <= limit


def staged_contacts_sql(mapping: ColumnMapping) -> str:
    """The customer, email, phone and name of every staged row, read from the text cells as
    the parse reads them on a good row (trimmed, empty as NULL; no customer id column: the
    email in lower case), without parsing the rest of the row again.

    >>> from livebase.ingest.mapping import map_columns
    >>> from livebase.ingest.presets import PRESETS
    >>> mapping = map_columns(("order_id", "Email", "amount"), PRESETS["generic"], file="f")
    >>> con = duckdb.connect()
    >>> _ = con.execute("CREATE TEMP TABLE lb_stage AS "
    ...                 "SELECT 'A1' AS c0, ' Ann@Example.ru ' AS c1, '10' AS c2")
    >>> con.execute(f"SELECT * FROM {staged_contacts_sql(mapping)}").fetchall()
    [('ann@example.ru', 'Ann@Example.ru', None, None)]
    """

    def text(name: str) -> str:
        cell = cell_sql(mapping, name, trimmed=True)
        return "CAST(NULL AS VARCHAR)" if cell is None else f"nullif({cell}, '')"

    customer = (
        text("customer_id") if mapping.fields.get("customer_id") else f"lower({text('email')})"
    )
    # the same cells repeat on every order of a customer: each distinct combination of the raw
    # cells is trimmed once (a customer's greatest email, phone and name do not change), which
    # at 10M orders took the contacts' GROUP BY from 3.2-4.8 s to 1.9-2.3 s
    used = sorted(
        {p for f in ("customer_id", "email", "phone", "name") for p in mapping.fields.get(f, ())}
    )
    cells = ", ".join(f"c{p}" for p in used) or "NULL AS c"
    return (
        f"(SELECT {customer} AS customer_id, {text('email')} AS email, {text('phone')} AS phone, "
        f"{text('name')} AS name FROM (SELECT DISTINCT {cells} FROM lb_stage))"
    )


def insert_when_all_good(con: duckdb.DuckDBPyConnection, load_id: int, ncols: int) -> int | None:
    """Insert the good rows of the view ``lb_rows`` into the empty ``orders`` (in the load's
    transaction); the number inserted when every row was good and no order id repeats, else
    None: the caller then rolls back. ``ncols``: the staged columns (to tell blank rows).

    >>> from livebase.store import Store
    >>> con = Store.in_memory().con
    >>> _ = con.execute("CREATE TEMP TABLE lb_stage AS SELECT 'A1' AS c0, 'c1' AS c1")
    >>> _ = con.execute("CREATE TEMP VIEW lb_rows AS SELECT c0 AS order_id, c1 AS "
    ...     "customer_id, NULL AS created_at, TIMESTAMP '2026-01-05' AS paid_at, 10 AS amount, "
    ...     "10 AS paid_amount, 'RUB' AS currency, 'paid' AS status, NULL AS source_status, "
    ...     "false AS return_requested, NULL AS items, NULL AS quantity, NULL AS promo_code, "
    ...     "NULL AS attributes, NULL AS _problems, NULL AS _e_customer, NULL AS _e_conflict "
    ...     "FROM lb_stage")
    >>> insert_when_all_good(con, 1, 2)
    1

    A row that is not good stops the insert (the caller rolls the transaction back):

    >>> _ = con.execute("CREATE OR REPLACE TEMP VIEW lb_rows AS SELECT *, 'not a date' AS "
    ...     "_problems, NULL AS _e_customer, NULL AS _e_conflict FROM orders")
    >>> _ = con.execute("BEGIN TRANSACTION")
    >>> insert_when_all_good(con, 2, 2) is None
    True
    >>> _ = con.execute("ROLLBACK")
    """
    cols = ", ".join(["order_id", *ORDER_COLUMNS])
    # the first row that is not good stops the insert there (the caller rolls back), so a big
    # file with a bad row pays for the rows before it, not for the whole file, before the
    # detailed path parses it again to say what is wrong
    good = "_problems IS NULL AND _e_customer IS NULL AND _e_conflict IS NULL"
    try:
        inserted = con.execute(
            f"""INSERT INTO orders ({cols}, first_load, last_load)
            SELECT {cols}, {int(load_id)}, {int(load_id)} FROM (
                SELECT * REPLACE (CASE WHEN {good} THEN order_id
                                       ELSE error({quote(_NOT_GOOD)}) END AS order_id)
                FROM lb_rows)"""
        ).fetchone()
    except duckdb.InvalidInputException as exc:
        if _NOT_GOOD not in str(exc):
            raise
        return None
    assert inserted is not None
    count = int(inserted[0])
    if not count:
        return None  # the detailed path says what is wrong (no rows, or no good one)
    staged = con.execute("SELECT count(*) FROM lb_stage").fetchone()
    assert staged is not None
    if int(staged[0]) != count:
        # rows left out: blank ones (skipped, as always) or bad ones (the detailed path)
        rows = con.execute(
            f"SELECT count(*) FROM lb_stage s WHERE NOT ({blank_row_sql(ncols, 's')})"
        ).fetchone()
        assert rows is not None
        if int(rows[0]) != count:
            return None
    repeated = con.execute("SELECT count(*) - count(DISTINCT order_id) FROM orders").fetchone()
    assert repeated is not None
    return None if int(repeated[0]) else count
