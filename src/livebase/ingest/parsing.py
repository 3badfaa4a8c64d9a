"""SQL expressions (DuckDB dialect) that parse text cells and say what is wrong with them.

Each builder returns a pair: the typed value, and a problem text that is NULL when the cell
is fine. The whole file is validated in one set-based query, never row by row in Python.

>>> import duckdb
>>> value, problem = amount_sql("'1 234,50 руб.'", "comma")
>>> duckdb.execute(f"SELECT {value}, {problem}").fetchone()
(Decimal('1234.50'), None)
>>> value, problem = timestamp_sql("'31.02.2024'", day_first=True, low="1990-01-01",
...                                high="2030-01-01 00:00:00")
>>> duckdb.execute(f"SELECT {value}, {problem}").fetchone()
(None, 'not a date on the calendar')
"""

from __future__ import annotations

from typing import Literal

from livebase.i18n import N_

__all__ = [
    "amount_sql",
    "clean_amount_sql",
    "integer_sql",
    "json_sql",
    "label_sql",
    "quote",
    "text_sql",
    "timestamp_sql",
]

Decimal = Literal["comma", "point"]


NOT_ON_CALENDAR = N_("not a date on the calendar")
NOT_A_DATE = N_("not a date (expected e.g. 2026-03-31 14:05 or 31.03.2026 14:05)")


def quote(text: str) -> str:
    """A SQL string literal.

    >>> quote("O'Brien")
    "'O''Brien'"
    """
    return "'" + text.replace("'", "''") + "'"


def text_sql(cell: str) -> str:
    """Trimmed text; empty becomes NULL."""
    return f"nullif(trim({cell}), '')"


# currency marks before or after the number, and every kind of space used as a thousands mark
_CURRENCY = r"(?i)^\s*(\$|€|₽|£)|\s*(руб\.?|р\.|₽|rub|usd|eur|\$|€|£)\s*$"
_SPACES = "[\\s\u00a0\u202f\u2009']"


def clean_amount_sql(cell: str) -> str:
    """Text of an amount without currency marks, spaces or thousands spaces."""
    stripped = f"regexp_replace(trim({cell}), {quote(_CURRENCY)}, '', 'g')"
    return f"replace(regexp_replace({stripped}, {quote(_SPACES)}, '', 'g'), '−', '-')"


def amount_sql(cell: str, decimal: Decimal) -> tuple[str, str]:
    """Money with at most two decimals; the thousands mark is the other separator.

    Plain numbers (``1234.50``, ``1234,50``) take a fast path; the rest is cleaned of currency
    marks and thousands separators first. A value with four or more decimals that is within
    1e-6 of a whole number of cents is that amount (Excel stores 14 564,75 as
    14564.749999999998; Parquet decimals carry trailing zeros); three decimals stay an error,
    since ``1.500`` may mean fifteen hundred. A value too large for the store (more than 16
    digits before the decimal mark) is an error, never an overflow.

    >>> import duckdb
    >>> value, problem = amount_sql("'14564.749999999998'", "point")
    >>> duckdb.execute(f"SELECT {value}, {problem}").fetchone()
    (Decimal('14564.75'), None)
    >>> value, problem = amount_sql("'12345678901234567'", "point")
    >>> duckdb.execute(f"SELECT {value}, {problem}").fetchone()[1]
    'too large for an amount (at most 16 digits before the decimal mark)'
    """
    cleaned = clean_amount_sql(cell)
    mark = "," if decimal == "comma" else "."
    plain = f"regexp_full_match(trim({cell}), {quote(r'[+-]?[0-9]+(' + re_escape(mark) + r'[0-9]{1,2})?')})"
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
    empty = f"(nullif(trim({cell}), '') IS NULL)"
    value = (
        f"CASE WHEN {plain} THEN TRY_CAST(replace(trim({cell}), ',', '.') AS DECIMAL(18,2)) "
        f"WHEN {ok} THEN TRY_CAST({number} AS DECIMAL(18,2)) "
        f"WHEN {near} THEN TRY_CAST(round({as_double}, 2) AS DECIMAL(18,2)) END"
    )
    too_large = "too large for an amount (at most 16 digits before the decimal mark)"
    problem = (
        f"CASE WHEN {empty} THEN NULL "
        f"WHEN ({plain} OR {ok} OR {near}) AND ({value}) IS NULL THEN {quote(too_large)} "
        f"WHEN {plain} OR {ok} OR {near} THEN NULL "
        f"WHEN regexp_full_match({cleaned}, '[+-]?[0-9.,]*[.,][0-9]{{3,}}') "
        f"THEN {quote('more than two decimals; if that separator marks thousands, set ingest.decimal in livebase.yaml')} "
        f"ELSE {quote('not ' + expect)} END"
    )
    return value, problem


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


