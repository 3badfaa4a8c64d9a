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

from collections.abc import Sequence

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
    "abc_sql",
    "named_sql",
    "quantile_sql",
    "quantile_thresholds_sql",
    "rules_sql",
    "segment_order",
]

ABC_GROUPS: tuple[str, ...] = ("core", "growing", "pre_churn", "churn")
"""Strategic groups of the A/B/C grid, from best to worst."""


def quantile_sql(name: str, scheme: QuantileScheme, features: str) -> str:
    """R, F, M scores and the code ("545") of every customer in ``features``.

    Columns: customer_id, scheme, segment, scores (JSON), r, f, m.
    """
    b = scheme.bins
    return f"""-- scheme '{name}': R, F, M scores 1..{b} from ranks; equal values share a score.
WITH buyers AS (
    SELECT
        customer_id,
        RANK() OVER (ORDER BY recency_days DESC) AS r_rank,
        RANK() OVER (ORDER BY frequency) AS f_rank,
        RANK() OVER (ORDER BY monetary) AS m_rank,
        COUNT(*) OVER () AS n
    FROM {features}
    WHERE orders_total > 0
),
scored AS (
    SELECT
        customer_id,
        CAST(1 + FLOOR({b}.0 * (r_rank - 1) / n) AS INTEGER) AS r,
        CAST(1 + FLOOR({b}.0 * (f_rank - 1) / n) AS INTEGER) AS f,
        CAST(1 + FLOOR({b}.0 * (m_rank - 1) / n) AS INTEGER) AS m
    FROM buyers
)
SELECT
    x.customer_id,
    {sql_string(name)} AS scheme,
    CASE WHEN s.r IS NULL THEN {sql_string(scheme.no_purchase)}
         ELSE CAST(s.r AS VARCHAR) || CAST(s.f AS VARCHAR) || CAST(s.m AS VARCHAR) END AS segment,
    CASE WHEN s.r IS NOT NULL THEN JSON_OBJECT('r', s.r, 'f', s.f, 'm', s.m) END AS scores,
    s.r, s.f, s.m
FROM {features} x
LEFT JOIN scored s ON s.customer_id = x.customer_id
"""


def quantile_thresholds_sql(scores: str, features: str) -> str:
    """Per dimension and score: customers, the min and max value (the printed thresholds)."""
    parts = []
    for dim, column in (("R", "recency_days"), ("F", "frequency"), ("M", "monetary")):
        parts.append(
            f"""SELECT '{dim}' AS dimension, '{column}' AS feature, s.{dim.lower()} AS score,
       COUNT(*) AS customers,
       MIN(CAST(x.{column} AS DOUBLE)) AS min_value, MAX(CAST(x.{column} AS DOUBLE)) AS max_value
FROM {scores} s JOIN {features} x ON x.customer_id = s.customer_id
WHERE s.{dim.lower()} IS NOT NULL
GROUP BY s.{dim.lower()}"""
        )
    return "\nUNION ALL\n".join(parts) + "\nORDER BY dimension, score"


def abc_sql(name: str, scheme: AbcScheme, features: str) -> str:
    """The A/B/C cell and strategic group of every customer in ``features``."""
    ra, rb = scheme.recency_days
    fa, fb = scheme.frequency
    ma, mb = scheme.monetary_shares
    segment = "cell" if scheme.output == "cell" else "grp"
    return f"""-- scheme '{name}': R, F, M each A/B/C; M by Pareto of the window's revenue.
WITH buyers AS (
    SELECT
        customer_id, recency_days, frequency,
        -- revenue of the customers who spent strictly more (equal spend, equal class)
        SUM(monetary) OVER (ORDER BY monetary DESC
                            RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
            - SUM(monetary) OVER (PARTITION BY monetary) AS revenue_above,
        SUM(monetary) OVER () AS revenue_total
    FROM {features}
    WHERE orders_total > 0
),
graded AS (
    SELECT
        customer_id,
        CASE WHEN recency_days <= {ra} THEN 'A' WHEN recency_days <= {rb} THEN 'B' ELSE 'C' END AS r,
        CASE WHEN frequency >= {fa} THEN 'A' WHEN frequency >= {fb} THEN 'B' ELSE 'C' END AS f,
        CASE WHEN revenue_above < {ma!r} * revenue_total THEN 'A'
             WHEN revenue_above < {mb!r} * revenue_total THEN 'B' ELSE 'C' END AS m
    FROM buyers
),
cells AS (
    SELECT
        customer_id, r, f, m, r || f || m AS cell,
        CASE WHEN r = 'A' AND (f = 'A' OR m = 'A') THEN 'core'
             WHEN r = 'A' THEN 'growing'
             WHEN r = 'B' THEN 'pre_churn'
             ELSE 'churn' END AS grp
    FROM graded
)
SELECT
    x.customer_id,
    {sql_string(name)} AS scheme,
    COALESCE(c.{segment}, {sql_string(scheme.no_purchase)}) AS segment,
    CASE WHEN c.r IS NOT NULL
         THEN JSON_OBJECT('r', c.r, 'f', c.f, 'm', c.m, 'cell', c.cell, 'group', c.grp) END
        AS scores
FROM {features} x
LEFT JOIN cells c ON c.customer_id = x.customer_id
"""


def named_sql(name: str, scheme: NamedScheme, quantile: str) -> str:
    """The named segment from the R and F scores of the quantile scheme's table ``quantile``."""
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
    CASE WHEN r IS NOT NULL THEN JSON_OBJECT('r', r, 'f', f) END AS scores
FROM {quantile}
"""


def rules_sql(
    name: str, scheme: RulesScheme | JobsScheme, checked: Sequence[CheckedRule], inputs: str
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
    JSON_OBJECT('rule', CASE
{numbers}
    END) AS scores
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
