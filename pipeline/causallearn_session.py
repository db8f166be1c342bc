"""Running causal-learn's searches: the CI-test session, one search at a time, no console output.

:class:`SearchSession` is what a search's test object
(:class:`~mesalens.pipeline.causallearn_bridge.SessionCIT`) forwards to: it
runs mesalens' test, caches and records the answers, and keeps required
pairs adjacent. :data:`CAUSALLEARN_LOCK` and :func:`quiet` wrap every call
into causal-learn: one search at a time (causal-learn's state is
process-wide), its standard output to the discovery logger, its warnings to
the run's notes, numpy's global generator seeded. Nothing here imports
causal-learn.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from mesalens.pipeline.ci_tests import IndependenceTest
from mesalens.pipeline.discovery_result import CITestRecord

__all__ = ["CAUSALLEARN_LOCK", "SearchSession", "quiet"]

# The discovery module's logger (its docstring promises it), not this module's:
# the name users configure to see causal-learn's output stays the same.
logger = logging.getLogger("mesalens.pipeline.discovery")


class SearchSession:
    """Runs, caches and records the tests of one search; keeps required pairs adjacent."""

    def __init__(
        self,
        test: IndependenceTest,
        names: Sequence[str],
        alpha: float,
        required: set[frozenset[int]],
        progress: Callable[[int, int], None] | None,
    ):
        self.test = test
        self.names = list(names)
        self.alpha = alpha
        self.required = required
        self.progress = progress
        self.records: list[CITestRecord] = []
        self.kept: dict[frozenset[int], CITestRecord] = {}
        self._answers: dict[tuple[int, int, tuple[int, ...]], float] = {}

    def __call__(self, x: int, y: int, conditioning: tuple[int, ...]) -> float:
        """Test ``x ⟂ y | conditioning`` (once), record it; return the p-value the search sees."""
        key = (x, y, conditioning)
        if key in self._answers:  # PC asks x|S and y|S for the same pair: test once
            return self._answers[key]
        statistic, p_value = self.test(x, y, conditioning)
        independent = bool(p_value > self.alpha)
        pair = frozenset((x, y))
        kept = independent and pair in self.required
        record = CITestRecord(
            x=self.names[x],
            y=self.names[y],
            conditioning_set=tuple(self.names[s] for s in conditioning),
            statistic=float(statistic),
            p_value=float(p_value),
            decision="independent" if independent else "dependent",
            test=self.test.name,
            kept_by_knowledge=kept,
        )
        self.records.append(record)
        if kept:
            self.kept.setdefault(pair, record)
        # A required pair must stay adjacent: report dependence to the search.
        answer = 0.0 if kept else float(p_value)
        self._answers[key] = answer
        if self.progress is not None:
            self.progress(len(self.records), len(conditioning))
        return answer


# causal-learn's searches use process-wide state here (the stdout redirection,
# FCI's knowledge-orientation function), so one search runs at a time.
CAUSALLEARN_LOCK = threading.Lock()


class _LogStream(io.TextIOBase):
    """A text stream that forwards complete lines to the module logger."""

    def __init__(self) -> None:
        self._buffer = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._buffer += text
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            if line.strip():
                logger.debug("causal-learn: %s", line)
        return len(text)

    def flush(self) -> None:
        if self._buffer.strip():
            logger.debug("causal-learn: %s", self._buffer)
        self._buffer = ""


@contextlib.contextmanager
def quiet(notes: list[str], seed: int) -> Iterator[None]:
    """Silence causal-learn: stdout to the logger, warnings to notes, a seeded global RNG."""
    stream = _LogStream()
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(stream):
            warnings.simplefilter("always")
            yield
        for warning in caught:
            note = f"causal-learn warned: {warning.message}"
            if note not in notes:
                notes.append(note)
    finally:
        stream.flush()
        np.random.set_state(state)
