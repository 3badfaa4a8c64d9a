"""The SQL the parse is made of: the trim that skips the cells it would not change."""

from __future__ import annotations

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from livebase.ingest.parsing import trim_sql

# every space separator DuckDB's trim removes, the white space it keeps, letters of both
# scripts, a combining accent and an emoji
ALPHABET = [
    " ",
    "\u00a0",
    "\u1680",
    "\u2000",
    "\u2009",
    "\u200a",
    "\u202f",
    "\u205f",
    "\u3000",
    "\t",
    "\n",
    "\r",
    "\u200b",
    "\u180e",
    "\ufeff",
    "a",
    "7",
    "@",
    "я",
    "Ё",
    "e\u0301",
    "😀",
]


CELLS = st.lists(
    st.one_of(st.none(), st.lists(st.sampled_from(ALPHABET), max_size=8).map("".join)),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(cells=CELLS)
def test_the_fast_trim_is_duckdbs_trim_for_every_cell(cells: list[str | None]) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (i INTEGER, c VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(cells)))
    differ = con.execute(
        f"SELECT i, c FROM t WHERE ({trim_sql('c')}) IS DISTINCT FROM trim(c)"
    ).fetchall()
    assert differ == []


def test_the_fast_trim_passes_plain_ascii_through_and_trims_unicode_spaces() -> None:
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT {trim_sql('c')} FROM (VALUES ('u1@example.ru'), ('\u3000Курс\u00a0'), "
        "(' 1 490,00 '), ('\t x')) t(c)"
    ).fetchall()
    assert rows == [("u1@example.ru",), ("Курс",), ("1 490,00",), ("\t x",)]
