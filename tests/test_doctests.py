"""The examples in the modules' docstrings run, and show what they print.

Every module of the three code folders, and the package ``mesalens`` itself
with its Python API (api/), is imported as installed and its doctests are run with :mod:`doctest`; a
module whose examples fail names the example and what it printed instead.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest


def _modules() -> list[str]:
    # The package itself (api/: the Python API) and its three code folders.
    top = importlib.import_module("mesalens")
    names = [top.__name__]
    names.extend(
        info.name
        for info in pkgutil.iter_modules(top.__path__, prefix="mesalens.")
        if info.name not in ("mesalens.connectors", "mesalens.pipeline", "mesalens.reports")
    )
    for folder in ("connectors", "pipeline", "reports"):
        package = importlib.import_module(f"mesalens.{folder}")
        names.append(package.__name__)
        names.extend(
            info.name
            for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}.")
        )
    return sorted(names)


MODULES = _modules()


def test_every_code_folder_is_walked():
    # A broken walk (an empty namespace path) would make the test below vacuous.
    assert len(MODULES) > 40
    for name in (
        "mesalens.pipeline.dsep",
        "mesalens.connectors.dask_scheduler",
        "mesalens.functions",
    ):
        assert name in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    failed = 0
    for test in finder.find(module, name):
        failed += runner.run(test, out=report.append).failed
    assert failed == 0, "".join(report)
