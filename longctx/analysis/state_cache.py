"""The document state cache on disk: query-independent work spilled once, read by every process.

Layout under ``<data_dir>/cache/states/`` (``Settings.state_cache_dir``), one folder per *space*:

* ``<checkpoint>-<dtype>-<code>/<text sha256>.safetensors``: a document's local-encoder states (fp16),
  token offsets and reading units, for one checkpoint (sha256 of its weights, config and tokenizer), one
  encoder precision and one version of the code that derives them; ``checkpoint.json`` beside them says
  which checkpoint folder made the space.
* ``lexical-<code>/<text sha256>.safetensors``: the lexical reader's segments and BM25 postings (they depend
  on the text and the segmenter/stemmer code only, not on a checkpoint).

Files are written atomically (temp file + rename), so a reader sees a whole file or none. Recency is the
file's mtime (touched on every read); past the size cap the least recently used files go. A file that cannot
be read back (truncated, corrupt, from another version) is logged, removed and treated as a miss: the caller
computes the state again. No torch here: the lexical reader (numpy only) and the document service use it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

log = logging.getLogger(__name__)

FORMAT = "1"  # layout of the files' tensors and metadata; part of every file's metadata
SUFFIX = ".safetensors"
TMP_SUFFIX = ".tmp"
STALE_TMP_S = 3600.0  # a temp file this old is a writer that died: removed by the next eviction pass
T = TypeVar("T")


def text_key(text: str) -> str:
    """The cache key of a document text (the same for every job, tenant and process)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def text_key_of_parts(parts: Iterable[str]) -> str:
    """``text_key("".join(parts))`` without building the joined text."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


_identities: dict[tuple, str] = {}


def checkpoint_identity(directory: str | Path) -> str:
    """sha256 over a checkpoint's weights, config and tokenizer: a retrained checkpoint never reads old
    states. Hashed once per process and file version (size, mtime), ~0.1 s per 50 MB."""
    d = Path(directory).expanduser().resolve()
    files = [d / name for name in ("config.json", "model.safetensors", "tokenizer.json")]
    present = [f for f in files if f.is_file()]
    stamp = tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in present)
    hit = _identities.get(stamp)
    if hit is not None:
        return hit
    h = hashlib.sha256()
    for f in present:
        h.update(f.name.encode() + b"\0")
        with f.open("rb") as fh:
            while block := fh.read(1 << 20):
                h.update(block)
    _identities[stamp] = h.hexdigest()
    return _identities[stamp]


def code_fingerprint(*modules: Any) -> str:
    """A short hash of the source of the modules that derive a cached structure, so that an upgrade that
    changes segmentation, tokenization or indexing never reads structures the old code made."""
    h = hashlib.sha256(FORMAT.encode())
    for module in modules:
        path = getattr(module, "__file__", None)
        try:
            h.update(Path(path).read_bytes() if path else module.__name__.encode())
        except OSError:
            h.update(module.__name__.encode())
    return h.hexdigest()[:10]


class StateCache:
    """The spilled document states: read, write (atomically), evict past ``max_bytes``, forget."""

    def __init__(self, root: str | Path, max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = int(max_bytes)
        self.written = 0
        self.read_hits = 0
        self.evicted = 0
        self.discarded = 0  # unreadable files removed

    @classmethod
    def from_settings(cls, settings: Any) -> StateCache | None:
        """The cache the settings ask for, or None when it is off (``LONGCTX_STATE_CACHE_MB=0``) or the
        settings object has no data dir (tests build readers from bare namespaces)."""
        root = getattr(settings, "state_cache_dir", None)
        mb = getattr(settings, "state_cache_mb", 0) or 0
        if root is None or mb <= 0:
            return None
        return cls(root, int(mb) << 20)

    def path(self, space: str, key: str) -> Path:
        if not key or any(c not in "0123456789abcdef" for c in key):
            raise ValueError(f"not a sha256 key: {key!r}")
        return self.root / space / f"{key}{SUFFIX}"

    # ---- reading ----------------------------------------------------------------------------------------
    def read(
        self,
        space: str,
        key: str,
        decode: Callable[[dict[str, np.ndarray], dict[str, str]], T],
    ) -> T | None:
        """``decode(arrays, metadata)`` of the cached file, or None when there is none. A file that cannot be
        decoded (safetensors raises, or ``decode`` raises ValueError/KeyError/...) is logged and removed:
        never an error for the caller."""
        path = self.path(space, key)
        if not path.is_file():
            return None
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path), framework="numpy") as f:
                meta = dict(f.metadata() or {})
                if meta.get("format") != FORMAT or meta.get("key") != key:
                    raise ValueError(f"format {meta.get('format')!r} / key {meta.get('key')!r} do not match")
                arrays = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118 (not a dict)
            value = decode(arrays, meta)
        except FileNotFoundError:
            return None
        # what a truncated or damaged file raises; not RuntimeError/MemoryError (out of memory moving the
        # state to the device says nothing about the file, and encoding would fail the same way)
        except (SafetensorError, ValueError, KeyError, TypeError, IndexError, OSError) as exc:
            log.warning(
                "ignoring unreadable cached state %s (%s: %s); computing it again",
                path,
                type(exc).__name__,
                exc,
            )
            self.discarded += 1
            path.unlink(missing_ok=True)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recency for the LRU
        self.read_hits += 1
        return value

    # ---- writing ----------------------------------------------------------------------------------------
    def write(
        self,
        space: str,
        key: str,
        arrays: Mapping[str, np.ndarray],
        metadata: Mapping[str, str] | None = None,
        sidecar: Mapping[str, Any] | None = None,
    ) -> bool:
        """Store ``arrays`` (plus metadata) as ``<space>/<key>.safetensors``; False when it is larger than the
        cap or cannot be written (logged: the answer does not depend on the spill). ``sidecar`` is written
        once per space as ``checkpoint.json``."""
        size = sum(int(a.nbytes) for a in arrays.values())
        if size > self.max_bytes:
            log.info(
                "document state of %d bytes exceeds the state cache cap (%d): not spilled",
                size,
                self.max_bytes,
            )
            return False
        path = self.path(space, key)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TMP_SUFFIX}")
        try:
            from safetensors.numpy import save_file

            path.parent.mkdir(parents=True, exist_ok=True)
            if sidecar is not None and not (path.parent / "checkpoint.json").exists():
                self._write_json(path.parent / "checkpoint.json", dict(sidecar))
            meta = {**(metadata or {}), "format": FORMAT, "key": key, "space": space}
            save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp), metadata=meta)
            if tmp.stat().st_size > self.max_bytes:  # the header tipped it over
                tmp.unlink()
                return False
            os.replace(tmp, path)
        except Exception as exc:  # noqa: BLE001 -- a full disk must not fail the job that spills
            log.warning("could not spill document state to %s: %s", path, exc)
            tmp.unlink(missing_ok=True)
            return False
        self.written += 1
        self.evict(keep=path)
        return True

    @staticmethod
    def _write_json(path: Path, data: dict) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TMP_SUFFIX}")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)

    # ---- size cap and invalidation -------------------------------------------------------------------------
    def files(self) -> list[tuple[float, int, Path]]:
        """(mtime, bytes, path) of every cached file, oldest first."""
        out = []
        for path in self.root.glob(f"*/*{SUFFIX}"):
            try:
                st = path.stat()
            except OSError:  # removed by another process meanwhile
                continue
            out.append((st.st_mtime, st.st_size, path))
        out.sort(key=lambda x: (x[0], str(x[2])))
        return out

    def usage(self) -> int:
        return sum(size for _, size, _ in self.files())

    def evict(self, keep: Path | None = None) -> int:
        """Remove least recently used files until the cache fits ``max_bytes`` (never ``keep``, the file just
        written), and temp files of writers that died. Returns how many cached files went."""
        now = time.time()
        for tmp in self.root.glob(f"*/.*{TMP_SUFFIX}"):
            with contextlib.suppress(OSError):
                if now - tmp.stat().st_mtime > STALE_TMP_S:
                    tmp.unlink(missing_ok=True)
        files = self.files()
        total = sum(size for _, size, _ in files)
        removed = 0
        for _, size, path in files:
            if total <= self.max_bytes:
                break
            if keep is not None and path == keep:
                continue
            path.unlink(missing_ok=True)
            total -= size
            removed += 1
        self.evicted += removed
        return removed

    def forget(self, key: str) -> int:
        return forget_states(self.root, key)

    def stats(self) -> dict[str, int]:
        return {
            "disk_written": self.written,
            "disk_read": self.read_hits,
            "disk_evicted": self.evicted,
            "disk_discarded": self.discarded,
        }


def forget_states(root: str | Path, key: str) -> int:
    """Remove every spilled state of the text ``key`` (all checkpoints, the lexical index); the number of
    files removed. The document service calls this when the last document with that text is deleted."""
    if not key or any(c not in "0123456789abcdef" for c in key):
        raise ValueError(f"not a sha256 key: {key!r}")
    removed = 0
    for path in Path(root).glob(f"*/{key}{SUFFIX}"):
        path.unlink(missing_ok=True)
        removed += 1
    return removed


__all__ = [
    "StateCache",
    "checkpoint_identity",
    "code_fingerprint",
    "forget_states",
    "text_key",
    "text_key_of_parts",
]
