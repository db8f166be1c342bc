"""What a run record's ``stability`` and ``direct_test`` say about its verdict, in words.

A verdict is marked *unstable* when its bootstrap share is below the
threshold and *contradicted* when the direct test rejects a structural
``all``. The job summary, the log and the index page use these tests and
words alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mesalens.reports.summary import format_share

__all__ = ["is_contradicted", "is_unstable", "stability_words"]


def is_unstable(stability: Any) -> bool:
    """Whether a run record's ``stability`` says its bootstrap found the verdict unstable."""
    return isinstance(stability, Mapping) and stability.get("stable") is False


def stability_words(stability: Mapping[str, Any]) -> str:
    """``"70% of 20 bootstrap resamples give this verdict, below the 95% threshold"``.

    Tolerant of a malformed record (an older or hand-edited ``run.json``):
    then a sentence without numbers.
    """
    share, replicates = stability.get("share"), stability.get("replicates")
    threshold = stability.get("threshold")
    numbers = (share, replicates, threshold)
    if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in numbers):
        return "bootstrap resamples do not reproduce this verdict often enough"
    agreeing = round(float(share) * int(replicates))
    return (
        f"{format_share(agreeing, int(replicates))} of {int(replicates)} bootstrap resamples "
        f"give this verdict, below the {round(float(threshold) * 100, 6):g}% threshold"
    )


def is_contradicted(direct_test: Any) -> bool:
    """Whether a run record's ``direct_test`` says the test contradicts its verdict ``all``.

    Reads the ``contradicts`` the run recorded (computed once, by
    :func:`~mesalens.reports.sections.direct_test.contradicts_all`); a record
    without the field, from before it existed, is not contradicted.
    """
    return isinstance(direct_test, Mapping) and direct_test.get("contradicts") is True
