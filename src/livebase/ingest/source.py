"""Input files: resolving paths, globs, folders and stdin; streaming them to a UTF-8 CSV view.

Everything here streams in fixed-size chunks, so memory does not grow with the file:
the checksum, the encoding check and (for gzip, Windows-1251, UTF-16 and XLSX) the
conversion to a UTF-8 CSV that DuckDB then reads in parallel. Converted copies go to a
temporary folder of the load (:func:`make_workdir`), removed however the load ends; folders
left by a killed process are removed by the next load.
"""

from __future__ import annotations

import codecs
import glob
import gzip
import hashlib
import os
import shutil
import sys
import tempfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, Literal

from livebase.errors import IngestError
from livebase.i18n import _l
from livebase.ingest.file_scan import (
    CHUNK,
    FileScan,
    ProgressFn,
    checksum_and_blanks,
    file_checksum,
    read_chunks,
)
from livebase.ingest.sniff import (
    BlankRows,
    Format,
    detect_format,
    header_cells,
    sniff_delimiter,
    sniff_encoding,
    utf8_cyrillic_at,
)
from livebase.ingest.xlsx import xlsx_to_csv

__all__ = [
    "Format",
    "PreparedFile",
    "ProgressFn",
    "expand_inputs",
    "file_checksum",
    "make_workdir",
    "prepare",
    "remove_stale_workdirs",
]

_SNIFF_BYTES = 256 * 1024
_WORKDIR_PREFIX = "livebase-ingest-"
_CODEC_NAMES = {
    "cp1251": "Windows-1251 (Russian Excel)",
    "utf-16-le": "UTF-16",
    "utf-16-be": "UTF-16",
}


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
    line_end: str = ""
    """'\\n' when rows end with a bare line feed (told to DuckDB, which otherwise guesses from
    the first line break, even one inside a quoted header cell); '' to let DuckDB see."""
    scan: FileScan | None = None
    """The checksum and blank rows still being computed in the background (``prepare`` with
    ``background``): ``checksum`` and ``skipped_lines`` hold once :meth:`scanned` returned."""

    def scanned(self) -> PreparedFile:
        """This file with its checksum and blank rows, waiting for the background scan."""
        if self.scan is None:
            return self
        checksum, skipped = self.scan.result()
        return replace(self, checksum=checksum, skipped_lines=skipped, scan=None)


def expand_inputs(inputs: list[str]) -> list[str]:
    """Paths, globs and folders → the files to load, sorted; '-' stays as standard input.

    A name that exists as a file is that file, even with brackets or stars in it.

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
                raise IngestError(_l("the folder holds no files to load"), file=item)
            files.extend(found)
        elif not path.is_file() and any(ch in item for ch in "*?["):
            # a pattern only when no file has this very name ("orders [copy].csv" is a file)
            found = sorted(p for p in glob.glob(str(path)) if ".rejected." not in p)
            if not found:
                raise IngestError(_l("no file matches this pattern"), file=item)
            files.extend(found)
        else:
            if not path.exists():
                raise IngestError(_l("file not found"), file=item)
            files.append(str(path))
    return files


def _spool_stdin(stream: BinaryIO, folder: Path) -> Path:
    target = folder / "stdin"
    with target.open("wb") as out:
        shutil.copyfileobj(stream, out, CHUNK)
    return target


def _transcode(
    path: Path,
    target: Path,
    codec: str,
    display: str,
    progress: ProgressFn | None,
    blanks: BlankRows,
    known: str | None = None,
) -> str:
    """Stream ``codec`` → UTF-8; refuse a Windows-1251 file that mixes in UTF-8 text, and name
    the line of a byte the codec cannot read. Returns the sha256 of the original bytes
    (``known`` when the caller has it: not computed again)."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    line = 1
    tail = b""
    first = True
    with target.open("wb") as out:
        for chunk in read_chunks(path):
            if known is None:
                digest.update(chunk)
            if first and codec == "cp1251" and chunk.startswith(codecs.BOM_UTF8):
                chunk = chunk[len(codecs.BOM_UTF8) :]  # a mislabelled file, read as asked
            if first and codec.startswith("utf-16") and chunk[:2] in (b"\xff\xfe", b"\xfe\xff"):
                chunk = chunk[2:]
            first = False
            if codec == "cp1251":
                window = tail + chunk
                start = utf8_cyrillic_at(window)
                if start is not None:
                    at = line + window.count(b"\n", 0, start) - tail.count(b"\n")
                    sample = window[start : start + 40].decode("utf-8", "replace")
                    raise IngestError(
                        "mixed encoding: the file is in Windows-1251 (Russian Excel), but line "
                        f"{at} holds UTF-8 text ('{sample.splitlines()[0]}…'); re-save the whole "
                        "file in one encoding",
                        file=display,
                    )
                tail = chunk[-8:]
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                where = line + _line_breaks(chunk[: exc.start], codec)
                raise IngestError(
                    f"byte 0x{chunk[exc.start]:02x} on line {where} cannot be read as "
                    f"{_CODEC_NAMES.get(codec, codec)}, the file's encoding; re-save the file "
                    "as CSV UTF-8",
                    file=display,
                ) from None
            encoded = text.encode("utf-8")
            out.write(encoded)
            blanks.feed(encoded)
            line += encoded.count(b"\n")
            if progress:
                progress(len(chunk))
        try:
            out.write(decoder.decode(b"", final=True).encode("utf-8"))
        except UnicodeDecodeError:
            raise IngestError(
                f"the file ends in the middle of a character (line {line}): it looks truncated; "
                "download or export it again",
                file=display,
            ) from None
    return known or digest.hexdigest()


