"""The report's words in English and Russian: headings, labels and one paragraph per section.

Segment names and KPI headers come from ``livebase.segments.labels``; this module holds what
only the report says. Paragraphs are ``str.format`` templates filled by the renderer.

>>> texts("ru")["title"]
'Клиентская база'
>>> set(texts("en")) == set(texts("ru"))
True
"""

from __future__ import annotations

from livebase.segments.labels import Language

__all__ = ["texts"]

_TEXTS: dict[str, tuple[str, str]] = {
    "title": ("Customer base", "Клиентская база"),
    "as_of": ("as of {day}", "на {day}"),
    "intro": (
        "How the base splits into segments on {day}, what each segment is worth, how customers "
        "moved since the previous run, and which segments are degrading. Every number comes "
        "from the livebase store and can be reproduced with «livebase segment --as-of {day}».",
        "Как база делится на сегменты на {day}, сколько стоит каждый сегмент, как клиенты "
        "перешли между сегментами с прошлого расчёта и какие сегменты ухудшаются. Все цифры "
        "взяты из хранилища livebase и воспроизводятся командой «livebase segment --as-of "
        "{day}».",
    ),
    "run_note": (
        "No run on {asked}: the page shows the latest run before it, {day}.",
        "Расчёта на {asked} нет: показан последний расчёт до этой даты, {day}.",
    ),
    "contents": ("Contents", "Содержание"),
    "card_customers": ("customers", "клиентов"),
    "card_buyers": ("paid at least once", "платили хотя бы раз"),
    "card_revenue": ("revenue", "выручка"),
    "card_runs": ("segmentation runs", "расчётов сегментов"),
    "card_alerts": ("alerts fired", "сработало алертов"),
    # named map
    "map_heading": ("Segments: size and value", "Сегменты: размер и ценность"),
    "map_text": (
        "The named map sorts buyers by how recently (R) and how often (F) they bought, each "
        "scored 1–5 against the rest of the base: Champions bought recently and often, At Risk "
        "and Can't Lose bought often but long ago, Lost bought once, long ago. The left box "
        "sizes each segment by its customers, the right one by its revenue: a segment that is "
        "small on the left and large on the right is worth protecting first. Customers who "
        "have not paid yet are «{prospects}» (left box only).",
        "Именованная карта раскладывает покупателей по давности (R) и частоте (F) покупок, "
        "каждая оценена от 1 до 5 относительно остальной базы: Чемпионы покупали недавно и "
        "часто, «В зоне риска» и «Нельзя потерять» покупали часто, но давно, Потерянные купили "
        "один раз и давно. Слева площадь сегмента — число клиентов, справа — его выручка: "
        "сегмент, маленький слева и большой справа, нужно беречь в первую очередь. Кто ещё не "
        "платил, попадает в «{prospects}» (только слева).",
    ),
    "map_by_customers": ("by customers", "по числу клиентов"),
    "map_by_revenue": ("by revenue", "по выручке"),
    "map_missing": (
        "No named map in livebase.yaml: add a scheme with «kind: named».",
        "В livebase.yaml нет именованной карты: добавьте схему с «kind: named».",
    ),
    # A/B/C grid
    "grid_heading": ("The A/B/C grid: 27 cells", "Сетка A/B/C: 27 ячеек"),
    "grid_text": (
        "Each buyer gets a letter on three axes: recency R (A: bought within {ra} days, B: "
        "within {rb} days, C: longer ago), frequency F (A: {fa}+ orders, B: {fb}+, C: fewer) and "
        "monetary M (A: the top spenders who bring {ma} of revenue, B: the next {mb}, C: the "
        "rest). Each square shows one M letter; in it, rows are R and columns are F. A cell "
        "shows its customers and its share of revenue; the colour is the number of customers. "
        "The frames mark the strategic groups: the VIP and loyal core, the growing and new, "
        "and the risk zone (pre-churn and churn).",
        "Каждый покупатель получает букву по трём осям: давность R (A — покупал в последние "
        "{ra} дн., B — в последние {rb} дн., C — раньше), частота F (A — от {fa} заказов, B — от "
        "{fb}, C — меньше) и деньги M (A — крупнейшие покупатели, дающие {ma} выручки, B — "
        "следующие {mb}, C — остальные). Каждый квадрат — одна буква M; в нём строки — R, "
        "столбцы — F. В ячейке — число клиентов и доля выручки, цвет — число клиентов. Рамки "
        "отмечают стратегические группы: VIP и лояльное ядро, растущие и новые, зона риска "
        "(предотток и отток).",
    ),
    "grid_r": ("R: recency", "R: давность"),
    "grid_f": ("F: frequency", "F: частота"),
    "grid_m": ("M = {m}: monetary {m}", "M = {m}: деньги {m}"),
    "grid_groups": ("Strategic groups", "Стратегические группы"),
    "grid_cells": ("cells", "ячейки"),
    "grid_missing": (
        "No A/B/C grid in livebase.yaml: add a scheme with «kind: abc».",
        "В livebase.yaml нет сетки A/B/C: добавьте схему с «kind: abc».",
    ),
    # KPI tables
    "kpi_heading": ("KPIs by segment", "Показатели по сегментам"),
    "kpi_text": (
        "One row per segment: customers and their share of the base; revenue paid in the "
        "window ({window}) and its share; average lifetime value (all paid history); average "
        "order value; days between purchases; sessions per month over the last quarter; the "
        "repeat rate (buyers with two or more orders); retention 30/90 days (of the customers "
        "who first paid at least 30/90 days ago, the share who paid again in the last 30/90 "
        "days). A dash means the segment has nobody to compute it on. Money is in {currency}.",
        "Одна строка на сегмент: клиенты и их доля в базе; выручка за окно ({window}) и её "
        "доля; средний LTV (вся история оплат); средний чек; дней между покупками; сессий в "
        "месяц за последний квартал; доля повторных покупок (покупатели с двумя и более "
        "заказами); удержание 30/90 дней (из клиентов, впервые оплативших не позже чем 30/90 "
        "дней назад, доля оплативших снова за последние 30/90 дней). Прочерк — не на ком "
        "считать. Деньги в {currency}.",
    ),
    "window_all": ("all history", "вся история"),
    "window_days": ("the last {days} days", "последние {days} дн."),
    "scheme_kind_quantile": (
        "R, F, M scores 1–{bins}, codes like 545",
        "баллы R, F, M от 1 до {bins}, коды вида 545",
    ),
    "scheme_kind_abc": ("A/B/C grid", "сетка A/B/C"),
    "scheme_kind_abc_group": ("strategic groups of the A/B/C grid", "стратегические группы A/B/C"),
    "scheme_kind_named": ("named map", "именованная карта"),
    "scheme_kind_rules": ("rule segments", "сегменты по правилам"),
    "scheme_kind_jobs": ("jobs to be done", "задачи клиентов (JTBD)"),
    "scheme_segments": ("{n} segments", "сегментов: {n}"),
    "scheme_run": ("run of {day}", "расчёт на {day}"),
    "total": ("total", "итого"),
    # transitions
    "tr_heading": ("Transitions since the previous run", "Переходы с прошлого расчёта"),
    "tr_text": (
        "Where the customers of each segment on {start} were on {end}. Each row adds up to "
        "100 %: the diagonal is who stayed, cells to its right are moves to worse segments, "
        "cells to its left are moves up. The row «{new}» is customers who joined the base "
        "in between.",
        "Где оказались на {end} клиенты каждого сегмента на {start}. Каждая строка даёт в "
        "сумме 100 %: диагональ — оставшиеся, ячейки правее — переход в сегменты хуже, левее — "
        "переход вверх. Строка «{new}» — клиенты, пришедшие в базу за это время.",
    ),
    "tr_flows": ("Largest moves", "Крупнейшие переходы"),
    "tr_flow_row": (
        "{customers} customers ({share} of the segment)",
        "{customers} клиентов ({share} сегмента)",
    ),
    "tr_missing": (
        "Transitions need two runs of the scheme: run «livebase segment --as-of» for an "
        "earlier date too.",
        "Для переходов нужны два расчёта схемы: выполните «livebase segment --as-of» ещё и на "
        "более раннюю дату.",
    ),
    "tr_axis_from": ("segment on {day}", "сегмент на {day}"),
    "tr_axis_to": ("segment on {day}", "сегмент на {day}"),
    "tr_colour": ("share of the row", "доля строки"),
    # history
    "hist_heading": ("The map over time", "Карта во времени"),
    "hist_text": (
        "Customers in each segment of the named map at every run up to this one (the last "
        "{n} runs).",
        "Клиенты в каждом сегменте именованной карты на каждый расчёт до текущего (последние {n}).",
    ),
    "hist_axis": ("customers", "клиенты"),
    # alerts
    "alerts_heading": ("Alerts", "Алерты"),
    "alerts_text": (
        "Rules from livebase.yaml that compare the two latest runs: a segment that shrank or "
        "grew past its threshold, or that filled up from better segments. «livebase alerts» "
        "checks the same rules and exits with code 1 when one fires, for cron or CI.",
        "Правила из livebase.yaml, сравнивающие два последних расчёта: сегмент уменьшился или "
        "вырос сильнее порога либо пополнился из сегментов получше. Команда «livebase alerts» "
        "проверяет те же правила и завершается с кодом 1, если какое-то сработало (для cron "
        "или CI).",
    ),
    "alerts_none": (
        "No alerts are configured: add «alerts:» under «segments:» in livebase.yaml.",
        "Алерты не настроены: добавьте «alerts:» в раздел «segments:» файла livebase.yaml.",
    ),
    "alert_name": ("alert", "алерт"),
    "alert_segment": ("segment", "сегмент"),
    "alert_metric": ("metric", "показатель"),
    "alert_before": ("before", "было"),
    "alert_after": ("after", "стало"),
    "alert_change": ("change", "изменение"),
    "alert_threshold": ("threshold", "порог"),
    "alert_status": ("status", "статус"),
    "alert_fired": ("FIRED", "СРАБОТАЛ"),
    "alert_ok": ("ok", "в норме"),
    "alert_na": ("n/a", "нет данных"),
    "metric_customers": ("customers", "клиенты"),
    "metric_share": ("share of the base", "доля базы"),
    "metric_revenue": ("revenue", "выручка"),
    "metric_inflow_from_better": ("inflow from better segments", "приток из лучших сегментов"),
    "reason_two_runs": ("needs two runs of the scheme", "нужны два расчёта схемы"),
    "reason_empty": ("the segment was empty at the earlier run", "сегмент был пуст в прошлый раз"),
    "footer": (
        "Made by livebase from the store as of {day}. The page is self-contained: it opens "
        "offline and can be sent as one file.",
        "Сделано livebase по данным хранилища на {day}. Страница самодостаточна: открывается "
        "без интернета и пересылается одним файлом.",
    ),
}


def texts(lang: Language) -> dict[str, str]:
    """Every report text in ``lang`` (English or Russian), by key."""
    i = 0 if lang == "en" else 1
    return {key: pair[i] for key, pair in _TEXTS.items()}
