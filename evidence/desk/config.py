"""What every part of the desk needs: the data folder, the database, the OCR settings."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .db import Database, database_url


@dataclass
class DeskConfig:
    data: Path
    database_url: str | None = None
    engine: str = "rapidocr"  # OCR engine for check/build/validate jobs
    job_workers: int = 2  # background job processes
    broker: str | None = None  # Redis URL: check/build OCR runs on `evidence worker`s
    secure_cookies: bool | None = None  # None: Secure when the request came over HTTPS
    db: Database = field(init=False)

    def __post_init__(self):
        self.data = Path(self.data).resolve()
        for sub in ("cases", "tmp", "cache", "previews"):
            (self.data / sub).mkdir(parents=True, exist_ok=True)
        self.database_url = database_url(self.data, self.database_url)
        self.db = Database(self.database_url)

    def case_dir(self, folder: str) -> Path:
        return self.data / "cases" / folder

    @property
    def cache_dir(self) -> Path:
        return self.data / "cache"

    @property
    def tmp_dir(self) -> Path:
        return self.data / "tmp"
