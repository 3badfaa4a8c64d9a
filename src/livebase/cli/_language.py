"""The language of this invocation, and ``--help`` said in it.

Chosen without loading the workspace (``--help`` must stay fast): ``LIVEBASE_LANG``, else the
``language:`` key of the workspace's livebase.yaml (``--workspace``, ``LIVEBASE_WORKSPACE``,
or the nearest folder upward with one), else the locale (``LANG``), else English.

Help texts are written in English in the commands; :func:`localize_help` replaces each
command's and option's help with its entry in the catalogue, so the catalogue is the only
place a translation lives.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from livebase.cli._common import DATE_HINT
from livebase.i18n import N_, Language, choose_language, translate

__all__ = ["cli_language", "localize_help"]

CONFIG_FILE = "livebase.yaml"  # livebase.config.CONFIG_FILE, without loading pydantic

_TYPER_TEXTS = {
    "ARGUMENTS_PANEL_TITLE": N_("Arguments"),
    "OPTIONS_PANEL_TITLE": N_("Options"),
    "COMMANDS_PANEL_TITLE": N_("Commands"),
    "ERRORS_PANEL_TITLE": N_("Error"),
    "DEFAULT_STRING": N_("[default: {}]"),
    "ENVVAR_STRING": N_("[env var: {}]"),
    "REQUIRED_LONG_STRING": N_("[required]"),
    "ABORTED_TEXT": N_("Aborted."),
    "RICH_HELP": N_("Try [blue]'{command_path} {help_option}'[/] for help."),
}
"""The texts of Typer's help screen (its module constants), and of Click's --help option."""
_HELP_OPTION = N_("Show this message and exit.")


def _workspace_arg(argv: Sequence[str]) -> str | None:
    for i, word in enumerate(argv):
        if word in ("--workspace", "-w") and i + 1 < len(argv):
            return argv[i + 1]
        if word.startswith("--workspace="):
            return word.split("=", 1)[1]
    return None


def _config_text(argv: Sequence[str], environ: Mapping[str, str], cwd: Path) -> str | None:
    given = _workspace_arg(argv) or environ.get("LIVEBASE_WORKSPACE")
    folders = [Path(given)] if given else [cwd, *cwd.parents]
    for folder in folders:
        try:
            return (folder / CONFIG_FILE).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    return None


def cli_language(
    argv: Sequence[str],
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Language:
    """The language to speak for the command line ``argv`` (see the module's docstring).

    >>> cli_language([], {"LIVEBASE_LANG": "ru"})
    'ru'
    >>> cli_language(["--workspace", "/nowhere"], {"LANG": "en_US.UTF-8"})
    'en'
    """
    env = os.environ if environ is None else environ
    if env.get("LIVEBASE_LANG"):
        return choose_language(env)
    text = _config_text(argv, env, cwd or Path.cwd())
    return choose_language(env, text)


def localize_help(command: Any, lang: Language) -> None:
    """Say every help text of the Click ``command`` tree (commands, options, arguments, the
    panel titles of the help screen) in ``lang``. English leaves everything as written.
    """
    if lang == "en":
        return
    from typer import rich_utils

    for name, text in _TYPER_TEXTS.items():
        if getattr(rich_utils, name, None) == text:  # as Typer wrote it: not yet translated
            setattr(rich_utils, name, translate(text, lang))
    _localize(command, lang)


def _help(text: str, lang: Language) -> str:
    """A help text in ``lang``; a date option's is its help and the date formats, each
    translated."""
    if text.endswith(DATE_HINT) and text != DATE_HINT:
        return translate(text.removesuffix(DATE_HINT), lang) + translate(DATE_HINT, lang)
    return translate(text, lang)


def _localize(command: Any, lang: Language) -> None:
    for attr in ("help", "short_help", "epilog"):
        text = getattr(command, attr, None)
        if isinstance(text, str) and text:
            setattr(command, attr, _help(text, lang))
    for param in command.params:
        text = getattr(param, "help", None)
        if isinstance(text, str) and text:
            param.help = _help(text, lang)
    helper = _help_option(command)
    if helper is not None and helper.help:
        helper.help = translate(helper.help, lang)
    for sub in getattr(command, "commands", {}).values():
        _localize(sub, lang)


def _help_option(command: Any) -> Any:
    """The ``--help`` option Click makes for ``command`` (made now, kept by the command)."""
    from typer import _click

    return command.get_help_option(_click.Context(command, info_name=command.name))
