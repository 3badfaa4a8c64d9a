"""SCD2 invariants: runs in any order, repeated or not, give the history of the sorted runs."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livebase.segments import customer_history, segment_state_sql, write_history
from livebase.store import Store

CUSTOMERS = ("a", "b", "c")
DAY0 = date(2026, 1, 1)


def run(store: Store, day: date, segments: dict[str, str]) -> None:
    with store.transaction() as con:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE lb_results "
            "(customer_id VARCHAR, segment VARCHAR, scores JSON)"
        )
        for customer, segment in segments.items():
            con.execute(
                "INSERT INTO lb_results VALUES (?, ?, ?)", [customer, segment, f'{{"d": "{day}"}}']
            )
        write_history(con, "s", day, "lb_results")
        con.execute(
            "INSERT OR REPLACE INTO segment_runs VALUES ('s', ?, ?, 'x', ?)",
            [day, len(segments), datetime(2026, 1, 1)],
        )


def expected(results: dict[date, dict[str, str]]) -> set[tuple[str, str, date, date | None]]:
    """Collapse the runs sorted by date: a row per customer and stretch of equal segments."""
    rows: set[tuple[str, str, date, date | None]] = set()
    for customer in CUSTOMERS:
        points = [(d, r[customer]) for d, r in sorted(results.items()) if customer in r]
        kept = [p for i, p in enumerate(points) if i == 0 or points[i - 1][1] != p[1]]
        for i, (d, seg) in enumerate(kept):
            rows.add((customer, seg, d, kept[i + 1][0] if i + 1 < len(kept) else None))
    return rows


@st.composite
def schedules(draw: st.DrawFn) -> tuple[dict[date, dict[str, str]], list[date]]:
    n = draw(st.integers(1, 6))
    offsets = sorted(draw(st.sets(st.integers(0, 60), min_size=n, max_size=n)))
    joined = {c: draw(st.integers(0, 60)) for c in CUSTOMERS}  # customers appear over time
    results = {}
    for k in offsets:
        day = DAY0 + timedelta(days=k)
        results[day] = {
            c: draw(st.sampled_from(["A", "B", "C"])) for c in CUSTOMERS if joined[c] <= k
        }
    order = draw(
        st.lists(st.sampled_from(list(results)), min_size=len(results), max_size=2 * len(results))
    )
    order += [d for d in results if d not in order]
    return results, order


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(schedules())
def test_runs_in_any_order_give_the_history_of_the_sorted_runs(
    schedule: tuple[dict[date, dict[str, str]], list[date]],
) -> None:
    results, order = schedule
    store = Store.in_memory()
    for day in order:
        run(store, day, results[day])
    rows = store.con.execute(
        "SELECT customer_id, segment, valid_from, valid_to FROM segment_history"
    ).fetchall()
    assert len(rows) == len(set(rows))
    assert set(rows) == expected(results)
    # no overlaps, no gaps, one open row per customer that has any
    for customer in CUSTOMERS:
        mine = sorted((r for r in rows if r[0] == customer), key=lambda r: r[2])
        for before, after in itertools.pairwise(mine):
            assert before[3] == after[2] and before[1] != after[1]
        assert sum(r[3] is None for r in mine) == (1 if mine else 0)


def test_rerunning_a_date_changes_nothing() -> None:
    store = Store.in_memory()
    for day, seg in (
        (DAY0, "A"),
        (DAY0 + timedelta(days=7), "B"),
        (DAY0 + timedelta(days=14), "B"),
    ):
        run(store, day, {"a": seg})
    before = store.con.execute("SELECT * FROM segment_history ORDER BY valid_from").fetchall()
    run(store, DAY0 + timedelta(days=7), {"a": "B"})
    run(store, DAY0 + timedelta(days=14), {"a": "B"})
    after = store.con.execute("SELECT * FROM segment_history ORDER BY valid_from").fetchall()
    assert before == after


def test_segment_state_gives_current_previous_and_since() -> None:
    store = Store.in_memory()
    run(store, DAY0, {"a": "Loyal"})
    run(store, DAY0 + timedelta(days=10), {"a": "At Risk"})
    state = store.con.execute(segment_state_sql("s", DAY0 + timedelta(days=12))).fetchall()
    assert state == [("a", "At Risk", "Loyal", DAY0 + timedelta(days=10), 2)]
    path = customer_history(store.con, "a")
    assert list(path["segment"]) == ["Loyal", "At Risk"]
