"""One settings object for the whole service, read from `LONGCTX_*` environment variables.

Every part (CLI, API, workers, UI) reads the same object so that one data dir, one database and one broker
are shared by the embedded default (`longctx serve`) without any configuration file.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
LEGACY_DATA_DIR = "longctx-data"  # the old default, relative to the current directory


def default_data_dir() -> Path:
    """The per-user data folder, the same wherever a command runs: `$XDG_DATA_HOME/longctx` (default
    `~/.local/share/longctx`) on Linux, `~/Library/Application Support/longctx` on macOS,
    `%LOCALAPPDATA%\\longctx` on Windows. `LONGCTX_DATA_DIR` overrides it."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = str(Path.home() / "Library" / "Application Support")
    else:
        xdg = os.environ.get("XDG_DATA_HOME", "")
        base = xdg if os.path.isabs(xdg) else str(Path.home() / ".local" / "share")
    return Path(base) / "longctx"


class Limits(BaseSettings):
    """Caps that keep one hostile or huge upload from hurting the service."""

    model_config = SettingsConfigDict(env_prefix="LONGCTX_", extra="ignore")

    max_upload_bytes: int = Field(
        200 * 1024 * 1024, description="Largest accepted upload (HTTP 413 past it)."
    )
    max_pages: int = Field(5000, description="Documents with more pages fail with a reason.")
    max_tokens: int = Field(2_000_000, description="Documents with more tokens fail with a reason.")
    max_text_chars: int = Field(20_000_000, description="Cap on extracted text (decompression-bomb guard).")
    parse_timeout_s: float = Field(
        600.0,
        description="Wall-clock limit of one parse child process (pypdf needs ~0.5 s/page on dense PDFs).",
    )
    parse_memory_mb: int = Field(3072, description="Address-space limit of one parse child process.")
    ocr: bool = Field(
        True,
        description=(
            "Read PDF pages without a usable text layer (scans, pasted images of text) with OCR (Tesseract); "
            "off: such a PDF fails with a reason saying how to enable it."
        ),
    )
    ocr_languages: str = Field(
        "eng", description="Tesseract languages, joined by '+' (e.g. eng+deu); each needs its language pack."
    )
    ocr_dpi: int = Field(300, ge=50, le=1200, description="Resolution pages are rendered at for OCR.")
    ocr_page_timeout_s: float = Field(
        60.0, gt=0, description="Time limit of OCR on one page; past it that page keeps no text (a warning)."
    )
    ocr_tesseract: str = Field("tesseract", description="The Tesseract binary (a name on PATH or a path).")


