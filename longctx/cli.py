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
    from longctx.storage.migrate import upgrade

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
    from longctx.storage.migrate import current_revision, upgrade

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


# ---- benchmarks -------------------------------------------------------------------------------------------
@bench_app.command("ingest")
def bench_ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders of PDFs.")],
    out_path: Annotated[Path | None, typer.Option("--out", help="Markdown report to write.")] = None,
    jobs: int = 2,
    limit: Annotated[int | None, typer.Option(help="Only the first N files (sorted).")] = None,
    label: Annotated[str | None, typer.Option(help="Name of this corpus in the report.")] = None,
) -> None:
    """Parser robustness sweep and ingest speed vs raw pypdf extraction."""
    from longctx.bench.ingest import run

    files = (
        [f for f in _expand(paths) if f.suffix.lower() == ".pdf"] if any(p.is_dir() for p in paths) else paths
    )
    result = run(files, out_path, jobs, _command_line(), limit=limit, label=label)
    emit_json(result)


@bench_app.command("attention")
def bench_attention(
    max_n: Annotated[int, typer.Option(help="Largest sequence length.")] = 16384,
    head_dims: Annotated[str, typer.Option(help="Comma-separated head dims.")] = "64,128",
    world_sizes: Annotated[str, typer.Option(help="Comma-separated ring sizes.")] = "2,4,8",
    backends: Annotated[
        str | None, typer.Option(help="Comma-separated backends; default: all available.")
    ] = None,
    out_path: Annotated[Path | None, typer.Option("--out", help="Markdown file to update.")] = None,
    device: str = "auto",
) -> None:
    """Attention kernel TFLOP/s per backend and ring efficiency."""
    from longctx.bench.attention import run

    result = run(
        max_n=max_n,
        head_dims=[int(x) for x in head_dims.split(",")],
        world_sizes=[int(x) for x in world_sizes.split(",")],
        backends=backends.split(",") if backends else None,
        out=out_path,
        command=_command_line(),
        device=device,
    )
    emit_json(result)


_PASSTHROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


@app.command(context_settings=_PASSTHROUGH)
def train(ctx: typer.Context) -> None:
    """Train the neural reader: --config FILE --out DIR [--set key=value] [--no-resume] [--export DEST]."""
    from longctx.training.loop import main as train_main

    raise typer.Exit(train_main(list(ctx.args)))


@app.command("eval", context_settings=_PASSTHROUGH)
def evaluate(ctx: typer.Context) -> None:
    """Evaluate a reader: niah | ruler | cuad | sec10q (tables + JSON; `longctx eval -h` for options)."""
    from longctx.evaluation.cli import main as eval_main

    raise typer.Exit(eval_main(list(ctx.args)))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
