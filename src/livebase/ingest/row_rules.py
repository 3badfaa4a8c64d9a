"""Rules that look across rows of ``lb_rows``: a customer found by email or phone, an order id
on several rows with different values.

Both run after the one parse query (:func:`livebase.ingest.validation.parse_rows`), and only
when the file needs them (rows without a customer id; repeated order ids).
"""

from __future__ import annotations

import duckdb

from livebase.i18n import N_
from livebase.ingest.parsing import quote

__all__ = ["refuse_conflicting_duplicates", "resolve_customers_by_contact"]

_UNKNOWN_CONTACT = N_(
    "no customer id, and no known customer has this email or phone: fill in the id, or load "
    "the users export first (livebase ingest customers)"
)


def _phone_key(column: str) -> str:
    """Digits of a phone number, a Russian leading 8 read as +7; NULL under 10 digits."""
    digits = f"regexp_replace({column}, '[^0-9]', '', 'g')"
    return (
        f"CASE WHEN length({digits}) < 10 THEN NULL "
        f"WHEN length({digits}) = 11 AND starts_with({digits}, '8') "
        f"THEN '7' || substr({digits}, 2) ELSE {digits} END"
    )


def resolve_customers_by_contact(
    con: duckdb.DuckDBPyConnection, has_email: bool, has_phone: bool
) -> None:
    """Rows without a customer id take the id of the one known customer with their email
    (else phone): known from the store, or from the file's rows that have both. Rows that
    match nobody, or several customers, keep their problem: never a made-up customer."""
    contact = " OR ".join(
        test
        for test, present in (("email IS NOT NULL", has_email), ("phone IS NOT NULL", has_phone))
        if present
    )
    missing = con.execute(
        f"SELECT count(*) FROM lb_rows WHERE customer_id IS NULL AND ({contact})"
    ).fetchone()
    assert missing is not None
    if not missing[0]:
        return
    keys: list[str] = []
    for kind, enabled, key in (
        ("e", has_email, "lower(trim(email))"),
        ("p", has_phone, _phone_key("phone")),
    ):
        if enabled:
            keys.append(
                f"SELECT '{kind}:' || {key} AS k, customer_id FROM customers WHERE {key} IS NOT NULL "
                f"UNION ALL SELECT '{kind}:' || {key}, customer_id FROM lb_rows "
                f"WHERE customer_id IS NOT NULL AND {key} IS NOT NULL"
            )
        else:
            keys.append("SELECT NULL AS k, NULL AS customer_id WHERE false")
    email_key = "'e:' || lower(trim(r.email))" if has_email else "NULL"
    phone_key = f"'p:' || {_phone_key('r.phone')}" if has_phone else "NULL"
    con.execute(
        f"""CREATE TEMP TABLE lb_known AS
        SELECT k, min(customer_id) AS id, count(DISTINCT customer_id) AS n
        FROM ({" UNION ALL ".join(keys)}) GROUP BY k"""
    )
    con.execute(
        f"""UPDATE lb_rows t SET
            customer_id = CASE WHEN m.email_n = 1 THEN m.email_id
                               WHEN m.email_n IS NULL AND m.phone_n = 1 THEN m.phone_id END,
            _e_customer = CASE WHEN m.email_n = 1 THEN NULL
                               WHEN m.email_n IS NULL AND m.phone_n = 1 THEN NULL
                               WHEN coalesce(m.email_n, m.phone_n) > 1
                               THEN 'no customer id, and ' || coalesce(m.email_n, m.phone_n)
                                    || ' known customers have this email or phone: fill in the id'
                               ELSE {quote(_UNKNOWN_CONTACT)} END
        FROM (SELECT r._row_id, e.id AS email_id, e.n AS email_n, p.id AS phone_id, p.n AS phone_n
              FROM lb_rows r
              LEFT JOIN lb_known e ON e.k = {email_key}
              LEFT JOIN lb_known p ON p.k = {phone_key}
              WHERE r.customer_id IS NULL
                AND ({email_key} IS NOT NULL OR {phone_key} IS NOT NULL)) m
        WHERE t._row_id = m._row_id"""
    )


_CONFLICT_COLUMNS = ("customer_id", "created_at", "paid_at", "amount", "paid_amount", "status")


def refuse_conflicting_duplicates(con: duckdb.DuckDBPyConnection) -> int:
    """An order id on several rows of one file with different values: which row is right
    cannot be known, so every row of that id is refused, naming the others. Exact repeats
    stay harmless (counted as repeated in the file). Returns how many rows repeat an order
    id of an earlier row (the merge need not count them again)."""
    dup = con.execute(
        "SELECT count(*) - count(DISTINCT order_id) FROM lb_rows WHERE order_id IS NOT NULL"
    ).fetchone()
    assert dup is not None
    if not dup[0]:
        return 0
    signature = f"hash({', '.join(_CONFLICT_COLUMNS)})"
    con.execute(
        f"""UPDATE lb_rows t SET _e_conflict =
            'order id ' || t.order_id || ' is on ' || d.n || ' rows of this file (rows '
            || d.rows_list || ') with different customer, dates, amounts or status: keep the '
            || 'right one and load again'
        FROM (SELECT order_id, count(*) AS n,
                     array_to_string(list_sort(list(_row))[1:5], ', ')
                     || CASE WHEN count(*) > 5 THEN ', …' ELSE '' END AS rows_list
              FROM lb_rows WHERE order_id IS NOT NULL GROUP BY order_id
              HAVING min({signature}) <> max({signature})) d
        WHERE t.order_id = d.order_id"""
    )
    return int(dup[0])
