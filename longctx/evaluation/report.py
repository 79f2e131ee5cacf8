"""Shared scoring, tables, JSON output and the NIAH heatmap (PIL; no matplotlib) of `longctx eval`."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from longctx.analysis.reader import Answer

CUAD_IOU_THRESHOLD = 0.5  # CUAD's IOU_THRESH: a prediction matches a gold clause at word-set Jaccard >= 0.5


# ---- span matching ----------------------------------------------------------------------------------------
def answer_covers(answer: Answer, start: int, end: int) -> bool:
    """True when the answer's span, or its passage, contains the character span [start, end)."""
    if answer.text is None:
        return False
    s0, e0 = answer.char_start, answer.char_end
    if s0 is not None and e0 is not None and s0 <= start and end <= e0:
        return True
    p0 = answer.passage_start
    return answer.passage is not None and p0 is not None and p0 <= start and end <= p0 + len(answer.passage)


def spans_found(answers: Sequence[Answer], spans: Sequence[tuple[int, int]], top_k: int) -> list[bool]:
    """For each gold span: is it covered by one of the first `top_k` answers."""
    head = [a for a in answers if a.text is not None][: max(top_k, 0)]
    return [any(answer_covers(a, s, e) for a in head) for s, e in spans]


# ---- CUAD matching rule and precision/recall ---------------------------------------------------------------
def cuad_words(text: str) -> set[str]:
    """CUAD's `get_jaccard` normalisation: drop . , ; :, lower-case, '/' -> space, split on spaces."""
    for token in (".", ",", ";", ":"):
        text = text.replace(token, "")
    return set(text.lower().replace("/", " ").split())


def jaccard(prediction: str, gold: str) -> float:
    a, b = cuad_words(prediction), cuad_words(gold)
    union = a | b
    return len(a & b) / len(union) if union else 0.0


def cuad_match(prediction: str, gold: str, key: str | None) -> bool:
    """CUAD's rule: word-set Jaccard >= 0.5; for Parties also the gold name contained in the prediction."""
    return jaccard(prediction, gold) >= CUAD_IOU_THRESHOLD or (key == "Parties" and gold in prediction)


def precision_recall_curve(
    scores: Sequence[float], matched: Sequence[Sequence[int]], n_gold: int
) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall after each prediction, predictions sorted by score (best first; ties keep input
    order). `matched[i]` are the ids of the gold clauses prediction i matches (empty: a false positive).
    Counted as CUAD's `evaluate.py` does: a gold clause matched by any prediction so far is one true positive,
    a prediction matching no gold clause one false positive (a second match of an already found clause is
    neither); precision = TP / (TP + FP), recall = TP / n_gold."""
    order = sorted(range(len(scores)), key=lambda i: -float(scores[i]))
    seen: set[int] = set()
    fp = 0
    precisions, recalls = [], []
    for i in order:
        if matched[i]:
            seen.update(matched[i])
        else:
            fp += 1
        tp = len(seen)
        precisions.append(tp / (tp + fp) if tp + fp else 0.0)
        recalls.append(tp / n_gold if n_gold else 0.0)
    return np.asarray(precisions, dtype=float), np.asarray(recalls, dtype=float)


def _envelope(precisions: np.ndarray) -> np.ndarray:
    """CUAD's `process_precisions`: each precision replaced by the best precision at any later cutoff."""
    return np.maximum.accumulate(precisions[::-1])[::-1] if len(precisions) else precisions


def aupr(precisions: np.ndarray, recalls: np.ndarray) -> float:
    """Area under the (interpolated) precision-recall curve, trapezoids from recall 0 as in CUAD."""
    if len(precisions) == 0:
        return 0.0
    p = _envelope(np.asarray(precisions, dtype=float))
    r = np.asarray(recalls, dtype=float)
    p = np.concatenate([[p[0]], p])
    r = np.concatenate([[0.0], r])
    area = float(np.sum((r[1:] - r[:-1]) * (p[1:] + p[:-1]) / 2.0))
    return 0.0 if np.isnan(area) else area


