"""The store the corpus tests load into: it already holds a previous valid load.

A refused file must leave it exactly as it was (``test_malformed.snapshot``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from livebase.ingest import PRESETS, LoadOptions, load_file
from livebase.store import Store

LOADED_AT = datetime(2026, 11, 22, 12, 0)

# A previous valid load the broken files must not disturb. Order 7001 is pending here and paid
# in several corpus files, so a half-applied merge would change the orders checksum.
BASELINE_ORDERS = (
    "\ufeffID заказа;ID пользователя;Пользователь;Email;Дата создания;Дата оплаты;Title;Статус;"
    "Стоимость, RUB;Оплачено;Валюта\n"
    "6001;201;Олег;oleg@example.ru;2026-01-10 09:00:00;2026-01-10 09:05:00;Курс SQL;Завершен;"
    "29900.00;29900.00;RUB\n"
    "6002;202;Полина;polina@example.ru;2026-01-11 10:00:00;;Курс Python;Отменен;"
    "14900.00;0;RUB\n"
    "7001;301;Анна;anna@example.ru;2026-03-01 10:15:00;;Курс Python;Новый;"
    "14900.00;0;RUB\n"
)
BASELINE_EVENTS = (
    "user_id,timestamp,event\n201,2026-01-12 08:00:00,login\n301,2026-03-02 08:00:00,login\n"
)


def _options(preset: str) -> LoadOptions:
    return LoadOptions(PRESETS[preset], loaded_at=LOADED_AT, clock=lambda: LOADED_AT)


@pytest.fixture(scope="module")
def baseline_store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding orders 6001, 6002, 7001 (pending) and customers 201, 202, 301."""
    folder = tmp_path_factory.mktemp("baseline")
    (folder / "orders.csv").write_text(BASELINE_ORDERS, encoding="utf-8")
    (folder / "events.csv").write_text(BASELINE_EVENTS, encoding="utf-8")
    path = folder / "store.duckdb"
    with Store.open(path, create=True) as store:
        load_file(store, str(folder / "orders.csv"), _options("getcourse"))
        load_file(store, str(folder / "events.csv"), _options("events"))
        assert store.fetch_value("SELECT count(*) FROM orders") == 3
        assert store.fetch_value("SELECT count(*) FROM loads") == 2
    return path


@pytest.fixture
def store(baseline_store_file: Path, tmp_path: Path) -> Iterator[Store]:
    """A fresh copy of the baseline store for one test."""
    path = tmp_path / "store.duckdb"
    shutil.copyfile(baseline_store_file, path)
    with Store.open(path) as opened:
        yield opened
