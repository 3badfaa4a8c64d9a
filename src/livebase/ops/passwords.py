"""Hashing of secrets the operational store keeps: dashboard passwords and API keys (argon2id).

Only the hash is stored; a leaked database gives no usable key or password.

>>> stored = hash_secret("correct horse")
>>> stored.startswith("$argon2id$")
True
>>> verify_secret(stored, "correct horse"), verify_secret(stored, "wrong")
(True, False)
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

__all__ = ["hash_secret", "needs_rehash", "verify_secret"]


@lru_cache(maxsize=1)
def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()


def hash_secret(secret: str) -> str:
    """The argon2id hash of ``secret`` (salted: two calls give different texts)."""
    return str(_hasher().hash(secret))


def verify_secret(stored_hash: str, secret: str) -> bool:
    """Whether ``secret`` matches ``stored_hash`` (False for any malformed hash)."""
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    try:
        return bool(_hasher().verify(stored_hash, secret))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's (rehash on next login)."""
    return bool(_hasher().check_needs_rehash(stored_hash))
