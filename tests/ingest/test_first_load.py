"""The store's first orders go straight into ``orders`` only when every row is good; any bad
row, repeated order id or customer found by contact (even the very last row of a big file)
takes the detailed path, with exactly its messages, and leaves the store unchanged."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import livebase.ingest.load as load_module
from livebase.errors import InputValidationError
from livebase.features.state import STATE_COLUMNS
from livebase.ingest import PRESETS, LoadOptions, load_file
from livebase.store import Store

ROWS = 130_000  # more than one DuckDB row group (122,880 rows): the insert runs in parallel
HEADER = "ID заказа;ID пользователя;Email;Дата создания;Дата оплаты;Статус;Стоимость;Оплачено\n"
OPTIONS = LoadOptions(
    PRESETS["getcourse"], loaded_at=datetime(2026, 11, 22), clock=lambda: datetime(2026, 11, 22)
)


def _row(n: int) -> str:
    paid = n % 3 != 0
    status, paid_at = ("Завершен", f"2026-0{1 + n % 9}-11 10:00:00") if paid else ("Новый", "")
    # a customer's orders carry their email with or without spaces, and some another email:
    # the customer keeps the greatest, whichever path the load takes
    email = f"u{n % 9000}@example.ru"
    email = f" {email}\u00a0" if n % 7 == 0 else f"x{email}" if n % 11 == 0 else email
    return (
        f"{100000 + n};{n % 9000};{email};2026-0{1 + n % 9}-10 09:00:00;"
        f"{paid_at};{status};{990 + n % 500}.50;{'990.50' if paid else '0'}\n"
    )


@pytest.fixture(scope="module")
def good_rows(tmp_path_factory: pytest.TempPathFactory) -> str:
    return HEADER + "".join(_row(n) for n in range(ROWS))


@pytest.fixture
def store_file(tmp_path: Path) -> Path:
    return tmp_path / "s.duckdb"


def _tables(store: Store) -> dict[str, list[tuple[object, ...]]]:
    return {
        table: store.con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
        for table in ("orders", "customers", "customer_state")
    }


def _without_load(table: str, row: tuple[object, ...]) -> tuple[object, ...]:
    if table == "customer_state":
        at = STATE_COLUMNS.index("updated_load")
        return row[:at] + row[at + 1 :]
    return row[:-2]  # orders and customers end with first_load, last_load


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "orders.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_good_file_loads_the_same_straight_as_through_the_detailed_path(
    tmp_path: Path, good_rows: str
) -> None:
    """Into an empty store (straight) and into one that already holds an order (detailed,
    merged): the file's orders, customers and customer_state rows are the same."""
    path = _write(tmp_path, good_rows)
    straight = Store.in_memory()
    result = load_file(straight, path, OPTIONS)
    assert (result.rows_read, result.rows_inserted, result.rows_duplicate) == (ROWS, ROWS, 0)
    merged = Store.in_memory()
    other = tmp_path / "other.csv"
    other.write_text(HEADER + "1;zz;zz@example.ru;2026-01-01 10:00:00;;Новый;5;0\n", "utf-8")
    load_file(merged, str(other), OPTIONS)
    assert load_file(merged, path, OPTIONS).rows_inserted == ROWS
    merged.con.execute("DELETE FROM orders WHERE order_id = '1'")
    merged.con.execute("DELETE FROM customers WHERE customer_id = 'zz'")
    merged.con.execute("DELETE FROM customer_state WHERE customer_id = 'zz'")
    got, expected = _tables(straight), _tables(merged)
    for table in got:
        # the load ids differ (1 straight, 2 merged): the rows are compared without them
        assert [_without_load(table, r) for r in got[table]] == [
            _without_load(table, r) for r in expected[table]
        ], table
    assert len(got["customers"]) == 9000
    emails = straight.con.execute("SELECT email FROM customers WHERE customer_id = '0'").fetchall()
    assert emails == [("xu0@example.ru",)]  # row n = 99000 (n % 11 == 0) of customer 0


