"""Contract-level CUAD train/validation split, shared by the baseline evaluation and model training.

Whole contracts go to one side, so no clause of a validation contract is ever seen in training. The split is
a pure function of the file names (sha256 of each name), so it is the same on every machine and in every run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

VALIDATION_SIZE = 50
SPLITS = ("train", "validation")


def contract_id(name: str) -> str:
    """A contract's id: its file name without folder and extension (txt, pdf and CSV rows agree on it)."""
    base = Path(name.strip().rstrip("'\"")).name
    stem, dot, ext = base.rpartition(".")
    return stem if dot and ext.lower() in ("txt", "pdf") else base


def _rank_key(cid: str) -> tuple[str, str]:
    return hashlib.sha256(cid.encode("utf-8")).hexdigest(), cid


def cuad_split(names: Iterable[str], validation_size: int = VALIDATION_SIZE) -> dict[str, list[str]]:
    """{"train": [...], "validation": [...]} of contract ids, each sorted; the `validation_size` ids with the
    smallest sha256 go to validation (with CUAD's 409 contracts: 359 train / 50 validation)."""
    ids = sorted({contract_id(n) for n in names})
    validation = set(sorted(ids, key=_rank_key)[:validation_size])
    return {
        "train": [c for c in ids if c not in validation],
        "validation": [c for c in ids if c in validation],
    }


def split_of(name: str, names: Iterable[str], validation_size: int = VALIDATION_SIZE) -> str:
    """Which side of the split `name` falls on, given the full list of contract names."""
    cid = contract_id(name)
    for split, members in cuad_split(names, validation_size).items():
        if cid in members:
            return split
    raise KeyError(f"{name!r} is not among the given contracts")
