"""The HTML page: self-contained (nothing fetched), in the chosen language, escaped, valid ids."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime
from html.parser import HTMLParser

import pytest

from livebase.features import FeaturesSettings
from livebase.report import Numbers, build_report, render_html, texts
from livebase.segments import SegmentationRun, SegmentsSettings, labels, run_segmentation
from livebase.store import Store

from .conftest import ALERTS, SMALL_DATES, small_store

Runs = tuple[Store, dict[date, SegmentationRun]]


class Page(HTMLParser):
    """Collects what a browser would fetch, the ids, the scripts and the visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str, str]] = []
        self.ids: list[str] = []
        self.tags: Counter[str] = Counter()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "action", "data", "poster") and value:
                self.links.append((tag, name, value))
            if name == "id" and value:
                self.ids.append(value)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> Page:
    parser = Page()
    parser.feed(page)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def pages(small: Runs) -> dict[str, str]:
    store, _ = small
    data = build_report(store, FeaturesSettings(), ALERTS, SMALL_DATES[1])
    return {lang: render_html(data, lang=lang, currency="RUB") for lang in ("en", "ru")}


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_page_fetches_nothing(pages: dict[str, str], lang: str) -> None:
    page = pages[lang]
    parsed = parse(page)
    assert parsed.tags["script"] == 0 and parsed.tags["link"] == 0 and parsed.tags["img"] == 0
    assert parsed.tags["svg"] >= 4  # treemap, grid, transitions, history
    for tag, name, value in parsed.links:
        # in-page anchors, and the images matplotlib inlines in an SVG (the heatmap's pixels)
        inline = tag == "image" and value.startswith("data:image/png;base64,")
        assert value.startswith("#") or inline, f"<{tag} {name}={value[:40]}> leaves the page"
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "@import" not in page and not re.search(r"url\(\s*['\"]?(https?:)?//", page)


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_every_id_is_unique_and_every_reference_resolves(pages: dict[str, str], lang: str) -> None:
    parsed = parse(pages[lang])
    duplicated = [i for i, n in Counter(parsed.ids).items() if n > 1]
    assert not duplicated
    ids = set(parsed.ids)
    for _, _, value in parsed.links:
        assert not value.startswith("#") or value[1:] in ids, value
    for ref in re.findall(r"url\(#([^)]+)\)", pages[lang]):
        assert ref in ids


def test_segment_names_and_headings_are_in_the_chosen_language(
    pages: dict[str, str], small: Runs
) -> None:
    _, runs = small
    run = runs[SMALL_DATES[1]]
    named = run.kpis[run.kpis["scheme"] == "named"]["segment"].tolist()
    ru, en = parse(pages["ru"]), parse(pages["en"])
    ru_text, en_text = " ".join(ru.text), " ".join(en.text)
    for segment in named:
        assert labels("ru")[segment] in ru_text
        assert segment in en_text
    for key in ("map_heading", "grid_heading", "kpi_heading", "tr_heading", "alerts_heading"):
        assert texts("ru")[key] in ru_text and texts("en")[key] in en_text
    alert_names = {a.name for a in ALERTS.alerts}  # the user's words, shown as written
    for segment in named:
        if not any(segment in name for name in alert_names):
            assert segment not in ru_text, segment
        assert labels("ru")[segment] not in en_text
    assert '<html lang="ru">' in pages["ru"]


def test_fired_alerts_are_marked(pages: dict[str, str]) -> None:
    assert pages["en"].count('class="fired"') == 1 and "FIRED" in pages["en"]
    assert "СРАБОТАЛ" in pages["ru"]


def test_numbers_are_written_the_way_each_language_reads_them() -> None:
    assert Numbers("en").number(1234567.891, 2) == "1,234,567.89"
    assert Numbers("ru").number(1234567.891, 2) == "1\u00a0234\u00a0567,89"
    assert Numbers("ru").percent(0.5) == "50,0\u00a0%"
    assert Numbers("en").kpi("revenue", float("nan")) == "—"
    assert Numbers("en").kpi("retention_90", 0.25) == "25.0%"


def test_user_segment_names_are_escaped() -> None:
    store = small_store(30, seed=8)
    settings = SegmentsSettings.model_validate(
        {
            "schemes": {
                "rfm": {"kind": "quantile"},
                "named": {"kind": "named"},
                "vip": {
                    "kind": "rules",
                    "otherwise": "<script>alert(1)</script>",
                    "rules": [{"name": "<b>VIP</b> & co", "when": "orders_total >= 3"}],
                },
            }
        }
    )
    day = date(2026, 6, 30)
    run_segmentation(store, FeaturesSettings(), settings, day, ran_at=datetime(2026, 7, 1))
    page = render_html(build_report(store, FeaturesSettings(), settings, day), lang="en")
    assert "<script>" not in page and "<b>VIP</b>" not in page
    assert "&lt;b&gt;VIP&lt;/b&gt; &amp; co" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_one_run_and_no_alerts_say_what_to_do() -> None:
    store = small_store(30, seed=9)
    day = date(2026, 6, 30)
    run_segmentation(
        store, FeaturesSettings(), SegmentsSettings(), day, ran_at=datetime(2026, 7, 1)
    )
    data = build_report(store, FeaturesSettings(), SegmentsSettings(), day)
    page = render_html(data, lang="en")
    assert texts("en")["tr_missing"].split(":")[0] in page
    assert "alerts:" in page and 'id="history"' not in page
