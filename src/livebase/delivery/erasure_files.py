"""Erasure in the workspace's files: a CSV row naming the person is removed; any other text file
naming the person is deleted (exports, task lists, reports and saved messages are derived and
can be produced again)."""

from __future__ import annotations

from pathlib import Path

from livebase.delivery.erasure_subject import ErasureReport, Person

__all__ = ["erase_files"]

_TEXT_SUFFIXES = {
    ".csv",
    ".tsv",
    ".txt",
    ".json",
    ".jsonl",
    ".html",
    ".htm",
    ".eml",
    ".md",
    ".xml",
    ".log",
}
_SKIP_FILES = {"livebase.yaml", "livebase.secrets", "livebase.lock"}


def erase_files(root: Path, person: Person, report: ErasureReport) -> None:
    r"""Remove the person from the text files under ``root`` (see the module docstring).

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / "calls.csv").write_text("customer_id;name\n90001;Анна\n90002;Олег\n")
    >>> _ = (root / "note.txt").write_text("call 90001 tomorrow")
    >>> report = ErasureReport("h")
    >>> erase_files(root, Person("90001", set(), set(), {"Анна"}, set()), report)
    >>> report.files_changed, report.files_deleted, (root / "calls.csv").read_text()
    (['calls.csv'], ['note.txt'], 'customer_id;name\n90002;Олег\n')
    """
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name in _SKIP_FILES or ".livebase" in path.parts:
            continue
        if path.suffix.lower() not in _TEXT_SUFFIXES:
            continue
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("cp1251", errors="replace")
        if not person.mentioned_in(text):
            continue
        rel = str(path.relative_to(root))
        if path.suffix.lower() in (".csv", ".tsv"):
            lines = text.splitlines(keepends=True)
            kept = (
                [lines[0], *(ln for ln in lines[1:] if not person.mentioned_in(ln))]
                if lines
                else []
            )
            if kept and not person.mentioned_in(kept[0]):
                bom = b"\xef\xbb\xbf" if raw.startswith(b"\xef\xbb\xbf") else b""
                path.write_bytes(bom + "".join(kept).encode("utf-8"))
                report.files_changed.append(rel)
                continue
        path.unlink()
        report.files_deleted.append(rel)
