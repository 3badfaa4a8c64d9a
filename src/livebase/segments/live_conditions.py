"""Rule conditions of one customer, evaluated in Python with DuckDB's semantics, once compiled.

The live status update after a purchase re-assigns the customer's rules and jobs schemes with
the same checked SQL conditions as the batch run (:mod:`livebase.segments.rules`). Opening a
DuckDB connection per event to evaluate them costs tens of milliseconds, more under load; here
each checked condition is compiled once per process into a Python closure over the customer's
row, with SQL's three-valued logic and DuckDB's comparison rules.

The compiled subset is what segment rules are made of: columns, literals, comparisons,
``AND/OR/NOT``, ``IN`` and ``BETWEEN``, ``IS [NOT] NULL``, ``+ - * /`` on numbers, and
``coalesce``, ``least``, ``greatest``, ``abs``, ``DATE '…'`` literals. Values compare only with values of their own
kind (numbers with numbers, text with text, dates with dates, booleans with booleans). A
condition outside the subset (``LIKE``, ``CAST``, ``CASE``, ``round``…), or a row that meets
a case the subset does not decide (a date compared with a text literal, a division by zero),
is evaluated the original way instead, on one in-memory DuckDB connection kept by the process:
the answer is always DuckDB's. A column the row lacks is NULL, as in the batch run's table.

>>> from livebase.segments.rules import CheckedRule
>>> rules = [CheckedRule("vip", "monetary >= 10000 AND recency_days <= 180", None),
...          CheckedRule("sleeping", "COALESCE(days_since_login, 9999) >= 45", None)]
>>> matcher = FirstMatch(rules)
>>> matcher.compiled
True
>>> matcher.first({"monetary": 15000.0, "recency_days": 20, "days_since_login": None})
0
>>> matcher.first({"monetary": 150.0, "recency_days": None, "days_since_login": None})
1
>>> matcher.first({"monetary": 150.0, "recency_days": 20, "days_since_login": 3}) is None
True
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
import sqlglot
from sqlglot import exp

from livebase.segments.rules import CheckedRule

__all__ = ["FirstMatch", "duckdb_first_match"]

Row = Mapping[str, Any]
Compiled = Callable[[Row], Any]


class _Unsupported(Exception):
    """A condition outside the compiled subset (found once, when compiling)."""


class _Undecided(Exception):
    """A row the compiled subset does not decide (found per row): DuckDB answers instead."""


def _is_date_column(name: str) -> bool:
    return name.endswith("_date") or name.endswith("_since")


def _cell(row: Row, name: str) -> Any:
    """A column's value as the DuckDB evaluation sees it (absent or NaN is NULL, ``*_date``
    and ``*_since`` columns are dates)."""
    value = row.get(name)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if _is_date_column(name) and not isinstance(value, date):
        if isinstance(value, str) and len(value) >= 10:
            try:
                return date.fromisoformat(value[:10])
            except ValueError:
                raise _Undecided(name) from None
        raise _Undecided(name)
    if isinstance(value, datetime):
        raise _Undecided(name)
    return value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, date):
        return "date"
    raise _Undecided(type(value).__name__)


def _comparable(a: Any, b: Any) -> tuple[Any, Any]:
    """Both values in one domain DuckDB would compare them in, or undecided."""
    kind = _kind(a)
    if kind != _kind(b):
        raise _Undecided("values of different kinds")
    if kind == "number" and (isinstance(a, float) or isinstance(b, float)):
        return float(a), float(b)  # DOUBLE against anything numeric compares as DOUBLE
    return a, b


_COMPARE: dict[type[exp.Expression], Callable[[Any, Any], bool]] = {
    exp.EQ: lambda a, b: bool(a == b),
    exp.NEQ: lambda a, b: bool(a != b),
    exp.GT: lambda a, b: bool(a > b),
    exp.GTE: lambda a, b: bool(a >= b),
    exp.LT: lambda a, b: bool(a < b),
    exp.LTE: lambda a, b: bool(a <= b),
}


def _compare(op: Callable[[Any, Any], bool], a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return None
    x, y = _comparable(a, b)
    return op(x, y)


def _number(value: Any) -> Any:
    if value is not None and _kind(value) != "number":
        raise _Undecided("arithmetic on a value that is not a number")
    return value


def _arith(op: str, a: Any, b: Any) -> Any:
    a, b = _number(a), _number(b)
    if a is None or b is None:
        return None
    if op == "/":
        if b == 0:
            raise _Undecided("division by zero")  # DuckDB gives ±inf or NaN
        return float(a) / float(b)
    if isinstance(a, float) or isinstance(b, float):
        a, b = float(a), float(b)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    return a * b


def _literal(node: exp.Literal) -> Any:
    text = str(node.this)
    if node.is_string:
        return text
    if any(c in text for c in "eE"):
        return float(text)  # DuckDB reads scientific notation as DOUBLE
    if "." in text:
        return Decimal(text)  # DuckDB reads 0.5 as DECIMAL: exact against integers
    return int(text)


def _junction(parts: Sequence[Any], decisive: bool) -> bool | None:
    """SQL's three-valued AND (``decisive`` False: one false part decides) or OR (True)."""
    unknown = False
    for part in parts:
        if part is decisive:
            return bool(decisive)
        if part is None:
            unknown = True
        elif part is not (not decisive):
            raise _Undecided(f"{'OR' if decisive else 'AND'} of a value that is not a condition")
    return None if unknown else not decisive


