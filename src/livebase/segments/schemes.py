"""Scheme SQL: from a features relation to (customer_id, scheme, segment, scores).

**Quantile scores** (ties and thresholds are exact, the same on every engine). Among the
customers with at least one counted order (n of them), a customer whose value has rank
``k = RANK() OVER (ORDER BY value)`` (1 + the number of customers with a strictly smaller value)
gets the score ``1 + FLOOR(bins * (k - 1) / n)``: the number of whole bins of customers strictly
below them, plus one. Equal values share a rank, so they always share a score; a tied block
takes the score of its lowest position (ties are broken *down*). With heavily tied frequency
(half of CDNOW bought once) some scores stay empty: F jumps from 1 to 3. Recency is ranked
from the longest to the shortest time since the last purchase, so recent buyers score 5. No
approximate percentile is used anywhere; the thresholds printed are the min and max value of
each score.

**A/B/C grid**: R by days since the last purchase (A ≤ 90, B ≤ 365, C beyond), F by orders
(A ≥ 3, B = 2, C = 1), M by Pareto over the window's revenue: ordering customers by spend,
those before whom less than 80 % of revenue is accumulated are A, less than 95 % B, the rest C
(equal spend, equal class). Strategic groups: ``core`` (VIP and loyal core: R = A and F or M =
A), ``growing`` (growing and new: the other R = A), ``pre_churn`` (R = B), ``churn`` (R = C);
``pre_churn`` and ``churn`` form the risk zone.

**Named map**: the segment of the customer's (R, F) cell in ``NamedScheme.cells``.

Customers without a counted order are the scheme's ``no_purchase`` segment (scores NULL).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from livebase.features import sql_string
from livebase.segments.rules import CheckedRule
from livebase.segments.settings import (
    AbcScheme,
    JobsScheme,
    NamedScheme,
    QuantileScheme,
    RulesScheme,
    expand_named_map,
)

__all__ = [
    "ABC_GROUPS",
    "ScoredScheme",
    "abc_sql",
    "named_sql",
    "quantile_sql",
    "quantile_thresholds_sql",
    "rules_sql",
    "scheme_columns_sql",
    "scored_schemes_sql",
    "scores_json_sql",
    "scores_sql",
    "segment_order",
]

ABC_GROUPS: tuple[str, ...] = ("core", "growing", "pre_churn", "churn")
"""Strategic groups of the A/B/C grid, from best to worst."""


def _json(*fields: tuple[str, str, bool]) -> str:
    """A JSON object text built by concatenation (portable; NULL when the first field is NULL).

    Each field is (key, SQL expression, is text). The same text as DuckDB's JSON_OBJECT.

    >>> print(_json(("r", "r", False), ("cell", "c", True)))
    '{"r":' || CAST(r AS VARCHAR) || ',"cell":"' || CAST(c AS VARCHAR) || '"}'
    """
    parts: list[str] = []
    for i, (key, expr, text) in enumerate(fields):
        lead = "{" if i == 0 else ","
        quote = '"' if text else ""
        parts.append(f"'{lead}\"{key}\":{quote}'")
        parts.append(f"CAST({expr} AS VARCHAR)")
        if text:
            parts.append("'\"'")
    parts.append("'}'")
    joined = " || ".join(parts)
    # merge adjacent literals for readability: '"' || '}' -> '"}'
    return joined.replace("' || '", "")


def _carried(carry: Sequence[str], alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return "".join(f",\n    {prefix}{c}" for c in carry)


def quantile_sql(
    name: str, scheme: QuantileScheme, features: str, *, carry: Sequence[str] = ()
) -> str:
    """R, F, M scores and the code ("545") of every customer in ``features``.

    Columns: customer_id, scheme, segment, r, f, m, then the feature columns ``carry``
    (passed through, so later steps need no join); ``scores_sql`` gives the scores.
    """
    table = f"(\n{scored_schemes_sql({name: scheme}, features, carry=carry)}\n) scored"
    return scheme_columns_sql(name, scheme, table, carry=carry)


def scores_sql(
    scheme: QuantileScheme | AbcScheme | NamedScheme | RulesScheme | JobsScheme,
) -> str:
    """The scores of a customer as JSON text, over the columns of the scheme's table (NULL
    without a purchase); the same text as DuckDB's ``JSON_OBJECT``.

    >>> print(scores_sql(NamedScheme()))
    '{"r":' || CAST(r AS VARCHAR) || ',"f":' || CAST(f AS VARCHAR) || '}'
    """
    if isinstance(scheme, QuantileScheme):
        return _json(("r", "r", False), ("f", "f", False), ("m", "m", False))
    if isinstance(scheme, AbcScheme):
        return _json(
            ("r", "r", True),
            ("f", "f", True),
            ("m", "m", True),
            ("cell", "cell", True),
            ("group", "grp", True),
        )
    if isinstance(scheme, NamedScheme):
        return _json(("r", "r", False), ("f", "f", False))
    return """'{"rule":' || COALESCE(CAST(rule AS VARCHAR), 'null') || '}'"""


_SCORE_KEYS: dict[type, tuple[tuple[str, str], ...]] = {
    QuantileScheme: (("r", "r"), ("f", "f"), ("m", "m")),
    AbcScheme: (("r", "r"), ("f", "f"), ("m", "m"), ("cell", "cell"), ("group", "grp")),
    NamedScheme: (("r", "r"), ("f", "f")),
}


def scores_json_sql(
    scheme: QuantileScheme | AbcScheme | NamedScheme | RulesScheme | JobsScheme,
) -> str:
    """The scores as DuckDB's JSON type: the text of ``scores_sql``, built without casting
    text to JSON (a JSON cast parses every value: a fifth of writing a first run's history).

    >>> import duckdb
    >>> row = "SELECT 5 AS r, 3 AS f, 1 AS m UNION ALL SELECT NULL, NULL, NULL"
    >>> q = QuantileScheme()
    >>> duckdb.sql(f"SELECT CAST({scores_json_sql(q)} AS VARCHAR), {scores_sql(q)} "
    ...            f"FROM ({row}) t").fetchall()
    [('{"r":5,"f":3,"m":1}', '{"r":5,"f":3,"m":1}'), (None, None)]
    """
    keys = _SCORE_KEYS.get(type(scheme))
    if keys is None:  # rules and jobs: the number of the rule that matched (null: none)
        return "JSON_OBJECT('rule', rule)"
    pairs = ", ".join(f"'{key}', {column}" for key, column in keys)
    # NULL without a purchase, as the text is: every score is NULL together then
    return f"CASE WHEN r IS NOT NULL THEN JSON_OBJECT({pairs}) END"


def quantile_thresholds_sql(scores: str, features: str | None) -> str:
    """Per dimension and score: customers, the min and max value (the printed thresholds).

    ``features`` None: the table ``scores`` carries recency_days, frequency and monetary.
    """
    parts = []
    source = (
        f"{scores} s"
        if features is None
        else (f"{scores} s JOIN {features} x ON x.customer_id = s.customer_id")
    )
    x = "s" if features is None else "x"
    for dim, column in (("R", "recency_days"), ("F", "frequency"), ("M", "monetary")):
        parts.append(
            f"""SELECT '{dim}' AS dimension, '{column}' AS feature, s.{dim.lower()} AS score,
       COUNT(*) AS customers,
       MIN(CAST({x}.{column} AS DOUBLE)) AS min_value, MAX(CAST({x}.{column} AS DOUBLE)) AS max_value
FROM {source}
WHERE s.{dim.lower()} IS NOT NULL
GROUP BY s.{dim.lower()}"""
        )
    return "\nUNION ALL\n".join(parts) + "\nORDER BY dimension, score"


def _pareto_ctes(features: str) -> str:
    """CTEs ``levels`` and ``pareto``: per distinct spend, the revenue of the buyers who spent
    strictly more (equal spend, equal class) and the window's total revenue."""
    return f"""levels AS (  -- the buyers' revenue per distinct spend
    SELECT monetary, SUM(monetary) AS level_revenue
    FROM {features}
    WHERE orders_total > 0
    GROUP BY monetary
),
pareto AS (
    SELECT
        monetary,
        SUM(level_revenue) OVER (ORDER BY monetary DESC
                                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
            - level_revenue AS revenue_above,
        SUM(level_revenue) OVER () AS revenue_total
    FROM levels
)"""


def abc_monetary_bounds_sql(scheme: AbcScheme, features: str) -> str:
    """One row: the smallest spend of M class A and of class B (``a_min``, ``b_min``), the
    boundaries live updates hold fixed (M is monotone in spend), by the Pareto rule of
    :func:`abc_sql`.

    >>> import duckdb
    >>> con = duckdb.connect()
    >>> _ = con.execute("CREATE TABLE f AS SELECT i AS monetary, 1 AS orders_total "
    ...                 "FROM range(1, 11) t(i)")
    >>> con.sql(abc_monetary_bounds_sql(AbcScheme(), "f")).fetchall()
    [(5.0, 2.0)]
    """
    ma, mb = scheme.monetary_shares
    return f"""WITH {_pareto_ctes(features)}
SELECT
    CAST(MIN(monetary) FILTER (WHERE revenue_above < {ma!r} * revenue_total) AS DOUBLE) AS a_min,
    CAST(MIN(monetary) FILTER (WHERE revenue_above >= {ma!r} * revenue_total
                                 AND revenue_above < {mb!r} * revenue_total) AS DOUBLE) AS b_min
FROM pareto"""


def abc_sql(name: str, scheme: AbcScheme, features: str, *, carry: Sequence[str] = ()) -> str:
    """The A/B/C cell and strategic group of every customer in ``features`` (and ``carry``).

    Columns: customer_id, scheme, segment, r, f, m, cell, grp (NULL without a purchase).
    """
    table = f"(\n{scored_schemes_sql({name: scheme}, features, carry=carry)}\n) scored"
    return scheme_columns_sql(name, scheme, table, carry=carry)


ScoredScheme = QuantileScheme | AbcScheme
"""The schemes scored from ranks and thresholds over the features (``scored_schemes_sql``)."""


def _running(value: str, order: str) -> str:
    return (
        f"SUM({value}) OVER (ORDER BY v {order}\n"
        "                          ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    )


def _scored_ctes(quantile: bool, abc: bool, features: str) -> list[str]:
    """The rank (quantile) and Pareto (A/B/C) tables per distinct value: scheme-independent,
    so every scheme of a run shares them; monetary has one table for both."""
    ctes: list[str] = []
    if quantile:
        for dim, column, order in (("r", "recency_days", "DESC"), ("f", "frequency", "ASC")):
            ctes.append(
                f"""{dim}_levels AS (  -- buyers per distinct {column}
    SELECT {column} AS v, COUNT(*) AS c FROM {features} WHERE orders_total > 0 GROUP BY {column}
),
{dim}_ranks AS (  -- RANK of each value: 1 + the buyers ranked strictly before it
    SELECT v, CAST({_running("c", order)} AS BIGINT) - c + 1 AS rank
    FROM {dim}_levels
)"""
            )
        ctes.append(f"n AS (SELECT COUNT(*) AS buyers FROM {features} WHERE orders_total > 0)")
    columns = []
    if quantile:
        columns.append(f"CAST({_running('c', 'ASC')} AS BIGINT) - c + 1 AS rank")
    if abc:  # the revenue of the buyers who spent strictly more (equal spend, equal class)
        columns.append(f"{_running('revenue', 'DESC')} - revenue AS revenue_above")
        columns.append("SUM(revenue) OVER () AS revenue_total")
    m_columns = ",\n        ".join(columns)
    ctes.append(
        f"""m_levels AS (  -- buyers and their revenue per distinct monetary
    SELECT monetary AS v, COUNT(*) AS c, SUM(monetary) AS revenue
    FROM {features} WHERE orders_total > 0 GROUP BY monetary
),
m_ranks AS (
    SELECT v,
        {m_columns}
    FROM m_levels
)"""
    )
    return ctes


def _graded_columns(name: str, scheme: ScoredScheme) -> list[str]:
    """The scheme's r, f, m over the features ``x`` joined with the rank tables: integers
    (A/B/C: 1, 2, 3 for A, B, C), NULL without a purchase. The text columns (segment, the
    letters, cell, group) are made by ``scheme_columns_sql`` when read: writing them into the
    scored table cost more than computing them again on each read."""
    p = f"{name}__"
    if isinstance(scheme, QuantileScheme):
        b = scheme.bins
        return [f"CAST(1 + ({b} * ({d}.rank - 1)) // n.buyers AS INTEGER) AS {p}{d}" for d in "rfm"]
    ra, rb = scheme.recency_days
    fa, fb = scheme.frequency
    ma, mb = scheme.monetary_shares
    return [
        f"""CASE WHEN x.orders_total > 0 THEN
            CASE WHEN x.recency_days <= {ra} THEN 1 WHEN x.recency_days <= {rb} THEN 2
                 ELSE 3 END END AS {p}r""",
        f"""CASE WHEN x.orders_total > 0 THEN
            CASE WHEN x.frequency >= {fa} THEN 1 WHEN x.frequency >= {fb} THEN 2
                 ELSE 3 END END AS {p}f""",
        f"""CASE WHEN x.orders_total > 0 THEN
            CASE WHEN m.revenue_above < {ma!r} * m.revenue_total THEN 1
                 WHEN m.revenue_above < {mb!r} * m.revenue_total THEN 2 ELSE 3 END END AS {p}m""",
    ]


def _letter(column: str) -> str:
    """An A/B/C class from its number (1 = A); NULL stays NULL."""
    return f"CASE {column} WHEN 1 THEN 'A' WHEN 2 THEN 'B' WHEN 3 THEN 'C' END"


def _segment_columns(name: str, scheme: ScoredScheme) -> list[str]:
    """The scheme's segment, its r, f, m (A/B/C: letters, cell and group) over the graded
    integers ``<name>__r``, ``__f``, ``__m``."""
    p = f"{name}__"
    r, f, m = (f"{p}{d}" for d in "rfm")
    if isinstance(scheme, QuantileScheme):  # bins <= 9: one digit per score, "545"
        code = f"CAST({r} * 100 + {f} * 10 + {m} AS VARCHAR)"
        return [
            f"CASE WHEN {r} IS NULL THEN {sql_string(scheme.no_purchase)}\n"
            f"         ELSE {code} END AS segment",
            f"{r} AS r",
            f"{f} AS f",
            f"{m} AS m",
        ]
    cell = f"{_letter(r)} || {_letter(f)} || {_letter(m)}"
    grp = f"""CASE WHEN {r} = 1 AND ({f} = 1 OR {m} = 1) THEN 'core'
         WHEN {r} = 1 THEN 'growing'
         WHEN {r} = 2 THEN 'pre_churn'
         WHEN {r} = 3 THEN 'churn' END"""
    segment = cell if scheme.output == "cell" else grp
    return [
        f"COALESCE({segment}, {sql_string(scheme.no_purchase)}) AS segment",
        f"{_letter(r)} AS r",
        f"{_letter(f)} AS f",
        f"{_letter(m)} AS m",
        f"{cell} AS cell",
        f"{grp} AS grp",
    ]


def scored_columns(schemes: Mapping[str, ScoredScheme]) -> list[str]:
    """The columns ``scored_schemes_sql`` gives per scheme, in order.

    >>> scored_columns({"rfm": QuantileScheme()})
    ['rfm__r', 'rfm__f', 'rfm__m']
    """
    return [f"{name}__{d}" for name in schemes for d in "rfm"]


def scored_schemes_sql(
    schemes: Mapping[str, ScoredScheme], features: str, *, carry: Sequence[str] = ()
) -> str:
    """Every quantile and A/B/C scheme of ``schemes`` in one pass over ``features``.

    One row per customer: customer_id, for each scheme its graded scores as integers
    (``<name>__r``, ``__f``, ``__m``, ``scored_columns``; A/B/C: 1, 2, 3 for A, B, C; NULL
    without a purchase), then ``carry``. The rank and Pareto tables are shared by the schemes
    (one per distinct recency, frequency and monetary value); ``scheme_columns_sql`` gives
    one scheme's table from it, segment and text scores included.

    >>> import duckdb
    >>> feats = ("SELECT * FROM (VALUES ('a', 3, 2, 10.0, 2), ('b', 400, 1, 90.0, 1), "
    ...          "('c', NULL, 0, 0.0, 0)) t(customer_id, recency_days, frequency, monetary, "
    ...          "orders_total)")
    >>> scored = scored_schemes_sql({"q": QuantileScheme(), "g": AbcScheme()}, f"({feats})")
    >>> duckdb.sql(scored + " ORDER BY customer_id").fetchall()
    [('a', 3, 3, 1, 1, 2, 2), ('b', 1, 1, 3, 3, 3, 1), ('c', None, None, None, None, None, None)]
    """
    quantile = any(isinstance(s, QuantileScheme) for s in schemes.values())
    abc = any(isinstance(s, AbcScheme) for s in schemes.values())
    ctes = ",\n".join(_scored_ctes(quantile, abc, features))
    graded = ",\n        ".join(c for n, s in schemes.items() for c in _graded_columns(n, s))
    joins = "\n    LEFT JOIN m_ranks m ON m.v = x.monetary AND x.orders_total > 0"
    if quantile:
        joins = (
            "\n    CROSS JOIN n"
            "\n    LEFT JOIN r_ranks r ON r.v = x.recency_days AND x.orders_total > 0"
            "\n    LEFT JOIN f_ranks f ON f.v = x.frequency AND x.orders_total > 0" + joins
        )
    names = ", ".join(f"'{n}'" for n in schemes)
    return f"""-- schemes {names}: one pass over the features.
-- Quantile: score = 1 + floor(bins * (rank - 1) / buyers), in integer arithmetic (exact on
-- every engine); rank = 1 + the number of buyers with a strictly worse value (recency:
-- longer ago); equal values share a score. A/B/C: M by Pareto of the window's revenue.
WITH {ctes},
graded AS (
    SELECT
        x.customer_id,
        {graded}{_carried(carry, "x")}
    FROM {features} x{joins}
)
SELECT
    customer_id,
    {", ".join(scored_columns(schemes))}{_carried(carry)}
FROM graded"""


def scheme_columns_sql(
    name: str, scheme: ScoredScheme, scored: str, *, carry: Sequence[str] = ()
) -> str:
    """One scheme's table (customer_id, scheme, segment, r, f, m[, cell, grp], ``carry``)
    over the relation ``scored`` of ``scored_schemes_sql``: the text columns are made here,
    from the graded integers.

    >>> import duckdb
    >>> scored = "(SELECT 'a' AS customer_id, 1 AS g__r, 3 AS g__f, 1 AS g__m) s"
    >>> duckdb.sql(scheme_columns_sql("g", AbcScheme(), scored)).fetchall()
    [('a', 'g', 'ACA', 'A', 'C', 'A', 'ACA', 'core')]
    """
    columns = ",\n    ".join(_segment_columns(name, scheme))
    return f"""-- scheme '{name}' ({scheme.kind})
SELECT
    customer_id,
    {sql_string(name)} AS scheme,
    {columns}{_carried(carry)}
FROM {scored}
"""


def named_sql(name: str, scheme: NamedScheme, quantile: str, *, carry: Sequence[str] = ()) -> str:
    """The named segment from the R and F scores of the quantile scheme's table ``quantile``
    (which must carry the columns ``carry`` too)."""
    owner = expand_named_map(scheme.cells, 5)
    whens = []
    for segment in scheme.cells:
        cells = [code for code, s in owner.items() if s == segment]
        by_r: dict[str, list[str]] = {}
        for code in cells:
            by_r.setdefault(code[0], []).append(code[1])
        terms = " OR ".join(
            f"(r = {r} AND f IN ({', '.join(fs)}))" for r, fs in sorted(by_r.items())
        )
        whens.append(f"        WHEN {terms}\n            THEN {sql_string(segment)}")
    body = "\n".join(whens)
    return f"""-- scheme '{name}': the named map over the R and F scores of '{scheme.based_on}'.
SELECT
    customer_id,
    {sql_string(name)} AS scheme,
    CASE
        WHEN r IS NULL THEN {sql_string(scheme.no_purchase)}
{body}
    END AS segment,
    r, f{_carried(carry)}
FROM {quantile}
"""


def rules_sql(
    name: str,
    scheme: RulesScheme | JobsScheme,
    checked: Sequence[CheckedRule],
    inputs: str,
    *,
    carry: Sequence[str] = (),
) -> str:
    """First-match rules over the relation ``inputs`` (features and segment states)."""
    whens = "\n".join(
        f"        WHEN {rule.sql}\n            THEN {sql_string(rule.name)}" for rule in checked
    )
    numbers = "\n".join(f"        WHEN {rule.sql} THEN {i + 1}" for i, rule in enumerate(checked))
    return f"""-- scheme '{name}': ordered rules, the first that holds wins.
SELECT
    customer_id,
    {sql_string(name)} AS scheme,
    CASE
{whens}
        ELSE {sql_string(scheme.otherwise)}
    END AS segment,
    CASE
{numbers}
    END AS rule{_carried(carry)}
FROM {inputs}
"""


def segment_order(
    scheme: QuantileScheme | AbcScheme | NamedScheme | RulesScheme | JobsScheme,
) -> list[str]:
    """The segments a scheme can produce, from best to worst (quantile codes: by R, F, M).

    >>> segment_order(AbcScheme(output="group"))
    ['core', 'growing', 'pre_churn', 'churn', 'Prospects']
    """
    if isinstance(scheme, QuantileScheme):
        b = range(scheme.bins, 0, -1)
        return [f"{r}{f}{m}" for r in b for f in b for m in b] + [scheme.no_purchase]
    if isinstance(scheme, AbcScheme):
        if scheme.output == "group":
            return [*ABC_GROUPS, scheme.no_purchase]
        abc = "ABC"
        return [r + f + m for r in abc for f in abc for m in abc] + [scheme.no_purchase]
    if isinstance(scheme, NamedScheme):
        return [*scheme.cells, scheme.no_purchase]
    names = list(dict.fromkeys(rule.name for rule in scheme.rules))
    return [*names, scheme.otherwise]