def precision_at_recall(precisions: np.ndarray, recalls: np.ndarray, recall: float) -> float:
    """Interpolated precision at the first cutoff reaching `recall`; 0 when it is never reached (CUAD)."""
    p = _envelope(np.asarray(precisions, dtype=float))
    for prec, rec in zip(p, recalls, strict=True):
        if rec >= recall - 1e-12:
            return float(prec)
    return 0.0


# ---- output ---------------------------------------------------------------------------------------------
def machine() -> str:
    import os

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.machine()}"
    return f"{system}, {cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (floats with 3 decimals)."""

    def cell(x: object) -> str:
        if isinstance(x, float):
            return "-" if np.isnan(x) else f"{x:.3f}"
        return "-" if x is None else str(x)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(x) for x in r) + " |" for r in rows]
    return "\n".join(lines)


def write_json(result: dict, path: Path | str | None) -> Path | None:
    if path is None:
        return None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    result = {**result, "machine": result.get("machine", machine()), "written": stamp}
    path.write_text(json.dumps(result, indent=1, default=float) + "\n", encoding="utf-8")
    return path


def length_label(n: int) -> str:
    return f"{n // 1024}K" if n % 1024 == 0 and n >= 1024 else str(n)


# ---- heatmap --------------------------------------------------------------------------------------------
def _colour(v: float) -> tuple[int, int, int]:
    """Red (0) -> yellow (0.5) -> green (1); grey for NaN."""
    if v is None or np.isnan(v):
        return (200, 200, 200)
    v = min(max(float(v), 0.0), 1.0)
    if v < 0.5:
        t = v / 0.5
        return (215, int(48 + t * (190 - 48)), 39)
    t = (v - 0.5) / 0.5
    return (int(215 - t * (215 - 26)), int(190 - t * (190 - 150)), int(39 + t * (65 - 39)))


def heatmap_png(
    grid: Sequence[Sequence[float]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    path: Path | str,
    title: str = "",
    xlabel: str = "needle depth",
    ylabel: str = "context length (tokens)",
) -> Path:
    """A heatmap PNG: one coloured cell per value with the value printed in it, axis labels and a title."""
    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.load_default(size=14)
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    cw, ch = 56, 36
    left, top, right, bottom = 110, 50, 20, 60
    nr, nc = len(row_labels), len(col_labels)
    w, h = left + nc * cw + right, top + nr * ch + bottom
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)

    def centred(x: float, y: float, s: str, fill=(0, 0, 0)) -> None:
        box = d.textbbox((0, 0), s, font=font)
        d.text((x - (box[2] - box[0]) / 2, y - (box[3] - box[1]) / 2 - box[1]), s, fill=fill, font=font)

    centred(w / 2, 20, title)
    for i, row in enumerate(grid):
        for j, v in enumerate(row):
            x0, y0 = left + j * cw, top + i * ch
            d.rectangle([x0, y0, x0 + cw - 1, y0 + ch - 1], fill=_colour(v), outline="white")
            centred(x0 + cw / 2, y0 + ch / 2, "-" if v is None or np.isnan(v) else f"{v:.2f}")
    for i, lab in enumerate(row_labels):
        box = d.textbbox((0, 0), lab, font=font)
        d.text((left - 8 - (box[2] - box[0]), top + i * ch + ch / 2 - 8), lab, fill="black", font=font)
    for j, lab in enumerate(col_labels):
        centred(left + j * cw + cw / 2, top + nr * ch + 12, lab)
    centred(left + nc * cw / 2, top + nr * ch + 38, xlabel)
    # y label, rotated
    box = d.textbbox((0, 0), ylabel, font=font)
    tw, th = box[2] - box[0] + 4, box[3] + 4
    lab = Image.new("RGB", (tw, th), "white")
    ImageDraw.Draw(lab).text((2, 0), ylabel, fill="black", font=font)
    lab = lab.rotate(90, expand=True)
    img.paste(lab, (8, int(top + nr * ch / 2 - lab.height / 2)))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path
