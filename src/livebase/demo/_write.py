"""Writers: the demo tables as GetCourse-style exports and an events file (I/O at the edge)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

Flavour = Literal["interface", "excel_ru"]

#: Orders ("deals") export headers in file order; «Менеджер» and «Откуда узнали» are the
#: account's custom fields, the first in the middle of the row.
ORDER_HEADERS: tuple[str, ...] = (
    "ID заказа", "Номер", "ID пользователя", "Пользователь", "Email", "Телефон",
    "Дата создания", "Дата оплаты", "Title", "Менеджер", "Статус", "Стоимость, RUB",
    "Оплачено", "Получено", "Заработано", "Валюта", "Использован промокод",
    "Платежная система", "utm_source", "utm_medium", "utm_campaign", "Теги", "Откуда узнали",
)  # fmt: skip
#: Users export headers in file order; «Цель обучения» is the account's custom field.
USER_HEADERS: tuple[str, ...] = (
    "id", "Email", "Создан", "Последняя активность", "Имя", "Фамилия", "Телефон", "Город",
    "Цель обучения", "utm_source", "utm_medium", "utm_campaign",
)  # fmt: skip

_NBSP = "\u00a0"


def _text(values: pd.Series) -> list[str]:
    return ["" if v is None or v is pd.NA or v != v else str(v) for v in values.tolist()]


def _dates(values: pd.Series, flavour: Flavour) -> list[str]:
    raw = values.to_numpy(dtype="datetime64[s]")
    text = np.datetime_as_string(raw, unit="s")
    missing = np.isnat(raw)
    out: list[str] = []
    for s, gone in zip(text.tolist(), missing.tolist(), strict=True):
        if gone:
            out.append("")
        elif flavour == "interface":
            out.append(s.replace("T", " "))
        else:  # YYYY-MM-DDTHH:MM:SS → dd.mm.yyyy hh:mm (Excel drops the seconds)
            out.append(f"{s[8:10]}.{s[5:7]}.{s[0:4]} {s[11:16]}")
    return out


def _money(values: pd.Series, flavour: Flavour) -> list[str]:
    """Amounts as the flavour prints them; for excel_ru, row i groups thousands with a space
    (even i) or a non-breaking space (odd i) and every third row carries « руб.»."""
    out: list[str] = []
    for i, v in enumerate(values.tolist()):
        d = Decimal(v).quantize(Decimal("0.01"))
        if flavour == "interface":
            out.append(f"{d:.2f}")
            continue
        grouped = f"{d:,.2f}".replace(",", _NBSP if i % 2 else " ").replace(".", ",")
        out.append(grouped + (" руб." if i % 3 == 0 else ""))
    return out


def _write_table(
    path: Path, headers: Sequence[str], columns: Sequence[list[str]], flavour: Flavour
) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(
        buffer, delimiter=";", lineterminator="\r\n" if flavour == "excel_ru" else "\n"
    )
    writer.writerow(headers)
    writer.writerows(zip(*columns, strict=True))
    encoding = "cp1251" if flavour == "excel_ru" else "utf-8-sig"
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_getcourse_orders(
    orders: pd.DataFrame, path: Path | str, flavour: Flavour = "interface"
) -> Path:
    """Write ``orders`` as a GetCourse orders ("deals") export, ``;``-separated.

    ``interface``: UTF-8 with BOM, ``YYYY-MM-DD HH:MM:SS``, ``14900.00``, LF line ends.
    ``excel_ru`` (as re-saved by Russian Excel): cp1251, ``dd.mm.yyyy hh:mm``, ``14 900,00``
    with a space or a non-breaking space between thousands, « руб.» on some rows, CRLF.
    «Оплачено» is ``paid_amount`` except on «Возврат» rows, where it is the amount returned
    (``refunded_amount``). «Дата оплаты» is empty for orders never paid.
    """
    path = Path(path)
    shown = [p + r for p, r in zip(orders["paid_amount"], orders["refunded_amount"], strict=True)]
    columns = [
        _text(orders["order_id"]),
        _text(orders["number"]),
        _text(orders["customer_id"]),
        _text(orders["customer_name"]),
        _text(orders["email"]),
        _text(orders["phone"]),
        _dates(orders["created_at"], flavour),
        _dates(orders["paid_at"], flavour),
        _text(orders["items"]),
        _text(orders["manager"]),
        _text(orders["source_status"]),
        _money(orders["amount"], flavour),
        _money(pd.Series(shown, dtype=object), flavour),
        _money(orders["received"], flavour),
        _money(orders["earned"], flavour),
        _text(orders["currency"]),
        _text(orders["promo_code"]),
        _text(orders["payment_system"]),
        _text(orders["utm_source"]),
        _text(orders["utm_medium"]),
        _text(orders["utm_campaign"]),
        _text(orders["tags"]),
        _text(orders["heard_from"]),
    ]
    return _write_table(path, ORDER_HEADERS, columns, flavour)


def write_getcourse_users(
    customers: pd.DataFrame, path: Path | str, flavour: Flavour = "interface"
) -> Path:
    """Write ``customers`` as a GetCourse users export (same flavours as the orders export)."""
    path = Path(path)
    columns = [
        _text(customers["customer_id"]),
        _text(customers["email"]),
        _dates(customers["created_at"], flavour),
        _dates(customers["last_activity_at"], flavour),
        _text(customers["first_name"]),
        _text(customers["last_name"]),
        _text(customers["phone"]),
        _text(customers["city"]),
        _text(customers["goal"]),
        _text(customers["utm_source"]),
        _text(customers["utm_medium"]),
        _text(customers["utm_campaign"]),
    ]
    return _write_table(path, USER_HEADERS, columns, flavour)


def write_events(events: pd.DataFrame, path: Path | str) -> Path:
    """Write product events: ``.parquet`` as Parquet, anything else as CSV.

    CSV: UTF-8 (no BOM), ``,``-separated, LF, header ``customer_id,ts,name,properties``,
    ``ts`` as ``YYYY-MM-DD HH:MM:SS``, ``properties`` a JSON object in one quoted cell.
    Parquet: the same four columns, ``ts`` a timestamp in seconds.
    """
    path = Path(path)
    table = events[["customer_id", "ts", "name", "properties"]]
    if path.suffix.lower() == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        arrow = pa.table(
            {
                "customer_id": pa.array(table["customer_id"].astype(str).tolist(), pa.string()),
                "ts": pa.array(table["ts"].to_numpy(dtype="datetime64[s]"), pa.timestamp("s")),
                "name": pa.array(table["name"].astype(str).tolist(), pa.string()),
                "properties": pa.array(table["properties"].astype(str).tolist(), pa.string()),
            }
        )
        pq.write_table(arrow, path, compression="zstd")
        return path
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=",", lineterminator="\n")
    writer.writerow(["customer_id", "ts", "name", "properties"])
    writer.writerows(
        zip(
            _text(table["customer_id"]),
            _dates(table["ts"], "interface"),
            _text(table["name"]),
            _text(table["properties"]),
            strict=True,
        )
    )
    path.write_bytes(buffer.getvalue().encode("utf-8"))
    return path
