"""The demo generator: deterministic, realistic in shape, and its files read back exactly."""

from __future__ import annotations

import io
import json
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livebase.demo import (
    MONEY_LABELS,
    ORDER_HEADERS,
    STATUS_LABELS,
    USER_HEADERS,
    DemoData,
    Flavour,
    Kind,
    generate,
    generate_school,
    generate_shop,
    write_demo_files,
    write_events,
    write_getcourse_orders,
)
from livebase.errors import ConfigError

AS_OF = date(2026, 6, 30)
TIMEZONES = {"Europe/Moscow", "Asia/Yekaterinburg", "Asia/Novosibirsk", "Europe/Kaliningrad"}


@pytest.fixture(scope="module")
def school() -> DemoData:
    """The default-size demo (5,000 customers, two years): generation must simply complete."""
    return generate_school(seed=7, as_of=AS_OF)


@pytest.fixture(scope="module")
def small() -> DemoData:
    return generate_school(seed=11, customers=400, as_of=AS_OF)


def _money(cell: str) -> Decimal:
    """Parse an amount as the test's own reader: « руб.», spaces, NBSP, decimal comma."""
    text = cell.removesuffix(" руб.").replace("\u00a0", "").replace(" ", "").replace(",", ".")
    return Decimal(text)


def _read_orders(path: Path, encoding: str) -> pd.DataFrame:
    text = path.read_bytes().decode(encoding)
    return pd.read_csv(io.StringIO(text), sep=";", dtype=str, keep_default_na=False)


def _files_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# --- determinism -------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", ["interface", "excel_ru"])
def test_same_seed_writes_identical_bytes(tmp_path: Path, flavour: Flavour) -> None:
    a = write_demo_files(generate_school(seed=5, customers=300), tmp_path / "a", flavour)
    b = write_demo_files(generate_school(seed=5, customers=300), tmp_path / "b", flavour)
    assert a.events_parquet is None
    assert _files_bytes(tmp_path / "a") == _files_bytes(tmp_path / "b")
    assert a.orders.name == "getcourse_orders.csv"
    assert b.users.read_bytes() == a.users.read_bytes()


def test_different_seeds_give_different_files(tmp_path: Path) -> None:
    write_demo_files(generate_school(seed=5, customers=300), tmp_path / "a")
    write_demo_files(generate_school(seed=6, customers=300), tmp_path / "b")
    a, b = _files_bytes(tmp_path / "a"), _files_bytes(tmp_path / "b")
    assert all(a[name] != b[name] for name in a)


def test_generation_is_pure_tables_equal_for_same_arguments() -> None:
    a = generate_school(seed=3, customers=200, as_of=date(2025, 3, 1), years=1.0)
    b = generate_school(seed=3, customers=200, as_of=date(2025, 3, 1), years=1.0)
    pd.testing.assert_frame_equal(a.customers, b.customers)
    pd.testing.assert_frame_equal(a.orders, b.orders)
    pd.testing.assert_frame_equal(a.events, b.events)


# --- realistic shapes of the default demo ------------------------------------------------


def test_default_size_is_a_mid_sized_school(school: DemoData) -> None:
    assert len(school.customers) == 5000
    assert 10_000 <= len(school.orders) <= 25_000
    assert 200_000 <= len(school.events) <= 400_000


def test_every_status_label_and_store_status_occurs(school: DemoData) -> None:
    assert set(school.orders["source_status"]) == set(STATUS_LABELS)
    assert set(school.orders["status"]) == {
        "paid",
        "partially_paid",
        "pending",
        "cancelled",
        "refunded",
    }
    mapped = [STATUS_LABELS[x] for x in school.orders["source_status"]]
    assert list(school.orders["status"]) == [s for s, _ in mapped]
    assert list(school.orders["return_requested"]) == [r for _, r in mapped]


def test_status_shares_are_realistic(school: DemoData) -> None:
    share = school.orders["status"].value_counts(normalize=True)
    assert 0.55 <= share["paid"] <= 0.75
    assert 0.02 <= share["partially_paid"] <= 0.08
    assert 0.005 <= share["refunded"] <= 0.04
    assert 0.10 <= share["cancelled"] <= 0.25
    assert 0.05 <= share["pending"] <= 0.15


