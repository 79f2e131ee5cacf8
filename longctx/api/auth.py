"""API-key authentication: `X-API-Key` -> the caller's tenant.

401 without a key or with an unknown/revoked one.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader

from longctx.storage import repositories as repo
from longctx.storage.session import session_scope

API_KEY_HEADER = "X-API-Key"

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
    with session_scope(request.app.state.settings) as s:
        record = repo.authenticate_api_key(s, secret)
        if record is None:
            raise _unauthorized("invalid or revoked API key")
        return Caller(tenant_id=record.tenant_id, key_id=record.id)
