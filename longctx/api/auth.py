"""API-key authentication: `X-API-Key` -> the caller's tenant.

401 without a key or with an unknown/revoked one.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader
from sqlalchemy import select

from longctx.storage import repositories as repo
from longctx.storage.models import ApiKey
from longctx.storage.session import session_scope

API_KEY_HEADER = "X-API-Key"
LAST_USED_RESOLUTION = timedelta(minutes=1)  # avoid a database write on every request

api_key_scheme = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="An API key of your tenant.")


@dataclass(frozen=True)
class Caller:
    tenant_id: str
    key_id: str

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}"


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": API_KEY_HEADER})


def authenticate(request: Request, secret: str | None = Depends(api_key_scheme)) -> Caller:
    if not secret:
        raise _unauthorized(f"missing {API_KEY_HEADER} header")
    if len(secret) > 200:
        raise _unauthorized("invalid API key")
    digest = repo.hash_api_key(secret)
    with session_scope(request.app.state.settings) as s:
        record = s.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
        # The lookup is by digest; the digest is compared again in constant time before it is trusted.
        if (
            record is None
            or not hmac.compare_digest(record.key_hash, digest)
            or record.revoked_at is not None
        ):
            raise _unauthorized("invalid or revoked API key")
        now = datetime.now(UTC)
        last = record.last_used_at
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=UTC)
        if last is None or now - last > LAST_USED_RESOLUTION:
            record.last_used_at = now
        return Caller(tenant_id=record.tenant_id, key_id=record.id)
