"""Signed job callbacks.

When a job with a `callback_url` finishes, the service POSTs a JSON body to it with two headers:
`X-Longctx-Timestamp: <unix seconds>` and
`X-Longctx-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
The HMAC key is per tenant: HMAC-SHA256(master, "webhook:" + tenant_id), where the master key is
`LONGCTX_WEBHOOK_SECRET` (set it in production so every replica agrees) or, in the embedded default, a random
key created once in the data dir. A tenant reads its key at `GET /v1/webhook-secret`.
Delivery is retried with exponential backoff on network errors, 408, 429 and 5xx answers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from longctx.config import Settings, get_settings
from longctx.core.timestamps import iso

log = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Longctx-Timestamp"
SIGNATURE_HEADER = "X-Longctx-Signature"
MAX_ATTEMPTS = 6
BACKOFF_BASE_S = 2.0
BACKOFF_MAX_S = 600.0
TIMEOUT_S = 10.0
RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}


def validate_callback_url(url: str | None) -> str | None:
    if url is None or url == "":
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("callback_url must be an absolute http(s) URL")
    if len(url) > 2048:
        raise ValueError("callback_url is longer than 2048 characters")
    return url


def _master_key(settings: Settings) -> bytes:
    if settings.webhook_secret:
        return settings.webhook_secret.encode("utf-8")
    path = settings.resolved_data_dir / "webhook-master.key"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    try:
        os.link(tmp, path)  # first writer wins; every process then reads the same key
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes().strip()


def tenant_secret(tenant_id: str, settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    return hmac.new(_master_key(settings), f"webhook:{tenant_id}".encode(), hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: str | int, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    tolerance_s: float = 300.0,
    now: float | None = None,
) -> bool:
    """What a receiver does: recompute the signature (constant-time compare) and reject stale timestamps."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature or "")


def backoff_s(attempt: int) -> float:
    return min(BACKOFF_MAX_S, BACKOFF_BASE_S * (2**attempt))


@dataclass(frozen=True)
class Delivery:
    ok: bool
    retry: bool
    status: str


def job_payload(job: Any, findings: int) -> dict[str, Any]:
    return {
        "event": "job.finished",
        "job_id": job.id,
        "status": job.status.value,
        "kind": job.kind.value,
        "batch_id": job.batch_id,
        "error": job.error,
        "findings": findings,
        "findings_url": f"/v1/jobs/{job.id}/findings",
        "finished_at": iso(job.finished_at),
    }


def _record(settings: Settings, job_id: str, status: str) -> None:
    from longctx.storage.models import Job
    from longctx.storage.session import session_scope

    with session_scope(settings) as s:
        job = s.get(Job, job_id)
        if job is not None:
            job.callback_status = status[:64]


def deliver(
    job_id: str, settings: Settings | None = None, attempt: int = 0, timeout: float = TIMEOUT_S
) -> Delivery:
    """POST the signed callback of a finished job once. `retry` says whether a later attempt may succeed."""
    import httpx
    from sqlalchemy import func, select

    from longctx.storage.models import Finding, Job
    from longctx.storage.session import session_scope

    settings = settings or get_settings()
    with session_scope(settings) as s:
        job = s.get(Job, job_id)
        if job is None or not job.callback_url:
            return Delivery(True, False, "no callback")
        count = s.scalar(select(func.count()).select_from(Finding).where(Finding.job_id == job_id)) or 0
        payload = job_payload(job, int(count))
        url, tenant_id = job.callback_url, job.tenant_id
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8")
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "longctx-webhook/1",
        TIMESTAMP_HEADER: ts,
        SIGNATURE_HEADER: sign(tenant_secret(tenant_id, settings), ts, body),
    }
    try:
        resp = httpx.post(url, content=body, headers=headers, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as exc:
        result = Delivery(False, True, f"error {type(exc).__name__}")
    else:
        if 200 <= resp.status_code < 300:
            result = Delivery(True, False, f"delivered {resp.status_code}")
        else:
            result = Delivery(False, resp.status_code in RETRY_STATUSES, f"http {resp.status_code}")
    final = result.ok or not result.retry or attempt + 1 >= MAX_ATTEMPTS
    if result.ok:
        status = result.status
    elif final:
        status = f"failed after {attempt + 1} attempts: {result.status}"
    else:
        status = f"retrying ({attempt + 1}): {result.status}"
    _record(settings, job_id, status)
    if not result.ok:
        log.warning("webhook of job %s to %s: %s", job_id, url, status)
    return Delivery(result.ok, result.retry and not final, status)
