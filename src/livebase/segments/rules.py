"""Rule conditions: parsed and checked with sqlglot, then rendered back as DuckDB SQL.

A rule condition is one SQL boolean expression over feature columns, for example
``paid_modules_90d >= 2 and days_since_login < 7``. Allowed: the columns listed by
``rule_columns`` (no table names), literals (numbers, strings, TRUE/FALSE/NULL, ``DATE '…'``),
comparisons, ``AND/OR/NOT``, ``IN (…)`` with literals, ``BETWEEN``, ``IS [NOT] NULL``,
``LIKE/ILIKE``, arithmetic and the functions in ``ALLOWED_FUNCTIONS``. Anything else, a
subquery, another table, ``*``, several statements, DDL or DML, is a ``RuleError`` naming the
rule and its YAML line.

**Unreachable rules.** A rule no customer can reach is an error too. The checker turns every
condition into a disjunction of conjunctions (at most 64) of *atoms*. An atom it understands is
a comparison of one column with a literal (``<, <=, >, >=, =``, ``BETWEEN``, ``IN``,
``IS [NOT] NULL``); any other atom is compared by its normalised SQL text only. A later rule
is unreachable when each of its conjunctions is contradictory (``x > 5 and x < 3``) or implies
some single conjunction of one earlier rule, column by column (``x >= 0`` covers
``x > 5 and y = 1``; ``TRUE`` covers everything; an identical condition covers itself).
Limits (it proves coverage, it never guesses): it does not combine several earlier
conjunctions (``x < 5`` then ``x >= 5`` do not together cover ``y = 1``), does not reason
about ``NOT``, ``<>``, arithmetic, functions or relations between two columns, and treats a
comparison with NULL as false (SQL semantics: a rule on ``days_since_login`` never matches
a customer who never logged in).

>>> check_condition("frequency >= 2 and recency_days < 30", {"frequency", "recency_days"},
...                 rule="Loyal")
'frequency >= 2 AND recency_days < 30'
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from livebase.errors import RuleError, did_you_mean
from livebase.segments.settings import RuleSpec

__all__ = ["ALLOWED_FUNCTIONS", "CheckedRule", "check_condition", "check_rules"]

ALLOWED_FUNCTIONS: dict[type[Any], str] = {
    exp.Abs: "abs",
    exp.Coalesce: "coalesce",
    exp.Least: "least",
    exp.Greatest: "greatest",
    exp.Round: "round",
    exp.Floor: "floor",
    exp.Ceil: "ceil",
    exp.Lower: "lower",
    exp.Upper: "upper",
    exp.Length: "length",
    exp.Nullif: "nullif",
    exp.If: "if",
}
"""Functions a rule may call (sqlglot expression → name shown to the user)."""

_STRUCTURE: tuple[type[Any], ...] = (
    exp.Column,
    exp.Identifier,
    exp.Literal,
    exp.Boolean,
    exp.Null,
    exp.And,
    exp.Or,
    exp.Not,
    exp.Paren,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.Is,
    exp.In,
    exp.Between,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.Mod,
    exp.Neg,
    exp.Like,
    exp.ILike,
    exp.Cast,
    exp.DataType,
    exp.Case,
    exp.Tuple,
)
_FORBIDDEN: tuple[type[Any], ...] = (
    exp.Query,
    exp.Subquery,
    exp.Exists,
    exp.Table,
    exp.Star,
    exp.Create,
    exp.Drop,
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Alter,
    exp.Command,
    exp.Placeholder,
)
_MAX_DISJUNCTS = 64


@dataclass(frozen=True)
class CheckedRule:
    """A rule whose condition passed the checks; ``sql`` is its normalised DuckDB SQL."""

    name: str
    sql: str
    line: int | None


def _fail(message: str, rule: str, line: int | None) -> RuleError:
    return RuleError(message, rule=rule, line=line)


def check_condition(
    condition: str, columns: Collection[str], *, rule: str = "", line: int | None = None
) -> str:
    """Parse and check one condition; returns it as normalised DuckDB SQL."""
    try:
        statements = [s for s in sqlglot.parse(condition, read="duckdb") if s is not None]
    except ParseError as exc:
        detail = exc.errors[0]["description"] if exc.errors else str(exc)
        raise _fail(f"not a valid SQL condition: {detail} in {condition!r}", rule, line) from None
    if len(statements) != 1:
        raise _fail("write one condition, without ';'", rule, line)
    tree = statements[0]
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN):
            what = type(node).__name__.lower()
            raise _fail(
                f"{what} is not allowed: a rule is a condition over the customer's own "
                "features, without subqueries, other tables or statements",
                rule,
                line,
            )
        if isinstance(node, exp.Column):
            if node.table:
                raise _fail(
                    f"write the column without a table: '{node.name}', not '{node.sql()}'",
                    rule,
                    line,
                )
            if node.name not in columns:
                raise _fail(
                    f"unknown column '{node.name}'{did_you_mean(node.name, columns)}; "
                    "a rule may use the built-in features, the signals of livebase.yaml and "
                    "<scheme>_segment, _previous, _since, _days of the schemes listed before it",
                    rule,
                    line,
                )
        elif isinstance(node, exp.Anonymous):
            raise _fail(
                f"unknown function '{node.name}'"
                f"{did_you_mean(node.name.lower(), ALLOWED_FUNCTIONS.values())}; allowed: "
                f"{', '.join(sorted(ALLOWED_FUNCTIONS.values()))}",
                rule,
                line,
            )
        elif isinstance(node, _STRUCTURE) or type(node) in ALLOWED_FUNCTIONS:
            continue
        elif isinstance(node, exp.Func):
            name = node.sql_name().lower()
            raise _fail(
                f"function '{name}' is not allowed; allowed: "
                f"{', '.join(sorted(ALLOWED_FUNCTIONS.values()))}",
                rule,
                line,
            )
        else:
            raise _fail(f"'{node.sql()}' is not allowed in a rule", rule, line)
    if isinstance(tree, exp.Literal):
        raise _fail("a rule must be a condition (true or false), not a value", rule, line)
    return tree.sql(dialect="duckdb")


# ---------------------------------------------------------------------------------------------
# Coverage: disjunctive normal form over column constraints


@dataclass(frozen=True)
class _Range:
    """Non-null numeric values in an interval, or in a finite set when ``values`` is set."""

    lo: float = -math.inf
    lo_closed: bool = False
    hi: float = math.inf
    hi_closed: bool = False
    values: frozenset[object] | None = None
    is_null: bool = False

    def empty(self) -> bool:
        if self.is_null:
            return False
        if self.values is not None:
            return not any(self._in_interval(v) for v in self.values)
        if self.lo < self.hi:
            return False
        return not (self.lo == self.hi and self.lo_closed and self.hi_closed)

    def _in_interval(self, v: object) -> bool:
        if not isinstance(v, float):
            return self.lo == -math.inf and self.hi == math.inf
        above = v > self.lo or (v == self.lo and self.lo_closed)
        below = v < self.hi or (v == self.hi and self.hi_closed)
        return above and below

    def meet(self, other: _Range) -> _Range | None:
        """Intersection; None when it is empty."""
        if self.is_null or other.is_null:
            return self if self.is_null and other.is_null else None
        lo, lo_c = max((self.lo, not self.lo_closed), (other.lo, not other.lo_closed))
        hi, hi_c = min((self.hi, self.hi_closed), (other.hi, other.hi_closed))
        values = self.values
        if other.values is not None:
            values = other.values if values is None else values & other.values
        met = _Range(lo, not lo_c, hi, hi_c, values)
        if met.values is not None:
            met = _Range(
                lo, not lo_c, hi, hi_c, frozenset(v for v in met.values if met._in_interval(v))
            )
        return None if met.empty() else met

    def within(self, other: _Range) -> bool:
        """Every value allowed here is allowed by ``other``."""
        if other.is_null or self.is_null:
            return self.is_null and other.is_null
        if self.values is not None:
            return all(other._in_interval(v) for v in self.values) and (
                other.values is None or self.values <= other.values
            )
        if other.values is not None:
            point = self.lo == self.hi and self.lo_closed and self.hi_closed
            return point and self.lo in other.values
        lo_ok = self.lo > other.lo or (
            self.lo == other.lo and (other.lo_closed or not self.lo_closed)
        )
        hi_ok = self.hi < other.hi or (
            self.hi == other.hi and (other.hi_closed or not self.hi_closed)
        )
        return lo_ok and hi_ok


_Atom = tuple[str, _Range] | tuple[str, str]  # (column, range) or ("", normalised sql)
_Conj = tuple[_Atom, ...]


def _literal(node: exp.Expression) -> object | None:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and node.this.is_number:
        return -float(node.this.this)
    if isinstance(node, exp.Literal):
        return float(node.this) if node.is_number else str(node.this)
    return None


def _column(node: exp.Expression) -> str | None:
    while isinstance(node, exp.Paren):
        node = node.this
    return node.name if isinstance(node, exp.Column) else None


_FLIP: dict[type[Any], type[Any]] = {
    exp.GT: exp.LT,
    exp.GTE: exp.LTE,
    exp.LT: exp.GT,
    exp.LTE: exp.GTE,
    exp.EQ: exp.EQ,
}


def _atom(node: exp.Expression) -> _Atom:
    opaque: _Atom = ("", node.sql(dialect="duckdb"))
    kind: type[Any] = type(node)
    if kind in _FLIP:
        left, right = node.args["this"], node.args["expression"]
        col, value = _column(left), _literal(right)
        if col is None:
            col, value, kind = _column(right), _literal(left), _FLIP[kind]
        if col is None or value is None:
            return opaque
        if not isinstance(value, float):
            return (col, _Range(values=frozenset([value]))) if kind is exp.EQ else opaque
        ranges: dict[type[Any], _Range] = {
            exp.GT: _Range(lo=value),
            exp.GTE: _Range(lo=value, lo_closed=True),
            exp.LT: _Range(hi=value),
            exp.LTE: _Range(hi=value, hi_closed=True),
            exp.EQ: _Range(value, True, value, True),
        }
        return (col, ranges[kind])
    if isinstance(node, exp.Between):
        col, lo, hi = _column(node.this), _literal(node.args["low"]), _literal(node.args["high"])
        if col and isinstance(lo, float) and isinstance(hi, float):
            return (col, _Range(lo, True, hi, True))
    if isinstance(node, exp.In) and not node.args.get("query"):
        col = _column(node.this)
        values = [_literal(v) for v in node.expressions]
        if col and values and all(v is not None for v in values):
            return (col, _Range(values=frozenset(values)))
    if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
        col = _column(node.this)
        if col:
            return (col, _Range(is_null=True))
    if isinstance(node, exp.Not) and isinstance(node.this, exp.Is):
        inner = node.this
        col = _column(inner.this)
        if col and isinstance(inner.expression, exp.Null):
            return (col, _Range())
    return opaque


def _dnf(node: exp.Expression) -> list[_Conj] | None:
    """Disjuncts of conjunctions of atoms; None when too large to reason about."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Boolean):
        return [()] if node.this else []
    if isinstance(node, exp.Or):
        left, right = _dnf(node.this), _dnf(node.expression)
        if left is None or right is None or len(left) + len(right) > _MAX_DISJUNCTS:
            return None
        return left + right
    if isinstance(node, exp.And):
        left, right = _dnf(node.this), _dnf(node.expression)
        if left is None or right is None or len(left) * len(right) > _MAX_DISJUNCTS:
            return None
        return [a + b for a in left for b in right]
    return [(_atom(node),)]


