"""The first sheet of an Excel workbook as a UTF-8 CSV, cells written as Excel shows them.

python-calamine streams the sheet's values; it reads a cell holding a formula error
(``#DIV/0!``, ``#N/A`` …) as empty, so those cells are found in the sheet's XML (streamed,
never loaded whole) and written as the error text, which validation then names.
"""

from __future__ import annotations

import csv
import re
import zipfile
from datetime import date, datetime, time
from pathlib import Path
from xml.etree import ElementTree

from livebase.errors import IngestError

__all__ = ["cell_text", "error_cells", "xlsx_to_csv"]

_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
# a cell of type "e" (error) and its cached value; attributes come in any order
_ERROR_CELL = re.compile(rb"<c\b([^>]*\bt=\"e\"[^>]*)>(?:(?!</c>).)*?<v>([^<]*)</v>", re.DOTALL)
_REF = re.compile(rb"\br=\"([A-Z]+)([0-9]+)\"")


def cell_text(value: object) -> str:
    """A calamine cell value as text: whole floats without '.0', dates in ISO form.

    >>> cell_text(14900.0), cell_text(14564.749999999998), cell_text(None)
    ('14900', '14564.749999999998', '')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, time):
        return value.strftime("%H:%M:%S")
    return str(value)


def _column_index(letters: bytes) -> int:
    index = 0
    for ch in letters:
        index = index * 26 + (ch - 64)
    return index - 1


def _first_sheet_part(archive: zipfile.ZipFile) -> str | None:
    """The archive path of the workbook's first sheet (what calamine reads as index 0)."""
    try:
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError):
        return None
    sheet = workbook.find(f"{_MAIN}sheets/{_MAIN}sheet")
    if sheet is None:
        return None
    rel_id = sheet.get(_REL)
    for rel in rels:
        if rel.get("Id") == rel_id:
            target = rel.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else "xl/" + target
    return None


def error_cells(path: Path) -> dict[tuple[int, int], str]:
    """(1-based sheet row, 0-based column) → the error Excel shows (``#DIV/0!``), first sheet."""
    found: dict[tuple[int, int], str] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            part = _first_sheet_part(archive)
            if part is None:
                return found
            with archive.open(part) as sheet:
                carry = b""
                while chunk := sheet.read(1 << 20):
                    text = carry + chunk
                    last = text.rfind(b"</c>")
                    if last < 0:
                        carry = text
                        continue
                    for match in _ERROR_CELL.finditer(text, 0, last + 4):
                        ref = _REF.search(match.group(1))
                        if ref:
                            key = (int(ref.group(2)), _column_index(ref.group(1)))
                            found[key] = match.group(2).decode("utf-8", "replace")
                    carry = text[last + 4 :]
    except (zipfile.BadZipFile, KeyError, OSError):
        return found
    return found


def xlsx_to_csv(path: Path, target: Path, display: str) -> list[int]:
    """First sheet of a workbook → UTF-8 CSV, row by row (calamine streams the sheet).

    Returns the sheet row numbers of empty rows, which are left out.
    """
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        sheet = workbook.get_sheet_by_index(0)
    except Exception as exc:  # calamine raises its own error types for broken workbooks
        raise IngestError(f"cannot read the Excel workbook: {exc}", file=display) from None
    errors = error_cells(path)
    start = sheet.start
    first_row = (start[0] if start else 0) + 1
    first_col = start[1] if start else 0
    with target.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=",", lineterminator="\n")
        width = 0
        empty: list[int] = []
        for number, row in enumerate(sheet.iter_rows(), start=first_row):
            cells = [cell_text(v) for v in row]
            if errors:
                for col in range(len(cells)):
                    shown = errors.get((number, col + first_col))
                    if shown is not None:
                        cells[col] = shown
            while cells and cells[-1] == "":
                cells.pop()
            if width == 0:
                width = len(cells)
            if not any(cells):
                empty.append(number - first_row + 1)
                continue
            writer.writerow(cells + [""] * (width - len(cells)))
    return empty
