"""Robustness sweep: parse_file over many files with an outer watchdog, grouped failure reasons, speed.

The watchdog is independent of the sandbox: if parse_file itself ever fails to return (a sandbox bug), the
file counts as *hung* instead of stalling the sweep; anything but IngestError escaping counts as *crashed*.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import IngestError
from .ocr import BATCH_PAGES, batch_timeout
from .sandbox import parse_file
from .types import ParseLimits

WATCHDOG_GRACE_S = 30.0

# Reason prefix -> category (first match wins); anything else falls back to the text before ':' or '('.
_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("password required", "password required"),
    ("unsupported encryption", "unsupported encryption"),
    ("not a valid PDF", "not a valid PDF"),
    ("not a valid DOCX", "not a valid DOCX"),
    ("no extractable text", "no extractable text"),
    ("text extraction failed", "text extraction failed on every page"),
    ("parsing timed out", "timed out"),
    ("too many pages", "too many pages"),
    ("parser ran out of memory", "out of memory"),
    ("parser crashed", "parser crashed"),
    ("parser error", "parser error"),
    ("extracted text too large", "text too large"),
    ("file too large", "file too large"),
    ("empty document", "empty document"),
    ("unsupported file type", "unsupported file type"),
    ("cannot read file", "cannot read file"),
)


def reason_category(reason: str) -> str:
    """Short, stable group name for a failure reason (used in reports and dashboards)."""
    for prefix, category in _CATEGORIES:
        if reason.startswith(prefix):
            return category
    return re.split(r"[:(]", reason, maxsplit=1)[0].strip() or "other"


@dataclass
class FileOutcome:
    path: str
    status: str  # "ingested" | "failed" | "crashed" | "hung"
    seconds: float
    pages: int = 0
    chars: int = 0
    reason: str = ""
    warnings: list[str] = field(default_factory=list)
    ocr_pages: int = 0  # pages whose text was read by OCR
    ocr_read_pages: int = 0  # pages the engine read (also those whose text layer was kept)
    ocr_seconds: float = 0.0


@dataclass
class SweepResult:
    outcomes: list[FileOutcome]
    wall_s: float
    jobs: int

    def _of(self, status: str) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def ingested(self) -> int:
        return len(self._of("ingested"))

    @property
    def failed(self) -> int:
        return len(self._of("failed"))

    @property
    def crashed(self) -> int:
        return len(self._of("crashed"))

    @property
    def hung(self) -> int:
        return len(self._of("hung"))

    @property
    def total_pages(self) -> int:
        return sum(o.pages for o in self.outcomes)

    @property
    def pages_per_s(self) -> float:
        return self.total_pages / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def ocr_pages(self) -> int:
        return sum(o.ocr_pages for o in self.outcomes)

    @property
    def ocr_seconds(self) -> float:
        return sum(o.ocr_seconds for o in self.outcomes)

    def failed_by_category(self) -> dict[str, int]:
        counts = Counter(reason_category(o.reason) for o in self._of("failed"))
        return dict(counts.most_common())

    def with_warnings(self) -> int:
        return sum(1 for o in self._of("ingested") if o.warnings)

    def summary(self) -> dict:
        return {
            "files": len(self.outcomes),
            "ingested": self.ingested,
            "failed": self.failed,
            "crashed": self.crashed,
            "hung": self.hung,
            "failed_by_category": self.failed_by_category(),
            "ingested_with_warnings": self.with_warnings(),
            "total_pages": self.total_pages,
            "wall_s": round(self.wall_s, 2),
            "pages_per_s": round(self.pages_per_s, 1),
            "ocr_pages": self.ocr_pages,
            "ocr_seconds": round(self.ocr_seconds, 2),
            "jobs": self.jobs,
        }


def _one(path: Path, limits: ParseLimits, beat: Callable[[int, int], None] | None = None) -> FileOutcome:
    started = time.monotonic()
    try:
        doc = parse_file(path, limits=limits, progress=beat)
    except IngestError as exc:
        return FileOutcome(str(path), "failed", time.monotonic() - started, reason=exc.reason)
    except BaseException as exc:  # anything else is a bug in ingestion: that is what the sweep hunts for
        return FileOutcome(
            str(path), "crashed", time.monotonic() - started, reason=f"{type(exc).__name__}: {exc}"
        )
    ocr = doc.metadata.get("ocr") or {}
    return FileOutcome(
        str(path),
        "ingested",
        time.monotonic() - started,
        pages=len(doc.pages),
        chars=len(doc.text),
        warnings=list(doc.metadata.get("warnings") or []),
        ocr_pages=len(ocr.get("pages") or []),
        ocr_read_pages=int(ocr.get("read_pages") or 0),
        ocr_seconds=float(ocr.get("seconds") or 0.0),
    )


def sweep(
    paths: list[Path],
    *,
    limits: object | None = None,
    jobs: int = 2,
    progress: Callable[[int, int, FileOutcome], None] | None = None,
) -> SweepResult:
    """parse_file on every path, `jobs` at a time; results in input order.

    Each file runs on its own daemon thread so a hung call can be abandoned at the watchdog deadline
    (parse_timeout_s + grace) without blocking the sweep or interpreter exit. The deadline counts from the
    call's last sign of life: a long scan reports every OCR batch, and each batch has a limit of its own.
    """
    lim = ParseLimits.of(limits)
    deadline_s = lim.parse_timeout_s + WATCHDOG_GRACE_S
    ocr_deadline_s = batch_timeout(BATCH_PAGES, lim) + WATCHDOG_GRACE_S  # after each OCR batch
    jobs = max(1, int(jobs))
    results: list[FileOutcome | None] = [None] * len(paths)
    cond = threading.Condition()
    running: dict[int, float] = {}  # index -> start time, or its last OCR progress
    allowed: dict[int, float] = {}  # index -> seconds it may run from there
    done = 0
    started = time.monotonic()

    def work(i: int) -> None:
        def beat(_done: int, _total: int) -> None:
            with cond:
                if i in running:
                    running[i] = time.monotonic()
                    allowed[i] = ocr_deadline_s

        outcome = _one(Path(paths[i]), lim, beat)
        with cond:
            if results[i] is None:  # not already declared hung
                results[i] = outcome
                running.pop(i, None)
                cond.notify_all()

    def finish(i: int) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, len(paths), results[i])

    next_i = 0
    reported: set[int] = set()
    with cond:
        while len(reported) < len(paths):
            while next_i < len(paths) and len(running) < jobs:
                running[next_i] = time.monotonic()
                threading.Thread(target=work, args=(next_i,), daemon=True, name=f"sweep-{next_i}").start()
                next_i += 1
            now = time.monotonic()
            for i, t0 in list(running.items()):
                if now - t0 > allowed.get(i, deadline_s):
                    results[i] = FileOutcome(
                        str(paths[i]),
                        "hung",
                        now - t0,
                        reason=f"parse_file did not return in {allowed.get(i, deadline_s):g} s"
                        + (" after its last OCR progress" if i in allowed else ""),
                    )
                    del running[i]
            for i, r in enumerate(results):
                if r is not None and i not in reported:
                    reported.add(i)
                    cond.release()
                    try:
                        finish(i)
                    finally:
                        cond.acquire()
            if len(reported) == len(paths) or (next_i < len(paths) and len(running) < jobs):
                continue
            if running:
                first = min(t0 + allowed.get(i, deadline_s) for i, t0 in running.items())
                cond.wait(timeout=max(0.05, first - time.monotonic()))
    return SweepResult(
        outcomes=[r for r in results if r is not None], wall_s=time.monotonic() - started, jobs=jobs
    )
