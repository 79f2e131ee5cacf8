"""The FastAPI application: `/v1` routes (API key per tenant), `/healthz`, `/readyz`, `/metrics`.

OpenAPI at `/docs` and `/openapi.json`.
"""

from __future__ import annotations

import asyncio
import logging
import time

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from longctx.config import Settings, get_settings

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 5.0


class MetricsMiddleware:
    """Counts requests by method, route template and status (raw ASGI: upload bodies stream through)."""

    def __init__(self, app):  # noqa: ANN001
        self.app = app

    async def __call__(self, scope, receive, send):  # noqa: ANN001
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        status = {"code": 500}

        async def send_wrapper(message):  # noqa: ANN001
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            from longctx.core.metrics import REQUESTS

            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            REQUESTS.labels(method=scope.get("method", ""), route=path, status=str(status["code"])).inc()


def _readable(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def check_database(settings: Settings) -> None:
    from sqlalchemy import text

    from longctx.storage.session import get_engine

    with get_engine(settings).connect() as conn:
        conn.execute(text("SELECT 1"))


def check_broker(settings: Settings) -> None:
    from longctx.broker.app import get_app

    with get_app(settings).connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=READY_TIMEOUT_S)
        conn.default_channel  # noqa: B018 - opens the channel (sqla: the tables; redis: a PING)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("longctx")
    except PackageNotFoundError:
        return "0"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.ensure_dirs()
    app = FastAPI(
        title="longctx",
        version=_version(),
        description=(
            "Long-context document analysis: upload contracts and reports, ask questions or extract key "
            "terms, "
            "get answers cited to the page and characters they came from. Every `/v1` call needs "
            "`X-API-Key`; objects of other tenants answer 404."
        ),
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.add_middleware(MetricsMiddleware)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _readable(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return JSONResponse(
            {"detail": detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _internal(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        from sqlalchemy.exc import OperationalError

        if isinstance(exc, OperationalError):
            return JSONResponse({"detail": "the database is unavailable; retry in a moment"}, status_code=503)
        return JSONResponse({"detail": f"internal error ({type(exc).__name__})"}, status_code=500)

    from longctx.api import routes_documents, routes_jobs

    app.include_router(routes_documents.router)
    app.include_router(routes_jobs.router)

    @app.get("/healthz", tags=["operations"], summary="The process is up.")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], summary="Database and broker reachable (503 otherwise).")
    async def readyz() -> JSONResponse:
        checks: dict[str, str] = {}

        async def run(name: str, fn) -> None:  # noqa: ANN001
            started = time.monotonic()
            try:
                await asyncio.wait_for(asyncio.to_thread(fn, settings), READY_TIMEOUT_S)
                checks[name] = "ok"
            except TimeoutError:
                checks[name] = f"timeout after {READY_TIMEOUT_S:.0f}s"
            except Exception as exc:  # noqa: BLE001
                checks[name] = f"error: {type(exc).__name__}: {str(exc)[:200]}"
            log.debug("readyz %s took %.3fs", name, time.monotonic() - started)

        await asyncio.gather(run("database", check_database), run("broker", check_broker))
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503
        )

    @app.get("/metrics", tags=["operations"], summary="Prometheus text format.")
    def metrics() -> Response:
        from longctx.api.metrics import render

        body, ctype = render(settings)
        return Response(body, media_type=ctype)

    return app
