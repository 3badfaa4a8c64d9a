"""Real-world exports that were mishandled: one corpus file per kind of failure (issue 11).

Each kind is a class of input, not one file: the files in ``corpus/`` (described in its
README) are small instances. Three outcomes, checked against the same baseline store as the
malformed corpus (``test_malformed``):

- refused row by row (``Bad``): the first offending row, column and value are named, and the
  store is unchanged — values that do not fit their type, Excel-mangled ids, conflicting
  duplicates, negative or missing paid amounts, an unknown customer;
- refused whole (``Refused``): the message says what the file is (a ZIP archive, a file whose
  UTF-8 mark lies) or names the line of a bad byte;
- loaded (``Loads``): valid files once refused or loaded wrong now load with exactly the
  expected orders and revenue (UTF-16, gzip, header line breaks, Excel's bare separator rows,
  brackets in a name, Parquet decimals, time zones, quotes in column names, float artefacts).
"""

from __future__ import annotations

import re
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_malformed import (
    CORPUS,
    LOADED_AT,
    XLSX_HEADER,
    Bad,
    Refused,
    _refuse,
    snapshot,
)

from livebase.errors import InputValidationError
from livebase.ingest import PRESETS, LoadOptions, expand_inputs, load_file
from livebase.store import Store

# ---------------------------------------------------------------------------------------------
# files the corpus cannot hold as text


