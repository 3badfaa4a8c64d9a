"""Synthetic, seeded demo data: an online school (or a shop) with customers, orders and events.

`generate_school` is pure (no I/O, no clock, no network): the same seed, size and ``as_of``
give the same tables, byte for byte once written. The writers put the tables on disk as a
GetCourse-style orders export, a users export and an events file, for ``livebase demo``.

The story (see ``_generate``): registrations grow over ``years`` before ``as_of``; 65 % of the
registered buy, following a BG/NBD process (Fader, Hardie & Lee 2005: Poisson purchases at a
Gamma-distributed rate while alive, a Beta-distributed drop-out chance after each purchase);
18 % of buyers take a monthly subscription; the rest of the registered never pay (a third of
them leave an unpaid order). A school's student buys each course once, modules of a course in
sequence (module 2 only after module 1), at most about one course every two months while alive
(published figures for Russian online schools: 25–35 % of paying students buy again within a
year, 1.3–1.6 paid courses per paying student a year); subscriptions renew about monthly. Every timestamp lies strictly before midnight of ``as_of``: the
export is taken at the start of that day.

Order statuses (``source_status`` is the GetCourse label, ``status`` the store's):

==================  ===============  ======================================================
label               status           money
==================  ===============  ======================================================
Завершен            paid             ``paid_amount`` = ``amount``
Частично оплачен    partially_paid   ``paid_amount`` = the part paid (< ``amount``)
Ожидаем возврата    paid             paid in full, ``return_requested`` is true
Возврат             refunded         ``paid_amount`` = 0, ``refunded_amount`` = ``amount``;
                                     the export's «Оплачено» shows the amount returned
Новый, Ожидаем      pending          none; no «Дата оплаты»
оплаты, В работе,
Не подтвержден,
Отложен
Отменен, Ложный     cancelled        none; no «Дата оплаты»
==================  ===============  ======================================================

A refunded order keeps its ``paid_at`` (the money did arrive) and has a ``refunded_at``; the
exports carry no refund date. Amounts are `Decimal` with two places (kopecks), so sums are
exact. The ``excel_ru`` flavour drops seconds from timestamps, as Excel does.

>>> data = generate_school(seed=1, customers=200)
>>> sorted(set(data.orders["status"])) <= ["cancelled", "partially_paid", "paid", "pending",
...                                        "refunded"]
True
>>> bool((data.events["ts"] < pd.Timestamp(data.as_of)).all())
True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from livebase.demo import _catalogue as cat
from livebase.demo._catalogue import MONEY_LABELS, STATUS_LABELS, STATUS_SHARES, Status
from livebase.demo._generate import simulate
from livebase.demo._write import (
    ORDER_HEADERS,
    USER_HEADERS,
    Flavour,
    write_events,
    write_getcourse_orders,
    write_getcourse_users,
)
from livebase.errors import ConfigError

__all__ = [
    "DEFAULT_AS_OF",
    "MONEY_LABELS",
    "ORDER_HEADERS",
    "STATUS_LABELS",
    "STATUS_SHARES",
    "USER_HEADERS",
    "DemoData",
    "DemoFiles",
    "Flavour",
    "Kind",
    "Status",
    "generate",
    "generate_school",
    "generate_shop",
    "write_demo_files",
    "write_events",
    "write_getcourse_orders",
    "write_getcourse_users",
]

Kind = Literal["school", "shop"]
DEFAULT_AS_OF = date(2026, 6, 30)
_CATALOGUES: dict[Kind, cat.Catalogue] = {"school": cat.SCHOOL, "shop": cat.SHOP}


@dataclass(frozen=True)
class DemoData:
    """The generated base.

    ``customers``: customer_id, email, phone, first_name, last_name, name, city, timezone,
    created_at, last_activity_at, utm_source, utm_medium, utm_campaign, heard_from, goal, and
    the simulation's hidden truth: buyer, subscriber, purchase_rate (a year), dropout_prob,
    churned_at (the purchase after which the customer dropped out; NaT while alive).

    ``orders``: order_id, number, customer_id, created_at, paid_at, refunded_at, amount,
    paid_amount, refunded_amount, received, earned (Decimal, RUB), currency, status,
    source_status, return_requested, items, quantity, promo_code, payment_system, manager,
    tags, customer_name, email, phone, utm_source, utm_medium, utm_campaign, heard_from.

    ``events``: customer_id, ts, name, properties (a JSON object as text).
    """

    kind: Kind
    seed: int
    as_of: date
    customers: pd.DataFrame
    orders: pd.DataFrame
    events: pd.DataFrame


@dataclass(frozen=True)
class DemoFiles:
    """Where `write_demo_files` put the demo."""

    orders: Path
    users: Path
    events: Path
    events_parquet: Path | None


def generate(
    kind: Kind = "school",
    *,
    seed: int = 7,
    customers: int = 5000,
    as_of: date = DEFAULT_AS_OF,
    years: float = 2.0,
) -> DemoData:
    """Generate a synthetic base of ``kind`` (school or shop); see the module docstring.

    >>> generate("shop", seed=3, customers=50).kind
    'shop'
    """
    if kind not in _CATALOGUES:
        raise ConfigError(f"unknown demo kind {kind!r}: use one of {sorted(_CATALOGUES)}")
    if customers < 1:
        raise ConfigError(f"the demo needs at least one customer, got customers={customers}")
    if not 0 < years <= 50:
        raise ConfigError(f"years must be in (0, 50], got years={years}")
    if as_of.year - years < 1971:
        raise ConfigError(
            f"the demo history ({years} years before {as_of}) must start after 1970: "
            "choose a later as_of or fewer years"
        )
    rng = np.random.default_rng(seed)
    raw = simulate(rng, _CATALOGUES[kind], customers, as_of, years)
    cust = raw.customers
    out_customers = pd.DataFrame(
        {
            "customer_id": cust["customer_id"],
            "email": cust["email"],
            "phone": cust["phone"],
            "first_name": cust["first_name"],
            "last_name": cust["last_name"],
            "name": cust["first_name"] + " " + cust["last_name"],
            "city": cust["city"],
            "timezone": cust["timezone"],
            "created_at": _ts(cust["reg"]),
            "last_activity_at": _ts(cust["last_activity"]),
            "utm_source": _optional(cust["utm_source"]),
            "utm_medium": _optional(cust["utm_medium"]),
            "utm_campaign": _optional(cust["utm_campaign"]),
            "heard_from": _optional(cust["heard_from"]),
            "goal": _optional(cust["goal"]),
            "buyer": cust["buyer"],
            "subscriber": cust["subscriber"],
            "purchase_rate": cust["rate"],
            "dropout_prob": cust["p"],
            "churned_at": _ts(cust["churned"]),
        }
    )
    o = raw.orders
    ids = cust["customer_id"].to_numpy()
    by = cust.iloc[o["cust"].to_numpy()].reset_index(drop=True)
    mapped = [STATUS_LABELS[label] for label in o["source_status"]]
    out_orders = pd.DataFrame(
        {
            "order_id": o["order_id"],
            "number": o["number"],
            "customer_id": ids[o["cust"].to_numpy()],
            "created_at": _ts(o["created"]),
            "paid_at": _ts(o["paid"]),
            "refunded_at": _ts(o["refunded"]),
            "amount": _rub(o["amount"]),
            "paid_amount": _rub(o["paid_amount"]),
            "refunded_amount": _rub(o["refunded_amount"]),
            "received": _rub(o["received"]),
            "earned": _rub(o["earned"]),
            "currency": "RUB",
            "status": [s for s, _ in mapped],
            "source_status": o["source_status"],
            "return_requested": [r for _, r in mapped],
            "items": o["items"],
            "quantity": o["quantity"],
            "promo_code": _optional(o["promo_code"]),
            "payment_system": _optional(o["payment_system"]),
            "manager": _optional(o["manager"]),
            "tags": _optional(pd.Series(o["tags"])),
            "customer_name": (by["first_name"] + " " + by["last_name"]).to_numpy(),
            "email": by["email"].to_numpy(),
            "phone": by["phone"].to_numpy(),
            "utm_source": _optional(by["utm_source"]),
            "utm_medium": _optional(by["utm_medium"]),
            "utm_campaign": _optional(by["utm_campaign"]),
            "heard_from": _optional(by["heard_from"]),
        }
    )
    e = raw.events
    out_events = pd.DataFrame(
        {
            "customer_id": ids[e["cust"].to_numpy()],
            "ts": _ts(e["ts"]),
            "name": e["name"].to_numpy(),
            "properties": e["properties"].to_numpy(),
        }
    )
    return DemoData(kind, seed, as_of, out_customers, out_orders, out_events)


def generate_school(
    seed: int = 7, customers: int = 5000, as_of: date = DEFAULT_AS_OF, years: float = 2.0
) -> DemoData:
    """An online school: courses, modules and a monthly club subscription, lessons as events.

    >>> data = generate_school(seed=7, customers=300, as_of=date(2025, 12, 31))
    >>> bool((data.orders["created_at"] < pd.Timestamp("2025-12-31")).all())
    True
    """
    return generate("school", seed=seed, customers=customers, as_of=as_of, years=years)


def generate_shop(
    seed: int = 7, customers: int = 5000, as_of: date = DEFAULT_AS_OF, years: float = 2.0
) -> DemoData:
    """An online shop: gadgets with quantities, a delivery subscription, product views."""
    return generate("shop", seed=seed, customers=customers, as_of=as_of, years=years)


def write_demo_files(
    data: DemoData,
    folder: Path | str,
    flavour: Flavour = "interface",
    *,
    parquet: bool = False,
) -> DemoFiles:
    """Write the orders and users exports (GetCourse style) and the events into ``folder``.

    Files: ``getcourse_orders.csv``, ``getcourse_users.csv``, ``events.csv`` and, with
    ``parquet``, ``events.parquet``. The folder is created when missing.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    orders = write_getcourse_orders(data.orders, folder / "getcourse_orders.csv", flavour)
    users = write_getcourse_users(data.customers, folder / "getcourse_users.csv", flavour)
    events = write_events(data.events, folder / "events.csv")
    events_parquet = write_events(data.events, folder / "events.parquet") if parquet else None
    return DemoFiles(orders, users, events, events_parquet)


def _ts(seconds: pd.Series) -> pd.Series:
    raw = seconds.to_numpy(dtype=np.int64)
    values = raw.astype("datetime64[s]")
    values[raw < 0] = np.datetime64("NaT")
    return pd.Series(values, index=seconds.index)


def _rub(kopecks: pd.Series) -> list[Decimal]:
    return [Decimal(k).scaleb(-2) for k in kopecks.tolist()]


def _optional(values: pd.Series) -> pd.Series:
    return values.where(values != "", None)
