"""Parsing in a sandboxed child process, so a hostile file can hang, bloat or crash only its own parse.

Starting Python and importing pypdf costs ~0.3 s, more than parsing a typical small file. So each caller
thread borrows a long-lived *zygote* (`python -m longctx.ingest.child`) that has the parsers imported and
forks one short-lived child per file. The child runs under RLIMIT_AS and is killed at the wall-clock limit;
it writes its result as JSON to a private temp file. The zygote never parses anything itself.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import IngestError, short_exc
from .types import SUPPORTED_MEDIA_TYPES, ParsedDocument, ParseLimits

if TYPE_CHECKING:
    from longctx.config import Limits

#: progress(pages done, pages to OCR), called between OCR batches
OcrProgress = Callable[[int, int], None]

# Extra seconds the parent waits for the zygote's own answer before it declares the zygote stuck.
ZYGOTE_GRACE_S = 10.0
MAX_IDLE_ZYGOTES = 4
TEST_HOOKS_ENV = "LONGCTX_INGEST_TEST_HOOKS"
DEBUG_ENV = "LONGCTX_INGEST_DEBUG"
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


def _fmt_s(seconds: float) -> str:
    return f"{seconds:g}"


def _precheck(path: Path, lim: ParseLimits, media_type: str | None) -> tuple[Path, str]:
    """Cheap checks before any parser runs: readable, size, media type by magic bytes."""
    from .detect import HEAD_BYTES, sniff_media_type

    try:
        if not path.is_file():
            raise IngestError(
                "cannot read file: not a regular file" if path.exists() else "cannot read file: not found"
            )
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError as exc:
        raise IngestError(f"cannot read file: {short_exc(exc)}") from exc
    if size > lim.max_upload_bytes:
        raise IngestError(f"file too large: {size} bytes > limit {lim.max_upload_bytes}")
    if size == 0:
        raise IngestError("empty document: the file is empty")
    if media_type is None:
        media_type = sniff_media_type(head, path.name)
    elif media_type not in SUPPORTED_MEDIA_TYPES:
        raise IngestError(f"unsupported file type: {media_type}")
    return path, media_type


def parse_path_inprocess(
    path: str | os.PathLike,
    *,
    limits: Limits | ParseLimits | None = None,
    media_type: str | None = None,
    progress: OcrProgress | None = None,
) -> ParsedDocument:
    """The whole parse (sniff, extract, OCR, limits, empty check) in this process: no timeout, no memory cap
    (OCR's per-page time limit still holds)."""
    from . import ocr

    lim = ParseLimits.of(limits)
    path, media_type = _precheck(Path(path), lim, media_type)
    doc = parse_text_layer(path, lim, media_type)
    return ocr.complete(doc, path, lim, ocr.run_inprocess, progress=progress)


def parse_text_layer(path: Path, lim: ParseLimits, media_type: str) -> ParsedDocument:
    """What the parse child runs: extract, limits, empty check. PDF pages planned for OCR are named in
    `metadata["ocr_plan"]` (the caller OCRs them in their own children: `ocr.complete`)."""
    if media_type == "application/pdf":
        from .pdf import parse_pdf

        doc = parse_pdf(path, lim)
    elif media_type == SUPPORTED_MEDIA_TYPES[1]:
        from .docx import parse_docx

        doc = parse_docx(path, lim)
    else:
        from .text import parse_text

        doc = parse_text(path, lim, media_type)

    if len(doc.pages) > lim.max_pages:
        raise IngestError(f"too many pages: {len(doc.pages)} > limit {lim.max_pages}")
    if len(doc.text) > lim.max_text_chars + len(doc.pages):
        raise IngestError(f"extracted text too large: more than {lim.max_text_chars} characters (limit)")
    if not doc.text.strip() and not doc.metadata.get("ocr_plan"):
        raise IngestError("empty document: no text found")
    return doc


class _Zygote:
    """One `python -m longctx.ingest.child` process; serves one request at a time over pipes."""

    def __init__(self, test_hooks: bool = False):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        if test_hooks:
            env[TEST_HOOKS_ENV] = "1"
        else:
            env.pop(TEST_HOOKS_ENV, None)
        self.tmpdir = tempfile.mkdtemp(prefix="longctx-parse-")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "longctx.ingest.child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None if os.environ.get(DEBUG_ENV) else subprocess.DEVNULL,
            env=env,
            close_fds=True,
            start_new_session=True,  # no terminal signals; the whole group can be killed at once
            bufsize=0,
        )
        self.pid = self.proc.pid
        self.owner_pid = os.getpid()
        self._buf = b""
        self._seq = 0

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _read_line(self, deadline: float) -> bytes | str:
        """One reply line, or "timeout" / "eof"."""
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout"
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return "timeout"
            chunk = os.read(fd, 65536)
            if not chunk:
                return "eof"
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line

    def request(self, req: dict, timeout: float) -> dict | str:
        """The zygote's reply, or "timeout" / "eof" when it is stuck or gone."""
        deadline = time.monotonic() + timeout
        self._seq += 1
        req = {**req, "id": self._seq}
        try:
            self.proc.stdin.write(json.dumps(req).encode() + b"\n")
        except OSError:
            return "eof"
        while True:
            line = self._read_line(deadline)
            if isinstance(line, str):
                return line
            reply = json.loads(line)
            if reply.get("id") == self._seq:
                return reply

    def result_path(self) -> str:
        return os.path.join(self.tmpdir, f"result-{self._seq + 1}.json")

    def close(self, kill: bool = False) -> None:
        if os.getpid() != self.owner_pid:
            return  # inherited through fork: the parent owns this process
        try:
            if kill:
                os.killpg(self.pid, signal.SIGKILL)
            else:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.killpg(self.pid, signal.SIGKILL)
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                stream.close()
        shutil.rmtree(self.tmpdir, ignore_errors=True)


