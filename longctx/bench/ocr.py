"""`longctx bench ocr`: text-layer PDFs rasterised to image-only PDFs, ingested with OCR, compared with their
text layer (character accuracy) and timed (OCR pages per second).

Also the helpers the tests use: `rasterize_pdf` (a PDF -> an image-only PDF of the same page sizes, as a
scanner would make it), `text_pdf` (typed pages -> an image-only PDF, no input file needed) and
`char_accuracy`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import re
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from longctx.ingest.types import ParseLimits

MARK = "ocr-accuracy"


def rasterize_pdf(src: str | Path, dst: str | Path, dpi: int = 300, *, quality: int = 85) -> Path:
    """Render every page of `src` at `dpi` (grey) and write an image-only PDF with the same page sizes.

    Pages are JPEG-compressed (`quality`), like most scanners' output; nothing of the text layer survives.
    """
    import pypdf
    import pypdfium2 as pdfium

    writer = pypdf.PdfWriter()
    pdf = pdfium.PdfDocument(str(src))
    try:
        for index in range(len(pdf)):
            page = pdf[index]
            bitmap = page.render(scale=dpi / 72, grayscale=True)
            image = bitmap.to_pil().convert("L")
            bitmap.close()
            page.close()
            buffer = io.BytesIO()
            image.save(buffer, format="PDF", resolution=float(dpi), quality=quality)
            writer.append(pypdf.PdfReader(io.BytesIO(buffer.getvalue())))
    finally:
        pdf.close()
    out = Path(dst)
    with open(out, "wb") as fh:
        writer.write(fh)
    return out


def _font(size: int) -> object:
    from PIL import ImageFont

    for name in ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)  # Pillow's own scalable font (needs FreeType)


def text_page_image(
    text: str, dpi: int = 200, *, size_pt: float = 12.0, page_pt: tuple[float, float] = (612, 792)
) -> object:
    """A white page (Letter by default) with `text` typed on it, one line per line, 1-inch margins."""
    from PIL import Image, ImageDraw

    scale = dpi / 72
    image = Image.new("L", (round(page_pt[0] * scale), round(page_pt[1] * scale)), 255)
    draw = ImageDraw.Draw(image)
    font = _font(round(size_pt * scale))
    width = (page_pt[0] - 144) * scale
    y = 72 * scale
    for line in wrap_lines(text, lambda s: font.getlength(s), width):  # type: ignore[attr-defined]
        draw.text((72 * scale, y), line, fill=0, font=font)
        y += size_pt * 1.5 * scale
    return image


def wrap_lines(text: str, measure: Callable[[str], float], width: float) -> list[str]:
    """`text`'s lines, each broken at spaces so that it fits `width` (as `measure` says)."""
    out: list[str] = []
    for line in text.split("\n"):
        current = ""
        for word in line.split(" "):
            trial = f"{current} {word}" if current else word
            if current and measure(trial) > width:
                out.append(current)
                current = word
            else:
                current = trial
        out.append(current)
    return out


def text_pdf(pages: list[str], dst: str | Path, dpi: int = 200, **kw: object) -> Path:
    """An image-only PDF of typed pages (a stand-in for a scan, made without any input file)."""
    images = [text_page_image(text, dpi, **kw) for text in pages]  # type: ignore[arg-type]
    out = Path(dst)
    images[0].save(out, format="PDF", resolution=float(dpi), save_all=True, append_images=images[1:])
    return out


RULE = re.compile(r"[-_=.*·…]{3,}")  # drawn rules and dot leaders typed as characters: "________", "....."


def normalise_ws(text: str, *, drop_rules: bool = False) -> str:
    """Canonical Unicode (NFC: e.g. U+037E GREEK QUESTION MARK is ';'), whitespace runs -> one space."""
    text = unicodedata.normalize("NFC", text)
    if drop_rules:
        text = RULE.sub(" ", text)
    return " ".join(text.split())


