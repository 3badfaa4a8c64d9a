"""What a file is, from its first bytes: format, encoding, delimiter, and where its blank rows are.

Nothing here reads a whole file at once: the encoding and delimiter come from the first
256 KiB, and :class:`BlankRows` is fed the file chunk by chunk.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from pathlib import Path
from typing import Literal

import numpy as np

from livebase.errors import IngestError
from livebase.i18n import _l

__all__ = [
    "BlankRows",
    "Format",
    "detect_format",
    "header_cells",
    "sniff_delimiter",
    "sniff_encoding",
    "utf8_cyrillic_at",
]

Format = Literal["csv", "xlsx", "parquet", "gzip"]

_DELIMITERS = (";", ",", "\t", "|")
# Two or more UTF-8 encoded Cyrillic letters in a row: in a cp1251 file these bytes read as
# "Р"/"С" followed by punctuation, which Russian text does not contain.
_UTF8_CYRILLIC = re.compile(rb"(?:[\xd0\xd1][\x80-\xbf]){2,}")
_QUOTE, _NEWLINE = ord('"'), ord("\n")
_SPACE_BYTES = np.array([ord(" "), ord("\t"), ord("\r"), _NEWLINE], dtype=np.uint8)
_SPACE_BYTES_LIST = (b" ", b"\t", b"\r", b"\n")


def utf8_cyrillic_at(window: bytes) -> int | None:
    """Offset of two UTF-8 encoded Cyrillic letters in a row, or None (vectorised: the same
    test as ``_UTF8_CYRILLIC``, fast on text full of 'Р' and 'С', which ``re`` is not).

    >>> utf8_cyrillic_at("ab Да".encode("utf-8"))
    3
    >>> utf8_cyrillic_at("ab Да".encode("cp1251")) is None
    True
    """
    data = np.frombuffer(window, dtype=np.uint8)
    if data.size < 4:
        return None
    lead = (data & 0xFE) == 0xD0
    cont = (data & 0xC0) == 0x80
    pairs = lead[:-1] & cont[1:]
    hits = np.flatnonzero(pairs[:-2] & pairs[2:])
    return int(hits[0]) if hits.size else None


class BlankRows:
    """Finds the row numbers of blank lines while a file streams by, chunk by chunk.

    Rows are counted as a spreadsheet counts them: a line break inside a quoted cell does not
    end a row, so a blank line inside a quoted multi-line cell is part of that cell, not a
    skipped row. ``quoted=False`` for layouts without quoting (CDNOW).

    >>> rows = BlankRows()
    >>> rows.feed(b'a,b\\n1,"x\\n\\ny"\\n\\n2,z\\n')
    >>> rows.found
    [3]
    """

    def __init__(self, *, quoted: bool = True) -> None:
        self.found: list[int] = []
        self._quoted = quoted
        self._carry = b""
        self._rows = 0  # row-ending line breaks before the carry

    def feed(self, chunk: bytes) -> None:
        text = self._carry + chunk
        last = text.rfind(b"\n")
        if (
            last > 0
            and (not self._quoted or text.find(b'"', 0, last) < 0)
            and not any(text.find(b"\n" + s, 0, last + 1) >= 0 for s in _SPACE_BYTES_LIST)
        ):
            # the common chunk: every line break ends a row (no quote before the last one) and
            # none is followed by a space byte, so no row is blank: count them at C speed
            self._rows += text.count(b"\n", 0, last + 1) - 1
            self._carry = text[last:]
            return
        data = np.frombuffer(text, dtype=np.uint8)
        row_ends = np.flatnonzero(data == _NEWLINE)
        if self._quoted and row_ends.size and text.find(b'"', 0, int(row_ends[-1])) >= 0:
            # a line break ends a row when an even number of quotes precede it (the carry
            # always starts at a row end, outside quotes; "" inside a cell counts twice)
            quotes = np.flatnonzero(data == _QUOTE)
            row_ends = row_ends[np.searchsorted(quotes, row_ends) % 2 == 0]
        if not row_ends.size:
            self._carry = text
            return
        # a blank line: nothing but spaces between two consecutive row ends; only a row end
        # followed by a space byte can start one, so the rest of the file is never looked at
        following = data[np.minimum(row_ends[:-1] + 1, data.size - 1)]
        for i in np.flatnonzero(np.isin(following, _SPACE_BYTES)):
            if not text[int(row_ends[i]) + 1 : int(row_ends[i + 1])].strip(b" \t\r"):
                self.found.append(self._rows + int(i) + 2)
        self._rows += int(row_ends.size) - 1
        self._carry = text[int(row_ends[-1]) :]


def sniff_encoding(head: bytes, *, file: str | None = None) -> str:
    """'utf-8-sig', 'utf-8', 'cp1251', 'utf-16-le' or 'utf-16-be' from the first bytes.

    A file that mixes encodings, or whose UTF-8 mark (BOM) lies, is refused with the line.

    >>> sniff_encoding("Дата;Сумма".encode("cp1251"))
    'cp1251'
    >>> sniff_encoding(b"\\xef\\xbb\\xbfid;amount")
    'utf-8-sig'
    >>> sniff_encoding("Дата;Сумма".encode("utf-8"))
    'utf-8'
    >>> sniff_encoding("id;amount".encode("utf-16"))
    'utf-16-le'
    """
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le"
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be"
    if len(head) >= 8 and b"\x00" in head[:4096]:
        # UTF-16 without a mark: text never holds a zero byte, except as the high byte of
        # UTF-16 letters, digits and separators — all on one side of each pair
        sample = head[:4096]
        high_odd, high_even = sample[1::2].count(0), sample[0::2].count(0)
        if high_odd > 2 * high_even and high_odd >= 4:
            return "utf-16-le"
        if high_even > 2 * high_odd and high_even >= 4:
            return "utf-16-be"
    bom = head.startswith(codecs.BOM_UTF8)
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head[3:] if bom else head, final=False)
    except UnicodeDecodeError as exc:
        if _UTF8_CYRILLIC.search(head):
            _refuse_mixed_encoding(head, file)
        if bom:
            line = head.count(b"\n", 0, exc.start + 3) + 1
            raise IngestError(
                "the file starts with a UTF-8 mark (BOM), but its text is Windows-1251 "
                f"(Russian Excel) — first on line {line}: the program that saved it mislabelled "
                "it. Load it with --encoding cp1251, or re-save it as CSV UTF-8",
                file=file,
            ) from None
        return "cp1251"
    return "utf-8-sig" if bom else "utf-8"


def _refuse_mixed_encoding(head: bytes, file: str | None) -> None:
    """Both UTF-8 and Windows-1251 lines in the first bytes: name the first odd line out."""
    utf8_lines: list[int] = []
    other_lines: list[int] = []
    lines = head.split(b"\n")
    for number, line in enumerate(lines[:-1] or lines, start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            utf8_lines.append(number)
        except UnicodeDecodeError:
            other_lines.append(number)
    if len(utf8_lines) >= len(other_lines):
        where, is_, odd = other_lines[0], "UTF-8", "Windows-1251 (pasted from Russian Excel?)"
    else:
        where, is_, odd = utf8_lines[0], "Windows-1251 (Russian Excel)", "UTF-8"
    raise IngestError(
        f"mixed encoding: the file is {is_}, but line {where} is {odd}; "
        "re-save the whole file in one encoding",
        file=file,
    )


def _records(text: str, delimiter: str, complete: bool) -> list[list[str]]:
    """Up to 30 CSV records of the sniffed text (quoted line breaks stay inside cells)."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, quotechar='"')
    records: list[list[str]] = []
    try:
        for record in reader:
            if record and any(cell.strip() for cell in record):
                records.append(record)
            if len(records) > 30:
                break
    except csv.Error:
        pass
    if not complete and len(records) <= 30 and records:
        records.pop()  # the last one may be cut in the middle
    return records[:30]


