"""The README's console walk-through on the real stack (gateway, Rasa, action server; SQLite and
PostgreSQL): an admin is created with the command, a sandbox member asks for a person, the
conversation appears live in the console, staff take it, reply (the member gets the reply),
hand it back, and the bot answers the member's next question."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright, expect

from tests.e2e.conftest import Stack
from tests.helpers.sandbox_client import Member
from tools.paths import ROOT

pytestmark = pytest.mark.stack

PASSWORD = "mat-khau-quan-tri"


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"]
        )
        yield browser
        await browser.close()


async def make_admin(stack: Stack) -> None:
    """``make admin`` as the README says (the password from the environment, no terminal)."""
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot.staff_command", "--username", "admin", "--name", "Quản trị"],
        env={
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": stack.database_url,
            "CONSOLE_PASSWORD": PASSWORD,
            "PATH": "/usr/bin:/bin",
        },
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 or "đã có" in result.stderr, result.stderr


async def test_staff_handle_an_escalated_sandbox_conversation(stack: Stack, browser, http):
    await make_admin(stack)
    context = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN")
    page = await context.new_page()
    await page.goto(f"{stack.base_url}/console")
    await page.get_by_label("Tên đăng nhập").fill("admin")
    await page.get_by_label("Mật khẩu").fill(PASSWORD)
    await page.get_by_role("button", name="Đăng nhập").click()
    await expect(page.get_by_role("heading", name="Hàng chờ")).to_be_visible()

    member = Member(http, stack.base_url)
    sent = await member.say("tôi muốn gặp cán bộ")
    [holding] = await member.replies(1)
    assert holding["kind"] == "handoff"

    # the conversation appears without a reload
    item = page.locator(f'[data-conversation="{sent["conversation_id"]}"]')
    await expect(item).to_be_visible(timeout=10_000)
    await item.click()
    await page.get_by_role("button", name="Nhận xử lý").click()
    await expect(page.locator(".convo-sub")).to_contain_text("Bạn đang xử lý")
    await page.get_by_label("Trả lời thành viên").fill("Chào bạn, mình là cán bộ công đoàn.")
    await page.get_by_role("button", name="Gửi").click()

    [staff_reply] = await member.replies(1)
    assert (staff_reply["author"], staff_reply["text"]) == (
        "staff",
        "Chào bạn, mình là cán bộ công đoàn.",
    )
    await expect(page.locator(".bubble.from-staff .delivery")).to_have_text(
        "Đã gửi", timeout=10_000
    )

    # while staff hold it, the bot stays silent
    await member.say("cảm ơn anh chị")
    await asyncio.sleep(2)
    assert [
        m for m in (await member.messages(member.seen))["messages"] if m["author"] != "member"
    ] == []

    await page.get_by_role("button", name="Trả bot").click()
    await expect(page.locator(".convo-sub .badge")).to_have_text("Bot đang trả lời")
    await member.say("lương tối thiểu vùng 1 năm 2026 là bao nhiêu")
    answers = await member.replies(1)
    assert answers[-1]["author"] == "bot" and "5.310.000" in answers[-1]["text"]
    await context.close()
