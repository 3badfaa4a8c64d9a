"""Segment names and KPI labels in English and Russian.

>>> labels("ru")["At Risk"]
'В зоне риска'
>>> label("Champions", "en")
'Champions'
>>> label("my own segment", "ru")
'my own segment'
"""

from __future__ import annotations

from typing import Literal

__all__ = ["Language", "kpi_labels", "label", "labels"]

Language = Literal["en", "ru"]

_RU: dict[str, str] = {
    "Champions": "Чемпионы",
    "Loyal": "Лояльные",
    "Potential Loyalists": "Потенциально лояльные",
    "New": "Новички",
    "Promising": "Перспективные",
    "Need Attention": "Требуют внимания",
    "About to Sleep": "Засыпающие",
    "At Risk": "В зоне риска",
    "Can't Lose": "Нельзя потерять",
    "Hibernating": "Спящие",
    "Lost": "Потерянные",
    "Prospects": "Без покупок",
    "Other": "Прочие",
    "core": "VIP и лояльное ядро",
    "growing": "Растущие и новые",
    "pre_churn": "Зона риска: предотток",
    "churn": "Зона риска: отток",
    "Active": "Активные",
    "At-Risk": "В зоне риска",
    "Churned": "Ушедшие",
    "learn_new": "Освоить новое",
    "reduce_risk": "Снизить риск",
    "save_time": "Сэкономить время",
    "none": "Без задачи",
    "(new)": "(новые)",
    "(gone)": "(выбыли)",
}
_EN: dict[str, str] = {
    "core": "VIP & loyal core",
    "growing": "Growing & new",
    "pre_churn": "Risk zone: pre-churn",
    "churn": "Risk zone: churn",
    "learn_new": "Learn something new",
    "reduce_risk": "Reduce risk",
    "save_time": "Save time",
}
_KPI: dict[str, tuple[str, str]] = {
    "scheme": ("scheme", "схема"),
    "segment": ("segment", "сегмент"),
    "customers": ("customers", "клиенты"),
    "share": ("share", "доля"),
    "revenue": ("revenue", "выручка"),
    "revenue_share": ("revenue share", "доля выручки"),
    "avg_ltv": ("avg LTV", "средний LTV"),
    "aov": ("AOV", "средний чек"),
    "mean_interpurchase_days": ("days between purchases", "дней между покупками"),
    "sessions_per_month": ("sessions / month", "сессий в месяц"),
    "repeat_rate": ("repeat rate", "повторные покупки"),
    "retention_30": ("retention 30d", "удержание 30 дн."),
    "retention_90": ("retention 90d", "удержание 90 дн."),
    "avg_clv": ("avg predicted CLV", "средний прогноз CLV"),
    "total_clv": ("total predicted CLV", "прогноз CLV всего"),
}


def labels(lang: Language) -> dict[str, str]:
    """Built-in segment name → its label in ``lang`` (names not listed show as they are)."""
    return dict(_RU) if lang == "ru" else dict(_EN)


def label(segment: str, lang: Language) -> str:
    """The label of one segment name (itself when there is no translation)."""
    return labels(lang).get(segment, segment)


def kpi_labels(lang: Language) -> dict[str, str]:
    """KPI column → header in ``lang``.

    >>> kpi_labels("ru")["aov"]
    'средний чек'
    """
    return {k: (en if lang == "en" else ru) for k, (en, ru) in _KPI.items()}
