"""livebase.yaml: pydantic models, loading with line numbers, errors that say where and what.

A config error names the dotted key path, the YAML line and, for an unknown name, the nearest
valid one::

    livebase.yaml: ingest.orders.preset (line 12): unknown preset 'getcorse' — did you mean 'getcourse'?

>>> cfg = parse_config("name: demo\\ningest:\\n  orders:\\n    preset: getcourse\\n")
>>> cfg.ingest.orders.preset
'getcourse'
"""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from livebase.channels.settings import ChannelSettings
from livebase.connectors.settings import SyncSettings
from livebase.errors import ConfigError, did_you_mean
from livebase.i18n import LazyText, _l, _nl, joined
from livebase.measure.settings import LearnSettings
from livebase.models.settings import ScenarioList
from livebase.ops.settings import OpsSettings
from livebase.orchestrate.settings import PolicySettings
from livebase.segments.settings import FeaturesSettings, SegmentsSettings
from livebase.store.settings import EngineSettings
from livebase.web.settings import ServiceSettings

__all__ = [
    "CONFIG_FILE",
    "DatesConfig",
    "IngestConfig",
    "LivebaseConfig",
    "OrdersIngestConfig",
    "RevenueConfig",
    "config_schema",
    "load_config",
    "parse_config",
]

CONFIG_FILE = "livebase.yaml"

StoreStatus = Literal["paid", "partially_paid", "pending", "cancelled", "refunded"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatesConfig(_Section):
    """Plausible range of dates in loaded files; a date outside it rejects the row."""

    min: date = date(1990, 1, 1)
    """Earliest plausible date."""
    max_days_after_load: Annotated[int, Field(ge=0)] = 1
    """How many days after the load a date may lie (time zones, clocks ahead)."""
    day_first: bool = True
    """Read ambiguous dates like 03/04/2026 as day/month (Russian and European exports)."""


class RevenueConfig(_Section):
    """How orders count toward revenue (applied when a file is loaded)."""

    date: Literal["paid_at", "created_at"] = "paid_at"
    """The date that counts: the payment date (falls back to creation when a paid order has none)."""
    partially_paid: Literal["paid_amount", "nothing"] = "paid_amount"
    """A partially paid order counts what was paid, or nothing at all."""
    return_requested: Literal["paid", "refunded"] = "paid"
    """An order awaiting a return ('Ожидаем возврата') still counts as paid, or as refunded."""


class OrdersIngestConfig(_Section):
    preset: str = "generic"
    """Default preset for 'livebase ingest orders' (generic, getcourse, cdnow)."""
    statuses: dict[str, StoreStatus] = Field(default_factory=dict)
    """Extra or overriding status labels/codes → paid | partially_paid | pending | cancelled | refunded."""
    currency: str | None = None
    """Currency when the file has none (default: the workspace currency)."""

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str) -> str:
        from livebase.ingest.presets import PRESETS

        known = sorted(name for name, p in PRESETS.items() if p.kind == "orders")
        if value not in known:
            raise ValueError(
                _l(
                    "unknown preset '{name}'{hint} (valid: {known})",
                    name=value,
                    hint=did_you_mean(value, known),
                    known=", ".join(known),
                )
            )
        return value


class EntityIngestConfig(_Section):
    preset: str
    """Default preset for this kind of file."""


class IngestConfig(_Section):
    orders: OrdersIngestConfig = OrdersIngestConfig()
    customers: EntityIngestConfig = EntityIngestConfig(preset="generic-customers")
    events: EntityIngestConfig = EntityIngestConfig(preset="events")
    revenue: RevenueConfig = RevenueConfig()
    dates: DatesConfig = DatesConfig()
    decimal: Literal["auto", "comma", "point"] = "auto"
    """Decimal separator of amounts: sniffed per file, or fixed."""
    memory_limit: str = "2GB"
    """Memory DuckDB may use while loading; bigger files spill to the store's temp folder, so
    the peak stays flat whatever the file size (DuckDB syntax: 512MB, 2GB, …)."""


class LivebaseConfig(_Section):
    """The whole livebase.yaml."""

    version: Literal[1] = 1
    name: str = "workspace"
    language: Literal["en", "ru"] = "en"
    """Language of reports and segment names."""
    currency: str = "USD"
    """Currency of amounts when a file does not say."""
    timezone: str = "UTC"
    """The shop's time zone: where 'today' starts and ends."""
    ingest: IngestConfig = IngestConfig()
    features: FeaturesSettings = Field(default_factory=lambda: FeaturesSettings.model_validate({}))
    """Per-customer features as of a date, and signals over product events (RFM+)."""
    segments: SegmentsSettings = Field(default_factory=SegmentsSettings)
    """Segment schemes (quantile, A/B/C grid, named map, rules, jobs) and alerts."""
    engine: EngineSettings = Field(default_factory=lambda: EngineSettings.model_validate({}))
    """Which engine runs the segmentation (duckdb, spark) and its limits."""
    ops: OpsSettings = Field(default_factory=OpsSettings)
    """The operational store (consents, journeys, outbox, send ledger, live status): SQLite
    ``ops.sqlite`` in the workspace by default, PostgreSQL with ``ops.url``."""
    policy: PolicySettings = Field(default_factory=PolicySettings)
    """Caps, quiet hours, stop rules and the global holdout every marketing playbook obeys."""
    channels: dict[str, ChannelSettings] = Field(default_factory=dict)
    """How each channel sends and what one message costs (secrets only by *_env names)."""
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    """``livebase serve``: address and the public URL of tracking and unsubscribe links."""
    learn: LearnSettings = Field(default_factory=LearnSettings)
    """Playbook readouts: the margin a paid step must earn back, the smallest arm read out,
    the interval level."""
    sync: SyncSettings = Field(default_factory=SyncSettings)
    """CRM connectors (GetCourse): account, the key's secret name, objects, request budget."""
    scenarios: ScenarioList = Field(default_factory=list)
    """Scenarios ranked by `livebase priorities`: name, target (segment or rule),
    expected_uplift, trigger_strength, effort, optional experiment."""


