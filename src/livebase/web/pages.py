"""Server-rendered pages of the service (Jinja2, autoescaped, no CDN)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

__all__ = ["render_page"]


@lru_cache(maxsize=1)
def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(
        loader=PackageLoader("livebase.web", "templates"),
        autoescape=select_autoescape(["html"]),
    )


def render_page(name: str, **context: Any) -> str:
    """Render the template ``name`` with ``context`` (values are HTML-escaped)."""
    return str(_environment().get_template(name).render(**context))
