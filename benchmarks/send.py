"""Sending throughput: the outbox worker against a bare client blasting the same local server.

Two peers run in a separate process (so they do not share the GIL with what is measured): an
aiosmtpd SMTP sink and a JSON webhook server on 127.0.0.1. Each repeat, interleaved:

- ``smtp ceiling``: a bare aiosmtplib client, ``--pool`` connections, sending N prebuilt
  messages of the same size as the worker's;
- ``smtp worker``: N due outbox rows in a fresh SQLite operational store, sent by the worker
  (batched claims with the send-time re-check, templates, signed links, hand-overs and the
  ledger written in batches) through a pooled SMTP channel of the same pool size;
- ``webhook ceiling`` / ``webhook worker``: the same against the webhook server (httpx).

The table gives messages per second (median and spread), the CPU time the sending process
spent per message (median; the peers' CPU is not in it), and the worker's share of the ceiling
(target: at least 70 % for SMTP). Take the figures on a quiet machine: a warning is printed
when the load average is above 1 per core. Take the SMTP share at 3,000 messages or more: a
bare-client run of 1,000 lasts under a second and its rate spreads by a factor of five.

``--baseline SRC`` adds the worker of another checkout's ``src`` folder (for example the main
branch: ``git archive main src | tar -x -C /tmp/main``) to the SMTP runs, interleaved with
this checkout's worker; both then run in a process of their own (warmed up with a short run)
against the same sink, and the table gives the ratio of the two. ``--profile N`` runs this
checkout's worker (or, with ``--baseline``, the other one) once on N messages under cProfile
and prints where its CPU time goes.

    .venv/bin/python benchmarks/send.py --messages 3000 --repeats 5 --smtp-only
    .venv/bin/python benchmarks/send.py --messages 1000 --repeats 5
    .venv/bin/python benchmarks/send.py --messages 3000 --repeats 5 --smtp-only --baseline /tmp/main/src
    .venv/bin/python benchmarks/send.py --profile 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
TEMPLATE = """{% block subject %}{{ customer.first_name }}, мы скучаем{% endblock %}
{% block text %}Здравствуйте, {{ customer.first_name }}! Вернитесь: https://school.test/back
Отписаться: {{ unsubscribe_url }}{% endblock %}
{% block html %}<html><body><p>Здравствуйте, {{ customer.first_name }}!</p>
<p><a href="https://school.test/back">Вернуться</a></p>
<p><a href="{{ unsubscribe_url }}">Отписаться</a></p></body></html>{% endblock %}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


