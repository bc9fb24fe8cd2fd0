"""What `evidence serve` and `evidence users` do (the CLI stays thin)."""
from __future__ import annotations

import logging
from pathlib import Path

from .config import DeskConfig

DEFAULT_DATA = Path("desk-data")


class _NoSecrets(logging.Filter):
    """Belt and braces: no cookie or password ever reaches a log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage().lower()
        return "desk_session=" not in msg and "password=" not in msg


def serve(data: Path, host: str, port: int, database_url: str | None, job_workers: int,
          engine: str, broker: str | None = None) -> None:
    import uvicorn

    from .app import create_app
    if broker:  # Redis and a worker must answer now: BrokerError (one line, exit 2) if not
        from ..runners import get_runner
        get_runner(broker).close()
    cfg = DeskConfig(data, database_url=database_url, job_workers=job_workers, engine=engine,
                     broker=broker)
    cfg.db.migrate()
    app = create_app(cfg)
    for name in ("uvicorn.access", "uvicorn.error", "evidence.desk"):
        logging.getLogger(name).addFilter(_NoSecrets())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # proxy_headers: behind a trusted local proxy, X-Forwarded-Proto https makes cookies Secure
    uvicorn.run(app, host=host, port=port, proxy_headers=True, log_level="info",
                server_header=False, timeout_graceful_shutdown=5)


def add_user(data: Path, database_url: str | None, email: str, role: str, password: str) -> str:
    from .models import Audit
    from .routes.users import add_user as add
    cfg = DeskConfig(data, database_url=database_url)
    cfg.db.migrate()
    with cfg.db.session() as s:
        user = add(s, email, role, password)
        s.add(Audit(action="user added", detail=f"{user.email} ({user.role}) from the command line"))
        s.commit()
        return user.email
