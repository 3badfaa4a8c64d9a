"""Skipping a re-load that would change nothing: the same file, right after itself.

A file whose sha256 is that of the store's latest load, read with the same options, would
merge every row as unchanged: the load is skipped before staging, validation and merge, and a
row in ``loads`` says so (``skipped_since`` names the load that read the rows). Conditions:

- the latest load of the store (of any kind: orders, customers and events loads all write
  customers and ``customer_state``) is of this kind, has this checksum and this options
  fingerprint; a load of another file in between may have changed rows this file would set
  back, so the re-load then runs in full;
- that load rejected no row: with a later load date, a row rejected for a date in the future
  may now be valid.

``livebase ingest --force`` (``load_file(..., force=True)``) re-checks every row regardless.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import duckdb

from livebase import __version__
from livebase.ingest.options import LoadOptions

__all__ = ["EarlierLoad", "latest_same_load", "options_fingerprint"]


def options_fingerprint(options: LoadOptions) -> str:
    """A short hash of everything in ``options`` that shapes what a file's rows become.

    The load date, the clock and the memory limit are left out (they do not change the rows);
    livebase's version is in (a new version may read a file differently).

    >>> from datetime import datetime
    >>> from livebase.ingest.presets import PRESETS
    >>> a = LoadOptions(PRESETS["generic"], loaded_at=datetime(2026, 2, 1))
    >>> b = LoadOptions(PRESETS["generic"], loaded_at=datetime(2026, 3, 1))
    >>> options_fingerprint(a) == options_fingerprint(b)
    True
    >>> options_fingerprint(a) == options_fingerprint(LoadOptions(PRESETS["generic"],
    ...     loaded_at=datetime(2026, 2, 1), delimiter=";"))
    False
    """
    shaping = {
        "livebase": __version__,
        "preset": options.preset.name,
        "kind": options.preset.kind,
        "config": options.config.model_dump(mode="json", exclude={"memory_limit"}),
        "column_map": sorted(options.column_map.items()),
        "skip_bad_rows": options.skip_bad_rows,
        "default_currency": options.default_currency,
        "encoding": options.encoding,
        "delimiter": options.delimiter,
        "conflicting_duplicates": options.conflicting_duplicates,
        "timezone": options.timezone,
    }
    text = json.dumps(shaping, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class EarlierLoad:
    """The store's latest load, when a re-load of the same file may be skipped against it."""

    load_id: int
    """The load that read the rows (a chain of skipped re-loads points back to it)."""
    file: str
    checksum: str
    rows_read: int
    rows_duplicate: int


def latest_same_load(
    con: duckdb.DuckDBPyConnection, kind: str, fingerprint: str
) -> EarlierLoad | None:
    """The store's latest load if it is of ``kind``, read with these options and rejected no
    row; else None (the file, whatever its checksum, must then be loaded in full).

    >>> from livebase.store import Store
    >>> latest_same_load(Store.in_memory().con, "orders", "0123456789abcdef") is None
    True
    """
    row = con.execute(
        """SELECT coalesce(skipped_since, load_id), file, checksum, rows_read, rows_duplicate
        FROM loads
        WHERE load_id = (SELECT max(load_id) FROM loads)
          AND kind = ? AND options = ? AND rows_rejected = 0""",
        [kind, fingerprint],
    ).fetchone()
    if row is None:
        return None
    return EarlierLoad(int(row[0]), str(row[1]), str(row[2]), int(row[3]), int(row[4]))
