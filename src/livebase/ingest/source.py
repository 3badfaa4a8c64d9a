"""Input files: resolving paths, globs, folders and stdin; sniffing; streaming to UTF-8 CSV.

Everything here streams in fixed-size chunks, so memory does not grow with the file:
the checksum, the encoding check and (for cp1251 and XLSX) the conversion to a UTF-8 CSV
that DuckDB then reads in parallel.
"""

from __future__ import annotations

import codecs
import csv
import glob
import hashlib
import io
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np

from livebase.errors import IngestError

__all__ = [
    "Format",
    "PreparedFile",
    "ProgressFn",
    "expand_inputs",
    "prepare",
    "sniff_delimiter",
    "sniff_encoding",
]

Format = Literal["csv", "xlsx", "parquet"]
ProgressFn = Callable[[int], None]
"""Called with the number of bytes just processed."""

CHUNK = 1 << 20
_SNIFF_BYTES = 256 * 1024
_DELIMITERS = (";", ",", "\t", "|")
# Two or more UTF-8 encoded Cyrillic letters in a row: in a cp1251 file these bytes read as
# "Р"/"С" followed by punctuation, which Russian text does not contain.
_UTF8_CYRILLIC = re.compile(rb"(?:[\xd0\xd1][\x80-\xbf]){2,}")
# a newline followed by a line holding nothing but spaces: readers skip such lines
_BEFORE_BLANK_LINE = re.compile(rb"\n(?=[ \t\r]*\n)")


def _utf8_cyrillic_at(window: bytes) -> int | None:
    """Offset of two UTF-8 encoded Cyrillic letters in a row, or None (vectorised: the same
    test as ``_UTF8_CYRILLIC``, fast on text full of 'Р' and 'С', which ``re`` is not)."""
    data = np.frombuffer(window, dtype=np.uint8)
    if data.size < 4:
        return None
    lead = (data & 0xFE) == 0xD0
    cont = (data & 0xC0) == 0x80
    pairs = lead[:-1] & cont[1:]
    hits = np.flatnonzero(pairs[:-2] & pairs[2:])
    return int(hits[0]) if hits.size else None


class _BlankLines:
    """Finds the 1-based numbers of blank lines while a file streams by, chunk by chunk."""

    def __init__(self) -> None:
        self.found: list[int] = []
        self._carry = b""
        self._newlines = 0

    def feed(self, chunk: bytes) -> None:
        text = self._carry + chunk
        for match in _BEFORE_BLANK_LINE.finditer(text):
            self.found.append(self._newlines + text.count(b"\n", 0, match.start()) + 2)
        last = text.rfind(b"\n")
        if last >= 0:
            self._newlines += text.count(b"\n", 0, last)
            self._carry = text[last:]
        else:
            self._carry = text


@dataclass(frozen=True)
class PreparedFile:
    """A file ready for DuckDB: its original identity and the UTF-8 view to read."""

    display: str
    """As the user named it (or '<stdin>'), for messages and the loads table."""
    original: Path
    checksum: str
    size: int
    format: Format
    read_path: Path
    """CSV in UTF-8 (possibly a converted temporary copy), or the Parquet file itself."""
    encoding: str
    delimiter: str
    headers: tuple[str, ...]
    has_header: bool
    temporary: bool
    skipped_lines: tuple[int, ...] = ()
    """Lines (rows of a sheet) readers skip because they are blank: row numbers count them."""
    ascii_head: bool = False
    """The sniffed start of the file held no byte above 127 (its encoding is a guess)."""


def expand_inputs(inputs: list[str]) -> list[str]:
    """Paths, globs and folders → the files to load, sorted; '-' stays as standard input.

    >>> expand_inputs(["-"])
    ['-']
    """
    files: list[str] = []
    for item in inputs:
        if item == "-":
            files.append(item)
            continue
        path = Path(item).expanduser()
        if path.is_dir():
            found = sorted(
                str(p)
                for p in path.iterdir()
                if p.is_file() and not p.name.startswith(".") and ".rejected." not in p.name
            )
            if not found:
                raise IngestError("the folder holds no files to load", file=item)
            files.extend(found)
        elif any(ch in item for ch in "*?["):
            found = sorted(p for p in glob.glob(str(path)) if ".rejected." not in p)
            if not found:
                raise IngestError("no file matches this pattern", file=item)
            files.extend(found)
        else:
            if not path.exists():
                raise IngestError("file not found", file=item)
            files.append(str(path))
    return files


