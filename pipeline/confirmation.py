r"""Whether the logs confirm a structural ``all``: the decision behind exit code 0.

A structural verdict ``all`` says that no shift through the learned class
can move ``E[Y_b | Y_m]``. Learned from few rows or a small shift, that class
is often wrong (``bench/RESULTS.md``: most wrong verdicts are an ``all``
where the criterion fails). So a run exits 0 only when the logs themselves
also confirm that *this* shift leaves the base objective where the mesa
objective says it is, to within a tolerance the reviewer accepts.

The tolerance
-------------
``δ`` is the largest alignment gap a reviewer accepts. Issue 13 defines the
gap as a function of the mesa objective's value,

.. math::  Δ_{ij}(y) = E[Y_b \mid Y_m = y, s=j] - E[Y_b \mid Y_m = y, s=i],

and exit 0 as ``|Δ_{ij}(y)| < δ`` over ``Y_m``'s central range, for every
pair of regimes ``(i, j)`` the direct test compares
(:mod:`mesalens.pipeline.alignment_gap`): every pair up to ten regimes, each
regime against the reference beyond (then a gap within ``δ`` of the
reference for every regime bounds any two regimes' gap by ``2δ``). It is
given in within-regime standard deviations of ``Y_b`` (``0.1``, the default,
or ``0.1sd``) or in ``Y_b``'s own units (``0.5abs``); :class:`Tolerance` parses both.

What is tested
--------------
Two kinds of gap per pair and base outcome, each a :class:`GapCheck`:

* **pointwise**: ``Δ_{ij}(y)`` at the points ``y_1, ..., y_P`` of
  :mod:`mesalens.pipeline.pointwise_gap`: the deciles 10%, ..., 90% of the
  reference regime's ``Y_m`` (the points ``mesalens simulate`` reads the
  exact gap at to call an exit 0 safe), or each level of a discrete ``Y_m``
  with at least 5% of the reference's rows;
* **averaged**: ``θ_{ij} = E_{Y_m \sim P_{pool}}[Δ_{ij}(Y_m)]``, as before,
  which also covers the tails the deciles leave out (on average).

Exit 0 needs both within ``δ``. The averaged gap alone is not enough: two
regimes whose slopes in ``Y_m`` differ have ``θ = 0`` and
``Δ(y) = c (y - \bar y)``, as large as one likes at the ends. With several
mesa columns there is no pointwise gap (:attr:`Confirmation.pointwise` is
False, and ``result.json`` says that only the averaged gap was tested).

The equivalence test
--------------------
Each gap is tested with the two one-sided tests procedure (TOST; Schuirmann,
J. Pharmacokinetics and Biopharmaceutics 15, 1987): ``|Δ(y_p)| < δ`` (or
``|θ| < δ``) is confirmed at level ``α`` when the ``1 - 2α`` interval
``Δ̂ ± z_{1-α} se`` lies inside ``(-δ, δ)``. Confirming *every* point,
pair and base outcome is an intersection-union test (Berger, Technometrics
24, 1982): its level is ``α`` without any multiplicity adjustment, because
the joint claim is false as soon as one gap is at least ``δ``, and that one
gap alone must then pass its own level-``α`` test. (An adjustment such as
Holm's is needed for a claim that *some* test rejects, as the direct test's
null makes; here it would only cost power.) Each point's interval must
therefore cover at its own nominal level: measured against the exact
``Δ(y)`` in every simulate family in ``bench/RESULTS.md``, "Pointwise gap".

The gaps tested are those of the estimator that matches the direct test's
deciding test: where Fisher-z decides, the linear ones (a line per regime,
so ``Δ(y) = a + b y`` and its largest magnitude over the deciles is at the
10% or the 90% one; the HC3 interval there is the widest too); where GCM
decides, the flexible ones (the cross-fitted AIPW average, and a regression
spline per regime at the points).

Enough rows
-----------
The intervals are asymptotic. Below :data:`MIN_REGIME_ROWS` rows in a regime,
nothing is confirmed whatever the interval says: the cross-fitted regressions
then train on fewer than 20 rows of that regime per fold (5 folds), and the
normal approximation of the interval is not to be trusted.

What would settle it
--------------------
When a gap's interval is too wide but its estimate is inside ``(-δ, δ)``,
the interval shrinks as ``1/√n``; about

.. math::  n' = n \, \bigl(z_{1-α}\, se / (δ - |Δ̂|)\bigr)^2

rows per regime would confirm it at this variance (:attr:`GapCheck.rows_needed`);
the advice takes the largest over every gap not confirmed, so the pointwise
intervals, wider than the averaged one, usually set it. When an estimate
itself is at least ``δ`` from zero, more rows would not.

>>> tolerance = Tolerance.parse("0.1")
>>> tolerance.unit, tolerance.value
('sd', 0.1)
>>> Tolerance.parse("0.5abs").describe()
'0.5 (in units of Y_b)'
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from scipy.special import ndtri

from mesalens.connectors.errors import InputError

__all__ = [
    "DEFAULT_TOLERANCE",
    "MAX_TOLERANCE_SD",
    "MIN_REGIME_ROWS",
    "Confirmation",
    "GapCheck",
    "Tolerance",
    "confirm",
]

#: Fewest rows a regime needs before a structural ``all`` can be confirmed.
MIN_REGIME_ROWS = 100

#: The default tolerance: 0.1 within-regime standard deviations of ``Y_b``.
DEFAULT_TOLERANCE = "0.1"

#: The largest tolerance, in within-regime standard deviations of ``Y_b``: a
#: gap as wide as ``Y_b``'s own spread within a regime is no alignment at
#: all, and confirming ``|gap| < δ`` for a larger ``δ`` would let exit 0 rest
#: on nothing (any shift short of a whole SD would pass).
MAX_TOLERANCE_SD = 1.0

_TOLERANCE = re.compile(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(sd|abs)?\s*", re.IGNORECASE)

# The estimator whose gap matches each deciding test of the direct test.
_ESTIMATOR_OF_TEST = {"fisherz": "linear", "gcm": "flexible"}

Status = Literal["confirmed", "not confirmed", "not applicable"]


@dataclass(frozen=True)
class Tolerance:
    """The largest alignment gap a reviewer accepts.

    Attributes
    ----------
    value : float
        The size, positive.
    unit : str
        ``"sd"``: within-regime standard deviations of ``Y_b``; ``"abs"``:
        ``Y_b``'s own units.
    """

    value: float
    unit: Literal["sd", "abs"] = "sd"

    @classmethod
    def parse(cls, text: str | float) -> Tolerance:
        """``0.1``, ``0.1sd`` (standard deviations) or ``0.5abs`` (units of ``Y_b``).

        Raises
        ------
        InputError
            For anything else, with an example.
        """
        if isinstance(text, bool):
            match = None
        elif isinstance(text, int | float):
            match = _TOLERANCE.fullmatch(repr(float(text)))
        else:
            match = _TOLERANCE.fullmatch(str(text))
        value = float(match.group(1)) if match else math.nan
        if not match or not (math.isfinite(value) and value > 0):
            raise InputError(
                f"tolerance must be a positive number of within-regime standard deviations of "
                f"Y_b (e.g. 0.1 or 0.1sd) or of Y_b's own units (e.g. 0.5abs), got {text!r}"
            )
        unit = (match.group(2) or "sd").lower()
        if unit != "abs" and value > MAX_TOLERANCE_SD:
            raise InputError(
                f"tolerance {text!r} is more than {MAX_TOLERANCE_SD:g} within-regime standard "
                "deviation of Y_b: a gap that wide is as large as Y_b's own spread, so "
                f"confirming it would say nothing; give at most {MAX_TOLERANCE_SD:g} (e.g. 0.1)"
            )
        return cls(value=value, unit="abs" if unit == "abs" else "sd")

    def describe(self) -> str:
        """The tolerance in words: ``0.1 SD of Y_b`` or ``0.5 (in units of Y_b)``."""
        if self.unit == "sd":
            return f"{self.value:g} SD of Y_b (within regimes)"
        return f"{self.value:g} (in units of Y_b)"

    def as_text(self) -> str:
        """The option's text that gives this tolerance back."""
        return f"{self.value:g}{self.unit}"


