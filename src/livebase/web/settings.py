"""The ``service:`` section of livebase.yaml: where ``livebase serve`` listens and is reached.

>>> ServiceSettings().base_url
'http://127.0.0.1:8310'
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ServiceSettings"]


class ServiceSettings(BaseModel):
    """``livebase serve``: address, public URL of tracking links, limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8310
    base_url: str = "http://127.0.0.1:8310"
    """Public address of the service: tracking, click and unsubscribe links point here."""
    max_batch: Annotated[int, Field(ge=1, le=10_000)] = 1000
    """Most events in one POST /v1/events."""
    max_body_bytes: Annotated[int, Field(ge=1024)] = 2_000_000
    """Largest request body; a bigger one gets 413 before it is read."""
    max_header_bytes: Annotated[int, Field(ge=1024, le=1_048_576)] = 16_384
    """Largest request head (request line and headers); a bigger one is refused."""
    old_link_days: Annotated[int, Field(ge=0)] = 90
    """How long links signed with a rotated-out key stay valid."""
    rate_limit_per_minute: Annotated[int, Field(ge=1)] = 600
    """Requests per minute one IP address may make to the public endpoints (tracking,
    unsubscribe, webhooks); more get 429 with Retry-After."""
    trust_forwarded_for: bool = False
    """Take the client address from X-Forwarded-For (only behind your own reverse proxy)."""
