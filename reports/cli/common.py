"""What the ``mesalens`` commands share: exit codes, click settings, one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import click

from mesalens.connectors.atomic import atomic_write_text
from mesalens.connectors.errors import InputError, MesalensError, one_line
from mesalens.connectors.redaction import scrub_secrets

__all__ = [
    "CONTEXT",
    "EXIT_BAD_INPUT",
    "errors_as_one_line",
    "fail",
    "write_json",
]

EXIT_BAD_INPUT = 1

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def write_json(text: str, target: str) -> None:
    """Write ``text`` atomically to ``target`` (``-``: stdout)."""
    if target == "-":
        click.echo(text, nl=False)
        return
    try:
        atomic_write_text(target, text)
    except OSError as exc:
        raise InputError(
            f"cannot write the JSON output {target!r}: {exc.strerror or exc}"
        ) from None


def fail(ctx: click.Context, message: str) -> NoReturn:
    """Report a bad input on one line (no secret of a location in it) and exit with code 1."""
    click.echo(f"mesalens: error: {scrub_secrets(one_line(message))}", err=True)
    ctx.exit(EXIT_BAD_INPUT)


@contextmanager
def errors_as_one_line(ctx: click.Context) -> Iterator[None]:
    """Turn mesalens' own errors and file-system failures into one error line and exit 1.

    Errors mesalens raises on purpose (:class:`MesalensError`) carry a
    message that names the problem; an :class:`OSError` is shown with its
    reason and file. Any other exception is a bug and keeps its traceback.
    """
    try:
        yield
    except MesalensError as exc:
        fail(ctx, str(exc))
    except OSError as exc:
        fail(ctx, f"{exc.strerror or exc}" + (f": {exc.filename!r}" if exc.filename else ""))
