"""docs/notebook.ipynb runs in a Jupyter kernel of this environment and shows what it says.

The notebook uses both functions of the Python API (``mesalens.check_graph``
on networkx graphs, ``mesalens.run`` on logs it writes itself). It is run
with nbclient in the kernel of the interpreter that runs the tests (a cell
added at the end prints that kernel's ``sys.executable``), and the test
reads its outputs: the rich display of each result (the verdict card and
the graph), the printed attributes and the error message.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parent.parent / "docs" / "notebook.ipynb"


def _texts(cell) -> str:
    return "".join(out.get("text", "") for out in cell.outputs if out.output_type == "stream")


def _html(cell) -> str:
    return "".join(
        out["data"].get("text/html", "")
        for out in cell.outputs
        if out.output_type in ("execute_result", "display_data")
    )


@pytest.mark.slow
def test_the_notebook_runs_and_shows_the_results(tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), (
        "the notebook is kept without outputs"
    )
    notebook.cells.append(nbformat.v4.new_code_cell("import sys\nprint(sys.executable)"))
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    errors = [out for cell in code for out in cell.outputs if out.output_type == "error"]
    assert not errors, errors
    assert _texts(code[-1]).strip() == sys.executable, "the kernel is this environment's Python"

    # check_graph on a networkx DiGraph: the card, the graph, the attributes.
    card = _html(code[0])
    assert 'class="mesalens-nb"' in card and "<svg" in card
    assert 'class="pill pill-none">NONE<' in card
    assert "coin_position" in card and "<script" not in card
    printed = _texts(code[1])
    assert "verdict: none" in printed
    assert "open path: regime -> coin_position -> coin_reward" in printed
    assert "exit code: 4" in printed

    # A class of six DAGs, three of them invalid for the policy, streamed.
    wide = _texts(code[2]).splitlines()
    assert wide[0] == "verdict: all {'n_dags': 6, 'n_hold': 3, 'n_fail': 0, 'n_invalid': 3}"
    dags = [line for line in wide if line.startswith("DAG: ")]
    assert len(dags) == len(set(dags)) == 6

    # run on the logs the notebook wrote: the card and the confirmation.
    assert 'class="pill pill-all">ALL<' in _html(code[3])
    learned = _texts(code[4])
    assert "verdict: all" in learned
    assert "confirmed by the logs: True" in learned
    assert "exit code: 0" in learned
    assert "regime --> obs" in learned
    written = _texts(code[5])
    assert "report written: True" in written and "confirmation: confirmed" in written
    assert _texts(code[6]).strip() == (
        "error: alpha must be a number strictly between 0 and 1, got 2; e.g. 0.01"
    )
