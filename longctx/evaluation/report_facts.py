"""Labelled 10-Q facts: is the answer's value the labelled cell's value (after unit/scale normalisation), on
the labelled page; and are questions about metrics a report does not contain left unanswered.

Each fact has two questions (a direct one and a paraphrase worded away from the row label); both are asked.
The top answer counts: its structured value (`Answer.detail["value"]`, base units) must equal the label's to
within rounding of the printed figure; an answer without a structured value (a text span) is parsed for the
first number it shows, scaled by the words after it ("million", "billion"). Page: the top answer's page.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

from longctx.analysis.reader import Answer, Query, Reader
from longctx.datasets.report_facts import load_report_facts
from longctx.datasets.sec10q import load_report, sec10q_dir

from .report import machine, table, write_json

_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9}


def answer_value(a: Answer) -> float | None:
    """The number an answer states, in base units."""
    if a.detail and a.detail.get("value") is not None and not a.detail.get("computed"):
        return float(a.detail["value"])
    m = re.search(r"\(?-?\$?\s?(\d[\d,]*(?:\.\d+)?)\)?\s*(thousand|million|billion)?", a.text or "")
    if not m:
        return None
    v = float(m.group(1).replace(",", ""))
    if m.group(0).strip().startswith("(") or "-" in m.group(0)[:2]:
        v = -v
    return v * _SCALE.get((m.group(2) or "").lower(), 1.0)


def same_value(got: float | None, want: float) -> bool:
    if got is None:
        return False
    return abs(got - want) <= max(0.005, 1e-6 * abs(want))


def run_report_facts(
    reader: Reader,
    data_root: Path | str | None = None,
    limit: int | None = None,
    out: Path | str | None = None,
    log: Callable[[str], None] | None = print,
) -> dict:
    root = sec10q_dir(data_root) / "docs"
    facts, absent = load_report_facts()
    if limit:
        facts, absent = facts[:limit], absent[: max(1, limit // 3)]
    t0 = time.perf_counter()
    docs = {}
    by_doc: dict[str, list] = {}
    for f in facts:
        by_doc.setdefault(f.doc, []).append(f)
    value_ok = page_ok = answered = asked = 0
    by_statement: dict[str, list[bool]] = {}
    by_form: dict[str, list[bool]] = {"direct": [], "paraphrase": []}
    misses: list[dict] = []
    for name in sorted(set(by_doc) | {a.doc for a in absent}):
        docs[name], _ = load_report(root / name)
    for name, items in by_doc.items():
        queries = [Query(q) for f in items for q in f.questions]
        results = reader.answer(docs[name], queries, top_k=1)
        k = 0
        for f in items:
            for form, _q in zip(("direct", "paraphrase"), f.questions, strict=False):
                ans = [a for a in results[k] if a.text]
                k += 1
                asked += 1
                top = ans[0] if ans else None
                ok = top is not None and same_value(answer_value(top), f.value)
                answered += top is not None
                value_ok += ok
                page_ok += top is not None and top.page == f.page
                by_statement.setdefault(f.statement, []).append(ok)
                by_form[form].append(ok)
                if not ok and len(misses) < 400:
                    misses.append(
                        {"id": f.id, "question": _q, "want": f.value_text, "got": top.text if top else None}
                    )
    absent_answered = 0
    for a in absent:
        ans = [x for x in reader.answer(docs[a.doc], [Query(a.question)], top_k=1)[0] if x.text]
        absent_answered += bool(ans)
    result = {
        "suite": "report-facts",
        "reader": getattr(reader, "name", type(reader).__name__),
        "facts": len(facts),
        "questions": asked,
        "answered": answered,
        "value_exact": value_ok / asked if asked else float("nan"),
        "page_right": page_ok / asked if asked else float("nan"),
        "by_statement": {k: sum(v) / len(v) for k, v in sorted(by_statement.items())},
        "by_question_form": {k: (sum(v) / len(v) if v else float("nan")) for k, v in by_form.items()},
        "absent_questions": len(absent),
        "absent_unanswered": 1 - absent_answered / len(absent) if absent else float("nan"),
        "misses": misses,
        "seconds": round(time.perf_counter() - t0, 1),
        "machine": machine(),
    }
    rows = [
        ["labelled facts (questions)", f"{len(facts)} ({asked})"],
        ["value exact (normalised)", result["value_exact"]],
        ["cited page right", result["page_right"]],
        ["value exact, direct questions", result["by_question_form"]["direct"]],
        ["value exact, paraphrased questions", result["by_question_form"]["paraphrase"]],
        *[[f"value exact, {k} statement", v] for k, v in result["by_statement"].items()],
        ["absent metrics left unanswered", result["absent_unanswered"]],
    ]
    result["table"] = table(["metric", "value"], rows)
    if log:
        log(result["table"])
    write_json(result, out)
    return result
