"""Benchmark: one planner tick (10 playbooks, the issue's policy) against the bare-SQL floor.

    .venv/bin/python benchmarks/playbooks.py                 # 1M customers, 5 repeats, replay 100k
    .venv/bin/python benchmarks/playbooks.py --customers 100000 --repeats 5 --replay-customers 0
    .venv/bin/python benchmarks/playbooks.py --only replay --repeats 5   # the replay alone
    .venv/bin/python benchmarks/playbooks.py --only replay --baseline ../old/src  # against old code

The floor is the bare SQL that selects the same audiences (features as of the day, segments
from the history, the triggers and audience rules) without any policy: the least a tick must
do. Tick and floor run interleaved, each in a fresh process (its own peak memory), ``repeats``
times (imports before the clock starts, as in a live process); the table gives the median, the spread (min–max), the ratio of medians and peak memory,
with the load average before and after. Take figures on a quiet machine: a warning is printed
when the load exceeds one per core. Targets (issue 14): tick ≤ 3× the floor and ≤ 60 s for
1M customers; a 6-month daily replay of 100k customers ≤ 2 min.

The replay (``--only replay`` runs it alone) runs ``repeats`` times interleaved with its
reference, the same replay rebuilding the customer frame from the whole log every day (the
path before the carried frame; ``--no-reference`` leaves it out), each in a fresh process;
both print a digest of their outbox and ledger, which must be equal (the same plans).
``--baseline SRC`` makes the reference the replay of another checkout's code instead.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

DATA = Path(__file__).resolve().parent / ".data"
AS_OF = "2026-06-30 10:00:00"

CONFIG = {
    "timezone": "Europe/Moscow",
    "policy": {
        "caps": [
            {"channel": "email", "max": 2, "per": "7d"},
            {"channel": "push", "max": 2, "per": "1d"},
            {"channel": "any", "max": 4, "per": "7d"},
            {"segments": {"named": ["Hibernating", "Lost"]}, "channel": "any", "max": 1,
             "per": "14d"},
        ],
        "quiet_hours": {"from": "21:00", "to": "09:00"},
        "stop_rules": ["days_since_last_paid < 3"],
        "global_holdout": 0.05,
    },
    "channels": {"email": {"cost": 0.05}, "push": {"cost": 0}, "sms": {"cost": 4.5}},
    "segments": {"schemes": {"rfm": {"kind": "quantile"}, "named": {"kind": "named"}}},
}  # fmt: skip

_SEGMENTS = ["Champions", "Loyal", "New", "At Risk", "Can't Lose", "About to Sleep",
             "Hibernating", "Lost", "Need Attention", "Promising"]  # fmt: skip


def playbooks() -> list[dict[str, object]]:
    """Ten playbooks: inactivity cascades, segment entries, a broadcast, an event trigger."""
    cascade = [
        {"id": "email", "channel": "email"},
        {"id": "push", "after_days": 4, "channel": "push", "only_if": {"not_opened": "email"}},
        {"id": "sms", "after_days": 2, "channel": "sms",
         "only_if": {"no_reaction": ["email", "push"]}, "holdout": 0.2},
    ]  # fmt: skip
    out: list[dict[str, object]] = []
    for i, days in enumerate((30, 45, 60, 90, 120)):
        out.append({"name": f"winback-{days}", "trigger": {"inactivity_days": days},
                    "audience": {"where": "monetary >= 1000"}, "priority": 50 + i,
                    "holdout": 0.1, "cooldown_days": 60, "steps": cascade})  # fmt: skip
    for i, segment in enumerate(("Champions", "At Risk", "New")):
        out.append({"name": f"enter-{i}", "trigger": {"segment_entry": {"named": [segment]},
                    "within_days": 31}, "priority": 70 + i, "holdout": 0.1,
                    "steps": [{"id": "email", "channel": "email"}]})  # fmt: skip
    out.append({"name": "broadcast", "trigger": {"schedule": {"at": "2026-06-30T09:00:00"}},
                "audience": {"segments": {"named": ["Hibernating", "Lost"]}}, "priority": 20,
                "holdout": 0.1, "steps": [{"id": "email", "channel": "email"}]})  # fmt: skip
    out.append({"name": "lesson-missed", "trigger": {"event": "lesson_missed",
                "within_hours": 24}, "priority": 90, "holdout": 0.1,
                "steps": [{"id": "push", "channel": "push"}]})  # fmt: skip
    return out


def build(customers: int) -> str:
    """A synthetic base of ``customers`` in a DuckDB file (made once, reused)."""
    from livebase.store import Store

    DATA.mkdir(exist_ok=True)
    path = DATA / f"playbooks-{customers}.duckdb"
    if path.exists():
        return str(path)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    store = Store.open(tmp, create=True)
    con = store.con
    con.execute("SELECT setseed(0.42)")
    zones = "['Europe/Moscow', 'Asia/Yekaterinburg', 'Asia/Novosibirsk', 'Europe/Kaliningrad']"
    con.execute(
        f"""INSERT INTO customers SELECT 'c' || i, 'c' || i || '@x.ru', NULL, NULL,
            {zones}[1 + (i % 4)], TIMESTAMP '2024-01-01' + to_days(CAST(i % 700 AS INTEGER)),
            NULL, 1, 1 FROM range({customers}) t(i)"""
    )
    con.execute(
        f"""INSERT INTO orders (order_id, customer_id, created_at, paid_at, amount, paid_amount,
            currency, status, first_load, last_load)
        SELECT 'o' || i || '-' || k, 'c' || i, ts, ts, 1500, 1500, 'RUB', 'paid', 1, 1 FROM (
            SELECT i, k, TIMESTAMP '{AS_OF}' - to_minutes(CAST(random() * 700 * 1440 AS BIGINT))
                AS ts
            FROM range({customers}) t(i), range(3) r(k) WHERE random() < 0.7)"""
    )
    con.execute(
        f"""INSERT INTO events (event_id, customer_id, ts, name, first_load)
        SELECT 'e' || i, 'c' || i, TIMESTAMP '{AS_OF}' - INTERVAL 3 HOUR, 'lesson_missed', 1
        FROM range({customers}) t(i) WHERE i % 50 = 0"""
    )
    segs = "[" + ", ".join("'" + s.replace("'", "''") + "'" for s in _SEGMENTS) + "]"
    con.execute(
        f"""INSERT INTO segment_history (customer_id, scheme, segment, valid_from, valid_to)
        SELECT 'c' || i, 'named', {segs}[1 + CAST(floor(random() * 10) AS INTEGER)],
               DATE '2026-06-30' - CAST(floor(random() * 60) AS INTEGER), NULL
        FROM range({customers}) t(i)"""
    )
    con.execute(
        f"""INSERT INTO ops_consents SELECT i, 'c' || i, 'any', 'marketing', 'granted', 'bench',
            NULL, TIMESTAMP '2025-01-01', TIMESTAMP '2025-01-01'
        FROM range({customers}) t(i) WHERE i % 10 <> 0"""
    )
    store.close()
    tmp.rename(path)
    return str(path)


def _setup(path: str):  # type: ignore[no-untyped-def]
    from livebase.config import LivebaseConfig
    from livebase.orchestrate.playbook import Playbook
    from livebase.store import Store

    store = Store.open(Path(path), read_only=False)
    config = LivebaseConfig.model_validate(CONFIG)
    return store, config, [Playbook.model_validate(p) for p in playbooks()]


def tick(path: str) -> str:
    """One planner tick (journeys, holdouts, policy, caps) — no operational write."""
    from datetime import datetime

    from livebase.orchestrate.planner import plan_tick

    store, config, pbs = _setup(path)
    plan = plan_tick(store, config, pbs, datetime.fromisoformat(AS_OF))
    entered = sum(c.entered for c in plan.counts.values())
    return f"entered {entered:,}, outbox {plan.outbox.num_rows:,}"


def tick_write(path: str) -> str:
    """The tick and its write to a fresh SQLite operational store (one transaction)."""
    import tempfile
    from datetime import UTC, datetime

    from livebase.ops.store import OpsStore, sqlite_url
    from livebase.orchestrate.planner import plan_tick
    from livebase.orchestrate.sink import write_plan

    store, config, pbs = _setup(path)
    plan = plan_tick(store, config, pbs, datetime.fromisoformat(AS_OF))
    with tempfile.TemporaryDirectory() as folder:
        ops = OpsStore.open(sqlite_url(Path(folder) / "ops.sqlite"))
        written = write_plan(ops, plan, timezone=config.timezone, now=datetime.now(UTC))
        ops.close()
    return f"outbox {written.outbox:,}, ledger {written.ledger:,}"


def floor(path: str) -> str:
    """The bare SQL selecting the same audiences (features, segments, triggers), no policy."""
    from datetime import datetime

    from livebase.orchestrate.entry import entry_sql
    from livebase.orchestrate.frame import build_frame

    store, config, pbs = _setup(path)
    as_of = datetime.fromisoformat(AS_OF)
    build_frame(store, config, as_of.date())
    empty = "(SELECT * FROM ops_journeys WHERE false)"
    total = 0
    for pb in pbs:
        sql = entry_sql(pb, as_of, journeys=empty, where=pb.audience.where, exclude_where=None)
        total += int(store.con.execute(
            f"SELECT count(*) FROM ({sql}) WHERE reason = 'enters'").fetchall()[0][0])  # fmt: skip
    return f"audiences {total:,}"


REPLAY_START, REPLAY_END = "2026-01-01", "2026-06-30"


def _replay(path: str, frame: str) -> str:
    from datetime import date

    from livebase.orchestrate.replay import replay

    store, config, pbs = _setup(path)
    start, end = date.fromisoformat(REPLAY_START), date.fromisoformat(REPLAY_END)
    result = replay(store, config, pbs, start, end, frame=frame)  # type: ignore[arg-type]
    # the plans, digested (a few hundred ms of the run): equal digests, the same plans
    digest = store.con.execute(
        """SELECT md5(coalesce(string_agg(key || '@' || CAST(due_at AS VARCHAR), ','
                  ORDER BY key), '')) FROM lb_rp_outbox"""
    ).fetchall()[0][0]
    ledger = store.con.execute(
        """SELECT md5(coalesce(string_agg(event_id || coalesce(reason, '') || CAST(ts AS VARCHAR),
                  ',' ORDER BY event_id), '')) FROM lb_rp_ledger"""
    ).fetchall()[0][0]
    messages = sum(r["messages"] for r in result.messages)
    return f"messages {messages:,}, outbox {str(digest)[:8]}, ledger {str(ledger)[:8]}"


def replay_run(path: str) -> str:
    """A daily replay of six months (2026-01-01 … 2026-06-30), the frame carried day to day."""
    return _replay(path, "carried")


def replay_rebuilt(path: str) -> str:
    """The same replay rebuilding the frame from the whole log every day (the reference)."""
    return _replay(path, "rebuilt")


def preload() -> None:
    """Import what every step uses before its clock starts: a live process has them loaded."""
    import importlib

    for module in ("livebase.orchestrate.planner", "livebase.orchestrate.sink",
                   "livebase.orchestrate.replay", "livebase.orchestrate.send_check",
                   "livebase.segments.rules", "livebase.ops.bridges"):  # fmt: skip
        importlib.import_module(module)


_CHILD = """
import json, resource, sys, time
sys.path.insert(0, {here!r})
import playbooks as m
m.preload()
started = time.perf_counter()
detail = m.{function}({path!r})
elapsed = time.perf_counter() - started
print(json.dumps({{"seconds": elapsed, "peak_mb":
    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "detail": detail}}))
