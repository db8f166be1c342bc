"""What the ``mesalens`` commands share: exit codes, role options, one-line errors."""

from __future__ import annotations

from typing import NoReturn

import click

from mesalens.pipeline.errors import RoleError
from mesalens.pipeline.roles import Roles, parse_names, parse_policy_inputs
from mesalens.reports.atomic import atomic_write_text

__all__ = [
    "CONTEXT",
    "EXIT_BAD_INPUT",
    "BadInput",
    "build_roles",
    "fail",
    "one_line",
    "write_json",
]

EXIT_BAD_INPUT = 1

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class BadInput(Exception):
    """A failure to report on one line with exit code 1 (never escapes the CLI)."""


def one_line(message: str) -> str:
    """Fold a message onto one line."""
    return " ".join(message.split())


def build_roles(regime: str, base: str, mesa: str, decision: str, policy_inputs: str) -> Roles:
    """The :class:`Roles` from the command-line option values."""
    regimes = parse_names(regime, "regime")
    if len(regimes) != 1:
        raise RoleError(
            f"--regime {regime!r} names {len(regimes)} nodes; the regime is a single node"
        )
    return Roles(
        regime=regimes[0],
        base=parse_names(base, "base"),
        mesa=parse_names(mesa, "mesa"),
        decision=parse_names(decision, "decision"),
        policy_inputs=parse_policy_inputs(policy_inputs),
    )


def write_json(text: str, target: str) -> None:
    """Write ``text`` atomically to ``target`` (``-``: stdout)."""
    if target == "-":
        click.echo(text, nl=False)
        return
    try:
        atomic_write_text(target, text)
    except OSError as exc:
        raise BadInput(f"cannot write the JSON output {target!r}: {exc.strerror or exc}") from None


def fail(ctx: click.Context, message: str) -> NoReturn:
    """Report a bad input on one line and exit with code 1."""
    click.echo(f"mesalens: error: {one_line(message)}", err=True)
    ctx.exit(EXIT_BAD_INPUT)
