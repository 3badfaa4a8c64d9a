"""The message catalogue: complete for what the source marks and the CLI shows, compiled from
its .po, placeholders intact; marked messages render as the f-strings they replaced."""

from __future__ import annotations

import gettext
import string
from pathlib import Path

import typer.main
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import strategies as st

from livebase.cli import app
from livebase.cli._language import localize_help
from livebase.i18n import DOMAIN, LOCALE_DIR, _l, _nl, joined, translate

ROOT = Path(__file__).resolve().parents[2]
PO = LOCALE_DIR / "ru" / "LC_MESSAGES" / f"{DOMAIN}.po"
MO = PO.with_suffix(".mo")
KEYWORDS = {"_l": None, "_nl": (1, 2), "N_": None}
SAME_IN_BOTH = {
    "debug, info, warning, error.",  # a list of values
    # an f-string help in cli/clv.py: the extractor cannot read it (make it a literal there)
    "PNG to write (default: clv_validation.png in the workspace).",
}


def _catalogue() -> dict[str, object]:
    with PO.open("rb") as f:
        po = read_po(f)
    return {(m.id if isinstance(m.id, str) else m.id[0]): m.string for m in po if m.id}


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_every_marked_message_and_help_text_has_a_russian_translation() -> None:
    found = {
        (message if isinstance(message, str) else message[0])
        for _, _, message, _, _ in extract_from_dir(
            str(ROOT / "src" / "livebase"),
            method_map=[("**.py", "livebase.i18n.extract:extract_livebase")],
            keywords=KEYWORDS,
        )
    }
    assert len(found) > 250  # the help of every command and the marked errors
    catalogue = _catalogue()
    missing = sorted(m for m in found if not catalogue.get(m))
    assert missing == [], f"run 'make messages' and translate: {missing[:5]}"


def test_the_compiled_catalogue_is_the_po_file() -> None:
    with MO.open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    for msgid, msgstr in _catalogue().items():
        if isinstance(msgstr, str):
            assert compiled.gettext(msgid) == msgstr, (
                f"recompile the .mo ('make messages'): {msgid}"
            )
        else:
            assert compiled.ngettext(msgid, "", 5) == msgstr[2]


def test_translations_keep_every_placeholder() -> None:
    for msgid, msgstr in _catalogue().items():
        for text in [msgstr] if isinstance(msgstr, str) else list(msgstr):  # type: ignore[call-overload]
            assert _fields(text) == _fields(msgid), (msgid, text)


def test_every_help_text_of_the_command_line_is_in_the_catalogue() -> None:
    command = typer.main.get_command(app)
    english: list[str] = []

    def walk(cmd: typer.main.click.Command) -> None:  # type: ignore[name-defined]
        english.extend(t for t in (cmd.help, *(getattr(p, "help", None) for p in cmd.params)) if t)
        for sub in getattr(cmd, "commands", {}).values():
            walk(sub)

    walk(command)
    localize_help(command, "ru")
    russian: list[str] = []

    def walk_ru(cmd: typer.main.click.Command) -> None:  # type: ignore[name-defined]
        russian.extend(t for t in (cmd.help, *(getattr(p, "help", None) for p in cmd.params)) if t)
        for sub in getattr(cmd, "commands", {}).values():
            walk_ru(sub)

    walk_ru(command)
    assert len(english) == len(russian) > 200
    untranslated = [e for e, r in zip(english, russian, strict=True) if e == r]
    assert [e for e in untranslated if e not in SAME_IN_BOTH] == []


def test_a_message_in_the_catalogue_renders_in_russian_with_its_values() -> None:
    message = _nl(
        "{n} bad row, first at {first}", "{n} bad rows, first at {first}", 22, first=_l("empty")
    )
    assert str(message) == "22 bad rows, first at empty"
    assert translate(message, "ru") == "22 ошибочные строки, первая — пусто"
    assert translate(_nl("{n} bad row, first at {first}", "x", 1, first="2"), "ru") == (
        "1 ошибочная строка, первая — 2"
    )


_TEXT = st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=20)


@given(
    template=st.lists(st.one_of(_TEXT, st.sampled_from(["{a}", "{b}", "{a!r}", "{b:>4}"]))),
    a=st.one_of(st.integers(), _TEXT),
    b=_TEXT,
)
def test_a_marked_message_is_the_text_the_fstring_gave(
    template: list[str], a: object, b: str
) -> None:
    text = "".join(template)
    marked = _l(text, a=a, b=b)
    assert marked == text.format(a=a, b=b)
    assert translate(marked, "en") == marked  # English is the source: nothing to look up
    assert joined([marked, _l(text, a=b, b=b)], " | ") == f"{marked} | {text.format(a=b, b=b)}"