def sniff_encoding(head: bytes, *, file: str | None = None) -> str:
    """'utf-8-sig', 'utf-8' or 'cp1251' from the first bytes of a file.

    >>> sniff_encoding("Дата;Сумма".encode("cp1251"))
    'cp1251'
    >>> sniff_encoding(b"\\xef\\xbb\\xbfid;amount")
    'utf-8-sig'
    >>> sniff_encoding("Дата;Сумма".encode("utf-8"))
    'utf-8'
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise IngestError(
            "the file is UTF-16 encoded; save it as UTF-8 CSV (or CSV for Russian Excel)",
            file=file,
        )
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=False)
    except UnicodeDecodeError:
        if _UTF8_CYRILLIC.search(head):
            _refuse_mixed_encoding(head, file)
        return "cp1251"
    return "utf-8"


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


def sniff_delimiter(lines: list[str]) -> str:
    """The delimiter that splits the header and the first rows into equal, >1 column counts.

    >>> sniff_delimiter(["a;b;c", "1;2,5;3"])
    ';'
    >>> sniff_delimiter(["a,b", "1,2"])
    ','
    """
    best, best_score = ",", -1
    for delim in _DELIMITERS:
        counts = [len(row) for row in csv.reader(lines, delimiter=delim) if row]
        if not counts or counts[0] < 2:
            continue
        consistent = sum(1 for c in counts if c == counts[0])
        score = consistent * 1000 + counts[0]
        if score > best_score:
            best, best_score = delim, score
    return best


def _detect_format(head: bytes, name: str) -> Format:
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"PAR1"):
        return "parquet"
    lower = name.lower()
    if lower.endswith((".xlsx", ".xlsm")):
        raise IngestError("the file is named .xlsx but is not an Excel workbook", file=name)
    if lower.endswith(".xls"):
        raise IngestError(
            "old Excel 97–2003 .xls files are not supported: save it as .xlsx or CSV", file=name
        )
    if lower.endswith(".parquet"):
        raise IngestError("the file is named .parquet but is not a Parquet file", file=name)
    return "csv"


def _spool_stdin(stream: BinaryIO, folder: Path) -> Path:
    target = folder / "stdin"
    with target.open("wb") as out:
        shutil.copyfileobj(stream, out, CHUNK)
    return target


def _read_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def _checksum(path: Path, progress: ProgressFn | None, blanks: _BlankLines | None = None) -> str:
    digest = hashlib.sha256()
    for chunk in _read_chunks(path):
        digest.update(chunk)
        if blanks is not None:
            blanks.feed(chunk)
        if progress:
            progress(len(chunk))
    return digest.hexdigest()


def _transcode_cp1251(
    path: Path, target: Path, display: str, progress: ProgressFn | None, blanks: _BlankLines
) -> str:
    """Stream cp1251 → UTF-8; refuse a file that mixes in UTF-8 text. Returns the sha256."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("cp1251")(errors="strict")
    line = 1
    tail = b""
    with target.open("w", encoding="utf-8", newline="") as out:
        for chunk in _read_chunks(path):
            digest.update(chunk)
            blanks.feed(chunk)
            window = tail + chunk
            start = _utf8_cyrillic_at(window)
            if start is not None:
                at = line + window.count(b"\n", 0, start) - tail.count(b"\n")
                sample = window[start : start + 40].decode("utf-8", "replace")
                raise IngestError(
                    f"mixed encoding: the file is in Windows-1251 (Russian Excel), but line {at} "
                    f"holds UTF-8 text ('{sample.splitlines()[0]}…'); re-save the whole file in "
                    "one encoding",
                    file=display,
                )
            try:
                out.write(decoder.decode(chunk))
            except UnicodeDecodeError as exc:
                raise IngestError(
                    f"byte 0x{chunk[exc.start]:02x} near line {line} is neither UTF-8 nor "
                    "Windows-1251; re-save the file as UTF-8",
                    file=display,
                ) from None
            line += chunk.count(b"\n")
            tail = chunk[-8:]
            if progress:
                progress(len(chunk))
        out.write(decoder.decode(b"", final=True))
    return digest.hexdigest()


def _cell_text(value: object) -> str:
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


