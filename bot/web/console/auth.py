"""Staff sign-in: scrypt passwords, lockout, session cookies, CSRF tokens, page scopes.

The session cookie is HttpOnly and SameSite=Strict (Secure with ``CONSOLE_SECURE_COOKIES``);
the database keeps only the token's hash. Every state-changing API call must carry the
session's CSRF token in ``X-CSRF-Token``; sign-in itself must be JSON (a cross-site form cannot
send that).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy import ColumnElement, and_, false, or_, true

from bot.db.models import Conversation, StaffSession, StaffUser
from bot.lib.passwords import hash_password, verify_password
from bot.ops import staff
from bot.web import keys, ratelimit
from bot.web.body import json_body
from bot.web.errors import json_error

COOKIE = "cd_session"
SESSION_LIFETIME = dt.timedelta(hours=12)
DUMMY_HASH = hash_password("timing-equaliser-not-a-password")


@dataclass(frozen=True)
class Staff:
    """The signed-in staff member of a request."""

    user: StaffUser
    csrf_token: str
    pages: frozenset[tuple[str, str]]  # empty for admins, who see every page

    @property
    def is_admin(self) -> bool:
        """Admins manage pages and staff and see every page."""
        return self.user.role == "admin"

    def sees(self, conversation: Conversation) -> bool:
        """Whether the conversation is on one of the user's pages."""
        return self.is_admin or (conversation.channel, conversation.page_id) in self.pages


def token_hash(token: str) -> str:
    """What the database stores for a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


async def current_staff(request: web.Request) -> Staff | None:
    """The signed-in staff member, from the session cookie."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    now = request.app[keys.CLOCK]()
    async with request.app[keys.SESSIONS]() as session:
        stored = await session.get(StaffSession, token_hash(token))
        if stored is None or stored.expires_at <= now:
            return None
        user = await session.get(StaffUser, stored.user_id)
        if user is None or not user.active:
            return None
        pages = frozenset() if user.role == "admin" else await staff.user_pages(session, user.id)
    return Staff(user, stored.csrf_token, pages)


async def require_staff(request: web.Request) -> Staff:
    """The signed-in staff member; 401 otherwise, 403 for a missing or wrong CSRF token."""
    found = await current_staff(request)
    if found is None:
        raise web.HTTPUnauthorized(
            text=json.dumps({"error": "Bạn cần đăng nhập."}), content_type="application/json"
        )
    if request.method not in ("GET", "HEAD"):
        sent = request.headers.get("X-CSRF-Token", "")
        if not hmac.compare_digest(sent, found.csrf_token):
            raise web.HTTPForbidden(
                text=json.dumps({"error": "Phiên làm việc không hợp lệ, hãy tải lại trang."}),
                content_type="application/json",
            )
    return found


async def login(request: web.Request) -> web.Response:
    """``POST /console/api/login`` with ``{"username", "password"}``."""
    if request.content_type != "application/json":
        return json_error(415, "Cần gửi dữ liệu dạng JSON.")
    try:
        body = await json_body(request)
        username, password = str(body["username"]).strip(), str(body["password"])
    except (ValueError, KeyError, TypeError):
        return json_error(400, "Thiếu tên đăng nhập hoặc mật khẩu.")
    refused = ratelimit.refuse_sign_in(request, username)
    if refused is not None:
        return refused
    now = request.app[keys.CLOCK]()
    async with request.app[keys.SESSIONS]() as session, session.begin():
        user = await staff.find_user(session, username)
        if user is not None and user.locked_until is not None and user.locked_until > now:
            return json_error(
                423, "Tài khoản tạm khóa do nhập sai nhiều lần. Thử lại sau 15 phút."
            )
        ok = verify_password(password, user.password_hash if user else DUMMY_HASH)
        if user is None or not user.active or not ok:
            if user is not None:
                await staff.do_note_failed_login(session, user, now)
                await staff.do_audit(session, user.id, "login_failed", user.username, now)
            return json_error(401, "Sai tên đăng nhập hoặc mật khẩu.")
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        await staff.do_start_session(session, user, token_hash(token), csrf, now, SESSION_LIFETIME)
        await staff.do_audit(session, user.id, "login", user.username, now)
        identity = {
            "username": user.username,
            "display_name": user.display_name,
            "role": user.role,
        }
    ratelimit.forgive_sign_in(request, username)
    response = web.json_response({**identity, "csrf_token": csrf})
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="Strict",
        secure=request.app[keys.SETTINGS].console_secure_cookies,
        path="/console",
    )
    return response


async def logout(request: web.Request) -> web.Response:
    """``POST /console/api/logout``."""
    me = await require_staff(request)
    async with request.app[keys.SESSIONS]() as session, session.begin():
        await staff.do_end_session(session, token_hash(request.cookies[COOKIE]))
        await staff.do_audit(
            session, me.user.id, "logout", me.user.username, request.app[keys.CLOCK]()
        )
    response = web.json_response({"ok": True})
    response.del_cookie(COOKIE, path="/console")
    return response


async def me(request: web.Request) -> web.Response:
    """``GET /console/api/me``: who is signed in, their pages and the CSRF token."""
    found = await require_staff(request)
    return web.json_response(
        {
            "username": found.user.username,
            "display_name": found.user.display_name,
            "role": found.user.role,
            "pages": sorted([list(p) for p in found.pages]),
            "csrf_token": found.csrf_token,
        }
    )


async def conversation_in_scope(
    request: web.Request, found: Staff, conversation_id: int | None = None
) -> Conversation:
    """The conversation (named in the URL unless given), if the user may see it.

    404 otherwise, never 403: other pages' conversations do not exist for them.
    """
    if conversation_id is None:
        try:
            conversation_id = int(request.match_info["conversation_id"])
        except ValueError as exc:
            raise web.HTTPNotFound() from exc
    async with request.app[keys.SESSIONS]() as session:
        conversation = await session.get(Conversation, conversation_id)
    if conversation is None or not found.sees(conversation):
        raise web.HTTPNotFound(
            text=json.dumps({"error": "Không tìm thấy cuộc trò chuyện."}),
            content_type="application/json",
        )
    return conversation


def scope_filter(found: Staff) -> ColumnElement[bool]:
    """A WHERE clause limiting conversations to the user's pages (none for admins)."""
    if found.is_admin:
        return true()
    if not found.pages:
        return false()
    return or_(
        *(and_(Conversation.channel == c, Conversation.page_id == p) for c, p in found.pages)
    )
