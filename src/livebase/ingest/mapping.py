"""Which column of a file feeds which store field: by header name, tolerantly, never by position.

>>> from livebase.ingest.presets import PRESETS
>>> m = map_columns(("ID заказа", "Менеджер", "Дата создания", "Статус", "Стоимость, RUB"),
...                 PRESETS["getcourse"], file="orders.csv")
>>> m.fields["amount"], m.attributes
([4], [(1, 'Менеджер')])
>>> m.currency_from_header
'RUB'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from livebase.errors import IngestError, did_you_mean
from livebase.i18n import _l
from livebase.ingest.presets import PRESETS, Preset, normalize_header

__all__ = ["ColumnMapping", "map_columns", "parse_map_option"]

_CURRENCY_IN_HEADER = re.compile(r",\s*([A-Za-z]{3})\s*$")


@dataclass(frozen=True)
class ColumnMapping:
    """Field name → column positions (several when a duplicated header is coalesced)."""

    headers: tuple[str, ...]
    fields: dict[str, list[int]]
    attributes: list[tuple[int, str]]
    """Columns no field claims: (position, attribute name)."""
    currency_from_header: str | None = None
    notes: list[str] = field(default_factory=list)


def parse_map_option(values: list[str], preset: Preset) -> dict[str, str]:
    """``--map "Source column=field"`` options → {source header: field}.

    >>> from livebase.ingest.presets import PRESETS
    >>> parse_map_option(["Total=amount"], PRESETS["generic"])
    {'Total': 'amount'}
    """
    mapping: dict[str, str] = {}
    for raw in values:
        if "=" not in raw:
            raise IngestError(
                _l(
                    "--map '{raw}': expected SOURCE_COLUMN=FIELD, for example --map 'Total=amount'",
                    raw=raw,
                )
            )
        source, target = (part.strip() for part in raw.rsplit("=", 1))
        if target not in preset.field_names:
            raise IngestError(
                _l(
                    "--map '{raw}': unknown field '{field}'{hint}; fields of preset '{preset}' "
                    "are: {fields}",
                    raw=raw,
                    field=target,
                    hint=did_you_mean(target, preset.field_names),
                    preset=preset.name,
                    fields=", ".join(preset.field_names),
                )
            )
        mapping[source] = target
    return mapping


def _describe(headers: tuple[str, ...]) -> str:
    shown = ", ".join(f"'{h}'" for h in headers[:25])
    return shown + (f" … ({len(headers)} columns)" if len(headers) > 25 else "")


def _better_preset(headers: tuple[str, ...], preset: Preset) -> str:
    """A hint naming the other preset whose required columns the file has, matching most."""
    best: tuple[int, Preset] | None = None
    for other in PRESETS.values():
        if other.name == preset.name:
            continue
        required = [f for f in other.fields if f.required]
        if not all(any(f.matches(h) for h in headers) for f in required):
            continue
        matched = sum(any(f.matches(h) for h in headers) for f in other.fields)
        if matched >= max(2, len(required)) and (best is None or matched > best[0]):
            best = (matched, other)
    if best is None:
        return ""
    other = best[1]
    return _l(
        " It looks like a {kind} file for preset '{name}' ({description}): "
        "try 'livebase ingest {kind} FILE --preset {name}'.",
        kind=other.kind,
        name=other.name,
        description=other.description,
    )


def map_columns(
    headers: tuple[str, ...],
    preset: Preset,
    *,
    file: str,
    explicit: dict[str, str] | None = None,
) -> ColumnMapping:
    """Resolve every preset field to the file's columns; name what is missing or ambiguous."""
    explicit = explicit or {}
    normalized = [normalize_header(h) for h in headers]
    claimed: dict[int, str] = {}
    fields: dict[str, list[int]] = {}
    notes: list[str] = []

    for source, target in explicit.items():
        positions = [i for i, n in enumerate(normalized) if n == normalize_header(source)]
        if not positions:
            raise IngestError(
                _l(
                    "--map '{source}={target}': the file has no column '{source}'{hint}; "
                    "its columns are: {columns}",
                    source=source,
                    target=target,
                    hint=did_you_mean(source, headers),
                    columns=_describe(headers),
                ),
                file=file,
            )
        fields[target] = positions[:1]
        claimed[positions[0]] = target

    for spec in preset.fields:
        if spec.name in fields:
            continue
        # aliases in priority order: the first alias that matches any column wins
        for alias in spec.aliases:
            probe = type(spec)(spec.name, spec.type, (alias,), spec.required)
            positions = [i for i, h in enumerate(headers) if i not in claimed and probe.matches(h)]
            if not positions:
                continue
            if len(positions) > 1 and not preset.coalesce_duplicate_headers:
                cols = " and ".join(f"{p + 1}" for p in positions)
                raise IngestError(
                    _l(
                        "duplicated header: '{header}' appears in columns {columns}, so the "
                        "'{field}' field is ambiguous; rename or remove one of them",
                        header=headers[positions[0]],
                        columns=cols,
                        field=spec.name,
                    ),
                    file=file,
                )
            if len(positions) > 1:
                notes.append(
                    f"'{headers[positions[0]]}' appears {len(positions)} times: "
                    "the first non-empty value is used"
                )
            fields[spec.name] = positions
            for p in positions:
                claimed[p] = spec.name
            break

    if not any(name in fields for name in preset.field_names if name != "customer_id"):
        raise IngestError(
            _l(
                "this does not look like a file for preset '{preset}' ({description}): none of "
                "its columns were found. The file's columns are: {columns}. Choose another "
                "--preset, or name the columns with --map SOURCE=FIELD.{better}",
                preset=preset.name,
                description=preset.description,
                columns=_describe(headers),
                better=_better_preset(headers, preset),
            ),
            file=file,
        )
    missing = [s for s in preset.fields if s.required and s.name not in fields]
    if missing:
        spec = missing[0]
        expected = " or ".join(f"'{a}'" for a in spec.aliases[1:4] or spec.aliases)
        raise IngestError(
            _l(
                "missing required column for '{field}' (expected a header such as "
                "{expected}). The file's columns are: {columns}. If it is there under another "
                "name, add --map 'THAT NAME={field}'.{better}",
                field=spec.name,
                expected=expected,
                columns=_describe(headers),
                better=_better_preset(headers, preset),
            ),
            file=file,
        )

    attributes: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for i, header in enumerate(headers):
        if i in claimed:
            continue
        name = header.strip() or f"column {i + 1}"
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name} ({seen[name]})"
        attributes.append((i, name))

    currency = None
    if "amount" in fields:
        match = _CURRENCY_IN_HEADER.search(headers[fields["amount"][0]])
        if match:
            currency = match.group(1).upper()
    return ColumnMapping(tuple(headers), fields, attributes, currency, notes)
