"""Files the CLI writes: the format follows the extension (or is refused), ``-`` is stdout,
and CSV is what the workspace's spreadsheet opens (Russian Excel: ``;``, decimal comma, BOM).

>>> output_format(Path("kpi.csv"), None, ("csv", "json"))
'csv'
>>> output_format(Path("-"), None, ("csv", "json"))
'csv'
>>> output_format(Path("kpi.txt"), None, ("csv", "json"))
Traceback (most recent call last):
...
livebase.errors.LivebaseError: --out kpi.txt: cannot tell the format from '.txt'; name the file .csv or .json
>>> unencodable("Ёлка ☃ и 😀", "cp1251")
['☃', '😀']
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from livebase.cli._common import json_default
from livebase.errors import LivebaseError
from livebase.i18n import _l

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "STDOUT",
    "CsvStyle",
    "csv_style",
    "is_stdout",
    "output_format",
    "unencodable",
    "write_bytes",
    "write_frame",
]

STDOUT = Path("-")
_EXTENSIONS = {
    ".csv": "csv",
    ".json": "json",
    ".parquet": "parquet",
    ".xlsx": "xlsx",
    ".png": "png",
    ".html": "html",
    ".htm": "html",
    ".svg": "svg",
}
_BINARY = {"parquet", "xlsx", "png"}


def is_stdout(out: Path | None) -> bool:
    """``--out -``: write to standard output."""
    return out is not None and str(out) == "-"


def output_format(out: Path | None, given: str | None, allowed: tuple[str, ...]) -> str:
    """The format to write: ``given`` (``--format``), else the extension of ``out``, else the
    first of ``allowed``; a mismatch or an unknown extension is refused with what to do."""
    if out is None or is_stdout(out):
        fmt = given or allowed[0]
        if fmt in _BINARY and is_stdout(out):
            raise LivebaseError(
                _l("--out -: {fmt} is binary; write it to a file (--out x.{fmt})", fmt=fmt)
            )
        return fmt
    suffix = out.suffix.lower()
    found = _EXTENSIONS.get(suffix)
    names = " or ".join(f".{a}" for a in allowed)
    if found is None or found not in allowed:
        what = f"'{suffix}'" if suffix else _l("a name without an extension")
        raise LivebaseError(
            _l(
                "--out {out}: cannot tell the format from {what}; name the file {names}",
                out=out,
                what=what,
                names=names,
            )
        )
    if given is not None and given != "table" and given != found:
        raise LivebaseError(
            _l(
                "--out {out} is {found} but --format says {given}: drop --format or rename "
                "the file",
                out=out,
                found=found,
                given=given,
            )
        )
    return found


@dataclass(frozen=True)
class CsvStyle:
    """How a CSV file is written: separator, decimal mark and encoding."""

    sep: str = ","
    decimal: str = "."
    encoding: Literal["utf-8", "utf-8-sig", "cp1251"] = "utf-8"


def csv_style(language: str, encoding: str | None = None) -> CsvStyle:
    """The CSV a spreadsheet in ``language`` opens: Russian Excel wants ``;``, a decimal comma
    and a BOM (or cp1251); English, commas and plain UTF-8.

    >>> csv_style("ru")
    CsvStyle(sep=';', decimal=',', encoding='utf-8-sig')
    >>> csv_style("en", "cp1251").encoding
    'cp1251'
    """
    codec = (encoding or "").lower().replace("-", "").replace("_", "")
    if codec and codec not in ("utf8", "utf8sig", "cp1251", "windows1251"):
        raise LivebaseError(
            _l("--encoding: '{encoding}' is not one of utf-8, cp1251", encoding=encoding)
        )
    if language == "ru":
        chosen: Literal["utf-8", "utf-8-sig", "cp1251"] = (
            "cp1251" if codec in ("cp1251", "windows1251") else "utf-8-sig"
        )
        return CsvStyle(";", ",", chosen)
    return CsvStyle(encoding="cp1251" if codec in ("cp1251", "windows1251") else "utf-8")


def unencodable(text: str, encoding: str) -> list[str]:
    """The distinct characters of ``text`` that ``encoding`` cannot hold, in order of use."""
    bad: dict[str, None] = {}
    for ch in text:
        if ch not in bad:
            try:
                ch.encode(encoding)
            except UnicodeEncodeError:
                bad[ch] = None
    return list(bad)


def write_bytes(out: Path, raw: bytes) -> None:
    """Bytes to ``out``, or to standard output when ``out`` is ``-``."""
    if is_stdout(out):
        sys.stdout.flush()
        sys.stdout.buffer.write(raw)
        sys.stdout.buffer.flush()
    else:
        out.write_bytes(raw)


def write_frame(
    frame: pd.DataFrame, out: Path, fmt: str, style: CsvStyle, *, sheet: str = "data"
) -> list[str]:
    """Write ``frame`` as ``fmt`` to ``out`` (``-`` = stdout); returns warnings to print."""
    warnings: list[str] = []
    if fmt == "csv":
        text = frame.to_csv(index=False, sep=style.sep, decimal=style.decimal)
        if style.encoding == "cp1251":
            bad = unencodable(text, "cp1251")
            if bad:
                shown = ", ".join(f"'{c}' (U+{ord(c):04X})" for c in bad[:10])
                warnings.append(
                    f"cp1251 cannot hold {len(bad)} character(s), written as '?': {shown}"
                    + (" …" if len(bad) > 10 else "")
                    + "; use UTF-8 (the default) to keep them"
                )
        raw = text.encode(style.encoding, errors="replace")
        write_bytes(out, raw)
    elif fmt == "json":
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        text = json.dumps(records, default=json_default, ensure_ascii=False, indent=2)
        write_bytes(out, (text + "\n").encode("utf-8"))
    elif fmt == "parquet":
        frame.to_parquet(out, index=False)
    elif fmt == "xlsx":
        frame.to_excel(out, index=False, sheet_name=sheet[:31])
    else:
        raise LivebaseError(f"cannot write a table as {fmt}")
    return warnings
