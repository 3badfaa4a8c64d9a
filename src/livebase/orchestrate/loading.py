"""Reading ``playbooks/*.yaml`` and checking them against livebase.yaml.

Every error names the file, the dotted key and its YAML line, with "did you mean" for unknown
keys, channels, schemes and rule columns::

    playbooks/winback-60.yaml: steps.1.chanel (line 18): unknown key 'chanel' — did you mean
    'channel'?

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "w.yaml").write_text(
...     "name: w\\ntrigger: {inactivity_days: 60}\\nsteps:\\n  - {id: e, chanel: email}\\n")
>>> try:
...     load_playbooks(folder)
... except PlaybookError as exc:
...     print(str(exc).split(": ", 1)[1])
steps.0.chanel (line 4): unknown key 'chanel' — did you mean 'channel'? (valid here: id, channel, template, offer, after_days, only_if, holdout, variants) (and 1 more problem)
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError

from livebase.config import LivebaseConfig, _line_of, _parent_keys, _to_plain
from livebase.errors import PlaybookError, RuleError, did_you_mean
from livebase.orchestrate.frame import rule_columns
from livebase.orchestrate.playbook import Playbook

__all__ = [
    "PLAYBOOKS_DIR",
    "LoadedPlaybook",
    "check_playbooks",
    "find_playbook",
    "load_playbooks",
    "parse_playbook",
]

PLAYBOOKS_DIR = "playbooks"


@dataclass(frozen=True)
class LoadedPlaybook:
    """A validated playbook, the file it came from and the line of every key."""

    playbook: Playbook
    file: str
    lines: Mapping[str, int] = field(default_factory=dict)

    def line(self, key: str) -> int | None:
        return self.lines.get(key)


def parse_playbook(text: str, *, file: str) -> LoadedPlaybook:
    """Validate one playbook's YAML ``text``; PlaybookError names file, key and line."""
    yaml = YAML(typ="rt")
    try:
        tree = yaml.load(io.StringIO(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise PlaybookError(f"not valid YAML: {exc.problem}", line=line, file=file) from None
    if not isinstance(tree, CommentedMap):
        raise PlaybookError("a playbook is a mapping of keys (name:, trigger:, steps:…)", file=file)
    try:
        playbook = Playbook.model_validate(_to_plain(tree))
    except ValidationError as exc:
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        error = errors[0]
        loc = tuple(error["loc"])
        found = re.match(r"Value error, step (\d+): ", str(error["msg"]))
        if loc == ("steps",) and found:  # a problem between steps: point at the step
            index = int(found.group(1))
            loc = ("steps", index, "only_if" if "only_if" in str(error["msg"]) else "id")
            error = {**error, "msg": str(error["msg"]).replace(found.group(0), "")}
        key = ".".join(str(p) for p in loc)
        line = _line_of(tree, loc)
        if error["type"] == "extra_forbidden":
            valid = _parent_keys(Playbook, loc)
            msg = f"unknown key '{loc[-1]}'{did_you_mean(str(loc[-1]), valid)}"
            if valid:
                msg += f" (valid here: {', '.join(valid)})"
        elif error["type"] == "missing":
            msg = "this key is required"
        else:
            msg = str(error["msg"]).removeprefix("Value error, ")
        more = len(exc.errors()) - 1
        if more:
            msg += f" (and {more} more problem{'s' if more > 1 else ''})"
        raise PlaybookError(msg, key=key, line=line, file=file) from None
    from livebase.segments.settings import yaml_lines

    return LoadedPlaybook(playbook, file, yaml_lines(text))


def load_playbooks(folder: Path) -> list[LoadedPlaybook]:
    """Every ``*.yaml`` of ``folder`` (sorted by name); an empty list when there is none.

    Two files with the same ``name:`` are an error naming both.
    """
    if not folder.is_dir():
        return []
    loaded: list[LoadedPlaybook] = []
    names: dict[str, str] = {}
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise PlaybookError("not UTF-8 text: save it as UTF-8", file=str(path)) from None
        item = parse_playbook(text, file=str(path))
        name = item.playbook.name
        if name in names:
            raise PlaybookError(
                f"playbook '{name}' is also defined in {names[name]}: names must be unique",
                key="name",
                line=item.line("name"),
                file=str(path),
            )
        names[name] = str(path)
        loaded.append(item)
    return loaded


def find_playbook(loaded: Sequence[LoadedPlaybook], name: str) -> LoadedPlaybook:
    """The playbook called ``name``; PlaybookError with "did you mean" otherwise."""
    for item in loaded:
        if item.playbook.name == name:
            return item
    known = [i.playbook.name for i in loaded]
    raise PlaybookError(
        f"no playbook '{name}'{did_you_mean(name, known)}; "
        f"known: {', '.join(known) or 'none (add YAML files to playbooks/)'}"
    )


def _check_segments(
    item: LoadedPlaybook, key: str, mapping: Mapping[str, list[str]] | None, schemes: list[str]
) -> None:
    for scheme in mapping or {}:
        if scheme not in schemes:
            raise PlaybookError(
                f"unknown segment scheme '{scheme}'{did_you_mean(scheme, schemes)} "
                f"(schemes of livebase.yaml: {', '.join(schemes)})",
                key=f"{key}.{scheme}",
                line=item.line(f"{key}.{scheme}") or item.line(key),
                file=item.file,
            )


def _check_rule(item: LoadedPlaybook, key: str, condition: str, columns: list[str]) -> None:
    from livebase.segments.rules import check_condition

    try:
        check_condition(condition, columns, rule=key)
    except RuleError as exc:
        message = str(exc).split(": ", 1)[1] if ": " in str(exc) else str(exc)
        raise PlaybookError(message, key=key, line=item.line(key), file=item.file) from None


def check_playbooks(config: LivebaseConfig, loaded: Sequence[LoadedPlaybook]) -> None:
    """Check playbooks against the workspace: channels, schemes, rule columns, stop rules.

    Raises PlaybookError (file, key, line, "did you mean") at the first problem.
    """
    channels = sorted(config.channels)
    schemes = list(config.segments.schemes)
    columns = rule_columns(config)
    for index, rule in enumerate(config.policy.stop_rules):
        try:
            from livebase.segments.rules import check_condition

            check_condition(rule, columns, rule=f"policy.stop_rules.{index}")
        except RuleError as exc:
            raise PlaybookError(str(exc), key=f"policy.stop_rules.{index}") from None
    for cap_index, cap in enumerate(config.policy.caps):
        if cap.channel != "any" and cap.channel not in channels:
            raise PlaybookError(
                f"cap on unknown channel '{cap.channel}'{did_you_mean(cap.channel, channels)}",
                key=f"policy.caps.{cap_index}.channel",
            )
    for item in loaded:
        pb = item.playbook
        for i, step in enumerate(pb.steps):
            if step.channel not in channels:
                key = f"steps.{i}.channel"
                raise PlaybookError(
                    f"unknown channel '{step.channel}'{did_you_mean(step.channel, channels)} "
                    f"(channels of livebase.yaml: {', '.join(channels) or 'none'})",
                    key=key,
                    line=item.line(key),
                    file=item.file,
                )
            if step.variants is not None and step.variants.scheme not in schemes:
                key = f"steps.{i}.variants.scheme"
                raise PlaybookError(
                    f"unknown segment scheme '{step.variants.scheme}'"
                    f"{did_you_mean(step.variants.scheme, schemes)}",
                    key=key,
                    line=item.line(key),
                    file=item.file,
                )
        _check_segments(item, "audience.segments", pb.audience.segments, schemes)
        _check_segments(item, "trigger.segment_entry", pb.trigger.segment_entry, schemes)
        _check_segments(item, "trigger.segment_exit", pb.trigger.segment_exit, schemes)
        if pb.audience.where:
            _check_rule(item, "audience.where", pb.audience.where, columns)
        if pb.audience.exclude is not None:
            _check_segments(
                item, "audience.exclude.segments", pb.audience.exclude.segments, schemes
            )
            if pb.audience.exclude.where:
                _check_rule(item, "audience.exclude.where", pb.audience.exclude.where, columns)
        for i, rule in enumerate(pb.stop_rules):
            _check_rule(item, f"stop_rules.{i}", rule, columns)
