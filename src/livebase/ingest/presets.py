"""Presets: how a source's files map onto the store. Data, not code paths.

A preset names, for each store field, the header names it may appear under (matched
tolerantly: case, spaces, «ё», punctuation), whether it is required, and how to parse it.
Columns no field claims are kept, by header, in the row's ``attributes`` JSON.

>>> normalize_header("  Дата  оплаты ")
'дата оплаты'
>>> normalize_header("Ёмкость, RUB")
'емкость, rub'
>>> PRESETS["getcourse"].field("amount").matches("Стоимость, RUB")
True
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "PRESETS",
    "STATUS_LABELS",
    "FieldSpec",
    "Preset",
    "header_base",
    "normalize_header",
    "normalize_label",
]

Kind = Literal["orders", "customers", "events"]
FieldType = Literal["id", "text", "timestamp", "amount", "integer", "json", "status"]
StoreStatus = Literal["paid", "partially_paid", "pending", "cancelled", "refunded"]

_SPACES = re.compile(r"[\s\u00a0\u202f]+")


def normalize_header(header: str) -> str:
    """Lower case, «ё» → «е», BOM and quotes dropped, runs of spaces collapsed."""
    text = header.replace("\ufeff", "").strip().strip('"').strip()
    text = text.lower().replace("ё", "е")
    return _SPACES.sub(" ", text)


def normalize_label(label: str) -> str:
    """Status labels compare like headers, and '_', '-' count as spaces.

    >>> normalize_label("Part_Payed")
    'part payed'
    """
    return normalize_header(label.replace("_", " ").replace("-", " "))


# a currency written after the name, as GetCourse does: «Стоимость, RUB», «Оплачено, руб.»
_CURRENCY_SUFFIX = re.compile(r"\s*(,\s*|\(\s*)([a-z]{3}|руб\.?|₽|\$|€)\s*\)?$")


def header_base(header: str) -> str:
    """A normalised header without a currency suffix: what aliases are compared with.

    >>> header_base("Стоимость, RUB"), header_base("Стоимость со скидкой")
    ('стоимость', 'стоимость со скидкой')
    """
    return _CURRENCY_SUFFIX.sub("", normalize_header(header))


@dataclass(frozen=True)
class FieldSpec:
    """One store field and the headers it may come under.

    A header matches an alias when the two are equal once normalised (case, spaces, «ё»),
    a currency suffix («, RUB», «(руб.)») aside; never by prefix, so «Стоимость со скидкой»
    is not «Стоимость».
    """

    name: str
    type: FieldType
    aliases: tuple[str, ...]
    required: bool = False

    def matches(self, header: str) -> bool:
        norm = normalize_header(header)
        base = header_base(header)
        return any(normalize_header(alias) in (norm, base) for alias in self.aliases)


# Labels and codes of order statuses, normalised; GetCourse labels and codes, and common
# English codes. ``waiting_for_return`` is paid but flagged (return_requested); its meaning is
# configurable (ingest.revenue.return_requested).
_STATUS_LABELS_AS_EXPORTED: dict[str, StoreStatus] = {
    # GetCourse labels (interface in Russian) and codes (API/exports in English)
    "Завершен": "paid",
    "Завершён": "paid",
    "Оплачен": "paid",
    "payed": "paid",
    "Частично оплачен": "partially_paid",
    "part_payed": "partially_paid",
    "Ожидаем возврата": "paid",
    "waiting_for_return": "paid",
    "Новый": "pending",
    "new": "pending",
    "В работе": "pending",
    "in_work": "pending",
    "Ожидаем оплаты": "pending",
    "payment_waiting": "pending",
    "Не подтвержден": "pending",
    "not_confirmed": "pending",
    "Отложен": "pending",
    "pending": "pending",
    "Отменен": "cancelled",
    "cancelled": "cancelled",
    "Ложный": "cancelled",
    "false": "cancelled",
    "Возврат": "refunded",
    "Возвращен": "refunded",
    # GetCourse payment statuses (payments export)
    "Получен": "paid",
    "accepted": "paid",
    "Ожидается": "pending",
    "expected": "pending",
    "Ожидает подтверждения": "pending",
    # common English codes of other platforms
    "paid": "paid",
    "completed": "paid",
    "complete": "paid",
    "success": "paid",
    "succeeded": "paid",
    "partially_paid": "partially_paid",
    "partial": "partially_paid",
    "processing": "pending",
    "on_hold": "pending",
    "awaiting_payment": "pending",
    "canceled": "cancelled",
    "failed": "cancelled",
    "void": "cancelled",
    "refunded": "refunded",
    "returned": "refunded",
    "refund": "refunded",
}
STATUS_LABELS: Mapping[str, StoreStatus] = {
    normalize_label(k): v for k, v in _STATUS_LABELS_AS_EXPORTED.items()
}

RETURN_REQUESTED_LABELS = frozenset(
    normalize_label(x) for x in ("Ожидаем возврата", "waiting_for_return")
)


@dataclass(frozen=True)
class Preset:
    """How one source's files of one kind map onto the store."""

    name: str
    kind: Kind
    description: str
    fields: tuple[FieldSpec, ...]
    layout: Literal["csv", "whitespace"] = "csv"
    """``whitespace``: columns separated by runs of spaces (CDNOW)."""
    headerless_columns: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    """For files without a header: column count → field names by position."""
    default_status: StoreStatus | None = None
    """Status of every row when the file has no status column."""
    coalesce_duplicate_headers: bool = False
    """A header that appears twice keeps the first non-empty value (GetCourse users)."""
    example: str = ""

    def field(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]


