"""A small GetCourse account as its export API answers it (Russian headers, like the CSV)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

KEY = "gc-secret-3f9a1c77e2b04d5a"

DEAL_FIELDS = [
    "ID заказа",
    "Номер",
    "ID пользователя",
    "Пользователь",
    "Email",
    "Телефон",
    "Дата создания",
    "Дата оплаты",
    "Title",
    "Статус",
    "Стоимость, RUB",
    "Оплачено",
    "Валюта",
    "Менеджер",
    "utm_source",
]


def _deal(
    deal_id: str,
    user: str,
    email: str,
    created: str,
    paid: str,
    title: str,
    status: str,
    cost: Any,
    paid_amount: Any,
) -> list[Any]:
    return [
        deal_id,
        f"N-{deal_id}",
        user,
        email.split("@")[0].title(),
        email,
        "+7 900 000-00-" + user[-2:],
        created,
        paid,
        title,
        status,
        cost,
        paid_amount,
        "RUB",
        "",
        "vk" if int(deal_id) % 2 else None,
    ]


DEALS = [
    _deal("9001", "501", "anna@example.ru", "2026-10-01 10:15:00", "2026-10-01 10:20:00", "Курс Python", "Завершен", "14900.00", "14900.00"),
    _deal("9002", "502", "boris@example.ru", "2026-10-12 11:00:00", "2026-10-15 09:00:00", "Курс SQL", "Частично оплачен", 29900, "10000.50"),
    _deal("9003", "503", "vera@example.ru", "2026-11-20 12:00:00", "", "Курс Python", "Ожидаем оплаты", "14900.00", "0"),
    _deal("9004", "501", "anna@example.ru", "2026-11-21 08:00:00", "2026-11-21 08:05:00", "Курс SQL", "Оплачен", "29900", "29900"),
    _deal("9005", "504", "gleb@example.ru", "2026-11-22 18:30:00", "", "Интенсив", "Отменен", "4900", "0"),
    _deal("9006", "505", "dina@example.ru", "2026-11-25 09:00:00", "2026-11-25 09:10:00", "Интенсив", "Завершен", "4900", "4900"),
]  # fmt: skip

USER_FIELDS = [
    "id",
    "Email",
    "Тип регистрации",
    "Создан",
    "Последняя активность",
    "Имя",
    "Фамилия",
    "Телефон",
    "Город",
    "Часовой пояс",
]
USERS = [
    ["501", "anna@example.ru", "Самостоятельно", "2026-09-01 10:00:00", "2026-11-29 10:00:00", "Анна", "Иванова", "+79000000001", "Москва", "Europe/Moscow"],
    ["502", "boris@example.ru", "Импорт", "2026-09-05 11:00:00", "", "Борис", "Петров", "", "Казань", ""],
    ["503", "vera@example.ru", "Самостоятельно", "2026-11-19 12:00:00", "", "Вера", "", "+79000000003", "", ""],
    ["504", "gleb@example.ru", "Самостоятельно", "2026-11-22 18:00:00", "", "Глеб", "Смирнов", "", "", ""],
    ["505", "dina@example.ru", "Самостоятельно", "2026-11-24 09:00:00", "", "Дина", "", "", "Пермь", ""],
]  # fmt: skip

PAYMENT_FIELDS = [
    "Номер",
    "ID пользователя",
    "Email",
    "Заказ",
    "Дата создания",
    "Тип",
    "Статус",
    "Сумма",
    "Валюта",
]
PAYMENTS = [
    ["P-1", "501", "anna@example.ru", "9001", "2026-10-01 10:20:00", "Карта", "Получен", "14900", "RUB"],
    ["P-2", "502", "boris@example.ru", "9002", "2026-10-15 09:00:00", "Карта", "Получен", "10000.50", "RUB"],
    ["P-3", "501", "anna@example.ru", "9004", "2026-11-21 08:05:00", "Карта", "accepted", "29900", "RUB"],
    ["P-4", "503", "vera@example.ru", "9003", "2026-11-20 12:05:00", "Карта", "Ожидается", "14900", "RUB"],
]  # fmt: skip

PAID_REVENUE_DEALS = 14900 + 10000.50 + 29900 + 4900
PAID_REVENUE_PAYMENTS = 14900 + 10000.50 + 29900


def write_csv(path: Path, fields: list[str], rows: list[list[Any]]) -> Path:
    """The same data as a CSV export downloaded from GetCourse (UTF-8 with BOM, ';')."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(fields)
        writer.writerows([["" if v is None else v for v in row] for row in rows])
    return path
