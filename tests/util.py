"""Helpers shared by the foundation tests: an isolated data dir per test, service reachability checks."""

from __future__ import annotations

import socket
from contextlib import closing

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379"


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((host, port)) == 0


def postgres_reachable() -> bool:
    if not port_open("127.0.0.1", 5432):
        return False
    try:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", connect_timeout=2):
            return True
    except Exception:
        return False


def isolated_env(monkeypatch, tmp_path, **extra: str) -> None:  # noqa: ANN001
    """Point every LONGCTX_ setting at a fresh data dir (and drop engines cached for earlier URLs)."""
    from longctx.storage.session import dispose_engines

    for key in list(__import__("os").environ):
        if key.startswith("LONGCTX_") and key not in ("LONGCTX_SHARED_DATA_DIR",):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("LONGCTX_DATA_DIR", str(tmp_path / "data"))
    for k, v in extra.items():
        monkeypatch.setenv(k, v)
    dispose_engines()
