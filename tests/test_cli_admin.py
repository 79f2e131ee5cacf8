"""Admin through the CLI (issue #14 items 5-7): one data dir wherever the CLI runs, tenants and keys that can
be listed and revoked, read commands that never create tenants, full ids when piped, short id prefixes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from longctx.cli import app
from tests.util import isolated_env

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def _ok(result) -> dict:  # noqa: ANN001
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture()
def env(monkeypatch, tmp_path):  # noqa: ANN001, ANN201
    isolated_env(monkeypatch, tmp_path)
    return tmp_path


@pytest.fixture()
def user_env(monkeypatch, tmp_path):  # noqa: ANN001, ANN201
    """No LONGCTX_DATA_DIR; HOME and XDG_DATA_HOME in tmp_path, so no real home is touched."""
    from longctx.storage.session import dispose_engines

    isolated_env(monkeypatch, tmp_path)
    monkeypatch.delenv("LONGCTX_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    yield tmp_path
    dispose_engines()


# ---- 5: one data dir ---------------------------------------------------------------------------------------
@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="XDG layout (Linux and other Unix)")
def test_default_data_dir_follows_xdg_then_home(monkeypatch, tmp_path):  # noqa: ANN001
    from longctx.config import default_data_dir

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "xdg" / "longctx"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_data_dir() == tmp_path / "home" / ".local" / "share" / "longctx"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")  # the XDG spec: relative paths are invalid
    assert default_data_dir() == tmp_path / "home" / ".local" / "share" / "longctx"


def test_cli_uses_the_user_data_dir_from_any_directory(user_env, monkeypatch):  # noqa: ANN001
    first, second = user_env / "first", user_env / "second"
    first.mkdir()
    second.mkdir()
    data = user_env / "xdg" / "longctx"

    monkeypatch.chdir(first)
    created = runner.invoke(app, ["tenants", "create", "acme"])
    assert _ok(created)["created"] is True
    assert f"longctx data dir: {data}" in created.stderr

    monkeypatch.chdir(second)
    key = runner.invoke(app, ["keys", "create", "acme"])  # issue #14.5: said "no tenant" here before
    assert _ok(key)["key"].startswith("lcx_")
    assert (data / "longctx.db").is_file()
    assert not (first / "longctx-data").exists() and not (second / "longctx-data").exists()
    assert "not used" not in key.stderr

    # Another process (what `serve`, `api` and the workers are) resolves the same dir, from elsewhere.
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("LONGCTX_")}
    child_env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        [sys.executable, "-c", "from longctx.config import get_settings; print(get_settings().sql_url)"],
        cwd=first,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert proc.stdout.strip() == f"sqlite:///{data / 'longctx.db'}"


def test_an_old_local_data_dir_gets_a_hint_not_used(user_env, monkeypatch):  # noqa: ANN001
    here = user_env / "project"
    (here / "longctx-data").mkdir(parents=True)
    monkeypatch.chdir(here)
    result = runner.invoke(app, ["tenants", "list"])
    assert result.exit_code == 0, result.output
    hints = [line for line in result.stderr.splitlines() if "./longctx-data here is not used" in line]
    assert len(hints) == 1 and f"LONGCTX_DATA_DIR={here / 'longctx-data'}" in hints[0]
    assert not list((here / "longctx-data").iterdir())  # not used, not written


def test_database_url_is_announced_with_its_password_redacted(env, monkeypatch, capsys):  # noqa: ANN001
    from longctx.cli import _announce

    monkeypatch.setenv("LONGCTX_DATABASE_URL", "postgresql+psycopg://ana:s3cret@db.example:5432/longctx")
    _announce()
    err = capsys.readouterr().err
    assert "longctx data dir:" in err and "ana:***@db.example:5432/longctx" in err
    assert "s3cret" not in err


# ---- 6: tenants and keys -----------------------------------------------------------------------------------
def test_tenants_create_is_idempotent_and_listed(env):  # noqa: ANN001
    first = _ok(runner.invoke(app, ["tenants", "create", "acme"]))
    again = runner.invoke(app, ["tenants", "create", "acme"])
    assert _ok(again) == {**first, "created": False}
    assert "already exists" in again.stderr
    # The README's line, run twice.
    for _ in range(2):
        assert runner.invoke(app, ["tenants", "create", "acme"]).exit_code == 0
        assert runner.invoke(app, ["keys", "create", "acme"]).exit_code == 0
    listing = _ok(runner.invoke(app, ["tenants", "list", "--json"]))["tenants"]
    assert [(t["name"], t["id"], t["keys"], t["documents"]) for t in listing] == [("acme", first["id"], 2, 0)]
    piped = runner.invoke(app, ["tenants", "list"])
    assert piped.stdout.splitlines() == ["name\tid\tcreated\tkeys\tdocuments", piped.stdout.splitlines()[1]]
    assert piped.stdout.splitlines()[1].startswith(f"acme\t{first['id']}\t")


def test_keys_list_shows_prefix_never_secret(env):  # noqa: ANN001
    from longctx.storage.repositories import hash_api_key

    runner.invoke(app, ["tenants", "create", "acme"])
    runner.invoke(app, ["tenants", "create", "beta"])
    a = _ok(runner.invoke(app, ["keys", "create", "acme", "--name", "ci"]))
    b = _ok(runner.invoke(app, ["keys", "create", "beta"]))
    assert a["key"].startswith(a["prefix"] + "_")
    for argv in (["keys", "list"], ["keys", "list", "--json"]):
        text = runner.invoke(app, argv).stdout
        assert a["prefix"] in text and b["prefix"] in text
        for secret in (a["key"], b["key"]):
            assert secret not in text and hash_api_key(secret) not in text
    only = _ok(runner.invoke(app, ["keys", "list", "--tenant", "acme", "--json"]))["keys"]
    assert [(k["id"], k["tenant"], k["name"], k["prefix"], k["revoked_at"]) for k in only] == [
        (a["id"], "acme", "ci", a["prefix"], None)
    ]
    assert {"created_at", "last_used_at"} <= set(only[0])
    assert not {"key", "key_hash", "secret"} & set(only[0])


def test_revoked_key_gets_401(client, data_env):  # noqa: ANN001
    runner.invoke(app, ["tenants", "create", "acme"])
    key = _ok(runner.invoke(app, ["keys", "create", "acme"]))
    other = _ok(runner.invoke(app, ["keys", "create", "acme"]))
    headers = {"X-API-Key": key["key"]}
    assert client.get("/v1/documents", headers=headers).status_code == 200

    revoked = _ok(runner.invoke(app, ["keys", "revoke", key["prefix"]]))  # by the prefix `keys list` shows
    assert revoked["id"] == key["id"] and revoked["revoked_at"]
    assert client.get("/v1/documents", headers=headers).status_code == 401
    assert client.get("/v1/documents", headers={"X-API-Key": other["key"]}).status_code == 200

    again = runner.invoke(app, ["keys", "revoke", key["id"][:8]])  # by an id prefix; already revoked: fine
    assert again.exit_code == 0 and "already revoked" in again.stderr
    missing = runner.invoke(app, ["keys", "revoke", "lcx_00000000"])
    assert missing.exit_code == 2 and "keys list" in missing.stderr
    listed = {k["id"]: k for k in _ok(runner.invoke(app, ["keys", "list", "--json"]))["keys"]}
    assert listed[key["id"]]["revoked_at"] and listed[other["id"]]["revoked_at"] is None
    assert _ok(runner.invoke(app, ["tenants", "list", "--json"]))["tenants"][0]["keys"] == 1


def test_read_commands_never_create_tenants(env):  # noqa: ANN001
    runner.invoke(app, ["tenants", "create", "acme"])
    for argv in (
        ["documents", "list", "--tenant", "typo"],
        ["documents", "show", "0123abcd", "--tenant", "typo"],
        ["documents", "delete", "0123abcd", "--tenant", "typo"],
        ["jobs", "list", "--tenant", "typo"],
        ["jobs", "show", "0123abcd", "--tenant", "typo"],
        ["keys", "list", "--tenant", "typo"],
        ["keys", "create", "typo"],
        ["ask", "no-such-file-or-id", "-q", "x", "--tenant", "typo"],
    ):
        result = runner.invoke(app, argv)
        assert result.exit_code == 2, (argv, result.output)
        assert "no tenant 'typo'" in result.stderr and "longctx tenants list" in result.stderr, argv
    names = [t["name"] for t in _ok(runner.invoke(app, ["tenants", "list", "--json"]))["tenants"]]
    assert names == ["acme"]


# ---- 7: ids ------------------------------------------------------------------------------------------------
DOC_A = "abcd1234-0000-4000-8000-000000000001"
DOC_B = "abcd5678-0000-4000-8000-000000000002"
DOC_OTHER = "abce0000-0000-4000-8000-000000000003"  # another tenant's


@pytest.fixture()
def two_docs(env):  # noqa: ANN001, ANN201
    from longctx.storage import repositories as repo
    from longctx.storage.models import Document, DocumentStatus, JobKind
    from longctx.storage.session import session_scope

    runner.invoke(app, ["db", "upgrade"])
    with session_scope() as s:
        mine = repo.create_tenant(s, "default")
        theirs = repo.create_tenant(s, "other")
        for doc_id, tenant, name in (
            (DOC_A, mine, "a.txt"),
            (DOC_B, mine, "b.txt"),
            (DOC_OTHER, theirs, "c.txt"),
        ):
            s.add(
                Document(
                    id=doc_id,
                    tenant_id=tenant.id,
                    filename=name,
                    sha256=doc_id.replace("-", "")[:32] * 2,
                    status=DocumentStatus.ready,
                )
            )
        job = repo.create_job(s, mine.id, JobKind.questions, {"questions": ["x"]})
        return job.id


def test_piped_list_prints_full_ids(two_docs):  # noqa: ANN001
    result = runner.invoke(app, ["documents", "list"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split("\t")[:3] == ["id", "file", "status"]
    ids = [line.split("\t")[0] for line in lines[1:]]
    assert sorted(ids) == [DOC_A, DOC_B] and all(len(i) == 36 for i in ids)
    assert "2 of 2" in result.stderr and "2 of 2" not in result.stdout  # stdout stays data
    jobs = runner.invoke(app, ["jobs", "list"]).stdout.splitlines()
    assert jobs[1].split("\t")[0] == two_docs


def test_terminal_table_shows_short_ids(two_docs, monkeypatch):  # noqa: ANN001
    import longctx.cli as cli

    monkeypatch.setattr(cli, "_stdout_is_terminal", lambda: True)
    result = runner.invoke(app, ["documents", "list"])
    assert result.exit_code == 0, result.output
    assert DOC_A[:8] in result.stdout and DOC_A not in result.stdout
    assert "2 of 2" in result.stdout


def test_short_id_prefix_works_and_ambiguous_prefix_errors(two_docs):  # noqa: ANN001
    shown = _ok(runner.invoke(app, ["documents", "show", DOC_A[:8]]))
    assert shown["id"] == DOC_A
    assert _ok(runner.invoke(app, ["documents", "show", "ABCD5678"]))["id"] == DOC_B  # case does not matter

    ambiguous = runner.invoke(app, ["documents", "show", "abcd"])
    assert ambiguous.exit_code == 2
    assert "ambiguous" in ambiguous.stderr and DOC_A in ambiguous.stderr and DOC_B in ambiguous.stderr
    assert "a.txt" in ambiguous.stderr
    assert runner.invoke(app, ["documents", "delete", "abcd"]).exit_code == 2  # nothing deleted
    assert runner.invoke(app, ["documents", "show", "abc"]).exit_code == 2  # too short to look up
    assert runner.invoke(app, ["documents", "show", "abce"]).exit_code == 2  # another tenant's
    assert _ok(runner.invoke(app, ["documents", "show", "abce", "--tenant", "other"]))["id"] == DOC_OTHER

    job = _ok(runner.invoke(app, ["jobs", "show", two_docs[:8]]))
    assert job["id"] == two_docs and job["kind"] == "questions"
    assert _ok(runner.invoke(app, ["jobs", "findings", two_docs[:8], "--json"])) == {
        "job_id": two_docs,
        "items": [],
    }

    deleted = runner.invoke(app, ["documents", "delete", DOC_B[:8]])
    assert deleted.exit_code == 0 and DOC_B in deleted.stderr
    assert _ok(runner.invoke(app, ["documents", "show", "abcd"]))["id"] == DOC_A  # no longer ambiguous


def test_repository_prefix_lookup(two_docs):  # noqa: ANN001
    from longctx.storage import repositories as repo
    from longctx.storage.models import Document
    from longctx.storage.session import session_scope

    with session_scope() as s:
        tenant = repo.get_tenant(s, "default")
        assert repo.resolve_id(s, Document, tenant.id, DOC_A) == DOC_A
        assert repo.resolve_id(s, Document, tenant.id, "abcd12") == DOC_A
        assert repo.resolve_id(s, Document, tenant.id, "abcd%") is None  # not a LIKE pattern
        assert repo.resolve_id(s, Document, tenant.id, DOC_OTHER) is None
        with pytest.raises(repo.AmbiguousId) as err:
            repo.resolve_id(s, Document, tenant.id, "abcd")
        assert err.value.candidates == [DOC_A, DOC_B]