def test_repeat_buyers_and_never_paid_customers_are_both_common(school: DemoData) -> None:
    paying = school.orders[school.orders["status"].isin(["paid", "partially_paid"])]
    per_customer = paying.groupby("customer_id").size()
    repeat_share = float((per_customer > 1).mean())
    never_paid = 1 - per_customer.size / len(school.customers)
    assert 0.35 <= repeat_share <= 0.85
    assert 0.25 <= never_paid <= 0.50
    # Some who never paid still left an unpaid order behind.
    unpaid_only = set(school.orders["customer_id"]) - set(per_customer.index)
    assert len(unpaid_only) > 100


def test_registrations_grow_over_the_period(school: DemoData) -> None:
    created = school.customers["created_at"]
    start = pd.Timestamp(AS_OF) - pd.Timedelta(days=731)
    first_q = int((created < start + pd.Timedelta(days=91)).sum())
    last_q = int((created >= pd.Timestamp(AS_OF) - pd.Timedelta(days=91)).sum())
    assert last_q > 2 * first_q
    assert created.min() >= start
    assert created.max() < pd.Timestamp(AS_OF)


def test_orders_follow_their_customer_and_payment_follows_creation(school: DemoData) -> None:
    orders = school.orders.merge(
        school.customers[["customer_id", "created_at"]], on="customer_id", suffixes=("", "_reg")
    )
    assert len(orders) == len(school.orders)
    assert (orders["created_at"] >= orders["created_at_reg"]).all()
    paid = orders["paid_at"].notna()
    assert (orders.loc[paid, "paid_at"] >= orders.loc[paid, "created_at"]).all()
    assert (orders["created_at"] < pd.Timestamp(AS_OF)).all()
    assert (orders.loc[paid, "paid_at"] < pd.Timestamp(AS_OF)).all()
    refunded = orders["status"] == "refunded"
    assert (orders.loc[refunded, "refunded_at"] > orders.loc[refunded, "paid_at"]).all()
    assert orders.loc[~refunded, "refunded_at"].isna().all()


def test_payment_date_exactly_on_the_orders_that_received_money(school: DemoData) -> None:
    o = school.orders
    money = o["source_status"].isin(MONEY_LABELS)
    assert (o["paid_at"].notna() == money).all()
    assert (o["payment_system"].notna() == money).all()


def test_amounts_match_each_status(school: DemoData) -> None:
    o = school.orders
    assert all(isinstance(x, Decimal) and x.as_tuple().exponent == -2 for x in o["amount"])
    amount, paid, back = o["amount"], o["paid_amount"], o["refunded_amount"]
    full = o["status"] == "paid"
    part = o["status"] == "partially_paid"
    refund = o["status"] == "refunded"
    none = o["status"].isin(["pending", "cancelled"])
    assert (paid[full] == amount[full]).all()
    assert ((paid[part] > 0) & (paid[part] < amount[part])).all()
    assert (paid[refund | none] == 0).all()
    assert (back[refund] == amount[refund]).all()
    assert (back[~refund] == 0).all()
    assert (amount > 0).all()
    assert (o["received"] <= paid + back).all()
    assert (o.loc[refund, "received"] == 0).all()
    assert (o["earned"] <= o["received"]).all()


def test_order_values_cluster_around_list_prices(school: DemoData) -> None:
    amounts = school.orders["amount"].astype(float)
    on_list = amounts.isin([1990.0, 4990.0, 9900.0, 14900.0, 29900.0, 59000.0, 89000.0, 2490.0])
    assert 0.4 <= on_list.mean() <= 0.9  # the rest: promo codes and personal discounts
    with_kopecks = school.orders["amount"].map(lambda d: d != d.to_integral_value())
    assert with_kopecks.sum() > 0
    assert school.orders["promo_code"].notna().mean() > 0.05


def test_order_ids_are_unique_and_numbers_follow_creation(school: DemoData) -> None:
    o = school.orders
    assert o["order_id"].is_unique
    assert list(o["number"]) == list(range(1001, 1001 + len(o)))
    assert o["created_at"].is_monotonic_increasing


def test_contacts_look_russian_and_are_unique(school: DemoData) -> None:
    c = school.customers
    assert c["customer_id"].is_unique and c["email"].is_unique
    assert c["email"].map(lambda e: e.isascii() and re.fullmatch(r"[a-z0-9.]+@[a-z.]+", e)).all()
    assert c["phone"].str.fullmatch(r"\+79\d{9}").all()
    assert c["first_name"].str.fullmatch(r"[А-ЯЁ][а-яё]+").all()
    assert set(c["timezone"]) == TIMEZONES
    assert (c["timezone"] == "Europe/Moscow").mean() > 0.5
    assert c["utm_source"].notna().mean() > 0.5


