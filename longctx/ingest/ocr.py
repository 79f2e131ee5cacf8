"""OCR for PDF pages without a usable text layer: Tesseract's TSV output -> page text, word boxes, confidence.

Three steps, each where it belongs:

1. **Plan** (in the parse child, `plan_pages`, called by `pdf.parse_pdf`): pages whose text layer is poor
   (fewer than `MIN_LAYER_CHARS` letters/digits) and pages that draw images are *candidates*.
2. **Classify, render, recognise** (in an OCR child of the sandbox, `ocr_pages`, a few pages per child):
   pdfium tells what each candidate page draws. A page is OCRed when its text layer is poor and something
   is drawn; when an image covers at least `BIG_IMAGE_SHARE` of it and its text layer is short (a scan with a
   stamp or a Bates number); or when images cover `PASTED_IMAGE_SHARE` and the text layer lies beside them,
   not over them (an image of text pasted into a digital page; text *over* an image is a searchable scan's
   invisible layer, which is kept). The page is rendered by pdfium at `ocr_dpi` (pixel cap `MAX_PIXELS`)
   and read by the `tesseract` binary (TSV: words, boxes, confidences) under a per-page time limit; a page
   whose upright reading is poor is tried once more in the orientation Tesseract's OSD detects. A page that
   had a text layer keeps it unless OCR finds clearly more (`_ocr_wins`).
3. **Merge** (in the caller, `complete`): OCR texts replace those pages' texts, word offsets are relative to
   the page text, and the document is assembled again with exact offsets. Pages are OCRed in batches of
   `BATCH_PAGES`, each batch in its own sandboxed child with a wall-clock limit of
   `pages x (ocr_page_timeout_s + RENDER_ALLOWANCE_S) + BATCH_OVERHEAD_S`, so a long scan never meets the
   one-file parse limit; results are written per page into a work folder, so a batch killed midway keeps its
   finished pages, and a caller may stop between batches (`deadline`; `OcrPaused`) and go on later.

Word boxes are fractions (0..1) of the page as pdfium renders it (its /Rotate applied), left-top origin, so
a viewer draws them on a rendering of any size.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import IngestError, short_exc
from .textnorm import normalize_page, page_ranges
from .types import ParsedDocument, ParseLimits, assemble_pages

#: Bump when the OCR output for the same page and settings changes (a work folder of an older version is
#: not reused).
OCR_CODE_VERSION = 1
#: A page whose text layer has fewer letters and digits than this has no usable text layer.
MIN_LAYER_CHARS = 20
#: An image covering this share of a page with a short text layer (< SHORT_LAYER_CHARS) is read by OCR.
BIG_IMAGE_SHARE = 0.5
SHORT_LAYER_CHARS = 200
#: Images covering this share of a page, with the text layer mostly beside them, are read by OCR too.
PASTED_IMAGE_SHARE = 0.15
#: A page with a text layer takes the OCR text only when it has this many more letters and digits.
OCR_GAIN = 1.2
OCR_GAIN_MIN = 20
#: Largest rendering handed to the engine (pixels); bigger pages are rendered at a lower resolution.
MAX_PIXELS = 40_000_000
#: Seconds allowed per page on top of the engine's limit (rendering, orientation check) in a batch's budget.
RENDER_ALLOWANCE_S = 20.0
BATCH_OVERHEAD_S = 15.0
BATCH_PAGES = 4
#: Ink must span at least this (inches) both ways for the engine to read a page (a rule line does not).
MIN_INK_INCH = 0.04
#: A first reading with a lower mean confidence (or no words) is tried again in the detected orientation.
RETRY_ORIENTATION_BELOW = 60.0

INSTALL_HINT = (
    "install Tesseract (Debian/Ubuntu: apt-get install tesseract-ocr tesseract-ocr-eng) or set "
    "LONGCTX_OCR_TESSERACT to its path"
)
PAGE_FILE = "p{:05d}.json"


class OcrPaused(Exception):  # noqa: N818 - not an error: the caller asked to stop at a deadline
    """Raised by `complete` at its deadline with pages left; the finished pages stay in the work folder."""

    def __init__(self, done: int, total: int):
        super().__init__(f"OCR paused after {done} of {total} pages")
        self.done = done
        self.total = total


# ---- the engine ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Engine:
    """What `engine_status` found: the binary's path and version, its languages, or why OCR cannot run."""

    binary: str | None
    version: str = ""
    languages: tuple[str, ...] = ()
    problem: str | None = None

    @property
    def osd(self) -> bool:
        return "osd" in self.languages


