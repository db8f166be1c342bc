"""What every report section shares: the section type and its template rendering.

Each section module (:mod:`mesalens.reports.sections`) builds one
:class:`ReportSection` with :func:`render_template`; they import both from
here, never from the package, so that the package can list them without an
import cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from mesalens.reports.templating import template_environment

__all__ = ["ReportSection", "SectionRenderer", "render_template"]


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
