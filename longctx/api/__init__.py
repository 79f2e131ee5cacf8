"""REST API (FastAPI). `create_app()` builds the application; `longctx api` serves it with uvicorn."""
