"""The `longctx` CLI contract: db upgrade, ingest --json, documents list/show/delete, tenants, keys."""

from __future__ import annotations

import json
from pathlib import Path

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
    assert runner.invoke(app, ["tenants", "create", "acme"]).exit_code == 2
    key = _json(runner.invoke(app, ["keys", "create", "acme", "--name", "ci"]))
    assert key["key"].startswith("lcx_") and key["tenant"] == "acme"
    assert runner.invoke(app, ["keys", "create", "nobody"]).exit_code == 2


def test_train_passes_its_arguments_through(env):
    smoke = Path(__file__).resolve().parents[1] / "longctx/training/configs/smoke.json"
    out_dir = env / "run"
    result = runner.invoke(
        app, ["train", "--config", str(smoke), "--out", str(out_dir), "--set", "steps=2", "--no-resume"]
    )
    assert result.exit_code == 0, result.output
    assert list(out_dir.glob("ckpt-*.safetensors"))
    bad = runner.invoke(app, ["train", "--config", str(smoke), "--out", str(out_dir), "--set", "nope=1"])
    assert bad.exit_code == 2
    named = runner.invoke(
        app, ["train", "reader", "--config", str(smoke), "--out", str(env / "run2"), "--set", "steps=1"]
    )
    assert named.exit_code == 0, named.output
    assert list((env / "run2").glob("ckpt-*.safetensors"))


@pytest.mark.parametrize(
    ("argv", "prog"),
    [
        (["train", "reader", "-h"], "longctx train reader"),
        (["train", "answer-ranker", "-h"], "longctx train answer-ranker"),
        (["train", "clause-head", "-h"], "longctx train clause-head"),
        (["train", "phrase-head", "-h"], "longctx train phrase-head"),
        (["train", "lexical", "-h"], "longctx train lexical"),
        (["eval", "-h"], "longctx eval"),
        (["eval", "baseline", "-h"], "longctx eval baseline"),
        (["eval", "cuad-spans", "-h"], "longctx eval cuad-spans"),
        (["bench", "attention", "-h"], "longctx bench attention"),
        (["bench", "ingest", "-h"], "longctx bench ingest"),
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
    for name in ("reader", "answer-ranker", "clause-head", "phrase-head", "lexical"):
        assert name in listing.output
    bad = runner.invoke(app, ["train", "nonsense"])
    assert bad.exit_code == 2 and "unknown trainer" in bad.output
    assert runner.invoke(app, ["eval", "nonsense"]).exit_code == 2
