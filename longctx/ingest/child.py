"""Zygote entry (`python -m longctx.ingest.child`): preloads parsers, forks one rlimited child per request.

Protocol: one JSON request per line on stdin, one JSON reply per line on stdout (see sandbox.py). The real
stdin/stdout are moved to private descriptors first, so nothing a parser prints can corrupt the protocol.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sys
import time

TEST_HOOKS_ENV = "LONGCTX_INGEST_TEST_HOOKS"


def _write_json(path: str, payload: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, ensure_ascii=False)
    os.replace(tmp, path)


def _test_hook(action: str) -> None:
    """Misbehaviours the sandbox tests need; only reachable with the env flag set (never by user input)."""
    if action == "sleep":
        while True:
            time.sleep(3600)
    elif action == "alloc":
        hog = []
        while True:
            hog.append(bytearray(64 * 1024 * 1024))
    elif action == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif action == "raise":
        raise RuntimeError("test hook")


def _run_child(req: dict, hooks: bool) -> None:
    """In the forked child: cap memory, parse, write {"ok": ...} to the result file."""
    import resource

    from longctx.ingest.errors import IngestError, short_exc
    from longctx.ingest.ocr import ocr_pages
    from longctx.ingest.sandbox import parse_text_layer
    from longctx.ingest.types import ParseLimits

    limits = ParseLimits(**req["limits"])
    oom = {"ok": False, "reason": f"parser ran out of memory (limit {limits.parse_memory_mb} MB)"}
    cap = limits.parse_memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        if hooks and req.get("test_action"):
            _test_hook(req["test_action"])
        if req.get("op") == "ocr":  # a batch of pages to OCR: one result file per page in req["out"]
            ocr_pages(req["path"], req["pages"], limits, req["out"])
            payload = {"ok": True}
        else:
            from pathlib import Path

            doc = parse_text_layer(Path(req["path"]), limits, req["media_type"])
            payload = {"ok": True, "doc": doc.to_json()}
            del doc
    except IngestError as exc:
        payload = {"ok": False, "reason": exc.reason}
    except MemoryError:
        payload = oom
    except RecursionError as exc:
        payload = {"ok": False, "reason": f"parser error: structure nested too deeply ({short_exc(exc)})"}
    except Exception as exc:
        payload = {"ok": False, "reason": f"parser error: {short_exc(exc)}"}
    try:
        _write_json(req["result"], payload)
    except MemoryError:
        payload = None
        _write_json(req["result"], oom)


def _handle(req: dict, proto_fds: tuple[int, int], hooks: bool) -> dict:
    timeout = float(req.get("timeout_s") or req["limits"]["parse_timeout_s"])
    started = time.monotonic()
    done_r, done_w = os.pipe()  # closes when the child exits: a wake-up without polling
    try:
        pid = os.fork()
    except OSError as exc:
        os.close(done_r)
        os.close(done_w)
        return {"status": "error", "message": str(exc)}
    if pid == 0:
        code = 70
        try:
            os.close(done_r)
            for fd in proto_fds:
                os.close(fd)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            _run_child(req, hooks)
            code = 0
        except BaseException:
            code = 71
        finally:
            os._exit(code)
    os.close(done_w)
    try:
        ready, _, _ = select.select([done_r], [], [], timeout)
    finally:
        os.close(done_r)
    if not ready:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return {"status": "timeout", "elapsed": time.monotonic() - started}
    _, status = os.waitpid(pid, 0)
    elapsed = time.monotonic() - started
    if os.WIFSIGNALED(status):
        return {"status": "signal", "signal": os.WTERMSIG(status), "elapsed": elapsed}
    return {"status": "exit", "code": os.WEXITSTATUS(status), "elapsed": elapsed}


def _warm_pdf() -> bytes:
    """A two-page PDF built here, parsed once before serving so pypdf's lazy caches exist before the fork."""
    page = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Contents 5 0 R /Resources << /Font << /F1 6 0 R >> >> >>"
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
        page,
        page,
        None,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    content = b"BT /F1 12 Tf 72 720 Td (Warm up: the quick brown fox.) Tj T* (Second line) Tj ET"
    objects[4] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (i, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _warm_up() -> None:
    import io

    import pypdf

    for _ in range(3):
        reader = pypdf.PdfReader(io.BytesIO(_warm_pdf()))
        for page in reader.pages:
            page.extract_text()


def main() -> None:
    proto_in, proto_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # stray prints go to stderr, never into the protocol
    os.close(devnull)
    sys.stdout = sys.stderr
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    import warnings

    warnings.simplefilter("ignore")
    # Preload everything a parse needs, so each forked child starts warm.
    import longctx.ingest.docx  # noqa: F401
    import longctx.ingest.ocr  # noqa: F401
    import longctx.ingest.pdf  # noqa: F401
    import longctx.ingest.sandbox  # noqa: F401
    import longctx.ingest.text  # noqa: F401

    with contextlib.suppress(Exception):  # OCR children render with pdfium and PIL: load them once here
        import PIL.Image  # noqa: F401
        import pypdfium2  # noqa: F401

        longctx.ingest.ocr.engine_status()  # the default engine's version and languages, found once

    with contextlib.suppress(Exception):  # table recovery (ingest.tables) reads pages with pdfplumber
        import pdfplumber  # noqa: F401
    with contextlib.suppress(Exception):  # only an optimisation
        _warm_up()
    import gc

    gc.collect()
    gc.freeze()  # keep the preloaded heap out of the children's collections (fewer copy-on-write faults)

    hooks = os.environ.get(TEST_HOOKS_ENV) == "1"
    reader = os.fdopen(proto_in, "rb", buffering=0)
    buf = b""
    while True:
        chunk = reader.read(65536)
        if not chunk:
            break  # parent gone or done
        buf += chunk
        while b"\n" in buf:
            line, _, buf = buf.partition(b"\n")
            req = json.loads(line)
            reply = _handle(req, (proto_in, proto_out), hooks)
            reply["id"] = req.get("id")
            data = json.dumps(reply).encode() + b"\n"
            while data:
                data = data[os.write(proto_out, data) :]


if __name__ == "__main__":
    main()
