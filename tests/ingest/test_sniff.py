"""Sniffing: blank rows found the same whatever the chunking, delimiters by consistency,
encodings named, headers matched by whole names."""

from __future__ import annotations

import codecs

from hypothesis import given, settings
from hypothesis import strategies as st

from livebase.ingest.presets import PRESETS
from livebase.ingest.sniff import BlankRows, header_cells, sniff_delimiter, sniff_encoding

LINES = st.lists(
    st.sampled_from(["a;b", "", "  ", '"x\n\ny";1', '"q""\n";2', "1;2\r", 'a"b;c']), max_size=12
)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(lines=LINES, cuts=st.lists(st.integers(0, 200), max_size=6))
def test_blank_rows_are_the_same_whatever_the_chunk_boundaries(
    lines: list[str], cuts: list[int]
) -> None:
    data = ("\n".join(["h;h", *lines]) + "\n").encode("utf-8")
    whole = BlankRows()
    whole.feed(data)
    chunked = BlankRows()
    start = 0
    for cut in sorted(set(min(c, len(data)) for c in cuts)):
        chunked.feed(data[start:cut])
        start = cut
    chunked.feed(data[start:])

    assert chunked.found == whole.found


def _blank_rows_by_walking(data: bytes) -> list[int]:
    """Reference: walk the bytes, rows end at line breaks outside quotes; a row between two
    row ends holding only spaces is blank (row 1, the header, is never counted as blank)."""
    found, row, inside, start = [], 1, False, None
    for at, byte in enumerate(data):
        if byte == ord('"'):
            inside = not inside
        elif byte == ord("\n") and not inside:
            if start is not None and not data[start:at].strip(b" \t\r"):
                found.append(row)
            row += 1
            start = at + 1
    return found


@settings(max_examples=200, deadline=None, derandomize=True)
@given(lines=LINES, cuts=st.lists(st.integers(0, 200), max_size=6))
def test_blank_rows_are_the_rows_a_byte_by_byte_walk_finds(
    lines: list[str], cuts: list[int]
) -> None:
    data = ("\n".join(["h;h", *lines]) + "\n").encode("utf-8")
    chunked = BlankRows()
    start = 0
    for cut in sorted(set(min(c, len(data)) for c in cuts)):
        chunked.feed(data[start:cut])
        start = cut
    chunked.feed(data[start:])

    assert chunked.found == _blank_rows_by_walking(data)


def test_a_blank_line_inside_a_quoted_cell_is_not_a_skipped_row() -> None:
    rows = BlankRows()
    rows.feed(b'h;h\n"a\n\nb";1\n\n2;3\n')
    assert rows.found == [3]  # header 1, the two-line cell is row 2, the blank line row 3
    unquoted = BlankRows(quoted=False)
    unquoted.feed(b"h h\n\n1 2\n")
    assert unquoted.found == [2]


def test_the_delimiter_splits_the_header_and_rows_into_the_most_consistent_columns() -> None:
    getcourse = "ID заказа;Стоимость, RUB;Title\n1;10;Курс, база\n2;20;Курс, плюс\n"
    assert sniff_delimiter(getcourse) == ";"
    one_bad_row = getcourse + "3;30;Курс; x, y\n"
    assert sniff_delimiter(one_bad_row) == ";"
    assert sniff_delimiter("a\tb\tc\n1\t2,5\t3\n") == "\t"
    assert sniff_delimiter('id,"name; full",amount\n1,"a; b",2\n') == ","


def test_utf16_without_a_mark_is_recognised_in_either_byte_order() -> None:
    text = "ID заказа\tСтатус\n7001\tЗавершен\n"
    assert sniff_encoding(text.encode("utf-16-le")) == "utf-16-le"
    assert sniff_encoding(text.encode("utf-16-be")) == "utf-16-be"
    assert sniff_encoding(codecs.BOM_UTF16_LE + text.encode("utf-16-le")) == "utf-16-le"


def test_header_cells_keep_a_quoted_line_break_inside_one_header() -> None:
    assert header_cells('"ID\r\nзаказа";"Дата\nоплаты"\n1;2\n', ";") == (
        "ID\r\nзаказа",
        "Дата\nоплаты",
    )


def test_headers_match_whole_names_never_a_prefix() -> None:
    amount = PRESETS["getcourse"].field("amount")
    assert amount.matches("Стоимость, RUB")
    assert amount.matches("стоимость (руб.)")
    assert not amount.matches("Стоимость со скидкой")
    paid = PRESETS["getcourse"].field("paid_at")
    assert paid.matches("Дата\nоплаты")
