"""Shared pieces of the simulation: units, label tables, weighted draws, times of day."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from livebase.demo import _catalogue as cat

DAY = 86_400
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

LABELS = tuple(cat.STATUS_SHARES)
LABEL_P = np.array([cat.STATUS_SHARES[k] for k in LABELS]) / sum(cat.STATUS_SHARES.values())
LABEL_INDEX = {label: i for i, label in enumerate(LABELS)}
MONEY = np.array([label in cat.MONEY_LABELS for label in LABELS])
UNPAID_LABELS = ("Отменен", "Ложный", "Новый", "Ожидаем оплаты", "Не подтвержден", "Отложен")
UNPAID_P = np.array([cat.STATUS_SHARES[k] for k in UNPAID_LABELS])
UNPAID_P = UNPAID_P / UNPAID_P.sum()
ABANDONED = np.array([label in set(UNPAID_LABELS) - {"Ложный"} for label in LABELS])


def pick(rng: np.random.Generator, weights: tuple[float, ...] | F64, n: int) -> I64:
    w = np.asarray(weights, dtype=float)
    return rng.choice(len(w), size=n, p=w / w.sum()).astype(np.int64)


def time_of_day(rng: np.random.Generator, n: int) -> I64:
    hours = pick(rng, cat.HOUR_WEIGHTS, n)
    return hours * 3600 + rng.integers(0, 3600, size=n)


def snap_to_day(rng: np.random.Generator, t: I64) -> I64:
    """Keep the day of each time but redraw its time of day from the daily activity curve."""
    return (t // DAY) * DAY + time_of_day(rng, len(t))
