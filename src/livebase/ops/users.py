"""Dashboard users in the operational store: a role each, passwords hashed with argon2id.

Roles: ``owner`` (the business's numbers), ``marketer`` (playbooks: state, volumes, funnels,
readouts; pause and resume), ``analyst`` (segments, transitions, CLV, experiments, data
freshness). Only the hash of a password is stored.

>>> from datetime import datetime, timezone
>>> import tempfile, pathlib
>>> from livebase.ops.store import OpsStore, sqlite_url
>>> ops = OpsStore.open(sqlite_url(pathlib.Path(tempfile.mkdtemp()) / "ops.sqlite"))
>>> now = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> add_user(ops, "anna", "a long passphrase", "marketer", now=now).role
'marketer'
>>> authenticate(ops, "anna", "a long passphrase").username
'anna'
>>> authenticate(ops, "anna", "wrong") is None
True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal, get_args

import sqlalchemy as sa

from livebase.errors import LivebaseError, did_you_mean
from livebase.ops.store import OpsStore
from livebase.ops.tables import USERS
from livebase.ops.writes import upsert

__all__ = [
    "ROLES",
    "Role",
    "User",
    "UserError",
    "add_user",
    "authenticate",
    "get_user",
    "list_users",
]

Role = Literal["owner", "marketer", "analyst"]
ROLES: tuple[Role, ...] = get_args(Role)
MIN_PASSWORD = 10


class UserError(LivebaseError):
    """A dashboard user cannot be created or changed (unknown role, short password, …)."""


@dataclass(frozen=True)
class User:
    """A dashboard user (never the password or its hash)."""

    username: str
    role: Role
    language: str | None = None


@lru_cache(maxsize=1)
def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()


def add_user(
    ops: OpsStore,
    username: str,
    password: str,
    role: str,
    *,
    now: datetime,
    language: str | None = None,
) -> User:
    """Create ``username`` with ``role`` (or replace its password and role)."""
    if role not in ROLES:
        raise UserError(
            f"unknown role '{role}'{did_you_mean(role, ROLES)}; roles: {', '.join(ROLES)}"
        )
    if not username or len(username) > 128 or any(c.isspace() for c in username):
        raise UserError("a user name is 1–128 characters without spaces")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password is too short: use at least {MIN_PASSWORD} characters")
    row = {
        "username": username,
        "password_hash": str(_hasher().hash(password)),
        "role": role,
        "language": language,
        "created_at": now,
        "disabled_at": None,
    }
    with ops.begin() as con:
        upsert(con, USERS, [row], key=["username"])
    return User(username, role, language)


def get_user(ops: OpsStore, username: str) -> User | None:
    """The enabled user ``username``, or None."""
    with ops.engine.connect() as con:
        row = con.execute(
            sa.select(USERS.c.username, USERS.c.role, USERS.c.language).where(
                USERS.c.username == username, USERS.c.disabled_at.is_(None)
            )
        ).first()
    if row is None or row.role not in ROLES:
        return None
    return User(row.username, row.role, row.language)


def list_users(ops: OpsStore) -> list[User]:
    """Every enabled user, by name."""
    with ops.engine.connect() as con:
        rows = con.execute(
            sa.select(USERS.c.username, USERS.c.role, USERS.c.language)
            .where(USERS.c.disabled_at.is_(None))
            .order_by(USERS.c.username)
        ).all()
    return [User(r.username, r.role, r.language) for r in rows if r.role in ROLES]


def authenticate(ops: OpsStore, username: str, password: str) -> User | None:
    """The user when ``password`` is theirs, else None (same work for an unknown name)."""
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    with ops.engine.connect() as con:
        row = con.execute(
            sa.select(USERS).where(USERS.c.username == username, USERS.c.disabled_at.is_(None))
        ).first()
    stored = row.password_hash if row is not None else _dummy_hash()
    try:
        ok = bool(_hasher().verify(stored, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok or row is None or row.role not in ROLES:
        return None
    return User(row.username, row.role, row.language)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return str(_hasher().hash("not a real password"))
