"""Property-based fuzzing of GetCourse exports: every mutation loads exactly or is refused cleanly.

A valid GetCourse orders export (known orders, statuses and revenue) is written the way real
exports differ: encoding (UTF-8, UTF-8 with BOM, Windows-1251, UTF-16), delimiter, quoting,
line endings, blank rows, header spelling, number and date formats, and possibly a broken
amount or a cut-off end. For every mutation, one of two things holds:

- it loads, with exactly the expected orders and revenue (after a cut, the leading orders
  whose rows are whole), nothing rejected; or
- it is refused with a livebase error (never a traceback) that names the file, and the row
  when a row is at fault, and the store is unchanged.

Seeded under CI (``derandomize``), a couple of dozen examples: well under a minute.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livebase.errors import IngestError, InputValidationError
from livebase.ingest import PRESETS, LoadOptions, load_file
from livebase.store import Store

LOADED_AT = datetime(2026, 11, 22, 12, 0)
_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

HEADER = [
    "ID заказа",
    "ID пользователя",
    "Email",
    "Дата создания",
    "Дата оплаты",
    "Статус",
    "Стоимость, RUB",
    "Оплачено",
    "Валюта",
    "Title",  # last: a cut inside it leaves every number whole
]


@dataclass(frozen=True)
class Order:
    order_id: str
    customer: str
    created: datetime
    paid: datetime | None
    status: str
    price: Decimal
    paid_amount: Decimal
    title: str

    @property
    def revenue(self) -> Decimal:
        if self.status == "Завершен":
            return self.paid_amount or self.price
        if self.status == "Частично оплачен":
            return self.paid_amount
        return Decimal("0.00")


ORDERS = [
    Order(
        "8001",
        "401",
        datetime(2026, 3, 1, 10, 15),
        datetime(2026, 3, 1, 10, 20),
        "Завершен",
        Decimal("14900.00"),
        Decimal("14900.00"),
        "Курс Python, базовый",
    ),
    Order(
        "8002",
        "402",
        datetime(2026, 3, 2, 11, 0),
        None,
        "Новый",
        Decimal("29900.00"),
        Decimal("0.00"),
        "Курс SQL",
    ),
    Order(
        "8003",
        "403",
        datetime(2026, 3, 3, 12, 30),
        datetime(2026, 3, 4, 9, 0),
        "Частично оплачен",
        Decimal("59900.00"),
        Decimal("20000.00"),
        "Курс «Аналитик»",
    ),
    Order(
        "8004",
        "401",
        datetime(2026, 3, 5, 8, 45),
        None,
        "Отменен",
        Decimal("990.50"),
        Decimal("0.00"),
        'Мини-курс "Excel"',
    ),
    Order(
        "8005",
        "404",
        datetime(2026, 3, 6, 18, 5),
        datetime(2026, 3, 6, 18, 7),
        "Завершен",
        Decimal("1234567.89"),
        Decimal("1234567.89"),
        "Годовая подписка; всё включено",
    ),
]

HEADER_SPELLINGS = st.sampled_from(
    [
        str,
        str.upper,
        str.lower,
        lambda h: f"  {h} ",
        lambda h: h.replace(" ", "  "),
        lambda h: h.replace(", ", ","),
    ]
)


@dataclass(frozen=True)
class Export:
    encoding: str
    delimiter: str
    quoting: int
    line_end: str
    decimal_comma: bool
    thousands: bool
    russian_dates: bool
    headers: tuple[str, ...]
    blank_after: frozenset[int]
    broken_amount_row: int | None
    cut_at: float | None


@st.composite
def exports(draw: st.DrawFn) -> Export:
    delimiter = draw(st.sampled_from([";", ",", "\t"]))
    return Export(
        encoding=draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1251", "utf-16"])),
        delimiter=delimiter,
        quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])),
        line_end=draw(st.sampled_from(["\n", "\r\n"])),
        decimal_comma=draw(st.booleans()),
        thousands=draw(st.booleans()),
        russian_dates=draw(st.booleans()),
        headers=tuple(draw(HEADER_SPELLINGS)(h) for h in HEADER),
        blank_after=frozenset(draw(st.sets(st.integers(1, len(ORDERS)), max_size=2))),
        broken_amount_row=draw(st.none() | st.integers(0, len(ORDERS) - 1)),
        cut_at=draw(st.none() | st.floats(0.3, 0.999)),
    )


def _money(value: Decimal, export: Export) -> str:
    text = f"{value:,.2f}" if export.thousands else f"{value:.2f}"
    if export.decimal_comma:
        text = text.replace(",", " ").replace(".", ",")
    return text


def _date(value: datetime | None, export: Export) -> str:
    if value is None:
        return ""
    return value.strftime("%d.%m.%Y %H:%M" if export.russian_dates else "%Y-%m-%d %H:%M:%S")


def render(export: Export) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(
        buffer, delimiter=export.delimiter, quoting=export.quoting, lineterminator=export.line_end
    )
    writer.writerow(export.headers)
    for index, order in enumerate(ORDERS):
        price = _money(order.price, export)
        if index == export.broken_amount_row:
            price = price[:-1] + "05" if price[-3] in ",." else price + ".005"  # three decimals
        writer.writerow(
            [
                order.order_id,
                order.customer,
                f"u{order.customer}@example.ru",
                _date(order.created, export),
                _date(order.paid, export),
                order.status,
                price,
                _money(order.paid_amount, export),
                "RUB",
                order.title,
            ]
        )
        if index + 1 in export.blank_after:
            buffer.write(export.line_end)
    data = buffer.getvalue().encode(export.encoding)
    if export.cut_at is not None:
        data = data[: max(1, int(len(data) * export.cut_at))]
    return data


def _state(store: Store) -> tuple[object, ...]:
    return tuple(
        store.fetch_value(
            f"SELECT count(*) || ':' || coalesce(md5(string_agg(CAST(t AS VARCHAR), '|' "
            f"ORDER BY CAST(t AS VARCHAR))), '') FROM {table} t"
        )
        for table in ("orders", "customers", "loads", "customer_state")
    )


BASELINE = "ID заказа;ID пользователя;Email;Дата создания;Статус;Стоимость, RUB\n7001;301;a@x.ru;2026-01-05 10:00:00;Завершен;100.00\n"


@settings(
    max_examples=20,
    deadline=None,
    derandomize=_CI,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(export=exports())
def test_a_mutated_getcourse_export_loads_exactly_or_is_refused_cleanly(export: Export) -> None:
    folder = Path(tempfile.mkdtemp(prefix="livebase-fuzz-"))
    try:
        store = Store.in_memory()
        (folder / "baseline.csv").write_text(BASELINE, encoding="utf-8")
        options = LoadOptions(PRESETS["getcourse"], loaded_at=LOADED_AT, clock=lambda: LOADED_AT)
        load_file(store, str(folder / "baseline.csv"), options)
        before = _state(store)
        path = folder / "orders.csv"
        path.write_bytes(render(export))

        try:
            result = load_file(store, str(path), options)
        except IngestError as error:
            message = str(error)
            assert message.startswith(f"{path}: "), message
            assert _state(store) == before, "a refused file changed the store"
            if isinstance(error, InputValidationError):
                assert re.search(r"\brow \d+", message), message
            if export.broken_amount_row is not None and export.cut_at is None:
                assert isinstance(error, InputValidationError), message
                assert error.problems[0].row == 2 + export.broken_amount_row + sum(
                    1 for b in export.blank_after if b <= export.broken_amount_row
                ), message
            else:
                # only a cut-off end may make a valid export unreadable
                assert export.cut_at is not None, message
            return

        assert export.broken_amount_row is None or export.cut_at is not None
        stored = {
            str(r[0]): r[1]
            for r in store.con.execute(
                "SELECT order_id, paid_amount FROM orders WHERE order_id <> '7001'"
            ).fetchall()
        }
        expected = {o.order_id: o.revenue for o in ORDERS}
        assert result.rows_rejected == 0
        if export.cut_at is None:
            assert stored == expected
            assert result.rows_read == len(ORDERS)
        else:
            # after a cut, the leading orders whose rows are whole
            leading = [o.order_id for o in ORDERS][: len(stored)]
            assert sorted(stored) == sorted(leading)
            assert all(stored[k] == expected[k] for k in stored)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
