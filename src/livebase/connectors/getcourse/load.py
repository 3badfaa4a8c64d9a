"""Loading an export from the API through the same load as a downloaded export file.

The export's header and rows are written, as they came, to a temporary UTF-8 CSV with the
export's Russian field names, and :func:`livebase.ingest.load_file` loads it with the
getcourse preset of the object: one set of mapping rules for files and the API, and the same
atomic, idempotent merge (a re-read row that did not change counts as unchanged).

>>> PRESET_OF["deals"], PRESET_OF["users"], PRESET_OF["payments"]
('getcourse', 'getcourse-users', 'getcourse-payments')
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from livebase.config import IngestConfig
from livebase.connectors.getcourse.client import ExportTable
from livebase.ingest import PRESETS, LoadOptions, LoadResult, load_file
from livebase.store import Store

__all__ = ["PRESET_OF", "load_export", "write_export_csv"]

PRESET_OF: dict[str, str] = {
    "deals": "getcourse",
    "users": "getcourse-users",
    "payments": "getcourse-payments",
}


def write_export_csv(table: ExportTable, path: Path) -> Path:
    """Write ``table`` as a CSV export would look: header of field names, one line per item."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(table.fields)
        for row in table.items:
            writer.writerow(["" if v is None else v for v in row])
    return path


def load_export(
    store: Store,
    table: ExportTable,
    *,
    loaded_at: datetime,
    config: IngestConfig,
    default_currency: str,
    clock: Callable[[], datetime],
) -> LoadResult:
    """Load one finished export into ``store`` with its object's getcourse preset.

    All rows or none: a row the preset rejects raises (the store is unchanged).
    """
    folder = Path(tempfile.mkdtemp(prefix="livebase-getcourse-"))
    try:
        path = write_export_csv(
            table, folder / f"getcourse-{table.object}-export-{table.export_id}.csv"
        )
        options = LoadOptions(
            PRESETS[PRESET_OF[table.object]],
            loaded_at=loaded_at,
            config=config,
            default_currency=default_currency,
            encoding="utf-8",
            delimiter=",",
            clock=clock,
        )
        return load_file(store, str(path), options)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