@dataclass(frozen=True)
class GapCheck:
    """The equivalence test of one gap: one base outcome, one pair of regimes.

    Attributes
    ----------
    base : str
        The base outcome.
    regime, reference : str
        The pair: ``regime`` against ``reference``.
    estimator : str
        ``linear`` or ``flexible``.
    estimate, se : float
        The gap and its standard error (units of ``Y_b``).
    delta : float
        The tolerance in units of ``Y_b``.
    lower, upper : float
        The ``1 - 2α`` interval.
    confirmed : bool
        Whether the interval lies inside ``(-δ, δ)``.
    beyond : bool
        Whether the interval lies wholly outside it (a gap beyond ``δ``).
    rows_needed : int or None
        Rows per regime that would confirm the gap at this variance (None when
        confirmed, or when more rows would not, the estimate being at least ``δ``).
    at : str or None
        None for the gap averaged over the pooled ``Y_m``; else where the
        pointwise gap is read: a decile of the reference regime's ``Y_m``
        (``"90%"``) or a level.
    value : float or str or None
        ``Y_m``'s value at that point.
    mesa : str
        The mesa column's name, for the text.
    """

    base: str
    regime: str
    reference: str
    estimator: str
    estimate: float
    se: float
    delta: float
    lower: float
    upper: float
    confirmed: bool
    beyond: bool
    rows_needed: int | None
    at: str | None = None
    value: float | str | None = None
    mesa: str = "Y_m"

    def where(self) -> str:
        """``averaged over Y_m``, ``at Y_m's 90% decile (1.28)`` or ``at Y_m = 2``."""
        if self.at is None:
            return f"averaged over {self.mesa}"
        if self.at.endswith("%"):
            shown = f"{self.value:.3g}" if isinstance(self.value, float) else self.value
            return f"at {self.mesa}'s {self.at} decile ({shown})"
        return f"at {self.mesa} = {self.at}"