# ---------------------------------------------------------------------------------------------
# Loading with line numbers


def _line_of(node: Any, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the deepest key of ``loc`` that exists in the YAML tree."""
    line: int | None = None
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
        else:
            break
    return line


def _parent_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The valid keys at the level where ``loc`` ends (for "did you mean")."""
    import typing

    current: Any = model
    for part in loc[:-1]:
        container = typing.get_origin(current)
        if container in (dict, list):  # a value of a mapping or list: look inside
            current = typing.get_args(current)[-1]
            continue
        fields = getattr(current, "model_fields", None)
        if fields is None or part not in fields:
            return []
        current = fields[part].annotation
    fields = getattr(current, "model_fields", None)
    return [info.alias or name for name, info in fields.items()] if fields else []


def _to_plain(node: Any) -> Any:
    if isinstance(node, CommentedMap):
        return {str(k): _to_plain(v) for k, v in node.items()}
    if isinstance(node, CommentedSeq):
        return [_to_plain(v) for v in node]
    return node


def parse_config(text: str, *, file: str | None = None) -> LivebaseConfig:
    """Validate the YAML ``text`` of a livebase.yaml; raises ConfigError naming key and line."""
    yaml = YAML(typ="rt")
    try:
        tree = yaml.load(io.StringIO(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(
            _l("not valid YAML: {problem}", problem=exc.problem), line=line, file=file
        ) from exc
    if tree is None:
        tree = CommentedMap()
    if not isinstance(tree, CommentedMap):
        raise ConfigError(_l("the file must be a mapping of keys (name:, ingest:, …)"), file=file)
    try:
        config = LivebaseConfig.model_validate(_to_plain(tree))
    except ValidationError as exc:
        problems: list[tuple[str, int | None, str]] = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            key = ".".join(str(p) for p in loc)
            line = _line_of(tree, loc)
            msg: str
            if error["type"] == "extra_forbidden":
                valid = _parent_keys(LivebaseConfig, loc)
                hint = did_you_mean(str(loc[-1]), valid)
                msg = (
                    _l(
                        "unknown key '{key}'{hint} (valid here: {valid})",
                        key=loc[-1],
                        hint=hint,
                        valid=", ".join(valid),
                    )
                    if valid
                    else _l("unknown key '{key}'{hint}", key=loc[-1], hint=hint)
                )
            elif error["type"] == "literal_error":
                expected = error.get("ctx", {}).get("expected", "")
                got = error.get("input")
                hint = ""
                if isinstance(got, str):
                    options = [o.strip(" '") for o in str(expected).replace(" or ", ",").split(",")]
                    hint = did_you_mean(got, options)
                msg = _l(
                    "invalid value '{value}'{hint}; valid values are: {expected}",
                    value=got,
                    hint=hint,
                    expected=expected,
                )
            else:
                # a validator's own message, marked for translation, when it raised one
                raised = error.get("ctx", {}).get("error")
                marked = raised.args[0] if isinstance(raised, ValueError) and raised.args else None
                msg = (
                    marked
                    if isinstance(marked, LazyText)
                    else str(error["msg"]).removeprefix("Value error, ")
                )
            problems.append((key, line, msg))
        if len(problems) == 1:
            key, line, msg = problems[0]
            raise ConfigError(msg, key=key, line=line, file=file) from None
        listed = joined([ConfigError(m, key=k, line=n).args[0] for k, n, m in problems], "\n  ")
        raise ConfigError(
            _nl(
                "{n} problem:\n  {problems}",
                "{n} problems:\n  {problems}",
                len(problems),
                problems=listed,
            ),
            file=file,
        ) from None
    # segment rules depend on the signals declared beside them: checked once both are valid
    from livebase.segments.names import check_segment_rules
    from livebase.segments.settings import yaml_lines

    check_segment_rules(config.features, config.segments, yaml_lines(text))
    return config


def load_config(path: Path) -> LivebaseConfig:
    """Read and validate the livebase.yaml at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(_l("file not found"), file=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            _l("not UTF-8 text (byte {byte}): save livebase.yaml as UTF-8", byte=exc.start),
            file=str(path),
        ) from None
    return parse_config(text, file=str(path))


def config_schema() -> str:
    """The JSON Schema of livebase.yaml, for editors (YAML language server, VS Code).

    >>> '"LivebaseConfig"' in config_schema()
    True
    """
    return json.dumps(LivebaseConfig.model_json_schema(), indent=2, ensure_ascii=False)
