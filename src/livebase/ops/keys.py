"""API keys: created once, shown once, stored as argon2 hashes, checked per scope.

A key reads ``lb_<id>_<secret>``: the id is public (it names the key in lists and logs), the
secret is 32 random bytes (URL-safe, so a key can also sit in a webhook URL). Only the
argon2id hash of the whole key is stored. Scopes:

- ``events:write``: ``POST /v1/events``
- ``hooks``: the webhook URLs ``/v1/hooks/getcourse/{key}`` and ``/v1/hooks/{channel}/{key}``
- ``customers:read``: ``GET /v1/customers/{id}``
- ``dashboard``: the dashboard's API

>>> import tempfile, pathlib
>>> from datetime import UTC, datetime
>>> from livebase.ops.store import OpsStore, sqlite_url
>>> ops = OpsStore.open(sqlite_url(pathlib.Path(tempfile.mkdtemp()) / "ops.sqlite"))
>>> now = datetime(2026, 7, 1, tzinfo=UTC)
>>> created = create_key(ops, "getcourse", ["events:write"], now=now)
>>> created.token.startswith("lb_" + created.id + "_")
True
>>> authenticate(ops, created.token, "events:write", now=now).name
'getcourse'
>>> authenticate(ops, created.token, "customers:read", now=now)
Traceback (most recent call last):
...
livebase.ops.keys.ScopeMissing: key getcourse lacks the scope customers:read: create a key with --scope customers:read
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as _random
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

import sqlalchemy as sa

from livebase.errors import LivebaseError
from livebase.ops.passwords import hash_secret, verify_secret
from livebase.ops.store import OpsStore
from livebase.ops.tables import API_KEYS

__all__ = [
    "SCOPES",
    "ApiKey",
    "CreatedKey",
    "KeyError_",
    "KeyNotValid",
    "Scope",
    "ScopeMissing",
    "authenticate",
    "create_key",
    "list_keys",
    "revoke_key",
]

Scope = Literal["events:write", "hooks", "customers:read", "dashboard"]
SCOPES: tuple[str, ...] = get_args(Scope)


class KeyError_(LivebaseError):
    """An API key problem (unknown scope, no such key)."""


class KeyNotValid(KeyError_):
    """The presented key is malformed, unknown, revoked or does not match its hash."""


class ScopeMissing(KeyError_):
    """The key is valid but lacks the scope the endpoint needs."""

    def __init__(self, name: str, scope: str) -> None:
        self.name = name
        self.scope = scope
        super().__init__(f"key {name} lacks the scope {scope}: create a key with --scope {scope}")


@dataclass(frozen=True)
class ApiKey:
    """A stored key, without its secret."""

    id: str
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True)
class CreatedKey:
    """A new key: ``token`` is shown once and never stored."""

    id: str
    name: str
    scopes: tuple[str, ...]
    token: str


def _check_scopes(scopes: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    from livebase.errors import did_you_mean

    if not scopes:
        raise KeyError_(f"a key needs at least one scope: one of {', '.join(SCOPES)}")
    for scope in scopes:
        if scope not in SCOPES:
            raise KeyError_(
                f"unknown scope '{scope}'{did_you_mean(scope, SCOPES)}; scopes are "
                f"{', '.join(SCOPES)}"
            )
    return tuple(dict.fromkeys(scopes))


def create_key(
    ops: OpsStore, name: str, scopes: list[str] | tuple[str, ...], *, now: datetime
) -> CreatedKey:
    """Create a key with ``scopes``; the returned token is the only copy of the secret."""
    checked = _check_scopes(scopes)
    if not name.strip():
        raise KeyError_("a key needs a name (who uses it: getcourse, crm, site…)")
    key_id = _random.token_hex(5)
    token = f"lb_{key_id}_{_random.token_urlsafe(32)}"
    with ops.begin() as con:
        con.execute(
            API_KEYS.insert().values(
                id=key_id,
                name=name.strip(),
                secret_hash=hash_secret(token),
                scopes=" ".join(checked),
                created_at=now,
            )
        )
    return CreatedKey(key_id, name.strip(), checked, token)


def _row_to_key(row: sa.Row[tuple[object, ...]]) -> ApiKey:
    m = row._mapping
    return ApiKey(
        id=m["id"],
        name=m["name"],
        scopes=tuple(str(m["scopes"]).split()),
        created_at=m["created_at"],
        revoked_at=m["revoked_at"],
        last_used_at=m["last_used_at"],
    )


def list_keys(ops: OpsStore) -> list[ApiKey]:
    """Every key, oldest first (revoked ones too, with their revocation time)."""
    with ops.read() as con:
        rows = con.execute(sa.select(API_KEYS).order_by(API_KEYS.c.created_at, API_KEYS.c.id))
        return [_row_to_key(r) for r in rows]


def revoke_key(ops: OpsStore, key_id: str, *, now: datetime) -> ApiKey:
    """Revoke the key ``key_id`` (its public id, or the whole token): effective at once."""
    if key_id.startswith("lb_"):
        key_id = key_id.split("_", 2)[1] if key_id.count("_") >= 2 else key_id
    with ops.begin() as con:
        row = con.execute(sa.select(API_KEYS).where(API_KEYS.c.id == key_id)).first()
        if row is None:
            raise KeyError_(f"no key with id {key_id}: 'livebase keys list' shows the ids")
        if row._mapping["revoked_at"] is None:
            con.execute(API_KEYS.update().where(API_KEYS.c.id == key_id).values(revoked_at=now))
        row = con.execute(sa.select(API_KEYS).where(API_KEYS.c.id == key_id)).one()
    return _row_to_key(row)


# Argon2 costs tens of milliseconds per check: a process remembers, per key, the SHA-256 of the
# token it already verified against the stored hash. The row is still read on every request,
# so a revocation takes effect at once.
_VERIFIED: dict[tuple[str, str], bytes] = {}
_VERIFIED_LOCK = threading.Lock()


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def authenticate(ops: OpsStore, token: str | None, scope: str, *, now: datetime) -> ApiKey:
    """The key of ``token`` if it is valid, not revoked and has ``scope``.

    Raises :class:`KeyNotValid` (never saying which part failed) or :class:`ScopeMissing`.
    """
    if not token or not token.startswith("lb_") or token.count("_") < 2 or len(token) > 200:
        raise KeyNotValid("missing or malformed API key: send 'Authorization: Bearer lb_…'")
    key_id = token.split("_", 2)[1]
    with ops.read() as con:
        row = con.execute(sa.select(API_KEYS).where(API_KEYS.c.id == key_id)).first()
    if row is None or row._mapping["revoked_at"] is not None:
        raise KeyNotValid("unknown or revoked API key")
    stored = str(row._mapping["secret_hash"])
    digest = _digest(token)
    with _VERIFIED_LOCK:
        known = _VERIFIED.get((key_id, stored))
    if known is None or not hmac.compare_digest(known, digest):
        if not verify_secret(stored, token):
            raise KeyNotValid("unknown or revoked API key")
        with _VERIFIED_LOCK:
            if len(_VERIFIED) > 10_000:
                _VERIFIED.clear()
            _VERIFIED[(key_id, stored)] = digest
        with ops.begin() as con:
            con.execute(API_KEYS.update().where(API_KEYS.c.id == key_id).values(last_used_at=now))
    key = _row_to_key(row)
    if scope not in key.scopes:
        raise ScopeMissing(key.name, scope)
    return key
