"""E-mail over SMTP (aiosmtplib): a pool of open connections, STARTTLS or SSL, login, DKIM.

Each send walks the SMTP dialogue by hand so the outcome can say whether anything was handed
over: a refusal at MAIL FROM or RCPT TO, or a connection that drops before DATA, delivered
nothing (``retry`` / ``failed`` / ``suppress``); a timeout or disconnect *during* DATA may have
delivered the message (``uncertain``). Replies map as:

=========================================  =============
550, 551, 553 at RCPT (no such mailbox)     suppress (hard bounce)
other 5xx                                   failed
4xx (greylisting, mailbox busy, rate)       retry
refused connection, dropped before DATA     retry
timeout or drop during DATA                 uncertain
=========================================  =============

>>> classify_reply(550, "5.1.1 user unknown", stage="rcpt").status
'suppress'
>>> classify_reply(451, "try again", stage="data").status
'retry'
>>> classify_reply(554, "spam", stage="data").status
'failed'
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from dataclasses import dataclass
from typing import Literal

import aiosmtplib

from livebase.channels.base import OutgoingMessage, SendOutcome
from livebase.channels.email_message import DkimKey, email_bytes, envelope_sender, message_id
from livebase.channels.settings import ChannelSettings
from livebase.errors import ChannelError

__all__ = ["SmtpChannel", "classify_reply"]

Stage = Literal["mail", "rcpt", "data"]
_HARD_BOUNCE = {550, 551, 553}
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")
"""An address that goes on the SMTP command line as it is (a dot-atom, ASCII, nothing to
parse); anything else goes through aiosmtplib's address parsing and checks."""


def classify_reply(code: int, text: str, *, stage: Stage) -> SendOutcome:
    """The outcome of an SMTP error reply ``code`` at ``stage`` (see the module docstring)."""
    detail = f"{code} {text}".strip()[:300]
    if 400 <= code < 500:
        return SendOutcome.retry(f"smtp {stage}: {detail}")
    if stage == "rcpt" and code in _HARD_BOUNCE:
        return SendOutcome.suppress(f"smtp {stage}: {detail}", reason="bounce")
    return SendOutcome.failed(f"smtp {stage}: {detail}")


@dataclass(frozen=True)
class _Connection:
    client: aiosmtplib.SMTP


