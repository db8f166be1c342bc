"""A check's verdict card and graph as an HTML fragment, for a notebook's output cell.

The result objects of the Python API (:mod:`mesalens.reports.checks.results`)
show themselves in Jupyter through ``_repr_html_``, which returns
:func:`render_notebook_html`: the report's verdict card and graph card
(:mod:`mesalens.reports.cards`), built from the same documents and with the
same words, in a ``<div class="mesalens-nb">`` that carries the report's
stylesheet with every rule scoped to that ``div`` (:func:`scoped_css`), so the
notebook's own styles are left alone. The fragment has no script; the
parent-set table, the evidence and the provenance are in the full report
(``write_report``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from mesalens.connectors.redaction import redact_url
from mesalens.reports.cards.graph import draw_class, graph_card
from mesalens.reports.cards.verdict import verdict_card
from mesalens.reports.templating import template_asset, template_environment
from mesalens.reports.vocabulary import path_text

if TYPE_CHECKING:
    from mesalens.pipeline.check_result import CheckResult

__all__ = ["SCOPE", "render_notebook_html", "scoped_css"]

#: The class of the fragment's outer ``div``; every style rule is scoped to it.
SCOPE = ".mesalens-nb"

# The graph caption's pointer to the report's parent-set table.
_TABLE_HINT = " Choose another parent set's path in the table below."

# Extra rules of the fragment: its titles, and no page margins around the cards.
_NOTEBOOK_CSS = """
.nb-title { font-size: 1.15rem; font-weight: 700; margin: 0; }
.card { margin: 0 0 12px; }
"""


def _scope_selector(selector: str, scope: str) -> str:
    selector = selector.strip()
    if selector in (":root", "html", "body"):
        return scope
    return f"{scope} {selector}"


def scoped_css(css: str, scope: str = SCOPE) -> str:
    r"""``css`` with every selector scoped to ``scope`` (``:root``, ``html``, ``body`` become it).

    Rules inside ``@media`` blocks are scoped too; comments are dropped.

    >>> scoped_css(":root { --ink: #000; } .pill, td { color: red; }", ".x")
    '.x { --ink: #000; }\n.x .pill, .x td { color: red; }'
    >>> print(scoped_css("@media print { .card { margin: 0; } }", ".x"))
    @media print {
    .x .card { margin: 0; }
    }
    """
    out: list[str] = []
    text = _without_comments(css)
    i = 0
    while i < len(text):
        brace = text.find("{", i)
        if brace < 0:
            break
        head = text[i:brace].strip()
        end = _matching_brace(text, brace)
        body = text[brace + 1 : end]
        if head.startswith("@"):
            out.append(f"{head} {{\n{scoped_css(body, scope)}\n}}")
        else:
            selectors = ", ".join(_scope_selector(s, scope) for s in head.split(","))
            out.append(f"{selectors} {{ {body.strip()} }}")
        i = end + 1
    return "\n".join(out)


def _without_comments(css: str) -> str:
    parts = []
    i = 0
    while True:
        start = css.find("/*", i)
        if start < 0:
            parts.append(css[i:])
            return "".join(parts)
        parts.append(css[i:start])
        end = css.find("*/", start + 2)
        i = len(css) if end < 0 else end + 2


def _matching_brace(text: str, opening: int) -> int:
    depth = 0
    for j in range(opening, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(text)


def render_notebook_html(
    document: Mapping[str, Any],
    *,
    run: Mapping[str, Any] | None = None,
    result: CheckResult | None = None,
    exit_code: int,
    gate: str,
) -> str:
    """The verdict card and the graph of a check (or of a run) as one HTML fragment.

    Parameters
    ----------
    document : mapping
        The check's result document (for a run: the run document).
    run : mapping, optional
        The run document, for a run: the learned graph, the confirmation,
        the evidence warnings.
    result : CheckResult, optional
        The check itself: the node order and each witness's G_sigma.
    exit_code : int
        The command line's exit code for this result.
    gate : str
        What the exit code stands for (the verdict, or ``all, not confirmed``).

    Returns
    -------
    str
        A ``<div>`` with its own scoped ``<style>``; names from the data are escaped.
    """
    source = redact_url(str(document.get("graph_source") or "the given graph"))
    drawn = draw_class(document, run, result, document.get("dags"))
    fail = (document.get("witnesses") or {}).get("fail") or {}
    fail_path = fail.get("open_path")
    graph = graph_card(document, run, drawn, None)
    # The fragment has no parent-set table to choose another path from.
    graph["graph_caption"] = graph["graph_caption"].replace(_TABLE_HINT, "")
    context = {
        "style": Markup(scoped_css(template_asset("report.css") + _NOTEBOOK_CSS)),
        "is_run": run is not None,
        **verdict_card(document, run, source),
        **graph,
        "open_path": path_text(fail_path, fail.get("sigma_graph")) if fail_path else None,
        "exit_code": exit_code,
        "gate": gate,
    }
    return template_environment().get_template("notebook.html.j2").render(context)