_lock = threading.Lock()
_idle: list[_Zygote] = []


def _acquire() -> _Zygote:
    with _lock:
        while _idle:
            z = _idle.pop()
            if z.owner_pid == os.getpid() and z.alive():
                return z
            z.close(kill=True)
    return _Zygote()


def _release(z: _Zygote) -> None:
    with _lock:
        if z.alive() and z.owner_pid == os.getpid() and len(_idle) < MAX_IDLE_ZYGOTES:
            _idle.append(z)
            return
    z.close()


def shutdown() -> None:
    """Stop the idle zygotes (also run at exit)."""
    with _lock:
        zs, _idle[:] = list(_idle), []
    for z in zs:
        z.close()


def _forget_after_fork() -> None:
    global _lock
    _lock = threading.Lock()
    _idle.clear()  # the parent's zygotes are the parent's; this process starts its own


atexit.register(shutdown)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def parse_file(
    path: str | os.PathLike,
    *,
    limits: Limits | ParseLimits | None = None,
    media_type: str | None = None,
    _test_action: str | None = None,
    progress: OcrProgress | None = None,
    work_dir: str | os.PathLike | None = None,
    deadline: float | None = None,
) -> ParsedDocument:
    """Parse in a sandboxed child (timeout, memory cap, crash isolation); bad input only raises IngestError.

    Pages without a usable text layer are then OCRed a few at a time, each batch in a sandboxed child of
    its own (`ocr.complete`): `progress(done, total)` after each batch; `work_dir` keeps the page results
    (default: a temporary folder); past `deadline` (time.monotonic()) `ocr.OcrPaused` is raised between
    batches and a later call with the same `work_dir` goes on where this one stopped.

    `_test_action` is for the test suite only ("sleep", "alloc", "segv", "raise"); the child ignores it
    unless its zygote was started for it with LONGCTX_INGEST_TEST_HOOKS=1 in the caller's environment.
    """
    doc = _parse_in_child(path, limits, media_type, _test_action)
    if not doc.metadata.get("ocr_plan"):
        return doc
    from . import ocr

    lim = ParseLimits.of(limits)
    return ocr.complete(
        doc,
        Path(path).resolve(),
        lim,
        _ocr_in_child,
        work_dir=Path(work_dir) if work_dir is not None else None,
        progress=progress,
        deadline=deadline,
    )


