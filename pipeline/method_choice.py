r"""``method = "auto"``: the discovery method chosen for the data, by measured accuracy.

The searches differ in how often the verdict they lead to is right, and the
ranking depends on the data. ``mesalens simulate`` measured it per model
family (``bench/RESULTS.md``, "Exit codes in simulate"); :func:`choose_method`
applies the result to the statistics of the data at hand:

``continuous``
    Every column but the regime continuous or binary, and the regime binary
    (two regimes): **GES** with the BIC score. On the linear-Gaussian family
    it was second to BOSS (accuracy 0.89 against 0.95 over 540 runs, ahead
    of GRaSP 0.88, PC 0.70) and it meets issue 13's targets there; BOSS is
    not the default because on the demo's 300-row ``pilot`` scenario it
    orients ``layout_complexity -> value``, which opens a collider path and
    turns the documented ``all`` (exit 8) into ``none`` (bench/RESULTS.md,
    "Exit codes in simulate"). The BIC needs every discrete column to be
    binary.
``discrete``
    Every column discrete (any number of levels): **BOSS** with the BDeu
    score from the count table (:data:`DISCRETE_CHOICE`), the most accurate
    of PC, BOSS and GRaSP on the discrete family (accuracy 0.75 against
    PC's 0.56 over 540 runs; 0.92 against 0.63 at shift 0.25 and 2,000 rows
    per regime).
``mixed``
    Anything else (continuous columns beside a discrete one of three or
    more levels, or more than two regimes): **PC**, with the automatic CI
    test; GES, BOSS and GRaSP cannot score such columns here.

Three settings override the data: background knowledge (tiers, forbidden
or required edges), which only PC and FCI take, a CI test given explicitly
(``--test``), which only PC and FCI run, and a largest conditioning set
(``--max-depth``); ``auto`` is PC then.
``auto`` never picks FCI: whether a common cause went unlogged is not
something the logs' kinds tell. Ask for it (``--method fci``) when one may
have; ``mesalens simulate --family confounded`` does.

>>> from mesalens.pipeline.statistics import compute_statistics
>>> import pandas as pd
>>> frame = pd.DataFrame({"regime": [0, 1] * 50, "x": [float(i % 7) for i in range(100)]})
>>> stats = compute_statistics(frame, {"regime": "discrete", "x": "continuous"})
>>> choice = choose_method(stats, regime="regime")
>>> choice.method, choice.data
('ges', 'continuous')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mesalens.pipeline.knowledge import Knowledge
from mesalens.pipeline.statistics import CONTINUOUS, SufficientStatistics

__all__ = ["AUTO", "DISCRETE_CHOICE", "MethodChoice", "choose_method"]

#: The method name that asks for the choice.
AUTO = "auto"
#: The method ``auto`` picks for all-discrete data (measured: bench/RESULTS.md).
DISCRETE_CHOICE = "boss"
#: The method ``auto`` picks for continuous (and binary) data.
CONTINUOUS_CHOICE = "ges"
#: The method ``auto`` picks for other mixed data, and when knowledge or a test is given.
FALLBACK_CHOICE = "pc"

_WHY = "by mesalens simulate's measurements (bench/RESULTS.md)"


@dataclass(frozen=True)
class MethodChoice:
    """The method ``auto`` chose, and why.

    Attributes
    ----------
    method : str
        The chosen search (``pc``, ``ges``, ``boss`` or ``grasp``).
    data : str
        The data type it was chosen for: ``continuous``, ``discrete`` or ``mixed``.
    reason : str
        Why, in a few words (for ``Graph: learned from the logs (GES, chosen
        automatically for REASON)``).
    """

    method: str
    data: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (``discovery.settings.method_choice`` of ``result.json``)."""
        return {"asked": AUTO, "method": self.method, "data": self.data, "reason": self.reason}


def _data_type(stats: SufficientStatistics, regime: str) -> str:
    others = [c for c in stats.columns if c != regime]
    if others and all(stats.kinds[c] != CONTINUOUS for c in others):
        return "discrete"
    binary = all(stats.kinds[c] == CONTINUOUS or stats.cardinality(c) <= 2 for c in stats.columns)
    return "continuous" if binary else "mixed"


def choose_method(
    stats: SufficientStatistics,
    *,
    regime: str,
    knowledge: Knowledge | None = None,
    test: Any = "auto",
    max_depth: int = -1,
) -> MethodChoice:
    """The method for ``method="auto"`` on these statistics (see the module docstring).

    Parameters
    ----------
    stats : SufficientStatistics
        The statistics discovery will read (after constant and derived
        columns are left out).
    regime : str
        The regime column.
    knowledge : Knowledge, optional
        Background knowledge; when not empty, only PC takes it.
    test : str or IndependenceTest
        The CI test setting; anything but ``"auto"`` asks for a CI-test search.
    max_depth : int
        PC's largest conditioning set; anything but ``-1`` asks for PC.

    Returns
    -------
    MethodChoice
    """
    data = _data_type(stats, regime)
    if knowledge is not None and not knowledge.is_empty():
        return MethodChoice(
            FALLBACK_CHOICE, data, f"{data} data with background knowledge, which only PC takes"
        )
    if not (isinstance(test, str) and test == "auto"):
        return MethodChoice(
            FALLBACK_CHOICE, data, f"{data} data with a CI test given, which PC runs"
        )
    if max_depth != -1:
        return MethodChoice(
            FALLBACK_CHOICE, data, f"{data} data with a max depth given, which PC uses"
        )
    if data == "continuous":
        return MethodChoice(CONTINUOUS_CHOICE, data, f"continuous data, {_WHY}")
    if data == "discrete":
        return MethodChoice(DISCRETE_CHOICE, data, f"discrete data, {_WHY}")
    return MethodChoice(
        FALLBACK_CHOICE,
        data,
        "mixed data (a discrete column of three or more levels, or more than two regimes, "
        "beside continuous ones), which only PC and FCI can test",
    )
