"""The reader training loop: smoke training lowers the eval loss, resume == uninterrupted, export round-trip,
config overrides. CPU only, < 60 s (tiny random-init model, synthetic haystack, 2K-token needle docs)."""

from __future__ import annotations

import json

import pytest
import torch

from longctx.model.reader_model import LongContextReader
from longctx.training.batching import crop_window, make_batch, synthetic_haystack
from longctx.training.config import CONFIG_DIR, TrainConfig, apply_overrides
from longctx.training.loop import (
    LOG_NAME,
    eval_set,
    export,
    latest_checkpoint,
    main,
    model_from_checkpoint,
    to_batch,
    train,
    train_example,
)

SMOKE = CONFIG_DIR / "smoke.json"


def _cfg(out, *overrides: str) -> TrainConfig:
    return TrainConfig.load(SMOKE, [f"out_dir={json.dumps(str(out))}", *overrides])


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke")
    records: list[dict] = []
    metrics = train(_cfg(out), resume=False, progress=records.append)
    return out, metrics, records


def test_smoke_trains_and_eval_loss_goes_down(smoke_run):
    out, metrics, records = smoke_run
    evals = [r for r in records if r["kind"] == "eval"]
    assert [r["step"] for r in evals] == [0, 20]
    assert evals[-1]["eval_loss"] < evals[0]["eval_loss"]
    assert metrics["finished"] and metrics["step"] == 20
    assert metrics["eval_loss"] == evals[-1]["eval_loss"]
    steps = [r for r in records if r["kind"] == "train"]
    assert len(steps) == 20
    assert all(r["tokens_per_s"] > 0 and 0 < r["kept_ratio"] <= 1 for r in steps)
    assert steps[0]["mode"] == "soft_topk" and steps[-1]["mode"] == "straight_through"
    assert abs(steps[-1]["kept_ratio"] - 0.25) < 0.01
    logged = [json.loads(x) for x in (out / LOG_NAME).read_text().splitlines()]
    assert logged == records
    assert latest_checkpoint(out).name == "ckpt-0000020.safetensors"


def test_resume_equals_uninterrupted(tmp_path):
    extra = ("steps=6", "checkpoint_every=3", "eval_examples=0", "warmup_steps=2")
    train(_cfg(tmp_path / "a", *extra), resume=False)
    part = train(_cfg(tmp_path / "b", *extra), resume=False, stop_at=3)
    assert part["step"] == 3 and not part["finished"]
    resumed = train(_cfg(tmp_path / "b", *extra), resume=True)
    assert resumed["step"] == 6 and resumed["finished"]

    def losses(d):
        return [json.loads(x)["loss"] for x in (d / LOG_NAME).read_text().splitlines()]

    la, lb = losses(tmp_path / "a"), losses(tmp_path / "b")
    assert len(la) == len(lb) == 6
    assert max(abs(x - y) for x, y in zip(la, lb, strict=True)) < 1e-6
    ma = model_from_checkpoint(latest_checkpoint(tmp_path / "a")).state_dict()
    mb = model_from_checkpoint(latest_checkpoint(tmp_path / "b")).state_dict()
    for k in ma:
        torch.testing.assert_close(ma[k], mb[k], rtol=0, atol=1e-6)


def test_export_round_trip(smoke_run, tmp_path):
    out, _, _ = smoke_run
    trained = model_from_checkpoint(latest_checkpoint(out)).eval()
    cfg = _cfg(out)
    batch = to_batch(cfg, eval_set(cfg)[0], "x")

    def logits(model):
        with torch.no_grad():
            o = model(batch.query_ids, batch.query_mask, layout=batch.layout, rho=0.25)
        return o.start_logits, o.end_logits, o.no_answer_logit, o.kept_index

    dest32 = export(out, tmp_path / "fp32", fp16=False)
    for a, b in zip(logits(trained), logits(LongContextReader.load(dest32).eval()), strict=True):
        assert torch.equal(a, b)

    dest = export(out, tmp_path / "fp16")
    assert {p.name for p in dest.iterdir()} == {"config.json", "model.safetensors", "tokenizer.json"}
    loaded = LongContextReader.load(dest).eval()
    rounded = model_from_checkpoint(latest_checkpoint(out)).half().float().eval()
    for a, b in zip(logits(rounded), logits(loaded), strict=True):
        assert torch.equal(a, b)


def test_config_overrides_and_errors(tmp_path):
    cfg = TrainConfig.load(SMOKE, ["steps=7", "model.hidden=32", "init=random", "needle_lengths=[1024,2048]"])
    assert cfg.steps == 7 and cfg.model["hidden"] == 32 and cfg.needle_lengths == [1024, 2048]
    assert cfg.prune_at(0) == ("soft_topk", 0.5) and cfg.prune_at(15) == ("straight_through", 0.25)
    with pytest.raises(ValueError, match="unknown config key"):
        apply_overrides({}, ["stepz=3"])
    with pytest.raises(ValueError, match="unknown model key"):
        apply_overrides({}, ["model.hiden=3"])
    with pytest.raises(ValueError, match="key=value"):
        apply_overrides({}, ["steps"])
    with pytest.raises(ValueError, match="unknown TrainConfig keys"):
        TrainConfig.from_dict({"bogus": 1})
    with pytest.raises(ValueError, match="unknown ReaderConfig keys"):
        TrainConfig.from_dict({"model": {"bogus": 1}})
    with pytest.raises(ValueError, match="init"):
        TrainConfig.load(SMOKE, ["init=pretrained"])
    full = TrainConfig.load(CONFIG_DIR / "full.json")
    assert full.init == "minilm" and full.cuad_weight > 0 and max(full.needle_lengths) == 131072
    assert main(["--config", str(SMOKE), "--set", "nope=1"]) == 2


