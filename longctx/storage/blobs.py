"""Content-addressed store for original uploads.

Bytes are kept under `blobs/ab/cd/<sha256>`; the name a client sent is never used as a path, so it cannot
escape the data dir, and the same file uploaded twice is stored once.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_HEX = set("0123456789abcdef")
CHUNK = 1 << 20


class BlobTooLarge(Exception):
    """The stream went past the byte cap; nothing was stored."""

    def __init__(self, limit: int):
        super().__init__(f"file too large: more than {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    path: Path
    head: bytes  # first bytes, for media-type sniffing


class BlobStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._tmp = self.root / "tmp"
        self._tmp.mkdir(exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or not set(sha256) <= _HEX:
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def put_chunks(self, chunks: Iterable[bytes], max_bytes: int | None = None) -> StoredBlob:
        """Stream chunks to a temp file while hashing; move into place only when complete and within cap."""
        digest = hashlib.sha256()
        size = 0
        head = b""
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    if not chunk:
                        continue
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise BlobTooLarge(max_bytes)
                    if len(head) < 8192:
                        head += chunk[: 8192 - len(head)]
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            final = self.path_for(sha)
            if final.is_file():
                os.unlink(tmp_name)
            else:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp_name, final)
            return StoredBlob(sha, size, final, head)
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise

    def put_stream(self, stream: BinaryIO, max_bytes: int | None = None) -> StoredBlob:
        return self.put_chunks(iter(lambda: stream.read(CHUNK), b""), max_bytes)

    def put_file(self, path: Path, max_bytes: int | None = None) -> StoredBlob:
        with open(path, "rb") as fh:
            return self.put_stream(fh, max_bytes)

    def put_bytes(self, data: bytes, max_bytes: int | None = None) -> StoredBlob:
        return self.put_chunks([data], max_bytes)

    def delete(self, sha256: str) -> bool:
        path = self.path_for(sha256)
        try:
            path.unlink()
            return True
        except FileNotFoundError:
            return False
