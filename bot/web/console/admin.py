"""The console's reports, audit log and staff management."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from aiohttp import web
from sqlalchemy import select

from bot.db.models import AuditEntry, StaffUser
from bot.lib.passwords import hash_password, password_problem
from bot.ops import staff as staff_ops
from bot.reports.command import bounds
from bot.reports.ledger_report import LOCAL_TZ, build_report
from bot.reports.load import load_records
from bot.web import keys
from bot.web.body import json_body
from bot.web.console.auth import Staff, require_staff
from bot.web.errors import json_error

AUDIT_LIMIT = 200


async def require_admin(request: web.Request) -> Staff:
    """The signed-in admin; 403 for staff."""
    found = await require_staff(request)
    if not found.is_admin:
        raise web.HTTPForbidden(
            text='{"error": "Chỉ quản trị viên được làm việc này."}',
            content_type="application/json",
        )
    return found


async def reports(request: web.Request) -> web.Response:
    """``GET /console/api/reports?month=|week=|from=&to=``: the report of the user's pages."""
    found = await require_staff(request)
    now = request.app[keys.CLOCK]()
    period = argparse.Namespace(
        month=request.query.get("month"),
        week=request.query.get("week"),
        start=request.query.get("from"),
        end=request.query.get("to"),
    )
    try:
        start, end = bounds(period, now.astimezone(LOCAL_TZ).date())
    except ValueError:
        return json_error(400, "Khoảng thời gian không hợp lệ.")
    async with request.app[keys.SESSIONS]() as session:
        records = await load_records(session, start, end)
    records = [r for r in records if found.is_admin or (r.channel, r.page_id) in found.pages]
    report = build_report(records, start, end, now)
    return web.json_response(
        {
            "period": {"start": start.isoformat(), "end": end.isoformat()},
            "overall": dataclasses.asdict(report.overall),
            "open_by_time_left": report.open_by_time_left,
            "breakdowns": {
                key: [[label, dataclasses.asdict(figures)] for label, figures in rows]
                for key, rows in report.breakdowns.items()
            },
        }
    )


async def audit(request: web.Request) -> web.Response:
    """``GET /console/api/audit``: the latest staff actions (admins)."""
    await require_admin(request)
    async with request.app[keys.SESSIONS]() as session:
        rows = await session.execute(
            select(AuditEntry, StaffUser.username)
            .outerjoin(StaffUser, StaffUser.id == AuditEntry.user_id)
            .order_by(AuditEntry.id.desc())
            .limit(AUDIT_LIMIT)
        )
        entries = [
            {
                "at": a.created_at.isoformat(),
                "user": user,
                "action": a.action,
                "target": a.target,
                "detail": a.detail,
            }
            for a, user in rows.all()
        ]
    return web.json_response({"entries": entries})


def _pages(value: Any) -> list[tuple[str, str]]:
    pages = [(str(c), str(p)) for c, p in value]
    if any(c not in ("facebook", "zalo", "sandbox") or not p for c, p in pages):
        raise ValueError("bad page")
    return pages


async def _account(session, user: StaffUser) -> dict[str, Any]:
    pages = sorted(await staff_ops.user_pages(session, user.id))
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "active": user.active,
        "pages": [list(p) for p in pages],
    }


async def list_staff(request: web.Request) -> web.Response:
    """``GET /console/api/staff`` (admins)."""
    await require_admin(request)
    async with request.app[keys.SESSIONS]() as session:
        users = (await session.execute(select(StaffUser).order_by(StaffUser.username))).scalars()
        shown = [await _account(session, u) for u in users]
    return web.json_response({"staff": shown})


async def create_staff(request: web.Request) -> web.Response:
    """``POST /console/api/staff`` (admins): a new account with its pages."""
    found = await require_admin(request)
    try:
        body = await json_body(request)
        username, name = str(body["username"]).strip(), str(body["display_name"]).strip()
        password, role = str(body["password"]), str(body.get("role") or "staff")
        pages = _pages(body.get("pages") or [])
    except (ValueError, KeyError, TypeError):
        return json_error(
            400, "Thiếu tên đăng nhập, tên hiển thị, mật khẩu hoặc trang không hợp lệ."
        )
    if not username or not name or role not in staff_ops.ROLES:
        return json_error(400, "Tên đăng nhập, tên hiển thị và vai trò là bắt buộc.")
    problem = password_problem(password)
    if problem:
        return json_error(400, problem)
    now = request.app[keys.CLOCK]()
    async with request.app[keys.SESSIONS]() as session, session.begin():
        if await staff_ops.find_user(session, username) is not None:
            return json_error(409, f"Tên đăng nhập {username} đã có.")
        user = await staff_ops.do_create_user(
            session,
            username=username,
            display_name=name,
            password_hash=hash_password(password),
            role=role,
            now=now,
        )
        await staff_ops.do_set_pages(session, user.id, pages)
        await staff_ops.do_audit(
            session, found.user.id, "create_user", username, now, {"role": role}
        )
        shown = await _account(session, user)
    return web.json_response(shown, status=201)


async def update_staff(request: web.Request) -> web.Response:
    """``PUT /console/api/staff/{id}`` (admins): name, role, active, pages, password."""
    found = await require_admin(request)
    try:
        body = await json_body(request)
        user_id = int(request.match_info["user_id"])
        pages = _pages(body["pages"]) if "pages" in body else None
    except (ValueError, KeyError, TypeError):
        return json_error(400, "Dữ liệu không hợp lệ.")
    if "password" in body and password_problem(str(body["password"])):
        return json_error(400, password_problem(str(body["password"])) or "")
    if body.get("role") is not None and body["role"] not in staff_ops.ROLES:
        return json_error(400, "Vai trò không hợp lệ.")
    now = request.app[keys.CLOCK]()
    async with request.app[keys.SESSIONS]() as session, session.begin():
        user = await session.get(StaffUser, user_id)
        if user is None:
            return json_error(404, "Không có tài khoản này.")
        changes = await staff_ops.do_update_user(
            session,
            user,
            display_name=body.get("display_name"),
            role=body.get("role"),
            active=body.get("active"),
            password_hash=hash_password(str(body["password"])) if "password" in body else None,
            pages=pages,
        )
        await staff_ops.do_audit(
            session, found.user.id, "update_user", user.username, now, {"changed": changes}
        )
        shown = await _account(session, user)
    return web.json_response(shown)