def test_events_belong_to_registered_customers_and_end_before_as_of(school: DemoData) -> None:
    e = school.events.merge(school.customers[["customer_id", "created_at"]], on="customer_id")
    assert len(e) == len(school.events)
    assert (e["ts"] >= e["created_at"]).all()
    assert (e["ts"] < pd.Timestamp(AS_OF)).all()
    assert set(e["name"]) == {
        "login",
        "session_start",
        "lesson_completed",
        "cart_abandoned",
        "module_paid",
        "course_finished",
    }
    assert all(isinstance(json.loads(p), dict) for p in e["properties"].iloc[::97])


def test_module_paid_events_mirror_the_payments(school: DemoData) -> None:
    paid = school.orders[school.orders["paid_at"].notna()]
    events = school.events[school.events["name"] == "module_paid"]
    from_events = sorted(
        (c, t, json.loads(p)["order_id"])
        for c, t, p in zip(events["customer_id"], events["ts"], events["properties"], strict=True)
    )
    from_orders = sorted(zip(paid["customer_id"], paid["paid_at"], paid["order_id"], strict=True))
    assert from_events == from_orders


def test_lessons_count_up_per_course_and_finishing_follows_the_last(school: DemoData) -> None:
    e = school.events
    lessons = e[e["name"] == "lesson_completed"]
    props = lessons["properties"].map(json.loads)
    frame = pd.DataFrame(
        {
            "customer_id": lessons["customer_id"].to_numpy(),
            "ts": lessons["ts"].to_numpy(),
            "course": [p["course"] for p in props],
            "lesson": [p["lesson"] for p in props],
        }
    )
    expected = frame.groupby(["customer_id", "course"], sort=False).cumcount() + 1
    assert (frame["lesson"] == expected).all()
    finished = e[e["name"] == "course_finished"]["properties"].map(json.loads)
    assert len(finished) > 100
    last = frame.groupby(["customer_id", "course"])["lesson"].max()
    for customer, p in zip(
        e.loc[e["name"] == "course_finished", "customer_id"], finished, strict=True
    ):
        assert last[(customer, p["course"])] == p["lessons"]


def test_churned_customers_fall_silent_and_stop_ordering(school: DemoData) -> None:
    c, o, e = school.customers, school.orders, school.events
    churned = c[c["churned_at"].notna()].set_index("customer_id")["churned_at"]
    after = o[o["customer_id"].isin(churned.index)]
    assert (after["created_at"] <= after["customer_id"].map(churned)).all()
    recent = set(e.loc[e["ts"] >= pd.Timestamp(AS_OF) - pd.Timedelta(days=30), "customer_id"])
    alive = c[c["buyer"] & c["churned_at"].isna()]["customer_id"]
    long_gone = churned[churned < pd.Timestamp(AS_OF) - pd.Timedelta(days=180)].index
    assert np.mean([x in recent for x in alive]) > 0.6
    assert np.mean([x in recent for x in long_gone]) < 0.05


def test_customers_who_drop_out_more_easily_buy_less(school: DemoData) -> None:
    c = school.customers[school.customers["buyer"] & ~school.customers["subscriber"]]
    paying = school.orders[school.orders["status"].isin(["paid", "partially_paid"])]
    counts = paying.groupby("customer_id").size().reindex(c["customer_id"], fill_value=0)
    rho = pd.Series(counts.to_numpy()).corr(
        pd.Series(c["dropout_prob"].to_numpy()), method="spearman"
    )
    assert rho < -0.2
    rho_rate = pd.Series(counts.to_numpy()).corr(
        pd.Series(c["purchase_rate"].to_numpy()), method="spearman"
    )
    assert rho_rate > 0.2


# --- written files -----------------------------------------------------------------------


def test_interface_export_is_utf8_bom_iso_dates_plain_decimals(
    small: DemoData, tmp_path: Path
) -> None:
    files = write_demo_files(small, tmp_path, "interface")
    raw = files.orders.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" not in raw
    table = _read_orders(files.orders, "utf-8-sig")
    assert tuple(table.columns) == ORDER_HEADERS
    headers = list(table.columns)
    assert headers.index("Менеджер") == headers.index("Title") + 1
    assert table["Дата создания"].str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").all()
    assert table["Стоимость, RUB"].str.fullmatch(r"\d+\.\d\d").all()
    unpaid = ~table["Статус"].isin(MONEY_LABELS)
    assert (table.loc[unpaid, "Дата оплаты"] == "").all()
    assert (table.loc[~unpaid, "Дата оплаты"] != "").all()


