"""Merge a load's valid rows into the store: insert new keys, update changed ones, count the rest.

Runs inside the load's transaction, on the load's cursor (whose temporary tables hold the
rows). Orders and customers are matched by key; events are immutable. Customers seen in
orders or events are created or completed, and ``customer_state`` is refreshed for every
customer the load touched.
"""

from __future__ import annotations

from typing import NamedTuple

import duckdb

from livebase.features.state import (
    order_aggregates_sql,
    refresh_customer_state,
    write_customer_state,
)

__all__ = [
    "ORDER_COLUMNS",
    "merge_customers",
    "merge_events",
    "merge_first_orders_customers",
    "merge_orders",
    "next_load_id",
]


def next_load_id(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT coalesce(max(load_id), 0) + 1 FROM loads").fetchone()
    assert row is not None
    return int(row[0])


class Merged(NamedTuple):
    """What :func:`_merge` did: the four counts, and where the rows it wrote are."""

    inserted: int
    updated: int
    unchanged: int
    duplicate: int
    written: str
    """A relation of the inserted and updated rows (the key and the merged columns)."""
    first: bool
    """The table was empty: every row of ``written`` was inserted, nothing else is stored."""


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
    before: str | None = None,
) -> Merged:
    """Merge ``source`` (with ``_row``) into ``table``.

    The last row of a key in the file wins. With ``keep_when_null``, an empty cell keeps the
    stored value (a users export without phones does not erase known phones). ``repeated``:
    how many rows of ``source`` repeat an earlier row's key, when the caller counted them.
    ``before``: a column whose stored value the written rows carry as ``_before`` (NULL for an
    inserted row), e.g. an order's customer before a file moved it to another.

    One join of the file's keys with the table finds the new and the changed rows (every
    column compared); only those are written, so a re-load of an unchanged export writes
    nothing.
    """
    cols = ", ".join(columns)
    con.execute("DROP TABLE IF EXISTS lb_latest")
    con.execute("DROP TABLE IF EXISTS lb_written")
    empty = con.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {table})").fetchone()
    assert empty is not None
    if repeated is not None:
        # the caller counted the repeated keys: no DISTINCT over every key again
        counted = con.execute(f"SELECT count(*) FROM {source}").fetchone()
        assert counted is not None
        rows, distinct = int(counted[0]), int(counted[0]) - repeated
    else:
        keys = con.execute(f"SELECT count(*), count(DISTINCT {key}) FROM {source}").fetchone()
        assert keys is not None
        rows, distinct = int(keys[0]), int(keys[1])
    duplicates = rows - distinct
    latest = source
    if duplicates:
        con.execute(
            f"""CREATE TEMP TABLE lb_latest AS SELECT {key}, {cols} FROM {source}
            QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY _row DESC) = 1"""
        )
        latest = "lb_latest"
    if empty[0]:
        # into an empty table (a first load) no key can match: one insert pass
        con.execute(
            f"""INSERT INTO {table} ({key}, {cols}, first_load, last_load)
                SELECT {key}, {cols}, {load_id}, {load_id} FROM {latest}"""
        )
        return Merged(distinct, 0, 0, duplicates, latest, first=True)
    new = {c: (f"coalesce(l.{c}, t.{c})" if keep_when_null else f"l.{c}") for c in columns}
    changed = " OR ".join(f"t.{c} IS DISTINCT FROM {new[c]}" for c in columns)
    stored = f"t.{before}" if before else "NULL"
    con.execute(
        f"""CREATE TEMP TABLE lb_written AS
        SELECT l.{key}, {", ".join(f"{new[c]} AS {c}" for c in columns)},
               t.{key} IS NULL AS _new, {stored} AS _before
        FROM {latest} l LEFT JOIN {table} t ON t.{key} = l.{key}
        WHERE t.{key} IS NULL OR ({changed})"""
    )
    counts = con.execute(
        "SELECT count(*) FILTER (WHERE _new), count(*) FILTER (WHERE NOT _new) FROM lb_written"
    ).fetchone()
    assert counts is not None
    inserted, updated = int(counts[0]), int(counts[1])
    if updated:
        sets = ", ".join(f"{c} = l.{c}" for c in columns)
        con.execute(
            f"""UPDATE {table} t SET {sets}, last_load = {load_id} FROM lb_written l
                WHERE t.{key} = l.{key} AND NOT l._new"""
        )
    if inserted:
        con.execute(
            f"""INSERT INTO {table} ({key}, {cols}, first_load, last_load)
                SELECT {key}, {cols}, {load_id}, {load_id} FROM lb_written WHERE _new"""
        )
    return Merged(
        inserted, updated, distinct - inserted - updated, duplicates, "lb_written", first=False
    )


