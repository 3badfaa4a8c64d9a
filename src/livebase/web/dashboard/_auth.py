"""Dashboard sessions: a signed, HttpOnly, SameSite=Strict cookie (Secure over HTTPS) holding
the user, the role, the language and the session's CSRF token; every form posts that token.

The cookie is signed with a key derived from the workspace's signing key (livebase.secrets),
so nothing secret is in livebase.yaml and rotating the signing key signs everyone out.

>>> s = Sessions(b"k" * 32)
>>> token = s.dump(Session("anna", "marketer", "ru", "t0k"))
>>> s.load(token).role, s.load("forged") is None
('marketer', True)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

__all__ = ["COOKIE", "LOGIN_COOKIE", "MAX_AGE", "Session", "Sessions", "new_token", "same_token"]

COOKIE = "lb_session"
LOGIN_COOKIE = "lb_login_csrf"
MAX_AGE = 12 * 3600
"""A session lasts twelve hours."""


@dataclass(frozen=True)
class Session:
    """Who is signed in, and the CSRF token every form of the session carries."""

    username: str
    role: str
    lang: str
    csrf: str


def new_token() -> str:
    """A fresh random CSRF token."""
    return secrets.token_urlsafe(24)


def same_token(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of two CSRF tokens (both present)."""
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


class Sessions:
    """Sign and verify session cookies with ``key``."""

    def __init__(self, key: bytes) -> None:
        from itsdangerous import URLSafeTimedSerializer

        derived = hmac.new(key, b"livebase dashboard session", hashlib.sha256).digest()
        self._s: Any = URLSafeTimedSerializer(derived, salt="livebase-dashboard")

    def dump(self, session: Session) -> str:
        return str(
            self._s.dumps(
                {"u": session.username, "r": session.role, "l": session.lang, "c": session.csrf}
            )
        )

    def load(self, token: str | None) -> Session | None:
        from itsdangerous import BadData

        if not token:
            return None
        try:
            d = self._s.loads(token, max_age=MAX_AGE)
        except BadData:
            return None
        try:
            return Session(str(d["u"]), str(d["r"]), str(d["l"]), str(d["c"]))
        except (KeyError, TypeError):
            return None
