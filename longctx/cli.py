"""`longctx` command line: the only process entrypoint of the library.

Heavy modules (torch, FastAPI, Celery, Streamlit) are imported inside the commands that need them, so
`longctx ingest` and friends start fast.
"""

from __future__ import annotations

import json
import shlex
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from longctx.config import get_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Long-context document analysis service.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
docs_app = typer.Typer(no_args_is_help=True, help="Documents stored in the service.")
tenants_app = typer.Typer(no_args_is_help=True, help="Tenants (admin).")
keys_app = typer.Typer(no_args_is_help=True, help="API keys (admin).")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks; results go to docs/*.md with their command.")
app.add_typer(db_app, name="db")
app.add_typer(docs_app, name="documents")
app.add_typer(tenants_app, name="tenants")
app.add_typer(keys_app, name="keys")
app.add_typer(bench_app, name="bench")

console = Console(stderr=True)
out = Console()

SUPPORTED_SUFFIXES = {".pdf", ".docx", ".txt", ".md", ".markdown", ".text"}
TenantOpt = Annotated[str, typer.Option("--tenant", help="Tenant name or id (created on first use).")]


def emit_json(obj: object) -> None:
    """Plain JSON on stdout (never wrapped or coloured), so the output can be piped to other tools."""
    typer.echo(json.dumps(obj, indent=2, default=str))


def _command_line() -> str:
    return "longctx " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _prepare() -> None:
    from migrations.runner import upgrade

    upgrade(get_settings())


def _tenant_id(name: str) -> str:
    from longctx.storage import repositories as repo
    from longctx.storage.session import session_scope

    with session_scope() as s:
        return repo.get_or_create_tenant(s, name).id


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

    settings = get_settings()
    upgrade(settings)
    console.print(f"database at revision {current_revision(settings)}: {settings.sql_url.split('@')[-1]}")


# ---- ingest -----------------------------------------------------------------------------------------------
@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (PDF, DOCX, TXT, MD).")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document with every result.")
    ] = False,
    tenant: TenantOpt = "default",
    jobs: Annotated[int, typer.Option(help="Documents parsed at once (each in its own child process).")] = 2,
) -> None:
    """Store and parse documents; prints ids, pages, tokens, and failures with their reasons."""
    from longctx.documents import add_file, ingest_document

    _prepare()
    settings = get_settings()
    tenant_id = _tenant_id(tenant)
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
        table = Table("id", "file", "status", "pages", "tokens", "reason")
        for r in results:
            table.add_row(
                r.get("id", "-"),
                r.get("filename", r["path"]),
                r["status"],
                str(r.get("pages") or ""),
                str(r.get("tokens") or ""),
                r.get("error") or "",
            )
        out.print(table)
        out.print(f"{ok} ready, {len(failed)} failed, {summary['pages']} pages, {summary['tokens']} tokens")
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
    }


@docs_app.command("list")
def documents_list(
    tenant: TenantOpt = "default",
    status: Annotated[str | None, typer.Option(help="queued|parsing|ready|failed|deleting")] = None,
    limit: int = 100,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List the tenant's documents, newest first."""
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
    table = Table("id", "file", "status", "pages", "tokens", "uploaded", "reason")
    for r in rows:
        table.add_row(
            r["id"],
            r["filename"],
            r["status"],
            str(r["pages"] or ""),
            str(r["tokens"] or ""),
            r["created_at"][:19],
            r["error"] or "",
        )
    out.print(table)
    out.print(f"{len(rows)} of {total}")


@docs_app.command("show")
def documents_show(
    document_id: str,
    tenant: TenantOpt = "default",
    page: Annotated[int | None, typer.Option(help="Print this page's text.")] = None,
) -> None:
    """Show one document (and optionally one page's text)."""
    from longctx.storage import repositories as repo
    from longctx.storage.session import session_scope

    _prepare()
    tenant_id = _tenant_id(tenant)
    with session_scope() as s:
        doc = repo.get_document(s, tenant_id, document_id)
        if doc is None:
            console.print(f"[red]no document {document_id} in tenant {tenant}")
            raise typer.Exit(2)
        info = _doc_dict(doc)
        if page is not None:
            p = repo.get_page(s, document_id, page)
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
def documents_delete(document_id: str, tenant: TenantOpt = "default") -> None:
    """Delete a document, its pages, findings and (when unshared) its stored bytes."""
    from longctx.documents import delete_document

    _prepare()
    if not delete_document(document_id, _tenant_id(tenant), get_settings()):
        console.print(f"[red]no document {document_id} in tenant {tenant}")
        raise typer.Exit(2)
    console.print(f"deleted {document_id}")


# ---- admin ------------------------------------------------------------------------------------------------
@tenants_app.command("create")
def tenants_create(name: str) -> None:
    """Create a tenant."""
    from longctx.storage import repositories as repo
    from longctx.storage.session import session_scope

    _prepare()
    try:
        with session_scope() as s:
            tenant = repo.create_tenant(s, name)
            emit_json({"id": tenant.id, "name": tenant.name})
    except ValueError as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(2) from exc


@keys_app.command("create")
def keys_create(tenant: str, name: Annotated[str, typer.Option(help="A label for the key.")] = "") -> None:
    """Create an API key for TENANT and print it once (only its hash is stored)."""
    from longctx.storage import repositories as repo
    from longctx.storage.session import session_scope

    _prepare()
    with session_scope() as s:
        t = repo.get_tenant(s, tenant)
        if t is None:
            console.print(f"[red]no tenant {tenant!r}; create it with `longctx tenants create {tenant}`")
            raise typer.Exit(2)
        key = repo.create_api_key(s, t, name)
        emit_json({"id": key.record.id, "tenant": t.name, "key": key.secret})


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


@bench_app.command("attention", context_settings=_PASSTHROUGH)
def bench_attention(ctx: typer.Context) -> None:
    """Attention kernel TFLOP/s per backend and ring efficiency (`longctx bench attention -h`)."""
    from longctx.bench.attention import main as bench_main

    bench_main(list(ctx.args))


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

    if migrate:
        _prepare()
    settings = get_settings()
    uvicorn.run(
        "longctx.api.app:create_app",
        factory=True,
        host=host or settings.api_host,
        port=port or settings.api_port,
        workers=workers,
        log_level=log_level,
        proxy_headers=True,
    )


@app.command()
def worker(
    queues: Annotated[str, typer.Option(help="Comma-separated queues: cpu, gpu.")] = "cpu,gpu",
    devices: Annotated[str | None, typer.Option(help="GPU ids (CUDA_VISIBLE_DEVICES), e.g. 0,1.")] = None,
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
        # Before anything imports torch: the reader sees exactly these devices.
        os.environ["CUDA_VISIBLE_DEVICES"] = devices
    if pool == "auto":
        pool = "solo" if "gpu" in wanted else "prefork"
    if "gpu" in wanted and pool != "solo":
        console.print("[yellow]gpu queue with a non-solo pool: CUDA must not be initialised before a fork")
    if pool == "solo":
        concurrency = 1
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
    node = name or f"{'-'.join(wanted)}{'-' + devices.replace(',', '_') if devices else ''}@%h"
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
    celery.worker_main(argv)


def _prepare_worker_db() -> None:
    """Workers need the schema; in the embedded default `serve` already migrated, elsewhere do it here."""
    from migrations.runner import current_revision

    try:
        if current_revision(get_settings()) is None:
            _prepare()
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
    from longctx.storage.models import DocumentStatus
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
            doc = repo.get_document(s, tenant_id, path_or_id)
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


def _run_job_cli(path_or_id: str, tenant: str, as_json: bool, **job_kwargs) -> None:  # noqa: ANN003
    from longctx.jobs import JobRequestError, create_analysis_job, findings_for_job, run_analysis_job
    from longctx.storage.models import Job
    from longctx.storage.session import session_scope

    _prepare()
    settings = get_settings()
    tenant_id = _tenant_id(tenant)
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
            table.add_row(
                f["query_key"] or f["query"],
                str(f["rank"] + 1),
                answer[:200] + ("..." if len(answer) > 200 else ""),
                f"{f['score']:.2f}",
                str(f["page"] or ""),
                f"{f['char_start']}-{f['char_end']}" if f["char_start"] is not None else "",
            )
        out.print(table)
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
    tenant: TenantOpt = "default",
) -> None:
    """Answer questions over one document, in this process (no server), with page and character citations."""
    _run_job_cli(path_or_id, tenant, as_json, questions=question, top_k=top_k)


@app.command()
def extract(
    path_or_id: Annotated[str, typer.Argument(help="A local file (stored and parsed here) or document id.")],
    schema: Annotated[str, typer.Option(help="contract | report")] = "contract",
    top_k: Annotated[int, typer.Option(help="Candidates per field.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the REST findings shape.")] = False,
    tenant: TenantOpt = "default",
) -> None:
    """Extract a schema's fields (contract key terms, report key facts) from one document, in this process."""
    _run_job_cli(path_or_id, tenant, as_json, schema=schema, top_k=top_k)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