def test_data_is_deterministic_and_crop_keeps_answer():
    cfg = TrainConfig.load(SMOKE, ["max_doc_tokens=300"])
    a, b = train_example(cfg, 5), train_example(cfg, 5)
    assert a == b and train_example(cfg, 6) != a
    ba, bb = to_batch(cfg, a, 5), to_batch(cfg, b, 5)
    assert ba.n_tokens == 300 and ba.crop_start == bb.crop_start
    s, e = int(ba.answer_start), int(ba.answer_end)
    assert 0 <= s <= e < 300 and ba.keep_labels[0, s : e + 1].eq(1).all()
    import random

    for seed in range(50):
        lo, hi = crop_window(1000, 100, [(400, 420)], random.Random(seed))
        assert hi - lo == 100 and lo <= 400 and hi > 420
    assert make_batch(a, max_doc_tokens=0, max_query_len=64, chunk_size=62).n_tokens > 1500
    assert len(synthetic_haystack()) == 8


def test_frozen_local_encoder_trains_the_rest_from_cached_states(tmp_path):
    """freeze_local: the local encoder keeps its weights, the other parts learn, every document is encoded
    once (the needle pool repeats documents; a second run loads the states from disk)."""
    from longctx.training.loop import build_model, make_optimizer, state_cache

    overrides = ["freeze_local=true", "needle_pool=3", "steps=8", "eval_examples=0", "checkpoint_every=0"]
    cfg = _cfg(tmp_path / "run", *overrides)
    torch.manual_seed(cfg.seed)
    before = build_model(cfg).state_dict()
    opt = make_optimizer(cfg, build_model(cfg))
    n_opt = sum(p.numel() for g in opt.param_groups for p in g["params"])
    model = build_model(cfg)
    assert n_opt == sum(p.numel() for n, p in model.named_parameters() if not n.startswith("local."))

    train(cfg, resume=False)
    after = model_from_checkpoint(latest_checkpoint(cfg.out_dir)).state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("local."))
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("global_layers."))
    cached = list((tmp_path / "run" / "state_cache").glob("*.safetensors"))
    assert len(cached) == 3  # three pooled needle documents, each encoded once

    cache = state_cache(cfg, model_from_checkpoint(latest_checkpoint(cfg.out_dir)))
    ex = train_example(cfg, 0)
    states = cache.states(ex.text)
    assert cache.encoded_tokens == 0 and cache.hits == 1  # loaded from disk, not encoded again
    fresh = cache._encode(ex.text)
    torch.testing.assert_close(states.float(), fresh.float(), atol=2e-3, rtol=2e-3)


def test_spliced_needles_label_the_inserted_values(tmp_path):
    """Spliced needle examples: the answer spans hold the needle values, the evidence spans the needle
    sentences, and the states away from the needles are the haystack's cached states."""
    from longctx.datasets.needles import TASKS
    from longctx.model.tokenization import load_tokenizer
    from longctx.training.loop import build_model, state_cache
    from longctx.training.spliced import NeedleRequest, NeedleSplicer

    cfg = _cfg(tmp_path / "run", "freeze_local=true", "needle_mode=spliced")
    model = build_model(cfg)
    cache = state_cache(cfg, model)
    hay = synthetic_haystack()
    splicer = NeedleSplicer(model, cache, hay, context=16)
    tok = load_tokenizer()
    for i, task in enumerate(TASKS):
        ex = splicer.make(NeedleRequest(task, 600, 0.5, i))
        assert ex.states.shape == (len(ex.ids), model.cfg.hidden) and len(ex.ids) > 600
        assert ex.spans and ex.evidence
        words = ex.query.replace("?", "").split()
        for a, b in ex.spans:
            text = tok.decode(ex.ids[a : b + 1].tolist()).replace(" ", "")
            if task == "variable_tracking":
                assert text.isalpha() and len(text) == 5
            else:
                assert text.isdigit() and len(text) == 7
                assert any(e0 <= a and b <= e1 for e0, e1 in ex.evidence)
        if task in ("single", "multi_key"):
            assert len(ex.spans) == 1 and words[-1] in tok.decode(
                ex.ids[ex.evidence[0][0] : ex.evidence[0][1] + 1].tolist()
            ).replace(" ", "")
    # the haystack's first tokens are untouched (the needle sits mid-document): cached states there
    ex = splicer.make(NeedleRequest("single", 600, 0.9, 0))
    assert cache.encoded_tokens > 0
    with pytest.raises(ValueError, match="needle_mode 'spliced' needs freeze_local"):
        _cfg(tmp_path / "x", "needle_mode=spliced")
