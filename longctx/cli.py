"""`longctx` command line: the only process entrypoint of the library.

Heavy modules (torch, FastAPI, Celery, Streamlit) are imported inside the commands that need them, so
`longctx ingest` and friends start fast.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from longctx.config import LEGACY_DATA_DIR, get_settings
from longctx.core.timestamps import iso

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Long-context document analysis service.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
docs_app = typer.Typer(no_args_is_help=True, help="Documents stored in the service.")
tenants_app = typer.Typer(no_args_is_help=True, help="Tenants (admin).")
keys_app = typer.Typer(no_args_is_help=True, help="API keys (admin).")
jobs_app = typer.Typer(no_args_is_help=True, help="Analysis jobs stored in the service.")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks; results go to docs/*.md with their command.")
app.add_typer(db_app, name="db")
app.add_typer(docs_app, name="documents")
app.add_typer(tenants_app, name="tenants")
app.add_typer(keys_app, name="keys")
app.add_typer(jobs_app, name="jobs")
app.add_typer(bench_app, name="bench")

console = Console(stderr=True)
out = Console()

SUPPORTED_SUFFIXES = {".pdf", ".docx", ".txt", ".md", ".markdown", ".text"}
TenantOpt = Annotated[str, typer.Option("--tenant", help="Tenant name or id (`longctx tenants list`).")]
NewTenantOpt = Annotated[str, typer.Option("--tenant", help="Tenant name or id (created on first use).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (full ids) on stdout.")]


def emit_json(obj: object) -> None:
    """Plain JSON on stdout (never wrapped or coloured), so the output can be piped to other tools."""
    typer.echo(json.dumps(obj, indent=2, default=str))


def _command_line() -> str:
    return "longctx " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _fail(message: str, code: int = 2) -> NoReturn:
    console.print(f"[red]{escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def _redacted_url(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not an SQLAlchemy URL: drop anything between "://" and "@"
        head, sep, tail = url.partition("://")
        return f"{head}{sep}***@{tail.rsplit('@', 1)[1]}" if "@" in tail else url


def _legacy_hint(data_dir: Path) -> None:
    """The old default was `./longctx-data`; one left in this directory is not used any more: say so."""
    legacy = Path.cwd() / LEGACY_DATA_DIR
    if legacy.is_dir() and legacy.resolve() != data_dir:
        console.print(
            f"note: ./{LEGACY_DATA_DIR} here is not used (data dir is {data_dir}); "
            f"to use it: LONGCTX_DATA_DIR={legacy.resolve()}",
            style="yellow",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


def _announce() -> None:
    """Which instance this command talks to, on stderr: the data dir, and the database unless it is the
    embedded SQLite file in that dir (password redacted)."""
    settings = get_settings()
    data_dir = settings.resolved_data_dir
    line = f"longctx data dir: {data_dir}"
    if settings.database_url:
        line += f"  database: {_redacted_url(settings.database_url)}"
    console.print(line, style="dim", markup=False, highlight=False, soft_wrap=True)
    _legacy_hint(data_dir)


def _migrate() -> None:
    from migrations.runner import upgrade

    upgrade(get_settings())


def _prepare() -> None:
    _announce()
    _migrate()


def _tenant_id(name: str, *, create: bool = False, context: str = "") -> str:
    """The id of tenant NAME (a name or an id). Only commands that store something (`create`) make a missing
    tenant; every other command exits 2 saying how to list the tenants."""
    from longctx.storage import repositories as repo
    from longctx.storage.session import session_scope

    with session_scope() as s:
        tenant = repo.get_tenant(s, name)
        if tenant is None and create:
            tenant = repo.create_tenant(s, name)
            console.print(f"created tenant {escape(repr(name))}")
        if tenant is not None:
            return tenant.id
    _fail(
        f"{context}no tenant {name!r} in {get_settings().resolved_data_dir}; "
        f"`longctx tenants list` shows the tenants, `longctx tenants create {name}` makes one"
    )


def _ambiguous(exc: Exception, what: str, describe: dict[str, str] | None = None) -> NoReturn:
    candidates: list[str] = getattr(exc, "candidates", [])
    console.print(
        f"[red]{what} id {escape(repr(getattr(exc, 'prefix', '')))} is ambiguous; it matches "
        f"{'at least ' if len(candidates) >= 10 else ''}{len(candidates)}:"
    )
    for c in candidates:
        console.print(f"  {c}  {(describe or {}).get(c, '')}".rstrip(), markup=False, highlight=False)
    console.print("give more characters of the id")
    raise typer.Exit(2)


def _resolve(session, model, tenant_id: str, id_or_prefix: str, what: str) -> str | None:  # noqa: ANN001
    """Full id of the tenant's document/job from an id or an unambiguous prefix; exits 2 when ambiguous."""
    from longctx.storage import repositories as repo

    try:
        return repo.resolve_id(session, model, tenant_id, id_or_prefix)
    except repo.AmbiguousId as exc:
        names: dict[str, str] = {}
        if hasattr(model, "filename"):
            names = {c: getattr(session.get(model, c), "filename", "") for c in exc.candidates}
        _ambiguous(exc, what, names)


