"""Messenger Send API: one stored reply becomes one request (platforms.md §4.1).

Long answers are split into several stored replies before they reach here
(``bot.channels.limits``). Each request carries ``metadata`` naming the outbox item, which
Messenger echoes back, so an echo proves a send even when its response was lost.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from bot.channels.accounts import FacebookPage
from bot.channels.base import OutboundMessage, SendError
from bot.channels.facebook import window

log = logging.getLogger(__name__)

MAX_QUICK_REPLIES = 13
QUICK_REPLY_TITLE_LIMIT = 20
QUICK_REPLY_PAYLOAD_LIMIT = 1000
METADATA_PREFIX = "outbox:"
DEFAULT_RETRY_AFTER = 60.0

# Graph error codes (platforms.md §4.1): rate limits are retried later; these are not retried.
RATE_LIMIT_CODES = {4, 32, 613}
PERMANENT_CODES = {
    10: "Messenger từ chối vì ngoài khung thời gian cho phép (mã 10).",
    190: "Mã truy cập của trang không còn hiệu lực (mã 190): quản trị viên cần cấp lại.",
    200: "Ứng dụng không có quyền gửi tin cho người này (mã 200).",
    230: "Ứng dụng không có quyền gửi tin cho người này (mã 230).",
    551: "Người này hiện không nhận được tin nhắn (mã 551).",
}


def metadata_for(outbox_id: int) -> str:
    """The ``metadata`` sent with an outbox item, echoed back by Messenger."""
    return f"{METADATA_PREFIX}{outbox_id}"


def outbox_id_from(metadata: str | None) -> int | None:
    """The outbox item an echo's ``metadata`` names, if it is one of ours."""
    if metadata and metadata.startswith(METADATA_PREFIX):
        number = metadata[len(METADATA_PREFIX) :]
        if number.isdigit():
            return int(number)
    return None


def quick_replies(items: tuple[dict[str, str], ...]) -> list[dict[str, str]]:
    """Our quick replies within Messenger's limits (13, titles of 20, payloads of 1000)."""
    out = []
    for item in items[:MAX_QUICK_REPLIES]:
        title, payload = item.get("title", "").strip(), item.get("payload", "")
        if not title or not payload or len(payload) > QUICK_REPLY_PAYLOAD_LIMIT:
            continue
        if len(title) > QUICK_REPLY_TITLE_LIMIT:
            title = title[: QUICK_REPLY_TITLE_LIMIT - 1].rstrip() + "…"
        out.append({"content_type": "text", "title": title, "payload": payload})
    return out


def request_body(message: OutboundMessage, permit: window.Permit) -> dict[str, Any]:
    """The Send API body for one stored reply."""
    body: dict[str, Any] = {
        "recipient": {"id": message.user_id},
        "messaging_type": permit.messaging_type,
        "message": {"text": message.text, "metadata": metadata_for(message.outbox_id)},
    }
    if permit.tag:
        body["tag"] = permit.tag
    replies = quick_replies(message.quick_replies)
    if replies:
        body["message"]["quick_replies"] = replies
    return body


def send_error(status: int, body: Any, retry_after: str | None) -> SendError:
    """Classify a failed Send API call."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    detail = str(error.get("message") or f"HTTP {status}")[:300]
    if status == 429 or code in RATE_LIMIT_CODES:
        return SendError(
            f"Facebook giới hạn tốc độ gửi: {detail}",
            retryable=True,
            retry_after=_seconds(retry_after),
        )
    if status >= 500:
        return SendError(f"Facebook lỗi máy chủ: {detail}", retryable=True)
    reason = PERMANENT_CODES.get(code) if isinstance(code, int) else None
    return SendError(f"{reason or 'Facebook từ chối tin nhắn.'} ({detail})", retryable=False)


def _seconds(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else DEFAULT_RETRY_AFTER
    except ValueError:
        return DEFAULT_RETRY_AFTER


class FacebookSender:
    """Sends stored replies and typing indicators through the Graph API."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        *,
        graph_url: str,
        pages: Mapping[str, FacebookPage],
        clock: Callable[[], dt.datetime],
        timeout: float = 20.0,
    ) -> None:
        self._http = http
        self._graph_url = graph_url.rstrip("/")
        self._pages = pages
        self._now = clock
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def send(self, message: OutboundMessage) -> str:
        """Send one reply inside the messaging window; the Send API's ``message_id``."""
        page = self._pages.get(message.page_id)
        if page is None:
            raise SendError(f"Trang {message.page_id} chưa được cấu hình.", retryable=False)
        decision = window.permit(
            author=message.author,
            last_member_at=message.last_member_message_at,
            now=self._now(),
            human_agent=page.human_agent,
        )
        if isinstance(decision, window.Refusal):
            raise SendError(decision.reason, retryable=False)
        body = await self._post(page, request_body(message, decision))
        message_id = body.get("message_id")
        if not isinstance(message_id, str) or not message_id:
            raise SendError(f"Facebook trả lời không có message_id: {body}", retryable=True)
        return message_id

    async def typing(self, page_id: str, user_id: str) -> None:
        """``typing_on`` while the bot works; failures only logged."""
        page = self._pages.get(page_id)
        if page is None:
            return
        try:
            await self._post(page, {"recipient": {"id": user_id}, "sender_action": "typing_on"})
        except SendError as exc:
            log.info("typing indicator not shown: %s", exc.reason)

    async def _post(self, page: FacebookPage, body: dict[str, Any]) -> dict[str, Any]:
        try:
            async with self._http.post(
                f"{self._graph_url}/{page.page_id}/messages",
                params={"access_token": page.access_token},
                json=body,
                timeout=self._timeout,
            ) as response:
                payload = await response.json(content_type=None)
                if response.status != 200:
                    raise send_error(response.status, payload, response.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise SendError(f"Không gọi được Facebook: {exc!r}", retryable=True) from exc
        return payload if isinstance(payload, dict) else {}
