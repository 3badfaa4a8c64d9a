"""Product events consistent with each customer's purchases and drop-out.

Sessions come from two sources: a customer-level engagement rate over the time they are alive
(fading out about three weeks after their drop-out; a few days for those who never pay), and a
burst of sessions in the month after each payment. A session may carry a login just before it,
a lesson (a product view in the shop) just after it, and rarely an abandoned cart. Lessons go to
the latest course paid (the free intro course before any payment) and count up per course;
the last lesson of a course is followed by its ``course_finished``.
"""

from __future__ import annotations

import json

import numpy as np
import numpy.typing as npt
import pandas as pd

from livebase.demo import _catalogue as cat
from livebase.demo._common import ABANDONED, DAY, I64, LABEL_INDEX, pick, snap_to_day


def events(
    rng: np.random.Generator,
    catalogue: cat.Catalogue,
    customers: pd.DataFrame,
    orders: pd.DataFrame,
    end: int,
) -> pd.DataFrame:
    reg = customers["reg"].to_numpy()
    buyer = customers["buyer"].to_numpy()
    churned = customers["churned"].to_numpy()
    n = len(reg)
    # Activity lasts while the customer is alive, fades out ~3 weeks after the drop-out, and
    # only a few days for someone who never pays.
    stop = np.where(
        buyer,
        np.where(churned >= 0, churned + rng.exponential(21 * DAY, n).astype(np.int64), end),
        reg + rng.exponential(4 * DAY, n).astype(np.int64),
    )
    stop = np.minimum(stop, end)
    engagement = rng.gamma(2.0, 0.5, n) * np.where(
        customers["subscriber"].to_numpy(), 0.25, np.where(buyer, 0.12, 0.4)
    )
    n_base = rng.poisson(engagement * np.maximum(stop - reg, 0) / DAY)
    who = np.repeat(np.arange(n), n_base)
    t = reg[who] + (rng.random(len(who)) * (stop - reg)[who]).astype(np.int64)
    t = snap_to_day(rng, t)
    ok = (t >= reg[who]) & (t < stop[who])
    who_base, t_base = who[ok], t[ok]

    # Every payment brings a burst of sessions in the next month (the course is being used).
    money = orders[orders["paid"] >= 0]
    n_burst = rng.poisson(5.0, len(money))
    who = np.repeat(money["cust"].to_numpy(), n_burst)
    paid = np.repeat(money["paid"].to_numpy(), n_burst)
    t = snap_to_day(rng, paid + (rng.random(len(who)) * 30 * DAY).astype(np.int64))
    ok = (t >= paid) & (t < end)
    s_who = np.concatenate([who_base, who[ok]])
    s_t = np.concatenate([t_base, t[ok]])
    k = len(s_who)

    devices = np.array([d[0] for d in cat.DEVICES], dtype=object)
    methods = np.array([d[0] for d in cat.LOGIN_METHODS], dtype=object)
    frames: list[pd.DataFrame] = []

    def add(who_: I64, ts: I64, name: str, props: list[str] | npt.NDArray[np.object_]) -> None:
        frames.append(pd.DataFrame({"cust": who_, "ts": ts, "name": name, "properties": props}))

    device = devices[pick(rng, tuple(d[1] for d in cat.DEVICES), k)]
    add(
        s_who,
        s_t,
        "session_start",
        np.array([f'{{"device": "{d}"}}' for d in device], dtype=object),
    )
    login = rng.random(k) < 0.35
    lt = s_t[login] - rng.integers(3, 40, int(login.sum()))
    ok = lt >= reg[s_who[login]]
    method = methods[pick(rng, tuple(d[1] for d in cat.LOGIN_METHODS), int(ok.sum()))]
    add(
        s_who[login][ok],
        lt[ok],
        "login",
        np.array([f'{{"method": "{x}"}}' for x in method], dtype=object),
    )

    use = rng.random(k) < 0.6
    ut = s_t[use] + rng.integers(4 * 60, 55 * 60, int(use.sum()))
    ok = ut < end
    frames.extend(_usage(rng, catalogue, orders, s_who[use][ok], ut[ok], end))

    # Carts left behind: unpaid orders, and now and then a session that adds and leaves.
    quoted = {t: json.dumps(t, ensure_ascii=False) for t in orders["items"].unique()}
    quoted.update({x.title: json.dumps(x.title, ensure_ascii=False) for x in catalogue.products})
    key = "course" if catalogue.finish_event else "product"
    left = orders[ABANDONED[[LABEL_INDEX[x] for x in orders["source_status"]]]]
    ct = left["created"].to_numpy() + rng.integers(10 * 60, 40 * 60, len(left))
    ok = ct < end
    add(
        left["cust"].to_numpy()[ok],
        ct[ok],
        "cart_abandoned",
        [
            f'{{"{key}": {quoted[i]}, "order_id": "{o}"}}'
            for i, o in zip(left["items"][ok], left["order_id"][ok], strict=True)
        ],
    )
    stray = rng.random(k) < 0.02
    st = s_t[stray] + rng.integers(60, 20 * 60, int(stray.sum()))
    ok = st < end
    titles = [x.title for x in catalogue.products]
    chosen = pick(
        rng, tuple(x.weight_first + x.weight_repeat for x in catalogue.products), int(ok.sum())
    )
    add(
        s_who[stray][ok],
        st[ok],
        "cart_abandoned",
        [f'{{"{key}": {quoted[titles[i]]}}}' for i in chosen],
    )

    add(
        money["cust"].to_numpy(),
        money["paid"].to_numpy(),
        catalogue.paid_event,
        [
            f'{{"{key}": {quoted[i]}, "order_id": "{o}"}}'
            for i, o in zip(money["items"], money["order_id"], strict=True)
        ],
    )
    events = pd.concat(frames, ignore_index=True)
    events = events.sort_values(["cust", "ts", "name"], kind="stable", ignore_index=True)
    return events