def char_accuracy(hypothesis: str, reference: str, *, drop_rules: bool = False) -> float:
    """1 - edit distance / reference length, after whitespace normalisation (runs -> one space).

    `drop_rules` also removes runs of 3+ rule characters (signature lines, dot leaders) from both sides:
    they are drawn lines, which OCR reads as lines, not as characters."""
    from rapidfuzz.distance import Levenshtein

    ref = normalise_ws(reference, drop_rules=drop_rules)
    hyp = normalise_ws(hypothesis, drop_rules=drop_rules)
    if not ref:
        return 1.0 if not hyp else 0.0
    return 1.0 - Levenshtein.distance(hyp, ref) / len(ref)


def flexible_accuracy(
    hypothesis: str,
    reference: str,
    *,
    min_fragment: int = 4,
    drop_rules: bool = False,
    trace: list | None = None,
) -> float:
    """Character accuracy that does not depend on reading order (after Clausner et al., "Flexible character
    accuracy measure for reading-order-independent evaluation", 2020).

    Each reference line (whitespace-normalised, longest first) is aligned with its best-matching stretch of
    the OCR text (rapidfuzz's partial-ratio alignment), which is then used up; the parts of the line outside
    the alignment go back in the queue as shorter fragments (a line the OCR split into two blocks). Errors:
    edit distance of each aligned fragment, fragments found nowhere (deletions) and OCR characters left over
    (insertions, spaces not counted). Accuracy = 1 - errors / reference characters."""
    import heapq

    from rapidfuzz import fuzz
    from rapidfuzz.distance import Levenshtein

    ref_lines = [normalise_ws(line, drop_rules=drop_rules) for line in reference.splitlines()]
    ref_lines = [line for line in ref_lines if line]
    total = sum(len(line) for line in ref_lines)
    if not total:
        return 1.0 if not hypothesis.strip() else 0.0
    hyp = "\n".join(normalise_ws(line, drop_rules=drop_rules) for line in hypothesis.splitlines())
    used = "\x00"
    queue = [(-len(line), i, line) for i, line in enumerate(ref_lines)]
    heapq.heapify(queue)
    counter = len(queue)
    errors = 0
    while queue:
        _, _, frag = heapq.heappop(queue)
        frag = frag.strip()
        if not frag:
            continue
        if len(frag) < min_fragment:
            at = hyp.find(frag)
            if at < 0:
                errors += len(frag)
                if trace is not None:
                    trace.append((frag, ""))
            else:
                hyp = hyp[:at] + used * len(frag) + hyp[at + len(frag) :]
            continue
        al = fuzz.partial_ratio_alignment(frag, hyp)
        if al is None or al.score < 50:
            errors += len(frag)
            if trace is not None:
                trace.append((frag, ""))
            continue
        if len(frag) > len(hyp):  # rapidfuzz aligned the other way round
            errors += len(frag)
            continue
        cost = Levenshtein.distance(frag[al.src_start : al.src_end], hyp[al.dest_start : al.dest_end])
        if cost > max(2, 0.1 * len(frag)) and " " in frag.strip():
            # a poor match of the whole fragment: its parts may lie apart in the OCR text; try them singly
            cut = min((i for i, ch in enumerate(frag) if ch == " "), key=lambda i: abs(i - len(frag) // 2))
            for part in (frag[:cut], frag[cut + 1 :]):
                counter += 1
                heapq.heappush(queue, (-len(part), counter, part))
            continue
        errors += cost
        if trace is not None and cost:
            trace.append((frag[al.src_start : al.src_end], hyp[al.dest_start : al.dest_end]))
        hyp = hyp[: al.dest_start] + used * (al.dest_end - al.dest_start) + hyp[al.dest_end :]
        for rest in (frag[: al.src_start], frag[al.src_end :]):
            if rest.strip():
                counter += 1
                heapq.heappush(queue, (-len(rest), counter, rest))
    left = [ch for ch in hyp if ch != used and not ch.isspace()]
    errors += len(left)
    if trace is not None and left:
        trace.append(("", "".join(left)))
    return max(0.0, 1.0 - errors / total)


def pick_contracts(folder: Path, n: int, seed: int, max_pages: int) -> list[Path]:
    """`n` contract PDFs drawn at random (seeded) from `folder`, among those of at most `max_pages` pages."""
    import pypdf

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".pdf")
    random.Random(seed).shuffle(files)
    chosen: list[Path] = []
    for path in files:
        try:
            pages = len(pypdf.PdfReader(path).pages)
        except Exception:
            continue
        if pages <= max_pages:
            chosen.append(path)
        if len(chosen) == n:
            break
    return chosen


def measure(path: Path, dpis: Iterable[int], limits: ParseLimits, work: Path) -> dict:
    """The text layer of `path` vs OCR of its rasterised copies: accuracy per document and page, timings."""
    from longctx.ingest import parse_file

    digital = parse_file(path, limits=limits)
    row: dict = {"file": path.name, "pages": len(digital.pages), "chars": len(normalise_ws(digital.text))}
    for dpi in dpis:
        scan = rasterize_pdf(path, work / f"{path.stem[:60]}-{dpi}.pdf", dpi)
        started = time.perf_counter()
        doc = parse_file(scan, limits=limits)
        wall = time.perf_counter() - started
        info = doc.metadata.get("ocr") or {}
        pairs = [(p, d) for p, d in zip(doc.pages, digital.pages, strict=True) if d.text.strip()]
        row[str(dpi)] = {
            "strict": char_accuracy(doc.text, digital.text),
            "flexible": flexible_accuracy(doc.text, digital.text, drop_rules=True),
            "worst_page_strict": min((char_accuracy(p.text, d.text) for p, d in pairs), default=None),
            "worst_page_flexible": min(
                (flexible_accuracy(p.text, d.text, drop_rules=True) for p, d in pairs), default=None
            ),
            "same_pages": all(
                (p.text.strip() != "") == (d.text.strip() != "")
                for p, d in zip(doc.pages, digital.pages, strict=True)
            ),
            "ocr_pages": len(info.get("pages") or []),
            "confidence": info.get("confidence"),
            "ocr_seconds": info.get("seconds"),
            "wall_s": wall,
            "bytes": scan.stat().st_size,
        }
        scan.unlink()
    print(
        f"  {path.name}: " + json.dumps({d: round(row[str(d)]["strict"], 4) for d in dpis}), file=sys.stderr
    )
    return row


def run(folder: Path, n: int, seed: int, max_pages: int, dpis: list[int], jobs: int) -> dict:
    from longctx.config import get_settings

    limits = ParseLimits.of(get_settings())
    files = pick_contracts(folder, n, seed, max_pages)
    if not files:
        raise SystemExit(f"no PDFs in {folder}")
    print(f"ocr accuracy: {len(files)} contracts x {dpis} dpi, jobs={jobs}", file=sys.stderr)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="longctx-bench-ocr-") as tmp, ThreadPoolExecutor(jobs) as pool:
        rows = list(pool.map(lambda p: measure(p, dpis, limits, Path(tmp)), files))
    summary = {}
    chars = sum(r["chars"] for r in rows)
    for dpi in dpis:
        key = str(dpi)
        pages = sum(r[key]["ocr_pages"] for r in rows)
        ocr_s = sum(r[key]["ocr_seconds"] or 0 for r in rows)
        out: dict = {
            "pages": pages,
            "ocr_seconds": ocr_s,
            "pages_per_s_per_worker": pages / ocr_s if ocr_s else 0.0,
        }
        for metric in ("strict", "flexible"):
            values = sorted(r[key][metric] for r in rows)
            out[metric] = sum(r[key][metric] * r["chars"] for r in rows) / chars if chars else 0.0
            out[f"{metric}_median"] = values[len(values) // 2]
            out[f"{metric}_min"] = values[0]
        summary[key] = out
    return {
        "rows": rows,
        "summary": summary,
        "wall_s": time.perf_counter() - started,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "limits": limits.__dict__,
        "engine": _engine(limits),
        "selection": {"folder": str(folder), "contracts": n, "seed": seed, "max_pages": max_pages},
    }


def _engine(limits: ParseLimits) -> str:
    from longctx.ingest.ocr import engine_status

    e = engine_status(limits.ocr_tesseract, limits.ocr_languages)
    return e.version or (e.problem or "?")


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.2f} %"


