"""Rate limits: token buckets per client and route group, in this process's memory.

Each group has a rate (``RATE_LIMIT_<GROUP>``, like ``10/minute``): a client's bucket holds that
many tokens and refills evenly over the period; a request takes a token, and a client without
one gets 429 with ``Retry-After``. Clients are keyed by address (a whole /64 for IPv6); behind
the addresses in ``TRUSTED_PROXIES`` the address they forwarded (``X-Forwarded-For``) is used.

- ``LOGIN_IP`` and ``LOGIN_USER``: failed sign-ins per client and per username (successful ones
  are given back); the username is checked by the sign-in handler.
- ``CONSOLE``: console API calls; ``SANDBOX``: sandbox messages sent; ``SANDBOX_POLL``: sandbox
  reads (the chat page polls once a second).
- ``WEBHOOK``: every webhook request, generously; ``WEBHOOK_REJECTED``: webhook requests that
  failed verification (any 4xx answer), tightly. The latter is counted after the handler ran and
  only turns a failed request into a 429: a correctly signed delivery is never refused by it.

Health checks, pages and static files are not limited. ``RATE_LIMITS=off`` turns it all off.
Several gateway processes each keep their own counts (docs/rate-limits.md).
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import hashlib
import ipaddress
import logging
import math
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from aiohttp import web

from bot.settings import Settings
from bot.web.errors import json_error

log = logging.getLogger(__name__)

MAX_KEYS = 10_000  # clients remembered per group; the least recently seen are forgotten first
IPV6_PREFIX = 64  # an IPv6 client usually holds a whole /64
UNITS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
RATE_RE = re.compile(r"\s*(\d+)\s*/\s*(second|minute|hour|day)s?\s*")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Group(enum.StrEnum):
    """What a request counts against."""

    LOGIN_IP = "login_ip"
    LOGIN_USER = "login_user"
    CONSOLE = "console"
    SANDBOX = "sandbox"
    SANDBOX_POLL = "sandbox_poll"
    WEBHOOK = "webhook"
    WEBHOOK_REJECTED = "webhook_rejected"


SIGN_IN_GROUPS = (Group.LOGIN_IP, Group.LOGIN_USER)


@dataclass(frozen=True)
class Rate:
    """``count`` requests per ``seconds``: a bucket of ``count`` tokens refilled evenly."""

    count: int
    seconds: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``"10/minute"`` is ``Rate(10, 60.0)`` (units: second, minute, hour, day)."""
        match = RATE_RE.fullmatch(text.lower())
        if match is None or int(match[1]) < 1:
            raise ValueError(f"expected a rate like 10/minute, got {text!r}")
        return cls(int(match[1]), UNITS[match[2]])


@dataclass(slots=True)
class _Bucket:
    full_at: float  # when the bucket holds all its tokens again
    quiet_until: float = -math.inf  # no refusal of this client is logged before then