def timestamp_sql(
    cell: str, *, day_first: bool, low: str, high: str, timezone: str = "UTC"
) -> tuple[str, str]:
    """A timestamp in one of the common export formats, within [low, high].

    A time written with an offset (``2026-03-01T10:00:00+05:00``, ``…Z``) is converted to
    ``timezone`` (the workspace's); a time without one is taken as written.

    >>> import duckdb
    >>> value, _ = timestamp_sql("'2026-03-01T10:00:00+05:00'", day_first=True,
    ...     low="1990-01-01", high="2030-01-01 00:00:00", timezone="Europe/Moscow")
    >>> duckdb.execute(f"SELECT {value}").fetchone()
    (datetime.datetime(2026, 3, 1, 8, 0),)
    """
    formats = _FORMATS_DAY_FIRST + (_SLASH_DAY_FIRST if day_first else _SLASH_MONTH_FIRST)
    text = f"regexp_replace(trim({cell}), '(Z|[+-]\\d{{2}}:?\\d{{2}})$', '')"
    listed = "[" + ", ".join(quote(f) for f in formats) + "]"
    with_offset = f"regexp_full_match(trim({cell}), {quote(_WITH_OFFSET)})"
    in_zone = f"timezone({quote(timezone)}, TRY_CAST(trim({cell}) AS TIMESTAMPTZ))"
    # ISO timestamps (the common case) cast directly; the other formats go through strptime
    parsed = (
        f"CASE WHEN {with_offset} THEN {in_zone} ELSE "
        f"coalesce(TRY_CAST(trim({cell}) AS TIMESTAMP), try_strptime({text}, {listed})) END"
    )
    empty = f"(nullif(trim({cell}), '') IS NULL)"
    value = (
        f"CASE WHEN {parsed} BETWEEN TIMESTAMP {quote(low)} AND TIMESTAMP {quote(high)} "
        f"THEN {parsed} END"
    )
    shown_high = high[:10]
    problem = (
        f"CASE WHEN {empty} THEN NULL "
        f"WHEN {parsed} IS NULL AND regexp_full_match({text}, {quote(_DATE_SHAPE)}) "
        f"THEN {quote(NOT_ON_CALENDAR)} "
        f"WHEN {parsed} IS NULL THEN {quote(NOT_A_DATE)} "
        f"WHEN {parsed} < TIMESTAMP {quote(low)} OR {parsed} > TIMESTAMP {quote(high)} "
        f"THEN {quote(f'outside the plausible range {low} … {shown_high} (ingest.dates in livebase.yaml)')} "
        f"END"
    )
    return value, problem


def integer_sql(cell: str) -> tuple[str, str]:
    """A whole number that fits the store's INTEGER column (quantities).

    >>> import duckdb
    >>> value, problem = integer_sql("'3000000000'")
    >>> duckdb.execute(f"SELECT {value}, {problem}").fetchone()
    (None, 'too large for a whole number here (at most 2147483647)')
    """
    cleaned = f"regexp_replace(trim({cell}), {quote(_SPACES)}, '', 'g')"
    shape = f"regexp_full_match({cleaned}, '[+-]?[0-9]+')"
    value = f"CASE WHEN {shape} THEN TRY_CAST({cleaned} AS INTEGER) END"
    problem = (
        f"CASE WHEN nullif(trim({cell}), '') IS NULL OR {value} IS NOT NULL THEN NULL "
        f"WHEN {shape} THEN 'too large for a whole number here (at most 2147483647)' "
        f"ELSE 'not a whole number' END"
    )
    return value, problem


def json_sql(cell: str) -> tuple[str, str]:
    """A JSON value (properties of an event)."""
    text = text_sql(cell)
    value = f"CASE WHEN json_valid({text}) THEN CAST({text} AS JSON) END"
    problem = (
        f"CASE WHEN {text} IS NULL OR json_valid({text}) THEN NULL "
        'ELSE \'not valid JSON (expected e.g. {"course": "python"})\' END'
    )
    return value, problem


def label_sql(cell: str) -> str:
    """A status label normalised like :func:`livebase.ingest.presets.normalize_label`."""
    lowered = f"replace(lower(trim({cell})), 'ё', 'е')"
    spaced = f"regexp_replace({lowered}, '[_\\-\\s\u00a0]+', ' ', 'g')"
    return f"trim({spaced})"
