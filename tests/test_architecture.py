"""The architecture, enforced: layers, no import cycles, modules of one job.

Data flows one way (docs/design.md):

    connectors  <-  pipeline  <-  reports (renderers)  <-  reports.checks
                <-  reports.jobs  <-  reports.cli  <-  the package itself (api/)

The folder api/ is the package ``mesalens`` itself (its ``__init__`` and the
Python API, ``mesalens.functions``): the top layer, which nothing imports.

A module may import its own layer and the layers below it, never one above.
Every import counts, module level or inside a function (a deferred import
is still a dependency); imports under ``if TYPE_CHECKING:`` do not, as they
never run. The import graph between modules has no cycle, no module of the
three code folders is over 800 lines, and none is named like a test file.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parent.parent
CODE_FOLDERS = ("connectors", "pipeline", "reports", "api")
#: The folder that is the package ``mesalens`` itself (pyproject.toml's package-dir).
PACKAGE_FOLDER = "api"
MAX_LINES = 800

# Lowest first; a module belongs to the last layer whose prefix it starts with.
LAYERS = (
    ("connectors", "mesalens.connectors"),
    ("pipeline", "mesalens.pipeline"),
    ("renderers", "mesalens.reports"),
    ("checks", "mesalens.reports.checks"),
    ("jobs", "mesalens.reports.jobs"),
    ("commands", "mesalens.reports.cli"),
    ("api", None),  # the modules of api/: mesalens, mesalens.functions
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] == PACKAGE_FOLDER:
        parts.pop(0)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["mesalens", *parts])


MODULES: dict[str, Path] = {
    _module_name(path): path
    for folder in CODE_FOLDERS
    for path in sorted((ROOT / folder).rglob("*.py"))
}


def layer_of(module: str) -> int:
    """The index in LAYERS of the layer ``module`` belongs to."""
    if module in MODULES and MODULES[module].relative_to(ROOT).parts[0] == PACKAGE_FOLDER:
        return len(LAYERS) - 1
    found = [
        i
        for i, (_, prefix) in enumerate(LAYERS)
        if prefix is not None and f"{module}.".startswith(f"{prefix}.")
    ]
    assert found, f"{module} is in no layer; add its folder to LAYERS"
    return found[-1]


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """The ids of the nodes under ``if TYPE_CHECKING:`` blocks."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                skipped.update(id(n) for n in ast.walk(child))
    return skipped


def imports_of(module: str) -> set[str]:
    """The project modules ``module`` imports (a ``from package import name`` of a
    submodule counts as that submodule)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            candidates = [target, *(f"{target}.{alias.name}" for alias in node.names)]
        else:
            continue
        # The most specific project module named by the import.
        for candidate in candidates:
            while candidate and candidate not in MODULES:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != module:
                found.add(candidate)
    return found


GRAPH = nx.DiGraph()
GRAPH.add_nodes_from(MODULES)
GRAPH.add_edges_from((m, t) for m in MODULES for t in imports_of(m))


def test_the_modules_are_found():
    # A wrong ROOT would make every check below pass vacuously.
    assert {"mesalens.connectors.loader", "mesalens.pipeline.checker"} <= set(MODULES)
    assert GRAPH.number_of_edges() > 100


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_a_layer_above_its_own(module):
    own = layer_of(module)
    upstream = sorted(t for t in GRAPH.successors(module) if layer_of(t) > own)
    assert not upstream, (
        f"{module} ({LAYERS[own][0]}) imports {upstream}, in a layer above its own; "
        "move the shared code down, or the importing code up"
    )


def test_there_are_no_import_cycles():
    cycles = [sorted(c) for c in nx.strongly_connected_components(GRAPH) if len(c) > 1]
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_are_at_most_800_lines(module):
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines; split it by job"


def test_no_code_module_is_named_like_a_test_file():
    # pytest collects `test_*.py` and `*_test.py`.
    named = [str(p) for p in MODULES.values() if re.fullmatch(r"test_.*|.*_test", p.stem)]
    assert not named, named


def test_only_the_runner_analyses_logs_in_the_reports_layer():
    """``run``, ``demo`` and the jobs share one runner: it alone calls ``analyze``."""
    callers = sorted(
        module
        for module, path in MODULES.items()
        if module.startswith("mesalens.reports")
        and any(
            isinstance(node, ast.Call) and ast.unparse(node.func).endswith("analyze")
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        )
    )
    assert callers == ["mesalens.reports.checks.runner"], callers


def test_the_layer_check_fails_on_an_upstream_import():
    # The check above must be able to fail: a pipeline module importing a renderer.
    assert layer_of("mesalens.reports.html") > layer_of("mesalens.pipeline.checker")
    assert layer_of("mesalens.reports.cli.run") == len(LAYERS) - 2
    assert layer_of("mesalens.functions") == len(LAYERS) - 1
    assert layer_of("mesalens") == len(LAYERS) - 1


def test_the_api_is_on_top_and_nothing_imports_it():
    # The package mesalens (api/) runs first on every import of mesalens.*:
    # nothing below may depend on it, and it must stay light (lazy names).
    assert {"mesalens", "mesalens.functions"} <= set(MODULES)
    importers = sorted(m for m in MODULES for t in GRAPH.successors(m) if t == "mesalens.functions")
    assert importers == [], importers
