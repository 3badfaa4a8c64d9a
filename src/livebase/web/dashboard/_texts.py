"""Words and numbers of the dashboard in Russian and English.

>>> Texts("ru").money(1845.5, "RUB"), Texts("en").money(1845.5, "RUB")
('1\\u202f846\\xa0₽', '₽1,846')
>>> Texts("ru")("Playbooks"), Texts("en").percent(0.314)
('Сценарии', '31.4%')
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["LANGUAGES", "Texts"]

LANGUAGES = ("ru", "en")

RU: dict[str, str] = {
    "Owner": "Владелец",
    "Marketer": "Маркетолог",
    "Analyst": "Аналитик",
    "Users": "Пользователи",
    "Sign in": "Войти",
    "Sign out": "Выйти",
    "User name": "Имя пользователя",
    "Password": "Пароль",
    "Wrong user name or password.": "Неверное имя пользователя или пароль.",
    "The form expired: please try again.": "Форма устарела: попробуйте ещё раз.",
    "You have no access to this page.": "У вас нет доступа к этой странице.",
    "No published results yet: run a batch job (livebase run, livebase demo).": "Результатов пока нет: запустите пакетное задание (livebase run, livebase demo).",
    "as of": "на",
    "Revenue from the base": "Выручка базы",
    "Revenue": "Выручка",
    "Orders": "Заказы",
    "Repeat share": "Доля повторных",
    "Repeat share of revenue": "Доля повторных в выручке",
    "Segments over time": "Сегменты во времени",
    "Segment value over time": "Ценность сегментов во времени",
    "Customers": "Клиенты",
    "Alerts": "Сигналы",
    "No alerts.": "Сигналов нет.",
    "What the programme added": "Что добавила программа",
    "against the global holdout (customers never messaged)": "против глобального контроля (клиентов, которым ничего не отправляли)",
    "Incremental revenue": "Дополнительная выручка",
    "Incremental conversions": "Дополнительные покупки",
    "interval": "интервал",
    "Month": "Месяц",
    "partial": "неполный",
    "Playbooks": "Сценарии",
    "Playbook": "Сценарий",
    "State": "Состояние",
    "active": "работает",
    "paused": "на паузе",
    "Pause": "Пауза",
    "Resume": "Возобновить",
    "Entered": "Вошли",
    "Held out": "В контроле",
    "Sent": "Отправлено",
    "Capped": "Срезано лимитами",
    "Cost": "Затраты",
    "Cost per incremental purchase": "Цена дополнительной покупки",
    "Next 7 days of planned sends": "Запланированные отправки на 7 дней",
    "Funnel per step": "Воронка по шагам",
    "Step": "Шаг",
    "Channel": "Канал",
    "Due": "Подошёл срок",
    "Planned": "Запланировано",
    "Delivered": "Доставлено",
    "Opened": "Открыли",
    "Clicked": "Кликнули",
    "Converted": "Купили",
    "Dropped out": "Выбыли",
    "Readout": "Результат",
    "Escalation: paid steps against their own holdout": "Эскалация: платные шаги против своего контроля",
    "per 1,000 spent": "на 1 000 затрат",
    "Break-even": "Окупаемость",
    "Recommendation": "Рекомендация",
    "keep": "оставить",
    "drop": "убрать",
    "hold_out_more": "держать контроль дольше",
    "Sample ratio": "Соотношение групп",
    "ok": "в норме",
    "mismatch": "расхождение",
    "Per segment (family-wise corrected)": "По сегментам (с поправкой на множественность)",
    "Segment": "Сегмент",
    "Lift": "Прирост",
    "Segments": "Сегменты",
    "Transitions": "Переходы",
    "From": "Из",
    "To": "В",
    "CLV": "CLV",
    "Experiments and uplift": "Эксперименты и uplift",
    "Experiment": "Эксперимент",
    "Data freshness": "Свежесть данных",
    "Last loads": "Последние загрузки",
    "Inbox lag": "Задержка входящих",
    "Status latency": "Задержка статусов",
    "waiting": "ожидают",
    "oldest": "старейшее",
    "Scheme": "Схема",
    "Role": "Роль",
    "Add user": "Добавить пользователя",
    "User added.": "Пользователь добавлен.",
    "Nothing yet.": "Пока ничего.",
    "Conversion": "Конверсия",
    "Revenue per customer": "Выручка на клиента",
    "Arm": "Группа",
    "treatment": "воздействие",
    "holdout": "контроль",
    "Occurrence": "Вход",
    "pooled": "вместе",
    "File": "Файл",
    "Rows": "Строк",
    "Language": "Язык",
    "Reason": "Причина",
    "Total": "Итого",
    "too_few_entrants": "слишком мало вошедших",
    "window_not_over": "окно конверсии ещё не закончилось",
    "no_entrants": "пока никто не вошёл",
    "no_holdout": "нет контрольной группы",
    "no_cost": "шаг ещё ничего не стоил",
    "ROI": "ROI",
    "Average CLV": "Средний CLV",
    "P(alive)": "P(активен)",
}
"""English → Russian."""

_CURRENCY = {"RUB": "₽", "USD": "$", "EUR": "€"}


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return not math.isfinite(float(value))
    except (TypeError, ValueError):
        return True


class Texts:
    """The dashboard's words and numbers in ``lang`` (a missing number is "—")."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else "en"

    def __call__(self, text: str) -> str:
        return RU.get(text, text) if self.lang == "ru" else text

    def segment(self, name: Any) -> str:
        """A segment's label in the language (the built-in names are translated)."""
        from livebase.segments.labels import label

        return label(str(name), "ru" if self.lang == "ru" else "en")

    def number(self, value: Any, places: int = 0) -> str:
        if _missing(value):
            return "—"
        text = f"{float(value):,.{places}f}"
        if self.lang == "ru":
            text = text.replace(",", "\u202f").replace(".", ",")
        return text.replace("-", "−")

    def signed(self, value: Any, places: int = 0) -> str:
        if _missing(value):
            return "—"
        return ("+" if float(value) > 0 else "") + self.number(value, places)

    def percent(self, value: Any, places: int = 1) -> str:
        if _missing(value):
            return "—"
        n = self.number(float(value) * 100, places)
        return f"{n}\xa0%" if self.lang == "ru" else f"{n}%"

    def money(self, value: Any, currency: str = "RUB") -> str:
        if _missing(value):
            return "—"
        sign = _CURRENCY.get(currency, currency)
        n = self.number(value)
        if self.lang == "ru":
            return f"{n}\xa0{sign}"
        return f"−{sign}{n[1:]}" if n.startswith("−") else f"{sign}{n}"

    def interval(self, low: Any, high: Any, places: int = 0, money: str | None = None) -> str:
        """``[low, high]``, each end signed (or in money)."""
        if _missing(low) and _missing(high):
            return "—"

        def end(v: Any) -> str:
            if money is not None:
                return self.money(v, money) if not _missing(v) else "∞"
            return self.signed(v, places) if not _missing(v) else "∞"

        sep = "; " if self.lang == "ru" else ", "
        return f"[{end(low)}{sep}{end(high)}]"
