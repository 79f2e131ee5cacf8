"""The `longctx` CLI contract: db upgrade, ingest --json, documents list/show/delete, tenants, keys."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from longctx.cli import app
from tests.util import isolated_env

runner = CliRunner()


@pytest.fixture()
def env(monkeypatch, tmp_path):
    isolated_env(monkeypatch, tmp_path)
    return tmp_path


def _json(result) -> dict:  # noqa: ANN001
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_db_upgrade_creates_database(env):
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert (env / "data" / "longctx.db").is_file()


def test_ingest_json_reports_ready_and_failed(env):
    good = env / "contract.txt"
    good.write_text(
        "MASTER SERVICES AGREEMENT\n\nThis Agreement is governed by the laws of Delaware.\f"
        "Section 2. Term. Five years.\n",
        encoding="utf-8",
    )
    empty = env / "empty.txt"
    empty.write_bytes(b"")
    binary = env / "image.pdf"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    result = runner.invoke(
        app, ["ingest", str(good), str(empty), str(binary), str(env / "missing.pdf"), "--json"]
    )
    data = _json(result)
    by_name = {r["path"].rsplit("/", 1)[-1]: r for r in data["results"]}
    assert by_name["contract.txt"]["status"] == "ready"
    assert by_name["contract.txt"]["pages"] == 2 and by_name["contract.txt"]["tokens"] > 10
    for name in ("empty.txt", "image.pdf", "missing.pdf"):
        assert by_name[name]["status"] == "failed" and by_name[name]["error"], name
    assert data["summary"] == {
        "documents": 4,
        "ready": 1,
        "failed": 3,
        "pages": 2,
        "tokens": by_name["contract.txt"]["tokens"],
    }

    # Same bytes again: the existing document, not a new parse.
    again = _json(runner.invoke(app, ["ingest", str(good), "--json"]))["results"][0]
    assert again["duplicate"] is True and again["id"] == by_name["contract.txt"]["id"]

    doc_id = again["id"]
    listing = _json(runner.invoke(app, ["documents", "list", "--json"]))
    assert listing["total"] == 3  # the failed ones are listed with their reasons
    shown = _json(runner.invoke(app, ["documents", "show", doc_id, "--page", "2"]))
    assert shown["page"]["text"].startswith("Section 2. Term")
    other = runner.invoke(app, ["documents", "show", doc_id, "--tenant", "someone-else"])
    assert other.exit_code == 2
    assert runner.invoke(app, ["documents", "delete", doc_id]).exit_code == 0
    assert runner.invoke(app, ["documents", "show", doc_id]).exit_code == 2
    assert not list((env / "data" / "blobs").rglob(again["sha256"]))


def test_tenant_and_key_admin(env):
    tenant = _json(runner.invoke(app, ["tenants", "create", "acme"]))
    assert tenant["name"] == "acme"
    again = runner.invoke(app, ["tenants", "create", "acme"])  # safe to run again: exits 0, says so
    assert again.exit_code == 0 and "already exists" in again.stderr
    assert json.loads(again.stdout) == {**tenant, "created": False}
    key = _json(runner.invoke(app, ["keys", "create", "acme", "--name", "ci"]))
    assert key["key"].startswith("lcx_") and key["tenant"] == "acme"
    assert runner.invoke(app, ["keys", "create", "nobody"]).exit_code == 2


@pytest.mark.data
def test_train_reader_runs_resumes_and_exports(env):
    """A tiny random-init reader through `longctx train reader`: steps, a checkpoint, a resume, an export."""
    from longctx.config import get_settings

    if get_settings().data_root is None:
        pytest.skip("needs ../shared/data (set LONGCTX_SHARED_DATA_DIR)")
    tiny = json.dumps(
        {"hidden": 32, "local_layers": 1, "heads": 4, "intermediate": 64, "global_layers": 1,
         "global_heads": 4, "global_intermediate": 64, "evidence_dim": 16, "global_budget": 256,
         "min_budget": 128}
    )  # fmt: skip
    common = [
        "train", "reader", "--set", f"out_dir={json.dumps(str(env / 'run'))}",
        "--set", f"cache_dir={json.dumps(str(env / 'cache'))}", "--set", "init=random",
        "--set", f"model={tiny}", "--set", 'mix={"facts": 1}', "--set", "cuad_contracts=2",
        "--set", "short_contracts=0", "--set", "checkpoint_every=2", "--set", "eval_docs=1",
        "--set", "log_every=1",
    ]  # fmt: skip
    first = runner.invoke(app, [*common, "--set", "steps=2"])
    assert first.exit_code == 0, first.output
    assert (env / "run" / "train-state.pt").exists()
    second = runner.invoke(app, [*common, "--set", "steps=3", "--export", str(env / "reader")])
    assert second.exit_code == 0, second.output
    assert "resumed at step 2" in second.output
    from longctx.model.reader_model import LongContextReader

    assert LongContextReader.load(env / "reader").cfg.hidden == 32
    bad = runner.invoke(app, ["train", "reader", "--set", "nope=1"])
    assert bad.exit_code == 2


@pytest.mark.parametrize(
    ("argv", "prog"),
    [
        (["train", "reader", "-h"], "longctx train reader"),
        (["train", "clause-head", "-h"], "longctx train clause-head"),
        (["train", "phrase-head", "-h"], "longctx train phrase-head"),
        (["train", "lexical", "-h"], "longctx train lexical"),
        (["eval", "-h"], "longctx eval"),
        (["eval", "baseline", "-h"], "longctx eval baseline"),
        (["eval", "cuad-spans", "-h"], "longctx eval cuad-spans"),
        (["bench", "attention", "-h"], "longctx bench attention"),
        (["bench", "ingest", "-h"], "longctx bench ingest"),
        (["bench", "reader", "-h"], "longctx bench reader"),
    ],
)
def test_every_trainer_evaluator_and_bench_is_a_subcommand(env, argv, prog):
    """cli.py is the only entrypoint: each trainer, evaluator and benchmark answers under `longctx`."""
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert f"usage: {prog}" in result.output


def test_train_lists_trainers_and_refuses_unknown_ones(env):
    listing = runner.invoke(app, ["train", "-h"])
    assert listing.exit_code == 0
    for name in ("reader", "clause-head", "phrase-head", "lexical"):
        assert name in listing.output
    bad = runner.invoke(app, ["train", "nonsense"])
    assert bad.exit_code == 2 and "unknown trainer" in bad.output
    assert runner.invoke(app, ["eval", "nonsense"]).exit_code == 2