def _stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _short_len(ids: list[str]) -> int:
    """8 characters, more only where two listed ids share their first 8."""
    n, unique = 8, {i for i in ids if i}
    while n < 36 and len({i[:n] for i in unique}) < len(unique):
        n += 1
    return n


def _print_rows(columns: list[str], rows: list[list[str]], *, id_columns: tuple[int, ...] = (0,)) -> None:
    """A table on a terminal, ids shortened to a prefix (every command that takes an id accepts it);
    tab-separated lines with a header and full ids when stdout is a pipe or a file."""
    clean = [["" if v is None else str(v) for v in row] for row in rows]
    if not _stdout_is_terminal():
        typer.echo("\t".join(columns))
        for row in clean:
            typer.echo("\t".join(v.replace("\t", " ").replace("\n", " ") for v in row))
        return
    n = _short_len([row[i] for row in clean for i in id_columns])
    table = Table()
    for i, name in enumerate(columns):
        table.add_column(name, no_wrap=i in id_columns, overflow="fold")
    for row in clean:
        table.add_row(*[escape(v[:n] if i in id_columns else v) for i, v in enumerate(row)])
    out.print(table)


def _note(text: str) -> None:
    """A summary line: on stdout beside a table, on stderr when stdout is data for another program."""
    (out if _stdout_is_terminal() else console).print(text, markup=False, highlight=False)


def _expand(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(
                sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES)
            )
        else:
            files.append(p)
    return files


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


# ---- db ---------------------------------------------------------------------------------------------------
@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply migrations to the configured database (SQLite file by default)."""
    from migrations.runner import current_revision, upgrade

    _announce()
    settings = get_settings()
    upgrade(settings)
    console.print(
        f"database at revision {current_revision(settings)}: {_redacted_url(settings.sql_url)}",
        markup=False,
        soft_wrap=True,
    )


# ---- ingest -----------------------------------------------------------------------------------------------
@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (PDF, DOCX, TXT, MD).")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document with every result.")
    ] = False,
    tenant: NewTenantOpt = "default",
    jobs: Annotated[int, typer.Option(help="Documents parsed at once (each in its own child process).")] = 2,
) -> None:
    """Store and parse documents; prints ids, pages, tokens, and failures with their reasons."""
    from longctx.documents import add_file, ingest_document

    _prepare()
    settings = get_settings()
    tenant_id = _tenant_id(tenant, create=True)
    files = _expand(paths)
    results: list[dict] = []
    with _progress() as bar:
        task = bar.add_task("ingesting", total=len(files))

        def one(path: Path) -> dict:
            if not path.is_file():
                return {"path": str(path), "status": "failed", "error": "no such file"}
            try:
                reg = add_file(path, tenant_id, settings)
            except Exception as exc:  # oversize, unreadable: this file fails, the rest go on
                return {"path": str(path), "status": "failed", "error": str(exc)}
            doc = reg.document
            if reg.created and doc.status.value == "queued":
                doc = ingest_document(doc.id, settings)
            return {
                "path": str(path),
                "id": doc.id,
                "filename": doc.filename,
                "status": doc.status.value,
                "pages": doc.pages,
                "tokens": doc.tokens,
                "error": doc.error,
                "sha256": doc.sha256,
                "duplicate": not reg.created,
                "ocr_pages": len((doc.ocr or {}).get("pages") or []),
            }

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [pool.submit(one, f) for f in files]
            for fut in as_completed(futures):
                results.append(fut.result())
                bar.advance(task)
    results.sort(key=lambda r: r["path"])
    ok = sum(r["status"] == "ready" for r in results)
    failed = [r for r in results if r["status"] == "failed"]
    summary = {
        "documents": len(results),
        "ready": ok,
        "failed": len(failed),
        "pages": sum(r.get("pages") or 0 for r in results),
        "tokens": sum(r.get("tokens") or 0 for r in results),
    }
    if as_json:
        emit_json({"results": results, "summary": summary})
    else:
        _print_rows(
            ["id", "file", "status", "pages", "tokens", "reason"],
            [
                [
                    r.get("id", "-"),
                    r.get("filename", r["path"]),
                    r["status"],
                    r.get("pages") or "",
                    r.get("tokens") or "",
                    r.get("error") or "",
                ]
                for r in results
            ],
        )
        ocr_pages = sum(r.get("ocr_pages") or 0 for r in results)
        _note(
            f"{ok} ready, {len(failed)} failed, {summary['pages']} pages, {summary['tokens']} tokens"
            + (f" ({ocr_pages} pages read by OCR)" if ocr_pages else "")
        )
    if failed and len(failed) == len(results):
        raise typer.Exit(1)


# ---- documents --------------------------------------------------------------------------------------------
def _doc_dict(doc) -> dict:  # noqa: ANN001
    return {
        "id": doc.id,
        "filename": doc.filename,
        "status": doc.status.value,
        "media_type": doc.media_type,
        "bytes": doc.bytes,
        "pages": doc.pages,
        "tokens": doc.tokens,
        "error": doc.error,
        "sha256": doc.sha256,
        "created_at": doc.created_at.isoformat(),
        "progress": doc.parse_progress,
        "stage": doc.parse_stage,
        "ocr": doc.ocr,
    }


@docs_app.command("list")
def documents_list(
    tenant: TenantOpt = "default",
    status: Annotated[str | None, typer.Option(help="queued|parsing|ready|failed|deleting")] = None,
    limit: int = 100,
    as_json: JsonOpt = False,
) -> None:
    """List the tenant's documents, newest first (full ids when piped; a short id works everywhere)."""
    from longctx.storage import repositories as repo
    from longctx.storage.models import DocumentStatus
    from longctx.storage.session import session_scope

    _prepare()
    tenant_id = _tenant_id(tenant)
    with session_scope() as s:
        docs, total = repo.list_documents(
            s, tenant_id, status=DocumentStatus(status) if status else None, limit=limit
        )
        rows = [_doc_dict(d) for d in docs]
    if as_json:
        emit_json({"documents": rows, "total": total})
        return
    _print_rows(
        ["id", "file", "status", "pages", "tokens", "uploaded", "reason"],
        [
            [
                r["id"],
                r["filename"],
                r["status"],
                r["pages"] or "",
                r["tokens"] or "",
                r["created_at"][:19],
                r["error"] or "",
            ]
            for r in rows
        ],
    )
    _note(f"{len(rows)} of {total}")


