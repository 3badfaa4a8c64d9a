"""The published results the dashboard reads: one JSON file written by a batch job.

``livebase serve`` never holds DuckDB's lock: after a batch job (the demo, ``livebase run``,
``livebase segment``) :func:`publish_snapshot` computes what the three dashboards show — the
owner's revenue, repeat share, segments over time, alerts and the programme against the global
holdout; each playbook's readout, funnel and step escalation for the marketer; segments,
transitions, CLV, experiments and data freshness for the analyst — and writes it atomically to
``<workspace>/.livebase/dashboard.json``. The service reads it (:func:`read_snapshot`).

>>> from livebase.store import Store
from livebase.workspace import Workspace
>>> from datetime import datetime
>>> with Store.in_memory() as store:
...     snap = build_snapshot(store, as_of=datetime(2026, 3, 1), playbooks=[])
>>> snap["owner"]["revenue_by_month"], snap["playbooks"]
([], [])
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from livebase.measure.playbook_store import (
    PlaybookSpec,
    read_funnel,
    read_global_holdout,
    read_playbook,
)
from livebase.measure.results import _jsonable
from livebase.measure.settings import LearnSettings
from livebase.store import Store
from livebase.workspace import Workspace

__all__ = [
    "SNAPSHOT_FILE",
    "build_snapshot",
    "publish_snapshot",
    "read_snapshot",
    "refresh_snapshot",
    "snapshot_path",
]

SNAPSHOT_FILE = Path(".livebase") / "dashboard.json"
PAID = "('paid', 'partially_paid')"


def snapshot_path(root: Path) -> Path:
    """Where a workspace's published dashboard data lives."""
    return root / SNAPSHOT_FILE


def _rows(store: Store, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    cur = store.con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [{k: _plain(v) for k, v in zip(names, row, strict=True)} for row in cur.fetchall()]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "__float__") and not isinstance(value, int | float | bool):
        return float(value)
    return value


def _owner(store: Store, as_of: datetime, scheme: str | None) -> dict[str, Any]:
    revenue = _rows(
        store,
        f"""-- name: owner-revenue-by-month
        WITH o AS (SELECT customer_id, paid_at, CAST(paid_amount AS DOUBLE) AS amount,
                          row_number() OVER (PARTITION BY customer_id ORDER BY paid_at) AS k
                   FROM orders WHERE status IN {PAID} AND paid_at <= ?)
        SELECT strftime(date_trunc('month', paid_at), '%Y-%m') AS month,
               sum(amount) AS revenue, count(*) AS orders,
               count(DISTINCT customer_id) AS customers,
               coalesce(sum(amount) FILTER (WHERE k > 1) / nullif(sum(amount), 0), 0)
                   AS repeat_share
        FROM o GROUP BY 1 ORDER BY 1""",
        [as_of],
    )
    segments: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []
    if scheme is not None:
        segments = _rows(
            store,
            """-- name: owner-segments-over-time
            SELECT strftime(as_of, '%Y-%m-%d') AS as_of, segment, customers,
                   CAST(revenue AS DOUBLE) AS revenue, CAST(ltv AS DOUBLE) AS ltv
            FROM segment_snapshots WHERE scheme = ? AND as_of <= CAST(? AS DATE)
            ORDER BY as_of, segment""",
            [scheme, as_of],
        )
        dates = sorted({r["as_of"] for r in segments})
        if len(dates) >= 2:
            before = {r["segment"]: r for r in segments if r["as_of"] == dates[-2]}
            for r in (r for r in segments if r["as_of"] == dates[-1]):
                b = before.get(r["segment"])
                if b and b["customers"] and abs(r["customers"] / b["customers"] - 1) >= 0.1:
                    alerts.append(
                        {
                            "segment": r["segment"],
                            "from": int(b["customers"]),
                            "to": int(r["customers"]),
                            "change": r["customers"] / b["customers"] - 1,
                            "since": dates[-2],
                        }
                    )
    return {
        "revenue_by_month": revenue,
        "segments": segments,
        "segment_scheme": scheme,
        "alerts": alerts,
    }


def _analyst(store: Store, scheme: str | None) -> dict[str, Any]:
    sizes = _rows(
        store,
        """-- name: analyst-segment-sizes
        SELECT scheme, segment, count(*) AS customers FROM segment_history
        WHERE valid_to IS NULL GROUP BY ALL ORDER BY scheme, customers DESC""",
    )
    transitions: list[dict[str, Any]] = []
    if scheme is not None:
        dates = [
            r["as_of"]
            for r in _rows(
                store,
                "SELECT DISTINCT as_of FROM segment_runs WHERE scheme = ? ORDER BY as_of DESC "
                "LIMIT 2",
                [scheme],
            )
        ]
        if len(dates) == 2:
            transitions = _rows(
                store,
                """-- name: analyst-transitions
                SELECT a.segment AS "from", b.segment AS "to", count(*) AS customers
                FROM segment_history a JOIN segment_history b USING (customer_id, scheme)
                WHERE a.scheme = ? AND a.valid_from <= CAST(? AS DATE)
                  AND (a.valid_to IS NULL OR a.valid_to > CAST(? AS DATE))
                  AND b.valid_from <= CAST(? AS DATE)
                  AND (b.valid_to IS NULL OR b.valid_to > CAST(? AS DATE))
                GROUP BY ALL ORDER BY customers DESC""",
                [scheme, dates[1], dates[1], dates[0], dates[0]],
            )
    clv = _rows(
        store,
        """-- name: analyst-clv
        SELECT fit_id, max(as_of) AS as_of, count(*) AS customers, sum(clv) AS total_clv,
               avg(clv) AS avg_clv, avg(p_alive) AS avg_p_alive,
               quantile_cont(clv, 0.9) AS p90_clv
        FROM clv_predictions GROUP BY fit_id ORDER BY as_of DESC LIMIT 5""",
    )
    experiments = _rows(
        store,
        """SELECT name, control_arm, source, CAST(planned_shares AS VARCHAR) AS planned_shares,
                  created_at FROM experiments ORDER BY created_at DESC LIMIT 20""",
    )
    uplift = _rows(
        store,
        """SELECT name, experiment, outcome, learner, n_train, n_test, fitted_at
           FROM uplift_models ORDER BY fitted_at DESC LIMIT 20""",
    )
    loads = _rows(
        store,
        """SELECT load_id, kind, file, rows_read, rows_inserted, rows_rejected, finished_at
           FROM loads ORDER BY load_id DESC LIMIT 10""",
    )
    bridged = _rows(
        store,
        """SELECT max(recorded_at) AS ledger FROM ops_send_ledger""",
    )
    return {
        "segment_sizes": sizes,
        "transitions": transitions,
        "clv": clv,
        "experiments": experiments,
        "uplift": uplift,
        "loads": loads,
        "ledger_bridged_until": bridged[0]["ledger"] if bridged else None,
    }


