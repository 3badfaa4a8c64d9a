"""Loading one file into the store: stage, validate in SQL, merge, record — all or nothing.

Steps, for one file:

0. If the store's latest load was this very file (same sha256) read with the same options, the
   load is skipped: it would leave every row unchanged (:mod:`livebase.ingest.unchanged`).
1. ``prepare``: checksum, sniff, stream to a UTF-8 view (cp1251 and XLSX are converted). A
   UTF-8 CSV, read by DuckDB as it is, has its checksum and blank rows computed in a thread
   while step 2 stages it (:mod:`livebase.ingest.file_scan`).
2. Stage every cell as text in a temporary table (DuckDB's parallel CSV reader); lines the
   reader cannot split (missing or extra columns, broken quotes, bad bytes) are collected
   (:mod:`livebase.ingest.staging`).
3. Parse and validate all rows in one query; each bad cell gets a problem text
   (:mod:`livebase.ingest.validation`). Into a store without orders, the parse is first a view
   whose good rows go straight into ``orders``, kept when every row was good and no order id
   repeats (:mod:`livebase.ingest.first_load`); otherwise rolled back, and on to step 3's table.
4. If anything is wrong and ``skip_bad_rows`` is off: raise, naming the first rows — nothing
   was written. Otherwise the bad rows go to ``<file>.rejected.csv``
   (:mod:`livebase.ingest.records`).
5. In one transaction: merge into the target table (insert new, update changed, count
   unchanged and duplicates), upsert customers, refresh ``customer_state``
   (:mod:`livebase.ingest.merge`), record the load.

The load works on a cursor of its own: its temporary tables live and die with it.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Literal

import duckdb

from livebase.errors import ConfigError, IngestError, InputValidationError, StoreError
from livebase.i18n import _l
from livebase.ingest.cleanup import (
    check_writable,
    reclaim_store_space,
    remove_empty_temp_folder,
    terminate_cleanly,
)
from livebase.ingest.file_scan import FileScan
from livebase.ingest.first_load import (
    fits_in_memory,
    insert_when_all_good,
    staged_contacts_sql,
)
from livebase.ingest.mapping import ColumnMapping, map_columns
from livebase.ingest.merge import (
    merge_customers,
    merge_events,
    merge_first_orders_customers,
    merge_orders,
    next_load_id,
)
from livebase.ingest.options import LoadOptions
from livebase.ingest.parsing import quote
from livebase.ingest.presets import Preset
from livebase.ingest.records import LoadResult, record_load, write_rejected
from livebase.ingest.source import (
    PreparedFile,
    ProgressFn,
    file_checksum,
    make_workdir,
    prepare,
)
from livebase.ingest.staging import (
    parquet_columns,
    stage_file,
    structural_problems,
)
from livebase.ingest.unchanged import EarlierLoad, latest_same_load, options_fingerprint
from livebase.ingest.validation import collect_problems, parse_rows, problem_columns
from livebase.store import Store

__all__ = ["LoadOptions", "LoadResult", "StageFn", "load_file"]

Stage = Literal["read", "stage", "validate", "merge"]
StageFn = Callable[[Stage], None]

_SHOWN_PROBLEMS = 10


@contextlib.contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Statements inside commit together or not at all (on the load's own cursor)."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


_READ_ONLY_STORE = (
    "livebase writes its store and the store's journal (.wal) in the workspace folder: make "
    "the folder writable, or copy the workspace to a folder you can write to"
)


@contextlib.contextmanager
def _store_errors(store: Store) -> Iterator[None]:
    """A file-system refusal while writing the store is one message naming the store."""
    try:
        yield
    except duckdb.IOException as exc:
        raise StoreError(
            f"cannot write the store {store.path}: {exc}. Nothing was loaded. {_READ_ONLY_STORE}"
        ) from None


def _has_header(prepared: PreparedFile, preset: Preset) -> bool:
    if not preset.headerless_columns or not prepared.headers:
        return True
    first = prepared.headers[0].replace(".", "").replace("-", "")
    return not first.isdigit()


def load_file(
    store: Store,
    item: str,
    options: LoadOptions,
    *,
    progress: ProgressFn | None = None,
    stage: StageFn | None = None,
    force: bool = False,
) -> LoadResult:
    """Load one file (path or '-' for stdin) of the preset's kind; all rows or none.

    A file that is the store's latest load again (same checksum, same options) is skipped
    before staging: the result says ``skipped`` and a row in ``loads`` records it
    (:mod:`livebase.ingest.unchanged`); ``force`` re-checks every row instead.

    >>> import tempfile, pathlib, datetime
    >>> from livebase.ingest.presets import PRESETS
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "orders.csv").write_text("order_id,customer_id,date,amount\\n"
    ...                                        "A1,c1,2026-01-05,10.50\\nA2,c2,2026-01-06,3\\n")
    >>> store = Store.in_memory()
    >>> result = load_file(store, str(folder / "orders.csv"),
    ...     LoadOptions(PRESETS["generic"], loaded_at=datetime.datetime(2026, 2, 1)))
    >>> result.rows_read, result.rows_inserted, store.fetch_value("SELECT sum(paid_amount) FROM orders")
    (2, 2, Decimal('13.50'))
    >>> again = load_file(store, str(folder / "orders.csv"),
    ...     LoadOptions(PRESETS["generic"], loaded_at=datetime.datetime(2026, 2, 2)))
    >>> again.skipped_since, again.rows_unchanged
    (1, 2)
    """
    fingerprint = options_fingerprint(options)
    earlier = None if force else latest_same_load(store.con, options.preset.kind, fingerprint)
    known = None
    if earlier is not None and item != "-":
        # one streamed sha256 of the original, before any conversion (cp1251, XLSX, gzip)
        try:
            known = file_checksum(Path(item))
        except OSError:
            known = None  # prepare names the problem
        if known == earlier.checksum:
            return _skip(store, item, options, fingerprint, earlier)
    return _load(store, item, options, fingerprint, earlier, known, progress, stage)


def _skip(
    store: Store, item: str, options: LoadOptions, fingerprint: str, earlier: EarlierLoad
) -> LoadResult:
    """Record a re-load that found the file unchanged since ``earlier``: every row unchanged."""
    con = store.con.cursor()
    try:
        with _store_errors(store), _transaction(con):
            result = LoadResult(
                next_load_id(con),
                options.preset.kind,
                "<stdin>" if item == "-" else item,
                earlier.checksum,
                options.preset.name,
                earlier.rows_read,
                0,
                0,
                earlier.rows_read - earlier.rows_duplicate,
                earlier.rows_duplicate,
                0,
                None,
                options.loaded_at,
                options.clock(),
                options.encoding or "",
                (f"unchanged since load {earlier.load_id} (same checksum): skipped",),
                fingerprint,
                earlier.load_id,
            )
            record_load(con, result)
        return result
    finally:
        con.close()


def _load(
    store: Store,
    item: str,
    options: LoadOptions,
    fingerprint: str,
    earlier: EarlierLoad | None,
    known: str | None,
    progress: ProgressFn | None,
    stage: StageFn | None,
) -> LoadResult:
    preset = options.preset
    started = options.loaded_at
    if store.path is not None:
        check_writable(store.path.parent, what="the store", hint=_READ_ONLY_STORE)
        remove_empty_temp_folder(store.path)
        reclaim_store_space(store.con, store.path)
    workdir = make_workdir()
    con = store.con.cursor()
    if store.path is not None:
        try:
            con.execute(f"SET memory_limit = {quote(options.config.memory_limit)}")
        except duckdb.Error as exc:
            con.close()
            shutil.rmtree(workdir, ignore_errors=True)
            raise ConfigError(
                f"not a memory size: '{options.config.memory_limit}' (e.g. 2GB)",
                key="ingest.memory_limit",
            ) from exc
    merging = succeeded = retried = False
    scan: FileScan | None = None
    with terminate_cleanly():
        try:
            if stage:
                stage("read")
            prepared = prepare(
                item,
                workdir,
                layout=preset.layout,
                delimiter=options.delimiter,
                encoding=options.encoding,
                progress=progress,
                checksum=known,
                background=True,
            )
            scan = prepared.scan
            if item == "-" and earlier is not None and prepared.checksum == earlier.checksum:
                return _skip(store, item, options, fingerprint, earlier)
            has_header = _has_header(prepared, preset)
            headers = prepared.headers
            if prepared.format == "parquet":
                headers = tuple(name for name, _ in parquet_columns(con, prepared.read_path))
            if not has_header:
                ncols = len(headers)
                names = preset.headerless_columns.get(ncols)
                if names is None:
                    raise IngestError(
                        _l(
                            "no header line, and {count} columns where preset '{preset}' "
                            "expects {expected}",
                            count=ncols,
                            preset=preset.name,
                            expected=" or ".join(str(n) for n in preset.headerless_columns),
                        ),
                        file=prepared.display,
                    )
                headers = names
            if not headers or not any(h.strip() for h in headers):
                raise IngestError(_l("the first line (the header) is empty"), file=prepared.display)
            mapping = map_columns(
                headers, preset, file=prepared.display, explicit=options.column_map
            )
            notes: list[str] = []
            if stage:
                stage("stage")
            try:
                stage_file(
                    con, prepared, preset, len(headers), has_header, timezone=options.timezone
                )
            except duckdb.Error as exc:
                raise IngestError(
                    f"cannot read the file as {prepared.format.upper()}: {exc}",
                    file=prepared.display,
                ) from None
            # the checksum and blank rows, computed while DuckDB staged the file
            prepared = prepared.scanned()
            structural, reject_lines = structural_problems(con, len(headers), prepared)
            if (
                structural
                and prepared.ascii_head
                and not options.encoding
                and any("not UTF-8 text" in p.problem for p in structural)
            ):
                # the start of the file was plain ASCII, so UTF-8 was a guess: it is Windows-1251
                return _load(
                    store,
                    item,
                    replace(options, encoding="cp1251"),
                    fingerprint,
                    earlier,
                    prepared.checksum,
                    progress,
                    stage,
                )
            broken_quote = next((p for p in structural if "quote is opened" in p.problem), None)
            if broken_quote is not None:
                raise IngestError(
                    f"row {broken_quote.row}: {broken_quote.problem}. Everything after it reads as "
                    "one value, so rows cannot be told apart (not even with --skip-bad-rows): "
                    f"close the quote in '{broken_quote.value}'",
                    file=prepared.display,
                )
            if stage:
                stage("validate")
            first_row = 2 if has_header else 1
            skipped = sorted(set(reject_lines) | set(prepared.skipped_lines))
            if (
                preset.kind == "orders"
                and not structural
                and fits_in_memory(con, prepared.read_path.stat().st_size)
                and _is_empty(con, "orders")
            ):
                parse_rows(con, mapping, preset, options, prepared, first_row, skipped, view=True)
                if stage:
                    stage("merge")
                merging = True
                first = _first_orders(store, con, prepared, mapping, options, fingerprint)
                if first is not None:
                    succeeded = True
                    return first
                # a row is not good, or an order id repeats: the detailed path says so
                retried = True
                con.execute("DROP VIEW lb_rows")
                if stage:
                    stage("validate")
            parsed_rows = parse_rows(con, mapping, preset, options, prepared, first_row, skipped)
            cols = parsed_rows.columns
            table = "lb_rows"
            # lb_rows holds one row per staged row that is not blank (counted, not scanned)
            parsed = con.execute("SELECT count(*) FROM lb_rows").fetchone()
            assert parsed is not None
            rows_read = int(parsed[0]) + len(structural)
            if rows_read == 0:
                raise IngestError(_l("the file has a header but no rows"), file=prepared.display)
            problems, total_bad = collect_problems(con, table, mapping, _SHOWN_PROBLEMS)
            all_problems = sorted(structural + problems, key=lambda p: p.row)
            total = total_bad + len(structural)
            if total and not options.skip_bad_rows:
                raise InputValidationError(
                    prepared.display, all_problems[:_SHOWN_PROBLEMS], total=total
                )

            rejected_file = None
            good = "true"
            if not total:
                # the raw cells only serve to quote bad rows: free their memory for the merge
                con.execute("DROP TABLE lb_stage")
            if total:
                fallback = None if store.path is None else store.path.parent / "rejected"
                written = write_rejected(
                    con, prepared, table, mapping, structural, fallback_folder=fallback
                )
                rejected_file = str(written)
                if written.parent != prepared.original.parent and prepared.display != "<stdin>":
                    notes.append(
                        f"the input's folder is read-only: rejected rows written to {written}"
                    )
                # keep the valid rows once, so later passes need not re-check every cell
                valid = " AND ".join(f"{c} IS NULL" for c in problem_columns(con, table))
                con.execute(f"CREATE TEMP TABLE lb_valid AS SELECT * FROM lb_rows WHERE {valid}")
                con.execute("DROP TABLE lb_rows")
                con.execute("ALTER TABLE lb_valid RENAME TO lb_rows")
            if stage:
                stage("merge")
            merging = True
            with _store_errors(store), _transaction(con):
                load_id = next_load_id(con)
                if preset.kind == "orders":
                    # with no row rejected, the merge's rows are the parsed rows: their
                    # repeated ids are counted already
                    repeated = None if total else parsed_rows.repeated_ids
                    counts = merge_orders(con, good, load_id, repeated, _contacts(mapping))
                elif preset.kind == "customers":
                    counts = merge_customers(con, good, load_id, cols)
                else:
                    counts = merge_events(con, good, load_id, cols)
                inserted, updated, unchanged, duplicate = counts
                rejected = total_bad + len(structural)
                if inserted + updated + unchanged + duplicate + rejected != rows_read:
                    raise IngestError(
                        f"internal check failed: {inserted}+{updated}+{unchanged}+{duplicate}"
                        f"+{rejected} rows accounted for, {rows_read} read; nothing was loaded",
                        file=prepared.display,
                    )
                result = LoadResult(
                    load_id,
                    preset.kind,
                    prepared.display,
                    prepared.checksum,
                    preset.name,
                    rows_read,
                    inserted,
                    updated,
                    unchanged,
                    duplicate,
                    rejected,
                    rejected_file,
                    started,
                    options.clock(),
                    prepared.encoding,
                    tuple(mapping.notes + notes),
                    fingerprint,
                )
                record_load(con, result)
            succeeded = True
            return result
        finally:
            try:
                if scan is not None:
                    scan.cancel()  # the load ended before it needed the scan (or after: no-op)
            finally:
                _clean_up(store, con, workdir, rolled_back=retried or (merging and not succeeded))


@contextlib.contextmanager
def _reset(con: duckdb.DuckDBPyConnection, setting: str) -> Iterator[None]:
    """``setting`` back to its default when the block ends (after its transaction did)."""
    try:
        yield
    finally:
        con.execute(f"RESET {setting}")


def _is_empty(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    row = con.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {table})").fetchone()
    assert row is not None
    return bool(row[0])


def _contacts(mapping: ColumnMapping) -> tuple[str, ...]:
    """Those of email, phone and name the file has (``lb_rows`` holds NULL for the others)."""
    return tuple(c for c in ("email", "phone", "name") if mapping.fields.get(c))


def _first_orders(
    store: Store,
    con: duckdb.DuckDBPyConnection,
    prepared: PreparedFile,
    mapping: ColumnMapping,
    options: LoadOptions,
    fingerprint: str,
) -> LoadResult | None:
    """The store's first orders, straight from the view ``lb_rows`` into ``orders``, when
    every row is good (:mod:`livebase.ingest.first_load`); None, with nothing written, when
    not."""
    result = None
    # the rows' order in the table means nothing (each load's rows carry their row numbers)
    con.execute("SET preserve_insertion_order = false")
    with _store_errors(store), _reset(con, "preserve_insertion_order"):
        con.execute("BEGIN TRANSACTION")
        try:
            load_id = next_load_id(con)
            inserted = insert_when_all_good(con, load_id, len(mapping.headers))
            if inserted is not None:
                merge_first_orders_customers(
                    con,
                    load_id,
                    _contacts(mapping),
                    staged_contacts_sql(mapping),
                )
                result = LoadResult(
                    load_id,
                    options.preset.kind,
                    prepared.display,
                    prepared.checksum,
                    options.preset.name,
                    inserted,
                    inserted,
                    0,
                    0,
                    0,
                    0,
                    None,
                    options.loaded_at,
                    options.clock(),
                    prepared.encoding,
                    tuple(mapping.notes),
                    fingerprint,
                )
                record_load(con, result)
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT" if result is not None else "ROLLBACK")
    return result


def _clean_up(
    store: Store, con: duckdb.DuckDBPyConnection, workdir: Path, *, rolled_back: bool
) -> None:
    """Every step runs, even when an earlier one is interrupted (a second signal, an error):
    the temporary folder first, then the cursor (whose temporary tables go with it)."""
    with contextlib.ExitStack() as steps:
        # an ExitStack runs its callbacks last-in first-out, each even if another raised;
        # the folder goes again once the cursor is closed: a query interrupted by a signal may
        # still have been writing into it when it was first removed
        steps.callback(shutil.rmtree, workdir, ignore_errors=True)
        steps.callback(remove_empty_temp_folder, store.path)
        if rolled_back:
            # a rolled-back merge leaves its written blocks at the end of the file
            steps.callback(_quietly, reclaim_store_space, store.con, store.path)
        steps.callback(con.close)
        if store.path is not None:
            steps.callback(_quietly, con.execute, "RESET memory_limit")
        steps.callback(shutil.rmtree, workdir, ignore_errors=True)


def _quietly(step: Callable[..., object], *args: object) -> None:
    with contextlib.suppress(duckdb.Error):
        step(*args)