@docs_app.command("show")
def documents_show(
    document_id: Annotated[str, typer.Argument(help="Document id or an unambiguous prefix of it.")],
    tenant: TenantOpt = "default",
    page: Annotated[int | None, typer.Option(help="Print this page's text.")] = None,
) -> None:
    """Show one document (and optionally one page's text)."""
    from longctx.storage import repositories as repo
    from longctx.storage.models import Document
    from longctx.storage.session import session_scope

    _prepare()
    tenant_id = _tenant_id(tenant)
    with session_scope() as s:
        full_id = _resolve(s, Document, tenant_id, document_id, "document")
        doc = repo.get_document(s, tenant_id, full_id) if full_id else None
        if doc is None:
            _fail(f"no document {document_id} in tenant {tenant}")
        info = _doc_dict(doc)
        if page is not None:
            p = repo.get_page(s, doc.id, page)
            if p is None:
                console.print(f"[red]document has no page {page}")
                raise typer.Exit(2)
            info["page"] = {
                "number": p.number,
                "char_start": p.char_start,
                "char_end": p.char_end,
                "text": p.text,
            }
    emit_json(info)


@docs_app.command("delete")
def documents_delete(
    document_id: Annotated[str, typer.Argument(help="Document id or an unambiguous prefix of it.")],
    tenant: TenantOpt = "default",
) -> None:
    """Delete a document, its pages, findings and (when unshared) its stored bytes."""
    from longctx.documents import delete_document
    from longctx.storage.models import Document
    from longctx.storage.session import session_scope

    _prepare()
    tenant_id = _tenant_id(tenant)
    with session_scope() as s:
        full_id = _resolve(s, Document, tenant_id, document_id, "document")
    if full_id is None or not delete_document(full_id, tenant_id, get_settings()):
        _fail(f"no document {document_id} in tenant {tenant}")
    console.print(f"deleted {full_id}")


# ---- admin ------------------------------------------------------------------------------------------------
@tenants_app.command("create")
def tenants_create(name: str) -> None:
    """Create a tenant; if it already exists, say so and exit 0 (safe to run again)."""
    from longctx.storage import repositories as repo
    from longctx.storage.session import session_scope

    _prepare()
    with session_scope() as s:
        existing = repo.get_tenant(s, name.strip())
        if existing is not None and existing.name == name.strip():
            console.print(f"tenant {escape(repr(existing.name))} already exists")
            emit_json({"id": existing.id, "name": existing.name, "created": False})
            return
        try:
            tenant = repo.create_tenant(s, name)
        except ValueError as exc:
            _fail(str(exc))
        emit_json({"id": tenant.id, "name": tenant.name, "created": True})


@tenants_app.command("list")
def tenants_list(as_json: JsonOpt = False) -> None:
    """Every tenant: name, id, created, active API keys, documents."""
    from longctx.storage import repositories as repo
    from longctx.storage.session import session_scope

    _prepare()
    with session_scope() as s:
        rows = [
            {
                "name": t.tenant.name,
                "id": t.tenant.id,
                "created_at": iso(t.tenant.created_at),
                "keys": t.keys,
                "documents": t.documents,
            }
            for t in repo.list_tenants(s)
        ]
    if as_json:
        emit_json({"tenants": rows})
        return
    _print_rows(
        ["name", "id", "created", "keys", "documents"],
        [[r["name"], r["id"], (r["created_at"] or "")[:19], r["keys"], r["documents"]] for r in rows],
        id_columns=(1,),
    )
    _note(f"{len(rows)} tenant(s)")


