"""The ``channels:`` section of livebase.yaml: how each channel sends, and what it costs.

Secrets are never here: a key ending in ``_env`` names an environment variable (or an entry of
the workspace's ``livebase.secrets``) holding the password, token or API key::

    channels:
      email:    {type: smtp, host: smtp.school.ru, port: 587, security: starttls,
                 username: crm@school.ru, password_env: LIVEBASE_SMTP_PASSWORD,
                 from: "Школа <hello@school.ru>", rate_per_second: 20, cost: 0.05}
      telegram: {type: telegram, token_env: LIVEBASE_TG_TOKEN, cost: 0}
      sms:      {type: sms, provider: smsru, api_key_env: LIVEBASE_SMS_KEY, sender: SCHOOL, cost: 4.5}
      push:     {type: webhook, url: "https://push.example/v1/send", secret_env: LIVEBASE_PUSH_SECRET}
      calls:    {type: export, path: tasks/calls.csv}

A channel with only ``cost`` (no ``type``) can be planned and priced but not sent.

>>> ChannelSettings.model_validate({"cost": 4.5}).cost
4.5
>>> ChannelSettings.model_validate({"type": "smtp", "host": "127.0.0.1", "from": "a@b.c"}).sender
'a@b.c'
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ChannelSettings", "ChannelType"]

ChannelType = Literal["smtp", "telegram", "sms", "webhook", "export", "getcourse_group"]

_REQUIRED: dict[str, tuple[str, ...]] = {
    "smtp": ("host", "sender"),
    "telegram": ("token_env",),
    "sms": ("provider", "api_key_env"),
    "webhook": ("url",),
    "export": ("path",),
    "getcourse_group": (),
}


_DEFAULT_RATES: dict[str, float] = {"telegram": 30.0, "sms": 20.0}


class ChannelSettings(BaseModel):
    """One channel of ``channels:`` (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type: ChannelType | None = None
    """How messages leave; none: planned and priced only."""
    cost: Annotated[float, Field(ge=0)] = 0.0
    """Cost of one message, in the workspace currency (a provider's answer overrides it)."""
    rate_per_second: Annotated[float, Field(gt=0)] | None = None
    """Most messages per second (provider limits; Telegram's default when empty)."""
    purpose: Literal["marketing", "transactional"] = "marketing"
    """Default purpose of messages on this channel (a playbook may say otherwise)."""
    base_url: str | None = None
    """Provider API address (override for a self-hosted gateway or a test server)."""
    # smtp
    host: str | None = None
    port: int | None = None
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = None
    sender: str | None = Field(default=None, alias="from")
    """E-mail: the From address (``from:``); SMS: the sender name (``sender:``)."""
    reply_to: str | None = None
    unsubscribe_mailto: str | None = None
    """Mailbox for ``List-Unsubscribe: <mailto:…>`` beside the HTTPS link."""
    dkim_domain: str | None = None
    dkim_selector: str | None = None
    dkim_key_env: str | None = None
    ca_file: str | None = None
    """PEM file of the certificate authority of a private relay (default: the system's)."""
    pool_size: Annotated[int, Field(ge=1, le=64)] = 4
    """E-mail: SMTP connections kept open and used in parallel; other types: requests in flight."""
    timeout_seconds: Annotated[float, Field(gt=0)] = 30.0
    """Most seconds one send may take; past it the outcome is retry (nothing handed over) or
    uncertain (handed over, no answer)."""
    max_attempts: Annotated[int, Field(ge=1, le=50)] = 5
    """Attempts before a message that keeps failing temporarily is marked failed."""
    # telegram / sms / webhook / getcourse
    token_env: str | None = None
    provider: Literal["smsru", "smsc"] | None = None
    api_key_env: str | None = None
    url: str | None = None
    secret_env: str | None = None
    account: str | None = None
    """GetCourse account name (``school`` of school.getcourse.ru); SMSC: the login."""
    parse_mode: Literal["HTML", "MarkdownV2", "none"] = "none"
    """Telegram: how the bot's text is formatted."""
    # export
    path: str | None = None

    @model_validator(mode="after")
    def _required_for_type(self) -> ChannelSettings:
        if self.type is None:
            return self
        missing = [
            "from" if name == "sender" else name
            for name in _REQUIRED[self.type]
            if getattr(self, name) is None
        ]
        if missing:
            raise ValueError(f"a channel of type {self.type} needs {', '.join(missing)}")
        return self

    @property
    def effective_rate(self) -> float | None:
        """Messages per second the worker keeps to: ``rate_per_second``, else the provider's
        documented bulk limit (Telegram: about 30 per second), else unlimited.

        >>> ChannelSettings.model_validate({"type": "telegram", "token_env": "T"}).effective_rate
        30.0
        """
        if self.rate_per_second is not None:
            return self.rate_per_second
        return _DEFAULT_RATES.get(self.type or "")