def sniff_delimiter(text: str, *, complete: bool = True) -> str:
    """The delimiter by parsing consistency: of those that split the header into two or more
    cells and most of the first rows into as many, the one giving the most columns.

    Commas inside values («Стоимость, RUB», «Курс, продвинутый») do not fool it: ``;`` gives
    more, consistent columns. ``complete`` says whether ``text`` is the whole file.

    >>> sniff_delimiter("a;b;c\\n1;2,5;3\\n")
    ';'
    >>> sniff_delimiter("a,b\\n1,2\\n")
    ','
    >>> sniff_delimiter("ID;Стоимость, RUB;Title\\n1;10;Курс, продвинутый\\n2;20;x;y\\n")
    ';'
    """
    best, best_score = ",", (0, 0.0)
    for delim in _DELIMITERS:
        records = _records(text, delim, complete)
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        rows = records[1:]
        consistent = sum(1 for r in rows if len(r) == width) / len(rows) if rows else 1.0
        if consistent < 0.5:
            continue
        score = (width, consistent)
        if score > best_score:
            best, best_score = delim, score
    return best


def header_cells(text: str, delimiter: str) -> tuple[str, ...]:
    """The header's cells, a cell with a line break (Alt+Enter in Excel) read as one.

    >>> header_cells('"Дата\\nоплаты";Сумма\\n1;2\\n', ";")
    ('Дата\\nоплаты', 'Сумма')
    """
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, quotechar='"')
    try:
        first = next(reader, [])
    except csv.Error:
        first = text.splitlines()[0].split(delimiter) if text else []
    return tuple(h.replace("\ufeff", "").strip() for h in first)


def detect_format(head: bytes, name: str, path: Path | None = None) -> Format:
    """CSV, an Excel workbook, Parquet or gzip, by the first bytes; a misnamed file is named.

    >>> detect_format(b"PAR1....", "x.csv")
    'parquet'
    >>> detect_format(b"\\x1f\\x8b\\x08", "orders.csv")
    'gzip'
    """
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"PK\x03\x04"):
        if path is not None:
            _refuse_plain_zip(path, name)
        return "xlsx"
    if head.startswith(b"PAR1"):
        return "parquet"
    lower = name.lower()
    if lower.endswith((".xlsx", ".xlsm")):
        raise IngestError(_l("the file is named .xlsx but is not an Excel workbook"), file=name)
    if lower.endswith(".xls"):
        raise IngestError(
            _l("old Excel 97–2003 .xls files are not supported: save it as .xlsx or CSV"),
            file=name,
        )
    if lower.endswith(".parquet"):
        raise IngestError(_l("the file is named .parquet but is not a Parquet file"), file=name)
    return "csv"


def _refuse_plain_zip(path: Path, name: str) -> None:
    """A ZIP archive that is not a workbook (a zipped CSV, an OpenDocument sheet) is named."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        raise IngestError(
            "the file starts like a ZIP archive or Excel workbook, but it is broken "
            "(an interrupted download?)",
            file=name,
        ) from None
    if any(n.startswith("xl/") for n in names):
        return
    if "content.xml" in names:
        raise IngestError(
            "the file is an OpenDocument spreadsheet (.ods), not an Excel workbook: save it "
            "as .xlsx or CSV",
            file=name,
        )
    shown = ", ".join(names[:5]) + (" …" if len(names) > 5 else "")
    raise IngestError(
        f"the file is a ZIP archive, not an Excel workbook (it holds: {shown}): unzip it and "
        "load the file inside",
        file=name,
    )
