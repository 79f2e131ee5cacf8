"""Text that no supported database can store: NUL (PostgreSQL refuses it) and unpaired UTF-16 surrogates
(not encodable as UTF-8). One check for every entry point -- the API's input layer, the job service (the CLI
path) -- so a request fails the same way on SQLite and PostgreSQL, before any work."""

from __future__ import annotations

import re

# NUL, and any UTF-16 surrogate code point: `json.loads` joins a valid surrogate pair into one code point,
# so a surrogate left in a Python str is always unpaired.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why `value` cannot be accepted as text (NUL or an unpaired surrogate), or None when it can."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character (U+0000), which is not accepted in text"
    return f"contains an unpaired surrogate (U+{ord(found.group()):04X}), which is not valid Unicode text"


def printable(text: str) -> str:
    """`text` with NUL and unpaired surrogates written as escapes (an error message that quotes client input
    must still encode as UTF-8 JSON)."""
    if _UNSTORABLE.search(text) is None:
        return text
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
