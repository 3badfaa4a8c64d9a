"""SQL expressions (DuckDB dialect) that parse text cells and say what is wrong with them.

Each builder returns a :class:`CellSql`: the typed value, a problem text that is NULL when the
cell is fine, and the intermediate columns both read (the parsed timestamp, the kind of
amount), computed once per row in projections below them instead of once per mention. The
whole file is validated in one set-based query, never row by row in Python. Cells come in
trimmed (:func:`livebase.ingest.validation.parse_rows` trims each once).

>>> import duckdb
>>> amount = amount_sql("cell", "comma", name="a")
>>> duckdb.execute(amount.select("(SELECT '1 234,50 руб.' AS cell)")).fetchone()
(Decimal('1234.50'), None)
>>> date = timestamp_sql("cell", day_first=True, low="1990-01-01", high="2030-01-01 00:00:00",
...                      name="d")
>>> duckdb.execute(date.select("(SELECT '31.02.2024' AS cell)")).fetchone()
(None, 'not a date on the calendar')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from livebase.i18n import N_

__all__ = [
    "CellSql",
    "amount_sql",
    "clean_amount_sql",
    "integer_sql",
    "json_sql",
    "label_sql",
    "quote",
    "stacked_select",
    "text_sql",
    "timestamp_sql",
    "trim_sql",
]

Decimal = Literal["comma", "point"]


NOT_ON_CALENDAR = N_("not a date on the calendar")
NOT_A_DATE = N_("not a date (expected e.g. 2026-03-31 14:05 or 31.03.2026 14:05)")


@dataclass(frozen=True)
class CellSql:
    """How one cell is typed and checked, as SQL over a row.

    ``layers``: intermediate columns (name → expression), each layer computed in a projection
    of its own before the next, so an expression read by both the value and the problem (a
    parsed timestamp, a regular expression) runs once per row. ``value`` and ``problem`` may
    read the cell and every intermediate column.
    """

    value: str
    problem: str
    layers: tuple[dict[str, str], ...] = field(default=())

    def select(self, source: str) -> str:
        """A query of (value, problem) over ``source`` (a table or a parenthesised query)."""
        return stacked_select(source, ["*"], [self.layers], [f"{self.value}", f"{self.problem}"])


def stacked_select(
    source: str, carried: list[str], layered: list[tuple[dict[str, str], ...]], final: list[str]
) -> str:
    """``SELECT final FROM`` ``source`` under one projection per depth of ``layered``.

    ``carried``: the columns of ``source`` the layers and ``final`` read. Layer ``k`` of every
    cell is computed in the same projection, after layer ``k - 1``.

    >>> stacked_select("t", ["a"], [({"b": "a + 1"}, {"c": "b * 2"})], ["c AS d"])
    'SELECT c AS d FROM (SELECT *, b * 2 AS c FROM (SELECT *, a + 1 AS b FROM (SELECT a FROM t)))'
    """
    depth = max((len(layers) for layers in layered), default=0)
    query = f"(SELECT {', '.join(carried)} FROM {source})"
    for level in range(depth):
        columns = [
            f"{expr} AS {name}"
            for layers in layered
            if level < len(layers)
            for name, expr in layers[level].items()
        ]
        if columns:
            query = f"(SELECT *, {', '.join(columns)} FROM {query})"
    return f"SELECT {', '.join(final)} FROM {query}"


def quote(text: str) -> str:
    """A SQL string literal.

    >>> quote("O'Brien")
    "'O''Brien'"
    """
    return "'" + text.replace("'", "''") + "'"


def trim_sql(cell: str) -> str:
    """``trim(cell)``, computed only for the cells it can change.

    DuckDB's trim removes the space separators of Unicode (category Zs: the ASCII space, the
    no-break space, the thin spaces, the ideographic space) and writes a new string for
    every cell, changed or not. A cell that is pure ASCII (as many bytes as characters) with
    no space at either end is returned as it is: ids, e-mails, phones, dates and amounts, the
    most of an export, are not copied.

    >>> import duckdb
    >>> cells = "SELECT * FROM (VALUES (' a '), ('b'), ('\u00a0в\u2009'), (''), (NULL)) t(c)"
    >>> duckdb.connect().execute(f"SELECT {trim_sql('c')} FROM ({cells})").fetchall()
    [('a',), ('b',), ('в',), ('',), (None,)]
    """
    return (
        f"CASE WHEN {cell} LIKE ' %' OR {cell} LIKE '% ' OR strlen({cell}) <> length({cell}) "
        f"THEN trim({cell}) ELSE {cell} END"
    )


def text_sql(cell: str) -> str:
    """Text; empty becomes NULL (the cell is trimmed already)."""
    return f"nullif({cell}, '')"


# currency marks before or after the number, and every kind of space used as a thousands mark
_CURRENCY = r"(?i)^\s*(\$|€|₽|£)|\s*(руб\.?|р\.|₽|rub|usd|eur|\$|€|£)\s*$"
_SPACES = "[\\s\u00a0\u202f\u2009']"


def clean_amount_sql(cell: str) -> str:
    """Text of an amount without currency marks, spaces or thousands spaces."""
    stripped = f"regexp_replace(trim({cell}), {quote(_CURRENCY)}, '', 'g')"
    return f"replace(regexp_replace({stripped}, {quote(_SPACES)}, '', 'g'), '−', '-')"


_TOO_LARGE = "too large for an amount (at most 16 digits before the decimal mark)"
_MORE_DECIMALS = (
    "more than two decimals; if that separator marks thousands, set ingest.decimal in livebase.yaml"
)


def amount_sql(cell: str, decimal: Decimal, *, name: str) -> CellSql:
    """Money with at most two decimals; the thousands mark is the other separator.

    Plain numbers (``1234.50``, ``1234,50``) take a fast path (one regular expression); the
    rest is cleaned of currency marks and thousands separators first. A value with four or
    more decimals that is within 1e-6 of a whole number of cents is that amount (Excel stores
    14 564,75 as 14564.749999999998; Parquet decimals carry trailing zeros); three decimals
    stay an error, since ``1.500`` may mean fifteen hundred. A value too large for the store
    (more than 16 digits before the decimal mark) is an error, never an overflow. ``name``
    makes the intermediate columns' names unique.

    >>> import duckdb
    >>> amount = amount_sql("cell", "point", name="a")
    >>> duckdb.execute(amount.select("(SELECT '14564.749999999998' AS cell)")).fetchone()
    (Decimal('14564.75'), None)
    >>> duckdb.execute(amount.select("(SELECT '12345678901234567' AS cell)")).fetchone()[1]
    'too large for an amount (at most 16 digits before the decimal mark)'
    """
    cleaned = clean_amount_sql(cell)
    mark = "," if decimal == "comma" else "."
    plain = (
        f"regexp_full_match({cell}, {quote(r'[+-]?[0-9]+(' + re_escape(mark) + r'[0-9]{1,2})?')})"
    )
    if decimal == "comma":
        shape = r"[+-]?(\d+|\d{1,3}(\.\d{3})+)(,\d{1,2})?"
        number = f"replace(replace({cleaned}, '.', ''), ',', '.')"
        expect = "an amount with a decimal comma, like 1 234,50"
    else:
        shape = r"[+-]?(\d+|\d{1,3}(,\d{3})+)(\.\d{1,2})?"
        number = f"replace({cleaned}, ',', '')"
        expect = "an amount with a decimal point, like 1,234.50"
    ok = f"regexp_full_match({cleaned}, {quote(shape)})"
    # four or more decimals cannot be a thousands group: round when below a millionth of a cent
    long_text = (
        f"regexp_full_match({cleaned}, {quote(r'[+-]?[0-9]+' + re_escape(mark) + r'[0-9]{4,}')})"
    )
    as_double = f"TRY_CAST(replace({cleaned}, ',', '.') AS DOUBLE)"
    near = f"({long_text} AND abs({as_double} - round({as_double}, 2)) < 1e-6)"
    more_decimals = f"regexp_full_match({cleaned}, '[+-]?[0-9.,]*[.,][0-9]{{3,}}')"
    # the kind of text: 0 empty, 1 plain, 2 with separators or marks, 3 near a cent, 4 too
    # many decimals, 5 not an amount (CASE evaluates the slow tests only for rows that reach them)
    kind, value = f"_k_{name}", f"_v_{name}"
    kinds = (
        f"CASE WHEN nullif({cell}, '') IS NULL THEN 0 WHEN {plain} THEN 1 WHEN {ok} THEN 2 "
        f"WHEN {near} THEN 3 WHEN {more_decimals} THEN 4 ELSE 5 END"
    )
    typed = (
        f"CASE {kind} WHEN 1 THEN TRY_CAST(replace({cell}, ',', '.') AS DECIMAL(18,2)) "
        f"WHEN 2 THEN TRY_CAST({number} AS DECIMAL(18,2)) "
        f"WHEN 3 THEN TRY_CAST(round({as_double}, 2) AS DECIMAL(18,2)) END"
    )
    problem = (
        f"CASE WHEN {kind} = 0 THEN NULL "
        f"WHEN {kind} <= 3 THEN CASE WHEN {value} IS NULL THEN {quote(_TOO_LARGE)} END "
        f"WHEN {kind} = 4 THEN {quote(_MORE_DECIMALS)} "
        f"ELSE {quote('not ' + expect)} END"
    )
    return CellSql(value, problem, ({kind: kinds}, {value: typed}))


def re_escape(text: str) -> str:
    r"""A literal for an RE2 pattern.

    >>> print(re_escape("."))
    \.
    """
    return "".join("\\" + c if c in r".^$*+?()[]{}|\\" else c for c in text)


_FORMATS_DAY_FIRST = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%d.%m.%y %H:%M",
    "%d.%m.%y",
    "%Y%m%d",
]
_SLASH_DAY_FIRST = ["%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y"]
_SLASH_MONTH_FIRST = ["%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y"]
# shapes that look like a date: when one of them does not parse, the date is not on the calendar
_DATE_SHAPE = (
    r"(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./]\d{1,2}[./](\d{2}|\d{4})|\d{8})([ T]\d{1,2}:\d{2}.*)?"
)


# an ISO date and time followed by a UTC offset: a moment, converted to the workspace's zone
_WITH_OFFSET = r"\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)"


def _may_end_in_offset(cell: str) -> str:
    """True for every text that ends in ``Z``, ``±HH``, ``±HHMM`` or ``±HH:MM`` (and for a
    few others): a cheap test before the regular expressions that look for an offset."""
    signs = " OR ".join(f"substr({cell}, {at}, 1) IN ('+', '-')" for at in (-3, -5, -6))
    return f"(ends_with({cell}, 'Z') OR {signs})"


def timestamp_sql(
    cell: str, *, day_first: bool, low: str, high: str, name: str, timezone: str = "UTC"
) -> CellSql:
    """A timestamp in one of the common export formats, within [low, high].

    A time written with an offset (``2026-03-01T10:00:00+05:00``, ``…Z``) is converted to
    ``timezone`` (the workspace's); a time without one is taken as written. ``name`` makes the
    intermediate column's name unique.

    >>> import duckdb
    >>> date = timestamp_sql("cell", day_first=True, low="1990-01-01",
    ...     high="2030-01-01 00:00:00", timezone="Europe/Moscow", name="d")
    >>> duckdb.execute(date.select("(SELECT '2026-03-01T10:00:00+05:00' AS cell)")).fetchone()
    (datetime.datetime(2026, 3, 1, 8, 0), None)
    """
    formats = _FORMATS_DAY_FIRST + (_SLASH_DAY_FIRST if day_first else _SLASH_MONTH_FIRST)
    maybe_offset = _may_end_in_offset(cell)
    text = (
        f"CASE WHEN {maybe_offset} "
        f"THEN regexp_replace({cell}, '(Z|[+-]\\d{{2}}:?\\d{{2}})$', '') ELSE {cell} END"
    )
    listed = "[" + ", ".join(quote(f) for f in formats) + "]"
    # an offset needs a date and a time before it: at least 16 characters
    with_offset = (
        f"(length({cell}) >= 16 AND {maybe_offset} "
        f"AND regexp_full_match({cell}, {quote(_WITH_OFFSET)}))"
    )
    in_zone = f"timezone({quote(timezone)}, TRY_CAST({cell} AS TIMESTAMPTZ))"
    parsed = f"_p_{name}"
    # ISO timestamps (the common case) cast directly; the other formats go through strptime
    parsing = (
        f"CASE WHEN {with_offset} THEN {in_zone} ELSE "
        f"coalesce(TRY_CAST({cell} AS TIMESTAMP), try_strptime({text}, {listed})) END"
    )
    value = (
        f"CASE WHEN {parsed} BETWEEN TIMESTAMP {quote(low)} AND TIMESTAMP {quote(high)} "
        f"THEN {parsed} END"
    )
    shown_high = high[:10]
    problem = (
        f"CASE WHEN nullif({cell}, '') IS NULL THEN NULL "
        f"WHEN {parsed} IS NULL AND regexp_full_match({text}, {quote(_DATE_SHAPE)}) "
        f"THEN {quote(NOT_ON_CALENDAR)} "
        f"WHEN {parsed} IS NULL THEN {quote(NOT_A_DATE)} "
        f"WHEN {parsed} < TIMESTAMP {quote(low)} OR {parsed} > TIMESTAMP {quote(high)} "
        f"THEN {quote(f'outside the plausible range {low} … {shown_high} (ingest.dates in livebase.yaml)')} "
        f"END"
    )
    return CellSql(value, problem, ({parsed: parsing},))


def integer_sql(cell: str, *, name: str) -> CellSql:
    """A whole number that fits the store's INTEGER column (quantities).

    >>> import duckdb
    >>> number = integer_sql("cell", name="q")
    >>> duckdb.execute(number.select("(SELECT '3000000000' AS cell)")).fetchone()
    (None, 'too large for a whole number here (at most 2147483647)')
    """
    cleaned, value = f"_c_{name}", f"_v_{name}"
    shape = f"regexp_full_match({cleaned}, '[+-]?[0-9]+')"
    problem = (
        f"CASE WHEN nullif({cell}, '') IS NULL OR {value} IS NOT NULL THEN NULL "
        f"WHEN {shape} THEN 'too large for a whole number here (at most 2147483647)' "
        f"ELSE 'not a whole number' END"
    )
    return CellSql(
        value,
        problem,
        (
            {cleaned: f"regexp_replace({cell}, {quote(_SPACES)}, '', 'g')"},
            {value: f"CASE WHEN {shape} THEN TRY_CAST({cleaned} AS INTEGER) END"},
        ),
    )


def json_sql(cell: str, *, name: str) -> CellSql:
    """A JSON value (properties of an event)."""
    text, valid = text_sql(cell), f"_j_{name}"
    value = f"CASE WHEN {valid} THEN CAST({text} AS JSON) END"
    problem = (
        f"CASE WHEN {text} IS NULL OR {valid} THEN NULL "
        'ELSE \'not valid JSON (expected e.g. {"course": "python"})\' END'
    )
    return CellSql(value, problem, ({valid: f"json_valid({text})"},))


def label_sql(cell: str) -> str:
    """A status label normalised like :func:`livebase.ingest.presets.normalize_label`."""
    lowered = f"replace(lower(trim({cell})), 'ё', 'е')"
    spaced = f"regexp_replace({lowered}, '[_\\-\\s\u00a0]+', ' ', 'g')"
    return f"trim({spaced})"
