"""The scheme tables made from the scored table's integers match the documented rules."""

from __future__ import annotations

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from livebase.segments.schemes import scheme_columns_sql, scored_schemes_sql
from livebase.segments.settings import AbcScheme, QuantileScheme

customers = st.lists(
    st.one_of(
        st.just(None),  # no counted order
        st.tuples(
            st.integers(0, 800), st.integers(1, 6), st.integers(1, 400)
        ),  # recency, frequency, monetary (whole units)
    ),
    min_size=1,
    max_size=40,
)


def _quantile(rows: list[tuple[int, int, int] | None], bins: int) -> list[str]:
    buyers = [r for r in rows if r is not None]
    n = len(buyers)
    out = []
    for row in rows:
        if row is None:
            out.append("Prospects")
            continue
        rec, freq, mon = row
        k_r = 1 + sum(b[0] > rec for b in buyers)  # longer ago ranks before
        k_f = 1 + sum(b[1] < freq for b in buyers)
        k_m = 1 + sum(b[2] < mon for b in buyers)
        out.append("".join(str(1 + bins * (k - 1) // n) for k in (k_r, k_f, k_m)))
    return out


def _abc(rows: list[tuple[int, int, int] | None], scheme: AbcScheme) -> list[tuple[str, ...]]:
    buyers = [r for r in rows if r is not None]
    total = float(sum(b[2] for b in buyers))
    (ra, rb), (fa, fb), (ma, mb) = scheme.recency_days, scheme.frequency, scheme.monetary_shares
    out: list[tuple[str, ...]] = []
    for row in rows:
        if row is None:
            out.append((scheme.no_purchase, "", "", "", "", ""))
            continue
        rec, freq, mon = row
        above = float(sum(b[2] for b in buyers if b[2] > mon))
        r = "A" if rec <= ra else "B" if rec <= rb else "C"
        f = "A" if freq >= fa else "B" if freq >= fb else "C"
        m = "A" if above < ma * total else "B" if above < mb * total else "C"
        grp = (
            "core"
            if r == "A" and "A" in (f, m)
            else {"A": "growing", "B": "pre_churn", "C": "churn"}[r]
        )
        cell = r + f + m
        out.append((cell if scheme.output == "cell" else grp, r, f, m, cell, grp))
    return out


@settings(max_examples=60, deadline=None)
@given(rows=customers, bins=st.integers(2, 9), output=st.sampled_from(["cell", "group"]))
def test_scheme_tables_follow_the_rules(
    rows: list[tuple[int, int, int] | None], bins: int, output: str
) -> None:
    values = ", ".join(
        f"('c{i:03d}', NULL, 0, 0, 0)"
        if row is None
        else f"('c{i:03d}', {row[0]}, {row[1]}, {row[2]}, {row[1]})"
        for i, row in enumerate(rows)
    )
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE f AS SELECT customer_id, recency_days, frequency, "
        "CAST(monetary AS DECIMAL(18,2)) AS monetary, orders_total FROM (VALUES "
        f"{values}) t(customer_id, recency_days, frequency, monetary, orders_total)"
    )
    quantile, abc = QuantileScheme(bins=bins), AbcScheme(output=output)  # type: ignore[arg-type]
    schemes = {"q": quantile, "g": abc}
    con.execute(f"CREATE TABLE s AS {scored_schemes_sql(schemes, 'f', carry=('monetary',))}")
    got_q = con.execute(
        f"SELECT segment FROM ({scheme_columns_sql('q', quantile, 's')}) ORDER BY customer_id"
    ).fetchall()
    assert [g[0] for g in got_q] == _quantile(rows, bins)
    got_g = con.execute(
        "SELECT segment, COALESCE(r, ''), COALESCE(f, ''), COALESCE(m, ''), COALESCE(cell, ''), "
        f"COALESCE(grp, '') FROM ({scheme_columns_sql('g', abc, 's', carry=('monetary',))}) "
        "ORDER BY customer_id"
    ).fetchall()
    assert got_g == _abc(rows, abc)