def test_a_bad_row_at_the_very_end_is_refused_with_its_message(
    tmp_path: Path, good_rows: str, store_file: Path
) -> None:
    bad = good_rows + "999999;5;u5@example.ru;2026-02-30 10:00:00;;Новый;10;0\n"
    with Store.open(store_file, create=True) as store:
        with pytest.raises(InputValidationError) as refused:
            load_file(store, _write(tmp_path, bad), OPTIONS)
        message = str(refused.value)
        assert f"row {ROWS + 2}" in message and "not a date on the calendar" in message
        assert "2026-02-30 10:00:00" in message
        for table in ("orders", "customers", "customer_state", "loads"):
            assert store.fetch_value(f"SELECT count(*) FROM {table}") == 0, table
    # the rolled-back insert of 130,000 orders left no blocks behind in the store's file
    with Store.open(tmp_path / "fresh.duckdb", create=True):
        pass
    assert store_file.stat().st_size <= (tmp_path / "fresh.duckdb").stat().st_size


def test_a_bad_last_row_with_skip_bad_rows_loads_every_other_row(
    tmp_path: Path, good_rows: str
) -> None:
    bad = good_rows + "999999;5;u5@example.ru;2026-01-03 10:00:00;;Новый;-10;0\n"
    store = Store.in_memory()
    result = load_file(store, _write(tmp_path, bad), replace(OPTIONS, skip_bad_rows=True))
    assert (result.rows_read, result.rows_inserted, result.rows_rejected) == (ROWS + 1, ROWS, 1)
    rejected = Path(result.rejected_file or "").read_text("utf-8-sig")
    assert f"{ROWS + 2};" in rejected and "negative amount" in rejected


def test_an_order_id_repeated_at_the_end_is_counted_as_a_duplicate(
    tmp_path: Path, good_rows: str
) -> None:
    store = Store.in_memory()
    result = load_file(store, _write(tmp_path, good_rows + _row(0)), OPTIONS)
    assert (result.rows_read, result.rows_inserted, result.rows_duplicate) == (ROWS + 1, ROWS, 1)
    assert store.fetch_value("SELECT count(*) FROM orders") == ROWS


def test_a_last_row_without_customer_id_finds_the_customer_by_email(
    tmp_path: Path, good_rows: str
) -> None:
    store = Store.in_memory()
    text = good_rows + "999999;;u7@example.ru;2026-01-03 10:00:00;;Новый;10;0\n"
    result = load_file(store, _write(tmp_path, text), OPTIONS)
    assert result.rows_inserted == ROWS + 1
    assert store.fetch_value("SELECT customer_id FROM orders WHERE order_id = '999999'") == "7"


def _parses(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Record each parse of the load: True for the view (straight), False for the table."""
    calls: list[bool] = []
    parse = load_module.parse_rows

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(bool(kwargs.get("view")))
        return parse(*args, **kwargs)

    monkeypatch.setattr(load_module, "parse_rows", spy)
    return calls


def test_blank_rows_keep_the_straight_path_and_the_row_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _parses(monkeypatch)
    text = HEADER + _row(1) + ";;;;;;;\n" + _row(2) + "\n" + _row(3) + ";;;;;;;\n"
    store = Store.in_memory()
    result = load_file(store, _write(tmp_path, text), OPTIONS)
    assert (result.rows_read, result.rows_inserted, result.rows_rejected) == (3, 3, 0)
    assert calls == [True]


def test_one_bad_row_parses_again_into_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _parses(monkeypatch)
    text = HEADER + _row(1) + _row(2) + "7;7;u7@example.ru;вчера;;Новый;10;0\n"
    with pytest.raises(InputValidationError, match="row 4"):
        load_file(Store.in_memory(), _write(tmp_path, text), OPTIONS)
    assert calls == [True, False]
    calls.clear()
    store = Store.in_memory()
    load_file(store, _write(tmp_path, HEADER + _row(1)), OPTIONS)
    load_file(store, _write(tmp_path, HEADER + _row(2)), OPTIONS)
    assert calls == [True, False]  # a store that holds orders merges


def test_a_file_too_big_for_the_memory_limit_goes_through_the_table(
    tmp_path: Path, good_rows: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table path of a first load: one GROUP BY over its rows gives the customers and
    their state, the same as the straight path's."""
    straight = Store.in_memory()
    load_file(straight, _write(tmp_path, good_rows), OPTIONS)
    calls = _parses(monkeypatch)
    monkeypatch.setattr(load_module, "fits_in_memory", lambda con, size: False)
    through = Store.in_memory()
    result = load_file(through, _write(tmp_path, good_rows), OPTIONS)
    assert calls == [False] and result.rows_inserted == ROWS
    assert _tables(through) == _tables(straight)
