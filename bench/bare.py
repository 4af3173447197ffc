"""The baseline: a minimal aiohttp app that reads the body and answers 200.

``python -m bench.bare PORT`` serves ``POST /webhooks/facebook`` and ``GET /healthz`` on
127.0.0.1, with the gateway's aiohttp, event loop and access-log setting.
"""

from __future__ import annotations

import logging
import sys

from aiohttp import web


async def events(request: web.Request) -> web.Response:
    """Read the whole body, answer as the gateway does."""
    await request.read()
    return web.Response(text="EVENT_RECEIVED")


async def healthz(_request: web.Request) -> web.Response:
    """Always 200."""
    return web.json_response({"status": "ok"})


def main() -> None:
    """Serve on the port given as the only argument."""
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    app = web.Application()
    app.router.add_post("/webhooks/facebook", events)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)


if __name__ == "__main__":
    main()
