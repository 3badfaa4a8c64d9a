"""Merge a load's valid rows into the store: insert new keys, update changed ones, count the rest.

Runs inside the load's transaction, on the load's cursor (whose temporary tables hold the
rows). Orders and customers are matched by key; events are immutable. Customers seen in
orders or events are created or completed, and ``customer_state`` is refreshed for every
customer the load touched.
"""

from __future__ import annotations

import duckdb

from livebase.features.state import refresh_customer_state

__all__ = ["merge_customers", "merge_events", "merge_orders", "next_load_id"]


def next_load_id(con: duckdb.DuckDBPyConnection) -> int:
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
    repeated: int | None = None,
) -> tuple[int, int, int, int]:
    """Merge ``source`` (with ``_row``) into ``table``; returns inserted, updated, unchanged, dup.

    The last row of a key in the file wins. With ``keep_when_null``, an empty cell keeps the
    stored value (a users export without phones does not erase known phones). ``repeated``:
    how many rows of ``source`` repeat an earlier row's key, when the caller counted them.
    """
    cols = ", ".join(columns)
    con.execute("DROP TABLE IF EXISTS lb_latest")
    empty = con.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {table})").fetchone()
    assert empty is not None
    # into an empty table (a first load) no key can match: one pass counts the keys
    matching = (
        "0"
        if empty[0]
        else f"""(SELECT count(*) FROM (SELECT DISTINCT {key} FROM {source}) k
                  SEMI JOIN {table} t ON t.{key} = k.{key})"""
    )
    if empty[0] and repeated is not None:
        # a first load whose repeated keys are known: no DISTINCT over every key again
        counted = con.execute(f"SELECT count(*) FROM {source}").fetchone()
        assert counted is not None
        rows, distinct, matched = int(counted[0]), int(counted[0]) - repeated, 0
    else:
        keys = con.execute(
            f"SELECT count(*), count(DISTINCT {key}), {matching} FROM {source}"
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


def merge_orders(
    con: duckdb.DuckDBPyConnection, good: str, load_id: int, repeated: int | None = None
) -> tuple[int, ...]:
    """Merge the good rows of ``lb_rows`` into ``orders``, then customers and
    ``customer_state``. ``repeated``: how many of those rows repeat an earlier row's order id,
    when known (not counted again)."""
    good_rows = f"(SELECT * FROM lb_rows WHERE {good})"
    # an order re-sent under another customer leaves its old customer's state to refresh too
    con.execute("DROP TABLE IF EXISTS lb_moved")
    con.execute(
        f"""CREATE TEMP TABLE lb_moved AS SELECT DISTINCT o.customer_id
        FROM orders o JOIN {good_rows} g ON g.order_id = o.order_id
        WHERE o.customer_id <> g.customer_id"""
    )
    counts = _merge(
        con, "orders", "order_id", _ORDER_COLUMNS, good_rows, load_id, repeated=repeated
    )
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


def merge_customers(
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


def merge_events(
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
