"""The staff console in headless Chromium against the gateway run in process (SQLite).

Conversations are escalated straight through ``bot.ops`` (no Rasa needed); staff accounts come
from ``bot.staff_command.create``. Screenshots of the main screens go to ``docs/screenshots``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect
from sqlalchemy import delete, select

from bot.app import create_app
from bot.channels.base import InboundMessage
from bot.db.models import Conversation, DispatchJob, Message
from bot.ops.conversations import do_escalate
from bot.ops.inbox import do_record_inbound
from bot.ops.ledger import do_note_reply_sent
from bot.settings import Settings
from bot.staff_command import create
from bot.web import keys
from tests.helpers.databases import sqlite_url
from tools.stack import free_port

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
PASSWORD = "mat-khau-du-dai"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OpenPage = Callable[[dict], Awaitable[Page]]
LIVE_TIMEOUT = 5_000  # ms: "appears within a few seconds" (the server checks once a second)


@dataclass
class Console:
    """The gateway under test."""

    base_url: str
    app: web.Application
    database_url: str

    @property
    def url(self) -> str:
        return f"{self.base_url}/console"


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        await browser.close()


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Console]:
    database_url = sqlite_url(tmp_path)
    for username, name, role, staff_pages in (
        ("lan", "Nguyễn Thị Lan", "staff", [("facebook", "page-a")]),
        ("quantri", "Trần Văn Quản", "admin", []),
    ):
        assert await create(database_url, username, name, role, PASSWORD, staff_pages) is None
    settings = Settings(
        database_url=database_url,
        faq_dir=ROOT / "nlu_data" / "faq",
        rasa_url=f"http://127.0.0.1:{free_port()}",  # nothing listens: not needed here
    )
    app = create_app(settings)
    server = TestServer(app, host="127.0.0.1", port=free_port())
    await server.start_server()
    try:
        yield Console(str(server.make_url("")).rstrip("/"), app, database_url)
    finally:
        await server.close()


async def escalated(
    console: Console, user: str, texts: list[str], opened: dt.timedelta = dt.timedelta(0)
) -> int:
    """A conversation on page-a waiting for staff, its first message ``opened`` ago."""
    now = dt.datetime.now(dt.UTC)
    async with console.app[keys.SESSIONS]() as session, session.begin():
        for n, text in enumerate(texts):
            at = now - opened + dt.timedelta(seconds=n)
            recorded = await do_record_inbound(
                session,
                InboundMessage("facebook", "page-a", user, f"{user}-{n}", text),
                now=at,
                reply_target=dt.timedelta(hours=24),
            )
        await do_escalate(session, recorded.conversation_id, now - opened)
    return recorded.conversation_id


async def a_busy_queue(console: Console) -> None:
    """Conversations overdue, under 2 hours, under 6 hours and fresh (for screenshots)."""
    await escalated(
        console,
        "member-overdue",
        ["Công ty em đóng cửa, giám đốc bỏ trốn, chưa trả lương tháng 9 và 10 ạ"],
        dt.timedelta(hours=26, minutes=5),
    )
    await escalated(
        console,
        "member-urgent",
        ["Em bị sa thải khi đang mang thai tháng thứ 5 thì có đúng luật không ạ?"],
        dt.timedelta(hours=22, minutes=50),
    )
    await escalated(
        console,
        "member-soon",
        ["Cty bắt ký cam kết không tham gia công đoàn mới cho vào làm, vậy có được không"],
        dt.timedelta(hours=19, minutes=30),
    )


# (days ago opened, hours to answer, who answered, FAQ entry of a bot answer)
ANSWERED = [
    (20, 0.01, "bot", "nghi_phep_nam"),
    (19, 5, "staff", None),
    (15, 0.02, "bot", "che_do_om_dau"),
    (14, 30, "staff", None),
    (13, 0.01, "bot", "tra_luong_cham"),
    (9, 0.01, "bot", "thu_viec"),
    (8, 12, "staff", None),
    (6, 0.01, "bot", "nghi_phep_nam"),
    (5, 20, "staff", None),
    (3, 0.02, "bot", "che_do_om_dau"),
    (2, 0.01, "bot", "tra_luong_cham"),
    (1, 3, "staff", None),
]


async def answered_questions(console: Console) -> None:
    """Questions of the past weeks answered by the bot or staff (for the dashboard)."""
    now = dt.datetime.now(dt.UTC)
    async with console.app[keys.SESSIONS]() as session, session.begin():
        for n, (days, hours, author, faq) in enumerate(ANSWERED):
            opened = now - dt.timedelta(days=days)
            recorded = await do_record_inbound(
                session,
                InboundMessage("facebook", "page-a", f"member-old-{n}", f"old-{n}", "cho em hỏi"),
                now=opened,
                reply_target=dt.timedelta(hours=24),
            )
            # Answered already: nothing for the dispatcher (and Rasa) to do.
            await session.execute(
                delete(DispatchJob).where(DispatchJob.message_id == recorded.message_id)
            )
            reply = Message(
                conversation_id=recorded.conversation_id,
                channel="facebook",
                direction="out",
                author=author,
                kind="answer" if author == "bot" else "text",
                text="Trả lời",
                data={"faq": faq} if faq else {"staff_id": "lan"},
                created_at=opened + dt.timedelta(hours=hours),
            )
            session.add(reply)
            await session.flush()
            await do_note_reply_sent(session, reply, reply.created_at)


@pytest.fixture
async def new_page(browser: Browser, console: Console) -> AsyncIterator[OpenPage]:
    """Open pages in fresh browser contexts; all closed before the server stops (the live
    event streams they hold would otherwise keep the server's shutdown waiting)."""
    contexts: list[BrowserContext] = []

    async def open_page(viewport: dict) -> Page:
        context = await browser.new_context(viewport=viewport, locale="vi-VN")
        contexts.append(context)
        return await context.new_page()

    yield open_page
    for context in contexts:
        await context.close()


async def sign_in(page: Page, console: Console, username: str = "lan") -> None:
    await page.goto(console.url)
    await page.get_by_label("Tên đăng nhập").fill(username)
    await page.get_by_label("Mật khẩu").fill(PASSWORD)
    await page.get_by_role("button", name="Đăng nhập").click()
    await expect(page.get_by_role("button", name="Đăng xuất")).to_be_visible()


async def screenshot(page: Page, name: str) -> None:
    """Save ``docs/screenshots/console-<name>.png`` (without a passing notice on it)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.evaluate("document.getElementById('toast').classList.remove('is-shown')")
    await page.screenshot(path=SCREENSHOTS / f"console-{name}.png", animations="disabled")


async def test_pages_and_static_files_are_served_safely(console: Console):
    async with aiohttp.ClientSession() as http:
        for path in ("/console", "/console/"):
            async with http.get(console.base_url + path) as shell:
                assert shell.status == 200
                assert "Content-Security-Policy" in shell.headers
                assert '<html lang="vi">' in await shell.text()
        async with http.get(f"{console.url}/static/console.js") as script:
            assert script.status == 200
            assert script.content_type == "text/javascript"
        for path in (
            "/static/..%2Fconsole%2Fpages.py",
            "/static/%2E%2E/chat.js",
            "/static/missing.js",
            "/static/index.html",
        ):
            async with http.get(console.url + path) as refused:
                assert refused.status == 404, path


async def test_sign_in_with_a_wrong_then_the_right_password(console: Console, new_page: OpenPage):
    page = await new_page(DESKTOP)
    await page.goto(console.url)
    await expect(page.get_by_role("heading", name="Đăng nhập")).to_be_visible()
    await screenshot(page, "sign-in")

    await page.get_by_label("Tên đăng nhập").fill("lan")
    await page.get_by_label("Mật khẩu").fill("khong-dung-mat-khau")
    await page.get_by_role("button", name="Đăng nhập").click()
    await expect(page.get_by_role("alert")).to_have_text("Sai tên đăng nhập hoặc mật khẩu.")

    await page.get_by_label("Mật khẩu").fill(PASSWORD)
    await page.get_by_role("button", name="Đăng nhập").click()
    await expect(page.get_by_role("heading", name="Hàng chờ")).to_be_visible()
    await expect(page.locator("#user-name")).to_have_text("Nguyễn Thị Lan")

    # After a reload the session (HttpOnly cookie) holds, and the CSRF token was never stored.
    await page.reload()
    await expect(page.get_by_role("heading", name="Hàng chờ")).to_be_visible()
    stored = await page.evaluate("JSON.stringify([localStorage, sessionStorage])")
    assert stored == "[{},{}]"
    assert await page.evaluate("document.cookie") == ""

    await page.get_by_role("button", name="Đăng xuất").click()
    await expect(page.get_by_role("heading", name="Đăng nhập")).to_be_visible()
    await expect(page.get_by_text("Bạn đã đăng xuất.")).to_be_visible()

    # Five wrong passwords lock the account for 15 minutes, even with the right one.
    await page.get_by_label("Tên đăng nhập").fill("quantri")
    for _ in range(5):
        await page.get_by_label("Mật khẩu").fill("khong-dung-mat-khau")
        await page.get_by_role("button", name="Đăng nhập").click()
        await expect(page.get_by_role("alert")).to_have_text("Sai tên đăng nhập hoặc mật khẩu.")
        await expect(page.get_by_role("button", name="Đăng nhập")).to_be_enabled()
    await page.get_by_label("Mật khẩu").fill(PASSWORD)
    await page.get_by_role("button", name="Đăng nhập").click()
    await expect(page.get_by_role("alert")).to_contain_text("Tài khoản tạm khóa")


async def test_an_escalation_appears_in_the_open_queue_without_reload(
    console: Console, new_page: OpenPage
):
    page = await new_page(DESKTOP)
    await sign_in(page, console)
    await expect(page.locator(".queue-empty")).to_be_visible()
    await expect(page.locator("#live")).to_have_text("Trực tiếp")
    await page.evaluate("window.stillTheSamePage = true")

    await a_busy_queue(console)
    await escalated(console, "member-new", ["cty nợ lương 3 tháng thì làm sao ạ"])

    items = page.locator(".queue-item")
    await expect(items).to_have_count(4, timeout=LIVE_TIMEOUT)
    assert await page.evaluate("window.stillTheSamePage") is True
    # Ordered by time left, with the deadline in words and in colour.
    await expect(items.nth(0)).to_contain_text("quá hạn 2 giờ")
    await expect(items.nth(0)).to_have_class("queue-item level-overdue")
    await expect(items.nth(1)).to_have_class("queue-item level-urgent")
    await expect(items.nth(2)).to_have_class("queue-item level-soon")
    await expect(items.nth(3)).to_contain_text("cty nợ lương 3 tháng thì làm sao ạ")
    await expect(items.nth(3)).to_contain_text("còn 23 giờ 59 phút")
    await expect(items.nth(3)).to_contain_text("Facebook · trang page-a")
    await expect(items.nth(3)).to_contain_text("Chưa ai nhận")
    await expect(page.locator("#queue-count")).to_have_text("4")
    await screenshot(page, "queue")


async def test_the_queue_polls_when_the_event_stream_fails(console: Console, new_page: OpenPage):
    page = await new_page(DESKTOP)
    await page.route("**/console/api/events", lambda route: route.abort())
    await sign_in(page, console)
    await expect(page.locator("#live")).to_have_text("Tự cập nhật mỗi 10 giây")
    await expect(page.locator(".queue-empty")).to_be_visible()
    await escalated(console, "member-poll", ["cho em hỏi về bảo hiểm thất nghiệp"])
    await expect(page.locator(".queue-item")).to_have_count(1, timeout=12_000)


async def test_take_over_reply_and_hand_back(console: Console, new_page: OpenPage):
    await a_busy_queue(console)
    conversation = await escalated(
        console,
        "member-c",
        [
            "Chào anh chị, công ty em nợ lương 3 tháng rồi",
            "Em làm công nhân may ở Bình Dương, có hợp đồng 1 năm ạ",
        ],
        dt.timedelta(minutes=40),
    )
    page = await new_page(DESKTOP)
    await sign_in(page, console)
    await page.locator(f'[data-conversation="{conversation}"]').click()
    await expect(page).to_have_url(f"{console.url}#/queue/{conversation}")
    history = page.locator(".history .bubble")
    await expect(history).to_have_count(2)
    await expect(history.first).to_have_class("bubble from-member")
    reply_box = page.get_by_label("Trả lời thành viên", exact=True)
    await expect(page.locator(".window-note")).to_have_text(
        "Trong 24 giờ kể từ tin nhắn cuối của thành viên."
    )
    await expect(page.get_by_role("button", name="Gửi")).to_be_disabled()

    await page.get_by_role("button", name="Nhận xử lý").click()
    await expect(page.locator(".convo-sub")).to_contain_text("Bạn đang xử lý")
    await expect(reply_box).to_be_focused()

    # A model answer goes in with one click, with its legal source.
    await page.get_by_role("button", name="Chèn câu trả lời mẫu").click()
    await page.get_by_label("Tìm câu trả lời mẫu").fill("cham tra luong")
    await page.locator(".template").first.get_by_role("button").click()
    await expect(reply_box).to_have_value(
        # the answer, a blank line, then "Căn cứ: <legal source>"
        re.compile(r"\S[\s\S]*\n\nCăn cứ: \S"),
    )
    text = "Chào bạn, mình là Lan ở Công đoàn. Bạn gửi giúp mình hợp đồng và bảng lương nhé."
    await reply_box.fill(text)
    await page.get_by_role("button", name="Gửi").click()
    staff_bubble = page.locator(".bubble.from-staff")
    await expect(staff_bubble).to_contain_text(text)
    await expect(staff_bubble).to_contain_text("Cán bộ · Nguyễn Thị Lan")
    await expect(reply_box).to_have_value("")
    # No Facebook page is configured here, so the delivery fails: the error shows, in red.
    await expect(staff_bubble.locator(".delivery")).to_have_text("Không gửi được", timeout=10_000)
    await expect(staff_bubble.locator(".bubble-error")).to_contain_text("Lỗi gửi: ")
    await staff_bubble.get_by_role("button", name="Tạo bản nháp FAQ").click()
    await expect(staff_bubble).to_contain_text("Đã tạo bản nháp FAQ")
    await screenshot(page, "conversation")

    await page.get_by_role("button", name="Trả bot").click()
    await expect(page.locator(".convo-sub .badge")).to_have_text("Bot đang trả lời")
    await expect(page.locator(f'[data-conversation="{conversation}"]')).to_have_count(0)
    async with console.app[keys.SESSIONS]() as session:
        convo = await session.get(Conversation, conversation)
        replies = (
            (
                await session.execute(
                    select(Message).where(
                        Message.conversation_id == conversation, Message.author == "staff"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert [m.text for m in replies] == [text]
    assert (convo.mode, convo.holder_id) == ("bot", None)


async def test_queue_and_conversation_on_a_phone(console: Console, new_page: OpenPage):
    await a_busy_queue(console)
    conversation = await escalated(
        console, "member-d", ["nghỉ phép năm không hết có được trả tiền ko"]
    )
    page = await new_page(PHONE)
    await sign_in(page, console)
    queue = page.locator(".queue-pane")
    await expect(page.locator(".queue-item")).to_have_count(4)
    await expect(page.locator(".convo-pane")).to_be_hidden()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "nothing sticks out sideways"
    await screenshot(page, "queue-mobile")

    await page.locator(f'[data-conversation="{conversation}"]').click()
    await expect(queue).to_be_hidden()
    reply_box = page.get_by_label("Trả lời thành viên", exact=True)
    await expect(reply_box).to_be_visible()
    await expect(reply_box).to_be_in_viewport()
    await page.get_by_role("button", name="Nhận xử lý").click()
    await expect(page.get_by_role("button", name="Gửi")).to_be_enabled()
    await expect(page.get_by_role("button", name="Gửi")).to_be_in_viewport()
    for name in ("Quay lại hàng chờ", "Nhận xử lý", "Trả bot", "Đóng", "Gửi", "Đăng xuất"):
        box = await page.get_by_role("button", name=name).bounding_box()
        assert box and box["height"] >= 40 and box["width"] >= 40, name
    for link in await page.locator(".nav a:visible").all():
        box = await link.bounding_box()
        assert box and box["height"] >= 40
    await screenshot(page, "conversation-mobile")

    await page.get_by_role("button", name="Quay lại hàng chờ").click()
    await expect(queue).to_be_visible()
    await expect(page.locator(".convo-pane")).to_be_hidden()


async def test_faq_search_without_diacritics_and_edit(console: Console, new_page: OpenPage):
    page = await new_page(DESKTOP)
    await sign_in(page, console)
    await page.get_by_role("link", name="Câu hỏi mẫu").click()
    search = page.get_by_label("Tìm câu hỏi mẫu")
    await search.fill("nghi phep nam")
    await expect(page.get_by_text("khớp với “nghi phep nam”")).to_be_visible()
    found = page.locator(".faq-item", has_text="nghỉ phép năm")
    await expect(found.first).to_be_visible()
    assert await page.locator(".faq-item").count() < 20  # a search, not the whole list

    await found.first.click()
    legal_source = page.get_by_label("Căn cứ pháp lý")
    await expect(legal_source).not_to_have_value("")
    source = await legal_source.input_value()
    await legal_source.fill(f"{source}; Nghị định 145/2020/NĐ-CP")
    await page.get_by_role("button", name="Lưu thay đổi").click()
    await expect(page.locator("#toast")).to_have_text("Đã lưu thay đổi câu hỏi mẫu.")
    revision = page.locator(".revision").first
    await expect(revision).to_contain_text("Nguyễn Thị Lan")
    await expect(revision).to_contain_text("Nghị định 145/2020/NĐ-CP")
    await screenshot(page, "faq")


async def test_dashboard_shows_figures_and_charts(console: Console, new_page: OpenPage):
    await answered_questions(console)
    await a_busy_queue(console)
    await escalated(console, "member-e", ["cho em hỏi về chế độ thai sản"])
    page = await new_page(DESKTOP)
    await sign_in(page, console)
    await page.get_by_role("link", name="Báo cáo").click()
    await expect(page.get_by_label("Tháng", exact=True)).to_have_value(re.compile(r"\d{4}-\d\d"))
    kpis = page.locator(".kpi")
    await expect(kpis).to_have_count(4)
    await expect(kpis.nth(0)).to_contain_text("Tỉ lệ đúng hạn")
    await expect(kpis.nth(3)).to_contain_text("Số trễ hạn")
    await expect(page.locator("svg.chart")).to_have_count(3)
    await expect(page.get_by_role("heading", name="Theo trang")).to_be_visible()
    await expect(page.locator("#table-page + .table-wrap")).to_contain_text("page-a")
    await screenshot(page, "reports")
    await page.get_by_role("button", name="Tháng trước").click()
    await expect(page.locator(".period")).to_contain_text("Từ 01/")


async def test_admin_creates_and_deactivates_staff_and_reads_the_audit(
    console: Console, new_page: OpenPage
):
    page = await new_page(DESKTOP)
    await sign_in(page, console, "quantri")
    await page.get_by_role("link", name="Cán bộ").click()
    await page.get_by_label("Tên đăng nhập").fill("hoa")
    await page.get_by_label("Họ và tên").fill("Lê Thị Hoa")
    await page.get_by_label("Mật khẩu").fill(PASSWORD)
    await page.get_by_label("Trang phụ trách").fill("facebook page-b")
    await page.get_by_role("button", name="Tạo tài khoản").click()
    await expect(page.locator(".staff-form .form-error")).to_contain_text("kênh:mã trang")
    await page.get_by_label("Trang phụ trách").fill("facebook:page-b\nzalo:oa-1")
    await page.get_by_role("button", name="Tạo tài khoản").click()
    row = page.locator("tr", has_text="Lê Thị Hoa")
    await expect(row).to_contain_text("Facebook page-b, Zalo oa-1")
    await row.get_by_role("button", name="Khóa tài khoản hoa").click()
    await expect(row).to_contain_text("Đã khóa")

    await page.get_by_role("link", name="Nhật ký").click()
    await expect(page.locator("tbody tr").first).to_contain_text("Sửa tài khoản")
    await expect(page.locator("tbody")).to_contain_text("Tạo tài khoản")
