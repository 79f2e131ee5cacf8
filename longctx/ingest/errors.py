"""The one exception ingestion raises for bad input, so callers can fail a single document with a reason."""

from __future__ import annotations


class IngestError(Exception):
    """A document could not be ingested; `reason` is a short human-readable sentence shown to users."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason

    def __reduce__(self):  # keep `reason` when pickled across processes
        return (type(self), (self.reason,))


def short_exc(exc: BaseException, limit: int = 200) -> str:
    """`Type: message`, clipped, for reasons built from third-party exceptions."""
    msg = str(exc).strip().replace("\n", " ")
    text = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