def render(data: dict, command: str, dpis: list[int]) -> str:
    start, end = f"<!-- longctx-bench-ocr:{MARK}:start -->", f"<!-- longctx-bench-ocr:{MARK}:end -->"
    m, sel = data["machine"], data["selection"]
    lines = [
        start,
        "### Character accuracy on rasterised CUAD contracts (generated)",
        "",
        "Command (rerun to refresh this block):",
        "",
        "```",
        command,
        "```",
        "",
        f"{len(data['rows'])} contracts drawn at random (seed {sel['seed']}) among the CUAD PDFs of at most "
        f"{sel['max_pages']} pages; each rasterised (grey, JPEG) to an image-only PDF at every dpi and "
        f"ingested with OCR (rendered for the engine at LONGCTX_OCR_DPI={data['limits']['ocr_dpi']}). "
        f"Engine: {data['engine']}, languages {data['limits']['ocr_languages']}, one thread per page. "
        f"Machine: {m['cpus']} CPU cores shared with other work, Python {m['python']}; "
        f"wall {data['wall_s']:.0f} s.",
        "",
        "Reference: the text layer of the digital PDF as the service extracts it (pypdf). **Strict** = 1 - "
        "edit distance / reference length after whitespace normalisation (and Unicode NFC), over the whole "
        "document. **Flexible** = the same count of character errors, but independent of reading order "
        "(each reference line is aligned with its best match in the OCR text, `flexible_accuracy`) and "
        "without rules typed as characters (runs of 3+ `_-=.`: signature lines, dot leaders).",
        "",
        "| dpi | contracts | OCR pages | strict, all characters | strict: median / worst contract "
        "| flexible, all characters | flexible: median / worst contract | OCR pages/s per worker |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for dpi in dpis:
        s = data["summary"][str(dpi)]
        lines.append(
            f"| {dpi} | {len(data['rows'])} | {s['pages']} | {_pct(s['strict'])} "
            f"| {_pct(s['strict_median'])} / {_pct(s['strict_min'])} | {_pct(s['flexible'])} "
            f"| {_pct(s['flexible_median'])} / {_pct(s['flexible_min'])} "
            f"| {s['pages_per_s_per_worker']:.2f} |"
        )
    head = "| contract | pages | " + " | ".join(
        f"{d} dpi: strict / flexible / worst page (flexible) / confidence" for d in dpis
    )
    lines += ["", head + " |", "|---|---:|" + "---:|" * len(dpis)]
    for r in data["rows"]:
        cells = []
        for dpi in dpis:
            c = r[str(dpi)]
            cells.append(
                f"{_pct(c['strict'])} / {_pct(c['flexible'])} / {_pct(c['worst_page_flexible'])} "
                f"/ {c['confidence'] or 0:.1f}"
            )
        lines.append(f"| `{r['file'][:70]}` | {r['pages']} | " + " | ".join(cells) + " |")
    lines += ["", end, ""]
    return "\n".join(lines)


def write_block(out: Path, block: str) -> None:
    """The block's first and last lines are its markers (`bench.ingest.replace_block`)."""
    from .ingest import replace_block

    start = block.splitlines()[0]
    end = block.rstrip("\n").splitlines()[-1]
    replace_block(out, block, start, end, "\n\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="longctx bench ocr", description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder of text-layer PDFs (e.g. ../shared/data/cuad/pdf)")
    parser.add_argument("--contracts", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-pages", type=int, default=30, help="draw only among PDFs of at most N pages")
    parser.add_argument("--dpi", type=int, nargs="+", default=[200, 300])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="markdown file to update (docs/ingestion.md)")
    args = parser.parse_args(argv)
    command = (
        f"longctx bench ocr {args.folder} --contracts {args.contracts} --seed {args.seed} "
        f"--max-pages {args.max_pages} --dpi {' '.join(map(str, args.dpi))} --jobs {args.jobs}"
        + (f" --out {args.out}" if args.out else "")
    )
    data = run(args.folder, args.contracts, args.seed, args.max_pages, args.dpi, args.jobs)
    block = render(data, command, args.dpi)
    if args.out:
        write_block(args.out, block)
    print(block)
    print(json.dumps(data["summary"]), file=sys.stderr)
    worst = min(data["summary"][str(d)]["strict"] for d in args.dpi)
    return 0 if worst >= 0.98 else 1
