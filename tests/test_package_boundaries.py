"""The packages meet only through files and each other's public API: a forbidden import fails here.

Every .py file of each package is parsed with ast (imports inside functions and TYPE_CHECKING blocks
count too). A public API is a package's top level or a subpackage's ``__init__`` (e.g. ``stimuli``,
``analysis.stats``), never a module inside one (``model_eval.checkpoint``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("commandline", "stimuli", "model_eval", "study_server", "analysis", "workflow")

# Which other project packages each package may import, through their public API only.
ALLOWED: dict[str, set[str]] = {
    "commandline": set(),
    "stimuli": {"commandline"},
    "model_eval": {"stimuli", "commandline"},
    "study_server": {"stimuli", "commandline"},
    "analysis": {"stimuli", "commandline"},
    "workflow": {"stimuli", "model_eval", "study_server", "analysis", "commandline"},
}

# Modules documented as public API although they are not a package's top level.
PUBLIC_MODULES: dict[str, str] = {
    "stimuli.transforms": "the pure image manipulations (negative, gaussian_noise, psnr, ...)",
}

# Named exceptions, each with its reason: (importing package, imported module).
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("workflow", "study_server.models"): (
        "the simulator marks its participants simulated=true in the server's own database, which no "
        "participant-facing route can do"
    ),
    ("analysis", "study_server.export"): (
        "the responses export reader: `--responses` may be a database URL, read read-only through the "
        "study server's documented export function (responses_frame), which owns the secret and the "
        "participant statuses; imported only when a URL is given"
    ),
}

# Imports of other packages' internals still to be replaced by public API, by (importing package,
# module). An entry nothing needs any more fails below, so the list only shrinks.
PENDING: dict[tuple[str, str], str] = {}


def _is_package(module: str) -> bool:
    return (ROOT / Path(*module.split(".")) / "__init__.py").is_file()


def _resolve(base: str, name: str) -> str:
    """`from base import name`: the module it imports (base.name when that is a module or package)."""
    candidate = f"{base}.{name}"
    path = ROOT / Path(*candidate.split("."))
    return candidate if path.with_suffix(".py").is_file() or path.is_dir() else base


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every absolute import of a project package in one file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.lineno, _resolve(node.module, alias.name)) for alias in node.names]
    return sorted((line, m) for line, m in found if m.split(".")[0] in PACKAGES)


def violations(package: str, used: set[tuple[str, str]] | None = None) -> list[str]:
    """Every forbidden import in one package; ``used`` collects the PENDING entries it met."""
    out = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, module in imports_of(path):
            target = module.split(".")[0]
            if target == package or (package, module) in EXCEPTIONS or module in PUBLIC_MODULES:
                continue
            if (package, module) in PENDING:
                if used is not None:
                    used.add((package, module))
                continue
            where = f"{path.relative_to(ROOT)}:{line}"
            if target not in ALLOWED[package]:
                out.append(f"{where} imports {module} ({package} may not import {target})")
            elif not _is_package(module):
                out.append(f"{where} imports {module}, not a public API (a package or subpackage __init__)")
    return out


@pytest.mark.parametrize("package", PACKAGES)
def test_no_forbidden_imports(package: str) -> None:
    assert violations(package) == []


def test_pending_list_only_names_imports_that_still_exist() -> None:
    used: set[tuple[str, str]] = set()
    for package in PACKAGES:
        violations(package, used)
    assert set(PENDING) - used == set(), "remove these entries: the imports are gone"
    assert set(EXCEPTIONS) <= {
        (p, m) for p in PACKAGES for f in (ROOT / p).rglob("*.py") for _, m in imports_of(f)
    }


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The parser finds imports in functions and TYPE_CHECKING blocks, and names submodules."""
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from model_eval.checkpoint import read_checkpoint\n"
        "def f():\n    import study_server.export\n"
        "from analysis import stats\n"
    )
    assert imports_of(source) == [
        (3, "model_eval.checkpoint"),
        (5, "study_server.export"),
        (6, "analysis.stats"),
    ]
