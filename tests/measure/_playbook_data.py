"""A seeded playbook history written straight into the analytics store's ops_* copies.

A cascade ``email → sms``: entrants are split treatment / holdout by the plan; treated
customers get the e-mail; those who have not bought by day 3 reach the SMS step, of whom a
share is held out. Purchases follow known probabilities, so each readout's truth is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from livebase.store import Store

START = datetime(2026, 1, 5, 9, 0)


@dataclass(frozen=True)
class Truth:
    base: float = 0.06
    """Purchase probability within the window without any message."""
    email: float = 0.05
    """Added by the e-mail."""
    sms: float = 0.004
    """Added by the SMS among those who reach it."""
    price: float = 3000.0


def fill(
    store: Store,
    *,
    n: int = 6000,
    holdout: float = 0.1,
    sms_holdout: float = 0.2,
    sms_cost: float = 6.0,
    truth: Truth = Truth(),
    seed: int = 7,
    name: str = "winback",
    days: int = 56,
) -> None:
    """Write assignments, journeys, ledger and orders of ``n`` entrants over ``days`` days."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"c{i:06d}" for i in range(n)])
    entered = np.datetime64(START, "us") + rng.integers(0, days, n).astype("timedelta64[D]")
    occurrence = np.where(rng.random(n) < 0.15, 2, 1)
    arm = np.where(rng.random(n) < holdout, "holdout", "treatment")
    treated = arm == "treatment"
    base_buy = rng.random(n) < truth.base
    email_buy = treated & (rng.random(n) < truth.email)
    early = base_buy & (rng.random(n) < 0.4) | email_buy
    reach_sms = treated & ~early
    sms_arm = np.where(rng.random(n) < sms_holdout, "holdout", "treatment")
    sms_buy = reach_sms & (sms_arm == "treatment") & (rng.random(n) < truth.sms)
    bought = base_buy | email_buy | sms_buy
    day_of = np.where(early, rng.integers(0, 3, n), rng.integers(3, 14, n))
    paid_at = entered + day_of.astype("timedelta64[D]") + np.timedelta64(3, "h")
    now = START + timedelta(days=days + 30)
    assignments = pd.DataFrame(
        {
            "unit": f"playbook:{name}",
            "customer_id": ids,
            "occurrence": occurrence,
            "arm": arm,
            "holdout_share": holdout,
            "salt": name,
            "ts": entered,
            "recorded_at": now,
        }
    )
    sms_at = entered + np.timedelta64(3, "D")
    step = pd.DataFrame(
        {
            "unit": f"playbook:{name}:step:sms",
            "customer_id": ids[reach_sms],
            "occurrence": occurrence[reach_sms],
            "arm": sms_arm[reach_sms],
            "holdout_share": sms_holdout,
            "salt": name + ":sms",
            "ts": sms_at[reach_sms],
            "recorded_at": now,
        }
    )
    g = pd.DataFrame(
        {
            "unit": "global",
            "customer_id": [f"g{i:05d}" for i in range(400)],
            "occurrence": 0,
            "arm": ["holdout" if i % 10 == 0 else "eligible" for i in range(400)],
            "holdout_share": 0.1,
            "salt": "g",
            "ts": START,
            "recorded_at": now,
        }
    )
    ledger_rows = []
    for i in np.flatnonzero(treated):
        key = f"{ids[i]}|{name}|{occurrence[i]}|email"
        ledger_rows.append(
            (
                key + ":planned",
                key,
                ids[i],
                name,
                occurrence[i],
                "email",
                "email",
                "planned",
                None,
                0.0,
                entered[i],
            )
        )
        ledger_rows.append(
            (
                key + ":sent",
                key,
                ids[i],
                name,
                occurrence[i],
                "email",
                "email",
                "sent",
                None,
                0.1,
                entered[i],
            )
        )
        if rng.random() < 0.35:
            ledger_rows.append(
                (
                    key + ":opened",
                    key,
                    ids[i],
                    name,
                    occurrence[i],
                    "email",
                    "email",
                    "opened",
                    None,
                    0.0,
                    entered[i],
                )
            )
        if reach_sms[i]:
            k2 = f"{ids[i]}|{name}|{occurrence[i]}|sms"
            if sms_arm[i] == "holdout":
                ledger_rows.append(
                    (
                        k2 + ":held_out",
                        k2,
                        ids[i],
                        name,
                        occurrence[i],
                        "sms",
                        "sms",
                        "held_out",
                        "step_holdout",
                        0.0,
                        sms_at[i],
                    )
                )
            elif rng.random() < 0.1:
                ledger_rows.append(
                    (
                        k2 + ":skipped",
                        k2,
                        ids[i],
                        name,
                        occurrence[i],
                        "sms",
                        "sms",
                        "skipped",
                        "no_consent",
                        0.0,
                        sms_at[i],
                    )
                )
            else:
                ledger_rows.append(
                    (
                        k2 + ":sent",
                        k2,
                        ids[i],
                        name,
                        occurrence[i],
                        "sms",
                        "sms",
                        "sent",
                        None,
                        sms_cost,
                        sms_at[i],
                    )
                )
                ledger_rows.append(
                    (
                        k2 + ":delivered",
                        k2,
                        ids[i],
                        name,
                        occurrence[i],
                        "sms",
                        "sms",
                        "delivered",
                        None,
                        0.0,
                        sms_at[i],
                    )
                )
    ledger = pd.DataFrame(
        ledger_rows,
        columns=["event_id", "message_key", "customer_id", "playbook", "occurrence", "step",
                 "channel", "type", "reason", "cost", "ts"],
    )  # fmt: skip
    ledger["recorded_at"] = now
    journeys = pd.DataFrame(
        {
            "customer_id": ids,
            "playbook": name,
            "occurrence": occurrence,
            "entered_at": entered,
            "arm": arm,
            "state": np.where(treated, "completed", "held_out"),
            "current_step": None,
            "next_step": np.where(early & treated, "sms", None),
            "next_due_at": None,
            "exit_reason": np.where(early & treated, "purchase", None),
            "exited_at": None,
            "recorded_at": now,
        }
    )
    orders = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in np.flatnonzero(bought)],
            "customer_id": ids[bought],
            "created_at": paid_at[bought],
            "paid_at": paid_at[bought],
            "amount": truth.price,
            "paid_amount": truth.price,
            "currency": "RUB",
            "status": "paid",
            "first_load": 1,
            "last_load": 1,
        }
    )
    con = store.con
    for table, frame in (
        ("ops_assignments", pd.concat([assignments, step, g])),
        ("ops_send_ledger", ledger),
        ("ops_journeys", journeys),
        ("orders", orders),
    ):
        con.register("lb_fill", frame)
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM lb_fill")
        con.unregister("lb_fill")