def _volumes(store: Store, name: str) -> dict[str, Any]:
    rows = _rows(
        store,
        """-- name: marketer-volumes
        SELECT channel, count(DISTINCT message_key) FILTER (WHERE type = 'sent') AS sent,
               count(DISTINCT message_key) FILTER (WHERE type = 'capped') AS capped,
               coalesce(sum(cost) FILTER (WHERE type = 'sent'), 0) AS cost
        FROM ops_send_ledger WHERE playbook = ? GROUP BY channel ORDER BY channel""",
        [name],
    )
    weekly = _rows(
        store,
        """-- name: marketer-weekly-sends
        SELECT strftime(date_trunc('week', ts), '%Y-%m-%d') AS week, count(*) AS sent
        FROM ops_send_ledger WHERE playbook = ? AND type = 'sent' GROUP BY 1 ORDER BY 1""",
        [name],
    )
    return {"by_channel": rows, "weekly": weekly}


def _default_scheme(store: Store, settings: LearnSettings) -> str | None:
    if settings.segment_scheme:
        return settings.segment_scheme
    row = store.con.execute(
        "SELECT scheme FROM segment_snapshots GROUP BY scheme "
        "ORDER BY count(DISTINCT segment) > 12, scheme <> 'named', scheme LIMIT 1"
    ).fetchone()
    return str(row[0]) if row else None


def build_snapshot(
    store: Store,
    *,
    as_of: datetime,
    playbooks: Sequence[PlaybookSpec],
    titles: dict[str, str] | None = None,
    global_holdout: float = 0.0,
    settings: LearnSettings | None = None,
    currency: str = "RUB",
) -> dict[str, Any]:
    """Everything the dashboards show, as of ``as_of`` (JSON-able)."""
    settings = settings or LearnSettings()
    scheme = _default_scheme(store, settings)
    books = []
    for spec in playbooks:
        r = read_playbook(store, spec, as_of=as_of, settings=settings)
        entered, funnel = read_funnel(store, spec)
        d = r.to_dict()
        books.append(
            {
                "name": spec.name,
                "title": (titles or {}).get(spec.name, spec.name),
                "entered": entered,
                "funnel": [f.to_dict() for f in funnel],
                "volumes": _volumes(store, spec.name),
                "readout": {k: v for k, v in d.items() if k not in {"readout", "stratified"}}
                | {
                    "arms": d["readout"]["arms"] if d.get("readout") else [],
                    "srm": d["readout"]["srm"] if d.get("readout") else None,
                    "segments": d["readout"]["segments"] if d.get("readout") else [],
                    "occurrences": d["stratified"]["strata"] if d.get("stratified") else [],
                    "pooled": d["stratified"]["pooled"] if d.get("stratified") else [],
                    "steps": [{k: v for k, v in s.items() if k != "readout"} for s in d["steps"]],
                },
            }
        )
    programme = read_global_holdout(
        store, as_of=as_of, share=global_holdout, settings=settings
    ).to_dict()
    out: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "currency": currency,
        "margin": settings.margin,
        "owner": _owner(store, as_of, scheme) | {"programme": programme},
        "playbooks": books,
        "analyst": _analyst(store, scheme),
    }
    result: dict[str, Any] = _jsonable(out)
    return result


def publish_snapshot(root: Path, snapshot: dict[str, Any]) -> Path:
    """Write ``snapshot`` for the dashboard (atomically: a reader sees the old or the new)."""
    path = snapshot_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(snapshot, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_snapshot(root: Path) -> dict[str, Any] | None:
    """The published dashboard data of a workspace, or None before the first batch job."""
    path = snapshot_path(root)
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def refresh_snapshot(workspace: Workspace, store: Store, as_of: datetime) -> dict[str, Any]:
    """Build and publish the dashboards' snapshot of ``workspace`` as of ``as_of`` (called by
    the batch jobs that change what the dashboards show: ``livebase run`` and ``segment``)."""
    from livebase.measure.playbook_workflow import load_specs

    specs, titles = load_specs(workspace.root)
    config = workspace.config
    if as_of.tzinfo is not None:  # the analytics store's times are the workspace's local time
        from zoneinfo import ZoneInfo

        as_of = as_of.astimezone(ZoneInfo(config.timezone)).replace(tzinfo=None)
    snap = build_snapshot(
        store,
        as_of=as_of,
        playbooks=specs,
        titles=titles,
        global_holdout=float(config.policy.global_holdout or 0.0),
        settings=config.learn,
        currency=config.currency,
    )
    publish_snapshot(workspace.root, snap)
    return snap