def _f(name: str, type_: FieldType, *aliases: str, required: bool = False) -> FieldSpec:
    return FieldSpec(name, type_, (name, *aliases), required)


_ORDER_GENERIC = (
    _f("order_id", "id", "id", "order", "order id", "order number", "номер заказа", "id заказа"),
    _f("customer_id", "id", "customer", "customer id", "user_id", "user id", "client_id"),
    _f("email", "text", "e-mail", "mail", "почта"),
    _f("phone", "text", "telephone", "телефон"),
    _f("name", "text", "customer_name", "full name", "имя"),
    _f("created_at", "timestamp", "created", "date", "order_date", "дата", "дата создания"),
    _f("paid_at", "timestamp", "paid", "payment_date", "payment date", "дата оплаты"),
    _f("amount", "amount", "total", "price", "sum", "value", "сумма", "стоимость", required=True),
    _f("paid_amount", "amount", "paid amount", "оплачено"),
    _f("currency", "text", "валюта"),
    _f("status", "status", "state", "order_status", "статус"),
    _f("items", "text", "item", "product", "products", "title", "category", "товар"),
    _f("quantity", "integer", "qty", "количество"),
    _f("promo_code", "text", "promo", "coupon", "промокод"),
)

_GETCOURSE_ORDERS = (
    _f("order_id", "id", "ID заказа", "id", required=True),
    _f("customer_id", "id", "ID пользователя", "user_id", "Пользователь ID"),
    _f("name", "text", "Пользователь"),
    _f("email", "text", "Email", "E-mail", "Эл. почта"),
    _f("phone", "text", "Телефон"),
    _f("created_at", "timestamp", "Дата создания", "Создан", required=True),
    _f("paid_at", "timestamp", "Дата оплаты"),
    _f("items", "text", "Title", "Состав заказа", "Предложения", "Предложение"),
    _f("status", "status", "Статус", required=True),
    _f("amount", "amount", "Стоимость", "Сумма", required=True),
    _f("paid_amount", "amount", "Оплачено"),
    _f("currency", "text", "Валюта"),
    _f("promo_code", "text", "Использован промокод", "Промокод"),
)

_GETCOURSE_PAYMENTS = (
    _f("order_id", "id", "Номер", "ID платежа", required=True),
    _f("customer_id", "id", "ID пользователя"),
    _f("email", "text", "Email", "Пользователь"),
    _f("created_at", "timestamp", "Дата создания", required=True),
    _f("paid_at", "timestamp", "Дата оплаты", "Дата получения"),
    _f("status", "status", "Статус", required=True),
    _f("amount", "amount", "Сумма", required=True),
    _f("items", "text", "Заказ", "Название"),
    _f("currency", "text", "Валюта"),
)

