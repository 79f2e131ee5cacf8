"""The layers of DESIGN.md as import-linter contracts (pyproject.toml): they hold on this tree, they have no
escape hatches, and they fail when someone imports upward, sideways into a side package, or in a circle."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("longctx", "workers", "webui", "migrations")


def _lint_imports() -> str:
    exe = Path(sys.executable).parent / "lint-imports"
    found = str(exe) if exe.exists() else shutil.which("lint-imports")
    if found is None:
        pytest.fail("lint-imports is not installed (it is in the [test] extra)")
    return found


def _run(root: Path) -> subprocess.CompletedProcess:
    # PYTHONPATH first, so the packages under `root` are the ones analysed (not the installed ones).
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run(
        [_lint_imports(), "--no-cache", "--no-logo", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _copy_tree(dest: Path) -> Path:
    """The project's Python sources and pyproject.toml (no weights, no data) under `dest`."""

    def ignore(folder: str, names: list[str]) -> list[str]:
        return [
            n
            for n in names
            if n == "__pycache__" or (not n.endswith(".py") and not os.path.isdir(os.path.join(folder, n)))
        ]

    for pkg in PACKAGES:
        shutil.copytree(REPO / pkg, dest / pkg, ignore=ignore)
    shutil.copy(REPO / "pyproject.toml", dest / "pyproject.toml")
    return dest


def test_contracts_hold_on_this_tree():
    proc = _run(REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"Contracts: \d+ kept, 0 broken", proc.stdout), proc.stdout


def test_contracts_have_no_ignored_imports():
    from importlinter.api import read_configuration

    config = read_configuration(str(REPO / "pyproject.toml"))
    contracts = config["contracts_options"]
    assert len(contracts) >= 5
    for contract in contracts:
        assert not contract.get("ignore_imports"), f"{contract['name']} ignores imports"
    names = {c["id"] for c in contracts}
    assert {"service-layers", "side-layers", "side-not-below", "no-cycles", "webui-rest-only"} <= names


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # model sits below analysis and the service: no reaching up for the API
        ("longctx/model/rope.py", "import longctx.api.app", "Service stack: imports run downward only"),
        # storage is infrastructure: it must not know the job service
        ("longctx/storage/blobs.py", "import longctx.jobs", "Service stack: imports run downward only"),
        # the reader pipeline must not import the trainers (the cycle of issue 13)
        (
            "longctx/analysis/span_reader.py",
            "import longctx.training.reader",
            "service stack imports the side",
        ),
        # evaluation sits below training among the side packages
        ("longctx/evaluation/report.py", "import longctx.training.reader", "Side packages (training"),
        # the web UI talks to the REST API only
        ("webui/client.py", "import longctx.config", "The web UI talks to the REST API only"),
        # two analysis modules importing each other
        ("longctx/analysis/reader.py", "import longctx.analysis.lexical", "No import cycles"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(tmp_path, module, line, contract):
    root = _copy_tree(tmp_path)
    target = root / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # deliberate violation\n")
    proc = _run(root)
    assert proc.returncode != 0, proc.stdout
    broken = [ln for ln in proc.stdout.splitlines() if ln.rstrip().endswith("BROKEN")]
    assert any(contract in ln for ln in broken) or contract in proc.stdout.split("Broken contracts")[-1], (
        proc.stdout
    )


def test_cli_is_the_only_entrypoint():
    """Process entrypoints: `longctx` (cli.py) and the ingest sandbox's own child process."""
    allowed = {"longctx/cli.py", "longctx/ingest/child.py"}
    found = set()
    for pkg in PACKAGES:
        for path in (REPO / pkg).rglob("*.py"):
            if re.search(r"^if __name__ == [\"']__main__[\"']", path.read_text(encoding="utf-8"), re.M):
                found.add(path.relative_to(REPO).as_posix())
    assert found == allowed