def _engine_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "TESSDATA_PREFIX", "LANG", "LC_ALL", "HOME")}
    env["OMP_THREAD_LIMIT"] = "1"  # one core per page: parses run side by side; threads only contend
    return env


@lru_cache(maxsize=16)
def _engine_status(binary: str, languages: str, _stamp: float) -> Engine:
    path = shutil.which(binary)
    if path is None:
        return Engine(None, problem=f"the OCR engine is not installed ({binary!r} not found): {INSTALL_HINT}")
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=20, env=_engine_env()
        )
        version = (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else ""
        out = subprocess.run(
            [path, "--list-langs"], capture_output=True, text=True, timeout=20, env=_engine_env()
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return Engine(path, problem=f"the OCR engine {path} does not run ({short_exc(exc)}): {INSTALL_HINT}")
    langs = tuple(
        line.strip() for line in out.stdout.splitlines()[1:] if line.strip() and " " not in line.strip()
    )
    wanted = [w for w in re.split(r"[+,\s]+", languages) if w]
    missing = [w for w in wanted if w not in langs]
    if not wanted:
        return Engine(path, version, langs, "no OCR language set (LONGCTX_OCR_LANGUAGES, e.g. eng)")
    if missing:
        pkgs = " ".join(f"tesseract-ocr-{m.lower().replace('_', '-')}" for m in missing)
        return Engine(
            path,
            version,
            langs,
            f"OCR language(s) {'+'.join(missing)} not installed for Tesseract (Debian/Ubuntu: apt-get "
            f"install {pkgs}; installed: {'+'.join(langs) or 'none'})",
        )
    return Engine(path, version, langs, None)


def engine_status(binary: str = "tesseract", languages: str = "eng") -> Engine:
    """The engine as configured, checked once per process (again when the binary changes on disk)."""
    path = shutil.which(binary)
    stamp = 0.0
    if path:
        with contextlib.suppress(OSError):
            stamp = os.stat(path).st_mtime
    return _engine_status(binary, languages, stamp)


def no_text_reason(limits: ParseLimits, problem: str | None = None) -> str:
    """The reason of a PDF with no text layer at all that OCR cannot read: says how to enable OCR."""
    if not limits.ocr or problem is None:
        how = "OCR is off: set LONGCTX_OCR=1 to read scans"
    else:
        how = f"OCR is not available: {problem}"
    return f"no extractable text (scanned PDF without a text layer; {how})"


def work_key(limits: ParseLimits, engine: Engine) -> str:
    """Fingerprint of everything that changes an OCR result: a work folder is reused only under the same."""
    parts = [
        OCR_CODE_VERSION,
        engine.version,
        limits.ocr_languages,
        limits.ocr_dpi,
        limits.ocr_page_timeout_s,
    ]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:12]


# ---- step 1: the plan (parse child, pypdf) --------------------------------------------------------------


def alnum_count(text: str) -> int:
    return sum(1 for ch in text if ch.isalnum())


def _draws_images(page: object) -> bool:
    """Whether a pypdf page names an image XObject in its resources (cheap: nothing is decoded)."""
    try:
        resources = page.get("/Resources")  # type: ignore[attr-defined]
        resources = resources.get_object() if resources is not None else None
        xobjects = resources.get("/XObject") if resources is not None else None
        xobjects = xobjects.get_object() if xobjects is not None else None
        if not xobjects:
            return False
        for ref in list(xobjects.values())[:64]:
            obj = ref.get_object()
            subtype = obj.get("/Subtype")
            if subtype in ("/Image", "/Form"):  # a form can hold images too: pdfium looks inside
                return True
    except MemoryError:
        raise
    except Exception:
        return False
    return False


def plan_pages(reader: object, texts: list[str], limits: ParseLimits) -> list[list]:
    """Candidate pages for OCR: [[number, layer letters+digits], ...]; empty when OCR is off."""
    if not limits.ocr:
        return []
    plan: list[list] = []
    pages = reader.pages  # type: ignore[attr-defined]
    for index, text in enumerate(texts):
        chars = alnum_count(text)
        if chars < MIN_LAYER_CHARS:
            plan.append([index + 1, chars])
            continue
        try:
            page = pages[index]
        except MemoryError:
            raise
        except Exception:
            continue
        if _draws_images(page):
            plan.append([index + 1, chars])
    return plan


# ---- step 2: classify, render, recognise (OCR child) ----------------------------------------------------


@dataclass
class PageOcr:
    """One page read by the engine: text with word offsets into it, boxes as page fractions."""

    text: str
    words: list[list]  # [char_start, char_end, x0, y0, x1, y1, confidence 0..100]
    confidence: float  # mean word confidence, weighted by characters (0..100)
    rotated: int = 0  # degrees the page image was turned (clockwise) before reading

    @property
    def chars(self) -> int:
        return alnum_count(self.text)


def parse_tsv(tsv: str, width: int, height: int) -> PageOcr:
    """Tesseract TSV -> text (words by spaces, lines by newlines, paragraphs by a blank line) with offsets."""
    parts: list[str] = []
    words: list[list] = []
    pos = 0
    prev_line: tuple | None = None
    prev_par: tuple | None = None
    total = weighted = 0.0
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5":
            continue
        try:
            conf = float(cols[10])
            left, top, w, h = (int(c) for c in cols[6:10])
        except ValueError:
            continue
        word = " ".join(normalize_page(cols[11]).split())
        if conf < 0 or not word:
            continue
        par = (cols[2], cols[3])
        line = (cols[2], cols[3], cols[4])
        if prev_line is not None:
            sep = " " if line == prev_line else ("\n" if par == prev_par else "\n\n")
            parts.append(sep)
            pos += len(sep)
        prev_line, prev_par = line, par
        parts.append(word)
        words.append(
            [
                pos,
                pos + len(word),
                round(left / width, 5),
                round(top / height, 5),
                round((left + w) / width, 5),
                round((top + h) / height, 5),
                round(conf, 1),
            ]
        )
        pos += len(word)
        total += len(word)
        weighted += conf * len(word)
    text = "".join(parts)
    return PageOcr(text, words, round(weighted / total, 2) if total else 0.0)


def _rotate_boxes(result: PageOcr, degrees: int) -> PageOcr:
    """Boxes read on the image turned `degrees` clockwise -> boxes on the page as rendered (unturned)."""
    out = []
    for s, e, x0, y0, x1, y1, c in result.words:
        if degrees == 90:  # turned clockwise: (u, v) on it was (v, 1 - u) on the page
            box = (y0, 1 - x1, y1, 1 - x0)
        elif degrees == 180:
            box = (1 - x1, 1 - y1, 1 - x0, 1 - y0)
        elif degrees == 270:
            box = (1 - y1, x0, 1 - y0, x1)
        else:
            box = (x0, y0, x1, y1)
        out.append([s, e, *(round(v, 5) for v in box), c])
    return PageOcr(result.text, out, result.confidence, degrees)


def _pgm(image: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PPM")  # type: ignore[attr-defined]
    return buffer.getvalue()


def _die_with_parent() -> None:
    """In the engine's process before exec (Linux): SIGKILL it when the OCR child that started it dies, so
    a batch killed at its time limit leaves no engine running."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _run_engine(
    engine: Engine, image_bytes: bytes, args: list[str], timeout: float, limit_s: float | None = None
) -> str:
    """The engine on one image (stdin) -> stdout; a timeout or an error raises IngestError for this page.

    The engine runs in a process group of its own, killed whole at the time limit."""
    assert engine.binary is not None
    try:
        proc = subprocess.Popen(
            [engine.binary, "stdin", "stdout", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_engine_env(),
            start_new_session=True,  # killed as a group at the time limit
            # preexec_fn is unsafe beside other threads; the sandbox's OCR children have none
            preexec_fn=_die_with_parent if threading.active_count() == 1 else None,
        )
    except OSError as exc:
        raise IngestError(f"OCR engine failed to start ({short_exc(exc)})") from exc
    try:
        out, err = proc.communicate(image_bytes, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.kill()
        proc.communicate()
        raise IngestError(f"OCR timed out (page limit {limit_s or timeout:g} s)") from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.kill()
        proc.wait()
        raise
    if proc.returncode != 0:
        lines = err.decode("utf-8", "replace").strip().splitlines()
        raise IngestError(f"OCR engine exited with {proc.returncode} ({(lines or ['no message'])[-1][:200]})")
    return out.decode("utf-8", "replace")


def recognise(image: object, limits: ParseLimits, engine: Engine, dpi: int, deadline: float) -> PageOcr:
    """Read one page image (PIL, grey); tried once more turned upright when the first reading is poor."""
    width, height = image.size  # type: ignore[attr-defined]
    args = ["-l", limits.ocr_languages, "--dpi", str(dpi), "--psm", "3", "tsv"]
    data = _pgm(image)
    limit = limits.ocr_page_timeout_s
    first = parse_tsv(
        _run_engine(engine, data, args, max(1.0, deadline - time.monotonic()), limit), width, height
    )
    if first.confidence >= RETRY_ORIENTATION_BELOW and first.words:
        return first
    if not engine.osd or deadline - time.monotonic() < 2:
        return first
    try:
        osd = _run_engine(engine, data, ["--psm", "0", "--dpi", str(dpi)], deadline - time.monotonic())
    except IngestError:
        return first
    found = re.search(r"Rotate:\s*(\d+)", osd)
    turn = int(found.group(1)) % 360 if found else 0
    if turn not in (90, 180, 270) or deadline - time.monotonic() < 2:
        return first
    turned = image.rotate(-turn, expand=True)  # type: ignore[attr-defined]  # PIL turns counter-clockwise
    try:
        tsv = _run_engine(engine, _pgm(turned), args, deadline - time.monotonic())
    except IngestError:
        return first
    second = _rotate_boxes(parse_tsv(tsv, turned.size[0], turned.size[1]), turn)
    if second.chars * max(second.confidence, 1) > first.chars * max(first.confidence, 1):
        return second
    return first


def _union_share(rects: list[tuple[float, float, float, float]], width: float, height: float) -> float:
    """Share of the page covered by the union of rectangles (a coarse grid: exact enough, never > 1)."""
    if not rects or width <= 0 or height <= 0:
        return 0.0
    n = 64
    cells = set()
    for left, bottom, right, top in rects:
        x0 = max(0, int(left / width * n))
        x1 = min(n, int(-(-right / width * n // 1)))
        y0 = max(0, int(bottom / height * n))
        y1 = min(n, int(-(-top / height * n // 1)))
        for x in range(x0, x1):
            for y in range(y0, y1):
                cells.add((x, y))
    return len(cells) / (n * n)


def _overlap_share(inner: list[tuple], outer: list[tuple]) -> float:
    """Share of the area of `inner` rectangles lying inside some `outer` rectangle."""
    total = covered = 0.0
    for a in inner:
        area = max(0.0, a[2] - a[0]) * max(0.0, a[3] - a[1])
        total += area
        best = 0.0
        for b in outer:
            w = min(a[2], b[2]) - max(a[0], b[0])
            h = min(a[3], b[3]) - max(a[1], b[1])
            if w > 0 and h > 0:
                best = max(best, w * h)
        covered += min(area, best)
    return covered / total if total else 0.0


def _drawn_annotations(page: object) -> int:
    """Annotations that draw something of their own (not links, pop-ups or widgets' hidden states)."""
    import pypdfium2.raw as pdfium_c

    skip = {pdfium_c.FPDF_ANNOT_LINK, pdfium_c.FPDF_ANNOT_POPUP}
    count = 0
    raw = page.raw  # type: ignore[attr-defined]
    for i in range(min(pdfium_c.FPDFPage_GetAnnotCount(raw), 500)):
        annot = pdfium_c.FPDFPage_GetAnnot(raw, i)
        if not annot:
            continue
        try:
            hidden = pdfium_c.FPDFAnnot_GetFlags(annot) & (
                pdfium_c.FPDF_ANNOT_FLAG_HIDDEN | pdfium_c.FPDF_ANNOT_FLAG_INVISIBLE
            )
            if pdfium_c.FPDFAnnot_GetSubtype(annot) not in skip and not hidden:
                count += 1
        finally:
            pdfium_c.FPDFPage_CloseAnnot(annot)
    return count


def classify(page: object, layer_chars: int) -> str | None:
    """Why this pdfium page needs OCR ("no text layer", "image with a short text layer", "pasted image"),
    or None (blank, text objects only, or its text layer is usable)."""
    import pypdfium2.raw as pdfium_c

    left, bottom, right, top = page.get_bbox()  # type: ignore[attr-defined]
    width, height = right - left, top - bottom
    images: list[tuple] = []
    texts: list[tuple] = []
    drawn = 0  # objects other than text: images, paths (text may be drawn as outlines), shadings
    for obj in page.get_objects(max_depth=4):  # type: ignore[attr-defined]
        if obj.type == pdfium_c.FPDF_PAGEOBJ_FORM:
            continue
        if obj.type != pdfium_c.FPDF_PAGEOBJ_TEXT:
            drawn += 1
        if obj.type not in (pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_TEXT):
            continue
        try:
            x0, y0, x1, y1 = obj.get_bounds()
        except Exception:
            continue
        rect = (max(x0, left) - left, max(y0, bottom) - bottom, min(x1, right) - left, min(y1, top) - bottom)
        if rect[2] <= rect[0] or rect[3] <= rect[1]:
            continue
        (images if obj.type == pdfium_c.FPDF_PAGEOBJ_IMAGE else texts).append(rect)
        if drawn + len(texts) > 20_000:
            break
    if drawn == 0:
        drawn = _drawn_annotations(page)  # e.g. filled form fields, stamps: drawn, but not page objects
    if drawn == 0:
        return None  # blank, or text objects only: the text layer is all there is to read
    if layer_chars < MIN_LAYER_CHARS:
        return "no text layer"
    share = _union_share(images, width, height)
    if share >= BIG_IMAGE_SHARE and layer_chars < SHORT_LAYER_CHARS:
        return "image with a short text layer"
    if share >= PASTED_IMAGE_SHARE and _overlap_share(texts, images) < 0.5:
        return "pasted image"
    return None


def _ocr_wins(result: PageOcr, layer_chars: int) -> bool:
    """Whether the OCR text replaces the page's text layer: any text when there is no layer at all; else
    clearly more letters and digits (a page number and a rule line read again are not worth it)."""
    if layer_chars == 0:
        return result.chars > 0
    if layer_chars < MIN_LAYER_CHARS:
        return result.chars >= layer_chars * OCR_GAIN + OCR_GAIN_MIN // 2
    return result.chars >= layer_chars * OCR_GAIN + OCR_GAIN_MIN


def _inked(image: object, dpi: int) -> bool:
    """Whether ink on the page spans more than a rule's thickness both ways (text needs a few points of
    height and width; a page with only a line or a border needs no OCR)."""
    from PIL import Image

    ink = image.point(lambda v: 255 if v < 160 else 0)  # type: ignore[attr-defined]
    width, height = ink.size
    row_ink = ink.resize((1, height), Image.Resampling.BOX).tobytes()  # one byte per row: its mean ink
    col_ink = ink.resize((width, 1), Image.Resampling.BOX).tobytes()
    rows, cols = len(row_ink) - row_ink.count(0), len(col_ink) - col_ink.count(0)
    least = max(3, round(dpi * MIN_INK_INCH))
    return rows >= least and cols >= least


def render(page: object, dpi: int) -> tuple[object, int]:
    """The page as a grey PIL image at `dpi` (lower when the page would pass MAX_PIXELS); (image, dpi)."""
    width, height = page.get_size()  # type: ignore[attr-defined]
    scale = dpi / 72.0
    pixels = width * scale * height * scale
    if pixels > MAX_PIXELS:
        scale *= (MAX_PIXELS / pixels) ** 0.5
    bitmap = page.render(scale=scale, grayscale=True)  # type: ignore[attr-defined]
    image = bitmap.to_pil().convert("L")
    bitmap.close()
    return image, max(1, round(scale * 72))


def _write_result(out_dir: Path, number: int, payload: dict) -> None:
    path = out_dir / PAGE_FILE.format(number)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def ocr_pages(path: str | Path, pages: list[list], limits: ParseLimits, out_dir: str | Path) -> None:
    """Classify, render and read each [number, layer chars] page; one result file per page in `out_dir`.

    A page that fails (engine error or timeout, render error) gets a result with "error"; the others go on.
    """
    import pypdfium2 as pdfium

    out = Path(out_dir)
    engine = engine_status(limits.ocr_tesseract, limits.ocr_languages)
    try:
        # no init_forms(): pdfium's form filler can take minutes per page on a hostile file; annotations
        # (filled fields included) are still drawn from their appearance streams
        pdf = pdfium.PdfDocument(str(path))
    except Exception as exc:
        for number, _ in pages:
            _write_result(out, number, {"page": number, "error": f"cannot render ({short_exc(exc)})"})
        return
    try:
        for number, layer_chars in pages:
            started = time.monotonic()
            payload: dict = {"page": number, "layer_chars": layer_chars}
            try:
                page = pdf[number - 1]
                try:
                    why = classify(page, layer_chars)
                    payload["why"] = why
                    if why is not None:
                        if engine.problem:
                            raise IngestError(f"OCR is not available: {engine.problem}")
                        image, dpi = render(page, limits.ocr_dpi)
                        deadline = started + limits.ocr_page_timeout_s
                        if not _inked(image, dpi):
                            payload["why"] = None  # rules or borders only: nothing for the engine
                    if payload["why"] is not None:
                        result = recognise(image, limits, engine, dpi, deadline)
                        payload.update(
                            used=_ocr_wins(result, layer_chars),
                            text=result.text,
                            words=result.words,
                            confidence=result.confidence,
                            rotated=result.rotated,
                            dpi=dpi,
                        )
                finally:
                    page.close()
            except IngestError as exc:
                payload["error"] = exc.reason
            except MemoryError:
                raise
            except Exception as exc:
                payload["error"] = f"OCR failed ({short_exc(exc)})"
            payload["seconds"] = round(time.monotonic() - started, 3)
            _write_result(out, number, payload)
    finally:
        pdf.close()


# ---- step 3: the merge (caller) --------------------------------------------------------------------------

#: run_batch(path, pages, out_dir, limits) -> None, or a reason when the batch stopped before its end
BatchRunner = Callable[[Path, list[list], Path, ParseLimits], "str | None"]
Progress = Callable[[int, int], None]


def run_inprocess(path: Path, pages: list[list], out_dir: Path, limits: ParseLimits) -> str | None:
    ocr_pages(path, pages, limits, out_dir)
    return None


def batch_timeout(pages: int, limits: ParseLimits) -> float:
    """Wall-clock limit of one OCR child: every page may use its whole limit, plus rendering and start-up."""
    return pages * (limits.ocr_page_timeout_s + RENDER_ALLOWANCE_S) + BATCH_OVERHEAD_S


def _load(out_dir: Path, number: int) -> dict | None:
    try:
        return json.loads((out_dir / PAGE_FILE.format(number)).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def complete(
    doc: ParsedDocument,
    path: Path,
    limits: ParseLimits,
    run_batch: BatchRunner = run_inprocess,
    *,
    work_dir: Path | None = None,
    progress: Progress | None = None,
    deadline: float | None = None,
) -> ParsedDocument:
    """OCR the pages `parse_pdf` planned (metadata "ocr_plan") and merge them into the document.

    `work_dir` keeps one result file per page (pass the same folder to go on after `OcrPaused`; default: a
    temporary folder). `deadline` (time.monotonic()) stops between batches with `OcrPaused` once at least
    one batch ran in this call.
    """
    plan = doc.metadata.pop("ocr_plan", None)
    if not plan:
        return doc
    engine = engine_status(limits.ocr_tesseract, limits.ocr_languages)
    no_layer = [n for n, chars in plan if chars < MIN_LAYER_CHARS]
    if engine.problem:
        if not doc.text.strip():
            raise IngestError(no_text_reason(limits, engine.problem))
        if no_layer:
            _warn_empty(doc, no_layer, f"OCR is not available: {engine.problem}")
        return doc
    if work_dir is None:
        with tempfile.TemporaryDirectory(prefix="longctx-ocr-") as tmp:
            return _complete(doc, path, limits, run_batch, Path(tmp), plan, engine, progress, deadline)
    work = Path(work_dir) / work_key(limits, engine)  # results of other settings are never mixed in
    work.mkdir(parents=True, exist_ok=True)
    return _complete(doc, path, limits, run_batch, work, plan, engine, progress, deadline)


def _warn_empty(doc: ParsedDocument, pages: list[int], why: str) -> None:
    warnings = doc.metadata.setdefault("warnings", [])
    warnings.append(f"no text layer (scanned?) on {len(pages)} pages: {page_ranges(pages)} ({why})")
    doc.metadata["empty_pages"] = sorted(set(doc.metadata.get("empty_pages", [])) | set(pages))


def _complete(
    doc: ParsedDocument,
    path: Path,
    limits: ParseLimits,
    run_batch: BatchRunner,
    work: Path,
    plan: list[list],
    engine: Engine,
    progress: Progress | None,
    deadline: float | None,
) -> ParsedDocument:
    started = time.monotonic()
    results: dict[int, dict] = {}
    for number, _ in plan:
        found = _load(work, number)
        if found is not None:
            results[number] = found
    todo = [entry for entry in plan if entry[0] not in results]
    batches_run = 0
    if progress is not None:
        progress(len(results), len(plan))
    while todo:
        if deadline is not None and batches_run and time.monotonic() >= deadline:
            raise OcrPaused(len(results), len(plan))
        batch = todo[:BATCH_PAGES]
        stopped = run_batch(path, batch, work, limits)
        batches_run += 1
        for number, _ in batch:
            found = _load(work, number)
            if found is not None:
                results[number] = found
        missing = [entry for entry in batch if entry[0] not in results]
        if stopped and missing:  # the page being read when the child stopped takes the blame
            number = missing[0][0]
            results[number] = {"page": number, "error": stopped}
            _write_result(work, number, results[number])
        todo = [entry for entry in todo if entry[0] not in results]
        if progress is not None:
            progress(len(results), len(plan))
    return merge(doc, plan, results, limits, engine, time.monotonic() - started)


def _pages(n: int, noun: str = "page") -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _moved_tables(old: ParsedDocument, new: ParsedDocument, ocr_pages: set[int]) -> list:
    """Tables of pages that kept their text layer; those of OCR pages go. Table spans are page-relative until
    the document is stored (`ingest.tables.rebase_tables`), so OCR text added before a page moves nothing."""
    out = []
    for table in old.tables:  # type: ignore[attr-defined]
        page = table.get("page") if isinstance(table, dict) else None
        if not isinstance(page, int) or not 1 <= page <= len(new.pages) or page in ocr_pages:
            continue
        out.append(table)
    return out


def merge(
    doc: ParsedDocument,
    plan: list[list],
    results: dict[int, dict],
    limits: ParseLimits,
    engine: Engine,
    seconds: float = 0.0,
) -> ParsedDocument:
    """The document with OCR texts in place of their pages' text layer; summary and words in metadata."""
    texts = [p.text for p in doc.pages]
    used: list[int] = []
    failed: list[int] = []
    first_error = ""
    words: dict[str, dict] = {}
    for number, _ in plan:
        res = results.get(number) or {}
        if res.get("error"):
            failed.append(number)
            first_error = first_error or res["error"]
            continue
        if not res.get("used"):
            continue
        texts[number - 1] = res["text"]
        used.append(number)
        words[str(number)] = {
            "confidence": res.get("confidence", 0.0),
            "words": res.get("words", []),
            "rotated": res.get("rotated", 0),
            "dpi": res.get("dpi"),
        }
    metadata = dict(doc.metadata)
    new = assemble_pages(texts, doc.media_type, metadata)
    if getattr(doc, "tables", None):  # tables found on text-layer pages: their offsets follow the new text
        new.tables = _moved_tables(doc, new, set(used))
    if len(new.text) > limits.max_text_chars + len(new.pages):
        raise IngestError(f"extracted text too large: more than {limits.max_text_chars} characters (limit)")
    empty = [p.number for p in new.pages if not p.text.strip()]
    warnings = [w for w in metadata.get("warnings", []) if not w.startswith("no text layer (scanned?)")]
    if failed:
        warnings.append(f"OCR failed on pages {page_ranges(failed)} ({first_error}); left as they were")
    if empty:
        warnings.append(
            f"no text layer (scanned?) on {len(empty)} pages: {page_ranges(empty)} (OCR found no text there)"
        )
    metadata["warnings"] = warnings
    metadata.pop("empty_pages", None)
    if empty:
        metadata["empty_pages"] = empty
    total_words = sum(len(w["words"]) for w in words.values())
    chars = sum(alnum_count(texts[n - 1]) for n in used)
    read = [n for n, _ in plan if "text" in (results.get(n) or {})]  # recognised, whether used or not
    if used or failed or read:
        metadata["ocr"] = {
            "engine": engine.version,
            "languages": limits.ocr_languages,
            "dpi": limits.ocr_dpi,
            "pages": used,
            "failed_pages": failed,
            "page_confidence": {str(n): words[str(n)]["confidence"] for n in used},
            "confidence": round(
                sum(words[str(n)]["confidence"] * alnum_count(texts[n - 1]) for n in used) / chars, 2
            )
            if chars
            else None,
            "words": total_words,
            "seconds": round(seconds, 2),
            "checked_pages": len(plan),
            "read_pages": len(read),  # includes pages whose text layer won (`_ocr_wins`)
        }
        metadata["ocr_words"] = words
    new.metadata = metadata
    if not new.text.strip():
        if failed and len(failed) == len(plan):
            raise IngestError(f"OCR failed on every page ({first_error})")
        if not failed and not any((results.get(n) or {}).get("why") for n, _ in plan):
            raise IngestError(
                f"empty document: {_pages(len(new.pages), 'blank page')} "
                "(no text layer, nothing to read on them)"
            )
        raise IngestError(
            f"empty document: no text layer, and OCR found no text on {_pages(len(new.pages))}"
            + (f" (OCR failed on pages {page_ranges(failed)}: {first_error})" if failed else "")
        )
    return new
