"""The self-contained HTML report of a check: ``report.html``.

One file with everything inline (CSS, a few lines of JavaScript, the graph and
the plots as SVG), so that it opens from disk with no network: a Content
Security Policy in the page forbids every request and allows only its own
script (by hash). It shows, in order:

1. the verdict in one quotable sentence with the counts, the roles, the
   policy inputs, and what the verdict does and does not mean;
2. the graph (the learned one for ``run``, the restricted class for
   ``check-graph``) in a layered layout (:mod:`mesalens.reports.layout`),
   roles coloured, every edge mark drawn, a failing parent set's open path
   highlighted;
3. the parent sets of ``D_m``: DAG counts, hold/fail, open path, C1/C2 and
   where the post's conjecture disagrees with the criterion;
4. the evidence: the CI tests that decided each edge at the regime or a role
   variable, the data per regime, and per-column shifts with small plots;
5. provenance: inputs with fingerprints, settings, versions, timings, seed;

and a paged list of the DAGs of the class when it is small enough.

This module assembles the page from its cards, one builder each in
:mod:`mesalens.reports.cards` (verdict, graph, parent sets, evidence,
provenance), and the evidence sections of :mod:`mesalens.reports.sections`;
the per-regime distributions of the data and their plots live in
:mod:`mesalens.reports.distributions`, the listing of the class's DAGs in
:mod:`mesalens.reports.dag_pages`, the numbers' formatting in
:mod:`mesalens.reports.formatting` and every word about the verdict in
:mod:`mesalens.reports.vocabulary`.

Everything is rendered with Jinja2 with autoescaping from the JSON documents
(:mod:`mesalens.reports.result_json`, :mod:`mesalens.reports.run_document`),
so names and values from data or configs are text, never markup. Source
locations go through :func:`~mesalens.connectors.regime.redact_url` once more
before they are shown.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from mesalens.connectors.redaction import redact_url
from mesalens.reports.atomic import atomic_write_text
from mesalens.reports.cards.evidence import evidence_card
from mesalens.reports.cards.graph import draw_class, graph_card
from mesalens.reports.cards.parent_sets import parent_set_card
from mesalens.reports.cards.provenance import provenance
from mesalens.reports.cards.verdict import verdict_card
from mesalens.reports.dag_pages import DAG_LIST_LIMIT, DAGS_PER_PAGE, class_dags, dag_pages
from mesalens.reports.distributions import regime_distributions
from mesalens.reports.formatting import count_cell
from mesalens.reports.sections import render_sections
from mesalens.reports.sections.common import ReportSection
from mesalens.reports.templating import template_asset, template_environment
from mesalens.reports.vocabulary import SIGMA, names_text

if TYPE_CHECKING:  # the loader (dask.dataframe) is not needed to draw a report
    from mesalens.connectors.loaded import LoadedData
    from mesalens.pipeline.check_result import CheckResult

__all__ = ["render_check_report", "render_run_report", "write_report"]


# ------------------------------------------------------------------ assets
def _csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


# ------------------------------------------------------------------ render
def render_check_report(
    check_document: dict[str, Any],
    *,
    run_document: dict[str, Any] | None = None,
    distributions: dict[str, Any] | None = None,
    dags: list[Any] | None = None,
    result: CheckResult | None = None,
    sections: Sequence[ReportSection] = (),
    index_link: str | None = None,
) -> str:
    """Render the self-contained HTML report of a check (or of a run).

    Parameters
    ----------
    check_document : dict
        The check document (:func:`~mesalens.reports.result_json.check_result_to_dict`).
    run_document : dict, optional
        The run document (:func:`~mesalens.reports.run_document.run_result_to_dict`);
        with it the report shows the learned graph, the CI-test evidence, the
        data and the provenance of the run. Without it, the graph was given
        by the user and there is no data section.
    distributions : dict, optional
        From :func:`~mesalens.reports.distributions.regime_distributions`:
        per-column plots and shifts.
    dags : list of edge lists, optional
        DAGs of the class to list (``(tail, head)`` pairs); defaults to the
        document's ``dags`` when it has them. At most
        :data:`~mesalens.reports.dag_pages.DAG_LIST_LIMIT` are shown.
    result : CheckResult, optional
        The check itself, when at hand: gives the node order (isolated nodes
        included) and each parent set's witness graph for the path arrows.
    sections : sequence of ReportSection, optional
        Further evidence (:mod:`mesalens.reports.sections`), shown after the
        data and before the provenance.
    index_link : str, optional
        A relative link back to a job's index page (``../../../index.html``),
        shown in the top bar and at the verdict.

    Returns
    -------
    str
        The HTML page.
    """
    document = check_document
    run = run_document
    is_run = run is not None
    roles = document["roles"]
    if dags is None:
        dags = document.get("dags")
    source = redact_url(str(document.get("graph_source") or "the given graph"))
    drawn = draw_class(document, run, result, dags)
    table = parent_set_card(document, drawn, result)
    script = template_asset("report.js")
    style = template_asset("report.css")
    csp = (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src '{_csp_hash(script)}'; base-uri 'none'; form-action 'none'"
    )
    context = {
        "csp": csp,
        "style": Markup(style),
        "script": Markup(script),
        "is_run": is_run,
        "source": source,
        **verdict_card(document, run, source),
        **graph_card(document, run, drawn, table["highlighted_row"]),
        **table,
        "decision": names_text(roles["decision"]),
        "mesa": names_text(roles["mesa"]),
        "base": names_text(roles["base"]),
        "regime": roles["regime"],
        **evidence_card(run, roles, distributions),
        "provenance": provenance(document, run, source),
        "dags": dag_pages(document, dags) if dags is not None else None,
        "n_dags": count_cell(document["n_dags"]),
        "dag_limit": DAG_LIST_LIMIT,
        "dags_per_page": DAGS_PER_PAGE,
        "sigma": SIGMA,
        "sections": list(sections),
        "latent": bool(document.get("latent")),
        "index_link": index_link,
    }
    return template_environment().get_template("report.html.j2").render(context)


def render_run_report(
    run_document: dict[str, Any],
    result: CheckResult,
    data: LoadedData,
    *,
    index_link: str | None = None,
) -> str:
    """Render the report of a ``run``: the run document, the data's distributions, the DAGs.

    Parameters
    ----------
    run_document : dict
        From :func:`~mesalens.reports.run_document.run_result_to_dict`.
    result : CheckResult
        The check of the run (its class is listed when small enough).
    data : LoadedData
        The pooled regimes: the per-column distributions come from the
        loader's pass (role variables first;
        :func:`~mesalens.reports.distributions.regime_distributions`).
    index_link : str, optional
        The job's index page relative to the report (a run of a job file).

    Returns
    -------
    str
        The HTML page (see :func:`render_check_report`).
    """
    roles = result.roles
    distributions = regime_distributions(
        data, first=[*roles.base, *roles.mesa, *roles.decision, *(roles.policy_inputs or ())]
    )
    return render_check_report(
        run_document,
        run_document=run_document,
        distributions=distributions,
        dags=class_dags(result),
        result=result,
        sections=render_sections(run_document),
        index_link=index_link,
    )


def write_report(path: str | os.PathLike[str], html: str) -> None:
    """Write a rendered report atomically (complete or not there at all).

    Parameters
    ----------
    path : str or path-like
        The file to create or replace; its directory must exist.
    html : str
        From :func:`render_check_report`.

    Raises
    ------
    OSError
        If the file cannot be written; the target is then left as it was.
    """
    atomic_write_text(path, html)
