"""Delivering alerts: SMTP (standard library, in a thread) and an HTTP webhook."""

from __future__ import annotations

import asyncio
import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage

import aiohttp

from bot.notify.message import Alert, body, subject, webhook_payload


class NotifyError(Exception):
    """A delivery that failed; it is retried with backoff."""


@dataclass(frozen=True)
class SmtpSettings:
    """Where e-mail warnings go."""

    host: str
    port: int = 25
    sender: str = "bot@localhost"
    recipients: tuple[str, ...] = ()
    user: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = False
    timeout: float = 20.0


class EmailNotifier:
    """Sends one e-mail per alert to every recipient."""

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings

    async def deliver(self, alert: Alert) -> None:
        """Send the alert; NotifyError on any SMTP failure."""
        message = EmailMessage()
        message["Subject"] = subject(alert)
        message["From"] = self._settings.sender
        message["To"] = ", ".join(self._settings.recipients)
        message.set_content(body(alert))
        try:
            await asyncio.to_thread(self._send, message)
        except (OSError, smtplib.SMTPException) as exc:
            raise NotifyError(f"SMTP: {exc!r}") from exc

    def _send(self, message: EmailMessage) -> None:
        s = self._settings
        with smtplib.SMTP(s.host, s.port, timeout=s.timeout) as smtp:
            if s.starttls:
                smtp.starttls()
            if s.user:
                smtp.login(s.user, s.password)
            smtp.send_message(message)


class WebhookNotifier:
    """Posts the alert as JSON; any 2xx is delivered."""

    def __init__(self, http: aiohttp.ClientSession, url: str, timeout: float = 20.0) -> None:
        self._http = http
        self._url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def deliver(self, alert: Alert) -> None:
        """Post the alert; NotifyError on a non-2xx answer or no answer."""
        try:
            async with self._http.post(
                self._url, json=webhook_payload(alert), timeout=self._timeout
            ) as response:
                if not 200 <= response.status < 300:
                    raise NotifyError(f"webhook answered HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise NotifyError(f"webhook: {exc!r}") from exc
