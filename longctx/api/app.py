"""The FastAPI application: `/v1` routes (API key per tenant), `/healthz`, `/readyz`, `/metrics`.

OpenAPI at `/docs` and `/openapi.json`.
"""

from __future__ import annotations

import asyncio
import logging
import time

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from longctx.config import Settings, get_settings
from longctx.core.errors import error_reference
from longctx.core.unstorable import printable

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 5.0
ERROR_REFERENCE_HEADER = "X-Error-Reference"


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
        return JSONResponse({"detail": printable(_readable(exc))}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = printable(exc.detail if isinstance(exc.detail, str) else str(exc.detail))
        return JSONResponse(
            {"detail": detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        # The client gets a generic message and a reference; the SQL, the traceback and any server path stay
        # in the log line with that reference.
        from sqlalchemy.exc import OperationalError

        ref = error_reference()
        log.error("unhandled error [ref %s] on %s %r", ref, request.method, request.url.path, exc_info=exc)
        headers = {ERROR_REFERENCE_HEADER: ref}
        if isinstance(exc, OperationalError):
            return JSONResponse(
                {"detail": f"the database is unavailable; retry in a moment (error reference {ref})"},
                status_code=503,
                headers=headers,
            )
        return JSONResponse(
            {"detail": f"internal error (error reference {ref}; the service log has the details)"},
            status_code=500,
            headers=headers,
        )

    from longctx.api import routes_documents, routes_jobs
    from longctx.api.auth import authenticate
    from longctx.api.input_hygiene import reject_unsafe_input

    # Every /v1 route: the API key first (anonymous callers get 401 whatever they send), then text no database
    # can store is refused with 422 (path, query, JSON body) before the route runs. The endpoints' own
    # `Depends(authenticate)` reuses the cached caller.
    v1 = [Depends(authenticate), Depends(reject_unsafe_input)]
    app.include_router(routes_documents.router, dependencies=v1)
    app.include_router(routes_jobs.router, dependencies=v1)

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
            except Exception as exc:  # noqa: BLE001 - /readyz is open: no DSN, host or SQL in the answer
                ref = error_reference()
                log.warning("readyz %s failed [ref %s]", name, ref, exc_info=exc)
                checks[name] = f"error: {type(exc).__name__} (error reference {ref})"
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