_CONTACTS = ("email", "phone", "name")


def _upsert_customers_from(
    con: duckdb.DuckDBPyConnection,
    source: str,
    load_id: int,
    contacts: tuple[str, ...] = _CONTACTS,
    *,
    aggregated: bool = False,
) -> None:
    """Customers seen in orders or events: insert new ones, fill missing contact fields.

    ``source`` has customer_id, email, phone and name (one row per order or event, or with
    ``aggregated`` one row per customer); ``contacts``: those of email, phone and name the
    file has (the others are NULL on every row). A users export (``livebase ingest
    customers``) is the place for time zones, creation dates and attributes.
    """
    con.execute("DROP TABLE IF EXISTS lb_cust")
    # only a new customer, or a known one missing a contact the file has, can change: the
    # others' rows are left out before the GROUP BY (a re-load of an export skips them all)
    complete = " AND ".join(f"c.{x} IS NOT NULL" for x in contacts if x in _CONTACTS) or "true"
    candidates = f"""(SELECT s.* FROM {source} s ANTI JOIN
        (SELECT customer_id FROM customers c WHERE {complete}) c
        ON c.customer_id = s.customer_id)"""
    if aggregated:
        rows = f"SELECT customer_id, email, phone, name FROM {candidates} x"
    else:
        # contacts repeat on every order of a customer: any non-empty value will do, and max()
        # is the cheapest deterministic pick (an arg_max per column cost 2× at 10M rows)
        rows = f"""SELECT customer_id, max(email) AS email, max(phone) AS phone, max(name) AS name
            FROM {candidates} x WHERE customer_id IS NOT NULL GROUP BY customer_id"""
    con.execute(
        f"""CREATE TEMP TABLE lb_cust AS
        SELECT customer_id, email, phone, name,
               CAST(NULL AS VARCHAR) AS timezone, CAST(NULL AS TIMESTAMP) AS created_at,
               CAST(NULL AS JSON) AS attributes
        FROM ({rows})"""
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


ORDER_COLUMNS = [
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
    con: duckdb.DuckDBPyConnection,
    good: str,
    load_id: int,
    repeated: int | None = None,
    contacts: tuple[str, ...] = _CONTACTS,
) -> tuple[int, ...]:
    """Merge the good rows of ``lb_rows`` into ``orders``, then customers and
    ``customer_state``. ``repeated``: how many of those rows repeat an earlier row's order id,
    when known (not counted again); ``contacts``: those of email, phone and name the file has.

    ``customer_state`` is recomputed for the customers of the inserted and updated orders, and
    for the customers an updated order moved away from: an order that did not change leaves
    its customer's state as it was. When ``orders`` was empty and no order id repeats, the
    rows are the whole order log: one GROUP BY gives the contacts and the state.
    """
    good_rows = f"(SELECT * FROM lb_rows WHERE {good})"
    merged = _merge(
        con,
        "orders",
        "order_id",
        ORDER_COLUMNS,
        good_rows,
        load_id,
        repeated=repeated,
        before="customer_id",
    )
    if merged.first and not merged.duplicate:
        _first_customers(con, good_rows, load_id, contacts)
        return merged[:4]
    contacts_sql = f"""(SELECT customer_id, email, phone, name FROM {good_rows})"""
    _upsert_customers_from(con, contacts_sql, load_id, contacts)
    # an order re-sent under another customer leaves its old customer's state to refresh too
    moved = (
        f" UNION ALL SELECT _before FROM {merged.written} "
        "WHERE _before IS NOT NULL AND _before <> customer_id"
        if not merged.first
        else ""
    )
    refresh_customer_state(con, f"SELECT customer_id FROM {merged.written}{moved}", load_id)
    return merged[:4]


def _first_customers(
    con: duckdb.DuckDBPyConnection,
    orders: str,
    load_id: int,
    contacts: tuple[str, ...],
    contacts_from: str | None = None,
) -> None:
    """Customers and ``customer_state`` after a load into an empty ``orders``: the relation
    ``orders`` holds every order of the store, so one GROUP BY gives each customer's contacts
    and order aggregates (two joined, when the contacts come from ``contacts_from``)."""
    aggregates = order_aggregates_sql()
    con.execute("DROP TABLE IF EXISTS lb_customer_orders")
    if contacts_from is None:
        grouped = f"""SELECT customer_id, max(email) AS email, max(phone) AS phone,
                   max(name) AS name, {aggregates}
            FROM {orders} g GROUP BY customer_id"""
    elif not contacts:
        grouped = f"""SELECT customer_id, CAST(NULL AS VARCHAR) AS email,
                   CAST(NULL AS VARCHAR) AS phone, CAST(NULL AS VARCHAR) AS name, {aggregates}
            FROM {orders} g GROUP BY customer_id"""
    else:
        grouped = f"""SELECT o.customer_id, c.email, c.phone, c.name, o.* EXCLUDE (customer_id)
            FROM (SELECT customer_id, {aggregates} FROM {orders} g GROUP BY customer_id) o
            LEFT JOIN (SELECT customer_id, max(email) AS email, max(phone) AS phone,
                              max(name) AS name
                       FROM {contacts_from} x GROUP BY customer_id) c
            ON c.customer_id = o.customer_id"""
    con.execute(f"CREATE TEMP TABLE lb_customer_orders AS {grouped}")
    _upsert_customers_from(con, "lb_customer_orders", load_id, contacts, aggregated=True)
    write_customer_state(con, "lb_customer_orders", load_id)
    con.execute("DROP TABLE lb_customer_orders")


def merge_first_orders_customers(
    con: duckdb.DuckDBPyConnection, load_id: int, contacts: tuple[str, ...], contacts_from: str
) -> None:
    """Customers and ``customer_state`` of a load that inserted the store's first orders
    straight into ``orders`` (:mod:`livebase.ingest.first_load`): the order aggregates from
    ``orders``, the contacts (``contacts``: those of email, phone and name the file has) from
    the relation ``contacts_from``."""
    _first_customers(con, "orders", load_id, contacts, contacts_from)


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
    merged = _merge(
        con,
        "customers",
        "customer_id",
        ["email", "phone", "name", "timezone", "created_at", "attributes"],
        "lb_cust_view",
        load_id,
        keep_when_null=True,
    )
    # a customer's state comes from orders and events: only a new customer needs a row (and
    # one without a row, such as a customer written by other means, gets one)
    refresh_customer_state(
        con,
        f"SELECT customer_id FROM {merged.written} UNION ALL SELECT customer_id FROM "
        "lb_good_customers g ANTI JOIN customer_state s ON s.customer_id = g.customer_id",
        load_id,
    )
    return merged[:4]


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
    con.execute("DROP TABLE IF EXISTS lb_new_events")
    con.execute(
        "CREATE TEMP TABLE lb_new_events AS SELECT * FROM lb_latest ANTI JOIN events USING (event_id)"
    )
    con.execute(
        f"""INSERT INTO events SELECT event_id, customer_id, ts, name, properties, {load_id}
            FROM lb_new_events"""
    )
    con.execute("DROP TABLE IF EXISTS lb_event_customers")
    con.execute(
        """CREATE TEMP TABLE lb_event_customers AS
        SELECT customer_id, NULL AS email, NULL AS phone, NULL AS name, NULL AS timezone,
               CAST(NULL AS TIMESTAMP) AS created_at, CAST(NULL AS JSON) AS cust_attributes, _row
        FROM lb_good_events"""
    )
    _upsert_customers_from(con, "lb_event_customers", load_id)
    # an event already stored changes nothing: the customers of the new events are refreshed
    refresh_customer_state(con, "SELECT customer_id FROM lb_new_events", load_id)
    # events are immutable: a repeated event id is unchanged
    return int(counts[0]), 0, int(counts[1]), int(counts[2])