def test_excel_ru_export_is_cp1251_crlf_with_decimal_commas(
    small: DemoData, tmp_path: Path
) -> None:
    files = write_demo_files(small, tmp_path, "excel_ru")
    for path in (files.orders, files.users):
        raw = path.read_bytes()
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
        raw.decode("cp1251")
        assert raw.count(b"\r\n") == raw.count(b"\n") > 1
    text = files.orders.read_bytes().decode("cp1251")
    table = _read_orders(files.orders, "cp1251")
    cost = table["Стоимость, RUB"]
    assert cost.str.fullmatch(r"\d{1,3}([ \u00a0]\d{3})*,\d\d( руб\.)?").all()
    assert cost.str.contains("\u00a0").any() and cost.str.contains(r"\d \d").any()
    assert cost.str.endswith(" руб.").any() and not cost.str.endswith(" руб.").all()
    assert table["Дата создания"].str.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d").all()
    assert "Завершен" in text and "Частично оплачен" in text


@pytest.mark.parametrize(
    ("flavour", "encoding"), [("interface", "utf-8-sig"), ("excel_ru", "cp1251")]
)
def test_rereading_the_orders_export_gives_the_same_totals_to_the_kopeck(
    small: DemoData, tmp_path: Path, flavour: Flavour, encoding: str
) -> None:
    path = write_getcourse_orders(small.orders, tmp_path / "orders.csv", flavour)
    table = _read_orders(path, encoding)
    o = small.orders
    assert len(table) == len(o)
    assert list(table["ID заказа"]) == list(o["order_id"])
    for column in ("Стоимость, RUB", "Оплачено", "Получено", "Заработано"):
        table[column] = table[column].map(_money)
    assert sum(table["Стоимость, RUB"]) == sum(o["amount"])
    assert sum(table["Получено"]) == sum(o["received"])
    assert sum(table["Заработано"]) == sum(o["earned"])
    revenue_labels = {"Завершен", "Частично оплачен", "Ожидаем возврата"}
    revenue = table.loc[table["Статус"].isin(revenue_labels), "Оплачено"]
    assert sum(revenue) == sum(o["paid_amount"])
    returned = table.loc[table["Статус"] == "Возврат", "Оплачено"]
    assert sum(returned) == sum(o["refunded_amount"]) > 0
    assert (table.loc[~table["Статус"].isin(MONEY_LABELS), "Оплачено"] == 0).all()
    by_status = table.groupby("Статус")["Оплачено"].sum()
    expected = (
        pd.DataFrame({"s": o["source_status"], "v": o["paid_amount"] + o["refunded_amount"]})
        .groupby("s")["v"]
        .sum()
    )
    assert by_status.to_dict() == expected.to_dict()
    fmt = "%Y-%m-%d %H:%M:%S" if flavour == "interface" else "%d.%m.%Y %H:%M"
    paid_at = pd.to_datetime(table["Дата оплаты"].replace("", None), format=fmt)
    truth = o["paid_at"] if flavour == "interface" else o["paid_at"].dt.floor("min")
    assert (paid_at.fillna(pd.Timestamp(0)) == truth.fillna(pd.Timestamp(0))).all()


@pytest.mark.parametrize(
    ("flavour", "encoding"), [("interface", "utf-8-sig"), ("excel_ru", "cp1251")]
)
def test_users_export_reads_back(
    small: DemoData, tmp_path: Path, flavour: Flavour, encoding: str
) -> None:
    files = write_demo_files(small, tmp_path, flavour)
    table = _read_orders(files.users, encoding)
    assert tuple(table.columns) == USER_HEADERS
    c = small.customers
    assert list(table["id"]) == list(c["customer_id"])
    assert list(table["Email"]) == list(c["email"])
    assert list(table["Фамилия"]) == list(c["last_name"])
    fmt = "%Y-%m-%d %H:%M:%S" if flavour == "interface" else "%d.%m.%Y %H:%M"
    created = pd.to_datetime(table["Создан"], format=fmt)
    truth = c["created_at"] if flavour == "interface" else c["created_at"].dt.floor("min")
    assert (created.to_numpy() == truth.to_numpy()).all()
    assert (pd.to_datetime(table["Последняя активность"], format=fmt) >= created).all()


