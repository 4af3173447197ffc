"""The console's web pages: the app shell at ``/console`` and its static files.

Everything the browser runs is plain HTML, CSS and JavaScript modules from
``bot/web/static/console/``; the data comes from the JSON API under ``/console/api``.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).resolve().parents[1] / "static" / "console"
SHELL = STATIC / "index.html"

# File names the static route accepts: one path segment, no dots but the extension's.
NAME_PATTERN = r"[A-Za-z0-9_-]+\.(?:js|css|svg|png|ico)"
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}

# The shell only loads its own scripts and styles and talks only to its own origin.
SHELL_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}


async def shell(request: web.Request) -> web.FileResponse:
    """``GET /console``: the single page; the hash in the URL picks the screen."""
    return web.FileResponse(SHELL, headers=SHELL_HEADERS)


async def static_file(request: web.Request) -> web.FileResponse:
    """``GET /console/static/{name}``: a file of ``bot/web/static/console`` (no subfolders).

    The route pattern already refuses anything but a plain file name; the resolved path is
    checked again so that no name can leave the folder.
    """
    path = (STATIC / request.match_info["name"]).resolve()
    if path.parent != STATIC or not path.is_file():
        raise web.HTTPNotFound()
    headers = {
        "Content-Type": CONTENT_TYPES[path.suffix],
        "X-Content-Type-Options": "nosniff",
        # Revalidate every time (the answer is a cheap 304): a new release shows at once.
        "Cache-Control": "no-cache",
    }
    return web.FileResponse(path, headers=headers)


def add_routes(app: web.Application) -> None:
    """Register ``/console``, ``/console/`` and ``/console/static/{name}``."""
    app.router.add_get("/console", shell)
    app.router.add_get("/console/", shell)
    app.router.add_get(f"/console/static/{{name:{NAME_PATTERN}}}", static_file)
