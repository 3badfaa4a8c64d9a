"""Playbook files: errors name the file, key and line with "did you mean"; templates are valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from livebase.config import parse_config
from livebase.errors import PlaybookError
from livebase.orchestrate.loading import check_playbooks, find_playbook, load_playbooks
from livebase.workspace import template_text

WINBACK = """\
name: winback-60
trigger: {inactivity_days: 60}
audience:
  segments: {named: ["At Risk"]}
  where: "monetary >= 5000"
steps:
  - {id: email, channel: email}
  - {id: push, after_days: 4, channel: push, only_if: {not_opened: email}}
"""


def _write(folder: Path, text: str, name: str = "winback-60.yaml") -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _config():  # type: ignore[no-untyped-def]
    return parse_config("name: t\nchannels:\n  email: {cost: 0.05}\n  push: {cost: 0}\n")


def test_a_valid_playbook_loads_with_its_lines(tmp_path: Path) -> None:
    _write(tmp_path, WINBACK)
    (item,) = load_playbooks(tmp_path)
    check_playbooks(_config(), [item])
    assert item.playbook.steps[1].only_if is not None
    assert item.line("steps.1") == 8


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("after_days: 4", "after_dys: 4"), "steps.1.after_dys (line 8): unknown key "
         "'after_dys' — did you mean 'after_days'?"),
        (("not_opened: email", "not_opened: emial"), "steps.1.only_if (line 8)"),
        (("inactivity_days: 60", "inactivity_days: -1"), "trigger.inactivity_days (line 2)"),
        (("{inactivity_days: 60}", "{inactivity_days: 60, event: x}"),
         "give exactly one trigger"),
    ],
)  # fmt: skip
def test_errors_name_file_key_and_line(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = _write(tmp_path, WINBACK.replace(*change))
    with pytest.raises(PlaybookError) as caught:
        load_playbooks(tmp_path)
    assert str(caught.value).startswith(str(path))
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("channel: push", "channel: psh"),
         "steps.1.channel (line 8): unknown channel 'psh' — did you mean 'push'?"),
        (("named:", "nemed:"),
         "audience.segments.nemed (line 4): unknown segment scheme 'nemed' — did you mean "
         "'named'?"),
        (("monetary >= 5000", "monetery >= 5000"),
         "audience.where (line 5): unknown column 'monetery' — did you mean 'monetary'?"),
    ],
)  # fmt: skip
def test_check_against_the_workspace(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    _write(tmp_path, WINBACK.replace(*change))
    with pytest.raises(PlaybookError, match=None) as caught:
        check_playbooks(_config(), load_playbooks(tmp_path))
    assert message in str(caught.value)


def test_unknown_playbook_and_duplicate_names(tmp_path: Path) -> None:
    _write(tmp_path, WINBACK)
    with pytest.raises(PlaybookError, match="did you mean 'winback-60'"):
        find_playbook(load_playbooks(tmp_path), "winback-6")
    _write(tmp_path, WINBACK, "copy.yaml")
    with pytest.raises(PlaybookError, match="also defined in"):
        load_playbooks(tmp_path)


@pytest.mark.parametrize("template", ["school", "ecommerce"])
def test_the_templates_ship_valid_playbooks_and_policy(template: str) -> None:
    config = parse_config(template_text(template, "t"))
    folder = Path(__file__).resolve().parents[2] / "src/livebase/templates/playbooks" / template
    loaded = load_playbooks(folder)
    check_playbooks(config, loaded)
    assert len(loaded) >= 5
    assert config.policy.caps and config.policy.quiet_hours is not None
