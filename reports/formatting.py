"""How the reports write numbers: one home for every formatter they share.

The terminal summary (:mod:`mesalens.reports.summary`), the page assembly
(:mod:`mesalens.reports.html`) and the per-regime distributions
(:mod:`mesalens.reports.distributions`) show the same kinds of values, so
they format them here, alike: a count has thousands separators (rounded past
15 digits), a share never rounds a nonzero part to 0% or 100%, a missing or
non-finite value is an en dash, a p-value that underflowed to zero reads
``< 1e-16``, a signed shift carries a true minus sign, and a DAG count too
large to read is shown rounded with its exact digits kept for a tooltip. The
report's sections (direct test, sensitivity) and the job index use the same
formatters.

>>> format_estimate(0.012345), format_estimate(-2.5e-7, 2), format_estimate(0.0)
('+0.0123', '-2.5e-07', '0')
>>> format_estimate(float("nan")), format_estimate(0.5, signed=False)
('–', '0.5')
>>> format_p_value(0.0), format_p_value(3e-20), format_p_value(0.04321)
('< 1e-16', '< 1e-16', '0.0432')
>>> format_signed(-0.5) == MINUS + "0.50"
True
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

__all__ = [
    "MINUS",
    "count_cell",
    "exact_digits",
    "format_bytes",
    "format_count",
    "format_estimate",
    "format_number",
    "format_p_value",
    "format_share",
    "format_signed",
]

# Written as an escape because ruff flags the character as confusable.
MINUS = "\u2212"


def exact_digits(n: int) -> str:
    """An integer's exact decimal digits, past the int-to-str limit too."""
    try:
        return str(n)
    except ValueError:
        return str(Decimal(n))


def format_count(n: int) -> str:
    """Format a count exactly with thousands separators, or approximately when huge.

    Counts of DAGs can have hundreds of digits; past 15 digits the terminal
    shows ``≈1.23e+40`` and the JSON output keeps the exact value.
    """
    if n < 10**15:
        return f"{n:,}"
    # Decimal, unlike float, neither overflows past 1e308 nor hits the
    # int-to-str digit limit.
    return f"≈{Decimal(n):.3e}"


def format_share(part: int, whole: int) -> str:
    """``part / whole`` as a percentage that never rounds a nonzero share to 0% or 100%."""
    if whole == 0:
        return "n/a"
    if part == 0:
        return "0%"
    if part == whole:
        return "100%"
    percent = float(Fraction(100 * part, whole))
    if percent < 0.1:
        return "<0.1%"
    if percent > 99.9:
        return ">99.9%"
    text = f"{percent:.1f}".removesuffix(".0")
    return f"{text}%"


def format_number(value: Any, digits: int = 3) -> str:
    """``value`` to ``digits`` significant digits; an en dash when missing or not finite."""
    if value is None:
        return "–"
    if isinstance(value, float) and not math.isfinite(value):
        return "–"
    return f"{value:.{digits}g}"


def format_estimate(value: float | None, digits: int = 3, *, signed: bool = True) -> str:
    """An estimate (an effect, a gap, a bound) with its sign; exactly ``0`` when it is zero.

    A zero is written ``0``, not ``+0``: the sensitivity analysis makes a gap
    exactly zero where the criterion holds structurally, and the table should
    say so plainly.
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if not value:
        return "0"
    return f"{value:+.{digits}g}" if signed else f"{value:.{digits}g}"


def format_p_value(value: float | None) -> str:
    """A p-value to three significant digits; ``< 1e-16`` below what a double resolves near 1."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if value < 1e-16:
        return "< 1e-16"
    return f"{value:.3g}"


def format_bytes(size: Any) -> str:
    """A size in bytes in the largest unit below 1024 of it (up to GB)."""
    if not isinstance(size, int):
        return "–"
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size}"  # pragma: no cover


def format_signed(value: float | None) -> str:
    """A shift to two decimals with its sign (a true minus sign); an en dash when missing."""
    return "–" if value is None else f"{value:+.2f}".replace("-", MINUS)


def count_cell(n: int) -> dict[str, str]:
    """A count for display (approximate when huge) with its exact value for a tooltip."""
    return {"text": format_count(n), "exact": exact_digits(n)}
