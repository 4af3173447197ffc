"""Zalo OA consultation messages (``/v3.0/oa/message/cs``, platforms.md §4.2).

Zalo reports errors inside HTTP 200 bodies (``"error": -216``), so every response is checked.
An invalid or expired access token is refreshed once and the send retried once. Zalo has no
quick replies; members answer our suggestions in words, which the NLU understands. No typing
indicator exists for OA chat.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from bot.channels.accounts import ZaloOa
from bot.channels.base import OutboundMessage, SendError
from bot.channels.zalo import window
from bot.channels.zalo.tokens import TokenError, ZaloTokens

log = logging.getLogger(__name__)

TOKEN_ERRORS = {-216, -220}
RATE_LIMIT_ERRORS = {-32}
RATE_LIMIT_RETRY_AFTER = 60.0
PERMANENT_ERRORS = {
    -230: "Thành viên không tương tác với OA trong 7 ngày qua (Zalo -230).",
    -232: "Thành viên chưa tương tác với OA hoặc lần tương tác đã hết hạn (Zalo -232).",
    -213: "Người dùng chưa quan tâm OA (Zalo -213).",
    -211: "OA đã hết hạn mức gửi tin (Zalo -211).",
    -218: "OA đã hết hạn mức gửi tin (Zalo -218).",
    -224: "OA chưa đăng ký gói dịch vụ cần thiết (Zalo -224).",
    -305: "Không được trả lời sau 48 giờ (Zalo -305).",
    -311: "Hết hạn mức trả lời tin nhắn (Zalo -311).",
}


def request_body(message: OutboundMessage) -> dict[str, Any]:
    """The consultation-message body for one stored reply."""
    return {"recipient": {"user_id": message.user_id}, "message": {"text": message.text}}


def zalo_error(body: dict[str, Any]) -> SendError:
    """Classify a response whose ``error`` is not 0."""
    code = body.get("error")
    detail = str(body.get("message") or "")[:300]
    if code in RATE_LIMIT_ERRORS:
        return SendError(
            f"Zalo giới hạn tốc độ gửi ({code}): {detail}",
            retryable=True,
            retry_after=RATE_LIMIT_RETRY_AFTER,
        )
    reason = PERMANENT_ERRORS.get(code) if isinstance(code, int) else None
    return SendError(reason or f"Zalo từ chối tin nhắn ({code}): {detail}", retryable=False)


class ZaloSender:
    """Sends stored replies through the Zalo OA API."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        *,
        openapi_url: str,
        oas: Mapping[str, ZaloOa],
        tokens: ZaloTokens,
        clock: Callable[[], dt.datetime],
        timeout: float = 20.0,
    ) -> None:
        self._http = http
        self._url = openapi_url.rstrip("/") + "/v3.0/oa/message/cs"
        self._oas = oas
        self._tokens = tokens
        self._now = clock
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def send(self, message: OutboundMessage) -> str:
        """Send one reply inside Zalo's window; Zalo's ``message_id``."""
        if message.page_id not in self._oas:
            raise SendError(f"OA {message.page_id} chưa được cấu hình.", retryable=False)
        decision = window.permit(last_member_at=message.last_member_message_at, now=self._now())
        if isinstance(decision, window.Refusal):
            raise SendError(decision.reason, retryable=False)
        if decision.billed:
            log.info("outbox %s: Zalo bills this reply (past 48 h)", message.outbox_id)
        token = await self._token(message.page_id, None)
        body = await self._post(token, request_body(message))
        if body.get("error") in TOKEN_ERRORS:
            token = await self._token(message.page_id, token)
            body = await self._post(token, request_body(message))
        if body.get("error") != 0:
            raise zalo_error(body)
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        message_id = data.get("message_id")
        if not isinstance(message_id, str) or not message_id:
            raise SendError(f"Zalo trả lời không có message_id: {body}", retryable=True)
        return message_id

    async def typing(self, page_id: str, user_id: str) -> None:
        """Zalo has no typing indicator for OA chat."""

    async def _token(self, oa_id: str, rejected: str | None) -> str:
        try:
            if rejected is None:
                return await self._tokens.access_token(oa_id)
            return await self._tokens.refresh(oa_id, stale=rejected)
        except TokenError as exc:
            reason = f"Không có mã truy cập Zalo OA hợp lệ: {exc.reason}"
            raise SendError(reason, retryable=not exc.permanent) from exc

    async def _post(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            async with self._http.post(
                self._url, headers={"access_token": token}, json=body, timeout=self._timeout
            ) as response:
                if response.status >= 500:
                    raise SendError(f"Zalo lỗi máy chủ: HTTP {response.status}", retryable=True)
                payload = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise SendError(f"Không gọi được Zalo: {exc!r}", retryable=True) from exc
        if not isinstance(payload, dict) or "error" not in payload:
            raise SendError(
                f"Zalo trả lời không đúng định dạng: {payload!r}"[:300], retryable=True
            )
        return payload
