"""The simulation: customers, their orders and their product events, all vectorised.

Purchases follow the BG/NBD story of Fader, Hardie & Lee (2005), "Counting your customers the
easy way", Marketing Science 24(2) [1]: while alive a customer buys as a Poisson process with rate
λ ~ Gamma(r, α) (their eq. 1–2), and after each purchase drops out for good with probability
p ~ Beta(a, b) (their eq. 3–4). Subscribers renew about monthly (Gamma inter-renewal times)
with their own Beta drop-out per renewal. Unpaid attempts (cancelled, false, pending orders)
do not trigger a drop-out, and half of them are retried within a day or so.

Everything works on int64 seconds since the Unix epoch (the shop's local time, naive) and
int64 kopecks; the public module turns them into timestamps and `Decimal`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import numpy.typing as npt
import pandas as pd

from livebase.demo import _catalogue as cat
from livebase.demo._common import (
    DAY,
    I64,
    LABEL_INDEX,
    LABEL_P,
    LABELS,
    MONEY,
    UNPAID_LABELS,
    UNPAID_P,
    pick,
    time_of_day,
)
from livebase.demo._events import events as simulate_events

#: Share of registered customers who enter the purchase process, and of those, subscribers.
BUYER_SHARE = 0.65
SUBSCRIBER_SHARE = 0.18
#: λ ~ Gamma(r, α): shape r and mean r/α in purchases a year ([1] eq. 2).
RATE_SHAPE = 0.6
RATE_MEAN = 24.0
#: p ~ Beta(a, b): drop-out chance after each paid order ([1] eq. 4); subscribers per renewal.
DROPOUT_BETA = (0.8, 3.0)
SUBSCRIBER_DROPOUT_BETA = (2.0, 14.0)
#: An online school's student buys at most about one course every two months while alive
#: (published figures for Russian online schools: 25–35 % of paying students buy again within a
#: year, 1.3–1.6 paid courses per paying student a year); the BG/NBD rate is capped there.
SCHOOL_MAX_RATE = 6.0


@dataclass(frozen=True)
class Tables:
    """The raw simulated tables (seconds and kopecks), before presentation."""

    customers: pd.DataFrame
    orders: pd.DataFrame
    events: pd.DataFrame


def _epoch(d: date) -> int:
    return int((datetime(d.year, d.month, d.day) - datetime(1970, 1, 1)).total_seconds())


def simulate(
    rng: np.random.Generator, catalogue: cat.Catalogue, n: int, as_of: date, years: float
) -> Tables:
    """Simulate ``n`` customers registered over ``years`` before ``as_of`` (exclusive)."""
    end = _epoch(as_of)
    days = max(1, round(years * 365.25))
    start = end - days * DAY
    customers = _customers(rng, n, start, days)
    orders = _orders(rng, catalogue, customers, end)
    events = simulate_events(rng, catalogue, customers, orders, end)
    last = (
        pd.concat(
            [
                customers[["cust", "reg"]].rename(columns={"reg": "t"}),
                orders[["cust", "created"]].rename(columns={"created": "t"}),
                events[["cust", "ts"]].rename(columns={"ts": "t"}),
            ]
        )
        .groupby("cust")["t"]
        .max()
    )
    customers["last_activity"] = last.reindex(customers["cust"]).to_numpy()
    return Tables(customers, orders, events)


def _customers(rng: np.random.Generator, n: int, start: int, days: int) -> pd.DataFrame:
    # Registrations grow: density ∝ exp(g·u) on u ∈ [0, 1), so the last month brings about
    # three times as many new customers as the first; inverse-CDF sampling.
    g = np.log(3.0)
    u = np.log1p(rng.random(n) * np.expm1(g)) / g
    day = np.minimum((u * days).astype(np.int64), days - 1)
    reg = np.sort(start + day * DAY + time_of_day(rng, n))

    buyer = rng.random(n) < BUYER_SHARE
    subscriber = buyer & (rng.random(n) < SUBSCRIBER_SHARE)
    rate = rng.gamma(RATE_SHAPE, RATE_MEAN / RATE_SHAPE, size=n)
    p = rng.beta(*DROPOUT_BETA, size=n)
    rate = np.where(subscriber, 12.0, rate)
    p = np.where(subscriber, rng.beta(*SUBSCRIBER_DROPOUT_BETA, size=n), p)

    male = rng.random(n) < 0.45
    first = np.where(
        male,
        np.array(cat.MALE_FIRST, dtype=object)[rng.integers(0, len(cat.MALE_FIRST), n)],
        np.array(cat.FEMALE_FIRST, dtype=object)[rng.integers(0, len(cat.FEMALE_FIRST), n)],
    )
    surname = np.array(cat.SURNAMES, dtype=object)[rng.integers(0, len(cat.SURNAMES), n)]
    last = np.array(
        [s if m else cat.feminine(s) for s, m in zip(surname, male, strict=True)], dtype=object
    )
    city = pick(rng, tuple(c[2] for c in cat.CITIES), n)
    utm = pick(rng, tuple(x[3] for x in cat.UTMS), n)
    ids = 190_000_000 + np.cumsum(rng.integers(1, 400, size=n))
    return pd.DataFrame(
        {
            "cust": np.arange(n),
            "customer_id": ids.astype(str),
            "reg": reg,
            "buyer": buyer,
            "subscriber": subscriber,
            "rate": rate,
            "p": p,
            "first_name": first,
            "last_name": last,
            "email": _emails(rng, first, last, reg),
            "phone": _phones(rng, n),
            "city": np.array([c[0] for c in cat.CITIES], dtype=object)[city],
            "timezone": np.array([c[1] for c in cat.CITIES], dtype=object)[city],
            "utm_source": np.array([x[0] for x in cat.UTMS], dtype=object)[utm],
            "utm_medium": np.array([x[1] for x in cat.UTMS], dtype=object)[utm],
            "utm_campaign": np.array([x[2] for x in cat.UTMS], dtype=object)[utm],
            "heard_from": np.array([h[0] for h in cat.HEARD_FROM], dtype=object)[
                pick(rng, tuple(h[1] for h in cat.HEARD_FROM), n)
            ],
            "goal": np.array([h[0] for h in cat.GOALS], dtype=object)[
                pick(rng, tuple(h[1] for h in cat.GOALS), n)
            ],
        }
    )


def _emails(
    rng: np.random.Generator,
    first: npt.NDArray[np.object_],
    last: npt.NDArray[np.object_],
    reg: I64,
) -> list[str]:
    n = len(first)
    domains = np.array([d[0] for d in cat.EMAIL_DOMAINS], dtype=object)[
        pick(rng, tuple(d[1] for d in cat.EMAIL_DOMAINS), n)
    ]
    style = rng.integers(0, 4, size=n)
    number = rng.integers(1, 100, size=n)
    year = 1965 + rng.integers(0, 40, size=n)
    seen: set[str] = set()
    out: list[str] = []
    for i in range(n):
        f, s = cat.translit(first[i]), cat.translit(last[i])
        local = (
            f"{f}.{s}",
            f"{s}.{f}{number[i]}",
            f"{f[0]}{s}{year[i]}",
            f"{f}{year[i] % 100:02d}{number[i]}",
        )[style[i]]
        email = f"{local}@{domains[i]}"
        k = 1
        while email in seen:
            email = f"{local}{k}@{domains[i]}"
            k += 1
        seen.add(email)
        out.append(email)
    return out


def _phones(rng: np.random.Generator, n: int) -> list[str]:
    seen: set[int] = set()
    out: list[str] = []
    for x in rng.integers(0, 1_000_000_000, size=n).tolist():
        while x in seen:
            x = (x + 7_919) % 1_000_000_000
        seen.add(x)
        out.append(f"+79{x:09d}")
    return out


def _orders(
    rng: np.random.Generator, catalogue: cat.Catalogue, customers: pd.DataFrame, end: int
) -> pd.DataFrame:
    reg = customers["reg"].to_numpy()
    rate = customers["rate"].to_numpy()
    if catalogue.finish_event is not None:  # a school, not a shop
        rate = np.where(customers["subscriber"].to_numpy(), rate, np.minimum(rate, SCHOOL_MAX_RATE))
    p = customers["p"].to_numpy()
    subscriber = customers["subscriber"].to_numpy()
    buyers = np.flatnonzero(customers["buyer"].to_numpy())

    # Buyers: first order soon after registering (a third buy within the hour), then BG/NBD.
    cust_parts: list[I64] = []
    time_parts: list[I64] = []
    label_parts: list[I64] = []
    seq_parts: list[I64] = []
    churned = np.full(len(reg), -1, dtype=np.int64)
    quick = rng.random(len(buyers)) < 0.35
    delay = np.where(
        quick, rng.exponential(1200.0, len(buyers)), rng.exponential(4 * DAY, len(buyers))
    )
    who = buyers
    t = reg[who] + 60 + delay.astype(np.int64)
    seq = np.zeros(len(who), dtype=np.int64)
    while len(who):
        keep = t < end
        who, t, seq = who[keep], t[keep], seq[keep]
        if not len(who):
            break
        label = pick(rng, LABEL_P, len(who))
        cust_parts.append(who)
        time_parts.append(t)
        label_parts.append(label)
        seq_parts.append(seq)
        drop = MONEY[label] & (rng.random(len(who)) < p[who])
        churned[who[drop]] = t[drop]
        who, t, seq, label = who[~drop], t[~drop], seq[~drop], label[~drop]
        regular = np.where(
            subscriber[who],
            rng.gamma(16.0, 30.0 * DAY / 16.0, len(who)),
            rng.exponential(1.0, len(who)) * 365.25 * DAY / rate[who],
        )
        retry = ~MONEY[label] & (rng.random(len(who)) < 0.5)
        gap = np.where(retry, rng.exponential(DAY, len(who)), regular)
        t = t + 300 + gap.astype(np.int64)
        seq = seq + 1

    # Registered, never paid: a third leave one or two unpaid orders within days.
    idle = np.flatnonzero(~customers["buyer"].to_numpy())
    tried = idle[rng.random(len(idle)) < 0.33]
    two = tried[rng.random(len(tried)) < 0.3]
    t1 = reg[tried] + 60 + rng.exponential(2 * DAY, len(tried)).astype(np.int64)
    t2 = t1[np.isin(tried, two)] + 300 + rng.exponential(DAY, len(two)).astype(np.int64)
    for who_i, t_i, s in ((tried, t1, 0), (two, t2, 1)):
        unpaid = np.array([LABEL_INDEX[x] for x in UNPAID_LABELS])[pick(rng, UNPAID_P, len(who_i))]
        cust_parts.append(who_i)
        time_parts.append(t_i)
        label_parts.append(unpaid)
        seq_parts.append(np.full(len(who_i), s, dtype=np.int64))

    cust = np.concatenate(cust_parts)
    created = np.concatenate(time_parts)
    label = np.concatenate(label_parts)
    seq = np.concatenate(seq_parts)
    keep = created < end
    cust, created, label, seq = cust[keep], created[keep], label[keep], seq[keep]
    order = np.lexsort((cust, created))
    cust, created, label, seq = cust[order], created[order], label[order], seq[order]
    customers["churned"] = churned
    return _price_and_pay(rng, catalogue, customers, cust, created, label, seq, end)


def _course_path(
    rng: np.random.Generator,
    products: tuple[cat.Product, ...],
    n_customers: int,
    cust: I64,
    created: I64,
    label: I64,
    sub: npt.NDArray[np.bool_] | None,
) -> tuple[I64, npt.NDArray[np.bool_]]:
    """Each student's path through the catalogue: the first course by the first-purchase
    weights, the rest in a random order by the repeat weights, the modules of a course in
    sequence (module 2 only after module 1); the k-th paid order buys the k-th course, an
    unpaid attempt the course it would have bought. Orders past the end of the catalogue are
    dropped (``keep`` false), so nobody buys the same course twice."""
    k = len(products)
    if not len(cust):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    first_w = np.array([x.weight_first for x in products], dtype=np.float64)
    repeat_w = np.array([x.weight_repeat for x in products], dtype=np.float64)
    with np.errstate(divide="ignore"):
        keys = np.log(np.maximum(repeat_w, 1e-12))[None, :] + rng.gumbel(size=(n_customers, k))
    first = pick(rng, tuple(first_w / first_w.sum()), n_customers)
    keys[np.arange(n_customers), first] = np.inf
    path = np.argsort(-keys, axis=1)
    modules = [i for i, x in enumerate(products) if "Модуль" in x.title]
    if len(modules) > 1:  # modules in sequence: module 1 takes the earliest module slot
        slots = np.isin(path, modules)
        path[slots] = np.tile(np.array(modules), n_customers)
    order = np.lexsort((created, cust))
    money = MONEY[label] & (np.ones(len(cust), dtype=bool) if sub is None else ~sub)
    m_sorted = money[order].astype(np.int64)
    c_sorted = cust[order]
    cum = np.cumsum(m_sorted)
    start = np.r_[0, np.flatnonzero(np.diff(c_sorted)) + 1]
    group_base = np.repeat(cum[start] - m_sorted[start], np.diff(np.r_[start, len(c_sorted)]))
    rank_sorted = cum - m_sorted - group_base
    rank = np.empty_like(rank_sorted)
    rank[order] = rank_sorted
    keep = rank < k
    if sub is not None:
        keep = keep | sub
    product = path[cust, np.minimum(rank, k - 1)]
    return product.astype(np.int64), keep


def _price_and_pay(
    rng: np.random.Generator,
    catalogue: cat.Catalogue,
    customers: pd.DataFrame,
    cust: I64,
    created: I64,
    label: I64,
    seq: I64,
    end: int,
) -> pd.DataFrame:
    m = len(cust)
    products = catalogue.products
    subscriber = customers["subscriber"].to_numpy()[cust]
    first_w = np.array([x.weight_first for x in products])
    repeat_w = np.array([x.weight_repeat for x in products])
    product = np.where(seq == 0, pick(rng, first_w, m), pick(rng, repeat_w, m))
    sub = subscriber & (rng.random(m) < 0.85) if catalogue.subscription is not None else None
    if catalogue.finish_event is not None:  # a school: each course once, modules in order
        product, keep = _course_path(rng, products, len(customers), cust, created, label, sub)
        cust, created, label, seq, product = (
            cust[keep],
            created[keep],
            label[keep],
            seq[keep],
            product[keep],
        )
        subscriber = subscriber[keep]
        sub = None if sub is None else sub[keep]
        m = len(cust)
    titles = [x.title for x in products]
    prices = [x.price for x in products]
    lessons = [x.lessons for x in products]
    if catalogue.subscription is not None:
        assert sub is not None
        product = np.where(sub, len(products), product)
        titles.append(catalogue.subscription.title)
        prices.append(catalogue.subscription.price)
        lessons.append(catalogue.subscription.lessons)
    else:
        sub = np.zeros(m, dtype=bool)
    list_kop = np.array(prices, dtype=np.int64)[product] * 100
    quantity = np.ones(m, dtype=np.int64)
    if catalogue.finish_event is None:  # a shop: some baskets hold two or three of a thing
        quantity = 1 + (rng.random(m) < 0.12) + (rng.random(m) < 0.04)
        list_kop = list_kop * quantity

    # Promo codes (BLACKFRIDAY only in November) and personal deals: lognormal discounts.
    promo = np.where(
        ~sub & (rng.random(m) < 0.18), pick(rng, tuple(x[2] for x in cat.PROMO_CODES), m), -1
    )
    month = created.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64) % 12 + 1
    bf = [x[0] for x in cat.PROMO_CODES].index("BLACKFRIDAY30")
    promo = np.where((promo == bf) & (month != 11), 1, promo)
    pct = np.where(promo >= 0, np.array([x[1] for x in cat.PROMO_CODES])[np.maximum(promo, 0)], 0)
    amount = list_kop * (100 - pct) // 100
    manager = np.where(
        (list_kop >= 29_900 * 100) & (rng.random(m) < 0.7),
        rng.integers(0, len(cat.MANAGERS), m),
        -1,
    )
    personal = (manager >= 0) | (~sub & (rng.random(m) < 0.1))
    factor = np.minimum(1.0, np.exp(rng.normal(-0.08, 0.06, m)))
    amount = np.where(personal, np.round(amount * factor / 1000.0).astype(np.int64) * 1000, amount)
    kopecks = ~sub & (rng.random(m) < 0.04)  # a bank's instalment fee baked into the price
    amount = np.where(
        kopecks, np.round(amount * np.exp(rng.normal(0.02, 0.01, m))).astype(np.int64), amount
    )
    amount = np.maximum(amount, 100)

    # Payment a bit after creation; one that would land after the export stays unpaid.
    money = MONEY[label]
    mix = rng.random(m)
    delay = np.where(
        mix < 0.7,
        30 + rng.exponential(180.0, m),
        np.where(mix < 0.95, rng.exponential(6 * 3600.0, m), rng.exponential(4 * DAY, m)),
    ).astype(np.int64)
    paid_at = np.where(money, created + 1 + delay, -1)
    late = money & (paid_at >= end)
    label = np.where(late, LABEL_INDEX["Ожидаем оплаты"], label)
    money = money & ~late
    paid_at = np.where(money, paid_at, -1)

    refund = label == LABEL_INDEX["Возврат"]
    refunded_at = np.where(
        refund, paid_at + DAY + rng.exponential(10 * DAY, m).astype(np.int64), -1
    )
    pending_return = refund & (refunded_at >= end)
    label = np.where(pending_return, LABEL_INDEX["Ожидаем возврата"], label)
    refund = refund & ~pending_return
    refunded_at = np.where(refund, refunded_at, -1)

    partial = label == LABEL_INDEX["Частично оплачен"]
    share = rng.uniform(0.25, 0.75, m)
    part = np.clip(
        (amount * share // 100).astype(np.int64) * 100, 100, np.maximum(amount - 100, 100)
    )
    partial = partial & (part < amount)
    label = np.where(
        (label == LABEL_INDEX["Частично оплачен"]) & ~partial, LABEL_INDEX["Завершен"], label
    )
    paid_amount = np.where(partial, part, np.where(money & ~refund, amount, 0))
    refunded_amount = np.where(refund, amount, 0)

    system = np.where(money, pick(rng, tuple(x[2] for x in cat.PAYMENT_SYSTEMS), m), -1)
    fee_bp = np.array([x[1] for x in cat.PAYMENT_SYSTEMS])[np.maximum(system, 0)]
    received = np.where(refund, 0, paid_amount - (paid_amount * fee_bp + 5_000) // 10_000)
    affiliate = customers["utm_medium"].to_numpy()[cust] == "affiliate"
    earned = received - np.where(
        affiliate, (received * cat.PARTNER_COMMISSION_BP + 5_000) // 10_000, 0
    )

    number = 1_001 + np.arange(m)
    order_id = 48_000_000 + np.cumsum(rng.integers(1, 40, size=m))
    labels = np.array(LABELS, dtype=object)[label]
    tags = [
        ", ".join(
            t
            for t, on in (
                ("подписка", s),
                ("повторная покупка", q > 0),
                ("промокод", pr >= 0),
                ("рассрочка", pa),
            )
            if on
        )
        for s, q, pr, pa in zip(
            sub.tolist(), seq.tolist(), promo.tolist(), partial.tolist(), strict=True
        )
    ]
    return pd.DataFrame(
        {
            "cust": cust,
            "order_id": order_id.astype(str),
            "number": number,
            "created": created,
            "paid": paid_at,
            "refunded": refunded_at,
            "amount": amount,
            "paid_amount": paid_amount,
            "refunded_amount": refunded_amount,
            "received": received,
            "earned": earned,
            "source_status": labels,
            "items": np.array(titles, dtype=object)[product],
            "lessons": np.array(lessons, dtype=np.int64)[product],
            "quantity": quantity,
            "promo_code": np.array([x[0] for x in cat.PROMO_CODES] + [""], dtype=object)[promo],
            "payment_system": np.array([x[0] for x in cat.PAYMENT_SYSTEMS] + [""], dtype=object)[
                system
            ],
            "manager": np.array([*cat.MANAGERS, ""], dtype=object)[manager],
            "tags": tags,
            "seq": seq,
        }
    )
