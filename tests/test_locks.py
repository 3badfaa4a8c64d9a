"""Two livebase commands on one workspace at once both finish: the second waits and says why.

Real processes, real CDNOW data: each pair starts the first command, waits until it holds the
workspace lock, starts the second, and checks both exit 0 with the right result.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from livebase.errors import StoreError
from livebase.locks import WorkspaceBusyError, acquire, holders
from livebase.workspace import init_workspace

pytestmark = pytest.mark.slow
# The CLI in a process that has imported everything and waits for a go file, so that the
# second command asks for the lock within milliseconds of the test seeing the first hold it.
_PRELUDE = """
import os, sys, time
import livebase.cli, livebase.ingest, livebase.segments.run
go = sys.argv.pop(1)
while go != "-" and not os.path.exists(go):
    time.sleep(0.005)
sys.exit(livebase.cli.main(sys.argv[1:]))
"""


def _start(workspace: Path, *args: str, go: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _PRELUDE, str(go or "-"), "--workspace", str(workspace), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _pair(
    workspace: Path, first_args: list[str], second_args: list[str], first_name: str
) -> tuple[subprocess.Popen[str], subprocess.Popen[str]]:
    """Start the second (waiting for a go), then the first; let the second go once the first
    holds the workspace lock."""
    go = workspace.parent / "go"
    go.unlink(missing_ok=True)
    second = _start(workspace, *second_args, go=go)
    first = _start(workspace, *first_args)
    _when_holding(workspace, first, first_name)
    go.touch()
    return first, second


def _when_holding(workspace: Path, process: subprocess.Popen[str], command: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(h.command.startswith(command) and h.pid == process.pid for h in holders(workspace)):
            return
        if process.poll() is not None:
            pytest.fail(f"{command} ended before it took the lock: {process.stderr.read()}")  # type: ignore[union-attr]
        time.sleep(0.02)
    pytest.fail(f"{command} never took the workspace lock")


def _finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=300)
    return process.returncode, out, err


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return init_workspace(tmp_path / "shop", template="ecommerce").root


def test_ingest_then_ingest_both_finish_and_the_second_adds_nothing(
    shop: Path, cdnow_master: Path
) -> None:
    first, second = _pair(
        shop,
        ["ingest", "orders", str(cdnow_master), "--preset", "cdnow"],
        ["ingest", "orders", str(cdnow_master), "--preset", "cdnow", "--format", "json"],
        "livebase ingest",
    )
    code1, _, err1 = _finish(first)
    code2, out2, err2 = _finish(second)
    assert (code1, code2) == (0, 0), (err1, err2)
    assert "waiting for 'livebase ingest orders'" in err2
    assert "to finish" in err2
    loads = json.loads(out2)
    load = loads[0] if isinstance(loads, list) else loads
    assert load["rows_unchanged"] == 69659 and load["rows_inserted"] == 0


def test_ingest_then_segment_segments_the_whole_file(shop: Path, cdnow_master: Path) -> None:
    first, second = _pair(
        shop,
        ["ingest", "orders", str(cdnow_master), "--preset", "cdnow"],
        ["segment", "--as-of", "1998-06-30"],
        "livebase ingest",
    )
    code1, _, err1 = _finish(first)
    code2, out2, err2 = _finish(second)
    assert (code1, code2) == (0, 0), (err1, err2)
    assert "waiting for 'livebase ingest orders'" in err2
    assert "23,570" in out2 or "23570" in out2  # every CDNOW customer was segmented


def test_segment_then_status_both_finish(shop: Path, cdnow_sample: Path) -> None:
    assert _finish(_start(shop, "ingest", "orders", str(cdnow_sample), "--preset", "cdnow"))[0] == 0
    first, second = _pair(
        shop,
        ["segment", "--from", "1998-01-31", "--to", "1998-06-30", "--every", "month"],
        ["status", "--format", "json"],
        "livebase segment",
    )
    code1, _, err1 = _finish(first)
    code2, out2, err2 = _finish(second)
    assert (code1, code2) == (0, 0), (err1, err2)
    assert "waiting for 'livebase segment'" in err2
    assert json.loads(out2)["tables"]["customers"] == 2357


def test_a_reader_never_makes_the_nightly_job_fail(shop: Path, cdnow_sample: Path) -> None:
    """A dashboard-like reader holding the store open: the job waits for it, then runs."""
    assert _finish(_start(shop, "ingest", "orders", str(cdnow_sample), "--preset", "cdnow"))[0] == 0
    release = acquire(shop, exclusive=False, command="livebase report")
    go = shop.parent / "go"
    job = _start(shop, "segment", go=go)
    go.touch()
    _when_holding(shop, job, "livebase segment")  # registered: it is waiting for the lock
    time.sleep(0.5)
    assert job.poll() is None  # waiting, not failed
    release()
    code, _, err = _finish(job)
    assert code == 0, err
    assert "waiting for 'livebase report'" in err


def test_the_wait_is_bounded_and_says_by_whom(shop: Path) -> None:
    release = acquire(shop, exclusive=True, command="livebase ingest orders")
    code, _, err = _finish(_start(shop, "--wait-timeout", "1", "status"))
    release()
    assert code == 1
    assert "still busy with 'livebase ingest orders'" in err and "--wait-timeout" in err
    assert "Traceback" not in err


def test_the_lock_is_reentrant_and_upgrades_within_one_process(shop: Path) -> None:
    read = acquire(shop, exclusive=False, command="livebase report")
    write = acquire(shop, exclusive=True, command="livebase report", wait_timeout=2)
    again = acquire(shop, exclusive=False, command="livebase report", wait_timeout=2)
    for release in (again, write, read):
        release()
    assert holders(shop) == []
    other = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from livebase.locks import acquire; acquire(__import__('pathlib').Path({str(shop)!r}), exclusive=True, wait_timeout=2)()",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert other.returncode == 0, other.stderr


def test_another_program_holding_the_file_is_named_truthfully(shop: Path) -> None:
    """A DuckDB shell outside livebase's lock: the message says so (not 'livebase serve')."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(shop / 'livebase.duckdb')!r}); "
            "print('open', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        from livebase.workspace import Workspace

        with pytest.raises(StoreError, match="another program") as caught:
            Workspace.load(shop).open_store().close()
        assert "livebase serve" not in str(caught.value)
        assert not isinstance(caught.value, WorkspaceBusyError)
    finally:
        holder.kill()
        holder.wait()


def test_extensions_are_never_downloaded(tmp_path: Path) -> None:
    from livebase.store import Store

    with Store.open(tmp_path / "s.duckdb", create=True) as store:
        settings = store.con.execute(
            "SELECT current_setting('autoinstall_known_extensions'), "
            "current_setting('autoload_known_extensions')"
        ).fetchall()
        assert settings == [(False, False)]
        with pytest.raises(duckdb.Error, match=r"(?i)install"):
            store.con.execute(f"ATTACH '{tmp_path / 'x.sqlite'}' (TYPE sqlite)")