def _constraints(conj: _Conj) -> tuple[dict[str, _Range], frozenset[str]] | None:
    """Per-column intersection and the opaque atoms; None when contradictory."""
    ranges: dict[str, _Range] = {}
    opaque: set[str] = set()
    for col, what in conj:
        if col == "":
            assert isinstance(what, str)
            opaque.add(what)
            continue
        assert isinstance(what, _Range)
        met = ranges[col].meet(what) if col in ranges else what
        if met is None:
            return None
        ranges[col] = met
    return ranges, frozenset(opaque)


def _implies(sub: tuple[dict[str, _Range], frozenset[str]], sup: _Conj) -> bool:
    """Does the conjunction ``sub`` imply the conjunction ``sup``?"""
    ranges, opaque = sub
    for col, what in sup:
        if col == "":
            if what not in opaque:
                return False
        elif col not in ranges or not isinstance(what, _Range) or not ranges[col].within(what):
            return False
    return True


def check_rules(
    rules: Sequence[RuleSpec],
    columns: Collection[str],
    *,
    scheme: str = "",
    lines: Mapping[str, int] | None = None,
) -> list[CheckedRule]:
    """Check every rule of a scheme in order: syntax, whitelist, and reachability.

    ``lines`` maps dotted YAML paths to lines (``yaml_lines``); the rule ``i`` of ``scheme``
    is looked up as ``segments.schemes.<scheme>.rules.<i>``.

    >>> check_rules([RuleSpec(name="Any", when="frequency >= 0"),
    ...              RuleSpec(name="Big", when="frequency > 5")], {"frequency"})
    Traceback (most recent call last):
    ...
    livebase.errors.RuleError: rule 'Big': no customer can reach it: rule 'Any' (earlier) already takes everyone it would match
    """
    checked: list[CheckedRule] = []
    earlier: list[tuple[str, list[_Conj] | None]] = []
    for index, spec in enumerate(rules):
        line = (lines or {}).get(f"segments.schemes.{scheme}.rules.{index}")
        if line is not None and lines is not None:
            line = lines.get(f"segments.schemes.{scheme}.rules.{index}.when", line)
        sql = check_condition(spec.when, columns, rule=spec.name, line=line)
        disjuncts = _dnf(cast(exp.Expression, sqlglot.parse_one(sql, read="duckdb")))
        if disjuncts is not None:
            parsed = [_constraints(c) for c in disjuncts]
            live = [p for p in parsed if p is not None]
            if not live:
                raise _fail(
                    "no customer can reach it: its condition can never be true", spec.name, line
                )
            cover: str | None = None
            covered_all = True
            for conj in live:
                by = next(
                    (
                        name
                        for name, dnf in earlier
                        if dnf is not None and any(_implies(conj, d) for d in dnf)
                    ),
                    None,
                )
                if by is None:
                    covered_all = False
                    break
                cover = cover or by
            if covered_all and cover is not None:
                raise _fail(
                    f"no customer can reach it: rule '{cover}' (earlier) already takes everyone "
                    "it would match",
                    spec.name,
                    line,
                )
        earlier.append((spec.name, disjuncts))
        checked.append(CheckedRule(spec.name, sql, line))
    return checked