def _and(parts: Sequence[Any]) -> bool | None:
    return _junction(parts, False)


def _or(parts: Sequence[Any]) -> bool | None:
    return _junction(parts, True)


def _compile(node: exp.Expression) -> Compiled:
    """A closure computing ``node`` over a row, or :class:`_Unsupported`."""
    if isinstance(node, exp.Paren):
        return _compile(node.this)
    if isinstance(node, exp.Column):
        if node.table:
            raise _Unsupported("qualified column")
        name = node.name
        return lambda row: _cell(row, name)
    if isinstance(node, exp.Literal):
        value = _literal(node)
        return lambda row: value
    if isinstance(node, exp.Boolean):
        truth = bool(node.this)
        return lambda row: truth
    if isinstance(node, exp.Null):
        return lambda row: None
    if isinstance(node, exp.And | exp.Or):
        left, right = _compile(node.this), _compile(node.expression)
        combine, decided = (_and, False) if isinstance(node, exp.And) else (_or, True)

        def logic(row: Row) -> bool | None:
            first = left(row)
            if first is decided:  # FALSE AND x, TRUE OR x: x is not needed
                return bool(decided)
            return combine((first, right(row)))

        return logic
    if isinstance(node, exp.Not):
        inner = _compile(node.this)

        def negate(row: Row) -> bool | None:
            value = inner(row)
            if value is None:
                return None
            if not isinstance(value, bool):
                raise _Undecided("NOT of a value that is not a condition")
            return not value

        return negate
    if type(node) in _COMPARE:
        op = _COMPARE[type(node)]
        left, right = _compile(node.this), _compile(node.expression)
        return lambda row: _compare(op, left(row), right(row))
    if isinstance(node, exp.Is):
        if not isinstance(node.expression, exp.Null):
            raise _Unsupported("IS other than IS NULL")
        inner = _compile(node.this)
        return lambda row: inner(row) is None
    if isinstance(node, exp.Between):
        if node.args.get("symmetric"):
            raise _Unsupported("BETWEEN SYMMETRIC")
        value, low, high = (
            _compile(node.this),
            _compile(node.args["low"]),
            _compile(node.args["high"]),
        )

        def between(row: Row) -> bool | None:
            v = value(row)
            return _and(
                (
                    _compare(_COMPARE[exp.GTE], v, low(row)),
                    _compare(_COMPARE[exp.LTE], v, high(row)),
                )
            )

        return between
    if isinstance(node, exp.In):
        if node.args.get("query") or node.args.get("unnest") or node.args.get("field"):
            raise _Unsupported("IN over a query")
        value = _compile(node.this)
        items = [_compile(e) for e in node.expressions]
        eq = _COMPARE[exp.EQ]
        return lambda row: _or([_compare(eq, value(row), item(row)) for item in items])
    if isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Div):
        if isinstance(node, exp.Div) and (node.args.get("typed") or node.args.get("safe")):
            raise _Unsupported("integer division")
        symbol = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/"}[type(node)]
        left, right = _compile(node.this), _compile(node.expression)
        return lambda row: _arith(symbol, left(row), right(row))
    if isinstance(node, exp.Neg):
        inner = _compile(node.this)
        return lambda row: _arith("*", inner(row), -1)
    if isinstance(node, exp.Coalesce):
        parts = [_compile(node.this), *(_compile(e) for e in node.expressions)]
        return lambda row: next((v for v in (p(row) for p in parts) if v is not None), None)
    if isinstance(node, exp.Least | exp.Greatest):
        parts = [_compile(node.this), *(_compile(e) for e in node.expressions)]
        pick = min if isinstance(node, exp.Least) else max

        def extreme(row: Row) -> Any:
            values = [_number(v) for v in (p(row) for p in parts) if v is not None]
            if not values:
                return None
            if any(isinstance(v, float) for v in values):
                values = [float(v) for v in values]
            return pick(values)

        return extreme
    if isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.DATE):
        inner_node = node.this
        if isinstance(inner_node, exp.Literal) and inner_node.is_string:
            try:
                day = date.fromisoformat(str(inner_node.this))
            except ValueError:
                raise _Unsupported("a date literal DuckDB reads its own way") from None
            return lambda row: day
        raise _Unsupported("CAST other than a DATE literal")
    if isinstance(node, exp.Abs):
        inner = _compile(node.this)
        return lambda row: None if (v := _number(inner(row))) is None else abs(v)
    raise _Unsupported(type(node).__name__)


