"""GetCourse exports as downloaded (UTF-8 BOM, ISO) and as re-saved by Russian Excel (cp1251)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from livebase.config import IngestConfig, RevenueConfig
from livebase.ingest import PRESETS, LoadOptions, load_file
from livebase.store import Store

LOADED_AT = datetime(2026, 11, 22, 12, 0)

HEADERS = [
    "ID заказа",
    "Номер",
    "ID пользователя",
    "Пользователь",
    "Email",
    "Телефон",
    "Дата создания",
    "Дата оплаты",
    "Title",
    "Менеджер",
    "Статус",
    "Стоимость, RUB",
    "Оплачено",
    "Получено",
    "Заработано",
    "Валюта",
    "Использован промокод",
    "Платежная система",
    "utm_source",
    "Теги",
    "Откуда узнали",
]
# id, user, email, created, paid, title, status label, price, paid amount
ORDERS = [
    (
        "9001",
        "501",
        "anna@example.ru",
        "2026-03-01 10:15:00",
        "2026-03-01 10:20:00",
        "Курс Python",
        "Завершен",
        "14900.00",
        "14900.00",
    ),
    (
        "9002",
        "502",
        "boris@example.ru",
        "2026-03-02 11:00:00",
        "2026-03-05 09:00:00",
        "Курс SQL",
        "Частично оплачен",
        "29900.00",
        "10000.50",
    ),
    (
        "9003",
        "503",
        "vera@example.ru",
        "2026-03-03 12:00:00",
        "",
        "Курс Python",
        "Ожидаем оплаты",
        "14900.00",
        "0",
    ),
    (
        "9004",
        "501",
        "anna@example.ru",
        "2026-04-10 08:00:00",
        "2026-04-10 08:05:00",
        "Модуль 2",
        "Ожидаем возврата",
        "4990.99",
        "4990.99",
    ),
    (
        "9005",
        "504",
        "gleb@example.ru",
        "2026-04-11 09:00:00",
        "",
        "Курс SQL",
        "Отменен",
        "29900.00",
        "0",
    ),
    (
        "9006",
        "505",
        "dina@example.ru",
        "2026-04-12 09:30:00",
        "",
        "Курс SQL",
        "Ложный",
        "29900.00",
        "0",
    ),
    (
        "9007",
        "506",
        "egor@example.ru",
        "2026-05-01 14:00:00",
        "2026-05-01 14:01:00",
        "Подписка",
        "payed",
        "1234567.89",
        "1234567.89",
    ),
    (
        "9008",
        "507",
        "zhanna@example.ru",
        "2026-05-02 15:00:00",
        "",
        "Курс Python",
        "Новый",
        "14900.00",
        "0",
    ),
    ("9009", "508", "", "2026-05-03 16:00:00", "", "Курс Python", "В работе", "14900.00", "0"),
    (
        "9010",
        "509",
        "ivan@example.ru",
        "2026-05-04 17:00:00",
        "2026-05-04 17:30:00",
        "Курс Python",
        "part_payed",
        "14900.00",
        "7450.25",
    ),
]
# paid: 14900.00 + 10000.50 (partial) + 4990.99 (awaiting return, counts as paid)
#       + 1234567.89 + 7450.25 (partial)
EXPECTED_REVENUE = Decimal("1271909.63")


def _row(order: tuple[str, ...], flavour: str) -> list[str]:
    oid, user, email, created, paid, title, status, price, paid_amount = order

    def when(text: str) -> str:
        if not text or flavour == "interface":
            return text
        return datetime.fromisoformat(text).strftime("%d.%m.%Y %H:%M")

    def money(text: str, n: int) -> str:
        if flavour == "interface":
            return text
        whole, cents = f"{Decimal(text):.2f}".split(".")
        groups = f"{int(whole):,}".replace(",", "\u00a0" if n % 2 else " ")
        suffix = " руб." if n % 3 == 0 else ""
        return f"{groups},{cents}{suffix}"

    n = int(oid)
    return [
        oid,
        str(n - 8000),
        user,
        f"Пользователь {user}",
        email,
        "+7 900 000-00-00",
        when(created),
        when(paid),
        title,
        "Ольга",
        status,
        money(price, n),
        money(paid_amount, n),
        money(paid_amount, n),
        money(paid_amount, n + 1),
        "RUB",
        "",
        "ЮKassa" if paid else "",
        "vk",
        "вебинар; март",
        "Реклама",
    ]


def write_export(path: Path, flavour: str, orders: list[tuple[str, ...]] = ORDERS) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";", lineterminator="\n").writerows(
        [HEADERS] + [_row(o, flavour) for o in orders]
    )
    lines = buffer.getvalue().splitlines()
    if flavour == "interface":
        path.write_bytes(("\ufeff" + "\n".join(lines) + "\n").encode("utf-8"))
    else:
        path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1251"))
    return path


def _load(store: Store, path: Path, **kw: object) -> object:
    return load_file(
        store,
        str(path),
        LoadOptions(PRESETS["getcourse"], loaded_at=LOADED_AT, default_currency="RUB", **kw),
    )  # type: ignore[arg-type]


@pytest.mark.parametrize("flavour", ["interface", "excel_ru"])
def test_paid_revenue_is_right_to_the_kopeck(tmp_path: Path, flavour: str) -> None:
    store = Store.in_memory()
    _load(store, write_export(tmp_path / "orders.csv", flavour))
    assert store.fetch_value("SELECT sum(paid_amount) FROM orders") == EXPECTED_REVENUE
    assert store.fetch_value("SELECT count(*) FROM orders") == len(ORDERS)


@pytest.mark.parametrize("flavour", ["interface", "excel_ru"])
def test_statuses_map_labels_and_codes(tmp_path: Path, flavour: str) -> None:
    store = Store.in_memory()
    _load(store, write_export(tmp_path / "orders.csv", flavour))
    status = dict(store.con.execute("SELECT order_id, status FROM orders").fetchall())
    assert status == {
        "9001": "paid",
        "9002": "partially_paid",
        "9003": "pending",
        "9004": "paid",
        "9005": "cancelled",
        "9006": "cancelled",
        "9007": "paid",
        "9008": "pending",
        "9009": "pending",
        "9010": "partially_paid",
    }
    flagged = store.con.execute("SELECT order_id FROM orders WHERE return_requested").fetchall()
    assert flagged == [("9004",)]


def test_excel_dates_and_payment_date_counts(tmp_path: Path) -> None:
    store = Store.in_memory()
    _load(store, write_export(tmp_path / "orders.csv", "excel_ru"))
    row = store.con.execute(
        "SELECT created_at, paid_at, currency FROM orders WHERE order_id = '9002'"
    ).fetchone()
    assert row == (datetime(2026, 3, 2, 11, 0), datetime(2026, 3, 5, 9, 0), "RUB")


def test_unknown_columns_are_kept_as_attributes(tmp_path: Path) -> None:
    store = Store.in_memory()
    _load(store, write_export(tmp_path / "orders.csv", "interface"))
    attributes = json.loads(
        store.fetch_value("SELECT attributes FROM orders WHERE order_id = '9001'")
    )
    assert attributes["Менеджер"] == "Ольга"
    assert attributes["Откуда узнали"] == "Реклама"
    assert attributes["utm_source"] == "vk"
    assert attributes["Номер"] == "1001"


def test_customers_come_from_user_id_with_contacts(tmp_path: Path) -> None:
    store = Store.in_memory()
    _load(store, write_export(tmp_path / "orders.csv", "interface"))
    assert store.fetch_value("SELECT count(*) FROM customers") == 9
    assert store.fetch_value("SELECT email FROM customers WHERE customer_id = '501'") == (
        "anna@example.ru"
    )


def test_headers_match_tolerantly_in_any_order(tmp_path: Path) -> None:
    path = write_export(tmp_path / "orders.csv", "interface")
    header, *rows = list(
        csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig")), delimiter=";")
    )
    # reverse the columns, change case and spacing of the headers
    order = list(reversed(range(len(header))))
    renamed = [c.upper().replace(" ", "  ") for c in header]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow([renamed[i] for i in order])
        writer.writerows([[r[i] for i in order] for r in rows])
    store = Store.in_memory()
    _load(store, path)
    assert store.fetch_value("SELECT sum(paid_amount) FROM orders") == EXPECTED_REVENUE


def test_overlapping_later_export_updates_changed_status(tmp_path: Path) -> None:
    store = Store.in_memory()
    first = _load(store, write_export(tmp_path / "march.csv", "interface", ORDERS[:6]))
    later_orders = list(ORDERS[3:])
    # 9003 was awaiting payment and is now paid
    later_orders.append(
        (
            "9003",
            "503",
            "vera@example.ru",
            "2026-03-03 12:00:00",
            "2026-05-10 10:00:00",
            "Курс Python",
            "Завершен",
            "14900.00",
            "14900.00",
        )
    )
    second = load_file(
        store,
        str(write_export(tmp_path / "may.csv", "interface", later_orders)),
        LoadOptions(PRESETS["getcourse"], loaded_at=LOADED_AT, default_currency="RUB"),
    )
    assert first.rows_inserted == 6  # type: ignore[attr-defined]
    assert (second.rows_read, second.rows_inserted, second.rows_updated, second.rows_unchanged) == (
        8,
        4,
        1,
        3,
    )
    assert store.fetch_value("SELECT count(*) FROM orders") == len(ORDERS)
    assert store.fetch_value("SELECT status FROM orders WHERE order_id = '9003'") == "paid"
    assert store.fetch_value("SELECT sum(paid_amount) FROM orders") == (
        EXPECTED_REVENUE + Decimal("14900.00")
    )


def test_revenue_rules_are_configurable(tmp_path: Path) -> None:
    store = Store.in_memory()
    config = IngestConfig(
        revenue=RevenueConfig(partially_paid="nothing", return_requested="refunded")
    )
    _load(store, write_export(tmp_path / "orders.csv", "interface"), config=config)
    assert store.fetch_value("SELECT sum(paid_amount) FROM orders") == (
        Decimal("14900.00") + Decimal("1234567.89")
    )
    assert store.fetch_value("SELECT status FROM orders WHERE order_id = '9004'") == "refunded"


def test_custom_status_from_config(tmp_path: Path) -> None:
    orders = [(*ORDERS[0][:6], "Оплачен частями", *ORDERS[0][7:])]
    path = write_export(tmp_path / "orders.csv", "interface", orders)
    store = Store.in_memory()
    config = IngestConfig.model_validate({"orders": {"statuses": {"Оплачен частями": "paid"}}})
    _load(store, path, config=config)
    assert store.fetch_value("SELECT status FROM orders") == "paid"


def test_status_labels_are_mapped_whatever_their_case_spaces_and_yo(tmp_path: Path) -> None:
    # each distinct cell of the file is normalised once (lower case, ё as е, runs of spaces,
    # underscores and dashes as one space) and every row with that cell takes its status
    spellings = {
        "9101": ("  ЗАВЕРШЁН ", "paid"),
        "9102": ("Частично_оплачен", "partially_paid"),
        "9103": ("Завершен\u00a0", "paid"),
        "9104": ("частично -  оплачен", "partially_paid"),
        "9105": ("  ЗАВЕРШЁН ", "paid"),
        "9106": ("Отменен", "cancelled"),
    }
    orders = [
        (order, *ORDERS[0][1:6], label, *ORDERS[0][7:]) for order, (label, _) in spellings.items()
    ]
    store = Store.in_memory()
    _load(store, write_export(tmp_path / "orders.csv", "interface", orders))
    status = dict(store.con.execute("SELECT order_id, status FROM orders").fetchall())
    assert status == {order: expected for order, (_, expected) in spellings.items()}
    source = store.fetch_value("SELECT source_status FROM orders WHERE order_id = '9101'")
    assert source == "ЗАВЕРШЁН"  # the label as the file wrote it, trimmed


def test_repeated_order_in_one_file_is_counted_as_duplicate(tmp_path: Path) -> None:
    path = write_export(tmp_path / "orders.csv", "interface", [ORDERS[0], ORDERS[1], ORDERS[0]])
    result = _load(Store.in_memory(), path)
    assert (result.rows_read, result.rows_inserted, result.rows_duplicate) == (3, 2, 1)  # type: ignore[attr-defined]


def test_same_orders_resaved_by_excel_add_no_rows(tmp_path: Path) -> None:
    store = Store.in_memory()
    _load(store, write_export(tmp_path / "downloaded.csv", "interface"))
    again = _load(store, write_export(tmp_path / "resaved.csv", "excel_ru"))
    assert again.rows_inserted == 0  # type: ignore[attr-defined]
    assert store.fetch_value("SELECT count(*) FROM orders") == len(ORDERS)
    assert store.fetch_value("SELECT sum(paid_amount) FROM orders") == EXPECTED_REVENUE


def test_xlsx_export_loads_like_the_csv(tmp_path: Path) -> None:
    import openpyxl

    csv_path = write_export(tmp_path / "orders.csv", "interface")
    rows = list(csv.reader(io.StringIO(csv_path.read_text(encoding="utf-8-sig")), delimiter=";"))
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(rows[0])
    for row in rows[1:]:
        cells: list[object] = list(row)
        for i in (6, 7):  # dates as real Excel dates
            cells[i] = datetime.fromisoformat(row[i]) if row[i] else None
        for i in (11, 12):  # amounts as numbers
            cells[i] = float(row[i])
        sheet.append(cells)
    xlsx = tmp_path / "orders.xlsx"
    workbook.save(xlsx)
    store = Store.in_memory()
    _load(store, xlsx)
    assert store.fetch_value("SELECT sum(paid_amount) FROM orders") == EXPECTED_REVENUE
    assert store.fetch_value("SELECT paid_at FROM orders WHERE order_id = '9002'") == datetime(
        2026, 3, 5, 9, 0
    )


def test_payments_export_loads_each_payment(tmp_path: Path) -> None:
    path = tmp_path / "payments.csv"
    path.write_text(
        "Номер;Пользователь;Заказ;Дата создания;Тип;Статус;Сумма;Комиссии;Получено;Код платежа\n"
        "P1;anna@example.ru;9001;01.03.2026 10:20;ЮKassa;Получен;14 900,00 руб.;447,00;14 453,00;a1\n"
        "P2;boris@example.ru;9002;05.03.2026 09:00;ЮKassa;Получен;10 000,50 руб.;300,00;9 700,50;b2\n"
        "P3;vera@example.ru;9003;06.03.2026 09:00;ЮKassa;Ожидается;14 900,00 руб.;0;0;c3\n"
        "P4;anna@example.ru;9004;10.04.2026 08:05;ЮKassa;Возвращен;4 990,99 руб.;0;0;d4\n",
        encoding="cp1251",
    )
    store = Store.in_memory()
    result = load_file(
        store, str(path), LoadOptions(PRESETS["getcourse-payments"], loaded_at=LOADED_AT)
    )
    assert result.rows_inserted == 4
    assert store.fetch_value("SELECT sum(paid_amount) FROM orders") == Decimal("24900.50")
    statuses = dict(store.con.execute("SELECT order_id, status FROM orders").fetchall())
    assert statuses == {"P1": "paid", "P2": "paid", "P3": "pending", "P4": "refunded"}
    # payments without a user id are keyed by the payer's email
    assert store.fetch_value("SELECT count(*) FROM customers") == 3


def test_users_export_with_duplicated_headers_merges_them(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_bytes(
        (
            "\ufeffid;Email;Создан;Последняя активность;Имя;Фамилия;Телефон;Город;"
            "Телефон;Цель;utm_source\n"
            "501;Anna@Example.ru;2025-01-10 10:00:00;2026-06-01 12:00:00;Анна;Иванова;;Москва;"
            "+7 900 111-22-33;карьера;vk\n"
            "502;boris@example.ru;2025-02-11 11:00:00;;Борис;;+7 900 222-33-44;Казань;;;\n"
        ).encode("utf-8")
    )
    store = Store.in_memory()
    load_file(store, str(path), LoadOptions(PRESETS["getcourse-users"], loaded_at=LOADED_AT))
    rows = store.con.execute(
        "SELECT customer_id, email, phone, name, created_at, attributes->>'Город' "
        "FROM customers ORDER BY 1"
    ).fetchall()
    assert rows == [
        (
            "501",
            "anna@example.ru",
            "+7 900 111-22-33",
            "Анна Иванова",
            datetime(2025, 1, 10, 10, 0),
            "Москва",
        ),
        (
            "502",
            "boris@example.ru",
            "+7 900 222-33-44",
            "Борис",
            datetime(2025, 2, 11, 11, 0),
            "Казань",
        ),
    ]


def test_users_then_orders_keep_the_users_contacts(tmp_path: Path) -> None:
    users = tmp_path / "users.csv"
    users.write_text("id;Email;Имя;Телефон\n501;anna@school.ru;Анна;+7 900 1\n", "utf-8")
    store = Store.in_memory()
    load_file(store, str(users), LoadOptions(PRESETS["getcourse-users"], loaded_at=LOADED_AT))
    _load(store, write_export(tmp_path / "orders.csv", "interface", ORDERS[:1]))
    assert store.con.execute(
        "SELECT email, phone, name FROM customers WHERE customer_id = '501'"
    ).fetchone() == ("anna@school.ru", "+7 900 1", "Анна")