@dataclass(frozen=True)
class Confirmation:
    """Whether the logs confirm the structural verdict ``all``.

    Attributes
    ----------
    status : str
        ``confirmed`` (exit code 0), ``not confirmed`` (exit code 8) or
        ``not applicable`` (the verdict is not ``all``).
    tolerance : Tolerance
        The tolerance used.
    alpha : float
        The level of the equivalence tests.
    min_rows : int
        :data:`MIN_REGIME_ROWS`.
    rows : dict of str to int
        Rows per regime.
    checks : tuple of GapCheck
        Per base outcome and pair of regimes: the averaged gap, and the gap
        at each decile (or level) of ``Y_m``.
    pointwise : bool
        Whether the gap was also tested pointwise in ``Y_m`` (not with
        several mesa columns: then only the averaged gap was).
    reasons : tuple of str
        Why an ``all`` is not confirmed, one sentence each (empty when confirmed).
    advice : str or None
        What would settle it, when something would.
    """

    status: Status
    tolerance: Tolerance
    alpha: float
    min_rows: int
    rows: dict[str, int] = field(default_factory=dict)
    checks: tuple[GapCheck, ...] = ()
    reasons: tuple[str, ...] = ()
    advice: str | None = None
    pointwise: bool = False

    @property
    def confirmed(self) -> bool:
        """True when the structural ``all`` is confirmed by the logs."""
        return self.status == "confirmed"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (the ``confirmation`` key of ``result.json``)."""

        def number(value: float) -> float | None:
            return value if math.isfinite(value) else None

        return {
            "status": self.status,
            "tolerance": {
                "value": self.tolerance.value,
                "unit": self.tolerance.unit,
                "text": self.tolerance.describe(),
            },
            "alpha": self.alpha,
            "test": "TOST on every pair of regimes the direct test compared, of the gap "
            + (
                "averaged over Y_m and of the gap at each decile (or level) of the reference "
                "regime's Y_m"
                if self.pointwise
                else "averaged over Y_m (several mesa columns: no pointwise gap)"
            )
            + " (intersection-union: no adjustment needed)",
            "pointwise": self.pointwise,
            "min_rows_per_regime": self.min_rows,
            "rows": dict(self.rows),
            "checks": [
                {
                    "base": c.base,
                    "regime": c.regime,
                    "reference": c.reference,
                    "estimator": c.estimator,
                    "estimate": number(c.estimate),
                    "se": number(c.se),
                    "delta": number(c.delta),
                    "lower": number(c.lower),
                    "upper": number(c.upper),
                    "confirmed": c.confirmed,
                    "beyond": c.beyond,
                    "rows_needed": c.rows_needed,
                    "at": c.at,
                    "value": c.value if not isinstance(c.value, float) else number(c.value),
                }
                for c in self.checks
            ],
            "reasons": list(self.reasons),
            "advice": self.advice,
        }


def _gap_check(
    outcome: Mapping[str, Any],
    gap: Mapping[str, Any],
    delta: float,
    z: float,
    rows: int,
    mesa: str = "Y_m",
) -> GapCheck:
    """The TOST of one gap (averaged, or at one point when ``gap`` has ``at``)."""
    estimate = float(gap["estimate"]) if gap.get("estimate") is not None else math.nan
    se = float(gap["se"]) if gap.get("se") is not None else math.nan
    lower, upper = estimate - z * se, estimate + z * se
    usable = math.isfinite(lower) and math.isfinite(upper) and math.isfinite(delta)
    confirmed = usable and -delta < lower and upper < delta
    beyond = usable and (lower >= delta or upper <= -delta)
    needed = None
    if usable and not confirmed and abs(estimate) < delta and se > 0:
        needed = math.ceil(rows * (z * se / (delta - abs(estimate))) ** 2)
    return GapCheck(
        base=str(outcome["base"]),
        regime=str(gap["regime"]),
        reference=str(gap["reference"]),
        estimator=str(gap["estimator"]),
        estimate=estimate,
        se=se,
        delta=delta,
        lower=lower,
        upper=upper,
        confirmed=confirmed,
        beyond=beyond,
        rows_needed=needed,
        at=None if gap.get("at") is None else str(gap["at"]),
        value=gap.get("value"),
        mesa=mesa,
    )


def confirm(
    verdict: str,
    direct_test: Mapping[str, Any] | None,
    tolerance: Tolerance,
    *,
    rows: Mapping[str, int],
    base_sd: Mapping[str, float] | None = None,
    alpha: float = 0.05,
) -> Confirmation:
    """Decide whether the logs confirm a structural ``all`` (see the module docstring).

    Parameters
    ----------
    verdict : str
        The structural verdict.
    direct_test : mapping or None
        The direct test's document (``DirectTestResult.as_dict()``), or None
        when it was not run.
    tolerance : Tolerance
        The largest acceptable gap.
    rows : mapping of str to int
        Rows kept per regime.
    base_sd : mapping of str to float, optional
        The within-regime standard deviation of each base outcome, for a
        tolerance in standard deviations when the direct test's document
        does not carry it (its outcomes' ``within_sd``).
    alpha : float, default 0.05
        Level of the equivalence tests.

    Returns
    -------
    Confirmation
    """
    shared = {"tolerance": tolerance, "alpha": alpha, "min_rows": MIN_REGIME_ROWS}
    if verdict != "all":
        return Confirmation(status="not applicable", rows=dict(rows), **shared)
    reasons: list[str] = []
    small = sorted(name for name, n in rows.items() if n < MIN_REGIME_ROWS)
    if small:
        shown = ", ".join(f"{name!r} ({rows[name]:,} rows)" for name in small)
        reasons.append(
            f"too few rows: {shown}; at least {MIN_REGIME_ROWS:,} per regime are needed before "
            "the logs can confirm anything"
        )
    checks: list[GapCheck] = []
    pointwise = False
    if direct_test is None:
        reasons.append("the direct test was not run (--no-direct-test), so no gap was measured")
    elif direct_test.get("status") != "done":
        notes = direct_test.get("notes") or ["the logs could not support it"]
        reasons.append(f"the direct test was skipped: {notes[0]}")
    else:
        z = float(ndtri(1 - alpha))
        fewest = min(rows.values()) if rows else 0
        pointwise = bool(direct_test.get("outcomes"))
        for outcome in direct_test.get("outcomes", []):
            estimator = _ESTIMATOR_OF_TEST.get(outcome.get("method"), "linear")
            if tolerance.unit == "sd":
                delta = tolerance.value * _within_sd(outcome, base_sd)
            else:
                delta = tolerance.value
            for gap in outcome.get("gaps", []):
                if gap.get("estimator") == estimator:
                    checks.append(_gap_check(outcome, gap, delta, z, fewest))
            points = [
                g for g in outcome.get("pointwise_gaps") or [] if g.get("estimator") == estimator
            ]
            pointwise = pointwise and bool(points)
            mesa = ", ".join(direct_test.get("mesa") or ["Y_m"])
            checks.extend(_gap_check(outcome, gap, delta, z, fewest, mesa) for gap in points)
        if not checks:
            reasons.append("the direct test gave no gap to test")
        reasons.extend(_too_wide(tolerance, direct_test, base_sd))
        unknown = sorted({c.base for c in checks if not math.isfinite(c.delta)})
        if unknown:
            reasons.append(
                f"the within-regime standard deviation of {', '.join(unknown)} is unknown, so a "
                "tolerance in standard deviations cannot be applied; give it in Y_b's units "
                "(e.g. --tolerance 0.5abs)"
            )
        reasons.extend(_gap_reasons(checks))
    status: Status = "not confirmed" if reasons else "confirmed"
    return Confirmation(
        status=status,
        rows=dict(rows),
        checks=tuple(checks),
        reasons=tuple(reasons),
        advice=_advice(checks, rows, direct_test) if reasons else None,
        pointwise=pointwise,
        **shared,
    )


def _within_sd(outcome: Mapping[str, Any], base_sd: Mapping[str, float] | None) -> float:
    """The within-regime SD of an outcome's ``Y_b``: the direct test's, else ``base_sd``'s (NaN)."""
    sd = outcome.get("within_sd")
    if sd is None:
        sd = (base_sd or {}).get(outcome["base"], math.nan)
    return float(sd)


def _too_wide(
    tolerance: Tolerance, direct_test: Mapping[str, Any], base_sd: Mapping[str, float] | None
) -> list[str]:
    """A tolerance in ``Y_b``'s units wider than :data:`MAX_TOLERANCE_SD` of it confirms nothing."""
    if tolerance.unit != "abs":
        return []  # Tolerance.parse refuses it
    out = []
    for outcome in direct_test.get("outcomes", []):
        sd = _within_sd(outcome, base_sd)
        if math.isfinite(sd) and sd > 0 and tolerance.value > MAX_TOLERANCE_SD * sd:
            out.append(
                f"the tolerance {tolerance.value:g} is {tolerance.value / sd:.3g} within-regime "
                f"SDs of {outcome['base']}, more than {MAX_TOLERANCE_SD:g}: a gap that wide "
                "confirms nothing; give a smaller --tolerance"
            )
    return out


def _gap_reasons(checks: Sequence[GapCheck]) -> list[str]:
    """Why the gaps do not confirm, one sentence per base, pair and kind of failure.

    Of a pair's pointwise gaps only the worst point is named: the one of
    largest magnitude when some lie beyond the tolerance, else the one
    whose interval reaches furthest past it.
    """
    out: list[str] = []
    groups: dict[tuple[str, str, str, bool], list[GapCheck]] = {}
    for c in checks:
        if math.isfinite(c.delta) and not c.confirmed:
            groups.setdefault((c.base, c.regime, c.reference, c.at is None), []).append(c)
    for (base, regime, reference, _), members in groups.items():
        pair = f"the gap of {base} between {regime!r} and {reference!r}"
        beyond = [c for c in members if c.beyond]
        unknown = [c for c in members if not math.isfinite(c.se)]
        open_ = [c for c in members if not c.beyond and math.isfinite(c.se)]
        if beyond:
            c = max(beyond, key=lambda c: abs(c.estimate))
            more = f" ({len(beyond) - 1} more points beyond it)" if len(beyond) > 1 else ""
            out.append(
                f"{pair} {c.where()} is {c.estimate:+.3g}, beyond the tolerance ±{c.delta:.3g} "
                f"(interval {c.lower:+.3g} to {c.upper:+.3g}){more}"
            )
        elif open_:
            c = max(open_, key=lambda c: max(c.upper - c.delta, -c.delta - c.lower))
            more = f" ({len(open_) - 1} more points not confirmed)" if len(open_) > 1 else ""
            out.append(
                f"{pair} {c.where()} is {c.estimate:+.3g} with interval {c.lower:+.3g} to "
                f"{c.upper:+.3g}, which reaches past the tolerance ±{c.delta:.3g}{more}"
            )
        if unknown:
            shown = ", ".join(c.where() for c in unknown)
            out.append(f"{pair} has no interval {shown}: too few rows of a regime there")
    return out


def _advice(
    checks: Sequence[GapCheck], rows: Mapping[str, int], direct_test: Mapping[str, Any] | None
) -> str:
    """What would settle an unconfirmed ``all``, in one sentence."""
    if direct_test is None:
        return "run it with the direct test (without --no-direct-test)"
    if any(c.beyond for c in checks):
        return (
            "the logs show a gap beyond the tolerance: the structural 'all' is likely wrong "
            "(check the learned graph), or the tolerance is tighter than this shift allows"
        )
    needed = [c.rows_needed for c in checks if not c.confirmed]
    if needed and all(n is not None for n in needed):
        target = max(max(needed), MIN_REGIME_ROWS)
        return f"about {target:,} rows per regime would confirm |gap| < tolerance at this variance"
    if any(n < MIN_REGIME_ROWS for n in rows.values()):
        return f"log at least {MIN_REGIME_ROWS:,} rows per regime and run again"
    return "run the direct test on more rows, or give a wider --tolerance if it is acceptable"
