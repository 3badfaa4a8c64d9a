"""The user's language: one gettext catalogue (``locale/<lang>/LC_MESSAGES/livebase.mo``).

A message raised deep below the CLI is marked where it is written with :func:`_l` (or
:func:`_nl` for a count): the result is the English text, a plain ``str`` everywhere, that
also remembers its template and values, so the CLI can say it again in the user's language.
This module is a leaf: it imports only the standard library, and reads the catalogue the
first time a language other than English is asked for.

>>> message = _l("file not found")
>>> message, translate(message, "ru")
('file not found', 'файл не найден')
>>> translate(_nl("{n} bad row, first at {first}", "{n} bad rows, first at {first}", 3,
...                first="row 2"), "en")
'3 bad rows, first at row 2'

The catalogue is written with Babel (``make messages``: extract, update the ``.po``,
compile the ``.mo``; the ``.mo`` is committed, so an install needs no Babel).
"""

from __future__ import annotations

import gettext
import os
import re
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Literal

__all__ = [
    "DOMAIN",
    "LOCALE_DIR",
    "N_",
    "Language",
    "LazyText",
    "_l",
    "_nl",
    "choose_language",
    "joined",
    "looked_up",
    "translate",
    "translations",
]

DOMAIN = "livebase"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
Language = Literal["en", "ru"]
_LANGUAGES: tuple[Language, ...] = ("en", "ru")
_CONFIG_LANGUAGE = re.compile(r"^language:\s*[\"']?(?P<lang>[A-Za-z_]+)", re.MULTILINE)


class LazyText(str):
    """A message in English (its ``str`` value) that can be said again in another language.

    ``msgid`` is the template as written in the source (and in the catalogue); ``params``
    fill its ``{name}`` fields, each translated too when it is a LazyText itself.
    """

    msgid: str
    plural: str | None
    number: int | None
    params: Mapping[str, object]

    def __new__(
        cls,
        msgid: str,
        params: Mapping[str, object],
        *,
        plural: str | None = None,
        number: int | None = None,
    ) -> LazyText:
        text = _render(msgid, plural, number, params, gettext.NullTranslations())
        self = super().__new__(cls, text)
        self.msgid, self.plural, self.number, self.params = msgid, plural, number, dict(params)
        return self

    def render(self, catalogue: gettext.NullTranslations) -> str:
        """This message as ``catalogue`` says it (the English text when it has no entry)."""
        return _render(self.msgid, self.plural, self.number, self.params, catalogue)

    def __reduce__(self) -> tuple[object, ...]:  # pickles (and copies) as the English text
        return (str, (str(self),))


def _render(
    msgid: str,
    plural: str | None,
    count: int | None,
    params: Mapping[str, object],
    catalogue: gettext.NullTranslations,
) -> str:
    if plural is not None and count is not None:
        template = catalogue.ngettext(msgid, plural, count)
    else:
        template = catalogue.gettext(msgid)
    values = {k: (v.render(catalogue) if isinstance(v, LazyText) else v) for k, v in params.items()}
    if count is not None:
        values.setdefault("n", count)
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):  # a broken translation: say it in English
        return (plural if plural is not None and count != 1 else msgid).format(**values)


def N_(text: str) -> str:
    """Mark ``text`` for the catalogue only: it is looked up when shown (:func:`translate`).

    >>> N_("Options")
    'Options'
    """
    return text


def _l(msgid: str, /, **params: object) -> LazyText:
    """Mark a message for translation; ``{name}`` fields are filled from ``params``.

    >>> _l("scheme '{scheme}' was never run: run 'livebase segment'", scheme="rfm")
    "scheme 'rfm' was never run: run 'livebase segment'"
    >>> translate(_l("scheme '{scheme}' was never run: run 'livebase segment'", scheme="rfm"), "ru")
    "схема 'rfm' ещё ни разу не запускалась: выполните 'livebase segment'"
    """
    return LazyText(msgid, params)


def _nl(singular: str, plural: str, count: int, /, **params: object) -> LazyText:
    """Mark a message that depends on a count (``{n}`` is the count).

    >>> rows = _nl("{n} bad row, first at {first}", "{n} bad rows, first at {first}", 5, first=2)
    >>> rows, translate(rows, "ru")
    ('5 bad rows, first at 2', '5 ошибочных строк, первая — 2')
    """
    return LazyText(singular, params, plural=plural, number=count)


def joined(parts: Sequence[str], separator: str = ", ") -> LazyText:
    """``parts`` one after another, each still translatable (``str.join`` would lose that).

    >>> joined([_l("rule"), "x"], " / ")
    'rule / x'
    >>> translate(joined([_l("rule"), "x"], " / "), "ru")
    'правило / x'
    """
    names = {f"p{i}": part for i, part in enumerate(parts)}
    template = separator.replace("{", "{{").replace("}", "}}").join(f"{{{k}}}" for k in names)
    return LazyText(template, names)


def looked_up(text: str) -> LazyText:
    """``text`` as it is, translated when shown if the catalogue has it (a message kept as
    data, such as a row problem written by SQL, marked with :func:`N_` where it is defined).

    >>> translate(looked_up("file not found"), "ru"), translate(looked_up("a {brace}"), "ru")
    ('файл не найден', 'a {brace}')
    """
    return LazyText(text.replace("{", "{{").replace("}", "}}"), {})


@cache
def translations(lang: Language) -> gettext.NullTranslations:
    """The catalogue of ``lang`` (English is the source language: no catalogue needed).

    >>> translations("ru").gettext("Show tracebacks of errors.")
    'Показывать трассировку ошибок (для отладки).'
    """
    if lang == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)


def translate(text: str, lang: Language) -> str:
    """``text`` in ``lang``: a marked message is rendered again, a plain string is looked up
    as a message id (help texts), anything unknown stays as it is.

    >>> translate("Print the version and exit.", "ru")
    'Показать версию и выйти.'
    >>> translate("a customer's own words", "ru")
    "a customer's own words"
    """
    catalogue = translations(lang)
    if isinstance(text, LazyText):
        return text.render(catalogue)
    return catalogue.gettext(text) if text else text


def choose_language(
    environ: Mapping[str, str] | None = None, config_text: str | None = None
) -> Language:
    """The language to speak: ``LIVEBASE_LANG``, else the ``language:`` key of livebase.yaml
    (its text, when there is a workspace), else the locale (``LC_ALL``, ``LC_MESSAGES``,
    ``LANG``), else English.

    >>> choose_language({"LIVEBASE_LANG": "ru"})
    'ru'
    >>> choose_language({"LANG": "ru_RU.UTF-8"}, "timezone: UTC\\nlanguage: en\\n")
    'en'
    >>> choose_language({"LANG": "ru_RU.UTF-8"})
    'ru'
    >>> choose_language({"LANG": "C.UTF-8"})
    'en'
    """
    env = os.environ if environ is None else environ
    chosen = _known(env.get("LIVEBASE_LANG"))
    if chosen is None and config_text is not None:
        match = _CONFIG_LANGUAGE.search(config_text)
        chosen = _known(match.group("lang")) if match else None
    if chosen is None:
        for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
            if env.get(name):
                chosen = _known(env[name])
                break
    return chosen or "en"


def _known(value: str | None) -> Language | None:
    code = (value or "").strip().lower()[:2]
    for lang in _LANGUAGES:
        if code == lang:
            return lang
    return None
