"""Load generator for ``livebase serve``: sustained events per second with live status ≤ 1 s.

Local only and bounded: it starts a real ``livebase serve`` on 127.0.0.1 over a workspace with
the CDNOW base segmented and published to the operational store, then sends a fixed number of
batches of payments (every event a paid order of a known customer, so every one moves a live
status) at increasing target rates. For each rate it reports the rate reached, p50/p99 of the
request latency (from sending to the committed status: the answer comes after the commit) and
errors. The sustained rate is the highest whose p99 ≤ 1 s, errors 0 and reached ≥ 95 % of the
target. The reference in the same run is ``accept_events`` called in-process on the same
store (no HTTP): the ratio says what the HTTP layer costs.

    .venv/bin/python benchmarks/service.py                       # SQLite and PostgreSQL
    .venv/bin/python benchmarks/service.py --stores sqlite --rates 50,100,200

The machine's load average is recorded; with more than one runnable process per core the
figures are not worth keeping (a warning says so): run it on a quiet machine.

``--live-status 1M,10M`` measures instead the per-event cost of the live status update after
a purchase (issue 19) at those numbers of customers: the seeded order log of
``benchmarks/segment.py`` (ten orders per customer) is segmented with the school template's
schemes (quantile, A/B/C, named, rules, jobs) and published to the operational store (SQLite),
then each run times ``--events`` single-event ``accept_events`` calls (one paid order of a
random known customer, its own transaction: features moved, every scheme re-assigned with the
published thresholds, the status row and segment changes written), interleaved with the
reference: a bare ``sqlite3`` look-up and update of one status row in its own transaction.

    .venv/bin/python benchmarks/service.py --live-status 10k,1M --events 300 --runs 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parent.parent
CDNOW = ROOT.parent / "shared" / "data" / "CDNOW_master.txt"
LIVEBASE = str(Path(sys.executable).parent / "livebase")
AS_OF = date(1998, 6, 30)
CUSTOMERS = 23_570


@dataclass(frozen=True)
class Step:
    store: str
    target: float
    events: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def sustained(self) -> bool:
        return self.errors == 0 and self.p99_ms <= 1000 and self.rate >= 0.95 * self.target


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Postgres:
    """A throw-away PostgreSQL (Debian's package) on loopback, fsync on."""

    def __init__(self) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not found:
            raise SystemExit("PostgreSQL is not installed (apt-get install postgresql)")
        self.bin = found[-1].parent
        self.folder = Path(tempfile.mkdtemp(prefix="livebase-bench-pg-"))
        self.port = _free_port()

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True)

    def start(self) -> str:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        data = str(self.folder / "data")
        self._run(str(self.bin / "initdb"), "-D", data, "-A", "trust", "-U", "postgres")
        self._run(
            str(self.bin / "pg_ctl"), "-D", data, "-l", str(self.folder / "log"), "-w", "start",
            "-o", f"-p {self.port} -k {self.folder} -h 127.0.0.1 -c max_connections=100",
        )  # fmt: skip
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as con:
            con.execute("CREATE DATABASE livebase_bench")
        return f"postgresql://postgres@127.0.0.1:{self.port}/livebase_bench"

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(
                str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast", "stop"
            )
        shutil.rmtree(self.folder, ignore_errors=True)


def prepare(folder: Path, ops_url: str | None) -> tuple[Path, str]:
    """A workspace with CDNOW ingested, segmented and published; returns it and an API key."""
    from livebase.ops.keys import create_key
    from livebase.segments.publish import publish_status
    from livebase.segments.run import run_segmentation
    from livebase.workspace import Workspace, init_workspace

    ws = init_workspace(folder / "shop")
    if ops_url is not None:
        with open(ws.config_path, "a", encoding="utf-8") as handle:
            handle.write(f"\nops:\n  url: {ops_url}\n")
        ws = Workspace.load(ws.root)
    subprocess.run(
        [
            LIVEBASE,
            "--workspace",
            str(ws.root),
            "ingest",
            "orders",
            str(CDNOW),
            "--preset",
            "cdnow",
        ],
        check=True,
        capture_output=True,
    )
    now = datetime.now(UTC)
    config = ws.config
    store = ws.open_store()
    try:
        with ws.open_ops() as ops:
            run = run_segmentation(store, config.features, config.segments, AS_OF, ran_at=now)
            publish_status(
                store, ops, config.features, config.segments, run, timezone=config.timezone, now=now
            )
            token = create_key(ops, "bench", ["events:write"], now=now).token
    finally:
        store.close()
    return ws.root, token


