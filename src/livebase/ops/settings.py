"""The ``ops:`` section of livebase.yaml: where the operational store lives."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator

__all__ = ["OpsSettings"]


class OpsSettings(BaseModel):
    """Operational store: SQLite in the workspace by default, PostgreSQL when ``url`` says so.

    >>> OpsSettings().url is None
    True
    >>> OpsSettings(url="postgresql://crm@db/livebase").url
    'postgresql://crm@db/livebase'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = None
    """SQLAlchemy URL of a PostgreSQL database (``postgresql://user@host/db``). The password
    comes from ``password_env`` or ~/.pgpass, never from this file. Empty: ``ops.sqlite`` in
    the workspace."""
    password_env: str | None = None
    """Environment variable holding the PostgreSQL password."""
    busy_timeout_ms: int = 30_000
    """How long a SQLite writer waits for another before giving up."""

    @field_validator("url")
    @classmethod
    def _postgres_without_password(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme = value.split("://", 1)[0]
        if not scheme.startswith(("postgresql", "postgres", "sqlite")):
            raise ValueError(
                f"unsupported database '{scheme}': use postgresql://user@host/db "
                "(or leave ops.url out for SQLite in the workspace)"
            )
        rest = value.split("://", 1)[1] if "://" in value else ""
        userinfo = rest.split("@", 1)[0] if "@" in rest else ""
        if ":" in userinfo:
            raise ValueError(
                "the URL contains a password: livebase.yaml is shared and committed; put the "
                "password in an environment variable named by ops.password_env (or ~/.pgpass)"
            )
        return value
