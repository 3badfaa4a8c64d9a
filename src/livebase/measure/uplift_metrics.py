"""Held-out evaluation of uplift rankings: whom would the model target first, and was it right?

A seeded split stratified by arm; on the test rows, the Qini curve (Radcliffe 2007, "Using
control groups to target on predicted lift", DMA Analytics Journal), the uplift curve and its
area (AUUC; Rzepakowski & Jaroszewicz 2012, KAIS 32), and observed against predicted uplift by
decile. The models themselves are in ``livebase.measure.uplift``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from livebase.errors import ModelError
from livebase.measure.uplift import FloatArray, UpliftModel, _require

__all__ = [
    "ArmEvaluation",
    "QiniSummary",
    "evaluate_uplift",
    "qini_curve",
    "qini_summary",
    "split_train_test",
    "uplift_by_decile",
]


def split_train_test(
    frame: pd.DataFrame, arm_column: str, test_share: float = 0.3, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded split, stratified by arm, into (train, test).

    >>> f = pd.DataFrame({"arm": ["a", "b"] * 50})
    >>> [len(p) for p in split_train_test(f, "arm", 0.3, seed=1)]
    [70, 30]
    """
    if not 0.0 < test_share < 1.0:
        raise ModelError(f"test_share must be in (0, 1), got {test_share}")
    rng = np.random.default_rng(seed)
    arms = frame[arm_column].astype(str).to_numpy()
    test = np.zeros(len(frame), dtype=bool)
    for arm in sorted(set(arms.tolist())):
        idx = np.flatnonzero(arms == arm)
        k = round(idx.size * test_share)
        test[rng.permutation(idx)[:k]] = True
    return frame[~test], frame[test]


def _cumulative(
    y: FloatArray, treated: npt.NDArray[np.bool_], score: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    order = np.argsort(-score, kind="stable")
    w = treated[order].astype(np.float64)
    yo = y[order]
    return np.cumsum(w), np.cumsum(1.0 - w), np.cumsum(yo * w), np.cumsum(yo * (1.0 - w))


def qini_curve(y: npt.ArrayLike, treated: npt.ArrayLike, uplift: npt.ArrayLike) -> pd.DataFrame:
    """Qini and uplift curves, targeting customers in order of decreasing predicted uplift.

    ``qini(k) = Y_t(k) − Y_c(k) · N_t(k)/N_c(k)`` — incremental responses among the top k had
    they all been treated, at the treated scale (Radcliffe 2007); ``uplift_curve(k) =
    (Y_t(k)/N_t(k) − Y_c(k)/N_c(k)) · k`` (Rzepakowski & Jaroszewicz 2012). The ``random``
    column is the straight line of random targeting. Starts at (0, 0).

    >>> c = qini_curve([1, 0, 1, 0], [1, 1, 0, 0], [0.9, 0.1, 0.2, 0.3])
    >>> c["qini"].tolist()
    [0.0, 1.0, 1.0, 0.5, 0.0]
    """
    ya = np.asarray(y, dtype=np.float64)
    wa = np.asarray(treated, dtype=bool)
    sa = np.asarray(uplift, dtype=np.float64)
    nt, nc, yt, yc = _cumulative(ya, wa, sa)
    with np.errstate(divide="ignore", invalid="ignore"):
        qini = np.where(nc > 0, yt - yc * nt / nc, yt)
        rate_t = np.where(nt > 0, yt / nt, 0.0)
        rate_c = np.where(nc > 0, yc / nc, 0.0)
    k = np.arange(1, ya.size + 1, dtype=np.float64)
    curve = (rate_t - rate_c) * k
    zero = np.zeros(1)
    n = float(ya.size)
    frame = pd.DataFrame(
        {
            "n": np.concatenate([zero, k]),
            "fraction": np.concatenate([zero, k / n]),
            "n_treatment": np.concatenate([zero, nt]),
            "n_control": np.concatenate([zero, nc]),
            "qini": np.concatenate([zero, qini]),
            "uplift_curve": np.concatenate([zero, curve]),
        }
    )
    frame["random"] = frame["fraction"] * (qini[-1] if qini.size else 0.0)
    frame["random_uplift_curve"] = frame["fraction"] * (curve[-1] if curve.size else 0.0)
    return frame


def _area(x: FloatArray, y: FloatArray) -> float:
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))


@dataclass(frozen=True)
class QiniSummary:
    """Areas of the Qini and uplift curves (x = fraction targeted, y per customer)."""

    qini_coefficient: float
    """(area model − area random) / (area perfect − area random) of the Qini curve: 0 is
    random targeting, 1 a perfect ranking (the normalised Qini of Radcliffe 2007)."""
    qini_area: float
    """Area between the Qini curve and the random line, per customer."""
    auuc: float
    """Area under the uplift curve, per customer (incremental responses per customer)."""
    auuc_random: float
    auuc_normalized: float
    """(AUUC − random) / (perfect − random), the perfect uplift curve ranking treated responders,
    then control non-responders, then treated non-responders, then control responders — the
    normalisation of scikit-uplift's ``uplift_auc_score`` (``perfect_uplift_curve``)."""