_CUSTOMERS_GENERIC = (
    _f("customer_id", "id", "id", "customer", "user_id", "user id", "client_id", required=True),
    _f("email", "text", "e-mail", "mail", "почта"),
    _f("phone", "text", "telephone", "телефон"),
    _f("name", "text", "full name", "customer_name"),
    _f("first_name", "text", "firstname", "given name"),
    _f("last_name", "text", "lastname", "surname", "family name"),
    _f("timezone", "text", "tz", "time zone", "time_zone"),
    _f("created_at", "timestamp", "created", "registered", "signup_date", "registered_at"),
)

_GETCOURSE_USERS = (
    _f("customer_id", "id", "id", "ID пользователя", required=True),
    _f("email", "text", "Email", "E-mail"),
    _f("phone", "text", "Телефон"),
    _f("first_name", "text", "Имя"),
    _f("last_name", "text", "Фамилия"),
    _f("timezone", "text", "Часовой пояс"),
    _f("created_at", "timestamp", "Создан", "Дата регистрации"),
)

_EVENTS = (
    _f("event_id", "id", "id", "event id", "uuid"),
    _f(
        "customer_id",
        "id",
        "customer",
        "user_id",
        "user id",
        "user",
        "ID пользователя",
        required=True,
    ),
    _f(
        "ts",
        "timestamp",
        "timestamp",
        "time",
        "datetime",
        "date",
        "event_time",
        "Дата",
        required=True,
    ),
    _f("name", "text", "event", "event_name", "type", "Событие", required=True),
    _f("properties", "json", "props", "params", "payload"),
)

_CDNOW = (
    _f("customer_id", "id", required=True),
    _f("created_at", "timestamp", "date", required=True),
    _f("quantity", "integer", "number_of_cds"),
    _f("amount", "amount", "dollar_value", required=True),
)

PRESETS: Mapping[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "generic",
            "orders",
            "Any orders CSV/XLSX/Parquet; headers matched by common names, or --map col=field",
            _ORDER_GENERIC,
            default_status="paid",
            example="livebase ingest orders orders.csv --map 'Order No=order_id' --map Total=amount",
        ),
        Preset(
            "getcourse",
            "orders",
            "GetCourse orders (deals) export, as downloaded or as re-saved by Russian Excel",
            _GETCOURSE_ORDERS,
            example="livebase ingest orders ~/Downloads/orders.csv --preset getcourse",
        ),
        Preset(
            "getcourse-payments",
            "orders",
            "GetCourse payments export: each payment loads as a row of orders "
            "(load deals or payments as the revenue source, not both)",
            _GETCOURSE_PAYMENTS,
        ),
        Preset(
            "cdnow",
            "orders",
            "CDNOW purchase logs (CDNOW_master.txt with header, CDNOW_sample.txt without)",
            _CDNOW,
            layout="whitespace",
            headerless_columns={
                4: ("customer_id", "created_at", "quantity", "amount"),
                5: ("customer_id", "sample_customer_id", "created_at", "quantity", "amount"),
            },
            default_status="paid",
            example="livebase ingest orders ../shared/data/CDNOW_master.txt --preset cdnow",
        ),
        Preset(
            "generic-customers",
            "customers",
            "Any customers file: id, email, phone, name, time zone, created date",
            _CUSTOMERS_GENERIC,
        ),
        Preset(
            "getcourse-users",
            "customers",
            "GetCourse users export (duplicated custom-field headers are merged)",
            _GETCOURSE_USERS,
            coalesce_duplicate_headers=True,
            example="livebase ingest customers users.csv --preset getcourse-users",
        ),
        Preset(
            "events",
            "events",
            "Product events (logins, lessons, sessions, cart events…): customer, time, name, "
            "properties (JSON) — other columns become properties",
            _EVENTS,
            example="livebase ingest events events.csv",
        ),
    )
}
