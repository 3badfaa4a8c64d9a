"""A load that fails, is stopped or is killed leaves nothing behind (issue 11, "leftovers").

Real processes and real signals: a ``livebase ingest`` stopped with SIGTERM while converting a
Windows-1251 file, a load killed with SIGKILL in its merge. Afterwards the temporary folders
are gone, the store holds what it held, and its file is no bigger than before (give or take
the blocks of the next load's own rows).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from livebase.errors import IngestError, StoreError
from livebase.ingest import PRESETS, LoadOptions, load_file
from livebase.ingest.cleanup import check_writable
from livebase.store import Store

LOADED_AT = datetime(2026, 11, 22, 12, 0)
HEADER = "ID заказа;ID пользователя;Email;Дата создания;Статус;Стоимость, RUB\n"
CLI = [sys.executable, "-c", "import sys; from livebase.cli import main; sys.exit(main())"]


def _getcourse_rows(count: int, start: int = 1) -> str:
    return "".join(
        f"{i};{i % 5000};u{i % 5000}@example.ru;01.03.2026 10:15;Завершен;1 490,00\n"
        for i in range(start, start + count)
    )


def _options(preset: str = "getcourse") -> LoadOptions:
    return LoadOptions(PRESETS[preset], loaded_at=LOADED_AT, clock=lambda: LOADED_AT)


@pytest.fixture
def private_tmp(tmp_path: Path) -> Iterator[Path]:
    """This test's own temporary folder, for this process and the processes it starts."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    saved = tempfile.tempdir
    tempfile.tempdir = str(folder)
    try:
        yield folder
    finally:
        tempfile.tempdir = saved


def _workdirs(folder: Path) -> list[Path]:
    return sorted(folder.glob("livebase-ingest-*"))


