"""The reader a worker process answers with: loaded once per process and settings, on first use."""

from __future__ import annotations

import threading
from typing import Any

from longctx.config import Settings

_readers: dict[tuple, Any] = {}
_reader_lock = threading.Lock()


def load_reader(settings: Settings) -> Any:
    """The configured reader, loaded once per process (a checkpoint is loaded on first use)."""
    key = (
        settings.reader,
        str(settings.model_path),
        settings.attention_backend,
        settings.encoder_dtype,
        settings.chunk_size,
    )
    with _reader_lock:
        reader = _readers.get(key)
        if reader is None:
            from longctx.analysis.factory import get_reader

            reader = get_reader(settings)
            _readers[key] = reader
        _point_state_cache(reader, settings)
        return reader


def _point_state_cache(reader: Any, settings: Settings) -> None:
    """The document state cache of these settings on the process's reader (it changes only when the settings
    do, e.g. between tests; a worker keeps one)."""
    if not hasattr(reader, "use_state_cache"):
        return
    from longctx.analysis.state_cache import StateCache

    def where(cache: StateCache | None) -> tuple | None:
        return (cache.root, cache.max_bytes) if cache is not None else None

    want = StateCache.from_settings(settings)
    if where(reader.state_cache) != where(want):
        reader.use_state_cache(want)
