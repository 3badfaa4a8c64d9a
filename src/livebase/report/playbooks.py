"""The owner's report section "What the playbooks added": each playbook's incremental purchases
and revenue against its holdout with intervals, its cost, the paid steps' verdicts, and the
programme's total against the global holdout — from the published snapshot
(:mod:`livebase.report.snapshot`). Plain HTML, no scripts.

>>> html = playbooks_section({"currency": "RUB", "playbooks": [], "owner": {"programme":
...     {"months": [], "total": None}}}, lang="en")
>>> "What the playbooks added" in html and "<script" not in html
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import escape

__all__ = ["add_playbooks_section", "playbooks_section"]

_T = {
    "en": {
        "title": "What the playbooks added",
        "note": "Against each playbook's holdout (customers who entered but were not messaged); "
        "95% intervals. Paid steps are read against their own holdout of non-responders.",
        "playbook": "Playbook",
        "entered": "Entered",
        "conv": "Incremental purchases",
        "rev": "Incremental revenue",
        "cost": "Cost",
        "per": "Cost per incremental purchase",
        "steps": "Paid steps",
        "programme": "The whole programme against the global holdout (never messaged)",
        "keep": "keep",
        "drop": "drop",
        "hold_out_more": "hold out more",
    },
    "ru": {
        "title": "Что добавили сценарии",
        "note": "Против контрольной группы каждого сценария (вошли, но не получили сообщений); "
        "95-процентные интервалы. Платные шаги — против своего контроля из не откликнувшихся.",
        "playbook": "Сценарий",
        "entered": "Вошли",
        "conv": "Дополнительные покупки",
        "rev": "Дополнительная выручка",
        "cost": "Затраты",
        "per": "Цена дополнительной покупки",
        "steps": "Платные шаги",
        "programme": "Вся программа против глобального контроля (никому не писали)",
        "keep": "оставить",
        "drop": "убрать",
        "hold_out_more": "держать контроль дольше",
    },
}


def _n(v: Any, places: int = 0, lang: str = "en") -> str:
    if v is None:
        return "—"
    text = f"{float(v):+,.{places}f}"
    return text.replace(",", "\u202f").replace(".", ",") if lang == "ru" else text


def _ci(lo: Any, hi: Any, places: int, lang: str) -> str:
    return f"[{_n(lo, places, lang)}; {_n(hi, places, lang)}]"


def playbooks_section(snapshot: Mapping[str, Any], *, lang: str = "en") -> str:
    """The section's HTML from a published snapshot."""
    t = _T["ru" if lang == "ru" else "en"]
    cur = escape(str(snapshot.get("currency", "")))
    rows = []
    for b in snapshot.get("playbooks", []):
        r = b["readout"]
        entered = sum(int(v) for v in b.get("entered", {}).values())
        if r.get("reason"):
            body = f'<td colspan="4" class="text">{escape(r["reason"])}</td>'
        else:
            body = (
                f"<td>{_n(r['incremental_conversions'], 1, lang)} "
                f"<small>{_ci(r['incremental_conversions_low'], r['incremental_conversions_high'], 1, lang)}</small></td>"
                f"<td>{_n(r['incremental_revenue'], 0, lang)} "
                f"<small>{_ci(r['incremental_revenue_low'], r['incremental_revenue_high'], 0, lang)}</small></td>"
                f"<td>{_n(r['cost'], 0, lang).lstrip('+')}</td>"
                f"<td>{_n(r['cost_per_incremental_conversion'], 0, lang).lstrip('+')}</td>"
            )
        steps = ", ".join(
            f"{escape(s['step'])}: {escape(t.get(s['recommendation'] or '', s['recommendation'] or s.get('reason') or '—'))}"
            for s in r.get("steps", [])
        )
        rows.append(
            f"<tr><th>{escape(b.get('title') or b['name'])}</th><td>{entered:,}</td>{body}"
            f'<td class="text">{steps or "—"}</td></tr>'
        )
    prog = snapshot.get("owner", {}).get("programme", {}) or {}
    total = prog.get("total")
    programme = "—"
    if total:
        programme = (
            f"{_n(total['incremental_conversions'], 1, lang)} "
            f"{_ci(total['incremental_conversions_low'], total['incremental_conversions_high'], 1, lang)}; "
            f"{_n(total['incremental_revenue'], 0, lang)} "
            f"{_ci(total['incremental_revenue_low'], total['incremental_revenue_high'], 0, lang)} {cur}"
        )
    return (
        f'<section id="playbooks"><h2>{t["title"]}</h2><p class="note">{t["note"]}</p>'
        f'<div class="scroll"><table><thead><tr><th>{t["playbook"]}</th><th>{t["entered"]}</th>'
        f"<th>{t['conv']}</th><th>{t['rev']}, {cur}</th><th>{t['cost']}, {cur}</th>"
        f"<th>{t['per']}, {cur}</th><th>{t['steps']}</th></tr></thead><tbody>"
        + "".join(rows)
        + f"</tbody></table></div><p><b>{t['programme']}:</b> {programme}</p></section>"
    )


def add_playbooks_section(page: str, snapshot: Mapping[str, Any] | None, *, lang: str) -> str:
    """The report page with the section before ``</main>`` (unchanged without a snapshot)."""
    if not snapshot or not snapshot.get("playbooks"):
        return page
    return page.replace("</main>", playbooks_section(snapshot, lang=lang) + "\n</main>", 1)