def _line_breaks(data: bytes, codec: str) -> int:
    if codec == "utf-16-le":
        return data.count(b"\n\x00")
    if codec == "utf-16-be":
        return data.count(b"\x00\n")
    return data.count(b"\n")


def _gunzip(path: Path, workdir: Path, display: str, progress: ProgressFn | None) -> Path:
    """Decompress a gzip file into ``workdir`` (streaming); a broken archive is named."""
    name = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
    target = workdir / ("unzipped-" + name)
    try:
        with gzip.open(path, "rb") as source, target.open("wb") as out:
            while chunk := source.read(CHUNK):
                out.write(chunk)
                if progress:
                    progress(len(chunk))
    except (OSError, EOFError, zlib.error) as exc:
        raise IngestError(
            f"the file is gzip-compressed, but the archive is broken ({exc}): download it again",
            file=display,
        ) from None
    return target


def _sniff_text(path: Path, encoding: str) -> tuple[str, bool]:
    """The first 256 KiB of ``path`` as text, and whether that is the whole file."""
    with path.open("r", encoding=encoding, errors="replace", newline="") as handle:
        text = handle.read(_SNIFF_BYTES)
        complete = handle.read(1) == ""
    return text, complete


def prepare(
    item: str,
    workdir: Path,
    *,
    layout: Literal["csv", "whitespace"] = "csv",
    delimiter: str | None = None,
    encoding: str | None = None,
    progress: ProgressFn | None = None,
    stdin: BinaryIO | None = None,
    checksum: str | None = None,
    background: bool = False,
) -> PreparedFile:
    """Checksum, sniff and (if needed) convert one input so DuckDB can read it as UTF-8.

    ``workdir`` receives temporary copies; the caller removes it. ``checksum``: the file's
    sha256 when the caller computed it already (:func:`file_checksum`), not computed again.
    ``background``: a UTF-8 CSV file, which DuckDB reads as it is, is scanned (checksum, blank
    rows) in a thread while the caller stages it (standard input never is: its checksum may
    decide to skip the load); the result's ``scan`` is then set, ``checksum`` is empty until
    :meth:`PreparedFile.scanned` gives it with the blank rows, and ``progress`` is called from
    that thread.
    """
    if item == "-":
        display = "<stdin>"
        original = _spool_stdin(stdin or sys.stdin.buffer, workdir)
    else:
        display = item
        original = Path(item)
    return _prepare_path(
        original,
        display,
        workdir,
        layout=layout,
        delimiter=delimiter,
        encoding=encoding,
        progress=progress,
        known=checksum,
        background=background and item != "-",
    )


