"""Novu-style ``Idempotency-Key`` for ``POST /v1/events``: a repeat while the first request is
in flight gets 409; after it, the first answer is replayed; the same key with another body
is 422. Kept in the process for 24 hours (``event_id`` stays the durable guarantee).

>>> cache = IdempotencyCache()
>>> cache.begin("k1", "key-a", b"{}", now=0.0)
>>> cache.begin("k1", "key-a", b"{}", now=1.0)
Traceback (most recent call last):
...
livebase.web.idempotency.InFlight: a request with this Idempotency-Key is still being processed
>>> cache.finish("k1", "key-a", 200, b'{"stored": 1}')
>>> cache.begin("k1", "key-a", b"{}", now=2.0)
(200, b'{"stored": 1}')
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

__all__ = ["IdempotencyCache", "InFlight", "KeyReused"]

TTL_SECONDS = 24 * 3600


class InFlight(Exception):
    """The first request with this key has not finished."""


class KeyReused(Exception):
    """The key was used with a different body."""


@dataclass
class _Entry:
    body_hash: str
    started: float
    answer: tuple[int, bytes] | None = None


class IdempotencyCache:
    """In-process store of answers by (API key id, Idempotency-Key)."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def begin(self, owner: str, key: str, body: bytes, *, now: float) -> tuple[int, bytes] | None:
        """Start a request; returns the first answer to replay, or None to go ahead."""
        digest = hashlib.sha256(body).hexdigest()
        with self._lock:
            entry = self._entries.get((owner, key))
            if entry is not None and now - entry.started > TTL_SECONDS:
                entry = None
            if entry is None:
                if len(self._entries) >= self.max_entries:
                    self._entries = {
                        k: e for k, e in self._entries.items() if now - e.started <= TTL_SECONDS
                    }
                    if len(self._entries) >= self.max_entries:
                        self._entries.clear()
                self._entries[(owner, key)] = _Entry(digest, now)
                return None
            if entry.body_hash != digest:
                raise KeyReused(
                    "this Idempotency-Key was used with a different body: use a new key"
                )
            if entry.answer is None:
                raise InFlight("a request with this Idempotency-Key is still being processed")
            return entry.answer

    def finish(self, owner: str, key: str, status: int, body: bytes) -> None:
        """Remember the answer (success or a client error: both are final)."""
        with self._lock:
            entry = self._entries.get((owner, key))
            if entry is not None:
                entry.answer = (status, body)

    def abandon(self, owner: str, key: str) -> None:
        """Forget a request that failed on our side (a retry may run again)."""
        with self._lock:
            self._entries.pop((owner, key), None)
