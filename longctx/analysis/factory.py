"""Which reader serves the service: the trained reader from its checkpoint, or the lexical baseline.

Kept apart from the interface (`longctx.analysis.reader`), which every reader imports: the factory imports
the readers, so the two in one module would make a cycle.
"""

from __future__ import annotations

from pathlib import Path

from longctx.config import get_settings

from .lexical import LexicalReader
from .reader import Reader
from .state_cache import StateCache

PACKAGED_CHECKPOINT = Path(__file__).resolve().parent.parent / "model" / "checkpoint"


def _checkpoint_path(settings) -> Path:
    path = getattr(settings, "model_path", None) if settings is not None else None
    return Path(path).expanduser() if path else PACKAGED_CHECKPOINT


def _load_neural(
    path: Path,
    attention_backend: str = "auto",
    encoder_dtype: str = "auto",
    state_cache: StateCache | None = None,
) -> Reader:
    """The trained reader from a checkpoint folder (model.safetensors + config.json)."""
    if not (path / "model.safetensors").is_file() or not (path / "config.json").is_file():
        raise RuntimeError(f"{path} is not a reader checkpoint (needs model.safetensors and config.json)")
    try:
        from .pipeline import ReaderPipeline  # torch: imported only when the trained reader is asked for

        return ReaderPipeline.load(
            path, attention_backend=attention_backend, encoder_dtype=encoder_dtype, state_cache=state_cache
        )
    except (OSError, ValueError, KeyError) as exc:
        raise RuntimeError(f"cannot load the neural reader from {path}: {exc}") from exc


def get_reader(settings=None) -> Reader:
    """The reader `settings.reader` asks for: "lexical", "neural" (needs a checkpoint) or "auto"
    (neural when its checkpoint and code are present, else the lexical baseline)."""
    if settings is None:
        settings = get_settings()
    mode = getattr(settings, "reader", "auto") or "auto"
    if mode not in ("auto", "neural", "lexical"):
        raise ValueError(f"unknown reader {mode!r}; valid: auto, neural, lexical")
    state_cache = StateCache.from_settings(settings)  # None for a bare namespace or LONGCTX_STATE_CACHE_MB=0
    if mode in ("auto", "neural"):
        path = _checkpoint_path(settings)
        if path.exists():
            try:
                return _load_neural(
                    path,
                    getattr(settings, "attention_backend", "auto") or "auto",
                    getattr(settings, "encoder_dtype", "auto") or "auto",
                    state_cache,
                )
            except RuntimeError:
                if mode == "neural":
                    raise
        elif mode == "neural":
            raise RuntimeError(f"neural reader checkpoint not found at {path}")
    return LexicalReader.default(store=state_cache)
