"""The malformed-input corpus: every broken file is refused whole with an error a person can act on.

Each file of ``tests/ingest/corpus`` (described one per line in its README) is loaded into a
store that already holds a previous valid load. The load must fail with the expected error
type; the message must name the file and, where one row is at fault, the row as a spreadsheet
numbers it (header = row 1), the column header and the value; and the store must be exactly as
it was (row counts and a checksum of every table's contents). A few files are also loaded with
``skip_bad_rows``: the valid rows load, the counts add up to the rows read, and the rejected
rows are listed with their reasons in a file beside the input.

A file whose quoting is broken (a quote never closed) is refused even with ``skip_bad_rows``:
after the open quote, rows cannot be told apart, so none may be guessed at.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from livebase.cli import main
from livebase.errors import IngestError, InputValidationError
from livebase.ingest import PRESETS, LoadOptions, LoadResult, load_file
from livebase.store import Store

CORPUS = Path(__file__).parent / "corpus"
LOADED_AT = datetime(2026, 11, 22, 12, 0)
TABLES = ("orders", "customers", "events", "loads", "customer_state")

# ---------------------------------------------------------------------------------------------
# files the corpus cannot hold as text: written here, with openpyxl and pyarrow

XLSX_HEADER = ["ID заказа", "ID пользователя", "Email", "Дата создания", "Статус", "Стоимость, RUB"]


def _xlsx_impossible_date(target: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(XLSX_HEADER)
    sheet.append(["7101", "401", "a@example.ru", datetime(2026, 3, 1, 10), "Завершен", 14900])
    sheet.append(["7102", "402", "b@example.ru", "31.02.2024", "Завершен", 100.5])
    sheet.append(["7103", "403", "c@example.ru", datetime(2026, 3, 2, 10), "Завершен", 200])
    workbook.save(target)


def _xlsx_empty_row_then_impossible_date(target: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(XLSX_HEADER)
    sheet.append(["7101", "401", "a@example.ru", datetime(2026, 3, 1, 10), "Завершен", 14900])
    sheet.append([])  # row 3 stays empty, as a spreadsheet shows it
    sheet.append(["7102", "402", "b@example.ru", "31.02.2024", "Завершен", 100.5])
    workbook.save(target)
    assert openpyxl.load_workbook(target).active["D4"].value == "31.02.2024"  # type: ignore[index]


def _parquet_bad_amount(target: Path) -> None:
    table = pa.table(
        {
            "order_id": ["A1", "A2", "A3"],
            "customer_id": ["c1", "c2", "c3"],
            "date": ["2026-01-05", "2026-01-06", "2026-01-07"],
            "amount": ["10.50", "n/a", "7.25"],
        }
    )
    pq.write_table(table, target)


def _parquet_three_decimals(target: Path) -> None:
    table = pa.table(
        {
            "order_id": ["A1", "A2"],
            "customer_id": ["c1", "c2"],
            "date": pa.array([datetime(2026, 1, 5), datetime(2026, 1, 6)]),
            "amount": pa.array([10.5, 3.125]),
        }
    )
    pq.write_table(table, target)


GENERATED: dict[str, Callable[[Path], None]] = {
    "impossible_date_row_3.xlsx": _xlsx_impossible_date,
    "empty_row_3_then_impossible_date_row_4.xlsx": _xlsx_empty_row_then_impossible_date,
    "bad_amount_row_3.parquet": _parquet_bad_amount,
    "amount_three_decimals_row_3.parquet": _parquet_three_decimals,
}


def materialise(name: str, folder: Path) -> Path:
    """Copy a corpus file (or write a generated one) into ``folder``; never write into tests/."""
    target = folder / name
    if name in GENERATED:
        GENERATED[name](target)
    else:
        shutil.copyfile(CORPUS / name, target)
    return target


# ---------------------------------------------------------------------------------------------
# the store: a previous valid load, and a snapshot to compare against


def _options(preset: str, *, skip_bad_rows: bool = False) -> LoadOptions:
    return LoadOptions(
        PRESETS[preset],
        loaded_at=LOADED_AT,
        skip_bad_rows=skip_bad_rows,
        clock=lambda: LOADED_AT,
    )


def snapshot(store: Store) -> dict[str, tuple[int, str]]:
    """Row count and a digest of the full contents of every table a load writes."""
    state = {}
    for table in TABLES:
        row = store.con.execute(
            f"SELECT count(*), md5(coalesce(string_agg(CAST(t AS VARCHAR), '|' "
            f"ORDER BY CAST(t AS VARCHAR)), '')) FROM {table} t"
        ).fetchone()
        assert row is not None
        state[table] = (int(row[0]), str(row[1]))
    return state


# ---------------------------------------------------------------------------------------------
# the corpus


@dataclass(frozen=True)
class Bad:
    """A file refused row by row: the first offending cell, and how many rows are bad."""

    file: str
    preset: str
    row: int
    column: str
    value: str | None
    problem: str
    total: int = 1
    also_rows: tuple[int, ...] = ()


@dataclass(frozen=True)
class Refused:
    """A file refused as a whole: what the message must say, and the row when one is at fault."""

    file: str
    preset: str
    says: tuple[str, ...]
    row: int | None = None


def _ok(case: Bad | Refused) -> Any:
    return pytest.param(case, id=case.file)


BAD_ROWS = [
    # dates
    _ok(
        Bad(
            "unparseable_date_row_3.csv",
            "getcourse",
            3,
            "Дата создания",
            "вчера вечером",
            "not a date",
        )
    ),
    _ok(
        Bad(
            "impossible_date_31_02_2024_row_4_cp1251.csv",
            "getcourse",
            4,
            "Дата создания",
            "31.02.2024 12:00",
            "not a date on the calendar",
        )
    ),
    _ok(
        Bad(
            "impossible_date_2023_02_29_row_2.csv",
            "generic",
            2,
            "date",
            "2023-02-29",
            "not a date on the calendar",
        )
    ),
    _ok(
        Bad(
            "impossible_date_month_13_row_3.csv",
            "generic",
            3,
            "date",
            "2024-13-01",
            "not a date on the calendar",
        )
    ),
    _ok(
        Bad(
            "crlf_impossible_date_row_3.csv",
            "generic",
            3,
            "date",
            "2026-06-31",
            "not a date on the calendar",
        )
    ),
    _ok(
        Bad(
            "multiline_cell_then_impossible_date_row_3.csv",
            "generic",
            3,
            "date",
            "2026-02-30",
            "not a date on the calendar",
        )
    ),
    _ok(
        Bad(
            "blank_line_then_impossible_date_row_4.csv",
            "generic",
            4,
            "date",
            "2026-02-30",
            "not a date on the calendar",
        )
    ),
    _ok(
        Bad(
            "cdnow_impossible_date_row_2.txt",
            "cdnow",
            2,
            "date",
            "19970231",
            "not a date on the calendar",
        )
    ),
    _ok(
        Bad(
            "date_before_1990_row_3.csv",
            "getcourse",
            3,
            "Дата создания",
            "1989-12-31 23:59:00",
            "1990-01-01",
        )
    ),
    _ok(
        Bad(
            "date_in_future_row_5.csv",
            "getcourse",
            5,
            "Дата оплаты",
            "2027-01-15 10:00:00",
            "2026-11-23",
        )
    ),
    _ok(
        Bad(
            "paid_date_in_future_row_2.csv",
            "generic",
            2,
            "payment_date",
            "2030-11-20",
            "plausible range",
        )
    ),
    _ok(
        Bad(
            "impossible_date_row_3.xlsx",
            "getcourse",
            3,
            "Дата создания",
            "31.02.2024",
            "not a date on the calendar",
        )
    ),
    _ok(
        Bad(
            "empty_row_3_then_impossible_date_row_4.xlsx",
            "getcourse",
            4,
            "Дата создания",
            "31.02.2024",
            "not a date on the calendar",
        )
    ),
    # amounts
    _ok(
        Bad(
            "unparseable_amount_row_3.csv",
            "getcourse",
            3,
            "Стоимость, RUB",
            "двадцать тысяч",
            "not an amount",
        )
    ),
    _ok(
        Bad(
            "amount_three_decimals_row_2.csv",
            "generic",
            2,
            "amount",
            "10.505",
            "more than two decimals",
        )
    ),
    _ok(
        Bad(
            "negative_amount_paid_order_row_3.csv",
            "getcourse",
            3,
            "Стоимость, RUB",
            "-14900.00",
            "negative amount",
        )
    ),
    _ok(Bad("bad_amount_row_3.parquet", "generic", 3, "amount", "n/a", "not an amount")),
    _ok(
        Bad(
            "amount_three_decimals_row_3.parquet",
            "generic",
            3,
            "amount",
            "3.125",
            "more than two decimals",
        )
    ),
    _ok(Bad("quantity_not_whole_row_2.csv", "generic", 2, "qty", "2.5", "not a whole number")),
    # statuses, customers, required cells
    _ok(
        Bad(
            "unknown_status_row_4.csv",
            "getcourse",
            4,
            "Статус",
            "Оплачен частями",
            "unknown status",
        )
    ),
    _ok(
        Bad(
            "partially_paid_without_paid_column_row_2.csv",
            "getcourse",
            2,
            "Статус",
            "Частично оплачен",
            "«Оплачено»",
        )
    ),
    _ok(
        Bad(
            "order_without_customer_row_3.csv",
            "getcourse",
            3,
            "ID пользователя",
            None,
            "no customer",
        )
    ),
    _ok(
        Bad("empty_required_cell_order_id_row_3.csv", "getcourse", 3, "ID заказа", None, "required")
    ),
    _ok(
        Bad(
            "empty_required_cell_amount_row_2.csv",
            "getcourse",
            2,
            "Стоимость, RUB",
            None,
            "required",
        )
    ),
    # events
    _ok(
        Bad(
            "events_invalid_json_properties_row_3.csv",
            "events",
            3,
            "properties",
            "{lesson: 3}",
            "not valid JSON",
        )
    ),
    _ok(Bad("events_empty_timestamp_row_2.csv", "events", 2, "timestamp", None, "required")),
    # structure: the value is the raw line
    _ok(
        Bad(
            "truncated_last_line_row_4.csv",
            "getcourse",
            4,
            "(whole row)",
            "7003;303;Вера;vera@example.ru;2026-03-03 12:00:00",
            "truncated",
        )
    ),
    _ok(
        Bad(
            "too_many_columns_row_3.csv",
            "generic",
            3,
            "(whole row)",
            "Python, advanced",
            "has 6 columns, the header has 5",
        )
    ),
    _ok(
        Bad(
            "too_few_columns_row_3.csv",
            "generic",
            3,
            "(whole row)",
            "A2,c2,2026-01-06,3.00",
            "has 4 columns, the header has 5",
        )
    ),
    _ok(
        Bad(
            "too_many_columns_row_3_and_impossible_date_row_5.csv",
            "generic",
            3,
            "(whole row)",
            "Python, advanced",
            "has 6 columns",
            total=2,
            also_rows=(5,),
        )
    ),
    _ok(
        Bad(
            "many_impossible_dates_rows_2_to_13.csv",
            "generic",
            2,
            "date",
            "2026-02-29",
            "not a date on the calendar",
            total=12,
            also_rows=tuple(range(3, 12)),
        )
    ),
]

REFUSED = [
    _ok(
        Refused("unterminated_quote_row_3.csv", "getcourse", ("row 3", "quote", "--skip-bad-rows"))
    ),
    _ok(Refused("missing_column_status_getcourse.csv", "getcourse", ("'status'", "Статус"))),
    _ok(Refused("missing_column_order_id_getcourse.csv", "getcourse", ("'order_id'", "ID заказа"))),
    _ok(Refused("missing_column_amount_generic.csv", "generic", ("'amount'", "--map"))),
    _ok(Refused("events_without_timestamp_column.csv", "events", ("'ts'", "timestamp"))),
    _ok(Refused("empty_file_0_bytes.csv", "getcourse", ("empty",))),
    _ok(Refused("header_only.csv", "getcourse", ("no rows",))),
    _ok(Refused("blank_lines_only.csv", "getcourse", ("blank",))),
    _ok(Refused("getcourse_users_export_as_orders.csv", "getcourse", ("getcourse-users",))),
    _ok(
        Refused(
            "hillstrom_like_as_getcourse_orders.csv",
            "getcourse",
            ("does not look like", "getcourse", "recency"),
        )
    ),
    _ok(Refused("events_file_as_orders.csv", "generic", ("does not look like", "timestamp"))),
    _ok(Refused("orders_export_as_events.csv", "events", ("does not look like", "events"))),
    _ok(
        Refused(
            "duplicated_header_email_getcourse.csv",
            "getcourse",
            ("duplicated header", "'Email'", "columns 4 and 12"),
        )
    ),
    _ok(
        Refused(
            "mixed_encoding_cp1251_with_utf8_line_row_4.csv",
            "getcourse",
            ("mixed encoding", "Windows-1251"),
            row=4,
        )
    ),
    _ok(
        Refused(
            "mixed_encoding_utf8_with_cp1251_line_row_3.csv",
            "getcourse",
            ("mixed encoding",),
            row=3,
        )
    ),
    _ok(Refused("not_a_workbook.xlsx", "getcourse", ("not an Excel workbook",))),
    _ok(Refused("not_a_parquet_file.parquet", "getcourse", ("not a Parquet file",))),
    _ok(Refused("binary_garbage.csv", "getcourse", ())),
]


def _refuse(store: Store, path: Path, preset: str) -> IngestError:
    before = snapshot(store)
    with pytest.raises(IngestError) as caught:
        load_file(store, str(path), _options(preset))
    assert snapshot(store) == before, "a refused file changed the store"
    assert not list(path.parent.glob("*.rejected.csv")), "a refused load wrote a rejected file"
    return caught.value


@pytest.mark.parametrize("case", BAD_ROWS)
def test_a_file_with_bad_rows_is_refused_naming_row_column_and_value(
    case: Bad, store: Store, tmp_path: Path
) -> None:
    path = materialise(case.file, tmp_path)
    error = _refuse(store, path, case.preset)
    message = str(error)

    assert isinstance(error, InputValidationError)
    assert error.file == str(path)
    assert message.startswith(f"{path}: ")
    assert error.total == case.total
    first = error.problems[0]
    assert (first.row, first.column) == (case.row, case.column)
    if case.column == "(whole row)":
        assert case.value is not None and case.value in (first.value or "")
    else:
        assert first.value == case.value
    assert case.problem in first.problem
    # the message itself carries row, column, value and reason, for a person reading it
    assert f"row {case.row}, column '{case.column}': " in message
    assert (case.value or "empty") in message
    assert case.problem in message
    for row in case.also_rows:
        assert re.search(rf"^  row {row}, ", message, re.MULTILINE), f"row {row} not listed"
    assert "Nothing was loaded" in message


@pytest.mark.parametrize("case", REFUSED)
def test_a_file_that_cannot_be_read_as_the_preset_is_refused_whole(
    case: Refused, store: Store, tmp_path: Path
) -> None:
    path = materialise(case.file, tmp_path)
    error = _refuse(store, path, case.preset)
    message = str(error)

    assert type(error) is IngestError
    assert error.file == str(path)
    assert message.startswith(f"{path}: ")
    for fragment in case.says:
        assert fragment in message
    if case.row is not None:
        assert re.search(rf"\b(row|line) {case.row}\b", message)


def test_the_message_lists_the_first_ten_bad_rows_and_counts_the_rest(
    store: Store, tmp_path: Path
) -> None:
    path = materialise("many_impossible_dates_rows_2_to_13.csv", tmp_path)
    error = _refuse(store, path, "generic")

    assert isinstance(error, InputValidationError)
    assert [p.row for p in error.problems] == list(range(2, 12))
    assert str(error).splitlines()[0].startswith(f"{path}: 12 bad rows, first at row 2")
    assert "… and 2 more" in str(error)


def test_a_truncated_last_line_is_refused_naming_its_row(store: Store, tmp_path: Path) -> None:
    path = materialise("truncated_last_line_row_4.csv", tmp_path)
    assert not path.read_bytes().endswith(b"\n")
    error = _refuse(store, path, "getcourse")

    assert isinstance(error, InputValidationError)
    assert {p.row for p in error.problems} == {4}
    assert "the file looks truncated" in str(error)


def test_an_empty_required_cell_says_that_the_value_is_required(
    store: Store, tmp_path: Path
) -> None:
    path = materialise("empty_required_cell_order_id_row_3.csv", tmp_path)
    error = _refuse(store, path, "getcourse")

    assert isinstance(error, InputValidationError)
    assert "required" in error.problems[0].problem


def test_a_real_hillstrom_file_is_not_taken_for_getcourse_orders(
    hillstrom: Path, store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "hillstrom.csv"
    shutil.copyfile(hillstrom, path)
    error = _refuse(store, path, "getcourse")

    assert type(error) is IngestError
    assert str(error).startswith(f"{path}: this does not look like a file for preset 'getcourse'")


# ---------------------------------------------------------------------------------------------
# --skip-bad-rows


@dataclass(frozen=True)
class Skip:
    """Loading with skip_bad_rows: data rows in the file, rows rejected, keys that must load."""

    file: str
    preset: str
    rows: int
    rejected: tuple[int, ...]
    loaded: tuple[str, ...]
    table: str = "orders"


SKIPS = [
    pytest.param(
        Skip("unknown_status_row_4.csv", "getcourse", 4, (4,), ("7001", "7002", "7004")),
        id="unknown_status_row_4.csv",
    ),
    pytest.param(
        Skip(
            "too_many_columns_row_3_and_impossible_date_row_5.csv",
            "generic",
            5,
            (3, 5),
            ("A1", "A3", "A5"),
        ),
        id="too_many_columns_row_3_and_impossible_date_row_5.csv",
    ),
    pytest.param(
        Skip("bad_amount_row_3.parquet", "generic", 3, (3,), ("A1", "A3")),
        id="bad_amount_row_3.parquet",
    ),
    pytest.param(
        Skip("cdnow_impossible_date_row_2.txt", "cdnow", 2, (2,), ()),
        id="cdnow_impossible_date_row_2.txt",
    ),
    pytest.param(
        Skip("events_invalid_json_properties_row_3.csv", "events", 2, (3,), (), table="events"),
        id="events_invalid_json_properties_row_3.csv",
    ),
    pytest.param(
        Skip("truncated_last_line_row_4.csv", "getcourse", 3, (4,), ("7001", "7002")),
        id="truncated_last_line_row_4.csv",
    ),
]


def _rejected_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def _keys(store: Store, table: str) -> set[str]:
    key = "order_id" if table == "orders" else "event_id"
    return {str(r[0]) for r in store.con.execute(f"SELECT {key} FROM {table}").fetchall()}


@pytest.mark.parametrize("case", SKIPS)
def test_skip_bad_rows_loads_the_rest_and_lists_each_rejected_row_beside_the_input(
    case: Skip, store: Store, tmp_path: Path
) -> None:
    path = materialise(case.file, tmp_path)
    before_rows = snapshot(store)[case.table][0]
    before_loads = snapshot(store)["loads"][0]

    result = load_file(store, str(path), _options(case.preset, skip_bad_rows=True))

    counted = (
        result.rows_inserted
        + result.rows_updated
        + result.rows_unchanged
        + result.rows_duplicate
        + result.rows_rejected
    )
    assert result.rows_read == counted == case.rows
    assert result.rows_rejected == len(case.rejected)
    assert result.rejected_file == str(tmp_path / f"{case.file}.rejected.csv")
    listed = _rejected_rows(Path(result.rejected_file))
    assert sorted(int(r["row"]) for r in listed) == list(case.rejected)
    assert all(r["problem"].strip() for r in listed)
    assert set(case.loaded) <= _keys(store, case.table)
    new_rows = snapshot(store)[case.table][0] - before_rows
    assert new_rows == result.rows_inserted
    assert snapshot(store)["loads"][0] == before_loads + 1
    recorded = store.con.execute(
        "SELECT rows_read, rows_inserted, rows_updated, rows_unchanged, rows_duplicate, "
        "rows_rejected, rejected_file FROM loads WHERE load_id = ?",
        [result.load_id],
    ).fetchone()
    assert recorded == (
        result.rows_read,
        result.rows_inserted,
        result.rows_updated,
        result.rows_unchanged,
        result.rows_duplicate,
        result.rows_rejected,
        result.rejected_file,
    )


def test_skip_bad_rows_keeps_the_rejected_cells_as_they_were_in_the_file(
    store: Store, tmp_path: Path
) -> None:
    path = materialise("unknown_status_row_4.csv", tmp_path)
    result: LoadResult = load_file(store, str(path), _options("getcourse", skip_bad_rows=True))

    assert result.rejected_file is not None
    (listed,) = _rejected_rows(Path(result.rejected_file))
    assert (listed["row"], listed["column"], listed["value"]) == ("4", "Статус", "Оплачен частями")
    assert "unknown status" in listed["problem"]
    assert listed["ID заказа"] == "7003"
    assert "7003" not in _keys(store, "orders")


# ---------------------------------------------------------------------------------------------
# the command line: one impossible date on one row refuses the whole file


VALID_CP1251 = (
    "ID заказа;ID пользователя;Пользователь;Email;Дата создания;Дата оплаты;Title;Статус;"
    "Стоимость, RUB;Оплачено;Валюта\n"
    "5001;101;Анна;anna@example.ru;01.02.2024 10:15;01.02.2024 10:20;Курс Python;Завершен;"
    "14 900,00;14 900,00;RUB\n"
    "5002;102;Борис;boris@example.ru;02.02.2024 11:00;;Курс SQL;Новый;29 900,00;0;RUB\n"
)


def _status(workspace: Path, capsys: pytest.CaptureFixture[str]) -> Any:
    capsys.readouterr()
    assert main(["--workspace", str(workspace), "status", "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_refuses_a_file_with_one_impossible_date_and_the_status_is_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = tmp_path / "myschool"
    assert main(["init", str(workspace), "--template", "school"]) == 0
    valid = tmp_path / "orders_january.csv"
    valid.write_bytes(VALID_CP1251.encode("cp1251"))
    ws = ["--workspace", str(workspace)]
    assert main([*ws, "ingest", "orders", str(valid), "--preset", "getcourse"]) == 0
    before = _status(workspace, capsys)
    assert before["loads"], "the valid load is not listed by status"

    bad = materialise("impossible_date_31_02_2024_row_4_cp1251.csv", tmp_path)
    code = main([*ws, "ingest", "orders", str(bad), "--preset", "getcourse"])
    err = capsys.readouterr().err

    assert code == 1
    # a school workspace speaks Russian: the row, the column and the problem
    assert "ошибка:" in err and bad.name in err
    assert "строка 4, колонка 'Дата создания': '31.02.2024 12:00' — такой даты нет в календаре" in (
        err
    )
    assert "Ничего не загружено" in err
    assert "Traceback" not in err
    assert _status(workspace, capsys) == before
    assert not list(tmp_path.glob("*.rejected.csv"))


# ---------------------------------------------------------------------------------------------
# the corpus itself


def test_every_corpus_file_is_described_and_tested() -> None:
    on_disk = {p.name for p in CORPUS.iterdir() if p.name != "README.md"}
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    described = set(re.findall(r"^- `([^`]+)`", readme, re.MULTILINE))
    from test_real_world_exports import BAD, LOADS
    from test_real_world_exports import GENERATED as REAL_WORLD_GENERATED
    from test_real_world_exports import REFUSED as REAL_WORLD_REFUSED

    cases = [*BAD_ROWS, *REFUSED, *SKIPS, *BAD, *REAL_WORLD_REFUSED, *LOADS]
    tested = {p.values[0].file for p in cases}  # type: ignore[union-attr]
    generated = set(GENERATED) | set(REAL_WORLD_GENERATED)

    assert len(on_disk) + len(generated) >= 30
    assert described == on_disk | generated
    assert on_disk | generated <= tested


def test_corpus_files_hold_the_bytes_their_names_promise() -> None:
    def raw(name: str) -> bytes:
        return (CORPUS / name).read_bytes()

    def decodes(data: bytes, encoding: str) -> bool:
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            return False
        return True

    assert raw("empty_file_0_bytes.csv") == b""
    assert raw("crlf_impossible_date_row_3.csv").count(b"\r\n") == 3
    assert not raw("blank_lines_only.csv").strip()
    assert not raw("truncated_last_line_row_4.csv").endswith(b"\n")
    assert raw("utf16_le_with_bom.csv").startswith(b"\xff\xfe")
    assert raw("binary_garbage.csv").startswith(b"\x89PNG")
    cp1251 = raw("impossible_date_31_02_2024_row_4_cp1251.csv")
    assert not decodes(cp1251, "utf-8") and "31.02.2024" in cp1251.decode("cp1251")
    # one line in the other encoding, every other line in the file's own
    mixed = raw("mixed_encoding_cp1251_with_utf8_line_row_4.csv").split(b"\n")
    assert [decodes(line, "utf-8") for line in mixed[:5]] == [False, False, False, True, False]
    mixed = raw("mixed_encoding_utf8_with_cp1251_line_row_3.csv").split(b"\n")
    assert [decodes(line, "utf-8") for line in mixed[:5]] == [True, True, False, True, True]


def test_an_unterminated_quote_is_refused_even_when_skipping_bad_rows(
    store: Store, tmp_path: Path
) -> None:
    path = materialise("unterminated_quote_row_3.csv", tmp_path)
    with pytest.raises(IngestError, match="row 3") as caught:
        load_file(
            store,
            str(path),
            LoadOptions(PRESETS["getcourse"], loaded_at=LOADED_AT, skip_bad_rows=True),
        )
    assert "cannot be told apart" in str(caught.value)
    assert not path.with_name(path.name + ".rejected.csv").exists()
