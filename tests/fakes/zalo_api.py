"""A fake Zalo OA Open API (v3 CS messages) and OAuth v4 token endpoint on one local server.

Rules follow ../shared/platforms.md §4.2 (send), §5.2 (windows) and §7.2 (tokens). Zalo
answers errors with HTTP 200 and a non-zero ``error``; the fake does the same. Point both the
``openapi.zalo.me`` and the ``oauth.zaloapp.com`` base URLs of the gateway at ``url``.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from aiohttp import web

from tests.fakes._server import Clock, FakeServer, RecordedRequest, Rejection

SEND_PATH = "/v3.0/oa/message/cs"
TOKEN_PATH = "/v4/oa/access_token"

FREE_WINDOW = timedelta(hours=48)
SEND_WINDOW = timedelta(days=7)
MAX_TEXT = 2000
MAX_BUTTONS = 5
BUTTON_TYPES = frozenset(
    {"oa.query.show", "oa.query.hide", "oa.open.url", "oa.open.phone", "oa.open.sms"}
)

ERROR_MESSAGES = {
    -201: "Parameters are invalid",
    -216: "Access token is invalid",
    -220: "access_token is expired or removed",
    -230: "User has not interacted with the OA in the past 7 days",
    -32: "Request exceeds the rate limit",  # wording UNCONFIRMED; the code is from platforms.md
}

# OAuth v4 error codes. platforms.md documents no refresh error code ("treat any non-zero
# refresh error as terminal"); -14014 is what public integration code expects for a bad
# refresh token and -14003 is reported for invalid parameters. Neither is confirmed: tests of
# the gateway should only rely on "error is present and non-zero".
INVALID_REFRESH_TOKEN = -14014
INVALID_OAUTH_PARAMETER = -14003


@dataclass
class ZaloOa:
    """One Official Account and its app credentials; the tokens change on every refresh."""

    app_id: str
    app_secret: str
    access_token: str
    refresh_token: str


@dataclass(frozen=True)
class ZaloMessage:
    """An accepted CS message."""

    oa_id: str
    user_id: str
    body: dict[str, Any]
    time: datetime
    message_id: str
    quota_type: str

    @property
    def text(self) -> str:
        return self.body["message"]["text"]


class RefreshCall(NamedTuple):
    """One call of the OAuth token endpoint (compares equal to a plain 3-tuple)."""

    app_id: str
    refresh_token: str
    ok: bool


class InvalidZaloSend(Exception):
    """A CS message body that breaks a documented rule (answered with -201)."""


def zalo_error(code: int, message: str | None = None) -> dict[str, Any]:
    """An Open API error body (sent with HTTP 200)."""
    return {"error": code, "message": message or ERROR_MESSAGES[code]}


def oauth_error(code: int, name: str, description: str) -> dict[str, Any]:
    """An OAuth v4 error body (sent with HTTP 200)."""
    return {"error": code, "error_name": name, "error_description": description}


def validate_cs_body(content_type: str, body: Any) -> str:
    """Check a CS message request body; return the recipient user id.

    Raises:
        InvalidZaloSend: with the reason, when a documented rule is broken.
    """
    if content_type != "application/json":
        raise InvalidZaloSend(f"Content-Type must be application/json, got {content_type!r}")
    if not isinstance(body, dict) or set(body) != {"recipient", "message"}:
        raise InvalidZaloSend("body must be an object with exactly recipient and message")
    recipient = body["recipient"]
    if not isinstance(recipient, dict) or set(recipient) != {"user_id"}:
        raise InvalidZaloSend("recipient must be an object with exactly user_id")
    user_id = recipient["user_id"]
    if not isinstance(user_id, str) or not user_id.isdigit():
        raise InvalidZaloSend("recipient.user_id must be a string of digits")
    _check_message(body["message"])
    return user_id


def _check_message(message: Any) -> None:
    if not isinstance(message, dict):
        raise InvalidZaloSend("message must be an object")
    unknown = set(message) - {"text", "quote_message_id", "attachment"}
    if unknown:
        raise InvalidZaloSend(f"unknown message fields {sorted(unknown)}")
    text = message.get("text")
    if not isinstance(text, str) or not text:
        raise InvalidZaloSend("message.text must be a non-empty string")
    if len(text) > MAX_TEXT:
        raise InvalidZaloSend(
            f"message.text must be at most {MAX_TEXT} characters, got {len(text)}"
        )
    if "quote_message_id" in message:
        quoted = message["quote_message_id"]
        if not isinstance(quoted, str) or not quoted:
            raise InvalidZaloSend("message.quote_message_id must be a non-empty string")
    if "attachment" in message:
        _check_button_template(message["attachment"])


def _check_button_template(attachment: Any) -> None:
    """Only the button template of platforms.md §4.2 is modelled (no media or file)."""
    if not isinstance(attachment, dict) or attachment.get("type") != "template":
        raise InvalidZaloSend("message.attachment must be an object of type 'template'")
    payload = attachment.get("payload")
    if not isinstance(payload, dict) or payload.get("template_type") != "button":
        raise InvalidZaloSend("only attachment.payload.template_type 'button' is modelled")
    buttons = payload.get("buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_BUTTONS:
        raise InvalidZaloSend(f"attachment.payload.buttons must hold 1 to {MAX_BUTTONS} buttons")
    for index, button in enumerate(buttons):
        _check_button(button, f"buttons[{index}]")


def _check_button(button: Any, where: str) -> None:
    if not isinstance(button, dict) or button.get("type") not in BUTTON_TYPES:
        raise InvalidZaloSend(f"{where}.type must be one of {sorted(BUTTON_TYPES)}")
    title = button.get("title")
    if not isinstance(title, str) or not title:
        raise InvalidZaloSend(f"{where}.title must be a non-empty string")
    kind, payload = button["type"], button.get("payload")
    if kind in ("oa.query.show", "oa.query.hide"):
        valid = isinstance(payload, str) and bool(payload)
    elif kind == "oa.open.url":
        valid = isinstance(payload, dict) and isinstance(payload.get("url"), str)
        valid = valid and payload["url"].startswith(("http://", "https://"))
    else:
        # oa.open.phone / oa.open.sms: platforms.md names no payload; Zalo's docs use an
        # object with "phone_code" (plus "content" for SMS). UNCONFIRMED, checked loosely.
        valid = isinstance(payload, dict) and isinstance(payload.get("phone_code"), str)
    if not valid:
        raise InvalidZaloSend(f"{where}.payload is not valid for {kind}")


class FakeZaloApi(FakeServer):
    """A local Zalo OA API serving ``POST /v3.0/oa/message/cs`` and ``POST /v4/oa/access_token``.

    Args:
        oas: OA id -> ``ZaloOa``; the objects are mutated in place on every refresh.
        clock: the fake's notion of now (default: real UTC time).
        revoke_old_access_token: whether a refresh kills the previous access token (-216).

    Records: ``requests`` (every request), ``sent`` (accepted ``ZaloMessage``), ``rejected``
    (``Rejection``), ``injected`` (``InjectedFailure``), ``refresh_calls`` (``RefreshCall``).
    Failure kinds for ``fail_next``: "500" (HTTP 500, plain text body), "timeout",
    "rate_limit" (-32), "window" (-230), "token_expired" (-216, once).
    """

    FAILURE_KINDS = frozenset({"500", "timeout", "rate_limit", "window", "token_expired"})

    def __init__(
        self,
        oas: dict[str, ZaloOa],
        *,
        clock: Clock | None = None,
        revoke_old_access_token: bool = True,
    ) -> None:
        super().__init__(clock)
        self.oas = oas
        self.revoke_old_access_token = revoke_old_access_token
        self.refresh_delay: float = 0.0
        self.last_interaction_at: dict[str, datetime] = {}
        self.sent: list[ZaloMessage] = []
        self.refresh_calls: list[RefreshCall] = []
        self._expired: dict[str, int] = {}
        self._replaced: dict[str, str] = {}  # old access token -> oa id

    # test controls -----------------------------------------------------------------------------

    @property
    def openapi_url(self) -> str:
        """Stands in for ``https://openapi.zalo.me``."""
        return self.url

    @property
    def oauth_url(self) -> str:
        """Stands in for ``https://oauth.zaloapp.com``."""
        return self.url

    def user_interacted(self, user_id: str, when: datetime | None = None) -> None:
        """Record the user's last interaction with the OA (default: the fake's clock now)."""
        self.last_interaction_at[user_id] = when if when is not None else self.clock()

    def expire_token(self, oa_id: str, code: int = -216) -> None:
        """Make the OA's current access token fail with ``code`` (-216 or -220) until refresh."""
        if code not in (-216, -220):
            raise ValueError("code must be -216 or -220")
        self._expired[self.oas[oa_id].access_token] = code

    def texts_to(self, user_id: str) -> list[str]:
        """Texts of the accepted messages to ``user_id``, in the order they arrived."""
        return [message.text for message in self.sent if message.user_id == user_id]

    # server ------------------------------------------------------------------------------------

    def _routes(self, app: web.Application) -> None:
        app.router.add_post(SEND_PATH, self._send)
        app.router.add_post(TOKEN_PATH, self._token)
        app.router.add_route("*", "/{tail:.*}", self._unknown)

    def _authorize(self, request: web.Request, recorded: RecordedRequest) -> str | web.Response:
        """The OA the ``access_token`` header belongs to, or the -216/-220 rejection."""
        token = request.headers.get("access_token")
        if token is not None and token in self._expired:
            code = self._expired[token]
            return self._reject(recorded, f"expired access token ({code})", zalo_error(code))
        for oa_id, oa in self.oas.items():
            if token and oa.access_token == token:
                return oa_id
        if token in self._replaced and not self.revoke_old_access_token:
            return self._replaced[token]
        if token is None:
            reason = "missing access_token header"
            if "Authorization" in request.headers:
                reason += " (Zalo does not read Authorization)"
        elif token in self._replaced:
            reason = f"access token of OA {self._replaced[token]} was replaced by a refresh"
        else:
            reason = "unknown access token"
        return self._reject(recorded, reason, zalo_error(-216))

    async def _send(self, request: web.Request) -> web.Response:
        recorded = await self._record(request)
        queued = self._take_failure(recorded)
        if queued is not None:
            failure = await self._failure_response(queued.kind, queued.delay, recorded)
            if failure is not None:
                return failure
        oa_id = self._authorize(request, recorded)
        if isinstance(oa_id, web.Response):
            return oa_id
        try:
            user_id = validate_cs_body(recorded.content_type, recorded.body)
        except InvalidZaloSend as exc:
            return self._reject(recorded, str(exc), zalo_error(-201))
        now = recorded.time
        last = self.last_interaction_at.get(user_id)
        if last is not None and now - last > SEND_WINDOW:
            reason = f"user {user_id} last interacted {now - last} ago, beyond 7 days"
            return self._reject(recorded, reason, zalo_error(-230))
        quota_type = "sub_quota" if last is not None and now - last > FREE_WINDOW else "reply"
        message_id = secrets.token_hex(16)
        self.sent.append(ZaloMessage(oa_id, user_id, recorded.body, now, message_id, quota_type))
        data = {
            "message_id": message_id,
            "user_id": user_id,
            "sent_time": str(int(now.timestamp() * 1000)),
            "quota": {"quota_type": quota_type},
        }
        return web.json_response({"error": 0, "message": "Success", "data": data})

    async def _failure_response(
        self, kind: str, delay: float | None, recorded: RecordedRequest
    ) -> web.Response | None:
        """The response for an injected failure; None to process the request normally."""
        if kind == "timeout":
            if await self._hang(delay):
                return None
            return web.Response(status=503, text="fake closed")
        if kind == "500":
            self.rejected.append(Rejection(recorded, "injected 500", 500, {}))
            return web.Response(status=500, text="Internal Server Error")
        code = {"rate_limit": -32, "window": -230, "token_expired": -216}[kind]
        return self._reject(recorded, f"injected {kind}", zalo_error(code))

    async def _token(self, request: web.Request) -> web.Response:
        recorded = await self._record(request)
        form = recorded.body if isinstance(recorded.body, dict) else {}
        app_id = str(form.get("app_id", ""))
        refresh_token = str(form.get("refresh_token", ""))
        problem = self._oauth_problem(request, recorded.content_type, form, app_id)
        if problem is not None:
            self.refresh_calls.append(RefreshCall(app_id, refresh_token, False))
            error = oauth_error(INVALID_OAUTH_PARAMETER, "Invalid parameter", problem)
            return await self._oauth_reply(self._reject(recorded, problem, error))
        oa_id = self._oa_of_refresh_token(app_id, refresh_token)
        self.refresh_calls.append(RefreshCall(app_id, refresh_token, oa_id is not None))
        if oa_id is None:
            reason = "refresh token is not the current one for this app (used, unknown)"
            error = oauth_error(INVALID_REFRESH_TOKEN, "Invalid refresh token", reason)
            return await self._oauth_reply(self._reject(recorded, reason, error))
        self._rotate(oa_id)
        oa = self.oas[oa_id]
        body = {
            "access_token": oa.access_token,
            "refresh_token": oa.refresh_token,
            "expires_in": "90000",
        }
        return await self._oauth_reply(web.json_response(body))

    def _oauth_problem(
        self, request: web.Request, content_type: str, form: dict[str, Any], app_id: str
    ) -> str | None:
        if content_type != "application/x-www-form-urlencoded":
            return f"body must be form-encoded, got {content_type!r}"
        if form.get("grant_type") != "refresh_token":
            return "grant_type must be refresh_token (authorization_code is not modelled)"
        secrets_of_app = {oa.app_secret for oa in self.oas.values() if oa.app_id == app_id}
        if not secrets_of_app:
            return f"unknown app_id {app_id!r}"
        if request.headers.get("secret_key") not in secrets_of_app:
            return "secret_key header does not match the app secret"
        return None

    def _oa_of_refresh_token(self, app_id: str, refresh_token: str) -> str | None:
        for oa_id, oa in self.oas.items():
            if refresh_token and (oa.app_id, oa.refresh_token) == (app_id, refresh_token):
                return oa_id
        return None

    def _rotate(self, oa_id: str) -> None:
        """Issue new tokens; the old refresh token is dead, the old access token per config."""
        oa = self.oas[oa_id]
        self._replaced[oa.access_token] = oa_id
        oa.access_token = f"zat_{secrets.token_hex(16)}"
        oa.refresh_token = f"zrt_{secrets.token_hex(16)}"

    async def _oauth_reply(self, response: web.Response) -> web.Response:
        if self.refresh_delay:
            await asyncio.sleep(self.refresh_delay)
        return response

    async def _unknown(self, request: web.Request) -> web.Response:
        recorded = await self._record(request)
        reason = f"unknown path {request.method} {request.path}"
        return self._reject(recorded, reason, {"error": 404, "message": "Not Found"}, status=404)
