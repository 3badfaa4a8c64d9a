"""The owner's report gains "What the playbooks added" from the published snapshot."""

from __future__ import annotations

from datetime import timedelta

from livebase.report.playbooks import add_playbooks_section, playbooks_section
from livebase.report.snapshot import build_snapshot
from livebase.store import Store
from measure._playbook_data import START, fill
from measure.test_playbook_readout import SPEC


def test_section_shows_readouts_with_intervals_cost_and_the_programme() -> None:
    with Store.in_memory() as store:
        fill(store, n=3000)
        snap = build_snapshot(
            store, as_of=START + timedelta(days=120), playbooks=[SPEC], global_holdout=0.1
        )
    html = playbooks_section(snap, lang="en")
    assert "What the playbooks added" in html and "winback" in html
    assert html.count("[") >= 3  # intervals beside the estimates
    assert "sms: drop" in html or "sms: hold out more" in html or "sms: keep" in html
    assert "global holdout" in html
    ru = playbooks_section(snap, lang="ru")
    assert "Что добавили сценарии" in ru
    page = "<html><main><p>base</p></main></html>"
    assert (
        add_playbooks_section(page, snap, lang="en").index("What the playbooks")
        < page.index("</main>") + 60
    )
    assert add_playbooks_section(page, None, lang="en") == page