@keys_app.command("create")
def keys_create(tenant: str, name: Annotated[str, typer.Option(help="A label for the key.")] = "") -> None:
    """Create an API key for TENANT and print it once (only its hash is stored)."""
    from longctx.storage import repositories as repo
    from longctx.storage.session import session_scope

    _prepare()
    tenant_id = _tenant_id(tenant)
    with session_scope() as s:
        t = repo.get_tenant(s, tenant_id)
        key = repo.create_api_key(s, t, name)
        emit_json(
            {
                "id": key.record.id,
                "tenant": t.name,
                "name": name,
                "prefix": f"{repo.KEY_PREFIX}_{key.record.prefix}",
                "key": key.secret,
            }
        )


def _key_dict(key, tenant_name: str) -> dict:  # noqa: ANN001
    from longctx.storage.repositories import KEY_PREFIX

    return {
        "id": key.id,
        "tenant": tenant_name,
        "tenant_id": key.tenant_id,
        "name": key.name,
        "prefix": f"{KEY_PREFIX}_{key.prefix}",
        "created_at": iso(key.created_at),
        "last_used_at": iso(key.last_used_at),
        "revoked_at": iso(key.revoked_at),
    }


@keys_app.command("list")
def keys_list(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's keys.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """API keys: id, tenant, name, prefix (the key's first characters), created, last used, revoked.

    Never the key itself nor its hash."""
    from sqlalchemy import select

    from longctx.storage import repositories as repo
    from longctx.storage.models import Tenant
    from longctx.storage.session import session_scope

    _prepare()
    tenant_id = _tenant_id(tenant) if tenant is not None else None
    with session_scope() as s:
        names = dict(s.execute(select(Tenant.id, Tenant.name)).all())
        rows = [_key_dict(k, names.get(k.tenant_id, "")) for k in repo.list_api_keys(s, tenant_id)]
    if as_json:
        emit_json({"keys": rows})
        return
    _print_rows(
        ["id", "tenant", "name", "prefix", "created", "last used", "revoked"],
        [
            [
                r["id"],
                r["tenant"],
                r["name"],
                r["prefix"],
                (r["created_at"] or "")[:19],
                (r["last_used_at"] or "never")[:19],
                (r["revoked_at"] or "")[:19],
            ]
            for r in rows
        ],
    )
    _note(f"{len(rows)} key(s), {sum(r['revoked_at'] is None for r in rows)} active")


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[
        str, typer.Argument(help="Key id, an unambiguous prefix of it, or the key's prefix (lcx_xxxxxxxx).")
    ],
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only among this tenant's keys.")] = None,
) -> None:
    """Revoke an API key: the API answers 401 to it from now on. Revoking a revoked key changes nothing."""
    from longctx.storage import repositories as repo
    from longctx.storage.models import ApiKey, Tenant
    from longctx.storage.session import session_scope

    _prepare()
    tenant_id = _tenant_id(tenant) if tenant is not None else None
    with session_scope() as s:
        try:
            record = repo.find_api_key(s, key, tenant_id)
        except repo.AmbiguousId as exc:
            found = {c: s.get(ApiKey, c) for c in exc.candidates}
            _ambiguous(
                exc,
                "API key",
                {c: f"{repo.KEY_PREFIX}_{k.prefix} {k.name}" for c, k in found.items() if k is not None},
            )
        if record is None:
            _fail(f"no API key matching {key!r}; `longctx keys list` shows the keys")
        tenant_name = s.get(Tenant, record.tenant_id).name
        if record.revoked_at is not None:
            console.print(f"key {record.id} was already revoked")
        else:
            repo.revoke_api_key(s, record.id)
            repo.audit(
                s,
                tenant_id=record.tenant_id,
                actor="cli",
                action="revoke",
                object_type="api_key",
                object_id=record.id,
            )
            s.flush()
            console.print(f"revoked key {record.id}")
        emit_json(_key_dict(record, tenant_name))


# ---- jobs -------------------------------------------------------------------------------------------------
def _job_id(session, tenant_id: str, job_id: str, tenant: str) -> str:  # noqa: ANN001
    from longctx.storage.models import Job

    full_id = _resolve(session, Job, tenant_id, job_id, "job")
    if full_id is None:
        _fail(f"no job {job_id} in tenant {tenant}")
    return full_id


@jobs_app.command("list")
def jobs_list(tenant: TenantOpt = "default", limit: int = 50, as_json: JsonOpt = False) -> None:
    """List the tenant's analysis jobs, newest first."""
    from longctx.jobs import job_to_dict
    from longctx.storage import repositories as repo
    from longctx.storage.session import session_scope

    _prepare()
    tenant_id = _tenant_id(tenant)
    with session_scope() as s:
        rows = [job_to_dict(j) for j in repo.list_jobs(s, tenant_id, limit=limit)]
    if as_json:
        emit_json({"jobs": rows})
        return
    _print_rows(
        ["id", "kind", "status", "stage", "progress", "created", "error"],
        [
            [
                r["id"],
                r["kind"],
                r["status"],
                r["stage"],
                f"{r['progress']:.0%}",
                (r["created_at"] or "")[:19],
                r["error"] or "",
            ]
            for r in rows
        ],
    )
    _note(f"{len(rows)} job(s)")