_CONNECTION: list[Any] = []
_LOCK = threading.Lock()


def _frame(row: Row) -> pd.DataFrame:
    frame = pd.DataFrame([dict(row)])
    for column in frame.columns:
        if _is_date_column(str(column)):
            frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame


def _parsed(sql: str) -> exp.Expression:
    tree = sqlglot.parse_one(sql, read="duckdb")
    if not isinstance(tree, exp.Expression):
        raise _Unsupported(type(tree).__name__)
    return tree


def _columns(rules: Sequence[CheckedRule]) -> tuple[str, ...]:
    """Every column the conditions of ``rules`` read."""
    names = {column.name for rule in rules for column in _parsed(rule.sql).find_all(exp.Column)}
    return tuple(sorted(names))


def duckdb_first_match(row: Row, rules: Sequence[CheckedRule]) -> int | None:
    """The index of the first rule whose condition holds for ``row``, evaluated by DuckDB on
    the process's one in-memory connection (opened on first use). A column the row lacks is
    NULL (a status row keeps no value of a signal the customer never had)."""
    import duckdb

    whens = " ".join(f"WHEN {rule.sql} THEN {i}" for i, rule in enumerate(rules))
    frame = _frame({**dict.fromkeys(_columns(rules)), **row})
    with _LOCK:
        if not _CONNECTION:
            _CONNECTION.append(duckdb.connect(config={"threads": 1}))
        con = _CONNECTION[0]
        con.register("lb_live_inputs", frame)
        try:
            found = con.execute(f"SELECT CASE {whens} END FROM lb_live_inputs").fetchall()
        finally:
            con.unregister("lb_live_inputs")
    index = found[0][0] if found else None
    return None if index is None else int(index)


class FirstMatch:
    """Ordered rules compiled once: :meth:`first` gives the first that holds for a row."""

    def __init__(self, rules: Sequence[CheckedRule]) -> None:
        self.rules = tuple(rules)
        compiled: list[Compiled] | None
        try:
            compiled = [_compile(_parsed(r.sql)) for r in self.rules]
        except _Unsupported:
            compiled = None
        self._compiled = compiled

    @property
    def compiled(self) -> bool:
        """Whether every condition runs in Python (else DuckDB evaluates them all)."""
        return self._compiled is not None

    def first(self, row: Row) -> int | None:
        """The index of the first rule whose condition is true for ``row`` (None: none)."""
        if self._compiled is not None:
            try:
                for index, condition in enumerate(self._compiled):
                    holds = condition(row)
                    if holds is True:
                        return index
                    if holds is not None and holds is not False:
                        raise _Undecided("a condition that is a value")  # DuckDB casts it
                return None
            except _Undecided:
                pass
        return duckdb_first_match(row, self.rules)
