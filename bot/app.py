"""``create_app(settings)``: wiring only.

Opens the database, migrates, loads the FAQ, starts the workers and registers the routes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.registry import build_senders, build_zalo_tokens
from bot.db.group_commit import AsyncpgWriter, GroupCommit, table_writer
from bot.db.migrate import upgrade
from bot.db.receive_log import ReceiveLog, open_receive_log, receive_log_url
from bot.db.receive_log import row as log_row
from bot.db.session import create_engine, create_worker_engine, session_factory
from bot.inbox import Inbox, RowOf
from bot.notify.send import EmailNotifier, SmtpSettings, WebhookNotifier
from bot.ops import deliveries
from bot.ops.deadlines import WarningPolicy
from bot.ops.faq import do_sync_faq
from bot.rasa_client import RasaClient
from bot.recent_sends import RecentSends
from bot.settings import Settings
from bot.web import health, keys, ratelimit, sandbox, webhooks
from bot.web.console import routes as console_routes
from bot.web.errors import error_middleware
from bot.workers.deadlines import DeadlineSweeper, NotificationWorker, Notifier
from bot.workers.deliveries import DeliveryExpander
from bot.workers.dispatcher import Dispatcher
from bot.workers.handoff import Handoff
from bot.workers.loop import Wakeup, run_forever
from bot.workers.outbox import OutboxWorker, ReplySender
from bot.workers.retention import run_retention
from nlu.faq_source import load_dir

log = logging.getLogger(__name__)

DISPATCH_WORKERS = 4
OUTBOX_WORKERS = 2
TOKEN_CHECK_SECONDS = 900.0  # Zalo tokens are renewed in their last hour (they last 25 hours)


def build_notifiers(settings: Settings, http: aiohttp.ClientSession) -> dict[str, Notifier]:
    """E-mail and webhook delivery of deadline warnings, as configured."""
    notifiers: dict[str, Notifier] = {}
    if settings.smtp_host and settings.alert_email_to:
        notifiers["email"] = EmailNotifier(
            SmtpSettings(
                host=settings.smtp_host,
                port=settings.smtp_port,
                sender=settings.alert_email_from,
                recipients=settings.alert_email_to,
                user=settings.smtp_user,
                password=settings.smtp_password,
                starttls=settings.smtp_starttls,
            )
        )
    if settings.alert_webhook_url:
        notifiers["webhook"] = WebhookNotifier(http, settings.alert_webhook_url)
    return notifiers


@dataclass(frozen=True)
class DeliveryStore:
    """Where webhook deliveries are stored as they arrive, and how."""

    commits: GroupCommit
    row_of: RowOf
    receive_log: ReceiveLog | None
    close: Callable[[], Awaitable[None]]


async def open_delivery_store(database_url: str, engine: AsyncEngine) -> DeliveryStore:
    """SQLite: the receive log beside the file; PostgreSQL: its table, written by asyncpg."""
    log_url = receive_log_url(database_url)
    if log_url is not None:
        log = await open_receive_log(log_url)
        return DeliveryStore(GroupCommit(log.write), log_row, log, log.close)
    if engine.dialect.name == "postgresql":
        writer = AsyncpgWriter(database_url, deliveries.TABLE)
        return DeliveryStore(GroupCommit(writer), deliveries.received, None, writer.close)

    async def nothing_to_close() -> None:
        return None

    # SQLite in memory: no file to put a log beside
    commits = GroupCommit(table_writer(engine, deliveries.TABLE))
    return DeliveryStore(commits, deliveries.received, None, nothing_to_close)


def utc_now() -> dt.datetime:
    """The real clock."""
    return dt.datetime.now(dt.UTC)


def create_app(settings: Settings, clock: Callable[[], dt.datetime] = utc_now) -> web.Application:
    """The gateway application with its background workers."""
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[ratelimit.middleware, error_middleware],
    )
    app[keys.SETTINGS] = settings
    app[keys.CLOCK] = clock
    ratelimit.install(app, settings, clock)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        await upgrade(engine)
        sessions = session_factory(engine)
        async with sessions() as session, session.begin():
            inserted, updated = await do_sync_faq(session, load_dir(settings.faq_dir), clock())
        log.info("FAQ store: %d inserted, %d updated", inserted, updated)
        expand_wakeup, dispatch_wakeup, outbox_wakeup = Wakeup(), Wakeup(), Wakeup()
        app[keys.OUTBOX_WAKEUP] = outbox_wakeup
        app[keys.SESSIONS] = sessions
        worker_engine = create_worker_engine(settings.database_url, engine)
        workers = session_factory(worker_engine)
        store = await open_delivery_store(settings.database_url, engine)
        receive_log = store.receive_log
        inbox = app[keys.INBOX] = Inbox(
            sessions,
            store.commits,
            store.row_of,
            expand_wakeup=expand_wakeup,
            dispatch_wakeup=dispatch_wakeup,
            reply_target=settings.reply_target,
            clock=clock,
        )
        lease = dt.timedelta(seconds=settings.lease_seconds)
        handoff = Handoff(lease)
        expander = DeliveryExpander(
            workers,
            settings.accounts,
            settings.reply_target,
            dispatch_wakeup,
            clock,
            our_app_ids=frozenset(
                page.app_id for page in settings.accounts.facebook.values() if page.app_id
            ),
            receive_log=receive_log,
            settle=inbox.settle,
            handoff=handoff,
        )
        http = aiohttp.ClientSession()
        rasa = RasaClient(http, settings.rasa_urls, settings.rasa_timeout_seconds)
        me = f"{socket.gethostname()}:{os.getpid()}"
        zalo_tokens = build_zalo_tokens(settings, workers, http, me, clock)
        senders = build_senders(settings, http, zalo_tokens, clock)
        tasks = [
            run_forever(
                "webhook deliveries", expander.step, expand_wakeup, settings.worker_poll_seconds
            )
        ]
        if zalo_tokens is not None:
            tasks.append(
                run_forever("zalo tokens", zalo_tokens.keep_fresh, Wakeup(), TOKEN_CHECK_SECONDS)
            )
        retry_for = dt.timedelta(hours=settings.send_retry_hours)
        recent = app[keys.RECENT_SENDS] = RecentSends()
        replies = ReplySender(workers, senders, clock=clock, retry_for=retry_for, recent=recent)
        for n in range(DISPATCH_WORKERS):
            worker = Dispatcher(
                workers,
                rasa,
                worker_id=f"{me}:d{n}",
                lease=lease,
                escalate_after=dt.timedelta(seconds=settings.rasa_escalate_after_seconds),
                outbox_wakeup=outbox_wakeup,
                senders=senders,
                replies=replies,
                wakeup=dispatch_wakeup,
                handoff=handoff,
                clock=clock,
            )
            tasks.append(
                run_forever(f"dispatcher {n}", worker.step, worker, settings.worker_poll_seconds)
            )
        notify_wakeup = Wakeup()
        notifiers = build_notifiers(settings, http)
        policy = WarningPolicy(
            before_due=[dt.timedelta(hours=h) for h in settings.warn_before_hours],
            before_window_closes=dt.timedelta(hours=settings.window_warn_hours),
            targets=tuple(notifiers),
        )
        # The console's engine: a sweep reads every open question, too long for the loop.
        sweeper = DeadlineSweeper(sessions, policy, notify_wakeup, clock)
        tasks.append(
            run_forever("deadline sweep", sweeper.step, Wakeup(), settings.deadline_sweep_seconds)
        )
        notifier = NotificationWorker(
            workers, notifiers, worker_id=f"{me}:n", lease=lease, clock=clock
        )
        tasks.append(
            run_forever("notifier", notifier.step, notify_wakeup, settings.worker_poll_seconds)
        )
        if settings.retention_days:
            tasks.append(run_retention(settings, sessions, clock))
        for n in range(OUTBOX_WORKERS):
            sender = OutboxWorker(
                workers,
                senders,
                worker_id=f"{me}:o{n}",
                lease=lease,
                clock=clock,
                retry_for=retry_for,
                wakeup=outbox_wakeup,
                recent=recent,
            )
            tasks.append(
                run_forever(
                    f"outbox {n}", sender.step, outbox_wakeup, settings.worker_poll_seconds
                )
            )
        running = [asyncio.create_task(t) for t in tasks]
        # What start-up made (the FAQ, SQLAlchemy's mappers, the model's tables) lives as long
        # as the process: keep it out of the garbage collector's full passes, which otherwise
        # walk it all and stall the event loop (acknowledgements) for tens of milliseconds.
        gc.freeze()
        try:
            yield
        finally:
            # The expander first: a job it claims for a dispatcher must find it still running.
            running[0].cancel()
            await asyncio.gather(running[0], return_exceptions=True)
            for task in running[1:]:
                task.cancel()
            await asyncio.gather(*running[1:], return_exceptions=True)
            await http.close()
            await store.close()
            if worker_engine is not engine:
                await worker_engine.dispose()
            await engine.dispose()

    app.cleanup_ctx.append(lifecycle)
    health.add_routes(app)
    sandbox.add_routes(app)
    webhooks.add_routes(app)
    console_routes.add_routes(app)
    return app
