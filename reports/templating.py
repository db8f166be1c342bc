"""The one Jinja2 environment of the reports (autoescaping: data strings stay text)."""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

__all__ = ["template_asset", "template_environment"]


@cache
def template_environment() -> Environment:
    """The environment over ``reports/templates`` (autoescape, strict undefined)."""
    return Environment(
        loader=PackageLoader("mesalens.reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def template_asset(name: str) -> str:
    """The text of a file in ``reports/templates`` (CSS, JavaScript), unrendered."""
    environment = template_environment()
    assert environment.loader is not None
    source, _filename, _uptodate = environment.loader.get_source(environment, name)
    return source
