"""Opening the channels of livebase.yaml: settings + secrets → a :class:`Channel`.

Secrets are read only through the ``*_env`` names of the settings (the environment first, then
``livebase.secrets``); a missing one is a :class:`~livebase.errors.ChannelError` naming the key.
Another package adds a channel type by registering an opener::

    register_channel_type("getcourse_group", open_getcourse_group)

>>> import tempfile, pathlib
>>> from livebase.secrets import Secrets
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> s = ChannelSettings.model_validate({"type": "export", "path": "tasks/calls.csv"})
>>> open_channel("calls", s, secrets=Secrets(root / "livebase.secrets", {}), root=root).path.name
'calls.csv'
>>> open_channel("tg", ChannelSettings.model_validate({"type": "telegram", "token_env": "NO_TG"}),
...              secrets=Secrets(root / "livebase.secrets", {}), root=root)
Traceback (most recent call last):
livebase.errors.ChannelError: channels.tg.token_env: names the secret NO_TG, which is neither set in the environment nor in livebase.secrets: export NO_TG=… or add NO_TG = "…" to livebase.secrets
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from livebase.channels.base import Channel
from livebase.channels.settings import ChannelSettings
from livebase.errors import ChannelError
from livebase.secrets import Secrets

__all__ = ["ChannelOpener", "open_channel", "register_channel_type", "secret_for"]

ChannelOpener = Callable[[str, ChannelSettings, Secrets, Path], Channel]
_OPENERS: dict[str, ChannelOpener] = {}


def register_channel_type(type_name: str, opener: ChannelOpener) -> None:
    """Let ``open_channel`` open channels of ``type_name`` with ``opener``."""
    _OPENERS[type_name] = opener


def secret_for(
    secrets: Secrets, name: str, settings: ChannelSettings, key: str, *, required: bool = True
) -> str | None:
    """The secret named by ``settings.<key>`` (e.g. ``password_env``), or a clear error."""
    env_name = getattr(settings, key)
    if env_name is None:
        if required:
            raise ChannelError(f"set {key} to the name of the secret", channel=name, key=key)
        return None
    value = secrets.get(env_name)
    if value is None or value == "":
        raise ChannelError(
            f"names the secret {env_name}, which is neither set in the environment nor in "
            f'{secrets.path.name}: export {env_name}=… or add {env_name} = "…" to '
            f"{secrets.path.name}",
            channel=name,
            key=key,
        )
    return value


def _dkim(name: str, settings: ChannelSettings, secrets: Secrets) -> Any:
    from livebase.channels.email_message import DkimKey

    if settings.dkim_key_env is None:
        return None
    if not settings.dkim_domain or not settings.dkim_selector:
        raise ChannelError(
            "DKIM needs dkim_domain and dkim_selector beside dkim_key_env",
            channel=name,
            key="dkim_selector",
        )
    pem = secret_for(secrets, name, settings, "dkim_key_env") or ""
    if "PRIVATE KEY" not in pem:
        raise ChannelError(
            f"the secret {settings.dkim_key_env} is not a PEM private key",
            channel=name,
            key="dkim_key_env",
        )
    return DkimKey(settings.dkim_domain, settings.dkim_selector, pem.encode())


def _open_builtin(name: str, settings: ChannelSettings, secrets: Secrets, root: Path) -> Channel:
    kind = settings.type
    if kind == "smtp":
        from livebase.channels.smtp import SmtpChannel

        password = None
        if settings.username:
            password = secret_for(secrets, name, settings, "password_env")
        return SmtpChannel(
            name, settings, password=password, dkim_key=_dkim(name, settings, secrets)
        )
    if kind == "telegram":
        from livebase.channels.telegram import TelegramChannel

        return TelegramChannel(
            name, settings, token=secret_for(secrets, name, settings, "token_env") or ""
        )
    if kind == "sms":
        from livebase.channels.sms import SmsChannel

        return SmsChannel(
            name, settings, api_key=secret_for(secrets, name, settings, "api_key_env") or ""
        )
    if kind == "webhook":
        from livebase.channels.webhook import WebhookChannel

        secret = secret_for(secrets, name, settings, "secret_env", required=False)
        return WebhookChannel(name, settings, secret=secret)
    if kind == "export":
        from livebase.channels.export import ExportChannel

        path = Path(settings.path or f"{name}.csv")
        return ExportChannel(name, path if path.is_absolute() else root / path)
    raise ChannelError(f"no opener for channel type {kind}", channel=name, key="type")


def open_channel(name: str, settings: ChannelSettings, *, secrets: Secrets, root: Path) -> Channel:
    """The channel ``name`` of ``channels:``, ready to send (see the module docstring)."""
    if settings.type is None:
        raise ChannelError(
            "has no type: it can be planned and priced but not sent; set type to smtp, "
            "telegram, sms, webhook or export",
            channel=name,
            key="type",
        )
    opener = _OPENERS.get(settings.type)
    if opener is not None:
        return opener(name, settings, secrets, root)
    if settings.type == "getcourse_group":
        raise ChannelError(
            "GetCourse group sync is not installed in this livebase", channel=name, key="type"
        )
    return _open_builtin(name, settings, secrets, root)