def _usage(
    rng: np.random.Generator,
    catalogue: cat.Catalogue,
    orders: pd.DataFrame,
    who: I64,
    ts: I64,
    end: int,
) -> list[pd.DataFrame]:
    """Lessons of the latest course paid (or the free intro), and the finish of each course."""
    if catalogue.finish_event is None:
        titles = [x.title for x in catalogue.products]
        chosen = pick(
            rng, tuple(x.weight_first + x.weight_repeat for x in catalogue.products), len(who)
        )
        shown = [json.dumps(t, ensure_ascii=False) for t in titles]
        props = [f'{{"product": {shown[i]}}}' for i in chosen]
        return [
            pd.DataFrame({"cust": who, "ts": ts, "name": catalogue.use_event, "properties": props})
        ]
    owned = orders[(orders["paid"] >= 0) & (orders["refunded"] < 0)][
        ["cust", "paid", "items", "lessons"]
    ]
    owned = owned.sort_values("paid", kind="stable")
    use = pd.DataFrame({"cust": who, "ts": ts}).sort_values("ts", kind="stable")
    use = pd.merge_asof(use, owned, left_on="ts", right_on="paid", by="cust", direction="backward")
    use["items"] = use["items"].fillna(catalogue.free_course)
    use["lessons"] = use["lessons"].fillna(3).astype(np.int64)
    use = use.sort_values(["cust", "ts"], kind="stable")
    use["lesson"] = use.groupby(["cust", "items"], sort=False).cumcount() + 1
    use = use[use["lesson"] <= use["lessons"]]
    quoted = {t: json.dumps(t, ensure_ascii=False) for t in use["items"].unique()}
    props = [
        f'{{"course": {quoted[c]}, "lesson": {k}}}'
        for c, k in zip(use["items"], use["lesson"], strict=True)
    ]
    out = [
        pd.DataFrame(
            {
                "cust": use["cust"].to_numpy(),
                "ts": use["ts"].to_numpy(),
                "name": catalogue.use_event,
                "properties": props,
            }
        )
    ]
    done = use[use["lesson"] == use["lessons"]]
    ft = done["ts"].to_numpy() + 1
    ok = ft < end
    fin = [
        f'{{"course": {quoted[c]}, "lessons": {k}}}'
        for c, k in zip(done["items"][ok], done["lessons"][ok], strict=True)
    ]
    out.append(
        pd.DataFrame(
            {
                "cust": done["cust"].to_numpy()[ok],
                "ts": ft[ok],
                "name": catalogue.finish_event,
                "properties": fin,
            }
        )
    )
    return out
