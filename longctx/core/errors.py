"""Error references: a short random id shown to the client in place of internals, and logged with them."""

from __future__ import annotations

import secrets


def error_reference() -> str:
    """A short id that ties a generic client-facing error to the log line holding the details."""
    return secrets.token_hex(4)