class _Hook(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"id": "1"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _peers(smtp_port: int, http_port: int, ready: Any) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(_Sink(), hostname="127.0.0.1", port=smtp_port)
    controller.start()
    server = ThreadingHTTPServer(("127.0.0.1", http_port), _Hook)
    server.daemon_threads = True
    ready.set()
    server.serve_forever()


def _world(root: Path, n: int, channel: str) -> Any:
    from livebase.ops import CONSENTS, CUSTOMER_STATUS, OUTBOX, OpsStore, outbox_key, sqlite_url

    (root / "templates" / "winback").mkdir(parents=True)
    (root / "templates" / "winback" / "ru.j2").write_text(TEMPLATE, encoding="utf-8")
    ops = OpsStore.open(sqlite_url(root / "ops.sqlite"))
    ids = [str(100000 + i) for i in range(n)]
    with ops.begin() as con:
        con.execute(
            CUSTOMER_STATUS.insert(),
            [
                {
                    "customer_id": c,
                    "email": f"c{c}@example.ru",
                    "name": "Анна Петрова",
                    "timezone": "UTC",
                    "attributes": {},
                    "features": {},
                    "segments": {},
                    "since": {},
                    "thresholds_version": "t",
                    "as_of": NOW.date(),
                    "updated_at": NOW,
                    "source": "batch",
                }
                for c in ids
            ],
        )
        con.execute(
            CONSENTS.insert(),
            [
                {
                    "customer_id": c,
                    "channel": "any",
                    "purpose": "marketing",
                    "status": "granted",
                    "source": "bench",
                    "ts": NOW - timedelta(days=1),
                }
                for c in ids
            ],
        )
        con.execute(
            OUTBOX.insert(),
            [
                {
                    "key": outbox_key(c, "winback", 1, channel),
                    "customer_id": c,
                    "playbook": "winback",
                    "occurrence": 1,
                    "step": channel,
                    "channel": channel,
                    "template": "winback",
                    "due_at": NOW - timedelta(minutes=1),
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for c in ids
            ],
        )
    return ops


Timing = tuple[float, float]
"""(wall seconds, CPU seconds of this process) of one run."""


def worker_run(
    n: int, channel: str, settings: dict[str, Any], pool: int, ahead: int | None = None
) -> Timing:
    """Wall and CPU seconds for the worker to send ``n`` due messages (setup excluded)."""
    from livebase.channels.settings import ChannelSettings
    from livebase.delivery.run import build_worker
    from livebase.orchestrate.settings import PolicySettings
    from livebase.secrets import ensure_secrets

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        ops = _world(root, n, channel)
        channels = {channel: ChannelSettings.model_validate({**settings, "pool_size": pool})}
        worker, unavailable = build_worker(
            ops,
            root=root,
            channels=channels,
            policy=PolicySettings(),
            workspace_tz="UTC",
            base_url="https://lb.test",
            secrets=ensure_secrets(root),
            clock=lambda: NOW,
            owner="bench",
            window=pool,
            **({} if ahead is None else {"ahead": ahead}),
        )
        assert not unavailable, unavailable

        async def go() -> int:
            try:
                tally = await worker.run()
                return tally["sent"]
            finally:
                await worker.close()

        started, cpu = time.perf_counter(), time.process_time()
        sent = asyncio.run(go())
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        ops.close()
        assert sent == n, f"sent {sent} of {n}"
        return elapsed, cpu


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM) in MiB."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024


def child_worker(src: str, n: int, port: int, pool: int) -> Timing:
    """:func:`worker_run` of the checkout whose ``src`` folder is ``src``, in a process of its
    own (warmed up with a run of 100 messages first)."""
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child-src",
            src,
            "--child-port",
            str(port),
            "--messages",
            str(n),
            "--pool",
            str(pool),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the worker of {src} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return float(result["seconds"]), float(result["cpu"])


def _smtp_settings(port: int) -> dict[str, Any]:
    return {
        "type": "smtp",
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from": "Школа <hello@school.ru>",
    }


def _child_main(src: str, n: int, port: int, pool: int) -> None:
    sys.path.insert(0, src)
    import livebase

    assert Path(livebase.__file__).resolve().is_relative_to(Path(src).resolve()), livebase.__file__
    worker_run(min(n, 100), "email", _smtp_settings(port), pool)  # templates compiled, caches warm
    seconds, cpu = worker_run(n, "email", _smtp_settings(port), pool)
    print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_mb": _peak_mb()}))


def profile_worker(n: int, port: int, pool: int, out: str | None = None) -> None:
    """Run the worker once on ``n`` messages under cProfile; print its CPU per message and the
    functions it spent most time in."""
    import cProfile
    import pstats

    worker_run(min(n, 100), "email", _smtp_settings(port), pool)  # warm-up, not profiled
    profiler = cProfile.Profile(time.process_time)  # CPU, not time spent descheduled
    profiler.enable()
    seconds, cpu = worker_run(n, "email", _smtp_settings(port), pool)
    profiler.disable()
    print(
        f"{n} messages in {seconds:.2f} s under the profiler; CPU {cpu / n * 1000:.2f} ms per "
        f"message (profiler overhead included; compare shares, not times)"
    )
    if out:
        profiler.dump_stats(out)  # for pstats: callers, callees
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(45)


def _sample_message() -> bytes:
    """The bytes the worker sends for its first message: the same template, signed links,
    open pixel and headers (so the bare client blasts messages of exactly the worker's size)."""
    from livebase.channels.base import OutgoingMessage
    from livebase.channels.email_message import email_bytes
    from livebase.delivery.links import unsubscribe_url
    from livebase.delivery.templates import Renderer
    from livebase.secrets import ensure_secrets

    key, customer = "100000|winback|1|email", "100000"
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "templates" / "winback").mkdir(parents=True)
        (root / "templates" / "winback" / "ru.j2").write_text(TEMPLATE, encoding="utf-8")
        keys = ensure_secrets(root).signing_keys()
        renderer = Renderer(root, base_url="https://lb.test", signing_keys=keys)
        unsubscribe = unsubscribe_url(renderer.base_url, keys, key)
        row = {"key": key, "customer_id": customer, "playbook": "winback", "occurrence": 1}
        status = {"customer_id": customer, "name": "Анна Петрова", "email": "c100000@example.ru"}
        rendered = renderer.render(
            {**row, "step": "email", "channel": "email", "template": "winback"},
            status,
            unsubscribe_url=unsubscribe,
        )
    message = OutgoingMessage(
        key=key,
        customer_id=customer,
        channel="email",
        purpose="marketing",
        address="c100000@example.ru",
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        name="Анна Петрова",
        unsubscribe_url=unsubscribe,
        date=NOW,
    )
    return email_bytes(message, sender="Школа <hello@school.ru>")


def smtp_ceiling(n: int, port: int, pool: int) -> Timing:
    """Wall and CPU seconds for a bare aiosmtplib client with ``pool`` connections to send
    ``n`` messages."""
    import aiosmtplib

    raw = _sample_message()

    async def go() -> None:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(n):
            queue.put_nowait(i)

        async def one() -> None:
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
            await client.connect()
            while not queue.empty():
                i = queue.get_nowait()
                await client.sendmail("hello@school.ru", [f"c{i}@example.ru"], raw)
            await client.quit()

        await asyncio.gather(*(one() for _ in range(pool)))

    started, cpu = time.perf_counter(), time.process_time()
    asyncio.run(go())
    return time.perf_counter() - started, time.process_time() - cpu