def _ocr_in_child(path: Path, pages: list[list], out_dir: Path, lim: ParseLimits) -> str | None:
    """One OCR batch in a sandboxed child; None when it ran to its end, else why it stopped."""
    from .ocr import batch_timeout

    timeout = batch_timeout(len(pages), lim)
    zygote = _acquire()
    result = zygote.result_path()
    req = {
        "op": "ocr",
        "path": str(path),
        "pages": pages,
        "out": str(out_dir),
        "limits": asdict(lim),
        "result": result,
        "timeout_s": timeout,
    }
    healthy = False
    try:
        reply = zygote.request(req, timeout + ZYGOTE_GRACE_S)
        if reply in ("timeout", "eof"):
            return "OCR stopped (the parse process did not answer)"
        healthy = True
        status = reply.get("status")
        if status == "timeout":
            return f"OCR timed out (batch limit {_fmt_s(timeout)} s)"
        if status == "signal":
            return f"OCR crashed (signal {reply.get('signal')})"
        if status == "error":
            return f"OCR could not start: {reply.get('message', '')}"
        try:
            with open(result, encoding="utf-8") as fh:
                payload = json.load(fh)
        except (OSError, ValueError):
            return f"OCR crashed (exit code {reply.get('code')}, no result)"
        return None if payload.get("ok") else (payload.get("reason") or "OCR failed")
    finally:
        with contextlib.suppress(OSError):
            os.unlink(result)
        if healthy:
            _release(zygote)
        else:
            zygote.close(kill=True)


def _parse_in_child(
    path: str | os.PathLike,
    limits: Limits | ParseLimits | None,
    media_type: str | None,
    _test_action: str | None,
) -> ParsedDocument:
    lim = ParseLimits.of(limits)
    path, media_type = _precheck(Path(path), lim, media_type)  # refuse binaries without starting a child

    hooks = _test_action is not None and os.environ.get(TEST_HOOKS_ENV) == "1"
    zygote = _Zygote(test_hooks=True) if hooks else _acquire()
    result = zygote.result_path()
    req = {
        "path": str(path.resolve()),
        "media_type": media_type,
        "limits": asdict(lim),
        "result": result,
        "test_action": _test_action if hooks else None,
    }
    healthy = False
    try:
        reply = zygote.request(req, lim.parse_timeout_s + ZYGOTE_GRACE_S)
        if reply == "timeout":  # the zygote itself did not answer in time: killed below, with its child
            raise IngestError(f"parsing timed out after {_fmt_s(lim.parse_timeout_s)} s")
        if reply == "eof":
            code = zygote.proc.poll()
            raise IngestError(
                f"parser crashed (parse process exited{'' if code is None else f' with {code}'})"
            )
        healthy = True
        return _outcome(reply, result, lim)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(result)
        if hooks or not healthy:
            zygote.close(kill=not healthy)
        else:
            _release(zygote)


def _outcome(reply: dict, result: str, lim: ParseLimits) -> ParsedDocument:
    status = reply.get("status")
    if status == "timeout":
        raise IngestError(f"parsing timed out after {_fmt_s(lim.parse_timeout_s)} s")
    if status == "signal":
        raise IngestError(f"parser crashed (signal {reply.get('signal')})")
    if status == "error":
        raise IngestError(f"parser could not start: {reply.get('message', '')}")
    code = reply.get("code")
    try:
        with open(result, encoding="utf-8") as fh:
            payload = json.load(fh)
    except (OSError, ValueError):
        payload = None
    if payload is None:
        raise IngestError(f"parser crashed (exit code {code}, no result)")
    if not payload.get("ok"):
        raise IngestError(payload.get("reason") or "parser failed")
    return ParsedDocument.from_json(payload["doc"])