class Buckets:
    """One rate's token buckets, keyed by client; at most ``max_keys`` kept, least recent out.

    Pure logic: the caller gives the time (seconds, any origin). A bucket is kept as the time
    it will be full again (the generic cell rate algorithm, a token bucket that needs no
    refilling step): with ``count`` tokens per ``seconds``, each token taken pushes that time
    one ``seconds / count`` later, and a token is there while it lies less than ``seconds``
    ahead. A forgotten client starts again with a full bucket.
    """

    def __init__(self, rate: Rate, max_keys: int = MAX_KEYS) -> None:
        self.rate = rate
        self.max_keys = max_keys
        self._interval = rate.seconds / rate.count  # refill time of one token
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def _bucket(self, key: str, now: float) -> _Bucket:
        """The key's bucket, marked most recently used (a new full one for an unknown key)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._buckets.popitem(last=False)
            bucket = self._buckets[key] = _Bucket(now)
        else:
            self._buckets.move_to_end(key)
        return bucket

    def take(self, key: str, now: float) -> float:
        """Take a token for ``key``: 0.0 when there was one, else the seconds until there is."""
        bucket = self._bucket(key, now)
        # never fuller than full, never emptier than empty (a clock set back)
        full_at = min(max(bucket.full_at, now), now + self.rate.seconds)
        wait = full_at + self._interval - now - self.rate.seconds
        if wait > 0:
            bucket.full_at = full_at
            return wait
        bucket.full_at = full_at + self._interval
        return 0.0

    def give_back(self, key: str, now: float) -> None:
        """Return a token taken for a request that turned out not to count."""
        self._bucket(key, now).full_at -= self._interval

    def first_refusal(self, key: str, now: float) -> bool:
        """Whether to log a refusal of ``key`` now: at most once per period."""
        bucket = self._bucket(key, now)
        if now < bucket.quiet_until:
            return False
        bucket.quiet_until = now + self.rate.seconds
        return True


def parse_ip(text: str) -> IpAddress | None:
    """An address as peers and proxies write it (a port and brackets allowed); None if not."""
    text = text.strip()
    if text.startswith("["):  # [2001:db8::1]:443
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # 192.0.2.1:443
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_trusted(address: IpAddress, trusted: Iterable[IpNetwork]) -> bool:
    """Whether ``address`` is one of the trusted proxies."""
    return any(address in network for network in trusted)


def client_key(peer: str | None, forwarded: Iterable[str], trusted: tuple[IpNetwork, ...]) -> str:
    """The client a request counts for.

    The peer's address, unless the peer is a trusted proxy: then ``X-Forwarded-For`` (all its
    headers, in order) is read from the right, skipping trusted proxies, and the first other
    address is the client. A hop that is not an address ends the walk at the last good one.
    IPv6 clients are keyed by their /64.
    """
    address = parse_ip(peer or "")
    if address is None:
        return peer or "unknown"
    hops = [hop for header in forwarded for hop in header.split(",")]
    while hops and is_trusted(address, trusted):
        hop = parse_ip(hops.pop())
        if hop is None:
            break
        address = hop
    if isinstance(address, ipaddress.IPv6Address):
        host_bits = 128 - IPV6_PREFIX
        return str(ipaddress.IPv6Network((int(address) >> host_bits << host_bits, IPV6_PREFIX)))
    return str(address)


@functools.lru_cache(maxsize=4096)
def _peer_key(peer: str | None) -> str:
    """``client_key`` of a request without ``X-Forwarded-For``: its peer alone decides.

    Kept per address: parsing one costs more than the rest of the limiter.
    """
    return client_key(peer, (), ())


def username_key(username: str) -> str:
    """A username as a bucket key: hashed, so its size is bounded and logs do not name it."""
    return "user:" + hashlib.sha256(username.encode("utf-8", "replace")).hexdigest()[:16]


def group_of(request: web.Request) -> Group | None:
    """The group a request counts in; None for health checks, pages and static files."""
    path = request.path
    if path == "/console/api/login" and request.method == "POST":
        return Group.LOGIN_IP
    if path.startswith("/console/api/"):
        return Group.CONSOLE
    if path.startswith("/webhooks/"):
        return Group.WEBHOOK
    if path == "/api/sandbox/messages":
        return Group.SANDBOX if request.method == "POST" else Group.SANDBOX_POLL
    return None


def _in_vietnamese(seconds: int) -> str:
    return f"{seconds} giây" if seconds < 120 else f"{math.ceil(seconds / 60)} phút"


class RateLimiter:
    """The gateway's limits: one set of buckets per group."""

    def __init__(
        self,
        rates: Mapping[Group, Rate],
        trusted: tuple[IpNetwork, ...],
        clock: Callable[[], dt.datetime],
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.buckets = {group: Buckets(rate, max_keys) for group, rate in rates.items()}
        self._trusted = trusted
        self._clock = clock
        self._warned_forwarded = False

    @classmethod
    def from_settings(cls, settings: Settings, clock: Callable[[], dt.datetime]) -> RateLimiter:
        """The limiter configured by ``settings``; ValueError naming a malformed setting."""
        configured = {
            Group.LOGIN_IP: settings.rate_limit_login_ip,
            Group.LOGIN_USER: settings.rate_limit_login_user,
            Group.CONSOLE: settings.rate_limit_console,
            Group.SANDBOX: settings.rate_limit_sandbox,
            Group.SANDBOX_POLL: settings.rate_limit_sandbox_poll,
            Group.WEBHOOK: settings.rate_limit_webhook,
            Group.WEBHOOK_REJECTED: settings.rate_limit_webhook_rejected,
        }
        rates = {}
        for group, text in configured.items():
            try:
                rates[group] = Rate.parse(text)
            except ValueError as exc:
                raise ValueError(f"RATE_LIMIT_{group.name}: {exc}") from exc
        try:
            trusted = tuple(
                ipaddress.ip_network(proxy, strict=False) for proxy in settings.trusted_proxies
            )
        except ValueError as exc:
            raise ValueError(f"TRUSTED_PROXIES: {exc}") from exc
        return cls(rates, trusted, clock)

    def now(self) -> float:
        """The clock in seconds."""
        return self._clock().timestamp()

    def client(self, request: web.Request) -> str:
        """The request's client key (see ``client_key``)."""
        forwarded = request.headers.getall("X-Forwarded-For", [])
        if forwarded and not self._warned_forwarded:
            peer = parse_ip(request.remote or "")
            if peer is None or not is_trusted(peer, self._trusted):
                self._warned_forwarded = True
                log.warning(
                    "X-Forwarded-For from %s ignored: not in TRUSTED_PROXIES (set it when the "
                    "gateway runs behind a proxy, or every client shares the proxy's limits)",
                    request.remote,
                )
        if not forwarded:
            return _peer_key(request.remote)
        return client_key(request.remote, forwarded, self._trusted)

    def refusal(self, group: Group, key: str, wait: float) -> web.Response:
        """429 with ``Retry-After``; logged once per client and period at most."""
        seconds = max(1, math.ceil(wait))
        if self.buckets[group].first_refusal(key, self.now()):
            log.warning(
                "rate limit %s: refused %s, retry after %d s (logged once per %g s per client)",
                group,
                key,
                seconds,
                self.buckets[group].rate.seconds,
            )
        text = "Đăng nhập sai quá nhiều lần." if group in SIGN_IN_GROUPS else "Quá nhiều yêu cầu."
        response = json_error(429, f"{text} Hãy thử lại sau {_in_vietnamese(seconds)}.")
        response.headers["Retry-After"] = str(seconds)
        return response

    async def apply(
        self, request: web.Request, handler: Handler, group: Group
    ) -> web.StreamResponse:
        """Take a token from the client's bucket, run the handler and settle the outcome."""
        client = self.client(request)
        wait = self.buckets[group].take(client, self.now())
        if wait:
            return self.refusal(group, client, wait)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            refused = self._settle(group, client, exc.status)
            if refused is None:
                raise
            return refused
        return self._settle(group, client, response.status) or response

    def _settle(self, group: Group, client: str, status: int) -> web.Response | None:
        """Give back a successful sign-in; count a refused webhook request, maybe refusing it."""
        if group is Group.LOGIN_IP and status < 400:
            self.buckets[group].give_back(client, self.now())
        elif group is Group.WEBHOOK and 400 <= status < 500:
            # Only the sender's fault counts: a 5xx (database restarting) is ours, and the
            # platform's redelivery of a signed message must not be refused for it.
            wait = self.buckets[Group.WEBHOOK_REJECTED].take(client, self.now())
            if wait:
                return self.refusal(Group.WEBHOOK_REJECTED, client, wait)
        return None


LIMITER = web.AppKey("rate_limiter", RateLimiter)


def install(app: web.Application, settings: Settings, clock: Callable[[], dt.datetime]) -> None:
    """Give ``app`` its limiter, unless ``RATE_LIMITS`` is off."""
    if settings.rate_limits:
        app[LIMITER] = RateLimiter.from_settings(settings, clock)


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply the app's limiter (if installed) to the request's group."""
    limiter = request.app.get(LIMITER)
    group = group_of(request)
    if limiter is None or group is None:
        return await handler(request)
    return await limiter.apply(request, handler, group)


def refuse_sign_in(request: web.Request, username: str) -> web.Response | None:
    """429 when ``username`` failed to sign in too often lately; else None (a token is taken)."""
    limiter = request.app.get(LIMITER)
    if limiter is None:
        return None
    key = username_key(username)
    wait = limiter.buckets[Group.LOGIN_USER].take(key, limiter.now())
    return limiter.refusal(Group.LOGIN_USER, key, wait) if wait else None


def forgive_sign_in(request: web.Request, username: str) -> None:
    """A successful sign-in does not count against its username."""
    limiter = request.app.get(LIMITER)
    if limiter is not None:
        limiter.buckets[Group.LOGIN_USER].give_back(username_key(username), limiter.now())