def _wait_for(predicate: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_sigterm_during_a_cp1251_ingest_removes_the_converted_copy(
    tmp_path: Path, private_tmp: Path
) -> None:
    workspace = tmp_path / "school"
    env = {**os.environ, "TMPDIR": str(private_tmp)}
    subprocess.run([*CLI, "init", str(workspace), "--template", "school"], env=env, check=True)
    big = tmp_path / "orders_cp1251.csv"
    big.write_bytes((HEADER + _getcourse_rows(600_000)).encode("cp1251"))

    process = subprocess.Popen(
        [*CLI, "--workspace", str(workspace), "ingest", "orders", str(big), "-p", "getcourse"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    converted = lambda: any(d.glob("converted*") for d in _workdirs(private_tmp))  # noqa: E731
    assert _wait_for(converted, 60), "the conversion never started"
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)

    assert process.returncode != 0, err
    assert "Traceback" not in err
    if process.returncode == -signal.SIGTERM:
        # the signal beat the load's handler (seen rarely on a loaded machine): the folder
        # of the dead process must then go at the next start
        from livebase.ingest.source import remove_stale_workdirs

        remove_stale_workdirs(private_tmp)
    assert _workdirs(private_tmp) == [], (process.pid, process.returncode, err)
    with Store.open(workspace / "livebase.duckdb") as store:
        assert store.fetch_value("SELECT count(*) FROM orders") == 0


KILL_IN_MERGE = """
import sys
from datetime import datetime
from livebase.ingest import PRESETS, LoadOptions, load_file
from livebase.store import Store

def stage(name):
    print(name, flush=True)

with Store.open(__import__("pathlib").Path(sys.argv[1])) as store:
    load_file(store, sys.argv[2], LoadOptions(PRESETS["generic"], loaded_at=datetime(2026, 11, 22)),
              stage=stage)
"""


def test_a_load_killed_in_its_merge_leaves_the_store_no_bigger(
    tmp_path: Path, private_tmp: Path
) -> None:
    path = tmp_path / "store.duckdb"
    small = tmp_path / "small.csv"
    small.write_text("order_id,customer_id,date,amount\nS1,c1,2026-01-05,10.00\n")
    with Store.open(path, create=True) as store:
        load_file(store, str(small), _options("generic"))
        store.con.execute("CHECKPOINT")
    size_before = path.stat().st_size
    control = tmp_path / "control.duckdb"  # the same store, never killed
    control.write_bytes(path.read_bytes())
    big = tmp_path / "big.csv"
    with big.open("w") as out:
        out.write("order_id,customer_id,date,amount,title\n")
        for i in range(1_500_000):
            out.write(f"B{i},c{i % 90000},2026-01-{1 + i % 28:02d},{i % 997}.50,course {i % 31}\n")

    process = subprocess.Popen(
        [sys.executable, "-c", KILL_IN_MERGE, str(path), str(big)],
        env={**os.environ, "TMPDIR": str(private_tmp)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip() == "merge":
            break
    # inside the merge transaction: kill once its rows reach the store's file
    assert _wait_for(lambda: path.stat().st_size > size_before + 5_000_000, 120)
    process.kill()
    process.wait(timeout=60)
    size_killed = path.stat().st_size

    again = tmp_path / "again.csv"
    again.write_text("order_id,customer_id,date,amount\nS2,c2,2026-01-06,20.00\n")
    sizes = []
    for store_path in (path, control):
        with Store.open(store_path) as store:
            result = load_file(store, str(again), _options("generic"))
            assert result.rows_inserted == 1
            assert store.fetch_value("SELECT count(*) FROM orders") == 2
        sizes.append(store_path.stat().st_size)
    size_after, size_control = sizes

    print(
        f"store bytes: before {size_before:,}, killed in merge {size_killed:,}, "
        f"after the next load {size_after:,} (never killed: {size_control:,})"
    )
    assert size_killed > size_before + 5_000_000
    assert size_after <= size_control + 262_144, (size_before, size_killed, size_after)
    assert not path.with_name(path.name + ".tmp").exists()
    assert _workdirs(private_tmp) == []


def test_the_temporary_folder_of_a_dead_process_is_removed_by_the_next_load(
    tmp_path: Path, private_tmp: Path
) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    leftover = private_tmp / f"livebase-ingest-{dead.stdout.strip()}-abc"
    leftover.mkdir()
    (leftover / "converted.utf8.csv").write_text("a full converted copy")
    mine = private_tmp / f"livebase-ingest-{os.getpid()}-live"
    mine.mkdir()
    source = tmp_path / "orders.csv"
    source.write_text("order_id,customer_id,date,amount\nA1,c1,2026-01-05,10.00\n")

    load_file(Store.in_memory(), str(source), _options("generic"))

    assert not leftover.exists()
    assert mine.exists(), "a live process's folder was removed"


def test_rejected_rows_go_to_the_workspace_when_the_input_folder_refuses_them(
    tmp_path: Path,
) -> None:
    inputs = tmp_path / "downloads"
    inputs.mkdir()
    source = inputs / "orders.csv"
    source.write_text("order_id,customer_id,date,amount\nA1,c1,2026-01-05,10.00\nA2,c2,x,1\n")
    # the rejected file's place is taken: writing there fails, as in a read-only folder
    (inputs / "orders.csv.rejected.csv").mkdir()
    options = LoadOptions(PRESETS["generic"], loaded_at=LOADED_AT, skip_bad_rows=True)
    (tmp_path / "ws").mkdir()
    with Store.open(tmp_path / "ws" / "store.duckdb", create=True) as store:
        result = load_file(store, str(source), options)

    expected = tmp_path / "ws" / "rejected" / "orders.csv.rejected.csv"
    assert result.rejected_file == str(expected)
    assert expected.read_text(encoding="utf-8-sig").splitlines()[1].split(";")[0] == "3"
    assert any("read-only" in note and str(expected) in note for note in result.notes)


def test_without_a_workspace_an_unwritable_rejected_file_is_one_message(tmp_path: Path) -> None:
    source = tmp_path / "orders.csv"
    source.write_text("order_id,customer_id,date,amount\nA1,c1,2026-01-05,10.00\nA2,c2,x,1\n")
    (tmp_path / "orders.csv.rejected.csv").mkdir()
    store = Store.in_memory()
    options = LoadOptions(PRESETS["generic"], loaded_at=LOADED_AT, skip_bad_rows=True)
    with pytest.raises(
        IngestError, match=r"cannot write the rejected rows to .*nothing was loaded"
    ):
        load_file(store, str(source), options)
    assert store.fetch_value("SELECT count(*) FROM orders") == 0


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_workspace_is_one_message_naming_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ws"
    with Store.open(folder / "store.duckdb", create=True):
        pass
    source = tmp_path / "orders.csv"
    source.write_text("order_id,customer_id,date,amount\nA1,c1,2026-01-05,10.00\n")
    folder.chmod(0o555)
    try:
        with Store.open(folder / "store.duckdb") as store, pytest.raises(StoreError) as caught:
            load_file(store, str(source), _options("generic"))
    finally:
        folder.chmod(0o755)
    assert str(folder) in str(caught.value) and "cannot write the store" in str(caught.value)


def test_a_folder_no_one_may_write_is_named(tmp_path: Path) -> None:
    unwritable = Path("/sys")  # read-only even for root, on Linux
    try:
        check_writable(unwritable, what="the store", hint="make it writable")
    except StoreError as exc:
        assert str(exc).startswith("cannot write the store in /sys: ")
        assert str(exc).endswith("make it writable")
    else:
        pytest.skip("/sys accepts files on this machine")
