"""Re-loading a file: skipped when it is the store's latest load unchanged, in full otherwise."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import livebase.ingest.load as load_module
from livebase.cli import main
from livebase.ingest import PRESETS, LoadOptions, load_file
from livebase.ingest.unchanged import options_fingerprint
from livebase.store import Store

ORDERS = "order_id,customer_id,date,amount\nA1,c1,2026-01-05,10.50\nA2,c2,2026-01-06,3\n"
CHANGED = "order_id,customer_id,date,amount\nA1,c1,2026-01-05,99.00\n"


def _options(day: int = 1, **changes: object) -> LoadOptions:
    options = LoadOptions(PRESETS["generic"], loaded_at=datetime(2026, 2, day))
    return replace(options, **changes)  # type: ignore[arg-type]


def _orders(store: Store) -> list[tuple[object, ...]]:
    return store.con.execute(
        "SELECT order_id, customer_id, paid_amount, last_load FROM orders ORDER BY 1"
    ).fetchall()


def _no_staging(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the load reads, converts or stages the file."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the unchanged file was prepared again")

    monkeypatch.setattr(load_module, "prepare", refuse)


def test_same_file_again_is_skipped_and_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS, "utf-8")
    store = Store.in_memory()
    first = load_file(store, str(path), _options())
    before = _orders(store)
    _no_staging(monkeypatch)
    again = load_file(store, str(path), _options(day=2))
    assert again.skipped and again.skipped_since == first.load_id
    assert (again.rows_read, again.rows_inserted, again.rows_updated, again.rows_unchanged) == (
        2,
        0,
        0,
        2,
    )
    assert again.checksum == first.checksum
    assert _orders(store) == before
    # the loads table keeps one row per ingest, and a chain of skips points to the first load
    third = load_file(store, str(path), _options(day=3))
    assert third.skipped_since == first.load_id
    rows = store.con.execute(
        "SELECT load_id, skipped_since, rows_read, rows_unchanged FROM loads ORDER BY 1"
    ).fetchall()
    assert rows == [(1, None, 2, 0), (2, 1, 2, 2), (3, 1, 2, 2)]


def test_force_rechecks_every_row(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS, "utf-8")
    store = Store.in_memory()
    load_file(store, str(path), _options())
    again = load_file(store, str(path), _options(day=2), force=True)
    assert not again.skipped
    assert (again.rows_inserted, again.rows_updated, again.rows_unchanged) == (0, 0, 2)


def test_reload_after_another_file_changed_rows_is_not_skipped(tmp_path: Path) -> None:
    """A skip would keep the other file's amount; the re-load must set the file's back."""
    path, changed = tmp_path / "orders.csv", tmp_path / "changed.csv"
    path.write_text(ORDERS, "utf-8")
    changed.write_text(CHANGED, "utf-8")
    store = Store.in_memory()
    load_file(store, str(path), _options())
    load_file(store, str(changed), _options())
    assert store.fetch_value("SELECT paid_amount FROM orders WHERE order_id = 'A1'") == 99
    again = load_file(store, str(path), _options(day=2))
    assert not again.skipped
    assert again.rows_updated == 1
    assert float(store.fetch_value("SELECT paid_amount FROM orders WHERE order_id = 'A1'")) == 10.5


def test_reload_after_a_load_of_another_kind_is_not_skipped(tmp_path: Path) -> None:
    """Every kind writes customers: a customers file in between may have changed them."""
    path, users = tmp_path / "orders.csv", tmp_path / "users.csv"
    path.write_text(ORDERS, "utf-8")
    users.write_text("customer_id,email\nc1,c1@example.ru\n", "utf-8")
    store = Store.in_memory()
    load_file(store, str(path), _options())
    load_file(
        store, str(users), LoadOptions(PRESETS["generic-customers"], loaded_at=datetime(2026, 2, 1))
    )
    assert not load_file(store, str(path), _options(day=2)).skipped


def test_a_changed_file_is_loaded(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS, "utf-8")
    store = Store.in_memory()
    load_file(store, str(path), _options())
    path.write_text(ORDERS.replace("10.50", "11.50"), "utf-8")
    again = load_file(store, str(path), _options(day=2))
    assert not again.skipped and again.rows_updated == 1


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    change=st.sampled_from(
        [
            {"delimiter": ","},
            {"encoding": "utf-8"},
            {"default_currency": "RUB"},
            {"timezone": "Europe/Moscow"},
            {"column_map": {"amount": "amount"}},
            {"conflicting_duplicates": "keep_last"},
        ]
    )
)
def test_other_options_load_the_file_again(tmp_path: Path, change: dict[str, object]) -> None:
    """Any option that could shape the rows differently defeats the skip."""
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS, "utf-8")
    store = Store.in_memory()
    load_file(store, str(path), _options())
    assert options_fingerprint(_options(**change)) != options_fingerprint(_options())
    assert not load_file(store, str(path), _options(day=2, **change)).skipped


def test_a_load_with_rejected_rows_is_never_skipped_against(tmp_path: Path) -> None:
    """A row rejected for a date after the load date may be valid on a later day."""
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS + "A3,c3,2026-02-20,5\n", "utf-8")
    store = Store.in_memory()
    first = load_file(store, str(path), _options(skip_bad_rows=True))
    assert first.rows_rejected == 1
    again = load_file(store, str(path), _options(day=25, skip_bad_rows=True))
    assert not again.skipped and again.rows_inserted == 1


def test_cp1251_file_is_skipped_without_converting_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(ORDERS.replace("c1", "Ольга").encode("cp1251"))
    store = Store.in_memory()
    first = load_file(store, str(path), _options(encoding="cp1251"))
    assert first.rows_inserted == 2
    _no_staging(monkeypatch)
    assert load_file(store, str(path), _options(day=2, encoding="cp1251")).skipped


def test_standard_input_is_skipped_after_its_checksum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.in_memory()
    for day in (1, 2):
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(ORDERS.encode())))
        result = load_file(store, "-", _options(day=day))
    assert result.skipped and result.file == "<stdin>"


def test_cli_says_skipped_and_force_rechecks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "shop"
    assert main(["init", str(ws)]) == 0
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS, "utf-8")
    command = ["--workspace", str(ws), "ingest", "orders", str(path), "--preset", "generic"]
    assert main(command) == 0
    capsys.readouterr()
    assert main(command) == 0
    out = capsys.readouterr().out
    assert "unchanged since load 1 (same checksum): skipped; --force re-checks it" in out
    assert main([*command, "--force"]) == 0
    out = capsys.readouterr().out
    assert "unchanged since load" not in out and "2 unchanged" in out
