"""CLI: `longctx ask` / `longctx extract` run in-process (no server) and print the REST findings shape."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tests.pdfgen import make_pdf
from tests.test_api import CONTRACT_PAGES, GOV_LAW

runner = CliRunner()


def _json(output: str) -> dict:
    return json.loads(output[output.index("{") :])


def test_ask_file_then_id(data_env, tmp_path):  # noqa: ANN001
    from longctx.cli import app
    from longctx.jobs import FINDING_FIELDS

    pdf = tmp_path / "contract.pdf"
    pdf.write_bytes(make_pdf(CONTRACT_PAGES))
    res = runner.invoke(app, ["ask", str(pdf), "--question", GOV_LAW, "--json"])
    assert res.exit_code == 0, res.output
    out = _json(res.stdout)
    assert set(out) == {"job_id", "items"}
    top = out["items"][0]
    assert set(top) == set(FINDING_FIELDS)
    assert "Delaware" in top["answer"] and top["page"] == 2 and top["filename"] == "contract.pdf"

    # by document id, two questions, the table output
    res = runner.invoke(app, ["ask", top["document_id"], "-q", GOV_LAW, "-q", "When are invoices paid?"])
    assert res.exit_code == 0, res.output
    assert "Delaware" in res.stdout and "succeeded" in res.stdout


def test_extract_and_errors(data_env, tmp_path):  # noqa: ANN001
    from longctx.cli import app

    pdf = tmp_path / "contract.pdf"
    pdf.write_bytes(make_pdf(CONTRACT_PAGES))
    res = runner.invoke(app, ["extract", str(pdf), "--schema", "contract", "--json"])
    assert res.exit_code == 0, res.output
    items = _json(res.stdout)["items"]
    assert any(i["query_key"] and "governing" in i["query_key"].lower() and i["answer"] for i in items)

    res = runner.invoke(app, ["extract", str(pdf), "--schema", "poem"])
    assert res.exit_code == 2
    res = runner.invoke(app, ["ask", "no-such-file-or-id", "-q", "x"])
    assert res.exit_code == 2
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 garbage")
    res = runner.invoke(app, ["ask", str(bad), "-q", "x"])
    assert res.exit_code == 1


def test_worker_rejects_unknown_queue(data_env):  # noqa: ANN001
    from longctx.cli import app

    res = runner.invoke(app, ["worker", "--queues", "cpu,tpu"])
    assert res.exit_code == 2
    assert runner.invoke(app, ["serve", "--help"]).exit_code == 0
