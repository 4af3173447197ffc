"""Warnings delivered for real: to a local SMTP server and a local webhook receiver."""

from __future__ import annotations

import datetime as dt
import email
from email.policy import default as default_policy

import aiohttp
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller

from bot.notify.message import Alert
from bot.notify.send import EmailNotifier, NotifyError, SmtpSettings, WebhookNotifier
from tools.stack import free_port

ALERT = Alert(
    kind="due_2h",
    question_id=12,
    conversation_id=7,
    channel="facebook",
    page_id="1234567890",
    deadline=dt.datetime(2026, 11, 22, 7, 0, tzinfo=dt.UTC),  # 14:00 in Hà Nội
    raised_at=dt.datetime(2026, 11, 22, 5, 0, tzinfo=dt.UTC),
)


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd hook name
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.content, policy=default_policy))
        return "250 OK"


async def test_email_reaches_every_recipient_in_vietnamese():
    mailbox, port = Mailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        notifier = EmailNotifier(
            SmtpSettings(
                host="127.0.0.1",
                port=port,
                sender="bot@congdoan.vn",
                recipients=("lan@congdoan.vn", "minh@congdoan.vn"),
            )
        )
        await notifier.deliver(ALERT)
    finally:
        controller.stop()
    [message] = mailbox.messages
    assert mailbox.envelopes == [("bot@congdoan.vn", ["lan@congdoan.vn", "minh@congdoan.vn"])]
    assert message["Subject"] == "[Còn 2 giờ] Câu hỏi #12 (Facebook 1234567890)"
    assert "trước 14:00 22/11/2026" in message.get_content()


async def test_an_unreachable_mail_server_is_a_retryable_failure():
    notifier = EmailNotifier(SmtpSettings(host="127.0.0.1", port=free_port(), recipients=("x",)))
    with pytest.raises(NotifyError, match="SMTP"):
        await notifier.deliver(ALERT)


async def test_webhook_gets_the_alert_as_json_and_errors_are_failures():
    received: list[dict] = []
    statuses = [500, 200]

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=statuses.pop(0))

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession() as http:
            notifier = WebhookNotifier(http, f"http://127.0.0.1:{port}/hook")
            with pytest.raises(NotifyError, match="HTTP 500"):
                await notifier.deliver(ALERT)
            await notifier.deliver(ALERT)
    finally:
        await runner.cleanup()
    assert received[1] == {
        "kind": "due_2h",
        "question_id": 12,
        "conversation_id": 7,
        "channel": "facebook",
        "page_id": "1234567890",
        "deadline": "2026-11-22T07:00:00+00:00",
        "raised_at": "2026-11-22T05:00:00+00:00",
        "text": "[Còn 2 giờ] Câu hỏi #12 (Facebook 1234567890)",
    }