def _batch(seq: int, size: int, rng: random.Random) -> list[dict[str, Any]]:
    ts = datetime(1998, 7, 1, 12, tzinfo=UTC) + timedelta(seconds=seq)
    return [
        {
            "event_id": f"bench-{seq}-{i}",
            "customer_id": str(rng.randint(1, CUSTOMERS)),
            "ts": ts.isoformat(),
            "order": {"order_id": f"bo-{seq}-{i}", "amount": 25.0, "status": "paid"},
        }
        for i in range(size)
    ]


async def _step(
    base: str, token: str, target: float, batches: int, size: int, start: int
) -> tuple[float, list[float], int]:
    rng = random.Random(start)
    latencies: list[float] = []
    errors = 0
    interval = size / target
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:

        async def one(seq: int) -> None:
            nonlocal errors
            sent = time.perf_counter()
            try:
                r = await client.post("/v1/events", json=_batch(seq, size, rng), headers=headers)
                if r.status_code != 200:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append(time.perf_counter() - sent)

        began = time.perf_counter()
        tasks = []
        for k in range(batches):
            delay = began + k * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(start + k)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - began
    return elapsed, latencies, errors


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def run_http(
    root: Path, token: str, store: str, rates: list[float], batches: int, size: int
) -> list[Step]:
    port = _free_port()
    server = subprocess.Popen(
        [
            LIVEBASE,
            "--workspace",
            str(root),
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    steps: list[Step] = []
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        # warm up (key check, compiled statements, connections) before measuring
        asyncio.run(_step(base, token, 10.0, 3, size, 50_000_000))
        seq = 0
        for rate in rates:
            elapsed, latencies, errors = asyncio.run(_step(base, token, rate, batches, size, seq))
            seq += batches
            step = Step(store, rate, batches * size, elapsed, _percentile(latencies, 0.5) * 1000,
                        _percentile(latencies, 0.99) * 1000, errors)  # fmt: skip
            steps.append(step)
            print(
                f"{store:10} target {rate:7.0f}/s  reached {step.rate:7.0f}/s  "
                f"p50 {step.p50_ms:6.1f} ms  p99 {step.p99_ms:7.1f} ms  errors {errors}",
                flush=True,
            )
            if step.rate < 0.5 * step.target:
                break  # far past saturation: stop adding load
    finally:
        server.terminate()
        server.wait(timeout=30)
    return steps


def run_direct(root: Path, batches: int, size: int) -> float:
    """Events per second of accept_events in-process on the same store (the reference)."""
    from livebase.ingest.inbound import parse_batch
    from livebase.orchestrate.live import accept_events
    from livebase.web.app import live_rules
    from livebase.workspace import Workspace

    ws = Workspace.load(root)
    rules = live_rules(ws)
    rng = random.Random(1)
    with ws.open_ops() as ops:
        began = time.perf_counter()
        for k in range(batches):
            events = parse_batch(
                _batch(10_000_000 + k, size, rng), max_batch=10_000, timezone="UTC"
            )
            accept_events(ops, events, rules, source="bench", now=datetime.now(UTC))
        return batches * size / (time.perf_counter() - began)


# ---------------------------------------------------------------------------------------------
# per-event live status at a large base (each contender runs in its own process)


def live_status_workspace(customers: int) -> Path:
    """A school workspace over segment.py's seeded log of ``customers × 10`` orders, segmented
    as of its AS_OF and published to its operational store (built once, kept in .data)."""
    from _measure import DATA, PEAK_MB
    from livebase.segments.publish import publish_status
    from livebase.segments.run import run_segmentation
    from livebase.workspace import Workspace, init_workspace
    from publish import WalWatch
    from segment import AS_OF as LOG_AS_OF
    from segment import build_store, generate

    folder = DATA / f"live_status_{customers}"
    ready = folder / "published"
    if ready.exists():
        return folder / "school"
    shutil.rmtree(folder, ignore_errors=True)
    store_path = build_store(generate(customers * 10))
    ws = init_workspace(folder / "school", template="school")
    shutil.copyfile(store_path, ws.store_path)
    ws = Workspace.load(ws.root)
    config = ws.config
    now = datetime.combine(LOG_AS_OF, datetime.min.time(), tzinfo=UTC) + timedelta(days=1)
    with ws.open_store() as store, ws.open_ops() as ops:
        if (
            customers > 1_000_000
        ):  # as segment.py beyond 10M orders: the build must fit beside others
            store.con.execute("SET memory_limit = '6GB'")
        run = run_segmentation(
            store, config.features, config.segments, LOG_AS_OF, ran_at=now, collect=False
        )
        started = time.perf_counter()
        with WalWatch(ws.root / "ops.sqlite") as wal:
            publish_status(
                store, ops, config.features, config.segments, run, timezone=config.timezone, now=now
            )
        published = (
            f"{customers} customers published in {time.perf_counter() - started:.0f} s, "
            f"WAL peak {wal.peak / 2**20:,.0f} MB, peak RSS {eval(PEAK_MB):,.0f} MB"
        )
    print(published, flush=True)
    ready.write_text(published + "\n", encoding="utf-8")
    return ws.root


def _customer_ids(customers: int, count: int, seed: int) -> list[str]:
    """Random known customers of segment.py's log (ids ``c00000000``…; a few never bought)."""
    rng = random.Random(seed)
    return [f"c{rng.randrange(customers):08d}" for _ in range(count)]


def _order(key: str, customer_id: str, ts: datetime) -> dict[str, Any]:
    return {
        "event_id": key,
        "customer_id": customer_id,
        "ts": ts.isoformat(),
        "order": {"order_id": key, "amount": 990.0, "status": "paid"},
    }


def _step(function: str, root: str, customers: int, events: int, seeds: Any) -> Any:
    from _measure import run_step

    return run_step(function, "service", function, root, customers, events, next(seeds),
                    self_timed=True)  # fmt: skip


def time_live_status(root: str, customers: int, events: int, seed: int) -> tuple[float, str]:
    """Seconds of ``events`` single-event ``accept_events`` calls (self-timed)."""
    from livebase.ingest.inbound import parse_batch
    from livebase.orchestrate.live import accept_events
    from livebase.web.app import live_rules
    from livebase.workspace import Workspace

    ws = Workspace.load(Path(root))
    rules = live_rules(ws)
    ids = _customer_ids(customers, events + 1, seed)
    ts = datetime(2026, 7, 1, 12, tzinfo=UTC) + timedelta(seconds=seed)
    # the workspace is kept between invocations: event ids new to its inbox each time (the same
    # ids again would be refused as duplicates and move nothing)
    invocation = time.time_ns()
    with ws.open_ops() as ops:
        batches = [
            parse_batch(
                [_order(f"live-{invocation}-{seed}-{i}", c, ts)], max_batch=1, timezone="UTC"
            )
            for i, c in enumerate(ids)
        ]
        accept_events(ops, batches[0], rules, source="bench", now=ts)  # warm: thresholds, rules
        started = time.perf_counter()
        statuses = 0
        for batch in batches[1:]:
            statuses += len(accept_events(ops, batch, rules, source="bench", now=ts).statuses)
        elapsed = time.perf_counter() - started
    return elapsed, f"{elapsed / events * 1000:.2f} ms/event, {statuses} of {events} moved"


def time_bare_sqlite(root: str, customers: int, events: int, seed: int) -> tuple[float, str]:
    """Seconds of ``events`` look-ups and updates of one status row, each in its own
    transaction (self-timed)."""
    import sqlite3

    con = sqlite3.connect(Path(root) / "ops.sqlite", isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    ids = _customer_ids(customers, events, seed)
    found = 0
    started = time.perf_counter()
    for i, customer in enumerate(ids):
        con.execute("BEGIN IMMEDIATE")
        row = con.execute(
            "SELECT features FROM customer_status WHERE customer_id = ?", (customer,)
        ).fetchone()
        found += row is not None
        con.execute(
            "UPDATE customer_status SET updated_at = ? WHERE customer_id = ?",
            (f"2026-07-01 12:00:{i % 60:02d}", customer),
        )
        con.execute("COMMIT")
    elapsed = time.perf_counter() - started
    con.close()
    return elapsed, f"{elapsed / events * 1000:.2f} ms/event, {found} of {events} rows found"


def run_live_status(scales: list[int], events: int, runs: int) -> None:
    """Per-event cost of the live status update at each scale, interleaved with bare SQLite."""
    from _measure import interleave, print_interleaved

    for customers in scales:
        began = time.perf_counter()
        root = str(live_status_workspace(customers))
        print(f"{customers:,} customers published ({time.perf_counter() - began:.0f} s)")
        seeds = iter(range(1, 10_000))
        steps = {
            "bare sqlite look-up+update": functools.partial(
                _step, "time_bare_sqlite", root, customers, events, seeds
            ),
            "live status update": functools.partial(
                _step, "time_live_status", root, customers, events, seeds
            ),
        }
        results = interleave(steps, runs)
        print_interleaved(
            f"Per-event live status at {customers:,} customers (seconds of {events} events, "
            "each its own transaction)",
            results,
            "bare sqlite look-up+update",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--rates", default="50,100,200,400,800,1600", help="events/s, ascending")
    parser.add_argument("--batches", type=int, default=60, help="batches per rate (fixed count)")
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument(
        "--live-status", default="", help="customers, e.g. 10k,1M: per-event status cost only"
    )
    parser.add_argument("--events", type=int, default=300, help="events per live-status run")
    parser.add_argument("--runs", type=int, default=5, help="interleaved live-status runs")
    args = parser.parse_args()
    if args.live_status:
        from segment import _scale

        run_live_status([_scale(x) for x in args.live_status.split(",")], args.events, args.runs)
        return
    if not CDNOW.exists():
        raise SystemExit(f"needs {CDNOW} (../shared/data beside the project)")
    rates = [float(r) for r in args.rates.split(",")]
    cores = os.cpu_count() or 1
    load_before = os.getloadavg()
    print(f"load average before: {load_before[0]:.2f} on {cores} cores")
    results: list[Step] = []
    references: dict[str, float] = {}
    for store in args.stores.split(","):
        folder = Path(tempfile.mkdtemp(prefix="livebase-bench-service-"))
        postgres = Postgres() if store == "postgresql" else None
        try:
            url = postgres.start() if postgres is not None else None
            root, token = prepare(folder, url)
            results += run_http(root, token, store, rates, args.batches, args.batch_size)
            references[store] = run_direct(root, args.batches, args.batch_size)
        finally:
            if postgres is not None:
                postgres.stop()
            shutil.rmtree(folder, ignore_errors=True)
    load_after = os.getloadavg()
    print()
    print(
        "| store | sustained events/s (p99 ≤ 1 s, 0 errors) | p50 ms | p99 ms | in-process events/s | HTTP / in-process |"
    )
    print("|---|---|---|---|---|---|")
    for store, direct in references.items():
        ok = [s for s in results if s.store == store and s.sustained]
        best = max(ok, key=lambda s: s.rate) if ok else None
        if best is None:
            print(f"| {store} | none of the rates | | | {direct:.0f} | |")
        else:
            print(
                f"| {store} | {best.rate:.0f} | {best.p50_ms:.1f} | {best.p99_ms:.1f} | {direct:.0f} | {best.rate / direct:.2f} |"
            )
    print(f"\nload average after: {load_after[0]:.2f} on {cores} cores")
    if max(load_before[0], load_after[0]) > cores:
        print(
            f"WARNING: load average above 1 per core ({max(load_before[0], load_after[0]):.1f} on "
            f"{cores} cores): other work shared the machine; rerun on a quiet machine",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
