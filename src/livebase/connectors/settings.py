"""The ``sync:`` section of livebase.yaml: which CRM to pull from and how gently.

The API key is never here: ``api_key_env`` names an environment variable or an entry of the
workspace's ``livebase.secrets``::

    sync:
      getcourse:
        account: school                 # school.getcourse.ru
        api_key_env: LIVEBASE_GETCOURSE_KEY
        objects: [deals, users]         # or [payments, users]: payments as the revenue source
        overlap_days: 14                # re-read two weeks of deals: status changes are caught
        request_budget: 90              # export requests per 2 hours (GetCourse allows ~100)

>>> s = SyncSettings.model_validate({"getcourse": {"account": "school"}})
>>> s.getcourse is not None and s.getcourse.url
'https://school.getcourse.ru'
>>> s.getcourse.objects
('deals', 'users')
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["GETCOURSE_OBJECTS", "GetCourseObject", "GetCourseSyncSettings", "SyncSettings"]

GetCourseObject = Literal["deals", "users", "payments"]
GETCOURSE_OBJECTS: tuple[GetCourseObject, ...] = ("deals", "users", "payments")


class GetCourseSyncSettings(BaseModel):
    """``sync.getcourse``: the account, its key's name, what to pull and the request budget."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    account: str | None = None
    """Account name: ``school`` of school.getcourse.ru (or give ``base_url``)."""
    base_url: str | None = None
    """The account's address, for a custom domain or a local test server
    (default ``https://ACCOUNT.getcourse.ru``)."""
    api_key_env: str = "LIVEBASE_GETCOURSE_KEY"
    """Environment variable (or livebase.secrets entry) holding the API key."""
    objects: tuple[GetCourseObject, ...] = ("deals", "users")
    """What ``livebase sync getcourse`` pulls: deals (orders), users, payments. Deals and
    payments both load as orders, so pull one of them as the revenue source, not both."""
    start_date: date = date(2014, 1, 1)
    """Where the first sync of an object starts when no ``--since`` is given."""
    overlap_days: Annotated[int, Field(ge=0, le=365)] = 14
    """Each sync re-reads this many days before the last one, so that recent deals whose
    status changed (paid, cancelled, refunded) are updated."""
    request_budget: Annotated[int, Field(ge=1, le=1000)] = 90
    """Export requests livebase may spend per ``budget_window_minutes`` (GetCourse allows
    about 100 per 2 hours per account; keep some for the school's other tools)."""
    budget_window_minutes: Annotated[int, Field(ge=1)] = 120
    poll_interval_seconds: Annotated[float, Field(gt=0)] = 10.0
    """First wait before asking whether an export is ready."""
    poll_backoff: Annotated[float, Field(ge=1.0, le=10.0)] = 1.5
    """Each further wait is this many times longer …"""
    poll_max_interval_seconds: Annotated[float, Field(gt=0)] = 120.0
    """… up to this long."""
    max_wait_seconds: Annotated[float, Field(gt=0)] = 1800.0
    """Give up on an export that is not ready after this long (the sync fails, nothing is
    loaded; run it again later)."""
    timeout_seconds: Annotated[float, Field(gt=0)] = 60.0
    """Network timeout of one request."""
    push_rate_per_second: Annotated[float, Field(gt=0, le=50)] = 2.0
    """Most user-import calls per second when pushing a segment to a group."""
    push_batch: Annotated[int, Field(ge=1, le=10_000)] = 100
    """Users per batch of a push; the send ledger commits after each batch."""
    dated_groups: bool = True
    """Push each run also into a dated group (``lb: At Risk 2026-11-30``): the dated group of
    the latest run is exactly the segment today, since GetCourse's API cannot remove a user
    from a group."""

    @field_validator("objects")
    @classmethod
    def _one_revenue_source(cls, value: tuple[GetCourseObject, ...]) -> tuple[GetCourseObject, ...]:
        if not value:
            raise ValueError("name at least one of deals, users, payments")
        if "deals" in value and "payments" in value:
            raise ValueError(
                "deals and payments both load as orders (revenue would count twice): "
                "pull deals or payments, not both"
            )
        return tuple(dict.fromkeys(value))

    @model_validator(mode="after")
    def _where(self) -> GetCourseSyncSettings:
        if self.account is None and self.base_url is None:
            raise ValueError("sync.getcourse needs account (school of school.getcourse.ru)")
        return self

    @property
    def url(self) -> str:
        """The account's base address, without a trailing slash."""
        if self.base_url is not None:
            return self.base_url.rstrip("/")
        return f"https://{self.account}.getcourse.ru"


class SyncSettings(BaseModel):
    """``sync:``: connectors that pull from a CRM and push segments back."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    getcourse: GetCourseSyncSettings | None = None
    """GetCourse: pull deals, users and payments through the export API; push segments as
    groups through the user import API."""