def test_events_csv_and_parquet_read_back_identically(small: DemoData, tmp_path: Path) -> None:
    files = write_demo_files(small, tmp_path, parquet=True)
    assert files.events_parquet is not None
    raw = files.events.read_bytes()
    assert raw.startswith(b"customer_id,ts,name,properties\n")
    csv = pd.read_csv(files.events, dtype=str, keep_default_na=False)
    e = small.events
    assert list(csv["customer_id"]) == list(e["customer_id"])
    assert list(pd.to_datetime(csv["ts"])) == list(e["ts"])
    assert [json.loads(p) for p in csv["properties"]] == [json.loads(p) for p in e["properties"]]
    parquet = pd.read_parquet(files.events_parquet)
    assert list(parquet["name"]) == list(e["name"])
    assert list(parquet["ts"]) == list(e["ts"])
    assert list(parquet["properties"]) == list(e["properties"])


def test_write_events_picks_parquet_by_suffix(small: DemoData, tmp_path: Path) -> None:
    path = write_events(small.events.head(10), tmp_path / "ev.parquet")
    assert path.read_bytes()[:4] == b"PAR1"


# --- the shop flavour, arguments, invariants ---------------------------------------------


def test_shop_sells_goods_with_quantities_and_views_products() -> None:
    shop = generate_shop(seed=2, customers=600)
    names = set(shop.events["name"])
    assert {"product_viewed", "order_paid", "cart_abandoned"} <= names
    assert not names & {"lesson_completed", "course_finished", "module_paid"}
    assert (shop.orders["quantity"] > 1).any()
    assert shop.kind == "shop"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"customers": 0}, "at least one customer"),
        ({"years": 0}, "years must be"),
        ({"as_of": date(1972, 1, 1), "years": 5}, "after 1970"),
        ({"kind": "zoo"}, "unknown demo kind"),
    ],
)
def test_bad_arguments_say_what_to_change(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        generate(**kwargs)  # type: ignore[arg-type]


def test_a_single_customer_base_is_well_formed() -> None:
    data = generate_school(seed=0, customers=1)
    assert len(data.customers) == 1
    assert set(data.orders["customer_id"]) <= set(data.customers["customer_id"])


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    customers=st.integers(1, 80),
    as_of=st.dates(date(2015, 1, 1), date(2035, 12, 31)),
    years=st.floats(0.05, 4.0),
    kind=st.sampled_from(["school", "shop"]),
)
def test_invariants_hold_for_any_seed_size_and_date(
    seed: int, customers: int, as_of: date, years: float, kind: Kind
) -> None:
    data = generate(kind, seed=seed, customers=customers, as_of=as_of, years=years)
    end = pd.Timestamp(as_of)
    start = end - pd.Timedelta(days=round(years * 365.25))
    c, o, e = data.customers, data.orders, data.events
    assert c["created_at"].between(start, end - timedelta(seconds=1)).all()
    reg = o["customer_id"].map(c.set_index("customer_id")["created_at"])
    assert (o["created_at"] >= reg).all() and (o["created_at"] < end).all()
    paid = o["paid_at"].notna()
    assert (o.loc[paid, "paid_at"] >= o.loc[paid, "created_at"]).all()
    assert (o.loc[paid, "paid_at"] < end).all()
    assert (o["paid_amount"] <= o["amount"]).all()
    ev_reg = e["customer_id"].map(c.set_index("customer_id")["created_at"])
    assert ev_reg.notna().all() and (e["ts"] >= ev_reg).all() and (e["ts"] < end).all()


def test_a_school_sells_each_course_once_and_modules_in_sequence(school: DemoData) -> None:
    """Issue 13: nobody buys the same single module again; module 2 follows module 1."""
    o = school.orders
    money = o[o["paid_at"].notna()]
    single = money[~money["items"].str.contains("Подписка")]
    assert int((single.groupby(["customer_id", "items"]).size() > 1).sum()) == 0
    modules = single[single["items"].str.contains("Модуль")].sort_values("created_at")
    firsts = modules.groupby("customer_id")["items"].first()
    assert firsts.str.endswith("Модуль 1").all()


def test_purchase_frequencies_are_those_of_an_online_school(school: DemoData) -> None:
    """Non-subscribers buy at most about a course every two months; subscribers renew monthly."""
    o = school.orders
    paid = o[o["status"].isin(["paid", "partially_paid"])]
    subs = paid[paid["items"].str.contains("Подписка")]
    courses = paid[~paid["items"].str.contains("Подписка")]
    assert courses.groupby("customer_id").size().max() <= 9  # the catalogue, once each
    per_buyer = paid.groupby("customer_id").size()
    assert per_buyer.max() <= 30 and (per_buyer >= 20).sum() <= 20
    assert 1.2 <= per_buyer.mean() <= 3.5
    assert subs.groupby("customer_id").size().max() >= 6  # renewals do happen
