"""REST API (FastAPI). `create_app()` builds the application; `longctx api` serves it with uvicorn.

Nothing heavy is imported here, so workers can use `longctx.api.metrics` without FastAPI.
"""
