"""The owner's report: one self-contained HTML page about the base as of a date.

``build_report`` reads the numbers from the store (segment sizes and value, the named-map
treemap, the 27-cell A/B/C grid, KPI tables per scheme, the latest transitions, the map over
time, alerts); ``render_html`` writes them as one page in English or Russian, charts inline
as SVG, with no scripts and nothing fetched from the network.

>>> from datetime import date, datetime
>>> from livebase.features import FeaturesSettings
>>> from livebase.segments import SegmentsSettings, run_segmentation
>>> from livebase.store import Store
>>> store = Store.in_memory()
>>> _ = store.con.execute(
...     "INSERT INTO customers (customer_id, first_load, last_load) VALUES ('a', 1, 1), ('b', 1, 1)")
>>> _ = store.con.execute(
...     "INSERT INTO orders (order_id, customer_id, created_at, paid_at, amount, paid_amount, "
...     "status, first_load, last_load) VALUES ('o1', 'a', '2026-01-05', '2026-01-05', 10, 10, "
...     "'paid', 1, 1)")
>>> _ = run_segmentation(store, FeaturesSettings(), SegmentsSettings(), date(2026, 1, 31),
...                      ran_at=datetime(2026, 2, 1), collect=False)
>>> data = build_report(store, FeaturesSettings(), SegmentsSettings(), date(2026, 1, 31))
>>> data.customers, data.buyers, data.revenue
(2, 1, 10.0)
>>> page = render_html(data, lang="ru", currency="RUB")
>>> "Без покупок" in page and "<script" not in page
True
"""

from livebase.report._data import (
    GRID_CELLS,
    TREEMAP_SIZE,
    ReportData,
    SchemeKpis,
    abc_group,
    build_report,
)
from livebase.report._render import Numbers, render_html
from livebase.report._texts import texts
from livebase.report._treemap import Tile, squarify
from livebase.report._write import ensure_runs, missing_runs, write_report

__all__ = [
    "GRID_CELLS",
    "TREEMAP_SIZE",
    "Numbers",
    "ReportData",
    "SchemeKpis",
    "Tile",
    "abc_group",
    "build_report",
    "ensure_runs",
    "missing_runs",
    "render_html",
    "squarify",
    "texts",
    "write_report",
]
