"""The desk's Starlette application: routes, static files, security headers, and the
lifespan that migrates the database and starts the job runner."""
from __future__ import annotations

import contextlib
import logging

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from . import security
from .config import DeskConfig
from .jobs import JobRunner, LocalRunner
from .recover import serving
from .routes import ROUTES
from .web import HERE, Desk

log = logging.getLogger("evidence.desk")

HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
     b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    """Every response: no inline script (CSP), no framing, no MIME sniffing."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + HEADERS
            await send(message)
        await self.app(scope, receive, send_with_headers)


def create_app(cfg: DeskConfig, runner: JobRunner | None = None) -> Starlette:
    runner = runner or LocalRunner(cfg)
    desk = Desk(cfg, runner, security.load_secret(cfg.data))

    @contextlib.asynccontextmanager
    async def lifespan(app):
        cfg.db.migrate()
        # what a killed server left half-done is put right before any request or job
        with serving(cfg):
            runner.start()
            try:
                yield
            finally:
                runner.stop()

    app = Starlette(routes=ROUTES + [Mount("/static", StaticFiles(directory=HERE / "static"),
                                           name="static")],
                    middleware=[Middleware(SecurityHeaders)], lifespan=lifespan)
    app.state.desk = desk
    return app
