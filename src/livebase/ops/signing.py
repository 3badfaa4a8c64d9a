"""Rotation of the link-signing key: new links are signed with the new key, links already sent
keep working for ``service.old_link_days`` days, then the old key is dropped.

The secrets file keeps, beside ``signing_keys`` (newest first), ``signing_keys_retired``: for each
old key, when it was replaced (``"id@ISO time"``).

>>> import tempfile, pathlib
>>> from datetime import UTC, datetime, timedelta
>>> from livebase.secrets import ensure_secrets
>>> secrets = ensure_secrets(pathlib.Path(tempfile.mkdtemp()))
>>> t0 = datetime(2026, 7, 1, tzinfo=UTC)
>>> rotated = rotate_signing(secrets, now=t0, old_link_days=90)
>>> len(active_signing_keys(rotated, now=t0 + timedelta(days=89), old_link_days=90))
2
>>> len(active_signing_keys(rotated, now=t0 + timedelta(days=91), old_link_days=90))
1
"""

from __future__ import annotations

from datetime import datetime, timedelta

from livebase.secrets import Secrets

__all__ = ["active_signing_keys", "rotate_signing"]

_RETIRED = "signing_keys_retired"


def _retired(secrets: Secrets) -> dict[str, datetime]:
    out: dict[str, datetime] = {}
    for entry in secrets.values.get(_RETIRED) or []:
        key_id, _, when = str(entry).partition("@")
        try:
            out[key_id] = datetime.fromisoformat(when)
        except ValueError:
            continue
    return out


def active_signing_keys(
    secrets: Secrets, *, now: datetime, old_link_days: int
) -> list[tuple[str, bytes]]:
    """The keys that verify links now: the newest, and old ones retired less than
    ``old_link_days`` ago (newest first)."""
    keys = secrets.signing_keys()
    retired = _retired(secrets)
    limit = timedelta(days=old_link_days)
    return [keys[0]] + [
        (key_id, key)
        for key_id, key in keys[1:]
        if key_id in retired and now - retired[key_id] < limit
    ]


def rotate_signing(secrets: Secrets, *, now: datetime, old_link_days: int) -> Secrets:
    """Put a new signing key first; drop old keys retired more than ``old_link_days`` ago."""
    current = secrets.signing_keys()[0][0] if secrets.values.get("signing_keys") else None
    rotated = secrets.rotate_signing_key(keep=1000)
    retired = _retired(secrets)
    if current is not None:
        retired[current] = now
    limit = timedelta(days=old_link_days)
    keep_ids = {k for k, when in retired.items() if now - when < limit}
    entries = [str(v) for v in rotated.values["signing_keys"]]
    kept = [entries[0]] + [e for e in entries[1:] if e.partition(":")[0] in keep_ids]
    return rotated.with_values(
        signing_keys=kept,
        **{_RETIRED: [f"{k}@{when.isoformat()}" for k, when in retired.items() if k in keep_ids]},
    )
