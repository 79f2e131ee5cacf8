"""Extraction schemas: named lists of fields (key, question, description) that become reader queries.

The field files live beside this module (`schemas/<name>.json`) and ship as package data; the contract
schema is CUAD's 41 clause categories (CUAD v1, The Atticus Project, CC BY 4.0).
"""

from __future__ import annotations

import json
from functools import cache, lru_cache
from pathlib import Path

from .reader import Query

SCHEMAS = ("contract", "report")
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"


@cache
def _load(name: str) -> dict:
    if name not in SCHEMAS:
        raise ValueError(f"unknown schema {name!r}; valid schemas: {', '.join(SCHEMAS)}")
    with open(SCHEMA_DIR / f"{name}.json", encoding="utf-8") as fh:
        data = json.load(fh)
    keys = [f["key"] for f in data["fields"]]
    if len(set(keys)) != len(keys):
        raise ValueError(f"schema {name!r} has duplicate keys")
    return data


def schema_fields(name: str) -> list[dict]:
    """The fields of a schema as plain dicts: {"key", "question", "description"}, in schema order."""
    return [
        {"key": f["key"], "question": f["question"], "description": f["description"]}
        for f in _load(name)["fields"]
    ]


def load_schema(name: str) -> list[Query]:
    """One query per field; the key lets the reader expand the question with the field's description."""
    return [Query(text=f["question"], key=f["key"]) for f in _load(name)["fields"]]


def schema_attribution(name: str) -> str:
    return _load(name).get("attribution", "")


@lru_cache(maxsize=1)
def field_index() -> dict[str, dict]:
    """Every field of every schema by key (full records, including the reader's expansion keywords)."""
    out: dict[str, dict] = {}
    for name in SCHEMAS:
        for f in _load(name)["fields"]:
            out.setdefault(f["key"], f)
    return out
