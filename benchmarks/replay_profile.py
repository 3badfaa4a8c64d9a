"""Where a replay's time goes: every DuckDB statement timed by its call site, and cProfile.

    .venv/bin/python benchmarks/replay_profile.py --customers 100000
    .venv/bin/python benchmarks/replay_profile.py --customers 20000 --days 30 --frame rebuilt

Runs the replay of ``benchmarks/playbooks.py`` (its synthetic base, 10 playbooks, the issue's
policy) from 2026-01-01 for ``--days`` days, with the store's connection wrapped so that each
``execute``/``sql``/``register`` call is timed and grouped by where it was called from
(file:function:line). Prints the statements by total time, then the top of cProfile's
cumulative table. Shares, not seconds: a loaded machine slows everything alike only roughly.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import playbooks as bench

_TIMES: dict[str, list[float]] = defaultdict(list)


def _site() -> str:
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back  # type: ignore[assignment]
    code = frame.f_code
    return f"{Path(code.co_filename).name}:{code.co_name}:{frame.f_lineno}"


class _Relation:
    """A DuckDB relation whose materialising calls are timed against the ``sql`` call site."""

    def __init__(self, rel: Any, site: str) -> None:
        self._rel, self._site = rel, site

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._rel, name)
        if not callable(attr):
            return attr

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                _TIMES[self._site].append(time.perf_counter() - started)

        return timed


class TimedConnection:
    """Wraps a DuckDB connection: each call is timed under its caller's file:function:line."""

    def __init__(self, con: Any) -> None:
        self._con = con

    def _timed(self, name: str, *args: Any, **kwargs: Any) -> Any:
        site = _site()
        started = time.perf_counter()
        try:
            return getattr(self._con, name)(*args, **kwargs)
        finally:
            _TIMES[site].append(time.perf_counter() - started)

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        return self._timed("execute", *args, **kwargs)

    def executemany(self, *args: Any, **kwargs: Any) -> Any:
        return self._timed("executemany", *args, **kwargs)

    def register(self, *args: Any, **kwargs: Any) -> Any:
        return self._timed("register", *args, **kwargs)

    def unregister(self, *args: Any, **kwargs: Any) -> Any:
        return self._timed("unregister", *args, **kwargs)

    def sql(self, *args: Any, **kwargs: Any) -> Any:
        site = _site()
        started = time.perf_counter()
        rel = self._con.sql(*args, **kwargs)
        _TIMES[site].append(time.perf_counter() - started)
        return _Relation(rel, site)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=181)
    parser.add_argument("--frame", choices=("carried", "rebuilt"), default="carried")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    from livebase.orchestrate.replay import replay

    path = bench.build(args.customers)
    bench.preload()
    store, config, pbs = bench._setup(path)
    store.con = TimedConnection(store.con)  # type: ignore[assignment]
    start = date(2026, 1, 1)
    end = start + timedelta(days=args.days - 1)
    load = os.getloadavg()[0]
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    result = replay(store, config, pbs, start, end, frame=args.frame)
    profile.disable()
    elapsed = time.perf_counter() - started
    messages = sum(r["messages"] for r in result.messages)
    total = sum(sum(v) for v in _TIMES.values())
    print(
        f"replay {start}…{end} ({args.days} days), {args.customers:,} customers, "
        f"frame {args.frame}: {elapsed:.1f} s wall, {total:.1f} s in DuckDB calls, "
        f"{messages:,} messages; load average {load:.2f} → {os.getloadavg()[0]:.2f} "
        f"({os.cpu_count()} cores)"
    )
    calls = sum(len(v) for v in _TIMES.values())
    print(f"{calls:,} DuckDB calls, {calls / args.days:.1f} a day")
    print(f"{'site':60} {'calls':>7} {'total s':>8} {'share':>6} {'ms/call':>8}")
    for site, times in sorted(_TIMES.items(), key=lambda kv: -sum(kv[1]))[: args.top]:
        s = sum(times)
        print(f"{site:60} {len(times):7d} {s:8.2f} {s / elapsed:6.1%} {1000 * s / len(times):8.2f}")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(30)
    print(out.getvalue())


if __name__ == "__main__":
    main()
