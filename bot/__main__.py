"""``python -m bot``: run the gateway (web server and workers)."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.app import create_app
from bot.lib import log_privacy
from bot.settings import Settings


def main() -> None:
    """Start the gateway with settings from the environment and .env."""
    settings = Settings.from_env()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    log_privacy.install_for(settings)
    web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None)


if __name__ == "__main__":
    main()
