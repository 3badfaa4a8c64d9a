"""The dashboard of ``livebase serve``: pages for the owner, the marketer and the analyst.

``create_app(workspace, routers=[router])`` includes it; it reads the service's state from
``app.state.livebase`` (``workspace``, ``ops``, ``now``). Users are made with
``livebase users add``; passwords are argon2id hashes; sessions are signed cookies; every
form carries a CSRF token; a role sees only its pages and actions; Russian and English.
"""

from __future__ import annotations

from livebase.web.dashboard.routes import PAGES, router

__all__ = ["PAGES", "router"]