def qini_summary(y: npt.ArrayLike, treated: npt.ArrayLike, uplift: npt.ArrayLike) -> QiniSummary:
    """Qini coefficient and AUUC of a ranking, with the perfect ranking as the upper bound.

    The perfect Qini ranking puts treated responders first and control responders last
    (negative effects allowed), as scikit-uplift's ``perfect_qini_curve``; the perfect uplift
    curve is that of scikit-uplift's ``perfect_uplift_curve`` (binary outcome).
    """
    ya = np.asarray(y, dtype=np.float64)
    wa = np.asarray(treated, dtype=bool)
    n = float(ya.size)
    model = qini_curve(ya, wa, uplift)
    perfect = qini_curve(ya, wa, ya * wa - ya * (~wa))
    # scikit-uplift's perfect uplift curve: treated responders, control non-responders, treated
    # non-responders, control responders
    perfect_uplift = qini_curve(ya, wa, 2.0 * (ya == wa) + wa)
    x = model["fraction"].to_numpy()

    def areas(col: str, rand: str, f: pd.DataFrame) -> tuple[float, float]:
        return _area(x, f[col].to_numpy() / n), _area(x, f[rand].to_numpy() / n)

    qm, qr = areas("qini", "random", model)
    qp, _ = areas("qini", "random", perfect)
    um, ur = areas("uplift_curve", "random_uplift_curve", model)
    up, _ = areas("uplift_curve", "random_uplift_curve", perfect_uplift)
    return QiniSummary(
        qini_coefficient=(qm - qr) / (qp - qr) if qp != qr else float("nan"),
        qini_area=qm - qr,
        auuc=um,
        auuc_random=ur,
        auuc_normalized=(um - ur) / (up - ur) if up != ur else float("nan"),
    )


def uplift_by_decile(
    y: npt.ArrayLike, treated: npt.ArrayLike, uplift: npt.ArrayLike, bins: int = 10
) -> pd.DataFrame:
    """Observed vs predicted uplift by bins of predicted uplift (bin 1 = highest predicted).

    >>> t = uplift_by_decile([1, 0, 1, 0] * 5, [1, 1, 0, 0] * 5, list(range(20)), bins=2)
    >>> t[["bin", "n_treatment", "n_control"]].values.tolist()
    [[1, 4, 6], [2, 6, 4]]
    """
    ya = np.asarray(y, dtype=np.float64)
    wa = np.asarray(treated, dtype=bool)
    sa = np.asarray(uplift, dtype=np.float64)
    order = np.argsort(-sa, kind="stable")
    labels = np.empty(ya.size, dtype=np.int64)
    labels[order] = np.arange(ya.size) * bins // max(ya.size, 1) + 1
    rows = []
    for b in range(1, bins + 1):
        m = labels == b
        t, c = m & wa, m & ~wa
        rt = float(ya[t].mean()) if t.any() else float("nan")
        rc = float(ya[c].mean()) if c.any() else float("nan")
        rows.append(
            {
                "bin": b,
                "n_treatment": int(t.sum()),
                "n_control": int(c.sum()),
                "response_treatment": rt,
                "response_control": rc,
                "observed_uplift": rt - rc,
                "predicted_uplift": float(sa[m].mean()) if m.any() else float("nan"),
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True, eq=False)
class ArmEvaluation:
    """Held-out evaluation of one treatment arm's uplift ranking."""

    arm: str
    n_treatment: int
    n_control: int
    summary: QiniSummary
    curve: pd.DataFrame
    deciles: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        s = self.summary
        return {
            "arm": self.arm,
            "n_treatment": self.n_treatment,
            "n_control": self.n_control,
            "qini_coefficient": s.qini_coefficient,
            "qini_area": s.qini_area,
            "auuc": s.auuc,
            "auuc_random": s.auuc_random,
            "auuc_normalized": s.auuc_normalized,
            "deciles": self.deciles.to_dict("records"),
        }


def evaluate_uplift(
    model: UpliftModel, test: pd.DataFrame, arm_column: str
) -> tuple[ArmEvaluation, ...]:
    """Evaluate each treatment arm's ranking on held-out rows of that arm and the control."""
    _require(test, [arm_column, model.outcome])
    pred = model.predict(test)
    arms = test[arm_column].astype(str).to_numpy()
    y = test[model.outcome].to_numpy(dtype=np.float64)
    out = []
    for arm in model.treatments:
        mask = (arms == arm) | (arms == model.control)
        treated = arms[mask] == arm
        score = pred[arm].to_numpy()[mask]
        out.append(
            ArmEvaluation(
                arm=arm,
                n_treatment=int(treated.sum()),
                n_control=int((~treated).sum()),
                summary=qini_summary(y[mask], treated, score),
                curve=qini_curve(y[mask], treated, score),
                deciles=uplift_by_decile(y[mask], treated, score),
            )
        )
    return tuple(out)
