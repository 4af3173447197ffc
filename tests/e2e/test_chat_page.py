"""The sandbox chat page in headless Chromium, against the real stack: a member types, taps
quick replies and reads the answers like in Messenger."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright, expect

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.stack

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = shutil.which("chromium")
    assert executable, "chromium is missing: `make test` installs it (tools/setup.sh --test)"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


async def test_member_chats_on_a_phone_sized_screen(stack: Stack, browser: Browser):
    page = await browser.new_page(viewport={"width": 390, "height": 844}, locale="vi-VN")
    await page.goto(f"{stack.base_url}/chat")
    await expect(page.get_by_role("heading")).to_have_text("Công đoàn hỏi đáp")

    await page.get_by_placeholder("Nhập câu hỏi của bạn…").fill("luong toi thieu vung 1")
    await page.get_by_role("button", name="Gửi").click()
    answer = page.locator(".msg--bot").last
    await expect(answer).to_contain_text("5.310.000", timeout=60_000)
    await expect(answer).to_contain_text("293/2025/NĐ-CP")
    await expect(page.locator(".msg--member")).to_have_text(["luong toi thieu vung 1"])
    await expect(page.locator("#quick button")).to_have_text(
        ["Hữu ích", "Chưa đúng", "Gặp cán bộ"]
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / "sandbox-chat-answer.png")

    await page.get_by_role("button", name="Gặp cán bộ").click()
    handoff = page.locator(".msg--bot").last
    await expect(handoff).to_contain_text("24 giờ", timeout=60_000)
    await expect(page.locator("#status")).to_have_text(
        "Cán bộ công đoàn sẽ trả lời bạn trong vòng 24 giờ"
    )
    await expect(page.locator(".msg--member").last).to_have_text("Gặp cán bộ")
    await page.screenshot(path=SCREENSHOTS / "sandbox-chat-handoff.png")
