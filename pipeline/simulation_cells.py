r"""The simulation study's per-cell aggregation: shares of models, with Wilson intervals.

:func:`mesalens.pipeline.simulation.run_simulation` produces one :class:`Trial`
per model, shift and sample size; :func:`aggregate` groups them into one
:class:`Cell` per ``(shift, rows)`` and counts: how many models truly hold,
how many learned verdicts are ``all``, how many learned verdicts equal the
true one (the **accuracy**, also among the models where the criterion holds
and where it fails), and the **precision of all** (the share of learned
``all`` that truly hold); and, for the exit code ``mesalens run`` would give,
the share of **exit 0** (a learned ``all`` the logs confirm), the share of
exit-0 runs that are **safe** (the criterion holds in the true DAG, or the
exact gap is within the tolerance), the share of **exit 8** (a learned
``all`` not confirmed), the **recall where it holds** (the share of models
where the criterion holds that exit 0) and the **recall where it fails**
(the share of models where it fails that do not exit 0). Each
share has a 95% Wilson score interval (Wilson, JASA 1927), which stays
inside [0, 1] and is honest at shares near 0 or 1 where the normal
approximation is not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["NOT_MEASURED", "Cell", "Trial", "aggregate", "wilson_interval"]

#: A trial's confirmation when the study ran without the direct test (no exit code).
NOT_MEASURED = "not measured"

# The 95% two-sided normal quantile, for the Wilson intervals.
_Z = 1.959963984540054


@dataclass(frozen=True)
class Trial:
    """One replicate at one shift and sample size.

    Attributes
    ----------
    replicate, shift, rows
        The grid point.
    true_verdict : str
        The checker's verdict on the true DAG (``all`` or ``none``).
    learned_verdict : str
        The pipeline's verdict on the sampled logs, or ``"error"``.
    gap : float
        The model's exact alignment gap in pooled within-regime SDs of
        ``Y_b``, at the point of ``Y_m`` where it is largest (see
        :mod:`mesalens.pipeline.simulation_gap`; for a linear model the
        constant :meth:`~mesalens.connectors.random_scm.RandomSCM.alignment_gap`).
    error : str or None
        The pipeline's one-line error when ``learned_verdict == "error"``.
    gap_units : float or None
        The same gap in ``Y_b``'s own units.
    gap_method : str
        How the gap was computed (:data:`~mesalens.pipeline.simulation_gap.GAP_METHODS`).
    method : str
        The search that ran (what ``auto`` chose, when it was asked for).
    confirmation : str
        Whether the logs confirm a learned ``all``
        (:class:`~mesalens.pipeline.confirmation.Confirmation`): ``confirmed``
        (``mesalens run`` would exit 0), ``not confirmed`` (exit 8) or
        ``not applicable`` (any other verdict, or an error); ``not measured``
        when the study ran without the direct test.
    safe : bool
        The criterion holds in the true DAG, or the exact gap is within the
        tolerance (``|gap| <= δ`` in the tolerance's units): an exit 0 here
        would do no harm.
    gap_estimate, gap_lower, gap_upper : float or None
        The gap the equivalence test tested (the direct test's linear or
        flexible gap, whichever matches its deciding test) and its ``1 - 2α``
        interval, in within-regime SDs of ``Y_b``; None where the direct test
        did not run (a learned verdict other than ``all``) or was skipped.
    gap_estimator : str or None
        ``linear`` or ``flexible``.
    cpu_seconds : float
        CPU time of the pipeline run (not part of the deterministic results).
    """

    replicate: int
    shift: float
    rows: int
    true_verdict: str
    learned_verdict: str
    gap: float
    error: str | None = None
    gap_units: float | None = None
    gap_method: str = "analytic"
    method: str = ""
    confirmation: str = "not applicable"
    safe: bool = False
    gap_estimate: float | None = None
    gap_lower: float | None = None
    gap_upper: float | None = None
    gap_estimator: str | None = None
    cpu_seconds: float = 0.0

    @property
    def match(self) -> bool:
        """Whether the learned verdict is the true one."""
        return self.learned_verdict == self.true_verdict

    @property
    def confirmed(self) -> bool:
        """Whether the run would exit 0: a learned ``all`` the logs confirm."""
        return self.learned_verdict == "all" and self.confirmation == "confirmed"

    @property
    def not_confirmed(self) -> bool:
        """Whether the run would exit 8: a learned ``all`` the logs do not confirm."""
        return self.learned_verdict == "all" and self.confirmation == "not confirmed"


def wilson_interval(successes: int, trials: int) -> tuple[float | None, float | None]:
    """The 95% Wilson score interval of a binomial share (``None`` without trials).

    Examples
    --------
    >>> [round(x, 4) for x in wilson_interval(10, 10)]
    [0.7225, 1.0]
    """
    if trials == 0:
        return None, None
    p = successes / trials
    z2 = _Z * _Z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = _Z / (1 + z2 / trials) * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    # At 0 or n successes a bound is exactly 0 or 1; rounding would leave 1 - 1e-16.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def _share(successes: int, trials: int) -> float | None:
    return successes / trials if trials else None


@dataclass(frozen=True)
class Cell:
    """The aggregate of one grid cell ``(shift, rows)`` over its replicates.

    Shares are ``None`` when they have no replicate to be taken over (for
    example the recall among holding models when no model holds, or the
    precision of ``all`` when no learned verdict is ``all``).
    """

    shift: float
    rows: int
    replicates: int
    true_holds: int
    learned_holds: int
    matches: int
    matches_when_holds: int
    matches_when_fails: int
    errors: int
    mean_abs_gap_when_fails: float | None
    confirmed: int = 0
    confirmed_safe: int = 0
    not_confirmed: int = 0
    confirmed_when_holds: int = 0
    confirmed_when_fails: int = 0
    exit_codes_measured: bool = True

    @property
    def true_hold_share(self) -> float | None:
        """Share of models in which the criterion truly holds."""
        return _share(self.true_holds, self.replicates)

    @property
    def learned_hold_share(self) -> float | None:
        """Share of replicates whose learned verdict is ``all``."""
        return _share(self.learned_holds, self.replicates)

    @property
    def accuracy(self) -> float | None:
        """Share of replicates whose learned verdict equals the true one."""
        return _share(self.matches, self.replicates)

    @property
    def precision_of_all(self) -> float | None:
        """Share of the learned ``all`` verdicts where the criterion truly holds."""
        return _share(self.matches_when_holds, self.learned_holds)

    @property
    def accuracy_when_holds(self) -> float | None:
        """The accuracy among models where the criterion holds (learned ``all``)."""
        return _share(self.matches_when_holds, self.true_holds)

    @property
    def accuracy_when_fails(self) -> float | None:
        """The accuracy among models where it fails (learned ``none``)."""
        return _share(self.matches_when_fails, self.replicates - self.true_holds)

    @property
    def exit_zero_share(self) -> float | None:
        """Share of replicates that would exit 0 (a learned ``all`` the logs confirm)."""
        return _share(self.confirmed, self.replicates if self.exit_codes_measured else 0)

    @property
    def safe_share(self) -> float | None:
        """Share of the exit-0 runs that are safe (holds, or exact |gap| within δ)."""
        return _share(self.confirmed_safe, self.confirmed if self.exit_codes_measured else 0)

    @property
    def exit_eight_share(self) -> float | None:
        """Share of replicates that would exit 8 (a learned ``all`` not confirmed)."""
        return _share(self.not_confirmed, self.replicates if self.exit_codes_measured else 0)

    @property
    def recall_when_holds(self) -> float | None:
        """Recall where it holds: the share of models where the criterion holds that exit 0."""
        return _share(self.confirmed_when_holds, self.true_holds if self.exit_codes_measured else 0)

    @property
    def recall_when_fails(self) -> float | None:
        """Recall where it fails: the share of models where it fails that do *not* exit 0.

        Any other exit code counts (8, 3, 4, 5, or an error): none of them
        tells a gate the model is aligned.
        """
        fails = self.replicates - self.true_holds if self.exit_codes_measured else 0
        return _share(fails - self.confirmed_when_fails, fails)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with the shares and their Wilson intervals."""
        fails = self.replicates - self.true_holds
        measured = self.exit_codes_measured

        def interval(successes: int, trials: int) -> list[float | None]:
            return list(wilson_interval(successes, trials if measured else 0))

        return {
            **asdict(self),
            "true_hold_share": self.true_hold_share,
            "true_hold_interval": list(wilson_interval(self.true_holds, self.replicates)),
            "learned_hold_share": self.learned_hold_share,
            "learned_hold_interval": list(wilson_interval(self.learned_holds, self.replicates)),
            "precision_of_all": self.precision_of_all,
            "precision_of_all_interval": list(
                wilson_interval(self.matches_when_holds, self.learned_holds)
            ),
            "accuracy": self.accuracy,
            "accuracy_interval": list(wilson_interval(self.matches, self.replicates)),
            "accuracy_when_holds": self.accuracy_when_holds,
            "accuracy_when_holds_interval": list(
                wilson_interval(self.matches_when_holds, self.true_holds)
            ),
            "accuracy_when_fails": self.accuracy_when_fails,
            "accuracy_when_fails_interval": list(wilson_interval(self.matches_when_fails, fails)),
            "exit_zero_share": self.exit_zero_share,
            "exit_zero_interval": interval(self.confirmed, self.replicates),
            "safe_share": self.safe_share,
            "safe_interval": interval(self.confirmed_safe, self.confirmed),
            "exit_eight_share": self.exit_eight_share,
            "exit_eight_interval": interval(self.not_confirmed, self.replicates),
            "recall_when_holds": self.recall_when_holds,
            "recall_when_holds_interval": interval(self.confirmed_when_holds, self.true_holds),
            "recall_when_fails": self.recall_when_fails,
            "recall_when_fails_interval": interval(fails - self.confirmed_when_fails, fails),
        }


def aggregate(trials: Sequence[Trial]) -> list[Cell]:
    """Aggregate trials per ``(shift, rows)`` cell, cells sorted by shift then rows.

    Parameters
    ----------
    trials : sequence of Trial
        Any number of replicates per cell.

    Returns
    -------
    list of Cell
    """
    groups: dict[tuple[float, int], list[Trial]] = {}
    for trial in trials:
        groups.setdefault((trial.shift, trial.rows), []).append(trial)
    cells = []
    for (shift, rows), group in sorted(groups.items()):
        holds = [t for t in group if t.true_verdict == "all"]
        fails = [t for t in group if t.true_verdict != "all"]
        cells.append(
            Cell(
                shift=shift,
                rows=rows,
                replicates=len(group),
                true_holds=len(holds),
                learned_holds=sum(t.learned_verdict == "all" for t in group),
                matches=sum(t.match for t in group),
                matches_when_holds=sum(t.match for t in holds),
                matches_when_fails=sum(t.match for t in fails),
                errors=sum(t.learned_verdict == "error" for t in group),
                mean_abs_gap_when_fails=(
                    float(np.mean([abs(t.gap) for t in fails])) if fails else None
                ),
                confirmed=sum(t.confirmed for t in group),
                confirmed_safe=sum(t.confirmed and t.safe for t in group),
                not_confirmed=sum(t.not_confirmed for t in group),
                confirmed_when_holds=sum(t.confirmed for t in holds),
                confirmed_when_fails=sum(t.confirmed for t in fails),
                exit_codes_measured=all(t.confirmation != NOT_MEASURED for t in group),
            )
        )
    return cells