class SmtpChannel:
    """Send e-mail through an SMTP server or an ESP's relay (``type: smtp``).

    ``pool_size`` connections are opened on demand and reused; a connection that errs is
    dropped and a new one opened by the next send.
    """

    def __init__(
        self,
        name: str,
        settings: ChannelSettings,
        *,
        password: str | None = None,
        dkim_key: DkimKey | None = None,
    ) -> None:
        if settings.host is None or settings.sender is None:
            raise ChannelError("an smtp channel needs host and from", channel=name, key="host")
        self.name = name
        self.settings = settings
        self._password = password
        self._dkim = dkim_key
        self._sender = settings.sender
        self._envelope = envelope_sender(settings.sender)
        self._mail_from = (
            b"FROM:<" + self._envelope.encode("ascii") + b">"
            if _PLAIN_ADDRESS.fullmatch(self._envelope)
            else None
        )
        self._idle: asyncio.LifoQueue[_Connection] = asyncio.LifoQueue()
        self._slots = asyncio.Semaphore(settings.pool_size)
        self._all: set[_Connection] = set()

    @property
    def port(self) -> int:
        if self.settings.port is not None:
            return self.settings.port
        return {"ssl": 465, "starttls": 587}.get(self.settings.security, 25)

    def _tls_context(self) -> ssl.SSLContext | None:
        if self.settings.security == "none":
            return None
        return ssl.create_default_context(cafile=self.settings.ca_file)

    async def _open(self) -> _Connection:
        security = self.settings.security
        client = aiosmtplib.SMTP(
            hostname=self.settings.host,
            port=self.port,
            timeout=self.settings.timeout_seconds,
            use_tls=security == "ssl",
            start_tls=security == "starttls",
            tls_context=self._tls_context(),
        )
        await client.connect()
        if self.settings.username:
            await client.login(self.settings.username, self._password or "")
        connection = _Connection(client)
        self._all.add(connection)
        return connection

    async def _acquire(self) -> _Connection:
        while not self._idle.empty():
            connection = self._idle.get_nowait()
            if connection.client.is_connected:
                return connection
            self._all.discard(connection)
        return await self._open()

    async def _discard(self, connection: _Connection) -> None:
        self._all.discard(connection)
        with contextlib.suppress(Exception):  # closing a broken socket: nothing more to do
            connection.client.close()

    async def check(self) -> str:
        """Connect, negotiate TLS and log in once; the server's greeting on success.

        Raises :class:`ChannelError` naming the key to fix.
        """
        try:
            connection = await self._open()
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise ChannelError(
                f"login refused ({exc.code} {exc.message}): check username and the secret "
                f"named by password_env ({self.settings.password_env})",
                channel=self.name,
                key="password_env",
            ) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise ChannelError(
                f"cannot reach {self.settings.host}:{self.port} with security "
                f"{self.settings.security} ({exc})",
                channel=self.name,
                key="host",
            ) from None
        greeting = f"{self.settings.host}:{self.port} {self.settings.security} ok"
        await connection.client.quit()
        self._all.discard(connection)
        return greeting

    async def send(self, message: OutgoingMessage) -> SendOutcome:
        """Send one e-mail (see the module docstring for the outcomes)."""
        raw = email_bytes(
            message,
            sender=self._sender,
            reply_to=self.settings.reply_to,
            unsubscribe_mailto=self.settings.unsubscribe_mailto,
            dkim_key=self._dkim,
        )
        mid = message_id(message.key, self._sender)
        async with self._slots:
            try:
                connection = await self._acquire()
            except aiosmtplib.SMTPAuthenticationError as exc:
                return SendOutcome.failed(f"smtp login refused: {exc.code} (check password_env)")
            except (aiosmtplib.SMTPException, OSError) as exc:
                return SendOutcome.retry(f"smtp connect: {type(exc).__name__}: {exc}"[:300])
            return await self._dialogue(connection, message.address, raw, mid)

    async def _dialogue(
        self, connection: _Connection, recipient: str, raw: bytes, mid: str
    ) -> SendOutcome:
        client = connection.client
        stage: Stage = "mail"
        try:
            if (
                self._mail_from is None
                or client.is_ehlo_or_helo_needed
                or not _PLAIN_ADDRESS.fullmatch(recipient)
            ):
                await client.mail(self._envelope)
                stage = "rcpt"
                await client.rcpt(recipient)
            else:  # plain addresses: aiosmtplib's mail() and rcpt() would parse them each time
                reply = await client.execute_command(b"MAIL", self._mail_from)
                if reply.code != 250:
                    raise aiosmtplib.SMTPSenderRefused(reply.code, reply.message, self._envelope)
                stage = "rcpt"
                reply = await client.execute_command(b"RCPT", b"TO:<%s>" % recipient.encode())
                if reply.code not in (250, 251):
                    raise aiosmtplib.SMTPRecipientRefused(reply.code, reply.message, recipient)
            stage = "data"
            response = await client.data(raw)
        except aiosmtplib.SMTPResponseException as exc:
            outcome = classify_reply(exc.code, exc.message, stage=stage)
        except ValueError as exc:  # aiosmtplib refuses the address before sending it
            outcome = SendOutcome.failed(f"smtp {stage}: the address cannot be sent: {exc}"[:300])
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            await self._discard(connection)
            text = f"smtp {stage}: {type(exc).__name__}: {exc}"[:300]
            if stage == "data":
                return SendOutcome.uncertain(text)
            return SendOutcome.retry(text)
        else:
            self._idle.put_nowait(connection)
            return SendOutcome.sent(mid, detail=f"{response.code} {response.message}"[:300])
        try:  # the server answered (or nothing was sent): the connection is fine after a reset
            await client.rset()
            self._idle.put_nowait(connection)
        except (aiosmtplib.SMTPException, OSError):
            await self._discard(connection)
        return outcome

    async def close(self) -> None:
        """Say QUIT on every open connection."""
        for connection in list(self._all):
            try:
                if connection.client.is_connected:
                    await connection.client.quit()
            except (aiosmtplib.SMTPException, OSError):
                connection.client.close()
        self._all.clear()
