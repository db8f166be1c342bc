"""Report sections for the evidence beyond the graph.

The structural verdict (graph, parent sets, CI tests, data) is drawn by
:mod:`mesalens.reports.html`. Each further kind of evidence a run may carry
(the deterministic relations among the columns, the direct finite-sample
test, bootstrap stability, sensitivity analysis, the latent-confounding
assumptions) has its own module here that turns its
part of the run document (``result.json``) into one
:class:`~mesalens.reports.sections.common.ReportSection`, or ``None`` when
the run has no such part. The page shows the sections in the order of
:func:`section_renderers`, between the evidence and the provenance, each
with a link in the navigation bar.

A section module renders only from the JSON document, never from live
objects, so that a report can be rebuilt from ``result.json`` alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mesalens.reports.sections.advice import render_advice
from mesalens.reports.sections.alignment_gap import render_direct_test
from mesalens.reports.sections.bootstrap import render_bootstrap
from mesalens.reports.sections.common import ReportSection, SectionRenderer
from mesalens.reports.sections.deterministic import render_deterministic
from mesalens.reports.sections.latent import render_latent
from mesalens.reports.sections.sensitivity import render_sensitivity

__all__ = ["render_sections", "section_renderers"]


def section_renderers() -> tuple[SectionRenderer, ...]:
    """The section renderers in page order (a new section module adds itself here)."""
    return (
        render_advice,
        render_deterministic,
        render_latent,
        render_bootstrap,
        render_sensitivity,
        render_direct_test,
    )


def render_sections(run_document: Mapping[str, Any]) -> Sequence[ReportSection]:
    """The evidence sections of a run document, in page order (absent parts skipped)."""
    sections = []
    for renderer in section_renderers():
        section = renderer(run_document)
        if section is not None:
            sections.append(section)
    return sections
