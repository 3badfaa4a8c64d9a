"""The store's paid days: the default ``as_of`` of every command, and the range a date must
fall in. One helper for the CLI and the service: when nothing is paid, it says the store is
empty, and never falls back to the wall clock.

>>> from livebase.store import Store
>>> store = Store.in_memory()
>>> latest_paid_day(store)
Traceback (most recent call last):
...
livebase.errors.EmptyStoreError: the store has no paid orders yet: load them with 'livebase ingest orders FILE' (or give --as-of)
>>> _ = store.con.execute(
...     "INSERT INTO orders (order_id, customer_id, paid_at, amount, paid_amount, currency, "
...     "status, first_load, last_load) VALUES "
...     "('1', 'a', '2024-01-01 10:00', 10, 10, 'USD', 'paid', 1, 1), "
...     "('2', 'a', '2024-03-05 23:59', 5, 5, 'USD', 'paid', 1, 1)")
>>> latest_paid_day(store)
datetime.date(2024, 3, 5)
>>> paid_day_range(store)
(datetime.date(2024, 1, 1), datetime.date(2024, 3, 5))
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from livebase.errors import EmptyStoreError
from livebase.i18n import _l

if TYPE_CHECKING:
    from livebase.store import Store

__all__ = ["EMPTY_STORE", "latest_paid_day", "paid_day_range"]

EMPTY_STORE = _l(
    "the store has no paid orders yet: load them with 'livebase ingest orders FILE' "
    "(or give --as-of)"
)

_RANGE_SQL = (
    "SELECT CAST(MIN(paid_at) AS DATE), CAST(MAX(paid_at) AS DATE) FROM orders "
    "WHERE paid_amount > 0"
)


def paid_day_range(store: Store) -> tuple[date, date] | None:
    """The first and the latest day with a paid order (``paid_amount > 0``); None when none."""
    row = store.con.execute(_RANGE_SQL).fetchone()
    if row is None or not isinstance(row[1], date):
        return None
    return row[0], row[1]


def latest_paid_day(store: Store) -> date:
    """The day of the latest paid order: the default ``as_of``. EmptyStoreError when none."""
    days = paid_day_range(store)
    if days is None:
        raise EmptyStoreError(EMPTY_STORE)
    return days[1]