def _xlsx_div0_in_price(target: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(XLSX_HEADER)
    sheet.append(["7101", "401", "a@example.ru", datetime(2026, 3, 1, 10), "Завершен", 14900])
    sheet.append(["7102", "402", "b@example.ru", datetime(2026, 3, 2, 10), "Завершен", "#DIV/0!"])
    workbook.save(target)
    assert sheet["F3"].data_type == "e"  # type: ignore[index]  (an error cell, as Excel saves it)


def _xlsx_float_artefact(target: Path) -> None:
    """A formula price Excel stored as 14564.749999999998 and shows as 14 564,75."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(XLSX_HEADER)
    sheet.append(["7101", "401", "a@example.ru", datetime(2026, 3, 1, 10), "Завершен", 14564.5])
    workbook.save(target)
    # openpyxl rounds floats to 16 digits on save; Excel writes all 17
    with zipfile.ZipFile(target) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    sheet_xml = parts["xl/worksheets/sheet1.xml"]
    assert b"<v>14564.5</v>" in sheet_xml
    parts["xl/worksheets/sheet1.xml"] = sheet_xml.replace(
        b"<v>14564.5</v>", b"<v>14564.749999999998</v>"
    )
    with zipfile.ZipFile(target, "w") as out:
        for name, data in parts.items():
            out.writestr(name, data)


def _parquet_tz_aware(target: Path) -> None:
    moments = [datetime(2026, 3, 1, 10, 0, tzinfo=UTC)] * 2
    table = pa.table(
        {
            "order_id": ["P1", "P2"],
            "customer_id": ["c1", "c2"],
            "date": pa.array(moments, pa.timestamp("us", tz="UTC")),
            "amount": ["10.00", "20.00"],
        }
    )
    pq.write_table(table, target)


def _parquet_decimal_38_9(target: Path) -> None:
    table = pa.table(
        {
            "order_id": ["P1", "P2"],
            "customer_id": ["c1", "c2"],
            "date": ["2026-01-05", "2026-01-06"],
            "amount": pa.array([Decimal("10.5"), Decimal("1234")], pa.decimal128(38, 9)),
        }
    )
    pq.write_table(table, target)


def _parquet_quote_in_column_name(target: Path) -> None:
    table = pa.table(
        {
            "order_id": ["P1"],
            "customer_id": ["c1"],
            "date": ["2026-01-05"],
            "amount": ["5.00"],
            'utm "campaign"': ["spring"],
        }
    )
    pq.write_table(table, target)


GENERATED: dict[str, Callable[[Path], None]] = {
    "excel_error_div0_in_price_row_3.xlsx": _xlsx_div0_in_price,
    "xlsx_formula_price_14564_749999999998.xlsx": _xlsx_float_artefact,
    "parquet_tz_aware_timestamps.parquet": _parquet_tz_aware,
    "parquet_decimal_38_9_amounts.parquet": _parquet_decimal_38_9,
    "parquet_column_name_with_a_quote.parquet": _parquet_quote_in_column_name,
}


def materialise(name: str, folder: Path) -> Path:
    target = folder / name
    if name in GENERATED:
        GENERATED[name](target)
    else:
        shutil.copyfile(CORPUS / name, target)
    return target


def _options(preset: str, **extra: Any) -> LoadOptions:
    return LoadOptions(PRESETS[preset], loaded_at=LOADED_AT, clock=lambda: LOADED_AT, **extra)


# ---------------------------------------------------------------------------------------------
# refused row by row


def _bad(case: Bad) -> Any:
    return pytest.param(case, id=case.file)


BAD = [
    # a value that does not fit its type is a row error, never a traceback
    _bad(
        Bad(
            "amount_17_digits_row_3.csv",
            "getcourse",
            3,
            "Стоимость, RUB",
            "12345678901234567.00",
            "too large for an amount",
        )
    ),
    _bad(
        Bad(
            "cdnow_quantity_over_2_31_row_3.txt",
            "cdnow",
            3,
            "number_of_cds",
            "3000000000",
            "too large for a whole number",
        )
    ),
    # the right row whatever the quoting
    _bad(
        Bad(
            "blank_line_in_quoted_cell_then_impossible_date_row_3.csv",
            "generic",
            3,
            "date",
            "2026-02-30",
            "not a date on the calendar",
        )
    ),
    # the delimiter by parsing consistency: the bad row is named, not the whole file
    _bad(
        Bad(
            "comma_in_header_and_titles_extra_column_row_4.csv",
            "getcourse",
            4,
            "(whole row)",
            "Курс Go",
            "has 12 columns, the header has 11",
        )
    ),
    _bad(
        Bad(
            "excel_error_div0_in_price_row_3.xlsx",
            "getcourse",
            3,
            "Стоимость, RUB",
            "#DIV/0!",
            "a spreadsheet error (#DIV/0!)",
        )
    ),
    # silently wrong loads, now refused
    _bad(
        Bad(
            "negative_paid_amount_completed_row_3.csv",
            "getcourse",
            3,
            "Оплачено",
            "-14900.00",
            "negative paid amount on an order that is not a refund",
        )
    ),
    _bad(
        Bad(
            "cdnow_thousands_space_in_amount_row_3.txt",
            "cdnow",
            3,
            "(whole row)",
            "00002 19970112 2 1 234.00",
            "has 5 values separated by spaces, expected 4",
        )
    ),
    _bad(
        Bad(
            "order_ids_in_scientific_notation_rows_2_3_cp1251.csv",
            "getcourse",
            2,
            "ID заказа",
            "5,00E+06",
            "scientific notation",
            total=2,
            also_rows=(3,),
        )
    ),
    _bad(
        Bad(
            "duplicate_order_id_different_amounts_rows_2_4.csv",
            "getcourse",
            2,
            "ID заказа",
            "7001",
            "order id 7001 is on 2 rows of this file (rows 2, 4)",
            total=2,
            also_rows=(4,),
        )
    ),
    _bad(
        Bad(
            "partially_paid_empty_paid_amount_row_3.csv",
            "getcourse",
            3,
            "Оплачено",
            None,
            "partially paid, but the paid amount is empty",
        )
    ),
    _bad(
        Bad(
            "no_customer_id_unknown_email_row_3.csv",
            "getcourse",
            3,
            "ID пользователя",
            None,
            "no known customer has this email or phone",
        )
    ),
]


@pytest.mark.parametrize("case", BAD)
def test_a_real_world_file_with_bad_rows_is_refused_naming_row_column_and_value(
    case: Bad, store: Store, tmp_path: Path
) -> None:
    path = materialise(case.file, tmp_path)
    error = _refuse(store, path, case.preset)
    message = str(error)

    assert isinstance(error, InputValidationError), message
    assert message.startswith(f"{path}: ")
    assert error.total == case.total, message
    first = error.problems[0]
    assert (first.row, first.column) == (case.row, case.column), message
    if case.column == "(whole row)":
        assert case.value is not None and case.value in (first.value or "")
    else:
        assert first.value == case.value
    assert case.problem in first.problem
    assert f"row {case.row}, column '{case.column}': " in message
    for row in case.also_rows:
        assert re.search(rf"^  row {row}, ", message, re.MULTILINE), f"row {row} not listed"
    assert "Traceback" not in message


# ---------------------------------------------------------------------------------------------
# refused whole, saying what the file is


REFUSED = [
    pytest.param(
        Refused("bad_byte_cp1251_line_5.csv", "getcourse", ("0x98", "Windows-1251"), row=5),
        id="bad_byte_cp1251_line_5.csv",
    ),
    pytest.param(
        Refused(
            "bom_utf8_but_cp1251_text.csv",
            "getcourse",
            ("UTF-8 mark (BOM)", "Windows-1251", "--encoding cp1251"),
        ),
        id="bom_utf8_but_cp1251_text.csv",
    ),
    pytest.param(
        Refused("zip_archive_named_xlsx.xlsx", "getcourse", ("ZIP archive", "orders.csv")),
        id="zip_archive_named_xlsx.xlsx",
    ),
]


@pytest.mark.parametrize("case", REFUSED)
def test_a_real_world_file_that_cannot_be_read_says_what_it_is(
    case: Refused, store: Store, tmp_path: Path
) -> None:
    path = materialise(case.file, tmp_path)
    error = _refuse(store, path, case.preset)
    message = str(error)

    assert message.startswith(f"{path}: ")
    for fragment in case.says:
        assert fragment in message, message
    if case.row is not None:
        assert re.search(rf"\b(row|line) {case.row}\b", message), message


def test_a_file_whose_utf8_mark_lies_loads_when_told_its_encoding(
    store: Store, tmp_path: Path
) -> None:
    path = materialise("bom_utf8_but_cp1251_text.csv", tmp_path)
    result = load_file(store, str(path), _options("getcourse", encoding="cp1251"))

    assert result.rows_read == 2
    name = store.fetch_value("SELECT name FROM customers WHERE customer_id = '302'")
    assert name == "Борис"


# ---------------------------------------------------------------------------------------------
# loaded, with exactly the expected orders and revenue


@dataclass(frozen=True)
class Loads:
    """A valid file that must load: order id → (customer id, paid amount)."""

    file: str
    preset: str
    orders: dict[str, tuple[str, str]]
    encoding: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    created_at: dict[str, datetime] = field(default_factory=dict)
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)


GETCOURSE_TWO = {"7001": ("301", "14900.00"), "7002": ("302", "0.00")}

LOADS = [
    pytest.param(
        Loads("utf16_le_with_bom.csv", "getcourse", GETCOURSE_TWO, "utf-16-le"), id="utf16"
    ),
    pytest.param(
        Loads("utf16_le_tab_no_bom.txt", "getcourse", GETCOURSE_TWO, "utf-16-le"),
        id="utf16-tab-no-bom",
    ),
    pytest.param(Loads("gzip_named_csv.csv", "getcourse", GETCOURSE_TWO, "gzip"), id="gzip"),
    pytest.param(
        Loads(
            "header_discount_price_beside_price_getcourse.csv",
            "getcourse",
            GETCOURSE_TWO,
            attributes={"7002": {"Стоимость со скидкой": "25900.00"}},
        ),
        id="discount-price-header",
    ),
    pytest.param(
        Loads(
            "header_with_line_breaks_getcourse.csv",
            "getcourse",
            GETCOURSE_TWO,
            created_at={"7001": datetime(2026, 3, 1, 10, 20)},
        ),
        id="header-line-breaks",
    ),
    pytest.param(
        Loads("trailing_bare_separator_rows_cp1251.csv", "getcourse", GETCOURSE_TWO, "cp1251"),
        id="bare-separator-rows",
    ),
    pytest.param(Loads("orders [copy] (2).csv", "getcourse", GETCOURSE_TWO), id="brackets"),
    pytest.param(
        Loads(
            "no_customer_id_email_of_known_customer.csv", "getcourse", {"7005": ("301", "9900.00")}
        ),
        id="known-email",
    ),
    pytest.param(
        Loads(
            "parquet_tz_aware_timestamps.parquet",
            "generic",
            {"P1": ("c1", "10.00"), "P2": ("c2", "20.00")},
            options={"timezone": "Europe/Moscow"},
            created_at={"P1": datetime(2026, 3, 1, 13, 0)},
        ),
        id="parquet-tz",
    ),
    pytest.param(
        Loads(
            "parquet_decimal_38_9_amounts.parquet",
            "generic",
            {"P1": ("c1", "10.50"), "P2": ("c2", "1234.00")},
        ),
        id="parquet-decimal-38-9",
    ),
    pytest.param(
        Loads(
            "parquet_column_name_with_a_quote.parquet",
            "generic",
            {"P1": ("c1", "5.00")},
            attributes={"P1": {'utm "campaign"': "spring"}},
        ),
        id="parquet-quote-in-name",
    ),
    pytest.param(
        Loads(
            "xlsx_formula_price_14564_749999999998.xlsx",
            "getcourse",
            {"7101": ("401", "14564.75")},
        ),
        id="xlsx-float-artefact",
    ),
]


@pytest.mark.parametrize("case", LOADS)
def test_a_valid_real_world_file_loads_exactly_its_orders_and_revenue(
    case: Loads, store: Store, tmp_path: Path
) -> None:
    path = materialise(case.file, tmp_path)
    (item,) = expand_inputs([str(path)])
    customers_before = snapshot(store)["customers"][0]
    known = {r[0] for r in store.con.execute("SELECT customer_id FROM customers").fetchall()}

    result = load_file(store, item, _options(case.preset, **case.options))

    assert result.rows_read == len(case.orders)
    assert result.rows_rejected == 0
    if case.encoding:
        assert case.encoding in result.encoding
    placeholders = ", ".join("?" for _ in case.orders)
    stored = {
        str(r[0]): (str(r[1]), f"{r[2]:.2f}")
        for r in store.con.execute(
            f"SELECT order_id, customer_id, paid_amount FROM orders WHERE order_id IN ({placeholders})",
            list(case.orders),
        ).fetchall()
    }
    assert stored == case.orders
    new_customers = {c for c, _ in case.orders.values()} - known
    assert snapshot(store)["customers"][0] == customers_before + len(new_customers)
    for order_id, moment in case.created_at.items():
        row = store.con.execute(
            "SELECT coalesce(paid_at, created_at) FROM orders WHERE order_id = ?", [order_id]
        ).fetchone()
        assert row is not None and row[0] == moment
    for order_id, attributes in case.attributes.items():
        for key, value in attributes.items():
            got = store.con.execute(
                "SELECT json_extract_string(attributes, ?) FROM orders WHERE order_id = ?",
                ["$." + '"' + key.replace('"', '\\"') + '"', order_id],
            ).fetchone()
            assert got is not None and got[0] == value


def test_a_missing_customer_id_never_makes_up_a_customer(store: Store, tmp_path: Path) -> None:
    path = materialise("no_customer_id_email_of_known_customer.csv", tmp_path)
    before = snapshot(store)["customers"]
    load_file(store, str(path), _options("getcourse"))

    assert snapshot(store)["customers"][0] == before[0]
    phantom = store.fetch_value("SELECT count(*) FROM customers WHERE customer_id LIKE '%@%'")
    assert phantom == 0


def test_every_new_corpus_file_has_a_case() -> None:
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    described = set(re.findall(r"^- `([^`]+)`", readme, re.MULTILINE))
    tested = {p.values[0].file for p in [*BAD, *REFUSED, *LOADS]}  # type: ignore[union-attr]

    assert tested <= described
    assert set(GENERATED) <= tested
