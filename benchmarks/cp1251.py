"""Windows-1251 files: our streaming transcoder vs DuckDB 1.4's ``encodings`` extension.

DESIGN.md leaves the choice open: decode cp1251 in Python (streaming, chunked) and hand DuckDB
a UTF-8 file, or read it natively with the ``encodings`` extension shipped as the PyPI package
``duckdb-ext-encodings``, which exists only for the DuckDB 1.4 line (livebase uses 2.0).
This benchmark measures, on the same cp1251 export:

- ``utf-8 read_csv``: DuckDB 2.0 reading the UTF-8 original (the floor);
- ``livebase transcode + read_csv``: our chunked cp1251 → UTF-8 stream (with the checksum,
  the mixed-encoding check and blank-line tracking) then DuckDB 2.0's read_csv;
- ``duckdb 1.4 + encodings``: ``read_csv(..., encoding = 'CP1251')`` in a separate virtual
  environment (created under benchmarks/.data/venv-duckdb14 on first run).

Each contender runs in a fresh process (its peak memory is its own, VmHWM), the contenders
interleaved (A B C A B C …) ``--runs`` times each (default 5): the median, the spread
(min … max), the ratio of medians to the floor, the peak memory and the 1-minute load average
before and after each run, with a WARNING (figures not to be recorded) when the load went
above one per core. Usage::

    .venv/bin/python benchmarks/cp1251.py --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import venv
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import DATA, Measurement, interleave, median_seconds, print_interleaved, run_step
from ingest import generate

VENV14 = DATA / "venv-duckdb14"


def cp1251_copy(utf8: Path) -> Path:
    target = utf8.with_name(utf8.stem + ".cp1251.csv")
    if not target.exists():
        with (
            utf8.open("r", encoding="utf-8-sig") as src,
            target.open("w", encoding="cp1251") as dst,
        ):
            shutil.copyfileobj(src, dst, 1 << 20)
    return target


def step_read_utf8(path: str) -> str:
    import duckdb

    con = duckdb.connect()
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{path}', delim=';', all_varchar=true)")
    return f"{con.execute('SELECT count(*) FROM t').fetchone()[0]:,} rows"  # type: ignore[index]


def step_livebase_transcode(path: str) -> str:
    import duckdb

    from livebase.ingest.source import make_workdir, prepare

    workdir = make_workdir()
    try:
        prepared = prepare(path, workdir)
        con = duckdb.connect()
        con.execute(
            f"CREATE TABLE t AS SELECT * FROM read_csv('{prepared.read_path}', delim=';', "
            "all_varchar=true)"
        )
        rows = con.execute("SELECT count(*) FROM t").fetchone()[0]  # type: ignore[index]
        return f"{rows:,} rows ({prepared.encoding})"
    finally:
        shutil.rmtree(workdir)


def _duckdb14_python() -> Path:
    python = VENV14 / "bin" / "python"
    if not python.exists():
        venv.create(VENV14, with_pip=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "duckdb>=1.4,<1.5", "duckdb-ext-encodings"],
            check=True,
        )
    return python


_DUCKDB14 = """
import glob, json, sys, time, duckdb, site
ext = glob.glob(site.getsitepackages()[0] + "/duckdb_ext/extensions/*/*/encodings.duckdb_extension")[0]
con = duckdb.connect()
started = time.perf_counter()
con.execute(f"INSTALL '{ext}'")
con.execute("LOAD encodings")
con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?, delim=';', all_varchar=true, "
            "encoding='CP1251')", [sys.argv[1]])
rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
print(json.dumps({"seconds": time.perf_counter() - started,
                  "peak_mb": next(int(l.split()[1]) for l in open("/proc/self/status")
                                  if l.startswith("VmHWM")) / 1024,
                  "detail": f"{rows:,} rows (duckdb {duckdb.__version__})"}))
"""


def run_duckdb14(path: Path) -> Measurement:
    """The DuckDB 1.4 contender, in its own interpreter (timing itself, as run_step's do)."""
    done = subprocess.run(
        [str(_duckdb14_python()), "-c", _DUCKDB14, str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return Measurement(
        "duckdb 1.4 + encodings", result["seconds"], result["peak_mb"], result["detail"]
    )


FLOOR = "utf-8 read_csv (floor)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--runs", type=int, default=5, help="interleaved runs per contender; the median counts"
    )
    args = parser.parse_args()
    utf8, _ = generate(args.rows)
    cp1251 = cp1251_copy(utf8)
    _duckdb14_python()  # the virtual environment is made before any run is timed
    steps: dict[str, Callable[[], Measurement]] = {
        FLOOR: partial(run_step, FLOOR, "cp1251", "step_read_utf8", str(utf8)),
        "livebase transcode + read_csv": partial(
            run_step,
            "livebase transcode + read_csv",
            "cp1251",
            "step_livebase_transcode",
            str(cp1251),
        ),
        "duckdb 1.4 + encodings": partial(run_duckdb14, cp1251),
    }
    results = interleave(steps, args.runs)
    size = cp1251.stat().st_size / 1e6
    print_interleaved(
        f"cp1251 export, {args.rows:,} rows ({size:,.0f} MB): {args.runs} interleaved runs each",
        results,
        FLOOR,
    )
    floor = median_seconds(results[FLOOR])
    print("ratios of medians:")
    for name in ("livebase transcode + read_csv", "duckdb 1.4 + encodings"):
        print(f"{name} / utf-8 read_csv: {median_seconds(results[name]) / floor:.2f}x")


if __name__ == "__main__":
    main()