"""


_BASELINE = "replay_baseline"
"""The name of the replay run with another checkout's code (``--baseline``)."""


def _fresh(function: str, path: str, baseline: str | None = None) -> dict[str, object]:
    """Run ``function(path)`` in a fresh process; ``replay_baseline`` runs ``replay_run`` with
    the ``livebase`` package of the checkout ``baseline`` (its ``src``) first on the path."""
    env = dict(os.environ)
    if function == _BASELINE:
        assert baseline is not None
        function = "replay_run"
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [baseline, env.get("PYTHONPATH")]))
    code = _CHILD.format(here=str(Path(__file__).resolve().parent), function=function, path=path)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, env=env
    )
    if done.returncode != 0:
        raise RuntimeError(f"{function} failed:\n{done.stderr[-3000:]}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _load() -> float:
    return os.getloadavg()[0]


def _table(title: str, runs: dict[str, list[dict[str, object]]], reference: str) -> Table:
    """Median, spread, ratio to ``reference`` and peak memory of each step's runs."""
    table = Table(title=title)
    for column in ("step", "median s", "spread s", f"× {reference}", "peak MB", "detail"):
        table.add_column(column, justify="left" if column in ("step", "detail") else "right")
    medians = {k: statistics.median(float(str(r["seconds"])) for r in v) for k, v in runs.items()}
    for name, results in runs.items():
        seconds = [float(str(r["seconds"])) for r in results]
        table.add_row(
            name,
            f"{medians[name]:.2f}",
            f"{min(seconds):.2f}–{max(seconds):.2f}",
            f"{medians[name] / medians[reference]:.2f}",
            f"{max(float(str(r['peak_mb'])) for r in results):.0f}",
            str(results[-1]["detail"]),
        )
    return table


def _interleaved(
    names: list[str], path: str, repeats: int, baseline: str | None = None
) -> dict[str, list[dict[str, object]]]:
    runs: dict[str, list[dict[str, object]]] = {name: [] for name in names}
    for _ in range(max(repeats, 1)):
        for name in names:  # interleaved: all see the same machine
            runs[name].append(_fresh(name, path, baseline))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--replay-customers", type=int, default=100_000)
    parser.add_argument(
        "--only",
        choices=("all", "tick", "replay"),
        default="all",
        help="run only the tick (with its floor) or only the replay",
    )
    parser.add_argument(
        "--no-reference",
        action="store_true",
        help="replay: leave out the reference (the frame rebuilt every day)",
    )
    parser.add_argument(
        "--baseline",
        metavar="SRC",
        help="replay: the reference is the replay of another checkout's code (its src folder, "
        "for example a worktree of main) instead of the frame rebuilt every day",
    )
    args = parser.parse_args()  # fmt: skip
    console = Console()
    cores = os.cpu_count() or 1
    before = _load()
    if args.only in ("all", "tick"):
        path = build(args.customers)
        runs = _interleaved(["floor", "tick", "tick_write"], path, args.repeats)
        title = f"Planner tick, {args.customers:,} customers, 10 playbooks"
        console.print(_table(title, runs, "floor"))
    if args.only in ("all", "replay") and args.replay_customers:
        small = build(args.replay_customers)
        reference = _BASELINE if args.baseline else "replay_rebuilt"
        names = ["replay_run"] if args.no_reference else [reference, "replay_run"]
        # the tick alone runs the replay once; --only replay repeats it like the tick
        repeats = args.repeats if args.only == "replay" else 1
        runs = _interleaved(names, small, repeats, args.baseline)
        title = (
            f"Replay {REPLAY_START}…{REPLAY_END}, one tick a day, "
            f"{args.replay_customers:,} customers"
        )
        console.print(_table(title, runs, names[0]))
        details = {str(r["detail"]).split(", ", 1)[1] for v in runs.values() for r in v}
        if len(details) > 1:
            console.print("[bold red]the replays planned differently:[/] " + "; ".join(details))
    after = _load()
    console.print(f"load average before {before:.2f}, after {after:.2f} ({cores} cores)")
    if max(before, after) > cores:
        console.print(
            "[bold yellow]warning:[/] load above one per core: these figures are not "
            "representative; run again on a quiet machine"
        )


if __name__ == "__main__":
    main()
