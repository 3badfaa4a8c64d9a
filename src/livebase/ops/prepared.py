"""Core statements compiled once and run on SQLite's own cursor: the outbox worker's hot writes.

For the worker's small batches (a few rows per settle, a few hundred per claim) SQLAlchemy's
``Connection.execute`` costs several times SQLite's own work: per statement it sets up an
execution context, per row it constructs the parameters and passes every value through the
types' processors. A :class:`Prepared` statement is compiled once per dialect. On SQLite each
execution converts the rows with the very bind processors Core would use (so timestamps, JSON
and numbers are stored exactly as Core stores them) and hands them to the DBAPI cursor of the
caller's connection, inside the caller's transaction; driver errors are raised as SQLAlchemy's
(``sa.exc.OperationalError``…), as Core raises them. Other dialects (PostgreSQL, where the
server round trip dominates) execute the statement through Core as usual.

Values: a row supplies every name in ``keys``; literal values of the statement are converted
once; a column default computed in Python (``recorded_at``) is evaluated once per execution.
A parameter with none of these, or an expanding ``IN`` list, is refused when the statement is
compiled (compile one statement per list length instead).

>>> import sqlalchemy as sa
>>> from livebase.ops.tables import OUTBOX
>>> engine = sa.create_engine("sqlite://")
>>> sa.MetaData().create_all(engine, [OUTBOX.to_metadata(sa.MetaData())])
>>> rename = Prepared(
...     OUTBOX.update().where(OUTBOX.c.key == sa.bindparam("b_key")).values(status="sent"),
...     ["b_key"],
... )
>>> with engine.begin() as con:
...     rename.execute(con, [{"b_key": "k1"}, {"b_key": "k2"}])
0
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.compiler import SQLCompiler

__all__ = ["Prepared"]

_UNSET = object()

_Plan = list[tuple[str, bool, Callable[[Any], Any] | None]]
"""Per positional parameter: (name, whether the value is fixed per execution, processor)."""


class _Compiled:
    """A statement compiled for SQLite: its SQL, and where each positional value comes from."""

    def __init__(self, compiled: SQLCompiler, keys: frozenset[str], dialect: Dialect) -> None:
        if not compiled.positional or compiled.positiontup is None:
            raise ValueError(f"not a positional statement: {compiled.string}")
        self.sql = compiled.string
        self.plan: _Plan = []
        self.constants: dict[str, Any] = {}
        self.defaults: dict[str, tuple[Callable[[], Any], Callable[[Any], Any] | None]] = {}
        prefetch = {
            column.key: column
            for column in [
                *getattr(compiled, "insert_prefetch", ()),
                *getattr(compiled, "update_prefetch", ()),
            ]
        }
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            if bind.expanding:
                raise ValueError(f"expanding parameter {name} cannot be prepared")
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if name in keys:
                self.plan.append((name, False, process))
                continue
            if name in prefetch:
                self.defaults[name] = (_python_default(prefetch[name], name), process)
            elif not bind.required:
                value = bind.effective_value
                self.constants[name] = value if process is None else process(value)
            else:
                raise ValueError(f"no value for the parameter {name} of: {self.sql}")
            self.plan.append((name, True, None))

    def values(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        """The positional values of ``rows`` (defaults evaluated once for them all).

        Built column by column; a value that is the very object of the row before (the batch's
        ``now``, a ``None``) is converted once for the run, not once per row: the processors
        are functions of the value alone, and nothing changes the rows meanwhile.
        """
        fixed = dict(self.constants)
        for name, (make, process) in self.defaults.items():
            value = make()
            fixed[name] = value if process is None else process(value)
        count = len(rows)
        if count == 1:  # one row (the hand-over): no runs to share
            [row] = rows
            return [
                tuple(
                    fixed[name]
                    if is_fixed
                    else (row[name] if process is None else process(row[name]))
                    for name, is_fixed, process in self.plan
                )
            ]
        columns: list[Sequence[Any]] = []
        for name, is_fixed, process in self.plan:
            if is_fixed:
                columns.append([fixed[name]] * count)
            elif process is None:
                columns.append([row[name] for row in rows])
            else:
                columns.append(_converted([row[name] for row in rows], process))
        if not columns:
            return [()] * count
        return list(zip(*columns, strict=True))


def _converted(column: list[Any], process: Callable[[Any], Any]) -> list[Any]:
    """``column`` through ``process``, called once per run of the same object.

    >>> calls = []
    >>> now = object()
    >>> _converted([now, now, None, None, now], lambda v: calls.append(v) or len(calls))
    [1, 1, 2, 2, 3]
    """
    out: list[Any] = []
    last: Any = _UNSET
    converted: Any = None
    for value in column:
        if value is not last:
            last = value
            converted = process(value)
        out.append(converted)
    return out


def _python_default(column: sa.Column[Any], name: str) -> Callable[[], Any]:
    default = column.onupdate if column.default is None else column.default
    if default is None or not isinstance(default, sa.ColumnDefault):
        raise ValueError(f"no value for the parameter {name} (its default is not in Python)")
    if default.is_callable:
        function = default.arg
        return lambda: function(None)  # Core wraps a no-argument callable to take a context
    if not default.is_scalar:
        raise ValueError(f"no value for the parameter {name} (its default is SQL)")
    value = default.arg
    return lambda: value


class Prepared:
    """One Core ``INSERT``/``UPDATE``/``DELETE`` whose rows supply ``keys`` (see the module
    docstring)."""

    def __init__(self, statement: sa.Insert | sa.Update | sa.Delete, keys: Sequence[str]) -> None:
        self.statement = statement
        self.keys = frozenset(keys)
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            column_keys = sorted(self.keys) if isinstance(self.statement, sa.Insert) else None
            compiled = self.statement.compile(dialect=dialect, column_keys=column_keys)
            if not isinstance(compiled, SQLCompiler):
                raise TypeError(f"not a SQL statement: {self.statement}")
            found = self._compiled[dialect.name] = _Compiled(compiled, self.keys, dialect)
        return found

    def execute(self, con: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
        """Execute the statement once per row, in ``con``'s transaction; returns the rows
        changed as the driver counts them (-1 when it does not: PostgreSQL's batched insert)."""
        if not rows:
            return 0
        if con.dialect.name != "sqlite":
            return int(con.execute(self.statement, list(rows)).rowcount)
        compiled = self._for(con.dialect)
        values = compiled.values(rows)
        cursor = con.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(compiled.sql, values)
            return int(cursor.rowcount)
        except con.dialect.loaded_dbapi.Error as exc:
            raise _core_error(compiled.sql, values, exc, con.dialect) from exc
        finally:
            cursor.close()

    def fetch(self, con: Connection, row: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Execute the statement once for ``row`` and return what it returns (``RETURNING``),
        as plain tuples (no result processing: for text and integer columns)."""
        if con.dialect.name != "sqlite":
            return [tuple(r) for r in con.execute(self.statement, dict(row))]
        compiled = self._for(con.dialect)
        [values] = compiled.values([row])
        cursor = con.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(compiled.sql, values)
            return [tuple(r) for r in cursor.fetchall()]
        except con.dialect.loaded_dbapi.Error as exc:
            raise _core_error(compiled.sql, values, exc, con.dialect) from exc
        finally:
            cursor.close()


def _core_error(sql: str, values: Any, exc: Exception, dialect: Dialect) -> sa.exc.StatementError:
    """The SQLAlchemy error Core raises for the driver error ``exc``."""
    return sa.exc.DBAPIError.instance(sql, values, exc, dialect.loaded_dbapi.Error, dialect=dialect)