class Settings(Limits):
    """Service settings. Environment variables use the prefix `LONGCTX_` (e.g. `LONGCTX_DATA_DIR`)."""

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Blobs, SQLite database, embedded broker; default: the per-user data folder.",
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default: SQLite file in the data dir."
    )
    broker_url: str | None = Field(
        None, description="Celery broker URL; default: a SQLite-file transport in the data dir (no server)."
    )
    broker_prefix: str = Field(
        "",
        description="Key prefix on a shared Redis, so deployments or test runs don't see each other's",
    )
    shared_data_dir: Path | None = Field(
        None, description="Training/eval data (../shared/data); default: ../shared/data when present."
    )
    model_path: Path | None = Field(None, description="Reader checkpoint dir; default: the packaged one.")
    reader: Literal["auto", "neural", "lexical"] = Field(
        "auto",
        description=(
            "Which reader answers: auto (the default: the trained neural reader from `model_path` or the "
            "packaged checkpoint, the lexical reader when no checkpoint can be loaded), neural (the trained "
            "reader or an error), or lexical (the BM25 baseline, no model; fastest on a CPU)."
        ),
    )
    attention_backend: Literal["auto", "math", "sdpa", "flash_attn"] = "auto"
    encoder_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto",
        description=(
            "Precision of the reader's local encoder: auto = bfloat16 on a GPU and on CPUs with AMX or "
            "AVX-512 BF16 (about twice as fast as float32 there), float32 elsewhere."
        ),
    )
    chunk_size: int = Field(512, description="Tokens per local-encoder chunk.")
    state_cache_mb: int = Field(
        2048,
        description=(
            "Size cap of the document state cache on disk (`<data_dir>/cache/states`: encoder states and "
            "lexical indexes, shared by every worker process; least recently used files go first); "
            "0 turns it off."
        ),
    )
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    ui_port: int = 8501
    api_url: str | None = Field(None, description="Where the UI finds the REST API; default from host/port.")
    webhook_secret: str | None = Field(
        None, description="HMAC key for job callbacks; default: per-tenant key."
    )
    webhook_allow: str = Field(
        "",
        description=(
            "Comma-separated hostnames and IP networks (CIDR) that job callbacks may reach although they are "
            "not public (loopback, private, link-local, ...); default: none (public addresses only)."
        ),
    )
    ocr_low_confidence: float = Field(
        75.0,
        ge=0,
        le=100,
        description=(
            "OCR pages whose mean word confidence (0-100) is below this are low-confidence: answers citing "
            "them carry a warning."
        ),
    )
    ocr_slice_s: float = Field(
        120.0,
        gt=0,
        description=(
            "A cpu worker OCRs one document for about this long, then puts it back at the end of the queue "
            "(finished pages kept), so a long scan does not hold a worker while other uploads wait."
        ),
    )
    sqlite_busy_timeout_ms: int = 30_000
    job_lease_s: float = Field(
        60.0,
        description=(
            "Lease of a running job or parse: its worker renews it every third of this; a job whose worker "
            "died is re-queued by the reaper once it lapses."
        ),
    )
    job_max_attempts: int = Field(3, description="Claims of a job (or parses of a document) before it fails.")
    reaper_interval_s: float = Field(
        10.0, description="How often `serve` and each worker look for lapsed work."
    )
    queued_resend_s: float = Field(
        300.0,
        description="Queued work unchanged this long gets its message sent again (a lost message).",
    )
    broker_visibility_timeout_s: int = Field(
        1800,
        description=(
            "Redis: an unacknowledged message is redelivered after this long. Leases, not this, bring back a "
            "dead worker's job; a redelivered message of a job still held is acknowledged and dropped."
        ),
    )

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def blob_dir(self) -> Path:
        return self.resolved_data_dir / "blobs"

    @property
    def cache_dir(self) -> Path:
        return self.resolved_data_dir / "cache"

    @property
    def state_cache_dir(self) -> Path:
        return self.cache_dir / "states"

    @property
    def sql_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_data_dir / 'longctx.db'}"

    @property
    def celery_broker_url(self) -> str:
        if self.broker_url:
            return self.broker_url
        return f"sqla+sqlite:///{self.resolved_data_dir / 'broker.db'}"

    @property
    def public_api_url(self) -> str:
        return self.api_url or f"http://{self.api_host}:{self.api_port}"

    @property
    def data_root(self) -> Path | None:
        """The shared training/eval data folder, or None when it is absent (a user's fresh clone)."""
        if self.shared_data_dir is not None:
            path = self.shared_data_dir.expanduser().resolve()
            return path if path.is_dir() else None
        for candidate in (Path.cwd() / "../shared/data", PACKAGE_DIR.parent.parent / "shared/data"):
            if candidate.is_dir():
                return candidate.resolve()
        return None

    def ensure_dirs(self) -> None:
        for path in (self.resolved_data_dir, self.blob_dir, self.cache_dir):
            path.mkdir(parents=True, exist_ok=True)


@lru_cache(maxsize=1)
def _cached_settings(_key: tuple[tuple[str, str], ...]) -> Settings:
    return Settings()


def get_settings() -> Settings:
    """Settings for the current environment (re-read when a `LONGCTX_*` variable changes, e.g. in tests)."""
    key = tuple(
        sorted(
            (k, v)
            for k, v in os.environ.items()
            if k.startswith("LONGCTX_") or k in ("HOME", "XDG_DATA_HOME", "LOCALAPPDATA")
        )
    )
    return _cached_settings(key)