def webhook_ceiling(n: int, port: int, pool: int) -> Timing:
    """Wall and CPU seconds for a bare httpx client with ``pool`` connections to POST ``n``
    JSON bodies."""
    import httpx

    body = json.dumps({"to": "100000", "text": "Анна, вернитесь " * 4}, ensure_ascii=False).encode()

    async def go() -> None:
        limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
        async with httpx.AsyncClient(limits=limits) as client:
            semaphore = asyncio.Semaphore(pool)

            async def one(i: int) -> None:
                async with semaphore:
                    response = await client.post(
                        f"http://127.0.0.1:{port}/push",
                        content=body,
                        headers={"Idempotency-Key": str(i), "Content-Type": "application/json"},
                    )
                    response.raise_for_status()

            await asyncio.gather(*(one(i) for i in range(n)))

    started, cpu = time.perf_counter(), time.process_time()
    asyncio.run(go())
    return time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000, help="messages per run")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved runs (>= 5)")
    parser.add_argument("--pool", type=int, default=4, help="connections per client/channel")
    parser.add_argument(
        "--baseline", metavar="SRC", help="another checkout's src folder: its worker runs too"
    )
    parser.add_argument(
        "--profile", type=int, metavar="N", help="profile one worker run of N messages"
    )
    parser.add_argument(
        "--ahead", type=int, action="append", help="also run this checkout's worker with ahead=N"
    )
    parser.add_argument("--smtp-only", action="store_true", help="leave out the webhook runs")
    parser.add_argument("--profile-out", metavar="FILE", help="also save the profile there")
    parser.add_argument("--child-src", help=argparse.SUPPRESS)
    parser.add_argument("--child-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_src:
        _child_main(args.child_src, args.messages, args.child_port, args.pool)
        return
    n, repeats, pool = args.messages, max(5, args.repeats), args.pool
    smtp_port, http_port = _free_port(), _free_port()
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    peers = context.Process(target=_peers, args=(smtp_port, http_port, ready), daemon=True)
    peers.start()
    ready.wait(30)
    cores = os.cpu_count() or 1
    load_before = os.getloadavg()[0]
    if load_before > cores:
        print(f"warning: load average {load_before:.2f} on {cores} cores: figures are not reliable")
    if args.profile:
        if args.baseline:  # profile the other checkout's worker instead
            sys.path.insert(0, args.baseline)
        profile_worker(args.profile, smtp_port, pool, args.profile_out)
        peers.terminate()
        return
    smtp = _smtp_settings(smtp_port)
    hook = {"type": "webhook", "url": f"http://127.0.0.1:{http_port}/push"}
    runs = {
        "smtp ceiling": lambda: smtp_ceiling(n, smtp_port, pool),
        "smtp worker": lambda: worker_run(n, "email", smtp, pool),
        "webhook ceiling": lambda: webhook_ceiling(n, http_port, pool),
        "webhook worker": lambda: worker_run(n, "push", hook, pool),
    }
    for ahead in args.ahead or []:
        runs[f"smtp worker ahead={ahead}"] = partial(worker_run, n, "email", smtp, pool, ahead)
    if args.smtp_only:
        del runs["webhook ceiling"], runs["webhook worker"]
    if args.baseline:
        this_src = str(ROOT / "src")
        runs["smtp worker (proc)"] = lambda: child_worker(this_src, n, smtp_port, pool)
        runs["smtp baseline (proc)"] = lambda: child_worker(args.baseline, n, smtp_port, pool)
    for run in runs.values():  # warm-up
        run()
    timings: dict[str, list[Timing]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            timings[name].append(run())
    load_after = os.getloadavg()[0]
    peers.terminate()
    print(
        f"{n} messages, pool {pool}, {repeats} interleaved runs; load average "
        f"{load_before:.2f} → {load_after:.2f} on {cores} cores; peak memory of this process "
        f"{_peak_mb():.0f} MB"
    )
    if max(load_before, load_after) > cores:
        print("warning: load above 1 per core: take these figures again on a quiet machine")
    print(f"{'run':<22}{'msg/s median':>14}{'min … max':>16}{'of ceiling':>12}{'CPU ms/msg':>12}")
    rates = {name: [n / s for s, _ in values] for name, values in timings.items()}
    for name, values in rates.items():
        median = statistics.median(values)
        base = "smtp ceiling" if name.startswith("smtp") else "webhook ceiling"
        share = median / statistics.median(rates[base])
        spread = f"{min(values):.0f} … {max(values):.0f}"
        cpu = statistics.median(c / n * 1000 for _, c in timings[name])
        print(f"{name:<22}{median:>14.0f}{spread:>16}{share:>11.0%}{cpu:>12.2f}")
    if args.baseline:
        ours = statistics.median(rates["smtp worker (proc)"])
        theirs = statistics.median(rates["smtp baseline (proc)"])
        print(f"this worker / baseline worker (same sink, interleaved): {ours / theirs:.2f}×")


if __name__ == "__main__":
    main()
