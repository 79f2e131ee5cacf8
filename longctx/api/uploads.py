"""Streaming multipart upload: the request body goes through a push parser straight into the blob store,
with the byte cap enforced while streaming (nothing is spooled in memory, nothing is kept past the cap)."""

from __future__ import annotations

import asyncio
import contextlib
import queue
from dataclasses import dataclass, field
from urllib.parse import unquote

from fastapi import HTTPException, Request
from python_multipart.multipart import MultipartParser, parse_options_header

from longctx.core.unstorable import text_problem
from longctx.storage.blobs import BlobStore, BlobTooLarge, StoredBlob

MULTIPART_OVERHEAD = 64 * 1024  # part headers and boundaries around the file
QUEUE_CHUNKS = 16


@dataclass
class Upload:
    blob: StoredBlob
    filename: str | None


@dataclass
class _State:
    header_field: bytes = b""
    header_value: bytes = b""
    headers: dict[bytes, bytes] = field(default_factory=dict)
    in_file: bool = False
    seen: bool = False
    filename: str | None = None
    pending: list[bytes] = field(default_factory=list)


def _filename(disp: dict[bytes, bytes]) -> str | None:
    ext = disp.get(b"filename*")
    if ext:
        text = ext.decode("latin-1")
        if "''" in text:
            charset, _, value = text.partition("''")
            return unquote(value, encoding=charset or "utf-8", errors="replace") or None
    raw = disp.get(b"filename")
    return raw.decode("utf-8", "replace") if raw else None


class _Sink:
    """Feeds chunks to `BlobStore.put_chunks` running in a worker thread through a bounded queue."""

    def __init__(self, store: BlobStore, max_bytes: int):
        self.q: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self.future = asyncio.get_running_loop().run_in_executor(
            None, store.put_chunks, self._chunks(), max_bytes
        )

    def _chunks(self):  # noqa: ANN202 - runs in the executor thread
        while (item := self.q.get()) is not None:
            yield item

    @property
    def stopped(self) -> bool:
        return self.future.done()

    async def put(self, item: bytes | None) -> None:
        while not self.future.done():
            try:
                self.q.put_nowait(item)
                return
            except queue.Full:
                await asyncio.sleep(0.002)

    def abort(self) -> None:
        """End the consumer without blocking (it removes its temp file)."""
        while not self.future.done():
            try:
                self.q.put_nowait(None)
                return
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self.q.get_nowait()


async def receive_file(request: Request, store: BlobStore, max_bytes: int, name: str = "file") -> Upload:
    """Store the multipart field `name` of the body; HTTPException 413 past the cap, 422 if malformed."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise HTTPException(422, f"expected a multipart/form-data body with a '{name}' field")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes + MULTIPART_OVERHEAD:
        raise HTTPException(413, f"file too large: more than {max_bytes} bytes")

    st = _State()
    sink: _Sink | None = None

    def on_part_begin() -> None:
        st.headers = {}

    def on_header_field(data: bytes, start: int, end: int) -> None:
        st.header_field += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        st.header_value += data[start:end]

    def on_header_end() -> None:
        st.headers[st.header_field.lower()] = st.header_value
        st.header_field = st.header_value = b""

    def on_headers_finished() -> None:
        nonlocal sink
        disp = parse_options_header(st.headers.get(b"content-disposition", b""))[1]
        st.in_file = disp.get(b"name", b"").decode("utf-8", "replace") == name and not st.seen
        if st.in_file:
            st.seen = True
            st.filename = _filename(disp)
            problem = text_problem(st.filename) if st.filename else None
            if problem:  # refused before a byte of the file is stored
                raise HTTPException(422, f"{name}.filename: {problem}")
            sink = _Sink(store, max_bytes)

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if st.in_file:
            st.pending.append(bytes(data[start:end]))

    def on_part_end() -> None:
        st.in_file = False

    parser = MultipartParser(
        params[b"boundary"],
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        try:
            async for body in request.stream():
                parser.write(body)
                if sink is not None:
                    for piece in st.pending:
                        await sink.put(piece)
                    st.pending.clear()
                    if sink.stopped:
                        break  # over the cap: stop reading
            else:
                parser.finalize()
        except HTTPException:
            raise
        except Exception as exc:
            if sink is not None and sink.stopped and isinstance(sink.future.exception(), BlobTooLarge):
                raise HTTPException(413, str(sink.future.exception())) from exc
            raise HTTPException(422, f"malformed multipart body: {exc}") from exc
        if sink is None:
            raise HTTPException(422, f"multipart body has no '{name}' field")
        await sink.put(None)
        try:
            blob = await sink.future
        except BlobTooLarge as exc:
            raise HTTPException(413, str(exc)) from exc
        return Upload(blob=blob, filename=st.filename)
    finally:
        if sink is not None and not sink.stopped:
            sink.abort()
            with contextlib.suppress(BaseException):
                await sink.future
