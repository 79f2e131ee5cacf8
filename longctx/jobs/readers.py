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
        return reader
