"""Every error livebase raises on purpose, with the context a user needs to act on it.

The tree::

    LivebaseError                      root: the CLI prints the message, exits 1, no traceback
    ├── ConfigError                    livebase.yaml is wrong: key path, YAML line, suggestion
    ├── WorkspaceError                 no workspace found, or init over an existing one
    ├── StoreError                     the DuckDB store is missing, locked or from a newer version
    │   └── EmptyStoreError            no paid orders yet: nothing to default a date to
    ├── IngestError                    a file cannot be loaded; nothing was written
    │   └── InputValidationError       rows that break a rule: file, row, column, value
    ├── RuleError                      a segment rule or signal expression is invalid
    ├── SegmentError                   segmentation cannot run (no history for a date, …)
    ├── ModelError                     a model cannot be fitted or is missing
    │   └── ConvergenceError           the optimiser stopped without converging
    ├── ExperimentError                an experiment is unknown or its data cannot be read out
    ├── PlaybookError                  a playbook file is wrong (file, line, key) or cannot run
    ├── ChannelError                   a channel cannot be opened or reached: names channels.NAME.key
    ├── DeliveryError                  sending cannot run: a template, consent file or erasure problem
    │   └── TemplateError              a message template is missing, unsafe or uses an unknown name
    └── SyncError                      a CRM sync or push failed; store and watermark unchanged
        └── QuotaError                 the CRM's request quota is spent: says when to retry

Messages say what is wrong, where, and what to do about it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from livebase.i18n import _l, _nl, joined, looked_up

__all__ = [
    "ChannelError",
    "ConfigError",
    "ConvergenceError",
    "DeliveryError",
    "EmptyStoreError",
    "ExperimentError",
    "IngestError",
    "InputValidationError",
    "LivebaseError",
    "ModelError",
    "PlaybookError",
    "QuotaError",
    "RowProblem",
    "RuleError",
    "SegmentError",
    "StoreError",
    "SyncError",
    "TemplateError",
    "WorkspaceError",
    "did_you_mean",
]


def did_you_mean(value: str, candidates: Iterable[str]) -> str:
    """A " — did you mean 'x'?" suffix for the nearest candidate, or "" when none is close.

    >>> did_you_mean("getcorse", ["generic", "getcourse", "cdnow"])
    " — did you mean 'getcourse'?"
    >>> did_you_mean("zzz", ["generic"])
    ''
    """
    close = difflib.get_close_matches(value, list(candidates), n=1, cutoff=0.6)
    return _l(" — did you mean '{name}'?", name=close[0]) if close else ""


class LivebaseError(Exception):
    """Root of every error livebase raises on purpose.

    A message marked with :func:`livebase.i18n._l` can be said in the user's language:

    >>> LivebaseError(_l("file not found")).localized("ru")
    'файл не найден'
    """

    def localized(self, lang: str) -> str:
        """The message in ``lang`` (``en`` or ``ru``); unmarked parts stay in English."""
        from livebase.i18n import translate

        message = self.args[0] if len(self.args) == 1 else None
        if not isinstance(message, str) or lang not in ("en", "ru"):
            return str(self)
        return translate(message, "ru" if lang == "ru" else "en")


class ConfigError(LivebaseError):
    """livebase.yaml (or a value given for it) is invalid.

    Carries the dotted key path and, when known, the file and 1-based line of the key.
    """

    def __init__(
        self, message: str, *, key: str = "", line: int | None = None, file: str | None = None
    ) -> None:
        self.key = key
        self.line = line
        self.file = file
        where: str = key
        if line is not None:
            where = (
                _l("{key} (line {line})", key=key, line=line)
                if key
                else _l("line {line}", line=line)
            )
        text = _l("{where}: {message}", where=where, message=message) if where else message
        super().__init__(_l("{file}: {message}", file=file, message=text) if file else text)


class WorkspaceError(LivebaseError):
    """No workspace where one was expected, or one already where a new one was asked for."""


class StoreError(LivebaseError):
    """The store cannot be opened or migrated."""


class EmptyStoreError(StoreError):
    """The store has no paid orders, so there is no date to default to and nothing to compute."""


class IngestError(LivebaseError):
    """A file cannot be loaded. The store is left exactly as it was."""

    def __init__(self, message: str, *, file: str | None = None) -> None:
        self.file = file
        super().__init__(_l("{file}: {message}", file=file, message=message) if file else message)


@dataclass(frozen=True)
class RowProblem:
    """One offending cell: the row as a spreadsheet numbers it (header = row 1)."""

    row: int
    column: str
    value: str | None
    problem: str

    def describe(self) -> str:
        shown = _l("empty") if self.value is None or self.value == "" else repr(self.value)
        return _l(
            "row {row}, column '{column}': {value} — {problem}",
            row=self.row,
            column=self.column,
            value=shown,
            problem=looked_up(self.problem),
        )


class InputValidationError(IngestError):
    """Rows of a file break a rule. Lists the first offending rows; nothing was loaded."""

    def __init__(
        self,
        file: str,
        problems: Sequence[RowProblem],
        *,
        total: int | None = None,
        hint: str = _l("fix the file, or load the valid rows with --skip-bad-rows"),
    ) -> None:
        self.problems = list(problems)
        self.total = total if total is not None else len(self.problems)
        first = self.problems[0]
        lines: list[str] = [
            _nl(
                "{n} bad row, first at {first}",
                "{n} bad rows, first at {first}",
                self.total,
                first=first.describe(),
            )
        ]
        if len(self.problems) > 1:
            lines += [joined(["", p.describe()], "  ") for p in self.problems[:10]]
            shown = min(10, len(self.problems))
            if self.total > shown:
                lines.append(joined(["", _l("… and {count} more", count=self.total - shown)], "  "))
        lines.append(_l("Nothing was loaded: {hint}.", hint=hint))
        super().__init__(joined(lines, "\n"), file=file)


class RuleError(LivebaseError):
    """A user expression (segment rule, signal) is invalid; names the rule and YAML line."""

    def __init__(self, message: str, *, rule: str = "", line: int | None = None) -> None:
        self.rule = rule
        self.line = line
        where = _l("rule '{rule}'", rule=rule) if rule else _l("rule")
        if line is not None:
            where = _l("{where} (line {line})", where=where, line=line)
        super().__init__(_l("{where}: {message}", where=where, message=message))


class SegmentError(LivebaseError):
    """Segmentation cannot run or a segment/scheme does not exist."""


class ModelError(LivebaseError):
    """A model cannot be fitted, or predictions were asked of a model that does not exist."""


class ConvergenceError(ModelError):
    """The optimiser did not converge; carries its final state."""

    def __init__(self, message: str, *, state: dict[str, object] | None = None) -> None:
        self.state = dict(state or {})
        detail = ", ".join(f"{k}={v}" for k, v in self.state.items())
        super().__init__(f"{message} ({detail})" if detail else message)


class ParametersAtLimitError(ConvergenceError):
    """An unconstrained fit drove parameters to 0 or infinity (the data do not identify the
    model); ``params`` holds where the optimiser stopped."""

    def __init__(
        self, message: str, *, params: dict[str, float], state: dict[str, object] | None = None
    ) -> None:
        self.params = dict(params)
        super().__init__(message, state=state)


class ExperimentError(LivebaseError):
    """An experiment is unknown, or its data cannot give a readout."""


class PlaybookError(ConfigError):
    """A playbook file (``playbooks/NAME.yaml``) is invalid, names an unknown playbook, channel
    or segment, or a playbook cannot be planned; names the file, key and YAML line."""


class ChannelError(LivebaseError):
    """A channel cannot be opened, authenticated or reached.

    Carries the channel name and the config key to fix (``channels.email.host``).
    """

    def __init__(self, message: str, *, channel: str = "", key: str = "") -> None:
        self.channel = channel
        self.key = key
        where = (
            f"channels.{channel}.{key}"
            if channel and key
            else (f"channel '{channel}'" if channel else "")
        )
        super().__init__(f"{where}: {message}" if where else message)


class DeliveryError(LivebaseError):
    """Sending, consent import or erasure cannot run; the message says what to fix."""


class TemplateError(DeliveryError):
    """A message template is missing, does not parse, or uses a name the context lacks.

    Carries the template name and, when known, the file and line.
    """

    def __init__(
        self, message: str, *, template: str = "", file: str | None = None, line: int | None = None
    ) -> None:
        self.template = template
        self.file = file
        self.line = line
        where = file or (f"template '{template}'" if template else "")
        if line is not None:
            where += f", line {line}"
        super().__init__(f"{where}: {message}" if where else message)


class SyncError(LivebaseError):
    """A sync with a CRM (GetCourse) or a push to it failed.

    ``reason`` is a stable code: ``wrong_key``, ``no_api_access``, ``quota``, ``not_ready``,
    ``busy``, ``malformed``, ``timeout``, ``network``, ``http``, ``api``. The analytics store
    and the object's watermark are as they were before the failing step.
    """

    def __init__(self, message: str, *, reason: str = "api", source: str = "") -> None:
        self.reason = reason
        self.source = source
        super().__init__(message)


class QuotaError(SyncError):
    """The CRM's export quota (or livebase's request budget) is spent; ``retry_at`` says when
    the next sync can run."""

    def __init__(self, message: str, *, retry_at: datetime, source: str = "") -> None:
        self.retry_at = retry_at
        super().__init__(message, reason="quota", source=source)
