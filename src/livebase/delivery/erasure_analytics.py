"""Erasure in the analytics store (DuckDB): the customer id becomes the pseudonym in every
table, text naming the person is cleared, and the file is rewritten so no freed page keeps the
old values."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from livebase.delivery.erasure_subject import ErasureReport, Person

__all__ = ["erase_analytics", "rewrite_duckdb"]


def erase_analytics(con: Any, person: Person, alias: str, report: ErasureReport) -> None:
    """In every table of the DuckDB connection ``con``: the customer id becomes ``alias`` (also
    inside ids built from it), and every text value naming the person becomes NULL; counts go
    to ``report.analytics``."""
    tables = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_type = 'BASE TABLE'"
        ).fetchall()
    ]
    needles = person.needles()
    phone_digits = [
        re.sub(r"\D", "", p)[-10:] for p in person.phones if len(re.sub(r"\D", "", p)) >= 10
    ]
    for table in tables:
        columns = con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? AND table_schema = 'main'",
            [table],
        ).fetchall()
        touched = 0
        names = {c for c, _ in columns}
        if "customer_id" in names:
            result = con.execute(
                f'UPDATE "{table}" SET customer_id = ? WHERE CAST(customer_id AS VARCHAR) = ?',
                [alias, person.customer_id],
            ).fetchall()
            touched += int(result[0][0]) if result else 0
        id_pattern = f"(^|[^A-Za-z0-9]){re.escape(person.customer_id)}($|[^A-Za-z0-9])"
        for column, kind in columns:
            if kind not in ("VARCHAR", "JSON") or column == "customer_id":
                continue
            if kind == "VARCHAR":  # ids built from the customer id (event or order digests)
                result = con.execute(
                    f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) '
                    f'WHERE regexp_matches("{column}", ?)',
                    [person.customer_id, alias, id_pattern],
                ).fetchall()
                touched += int(result[0][0]) if result else 0
            conditions = [f'lower(CAST("{column}" AS VARCHAR)) LIKE ?' for _ in needles]
            params: list[Any] = [f"%{n}%" for n in needles]
            for digits in phone_digits:
                conditions.append(
                    f"regexp_replace(CAST(\"{column}\" AS VARCHAR), '\\D', '', 'g') LIKE ?"
                )
                params.append(f"%{digits}%")
            conditions.append(f'CAST("{column}" AS VARCHAR) = ?')
            params.append(person.customer_id)
            result = con.execute(
                f'UPDATE "{table}" SET "{column}" = NULL WHERE {" OR ".join(conditions)}', params
            ).fetchall()
            touched += int(result[0][0]) if result else 0
        if touched:
            report.analytics[table] = touched


def rewrite_duckdb(path: Path) -> None:
    """Copy the database into a fresh file and replace it: freed pages keep no old values."""
    import duckdb

    fresh = path.with_name(path.name + ".erasing")
    fresh.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute(f"ATTACH '{fresh}' AS fresh")
        db = con.execute("SELECT current_database()").fetchone()
        name = db[0] if db else "main"
        con.execute(f'COPY FROM DATABASE "{name}" TO fresh')
        con.execute("DETACH fresh")
    finally:
        con.close()
    fresh.replace(path)
    Path(str(path) + ".wal").unlink(missing_ok=True)
