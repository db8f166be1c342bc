"""Report sections for the evidence beyond the graph.

The structural verdict (graph, parent sets, CI tests, data) is drawn by
:mod:`mesalens.reports.html`. Each further kind of evidence a run may carry
(the direct finite-sample test, bootstrap stability, sensitivity analysis,
the latent-confounding assumptions) has its own module here that turns its
part of the run document (``result.json``) into one :class:`ReportSection`,
or ``None`` when the run has no such part. The page shows the sections in
the order of :func:`section_renderers`, between the evidence and the
provenance, each with a link in the navigation bar.

A section module renders only from the JSON document, never from live
objects, so that a report can be rebuilt from ``result.json`` alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from mesalens.reports.templating import template_environment

__all__ = ["ReportSection", "render_sections", "render_template", "section_renderers"]


@dataclass(frozen=True)
class ReportSection:
    """One card of the report: an anchor id, a title for the navigation, its HTML body."""

    id: str
    title: str
    body: Markup


SectionRenderer = Callable[[Mapping[str, Any]], "ReportSection | None"]


def render_template(name: str, context: Mapping[str, Any]) -> Markup:
    """Render ``templates/sections/NAME`` with autoescaping (data strings stay text)."""
    return Markup(template_environment().get_template(f"sections/{name}").render(dict(context)))


def section_renderers() -> tuple[SectionRenderer, ...]:
    """The section renderers in page order (a new section module adds itself here)."""
    # Imported here: the section modules import this package for ReportSection.
    renderers: list[SectionRenderer] = []
    from mesalens.reports.sections.latent import render_latent

    renderers.append(render_latent)
    from mesalens.reports.sections.bootstrap import render_bootstrap

    renderers.append(render_bootstrap)
    from mesalens.reports.sections.sensitivity import render_sensitivity

    renderers.append(render_sensitivity)
    from mesalens.reports.sections.direct_test import render_direct_test

    renderers.append(render_direct_test)
    return tuple(renderers)


def render_sections(run_document: Mapping[str, Any]) -> Sequence[ReportSection]:
    """The evidence sections of a run document, in page order (absent parts skipped)."""
    sections = []
    for renderer in section_renderers():
        section = renderer(run_document)
        if section is not None:
            sections.append(section)
    return sections