@jobs_app.command("show")
def jobs_show(
    job_id: Annotated[str, typer.Argument(help="Job id or an unambiguous prefix of it.")],
    tenant: TenantOpt = "default",
) -> None:
    """Show one job as JSON (status, stage, progress, per-document outcomes, timings)."""
    from longctx.jobs import job_to_dict
    from longctx.jobs.lifecycle import outcomes
    from longctx.storage import repositories as repo
    from longctx.storage.session import session_scope

    _prepare()
    tenant_id = _tenant_id(tenant)
    with session_scope() as s:
        full_id = _job_id(s, tenant_id, job_id, tenant)
        info = job_to_dict(repo.get_job(s, tenant_id, full_id), outcomes(s, full_id))
    emit_json(info)


@jobs_app.command("findings")
def jobs_findings(
    job_id: Annotated[str, typer.Argument(help="Job id or an unambiguous prefix of it.")],
    tenant: TenantOpt = "default",
    as_json: Annotated[bool, typer.Option("--json", help="The REST findings shape.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="The CSV export.")] = False,
) -> None:
    """A job's findings: answers with page and character citations."""
    from longctx.jobs import findings_csv, findings_for_job
    from longctx.storage.session import session_scope

    _prepare()
    tenant_id = _tenant_id(tenant)
    with session_scope() as s:
        full_id = _job_id(s, tenant_id, job_id, tenant)
        items = findings_for_job(s, tenant_id, full_id)
    if as_json:
        emit_json({"job_id": full_id, "items": items})
    elif as_csv:
        typer.echo(findings_csv(items), nl=False)
    else:
        _print_rows(
            ["document", "query", "rank", "answer", "score", "page", "chars"],
            [
                [
                    f["document_id"],
                    f["query_key"] or f["query"],
                    f["rank"] + 1,
                    (f["answer"] or "(no answer)").replace("\n", " "),
                    f"{f['score']:.2f}",
                    f["page"] or "",
                    f"{f['char_start']}-{f['char_end']}" if f["char_start"] is not None else "",
                ]
                for f in items
            ],
        )
        _ocr_warnings(items, _note)
        _note(f"job {full_id}: {len(items)} finding(s)")


@jobs_app.command("cancel")
def jobs_cancel(
    job_id: Annotated[str, typer.Argument(help="Job id or an unambiguous prefix of it.")],
    tenant: TenantOpt = "default",
) -> None:
    """Cancel a queued or running job (a running job's worker stops at its next lease renewal)."""
    from longctx.jobs import lifecycle

    _job_transition(job_id, tenant, lifecycle.cancel)


@jobs_app.command("retry")
def jobs_retry(
    job_id: Annotated[str, typer.Argument(help="Job id or an unambiguous prefix of it.")],
    tenant: TenantOpt = "default",
) -> None:
    """Queue a failed, cancelled or lapsed job again (its findings are cleared first)."""
    from longctx.jobs import lifecycle

    _job_transition(job_id, tenant, lifecycle.retry, enqueue=True)


def _job_transition(job_id: str, tenant: str, change, *, enqueue: bool = False) -> None:  # noqa: ANN001
    """Apply a lifecycle transition (`lifecycle.cancel` / `retry`) to the tenant's job and print the job."""
    from longctx.jobs import JobRequestError, job_to_dict, lifecycle
    from longctx.storage.session import session_scope

    _prepare()
    settings = get_settings()
    tenant_id = _tenant_id(tenant)
    try:
        with session_scope(settings) as s:
            full_id = _job_id(s, tenant_id, job_id, tenant)
            job = change(s, tenant_id, full_id, "cli")
            info = job_to_dict(job, lifecycle.outcomes(s, full_id))
    except JobRequestError as exc:
        _fail(exc.detail)
    if enqueue and lifecycle.enqueue(settings, [full_id]):
        _fail(f"job {full_id} could not be queued (is the broker reachable?); it is marked failed")
    emit_json(info)


# ---- side commands: train, eval, bench (each module parses its own options) --------------------------------
_PASSTHROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


@app.command(context_settings=_PASSTHROUGH)
def train(ctx: typer.Context) -> None:
    """Train: reader | answer-line | clause-head | phrase-head | lexical (`longctx train -h`)."""
    from longctx.training.cli import main as train_main

    raise typer.Exit(train_main(list(ctx.args)))


@app.command("eval", context_settings=_PASSTHROUGH)
def evaluate(ctx: typer.Context) -> None:
    """Evaluate a reader: niah | multikey | cuad | short-contracts | ablation | ... (`longctx eval -h`)."""
    from longctx.evaluation.cli import main as eval_main

    raise typer.Exit(eval_main(list(ctx.args)))


@bench_app.command("ingest", context_settings=_PASSTHROUGH)
def bench_ingest(ctx: typer.Context) -> None:
    """Parser robustness sweep and ingest speed vs raw pypdf (`longctx bench ingest -h`)."""
    from longctx.bench.ingest import main as bench_main

    raise typer.Exit(bench_main(list(ctx.args)))


@bench_app.command("ocr", context_settings=_PASSTHROUGH)
def bench_ocr(ctx: typer.Context) -> None:
    """OCR character accuracy and speed on rasterised text-layer PDFs (`longctx bench ocr -h`)."""
    from longctx.bench.ocr import main as bench_main

    raise typer.Exit(bench_main(list(ctx.args)))


@bench_app.command("report", context_settings=_PASSTHROUGH)
def bench_report(ctx: typer.Context) -> None:
    """ask and extract --schema report on a 150-page report, timed as a user runs them."""
    from longctx.bench.report import main as bench_main

    raise typer.Exit(bench_main(list(ctx.args)))


@bench_app.command("attention", context_settings=_PASSTHROUGH)
def bench_attention(ctx: typer.Context) -> None:
    """Attention kernel TFLOP/s per backend and ring efficiency (`longctx bench attention -h`)."""
    from longctx.bench.attention import main as bench_main

    bench_main(list(ctx.args))


@bench_app.command("load", context_settings=_PASSTHROUGH)
def bench_load(ctx: typer.Context) -> None:
    """Loopback load test of the REST API with integrity checks (`longctx bench load -h`)."""
    from longctx.bench.load import main as bench_main

    raise typer.Exit(bench_main(list(ctx.args)))


@bench_app.command("reader", context_settings=_PASSTHROUGH)
def bench_reader(ctx: typer.Context) -> None:
    """Reader time per stage, cold and cached, peak memory, tokens/s (`longctx bench reader -h`)."""
    from longctx.bench.reader import main as bench_main

    raise typer.Exit(bench_main(list(ctx.args)))


# ---- service: serve, api, worker, ui ----------------------------------------------------------------------
@app.command()
def serve(
    port: Annotated[int | None, typer.Option(help="REST API port (default 8000).")] = None,
    ui_port: Annotated[int | None, typer.Option(help="Streamlit UI port (default 8501).")] = None,
    no_ui: Annotated[bool, typer.Option("--no-ui", help="Do not start the UI.")] = False,
    data_dir: Annotated[Path | None, typer.Option(help="Data dir (blobs, SQLite, broker).")] = None,
    host: Annotated[str, typer.Option(help="Interface to bind (keep 127.0.0.1).")] = "127.0.0.1",
    cpu_concurrency: Annotated[int, typer.Option(help="Documents parsed at once by the cpu worker.")] = 2,
) -> None:
    """Run everything on this machine: migrations, API, cpu + gpu workers, UI. Ctrl-C stops it all."""
    from longctx.supervisor import serve as run_serve

    if data_dir is None:
        _legacy_hint(get_settings().resolved_data_dir)
    raise typer.Exit(
        run_serve(
            data_dir=data_dir,
            host=host,
            port=port,
            ui_port=ui_port,
            ui=not no_ui,
            cpu_concurrency=cpu_concurrency,
        )
    )


API_KEEP_ALIVE_S = 30


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="Bind address (LONGCTX_API_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (LONGCTX_API_PORT).")] = None,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
    migrate: Annotated[bool, typer.Option("--migrate/--no-migrate", help="Apply migrations first.")] = True,
    log_level: str = "info",
) -> None:
    """Serve the REST API with uvicorn (OpenAPI at /docs)."""
    import uvicorn

    _announce()
    if migrate:
        _migrate()
    settings = get_settings()
    uvicorn.run(
        "longctx.api.app:create_app",
        factory=True,
        host=host or settings.api_host,
        port=port or settings.api_port,
        workers=workers,
        log_level=log_level,
        proxy_headers=True,
        # Idle keep-alive connections outlive the usual client pools' expiry (httpx: 5 s), so a client never
        # sends on a connection the server is closing (a ReadError under load with uvicorn's default 5 s).
        timeout_keep_alive=API_KEEP_ALIVE_S,
    )