def _xlsx_to_csv(path: Path, target: Path, display: str) -> list[int]:
    """First sheet of a workbook → UTF-8 CSV, row by row (calamine streams the sheet).

    Returns the sheet row numbers of empty rows, which are left out.
    """
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        sheet = workbook.get_sheet_by_index(0)
    except Exception as exc:  # calamine raises its own error types for broken workbooks
        raise IngestError(f"cannot read the Excel workbook: {exc}", file=display) from None
    with target.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=",", lineterminator="\n")
        width = 0
        empty: list[int] = []
        for number, row in enumerate(sheet.iter_rows(), start=1):
            cells = [_cell_text(v) for v in row]
            while cells and cells[-1] == "":
                cells.pop()
            if width == 0:
                width = len(cells)
            if not any(cells):
                empty.append(number)
                continue
            writer.writerow(cells + [""] * (width - len(cells)))
    return empty


def _header_lines(path: Path, encoding: str, count: int = 30) -> list[str]:
    with path.open("r", encoding=encoding, errors="replace", newline="") as handle:
        text = handle.read(_SNIFF_BYTES)
    lines = text.splitlines()
    if len(text) == _SNIFF_BYTES and lines:
        lines = lines[:-1]  # the last one may be cut in the middle
    return lines[:count]


def prepare(
    item: str,
    workdir: Path,
    *,
    layout: Literal["csv", "whitespace"] = "csv",
    delimiter: str | None = None,
    encoding: str | None = None,
    progress: ProgressFn | None = None,
    stdin: BinaryIO | None = None,
) -> PreparedFile:
    """Checksum, sniff and (if needed) convert one input so DuckDB can read it as UTF-8.

    ``workdir`` receives temporary copies; the caller removes it.
    """
    temporary = False
    blanks = _BlankLines()
    skipped: list[int] = []
    if item == "-":
        display = "<stdin>"
        original = _spool_stdin(stdin or sys.stdin.buffer, workdir)
    else:
        display = item
        original = Path(item)
    size = original.stat().st_size
    if size == 0:
        raise IngestError("the file is empty (0 bytes)", file=display)
    with original.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    fmt = _detect_format(head, display)

    if fmt == "parquet":
        checksum = _checksum(original, progress)
        return PreparedFile(
            display, original, checksum, size, fmt, original, "binary", "", (), True, False
        )

    read_path = original
    if fmt == "xlsx":
        checksum = _checksum(original, progress)
        read_path = workdir / (original.name + ".csv")
        skipped = _xlsx_to_csv(original, read_path, display)
        temporary = True
        enc = "utf-8"
        if read_path.stat().st_size == 0:
            raise IngestError("the workbook's first sheet is empty", file=display)
    else:
        enc = encoding or sniff_encoding(head, file=display)
        if enc == "cp1251":
            read_path = workdir / (original.name + ".utf8.csv")
            checksum = _transcode_cp1251(original, read_path, display, progress, blanks)
            temporary = True
            enc = "utf-8"
            detected = "cp1251"
        else:
            checksum = _checksum(original, progress, blanks)
            detected = enc
        skipped = blanks.found
        if not head.strip(b"\xef\xbb\xbf \t\r\n"):
            raise IngestError("the file holds only blank lines", file=display)

    lines = _header_lines(read_path, "utf-8-sig" if enc.startswith("utf-8") else enc)
    if layout == "whitespace":
        delim = " "
        headers = tuple(lines[0].split()) if lines else ()
    else:
        delim = delimiter or (sniff_delimiter(lines) if fmt == "csv" else ",")
        first = next(csv.reader(io.StringIO(lines[0]), delimiter=delim), []) if lines else []
        headers = tuple(h.replace("\ufeff", "").strip() for h in first)
    return PreparedFile(
        display=display,
        original=original,
        checksum=checksum,
        size=size,
        format=fmt,
        read_path=read_path,
        encoding=detected if fmt == "csv" else "xlsx",
        delimiter=delim,
        headers=headers,
        has_header=True,
        temporary=temporary,
        skipped_lines=tuple(skipped),
        ascii_head=fmt == "csv" and head.isascii(),
    )


def make_workdir() -> Path:
    """A fresh temporary folder for converted copies."""
    return Path(tempfile.mkdtemp(prefix="livebase-ingest-"))
