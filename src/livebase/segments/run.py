"""A segmentation run as of a date: features, every scheme, history, snapshots, KPIs.

>>> from datetime import date, datetime
>>> from livebase.store import Store
>>> store = Store.in_memory()
>>> _ = store.con.execute(
...     "INSERT INTO customers (customer_id, first_load, last_load) VALUES ('a', 1, 1), ('b', 1, 1)")
>>> _ = store.con.execute(
...     "INSERT INTO orders (order_id, customer_id, created_at, paid_at, amount, paid_amount, "
...     "status, first_load, last_load) VALUES ('o1', 'a', '2026-01-05', '2026-01-05', 10, 10, "
...     "'paid', 1, 1)")
>>> run = run_segmentation(store, FeaturesSettings(), SegmentsSettings(), date(2026, 1, 31),
...                        ran_at=datetime(2026, 2, 1))
>>> sorted(run.assignments[run.assignments.scheme == "named"].segment)  # nobody below 'a'
['Lost', 'Prospects']
>>> run.kpis.loc[run.kpis.scheme == "abc", ["segment", "customers"]].values.tolist()
[['ACA', 1], ['Prospects', 1]]
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from contextlib import AbstractContextManager as ContextManager
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Literal

import duckdb

from livebase.errors import RuleError, SegmentError
from livebase.features import (
    FeatureSource,
    FeaturesSettings,
    clv_columns,
    features_sql,
)
from livebase.features.compute import paid_day_bounds
from livebase.features.state import state_ready
from livebase.segments.history import SchemeResults, segment_state_sql, write_histories
from livebase.segments.kpis import KPI_COLUMNS, kpi_sql
from livebase.segments.names import (
    FEATURES_TABLE,
    STATE_SUFFIXES,
    check_segment_rules,
    rule_columns,
)
from livebase.segments.pipeline import (
    assignments_sql,
    carried_columns,
    clv_kpi_column,
    rule_columns_used,
    scheme_step_sql,
)
from livebase.segments.rules import CheckedRule
from livebase.segments.run_result import SegmentationRun
from livebase.segments.schemes import (
    quantile_thresholds_sql,
    scheme_columns_sql,
    scored_schemes_sql,
    scores_json_sql,
    scores_sql,
    segment_order,
)
from livebase.segments.settings import (
    AbcScheme,
    JobsScheme,
    QuantileScheme,
    RulesScheme,
    SegmentsSettings,
)
from livebase.store import Store
from livebase.store.fetched import FetchedRows
from livebase.store.memory import release_memory
from livebase.store.narrow import create_narrow_table, drop_narrow_table
from livebase.store.settings import EngineSettings

if TYPE_CHECKING:  # imported when a run's tables are first read (run_result.SegmentationRun)
    import pandas as pd

__all__ = [
    "Every",
    "SegmentationRun",
    "SourceChoice",
    "backfill_dates",
    "check_segment_rules",
    "choose_source",
    "order_kpis",
    "rule_columns",
    "run_segmentation",
]

Every = Literal["day", "week", "month"]
SourceChoice = Literal["auto", "log", "state"]
_FEATURES = FEATURES_TABLE
_SCORED = "lb_scored"
_KPIS = "lb_kpis"


def _config_hash(features: FeaturesSettings, scheme: object) -> str:
    text = features.model_dump_json() + getattr(scheme, "model_dump_json", lambda: "")()
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def order_kpis(kpis: pd.DataFrame, segments: SegmentsSettings) -> pd.DataFrame:
    """Sort a KPI table by scheme (config order) and segment (best first); adds ``position``."""
    import pandas as pd

    if kpis.empty:
        return kpis.assign(position=pd.Series(dtype="int64"))
    ranks: dict[tuple[str, str], int] = {}
    for name, scheme in segments.schemes.items():
        for i, segment in enumerate(segment_order(scheme)):
            ranks.setdefault((name, segment), i)
    order = list(segments.schemes)
    out = kpis.copy()
    out["position"] = [
        ranks.get((s, g), 10_000) for s, g in zip(out["scheme"], out["segment"], strict=True)
    ]
    out["_scheme"] = [order.index(s) if s in order else len(order) for s in out["scheme"]]
    out = out.sort_values(["_scheme", "position", "segment"], kind="stable").drop(columns="_scheme")
    return out.reset_index(drop=True)


def _clv_predictions(
    store: Store,
    features: FeaturesSettings,
    as_of: date,
    checked: Mapping[str, list[CheckedRule]],
) -> str | None:
    """The SELECT of the CLV fit in force on ``as_of``; RuleError when a rule needs a CLV
    column the store cannot give (no fit, or a horizon the fit did not predict)."""
    fit = None
    if _has_clv_predictions(store):
        from livebase.models.store_io import latest_fit_id

        fit = latest_fit_id(store, as_of=as_of)
    have: set[str] = set()
    if fit is not None:
        horizons = {
            int(r[0])
            for r in store.con.execute(
                "SELECT DISTINCT horizon_days FROM clv_predictions WHERE fit_id = ?", [fit]
            ).fetchall()
        }
        have = {"p_alive"} | {
            f"{kind}_{h}d" for h in horizons for kind in ("expected_purchases", "clv")
        }
    clv = set(clv_columns(features.clv_horizons))
    for scheme, rules in checked.items():
        for rule_name, used in rule_columns_used(rules).items():
            missing = sorted((used & clv) - have)
            if not missing:
                continue
            line = next((r.line for r in rules if r.name == rule_name), None)
            if fit is None:
                why = f"the store has no CLV fit as of {as_of} or earlier"
                fix = "run 'livebase clv fit' first"
            else:
                why = f"the CLV fit in force on {as_of} ({fit}) did not predict them"
                fix = "refit with 'livebase clv fit --horizon N' for the horizons the rules use"
            raise RuleError(
                f"scheme '{scheme}' uses {', '.join(missing)}, but {why}: {fix}",
                rule=rule_name,
                line=line,
            )
    if fit is None:
        return None
    from livebase.models.store_io import predictions_sql

    return predictions_sql(fit, features.clv_horizons)


def _has_clv_predictions(store: Store) -> bool:
    """Whether the store holds any CLV prediction, asked without importing the models (their
    import pulls in SciPy: seconds a store without a CLV fit should not pay on every run)."""
    try:  # migration 003 makes the table; asking the catalog costs more than asking the table
        return bool(store.fetch_value("SELECT EXISTS (SELECT 1 FROM clv_predictions)"))
    except duckdb.CatalogException:
        return False


def choose_source(
    store: Store, features: FeaturesSettings, as_of: date, source: SourceChoice
) -> FeatureSource:
    """``log`` or ``state`` for ``source`` ``auto``: the state when it stands for ``as_of``.

    SegmentError when ``state`` is asked for and the state cannot give the log's answer.
    """
    if source == "log":
        return "log"
    ready, why = state_ready(store.con, features, as_of)
    if source == "state" and not ready:
        raise SegmentError(
            f"cannot segment as of {as_of} from customer_state: {why}; use the order log "
            "(source 'log' or 'auto')"
        )
    return "state" if ready else "log"


def _duckdb_settings(store: Store, engine: EngineSettings | None) -> ContextManager[None]:
    """Engine settings for the run (memory limit, threads), restored afterwards."""
    wanted: dict[str, str] = {"preserve_insertion_order": "false"}
    if engine is not None and engine.memory_limit:
        wanted["memory_limit"] = engine.memory_limit
    if engine is not None and engine.threads:
        wanted["threads"] = str(engine.threads)
    return store.settings(wanted)


def run_segmentation(
    store: Store,
    features: FeaturesSettings,
    segments: SegmentsSettings,
    as_of: date,
    *,
    ran_at: datetime,
    lines: Mapping[str, int] | None = None,
    collect: bool = True,
    source: SourceChoice = "auto",
    engine: EngineSettings | None = None,
) -> SegmentationRun:
    """Compute every scheme as of ``as_of``, write history, runs and snapshots in one transaction.

    ``ran_at`` stamps ``segment_runs`` (the caller's clock). With ``collect`` the per-customer
    features and assignments come back as DataFrames too. ``source``: ``log`` scans the whole
    order log, ``state`` reads ``customer_state`` and the recent orders only (incremental),
    ``auto`` picks the state whenever it gives the same answer (``state_ready``). ``engine``:
    DuckDB memory limit and threads for the run.
    """
    checked = check_segment_rules(features, segments, lines)
    predictions = _clv_predictions(store, features, as_of, checked)
    chosen = choose_source(store, features, as_of, source)
    con = store.con
    with _duckdb_settings(store, engine):
        # from the log, distinct paid days as orders less same-day repeats, range by range:
        # the per-customer sets of days of COUNT(DISTINCT) were the peak memory of a run
        bounds = paid_day_bounds(con, as_of) if chosen == "log" else None
        # stored without its NULL and repeated columns (a view gives them back), then the
        # log's cached blocks and the aggregation's freed memory given back: what the later
        # statements allocate no longer comes on top of them (the peak of a run)
        create_narrow_table(
            con,
            _FEATURES,
            features_sql(
                features, as_of, source=chosen, predictions=predictions, paid_day_bounds=bounds
            ),
        )
        release_memory(con, limit=engine.memory_limit if engine else None)
        customers = int(con.execute(f"SELECT COUNT(*) FROM {_FEATURES}").fetchone()[0])  # type: ignore[index]
        history_paths: dict[str, str] = {}
        tables: dict[str, str] = {}
        kinds: dict[str, str] = {}
        carry = carried_columns(features)
        with store.transaction():
            pending: list[SchemeResults] = []

            def write_pending() -> None:
                """The history of the schemes computed since the last write, in one pass."""
                history_paths.update(write_histories(con, as_of, pending))
                for written in pending:
                    con.execute(
                        "INSERT OR REPLACE INTO segment_runs VALUES (?, ?, ?, ?, ?)",
                        [
                            written.scheme,
                            as_of,
                            customers,
                            _config_hash(features, segments.schemes[written.scheme]),
                            ran_at,
                        ],
                    )
                pending.clear()

            # every quantile and A/B/C scheme in one pass over the features; each scheme's
            # table is a view over it, and a named map a view over its quantile scheme's
            scored = {
                n: s
                for n, s in segments.schemes.items()
                if isinstance(s, QuantileScheme | AbcScheme)
            }
            if scored:
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE {_SCORED} AS\n"
                    + scored_schemes_sql(scored, _FEATURES, carry=carry)
                )
            for name, scheme in segments.schemes.items():
                table = f"lb_seg_{name}"
                rules = checked.get(name, [])
                inputs = _rule_inputs(rules, tables, as_of)
                if inputs != _FEATURES:  # the rules read earlier schemes' history: write it
                    write_pending()
                if isinstance(scheme, QuantileScheme | AbcScheme):
                    sql = scheme_columns_sql(name, scheme, _SCORED, carry=carry)
                else:
                    sql = scheme_step_sql(name, scheme, rules, tables, inputs, carry=carry)
                kind = "TABLE" if isinstance(scheme, RulesScheme | JobsScheme) else "VIEW"
                con.execute(f"CREATE OR REPLACE TEMP {kind} {table} AS\n{sql}")
                tables[name] = table
                kinds[name] = kind
                pending.append(SchemeResults(name, table, scores_json_sql(scheme)))
            write_pending()
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {_KPIS} AS\n"
                + kpi_sql(
                    f"(\n{assignments_sql(tables, columns=carry)}\n)",
                    None,
                    as_of,
                    clv=clv_kpi_column(features),
                )
            )
            con.execute("DELETE FROM segment_snapshots WHERE as_of = ?", [as_of])
            con.execute(
                "INSERT INTO segment_snapshots SELECT scheme, ?, segment, customers, share, "
                f"revenue, ltv FROM {_KPIS}",
                [as_of],
            )
        # the small result tables are kept as rows, made DataFrames when first read (pandas
        # imported then); the collected ones are fetched now, once the memory is given back
        release_memory(con, limit=engine.memory_limit if engine else None)
        kpi_rows = FetchedRows.fetch(con, f"SELECT * FROM {_KPIS}")
        threshold_rows = {
            n: FetchedRows.fetch(con, quantile_thresholds_sql(tables[n], None))
            for n, s in segments.schemes.items()
            if isinstance(s, QuantileScheme)
        }
        matrix_rows = {
            n: FetchedRows.fetch(con, _job_matrix_sql(tables[n], tables[s.matrix_with]))
            for n, s in segments.schemes.items()
            if isinstance(s, JobsScheme)
        }
        assignments = features_frame = None
        if collect:
            scores = {n: scores_sql(segments.schemes[n]) for n in tables}
            assignments = con.execute(
                f"SELECT customer_id, scheme, segment, scores "
                f"FROM ({assignments_sql(tables, scores)}) a ORDER BY scheme, customer_id"
            ).df()
            features_frame = con.execute(f"SELECT * FROM {_FEATURES} ORDER BY customer_id").df()
        for name, table in reversed(tables.items()):
            con.execute(f"DROP {kinds[name]} IF EXISTS {table}")
        con.execute(f"DROP TABLE IF EXISTS {_SCORED}")
        con.execute(f"DROP TABLE IF EXISTS {_KPIS}")
        drop_narrow_table(con, _FEATURES)

    def kpis() -> pd.DataFrame:
        frame = order_kpis(kpi_rows.frame().drop(columns="ltv"), segments)
        return frame[["scheme", "segment", "position", *KPI_COLUMNS]]

    def thresholds() -> pd.DataFrame:
        import pandas as pd

        frames = [rows.frame().assign(scheme=n) for n, rows in threshold_rows.items()]
        if not frames:
            return pd.DataFrame()
        return pd.concat(frames, ignore_index=True)[
            ["scheme", "dimension", "feature", "score", "customers", "min_value", "max_value"]
        ]

    return SegmentationRun(
        as_of=as_of,
        customers=customers,
        kpis=kpis,
        thresholds=thresholds,
        job_matrices=lambda: {n: rows.frame() for n, rows in matrix_rows.items()},
        history_paths=history_paths,
        assignments=assignments,
        features=features_frame,
        source=chosen,
    )


def _rule_inputs(checked: list[CheckedRule], tables: Mapping[str, str], as_of: date) -> str:
    """The features joined with the segment states of the earlier schemes the rules use."""
    used = [n for n in tables if any(f"{n}_segment" in rule.sql for rule in checked)]
    if not used:
        return _FEATURES
    joins = "\n".join(
        f"LEFT JOIN ({segment_state_sql(n, as_of)}) st_{n} ON st_{n}.customer_id = f.customer_id"
        for n in used
    )
    cols = ", ".join(f"st_{n}.{n}{suffix}" for n in used for suffix in STATE_SUFFIXES)
    return f"(SELECT f.*, {cols}\nFROM {_FEATURES} f\n{joins}) inputs"


def _job_matrix_sql(jobs: str, by: str) -> str:
    return f"""SELECT b.segment, j.segment AS job, COUNT(*) AS customers,
       SUM(f.monetary) AS revenue
FROM {jobs} j
JOIN {by} b ON b.customer_id = j.customer_id
JOIN {_FEATURES} f ON f.customer_id = j.customer_id
GROUP BY b.segment, j.segment
ORDER BY b.segment, j.segment"""


def backfill_dates(start: date, end: date, every: Every) -> list[date]:
    """The run dates from ``start`` to ``end`` (both included) every day, week or month.

    Months keep the day of ``start`` (clamped to the month's last day).

    >>> backfill_dates(date(2026, 1, 31), date(2026, 4, 30), "month")
    [datetime.date(2026, 1, 31), datetime.date(2026, 2, 28), datetime.date(2026, 3, 31), datetime.date(2026, 4, 30)]
    """
    if end < start:
        raise SegmentError(f"--from {start} is after --to {end}")
    days: list[date] = []
    if every in ("day", "week"):
        step = timedelta(days=1 if every == "day" else 7)
        day = start
        while day <= end:
            days.append(day)
            day += step
    else:
        k = 0
        while True:
            month = start.month - 1 + k
            year, month = start.year + month // 12, month % 12 + 1
            last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
            day = date(year, month, min(start.day, last))
            if day > end:
                break
            days.append(day)
            k += 1
    if days[-1] != end:
        days.append(end)
    return days