@app.command()
def worker(
    queues: Annotated[str, typer.Option(help="Comma-separated queues: cpu, gpu.")] = "cpu,gpu",
    devices: Annotated[
        str | None,
        typer.Option(
            help=(
                "Devices of a gpu worker: GPU ids (CUDA_VISIBLE_DEVICES), e.g. 0 or 0,1, or cpu:N. "
                "Several (0,1 or cpu:2) start one rank per device in a torch.distributed group (NCCL on "
                "GPUs, gloo on CPU): the global stage runs sequence-parallel over the ranks, rank 0 takes "
                "the tasks; LONGCTX_COLLECTIVE_TIMEOUT_S bounds a stage's collectives."
            )
        ),
    ] = None,
    concurrency: Annotated[int | None, typer.Option(help="Parallel tasks (gpu workers run one).")] = None,
    pool: Annotated[str, typer.Option(help="auto | prefork | threads | solo (auto: solo for gpu).")] = "auto",
    name: Annotated[str | None, typer.Option(help="Celery node name (unique per host).")] = None,
    metrics_port: Annotated[int | None, typer.Option(help="Serve Prometheus metrics on this port.")] = None,
    log_level: str = "info",
) -> None:
    """Run a Celery worker for the given queues (`gpu`: solo pool, CUDA initialised in this process only)."""
    import os

    wanted = [q.strip() for q in queues.split(",") if q.strip()]
    bad = [q for q in wanted if q not in ("cpu", "gpu")]
    if not wanted or bad:
        console.print(f"[red]unknown queue(s) {', '.join(bad) or '(none)'}; use cpu, gpu or cpu,gpu")
        raise typer.Exit(2)
    if devices is not None:
        # Before anything imports torch: the reader sees exactly these devices (none for CPU ranks).
        os.environ["CUDA_VISIBLE_DEVICES"] = "" if devices.strip().startswith("cpu") else devices
    if pool == "auto":
        pool = "solo" if "gpu" in wanted else "prefork"
    spec = None
    if devices is not None and "gpu" in wanted:
        from workers.ranks import parse_devices

        try:
            spec = parse_devices(devices)
        except ValueError as exc:
            console.print(f"[red]{exc}")
            raise typer.Exit(2) from None
        if spec.world > 1 and pool != "solo":
            console.print("[red]several devices need the solo pool (rank 0 runs the tasks in this process)")
            raise typer.Exit(2)
    if "gpu" in wanted and pool != "solo":
        console.print("[yellow]gpu queue with a non-solo pool: CUDA must not be initialised before a fork")
    if pool == "solo":
        concurrency = 1
    _announce()
    _prepare_worker_db()
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port)
    from longctx.broker.transport import is_embedded
    from workers.celery_app import get_app

    settings = get_settings()
    celery = get_app(settings)
    if is_embedded(settings.celery_broker_url):
        celery.conf.worker_enable_remote_control = False  # the SQLite transport has no fanout
    suffix = "-" + devices.replace(",", "_").replace(":", "") if devices else ""
    node = name or f"{'-'.join(wanted)}{suffix}@%h"
    argv = [
        "worker",
        "-Q",
        ",".join(wanted),
        "-P",
        pool,
        "-n",
        node,
        "-l",
        log_level,
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    if concurrency:
        argv += ["-c", str(concurrency)]
    ranks = None
    if spec is not None and spec.world > 1:
        from workers.ranks import detach, start_worker_ranks

        ranks = start_worker_ranks(devices, settings)  # loads the reader once; followers stay up
        console.print(f"rank group: {spec.world} {spec.kind} ranks ({spec.backend}), followers {ranks.pids}")
    try:
        celery.worker_main(argv)
    finally:
        if ranks is not None:
            detach(ranks)


def _prepare_worker_db() -> None:
    """Workers need the schema; in the embedded default `serve` already migrated, elsewhere do it here."""
    from migrations.runner import current_revision

    try:
        if current_revision(get_settings()) is None:
            _migrate()
    except Exception as exc:  # the database may come up later; tasks retry on transient errors
        console.print(f"[yellow]database not ready yet: {exc}")


@app.command()
def ui(
    port: Annotated[int | None, typer.Option(help="Port (LONGCTX_UI_PORT).")] = None,
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
) -> None:
    """Run the Streamlit UI (talks to the REST API at LONGCTX_API_URL)."""
    import os
    import subprocess

    from longctx.supervisor import streamlit_command, webui_app_path

    app_py = webui_app_path()
    if app_py is None:
        console.print("[red]no webui/app.py in this installation")
        raise typer.Exit(2)
    settings = get_settings()
    cmd = streamlit_command(app_py, port or settings.ui_port, host)
    env = {**os.environ, "LONGCTX_API_URL": settings.public_api_url}
    raise typer.Exit(subprocess.call(cmd, env=env))


# ---- ask / extract (in-process, no server) ----------------------------------------------------------------
def _resolve_document(path_or_id: str, tenant_id: str, bar: Progress) -> str:
    """A ready document id: a local file is stored and parsed here; an id is looked up (parsed if needed)."""
    from longctx.documents import add_file, ingest_document
    from longctx.storage import repositories as repo
    from longctx.storage.models import Document, DocumentStatus
    from longctx.storage.session import session_scope

    settings = get_settings()
    path = Path(path_or_id)
    if path.is_file():
        try:
            doc = add_file(path, tenant_id, settings).document
        except Exception as exc:
            console.print(f"[red]{path}: {exc}")
            raise typer.Exit(1) from exc
    else:
        with session_scope(settings) as s:
            full_id = _resolve(s, Document, tenant_id, path_or_id, "document")
            doc = repo.get_document(s, tenant_id, full_id) if full_id else None
        if doc is None:
            console.print(f"[red]{path_or_id}: no such file, and no document with that id in this tenant")
            raise typer.Exit(2)
    if doc.status in (DocumentStatus.queued, DocumentStatus.parsing):
        task = bar.add_task("parsing", total=1.0)
        doc = ingest_document(doc.id, settings, progress=lambda _st, f: bar.update(task, completed=f))
        bar.update(task, completed=1.0)
    if doc is None or doc.status is not DocumentStatus.ready:
        reason = doc.error if doc is not None else "document was deleted"
        console.print(f"[red]{path_or_id}: document is {doc.status.value if doc else 'gone'}: {reason}")
        raise typer.Exit(1)
    return doc.id


def _ocr_warnings(items: list[dict], say: Callable[[str], None]) -> None:
    """One line per finding that cites a low-confidence OCR page (the table has no room for it)."""
    for f in items:
        if f.get("warning"):
            say(f"warning: {f['query_key'] or f['query']} #{f['rank'] + 1}: {f['warning']}")


def _run_job_cli(path_or_id: str, tenant: str, as_json: bool, **job_kwargs) -> None:  # noqa: ANN003
    from longctx.jobs import JobRequestError, create_analysis_job, findings_for_job, run_analysis_job
    from longctx.storage.models import Job
    from longctx.storage.session import session_scope

    _prepare()
    settings = get_settings()
    is_file = Path(path_or_id).is_file()  # a new file may start a tenant; an id needs an existing one
    context = "" if is_file else f"{path_or_id}: no such file, and "
    tenant_id = _tenant_id(tenant, create=is_file, context=context)
    with _progress() as bar:
        doc_id = _resolve_document(path_or_id, tenant_id, bar)
        try:
            with session_scope(settings) as s:
                job = create_analysis_job(s, tenant_id, document_ids=[doc_id], actor="cli", **job_kwargs)
                job_id = job.id
        except JobRequestError as exc:
            console.print(f"[red]{exc.detail}")
            raise typer.Exit(2) from exc
        task = bar.add_task("analyzing", total=1.0)
        outcome = run_analysis_job(
            job_id,
            settings,
            progress=lambda _st, f: bar.update(task, completed=f),
            wait_for_documents_s=0,
            enqueue_webhook=False,
        )
        bar.update(task, completed=1.0)
    with session_scope(settings) as s:
        job = s.get(Job, job_id)
        items = findings_for_job(s, tenant_id, job_id)
        error = job.error
    if as_json:
        out.print_json(json.dumps({"job_id": job_id, "items": items}))
    else:
        table = Table("query", "rank", "answer", "score", "page", "chars")
        for f in items:
            answer = (f["answer"] or "(no answer)").replace("\n", " ")
            answer = answer[:200] + ("..." if len(answer) > 200 else "")
            if f.get("row_label"):  # read from a table cell (or computed from cells)
                how = (
                    f"computed: {f['formula']}"
                    if f.get("computed")
                    else f"{f['row_label']} | {f['column_header']}"
                )
                answer = f"{(f.get('detail') or {}).get('answer') or answer}  [{how}; {f['period']}]"
            table.add_row(
                f["query_key"] or f["query"],
                str(f["rank"] + 1),
                answer,
                f"{f['score']:.2f}",
                str(f["page"] or ""),
                f"{f['char_start']}-{f['char_end']}" if f["char_start"] is not None else "",
            )
        out.print(table)
        _ocr_warnings(items, lambda text: out.print(f"[yellow]{text}", highlight=False))
        out.print(f"job {job_id}: {outcome.status}")
    if outcome.status == "failed":
        console.print(f"[red]{error}")
        raise typer.Exit(1)


@app.command()
def ask(
    path_or_id: Annotated[str, typer.Argument(help="A local file (stored and parsed here) or document id.")],
    question: Annotated[list[str], typer.Option("--question", "-q", help="A question (repeatable).")],
    top_k: Annotated[int, typer.Option(help="Answers per question.")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print the REST findings shape.")] = False,
    tenant: NewTenantOpt = "default",
) -> None:
    """Answer questions over one document, in this process (no server), with page and character citations."""
    _run_job_cli(path_or_id, tenant, as_json, questions=question, top_k=top_k)


@app.command()
def extract(
    path_or_id: Annotated[str, typer.Argument(help="A local file (stored and parsed here) or document id.")],
    schema: Annotated[str, typer.Option(help="contract | report")] = "contract",
    top_k: Annotated[int, typer.Option(help="Candidates per field.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the REST findings shape.")] = False,
    tenant: NewTenantOpt = "default",
) -> None:
    """Extract a schema's fields (contract key terms, report key facts) from one document, in this process."""
    _run_job_cli(path_or_id, tenant, as_json, schema=schema, top_k=top_k)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