def _prepare_path(
    original: Path,
    display: str,
    workdir: Path,
    *,
    layout: Literal["csv", "whitespace"],
    delimiter: str | None,
    encoding: str | None,
    progress: ProgressFn | None,
    known: str | None = None,
    background: bool = False,
) -> PreparedFile:
    try:
        size = original.stat().st_size
        with original.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except PermissionError:
        raise IngestError(
            "permission denied: livebase may not read this file", file=display
        ) from None
    if size == 0:
        raise IngestError("the file is empty (0 bytes)", file=display)
    fmt = detect_format(head, display, original)

    if fmt == "gzip":
        checksum = known or checksum_and_blanks(original, None)
        inner = _prepare_path(
            _gunzip(original, workdir, display, progress),
            display,
            workdir,
            layout=layout,
            delimiter=delimiter,
            encoding=encoding,
            progress=None,
        )
        return replace(
            inner,
            original=original,
            checksum=checksum,
            size=size,
            encoding=f"gzip, {inner.encoding}",
            temporary=True,
        )

    if fmt == "parquet":
        checksum = known or checksum_and_blanks(original, progress)
        return PreparedFile(
            display, original, checksum, size, fmt, original, "binary", "", (), True, False
        )

    blanks = BlankRows(quoted=layout != "whitespace")
    scanning = False  # a UTF-8 CSV scanned in the background, once everything else is known
    read_path = original
    temporary = False
    if fmt == "xlsx":
        checksum = known or checksum_and_blanks(original, progress)
        read_path = workdir / "sheet.csv"
        skipped = xlsx_to_csv(original, read_path, display)
        temporary = True
        enc = detected = "utf-8"
        if read_path.stat().st_size == 0:
            raise IngestError("the workbook's first sheet is empty", file=display)
    else:
        detected = encoding or sniff_encoding(head, file=display)
        if detected.startswith("utf-8") and background and fmt == "csv":
            scanning = True
            checksum = ""
            enc = detected
        elif detected.startswith("utf-8"):
            checksum = checksum_and_blanks(original, progress, blanks, known)
            enc = detected
        else:
            read_path = workdir / "converted.utf8.csv"
            checksum = _transcode(original, read_path, detected, display, progress, blanks, known)
            temporary = True
            enc = "utf-8"
        skipped = [] if scanning else blanks.found
        with read_path.open("rb") as handle:
            text_head = handle.read(_SNIFF_BYTES)
        if not text_head.strip(b"\xef\xbb\xbf \t\r\n"):
            raise IngestError("the file holds only blank lines", file=display)

    text, complete = _sniff_text(read_path, "utf-8-sig" if enc.startswith("utf-8") else enc)
    if layout == "whitespace":
        delim = " "
        lines = text.splitlines()
        headers = tuple(lines[0].split()) if lines else ()
    else:
        delim = delimiter or (sniff_delimiter(text, complete=complete) if fmt == "csv" else ",")
        headers = header_cells(text, delim)
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
        line_end="\n" if layout == "csv" and _ends_rows_with_bare_line_feed(text) else "",
        scan=FileScan(original, blanks, known, progress) if scanning else None,
    )


def _ends_rows_with_bare_line_feed(text: str) -> bool:
    """Whether the first row (quoted line breaks aside) ends with '\\n' and not '\\r\\n'.

    >>> _ends_rows_with_bare_line_feed('"a\\r\\nb";c\\n1;2\\n'), _ends_rows_with_bare_line_feed("a\\r\\n")
    (True, False)
    """
    quoted = False
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch == "\n" and not quoted:
            return i == 0 or text[i - 1] != "\r"
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def remove_stale_workdirs(root: Path | None = None) -> list[Path]:
    """Remove the temporary folders of loads whose process is gone (killed, SIGKILL, power
    cut); returns them. A folder's name carries its process id.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "livebase-ingest-999999999-x").mkdir()
    >>> [p.name for p in remove_stale_workdirs(root)]
    ['livebase-ingest-999999999-x']
    """
    folder = root or Path(tempfile.gettempdir())
    removed: list[Path] = []
    for path in folder.glob(_WORKDIR_PREFIX + "*"):
        pid = path.name[len(_WORKDIR_PREFIX) :].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def make_workdir() -> Path:
    """A fresh temporary folder for converted copies (named after this process), after
    removing the ones left behind by dead processes."""
    remove_stale_workdirs()
    return Path(tempfile.mkdtemp(prefix=f"{_WORKDIR_PREFIX}{os.getpid()}-"))
