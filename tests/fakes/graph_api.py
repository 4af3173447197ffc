"""A fake Facebook Graph API (Messenger Send API) that validates and records what is sent.

Rules follow ../shared/platforms.md §4.1 (Send API), §5.1 (windows) and §7.1 (tokens):
``POST /{version}/me/messages`` or ``/{version}/{page_id}/messages`` with ``access_token`` in
the query string; errors use the Graph envelope
``{"error": {"message", "type", "code", "error_subcode"?, "fbtrace_id"}}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes._server import Clock, FakeServer, RecordedRequest

MESSAGING_TYPES = frozenset({"RESPONSE", "UPDATE", "MESSAGE_TAG"})
TAGS = frozenset(
    {
        "ACCOUNT_UPDATE",
        "CONFIRMED_EVENT_UPDATE",
        "POST_PURCHASE_UPDATE",
        "HUMAN_AGENT",
        "CUSTOMER_FEEDBACK",
    }
)
SENDER_ACTIONS = frozenset({"typing_on", "typing_off", "mark_seen"})
QUICK_REPLY_TYPES = frozenset({"text", "user_phone_number", "user_email"})
NOTIFICATION_TYPES = frozenset({"REGULAR", "SILENT_PUSH", "NO_PUSH"})
TOP_LEVEL_KEYS = frozenset(
    {"recipient", "messaging_type", "tag", "message", "sender_action", "notification_type"}
)
MESSAGE_KEYS = frozenset({"text", "quick_replies", "metadata"})
QUICK_REPLY_KEYS = frozenset({"content_type", "title", "payload", "image_url"})

STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)

WINDOW_MESSAGE = "(#10) This message is sent outside of allowed window."
INVALID_TOKEN_MESSAGE = "Invalid OAuth access token - Cannot parse access token"
EXPIRED_TOKEN_MESSAGE = (
    "Error validating access token: The session has been invalidated because the user changed"
    " their password or Facebook has changed the session for security reasons."
)


@dataclass(frozen=True)
class GraphMessage:
    """An accepted Send API message (``message`` present)."""

    page_id: str
    psid: str
    body: dict[str, Any]
    time: datetime
    message_id: str

    @property
    def text(self) -> str:
        return self.body["message"]["text"]

    @property
    def messaging_type(self) -> str:
        return self.body["messaging_type"]

    @property
    def tag(self) -> str | None:
        return self.body.get("tag")


@dataclass(frozen=True)
class GraphAction:
    """An accepted sender action (typing_on, typing_off, mark_seen)."""

    page_id: str
    psid: str
    action: str
    body: dict[str, Any]
    time: datetime


class InvalidSend(Exception):
    """A Send API body that breaks a documented rule (answered with code 100)."""


def graph_error(
    message: str, code: int, subcode: int | None = None, **extra: Any
) -> dict[str, Any]:
    """A Graph API error envelope with a fresh ``fbtrace_id``."""
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error.update(extra)
    error["fbtrace_id"] = "A" + secrets.token_urlsafe(15)
    return {"error": error}


def validate_send_body(content_type: str, body: Any) -> tuple[str, str | None]:
    """Check a Send API request body; return ``(psid, sender_action or None)``.

    Raises:
        InvalidSend: with the reason, when a documented rule is broken.
    """
    if content_type != "application/json":
        raise InvalidSend(f"Content-Type must be application/json, got {content_type!r}")
    if not isinstance(body, dict):
        raise InvalidSend("body must be a JSON object")
    unknown = set(body) - TOP_LEVEL_KEYS
    if unknown:
        raise InvalidSend(f"unknown parameters {sorted(unknown)}")
    psid = _check_recipient(body.get("recipient"))
    _check_notification_type(body)
    if "sender_action" in body:
        return psid, _check_sender_action(body)
    if "message" not in body:
        raise InvalidSend("one of message or sender_action is required")
    _check_type_and_tag(body)
    _check_message(body["message"])
    return psid, None


def _check_recipient(recipient: Any) -> str:
    if not isinstance(recipient, dict):
        raise InvalidSend("recipient must be an object")
    if set(recipient) != {"id"}:
        raise InvalidSend(f"recipient must hold exactly 'id', got {sorted(recipient)}")
    psid = recipient["id"]
    if not isinstance(psid, str) or not psid:
        raise InvalidSend("recipient.id must be a non-empty string")
    return psid


def _check_notification_type(body: dict[str, Any]) -> None:
    if "notification_type" in body and body["notification_type"] not in NOTIFICATION_TYPES:
        raise InvalidSend(f"notification_type must be one of {sorted(NOTIFICATION_TYPES)}")


def _check_sender_action(body: dict[str, Any]) -> str:
    action = body["sender_action"]
    if action not in SENDER_ACTIONS:
        raise InvalidSend(f"sender_action must be one of {sorted(SENDER_ACTIONS)}")
    if "message" in body:
        raise InvalidSend("sender_action must be sent in a separate request, without message")
    if "tag" in body:
        raise InvalidSend("tag is not allowed with sender_action")
    if "messaging_type" in body and body["messaging_type"] not in MESSAGING_TYPES:
        raise InvalidSend(f"messaging_type must be one of {sorted(MESSAGING_TYPES)}")
    return action


def _check_type_and_tag(body: dict[str, Any]) -> None:
    messaging_type = body.get("messaging_type")
    if messaging_type not in MESSAGING_TYPES:
        raise InvalidSend(f"messaging_type must be one of {sorted(MESSAGING_TYPES)}")
    if messaging_type != "MESSAGE_TAG":
        if "tag" in body:
            raise InvalidSend("tag is only allowed with messaging_type MESSAGE_TAG")
        return
    if body.get("tag") not in TAGS:
        raise InvalidSend(f"messaging_type MESSAGE_TAG needs a tag in {sorted(TAGS)}")


def _check_message(message: Any) -> None:
    if not isinstance(message, dict):
        raise InvalidSend("message must be an object")
    unknown = set(message) - MESSAGE_KEYS
    if unknown:
        raise InvalidSend(f"unknown message fields {sorted(unknown)}")
    text = message.get("text")
    if not isinstance(text, str) or not text:
        raise InvalidSend("message.text must be a non-empty string")
    if len(text) >= 2000:
        raise InvalidSend(f"message.text must be less than 2000 characters, got {len(text)}")
    if "metadata" in message:
        metadata = message["metadata"]
        if not isinstance(metadata, str) or len(metadata) >= 1000:
            raise InvalidSend("message.metadata must be a string of less than 1000 characters")
    if "quick_replies" in message:
        _check_quick_replies(message["quick_replies"])


def _check_quick_replies(quick_replies: Any) -> None:
    # An empty list is refused too: it is always a gateway bug, whatever Meta does with it.
    if not isinstance(quick_replies, list) or not 1 <= len(quick_replies) <= 13:
        raise InvalidSend("message.quick_replies must be a list of 1 to 13 items")
    for index, item in enumerate(quick_replies):
        where = f"message.quick_replies[{index}]"
        if not isinstance(item, dict):
            raise InvalidSend(f"{where} must be an object")
        unknown = set(item) - QUICK_REPLY_KEYS
        if unknown:
            raise InvalidSend(f"unknown fields {sorted(unknown)} in {where}")
        if item.get("content_type") not in QUICK_REPLY_TYPES:
            raise InvalidSend(f"{where}.content_type must be one of {sorted(QUICK_REPLY_TYPES)}")
        if item["content_type"] == "text":
            _check_text_quick_reply(item, where)


def _check_text_quick_reply(item: dict[str, Any], where: str) -> None:
    title, payload = item.get("title"), item.get("payload")
    if not isinstance(title, str) or not 0 < len(title) <= 20:
        raise InvalidSend(f"{where}.title must be a non-empty string of at most 20 characters")
    if not isinstance(payload, str) or not 0 < len(payload) <= 1000:
        raise InvalidSend(f"{where}.payload must be a non-empty string of at most 1000 characters")


class FakeGraphApi(FakeServer):
    """A local Messenger Send API plus ``GET /me`` and ``GET /{page_id}/subscribed_apps``.

    Args:
        page_tokens: page id -> valid page access token (mutable: edit it to revoke a token).
        version: the only Graph version served, e.g. "v25.0".
        clock: the fake's notion of now (default: real UTC time).
        human_agent_pages: pages whose app holds the Human Agent feature.
        page_names: page id -> name returned by ``GET /me``.
        subscribed_apps: page id -> app entries returned by ``GET /{page_id}/subscribed_apps``.

    Records: ``requests`` (every request), ``sent`` (accepted ``GraphMessage``), ``actions``
    (accepted ``GraphAction``), ``rejected`` (``Rejection``), ``injected`` (``InjectedFailure``).
    Failure kinds for ``fail_next``: "500", "timeout", "429", "token_expired", "window",
    "user_unavailable".
    """

    FAILURE_KINDS = frozenset(
        {"500", "timeout", "429", "token_expired", "window", "user_unavailable"}
    )

    def __init__(
        self,
        page_tokens: dict[str, str],
        version: str = "v25.0",
        *,
        clock: Clock | None = None,
        human_agent_pages: Iterable[str] = (),
        page_names: Mapping[str, str] | None = None,
        subscribed_apps: Mapping[str, list[dict[str, Any]]] | None = None,
    ) -> None:
        super().__init__(clock)
        self.page_tokens = page_tokens
        self.version = version
        self.human_agent_pages: set[str] = set(human_agent_pages)
        self.page_names: dict[str, str] = dict(page_names or {})
        self.subscribed_apps: dict[str, list[dict[str, Any]]] = {
            page: list(apps) for page, apps in (subscribed_apps or {}).items()
        }
        self.last_user_message_at: dict[str, datetime] = {}
        self.sent: list[GraphMessage] = []
        self.actions: list[GraphAction] = []
        self.echoes_delivered = 0
        self._echo_targets: list[str] = []
        self._echo_secret = ""
        self._echo_app_id = 0
        self._echo_tasks: set[asyncio.Task[None]] = set()

    # test controls -----------------------------------------------------------------------------

    def user_wrote(self, psid: str, when: datetime | None = None) -> None:
        """Record that the user messaged the page at ``when`` (default: the fake's clock now)."""
        self.last_user_message_at[psid] = when if when is not None else self.clock()

    def subscribe(
        self, page_id: str, app_id: str, fields: Iterable[str], name: str = "Union bot"
    ) -> None:
        """Add an app subscription returned by ``GET /{page_id}/subscribed_apps``."""
        entry = {"id": app_id, "name": name, "subscribed_fields": list(fields)}
        self.subscribed_apps.setdefault(page_id, []).append(entry)

    def echo_to(self, webhook_urls: list[str], app_secret: str, app_id: int) -> None:
        """Deliver a signed ``message_echoes`` event for every accepted message, as Messenger
        does for a subscribed page: to the first of ``webhook_urls`` that answers 200, retried
        every half second (rotating through the URLs) until one does or the fake closes.
        """
        self._echo_targets = list(webhook_urls)
        self._echo_secret = app_secret
        self._echo_app_id = app_id

    async def close(self) -> None:
        """Stop echo deliveries still being retried, then stop serving."""
        for task in list(self._echo_tasks):
            task.cancel()
        await asyncio.gather(*self._echo_tasks, return_exceptions=True)
        await super().close()

    def texts_to(self, psid: str) -> list[str]:
        """Texts of the accepted messages to ``psid``, in the order they arrived."""
        return [message.text for message in self.sent if message.psid == psid]

    @property
    def base_url(self) -> str:
        """``url`` plus the version, e.g. ``http://127.0.0.1:41234/v25.0``."""
        return f"{self.url}/{self.version}"

    # server ------------------------------------------------------------------------------------

    def _routes(self, app: web.Application) -> None:
        app.router.add_post(f"/{self.version}/{{page_id}}/messages", self._messages)
        app.router.add_get(f"/{self.version}/me", self._me)
        app.router.add_get(f"/{self.version}/{{page_id}}/subscribed_apps", self._subscriptions)
        app.router.add_route("*", "/{tail:.*}", self._unknown)

    def _page_of_token(self, token: str | None) -> str | None:
        for page_id, page_token in self.page_tokens.items():
            if token and page_token == token:
                return page_id
        return None

    def _authorize(self, request: web.Request, recorded: RecordedRequest) -> str | web.Response:
        """The page the request acts for, or the code 190 rejection."""
        page_id = self._page_of_token(request.query.get("access_token"))
        wanted = request.match_info.get("page_id", "me")
        if page_id is None:
            reason = "missing or unknown access_token"
        elif wanted not in ("me", page_id):
            reason = f"the access_token belongs to page {page_id}, not {wanted}"
        else:
            return page_id
        challenge = f'OAuth "Facebook Platform" "invalid_token" "{INVALID_TOKEN_MESSAGE}"'
        headers = {"WWW-Authenticate": challenge}
        error = graph_error(INVALID_TOKEN_MESSAGE, 190)
        return self._reject(recorded, reason, error, status=400, headers=headers)

    async def _messages(self, request: web.Request) -> web.Response:
        recorded = await self._record(request)
        queued = self._take_failure(recorded)
        if queued is not None:
            failure = await self._failure_response(queued.kind, queued.delay, recorded)
            if failure is not None:
                return failure
        page_id = self._authorize(request, recorded)
        if isinstance(page_id, web.Response):
            return page_id
        try:
            psid, action = validate_send_body(recorded.content_type, recorded.body)
        except InvalidSend as exc:
            error = graph_error(f"(#100) {exc}", 100)
            return self._reject(recorded, str(exc), error, status=400)
        body: dict[str, Any] = recorded.body
        if action is not None:
            self.actions.append(GraphAction(page_id, psid, action, body, recorded.time))
            return web.json_response({"recipient_id": psid})
        refusal = self._window_refusal(page_id, psid, body, recorded.time)
        if refusal is not None:
            error = graph_error(WINDOW_MESSAGE, 10, 2018278)
            return self._reject(recorded, refusal, error, status=400)
        message_id = f"m_{uuid.uuid4().hex}"
        self.sent.append(GraphMessage(page_id, psid, body, recorded.time, message_id))
        if self._echo_targets:
            task = asyncio.create_task(self._deliver_echo(page_id, psid, body, message_id))
            self._echo_tasks.add(task)
            task.add_done_callback(self._echo_tasks.discard)
        return web.json_response({"recipient_id": psid, "message_id": message_id})

    async def _deliver_echo(
        self, page_id: str, psid: str, body: dict[str, Any], message_id: str
    ) -> None:
        message: dict[str, Any] = {
            "mid": message_id,
            "is_echo": True,
            "text": body["message"].get("text", ""),
            "app_id": self._echo_app_id,
        }
        if "metadata" in body["message"]:
            message["metadata"] = body["message"]["metadata"]
        now_ms = int(time.time() * 1000)
        event = {
            "sender": {"id": page_id},
            "recipient": {"id": psid},
            "timestamp": now_ms,
            "message": message,
        }
        raw = json.dumps(
            {"object": "page", "entry": [{"id": page_id, "time": now_ms, "messaging": [event]}]}
        ).encode()
        digest = hmac.new(self._echo_secret.encode(), raw, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}
        attempt = 0
        async with aiohttp.ClientSession() as http:
            while True:
                url = self._echo_targets[attempt % len(self._echo_targets)]
                attempt += 1
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    timeout = aiohttp.ClientTimeout(total=5)
                    async with http.post(url, data=raw, headers=headers, timeout=timeout) as r:
                        if r.status == 200:
                            self.echoes_delivered += 1
                            return
                await asyncio.sleep(0.5)

    def _window_refusal(
        self, page_id: str, psid: str, body: dict[str, Any], now: datetime
    ) -> str | None:
        """Why the message is outside its allowed window, or None if it may go out.

        HUMAN_AGENT needs the page's Human Agent feature whether or not the user is known;
        the other tags are not window-checked; a user never seen is not window-checked.
        """
        tag = body.get("tag")
        if tag == "HUMAN_AGENT" and page_id not in self.human_agent_pages:
            return f"page {page_id} does not have the Human Agent feature"
        last = self.last_user_message_at.get(psid)
        if last is None or (tag is not None and tag != "HUMAN_AGENT"):
            return None
        limit = HUMAN_AGENT_WINDOW if tag == "HUMAN_AGENT" else STANDARD_WINDOW
        if now - last > limit:
            return f"user {psid} last wrote {now - last} ago, beyond the {limit} window"
        return None

    async def _failure_response(
        self, kind: str, delay: float | None, recorded: RecordedRequest
    ) -> web.Response | None:
        """The response for an injected failure; None to process the request normally."""
        if kind == "timeout":
            if await self._hang(delay):
                return None
            return web.Response(status=503, text="fake closed")
        if kind == "500":
            error = graph_error(
                "An unexpected error has occurred. Please retry your request later.",
                2,
                is_transient=True,
            )
            return self._reject(recorded, "injected 500", error, status=500)
        if kind == "429":
            error = graph_error("(#613) Calls to this API have exceeded the rate limit.", 613)
            headers = {"Retry-After": "2"}
            return self._reject(recorded, "injected 429", error, status=429, headers=headers)
        error = {
            "token_expired": graph_error(EXPIRED_TOKEN_MESSAGE, 190, 460),
            "window": graph_error(WINDOW_MESSAGE, 10, 2018278),
            "user_unavailable": graph_error(
                "(#551) This person isn't available right now.", 551, 1545041
            ),
        }[kind]
        return self._reject(recorded, f"injected {kind}", error, status=400)

    async def _me(self, request: web.Request) -> web.Response:
        recorded = await self._record(request)
        page_id = self._authorize(request, recorded)
        if isinstance(page_id, web.Response):
            return page_id
        name = self.page_names.get(page_id, f"Page {page_id}")
        return web.json_response({"id": page_id, "name": name})

    async def _subscriptions(self, request: web.Request) -> web.Response:
        recorded = await self._record(request)
        page_id = self._authorize(request, recorded)
        if isinstance(page_id, web.Response):
            return page_id
        return web.json_response({"data": self.subscribed_apps.get(page_id, [])})

    async def _unknown(self, request: web.Request) -> web.Response:
        recorded = await self._record(request)
        reason = f"unknown path {request.method} {request.path} (fake serves {self.version})"
        error = graph_error(f"Unknown path components: {request.path}", 2500)
        return self._reject(recorded, reason, error, status=400)
