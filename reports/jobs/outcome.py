r"""How a job went: each check's outcome, its run record and the job's exit code.

Pure: nothing here touches the file system. :mod:`mesalens.reports.jobs.engine`
runs the checks and writes what this module computes.

Exit code of a job (first that applies):

====  ==================================================================
code  meaning
====  ==================================================================
1     a check failed (bad input, unreadable data, internal error): its
      error is in the history, the index and the log; the other checks ran.
      Also an invalid job file (nothing runs then).
6     a check's verdict changed against its previous run with a verdict
7     a check was skipped: another run of it holds its lock ("busy")
5     the worst verdict is ``invalid``
4     the worst verdict is ``none``
3     the worst verdict is ``some``
8     the worst is an ``all`` the logs do not confirm (``all, not
      confirmed``: too few rows, or a gap not shown to be within the
      tolerance; :mod:`mesalens.pipeline.confirmation`)
0     every check ran and every verdict is an ``all`` the logs confirm
====  ==================================================================

Each run record says whether the logs confirmed an ``all``
(``confirmation`` = ``{"status", "reasons", "advice"}`` in ``run.json``,
``history.json`` and ``index.json``; a "not confirmed" marker in
``index.html``).

A check run with ``bootstrap = B`` also records whether its verdict is
stable under resampling (``stability`` in ``run.json``, ``history.json`` and
``index.json``; an "unstable" marker in ``index.html``; a warning in the
log). Stability does not change the exit code: as for a single
``mesalens run``, the code says which verdict was reached, and the marker
says how much to trust it.

A check run with the direct test (``direct_test = true``, the default) also
records whether the test contradicts a structural ``all``
(``direct_test`` = ``{"status", "reject", "contradicts"}`` in the same
three files, see :func:`direct_test_summary`; a "contradicted" marker in
``index.html``; a warning in the log and the summary). Like instability, a
contradiction does not change the exit code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mesalens.reports.jobs.layout import (
    INDEX_HTML,
    INDEX_JSON,
    LOG_FILE,
    SCHEMA_VERSION,
    PreviousRun,
    iso_now,
)
from mesalens.reports.vocabulary import (
    EXIT_CODES,
    NOT_CONFIRMED,
    RUN_EXIT_CODES,
    contradiction_alarm,
    contradiction_words,
    contradicts_all,
    gate,
    is_contradicted,
    is_unstable,
    stability_words,
)

__all__ = [
    "EXIT_BUSY",
    "EXIT_CHANGED",
    "EXIT_FAILED",
    "CheckOutcome",
    "JobsOutcome",
    "RunOutcome",
    "direct_test_summary",
    "jobs_exit_code",
    "stability_summary",
    "verdict_change_note",
]

#: Exit code: a check failed, or the job file is invalid.
EXIT_FAILED = 1
#: Exit code: a verdict changed against the previous run of its check.
EXIT_CHANGED = 6
#: Exit code: a check was skipped because another run of it is in progress.
EXIT_BUSY = 7

# Worst first, for the exit code of several checks' gates.
_GATE_ORDER = ("invalid", "none", "some", NOT_CONFIRMED, "all")


@dataclass(frozen=True)
class RunOutcome:
    """What ``run_one`` returns: the verdict of one check and its exact counts.

    Attributes
    ----------
    verdict : str
        ``all``, ``some``, ``none`` or ``invalid``.
    n_dags, n_hold, n_fail, n_invalid : int
        The counts of the check (exact integers of any size).
    notes : tuple of str
        Remarks worth logging (discovery notes, for example).
    stability : dict or None
        The verdict's stability under the bootstrap (see
        :func:`stability_summary`); None when the check ran no bootstrap.
    direct_test : dict or None
        The direct test's decision and whether it contradicts the verdict
        (see :func:`direct_test_summary`); None when the test did not run.
    confirmation : dict or None
        Whether the logs confirm an ``all`` (``status``, ``reasons``,
        ``advice``; see :mod:`mesalens.pipeline.confirmation`); None when
        the check did not decide it.
    """

    verdict: str
    n_dags: int = 0
    n_hold: int = 0
    n_fail: int = 0
    n_invalid: int = 0
    notes: tuple[str, ...] = ()
    stability: dict[str, Any] | None = None
    direct_test: dict[str, Any] | None = None
    confirmation: dict[str, Any] | None = None

    @property
    def gate(self) -> str:
        """The verdict, or ``all, not confirmed`` (exit code 8)."""
        return gate({"verdict": self.verdict, "confirmation": self.confirmation})

    @classmethod
    def from_check_result(
        cls,
        result: Any,
        notes: Sequence[str] = (),
        bootstrap: Any = None,
        direct_test: Any = None,
        confirmation: Any = None,
    ) -> RunOutcome:
        """Build from a :class:`~mesalens.pipeline.check_result.CheckResult`.

        ``bootstrap`` is the run's :class:`~mesalens.pipeline.bootstrap.BootstrapResult`,
        if it ran one; ``direct_test`` its
        :class:`~mesalens.pipeline.gap_results.DirectTestResult`, if it ran the test;
        ``confirmation`` its :class:`~mesalens.pipeline.confirmation.Confirmation`.
        """
        return cls(
            verdict=result.verdict,
            n_dags=result.n_dags,
            n_hold=result.n_hold,
            n_fail=result.n_fail,
            n_invalid=result.n_invalid,
            notes=tuple(notes),
            stability=stability_summary(bootstrap),
            direct_test=direct_test_summary(
                None if direct_test is None else direct_test.as_dict(), result.verdict
            ),
            confirmation=None
            if confirmation is None
            else {
                "status": confirmation.status,
                "reasons": list(confirmation.reasons),
                "advice": confirmation.advice,
            },
        )


def stability_summary(bootstrap: Any) -> dict[str, Any] | None:
    """The ``stability`` of a run record: the bootstrap's verdict share against its threshold.

    Parameters
    ----------
    bootstrap : BootstrapResult or None
        The run's :class:`~mesalens.pipeline.bootstrap.BootstrapResult`.

    Returns
    -------
    dict or None
        ``{"stable", "share", "threshold", "replicates"}``, the same values
        as the ``bootstrap`` part of ``result.json``; None without a bootstrap.
    """
    if bootstrap is None:
        return None
    return {
        "stable": bool(bootstrap.stable),
        "share": float(bootstrap.main_share),
        "threshold": float(bootstrap.threshold),
        "replicates": int(bootstrap.replicates),
    }


def direct_test_summary(part: Mapping[str, Any] | None, verdict: str) -> dict[str, Any] | None:
    """The ``direct_test`` of a run record: the direct test's decision against the verdict.

    Parameters
    ----------
    part : mapping or None
        The ``direct_test`` part of the run's ``result.json``.
    verdict : str
        The run's structural verdict.

    Returns
    -------
    dict or None
        ``{"status", "reject", "contradicts"}``: ``status`` ``done`` or
        ``skipped`` (the logs could not support the test) and ``reject`` as
        in ``result.json``; ``contradicts`` is
        :func:`~mesalens.reports.vocabulary.contradicts_all`, the
        rule of the report's verdict card. None without a direct test.

    Examples
    --------
    >>> direct_test_summary({"status": "done", "reject": True}, "all")
    {'status': 'done', 'reject': True, 'contradicts': True}
    >>> direct_test_summary(None, "all") is None
    True
    """
    if part is None:
        return None
    return {
        "status": str(part.get("status", "done")),
        "reject": bool(part.get("reject")),
        "contradicts": contradicts_all(verdict, part),
    }


@dataclass(frozen=True)
class CheckOutcome:
    """How one check of a job went.

    Attributes
    ----------
    name : str
        The check.
    status : str
        ``ok`` (a verdict), ``error`` (the check failed) or ``busy`` (skipped:
        another run of it holds its lock).
    message : str or None
        The error or busy message (one line).
    record : dict or None
        The run record written to ``run.json`` (None when busy).
    folder : Path or None
        The run's folder (None when busy).
    """

    name: str
    status: str
    message: str | None = None
    record: dict[str, Any] | None = None
    folder: Path | None = None

    @property
    def verdict(self) -> str | None:
        """The verdict, or None if the check produced none."""
        return None if self.record is None else self.record.get("verdict")

    @property
    def gate(self) -> str | None:
        """The verdict, or ``all, not confirmed`` when the logs did not confirm the all."""
        if self.record is None or self.record.get("verdict") is None:
            return None
        return gate(self.record)

    @property
    def confirmation(self) -> dict[str, Any] | None:
        """Whether the logs confirmed an ``all`` (status, reasons, advice), or None."""
        return None if self.record is None else self.record.get("confirmation")

    @property
    def previous_verdict(self) -> str | None:
        """The verdict of the previous run with a verdict, if any."""
        return None if self.record is None else self.record.get("previous_verdict")

    @property
    def changed(self) -> bool:
        """Whether the verdict differs from the previous run's."""
        return bool(self.record and self.record.get("changed"))

    @property
    def stability(self) -> dict[str, Any] | None:
        """The verdict's stability under the bootstrap, or None if none ran."""
        return None if self.record is None else self.record.get("stability")

    @property
    def unstable(self) -> bool:
        """Whether a bootstrap ran and found the verdict unstable."""
        return is_unstable(self.stability)

    @property
    def direct_test(self) -> dict[str, Any] | None:
        """The direct test's decision (:func:`direct_test_summary`), or None if it did not run."""
        return None if self.record is None else self.record.get("direct_test")

    @property
    def contradicted(self) -> bool:
        """Whether the direct test contradicts the structural ``all`` of this run."""
        return is_contradicted(self.direct_test)

    @property
    def contradiction_alarm(self) -> bool:
        """Whether it contradicts an ``all`` the logs do not confirm (else the gap is small)."""
        return self.record is not None and contradiction_alarm(self.record)

    @property
    def exit_code(self) -> int:
        """The exit code of this check alone (see :func:`jobs_exit_code`)."""
        return jobs_exit_code([self])


@dataclass(frozen=True)
class JobsOutcome:
    """The result of :func:`~mesalens.reports.jobs.engine.run_jobs`.

    Attributes
    ----------
    checks : tuple of CheckOutcome
        One per check, in job-file order.
    exit_code : int
        See :func:`jobs_exit_code`.
    out_dir : Path
        The output folder (``index.html``, ``index.json``, ``mesalens.log``).
    """

    checks: tuple[CheckOutcome, ...]
    exit_code: int
    out_dir: Path

    @property
    def index_html(self) -> Path:
        """``DIR/index.html``."""
        return self.out_dir / INDEX_HTML

    @property
    def index_json(self) -> Path:
        """``DIR/index.json``."""
        return self.out_dir / INDEX_JSON

    @property
    def log_file(self) -> Path:
        """``DIR/mesalens.log``."""
        return self.out_dir / LOG_FILE

    def summary_lines(self) -> list[str]:
        """One line per check and a final line with the index and exit code, for a terminal.

        A check whose direct test contradicts its ``all`` gets a ``warning:``
        line after its own, in the words of ``mesalens run``.
        """
        lines = []
        for outcome in self.checks:
            if outcome.status == "ok":
                assert outcome.record is not None
                line = f"check {outcome.name}: verdict {outcome.verdict}"
                if outcome.changed:
                    line += f" (CHANGED from {outcome.previous_verdict})"
                if outcome.unstable:
                    line += f" (UNSTABLE: {stability_words(outcome.stability)})"
                lines.append(f"{line}; {outcome.folder}")
                if outcome.contradicted:
                    kind = "warning" if outcome.contradiction_alarm else "note"
                    words = contradiction_words(outcome.record or {})
                    lines.append(f"{kind}: check {outcome.name}: {words}")
                if outcome.gate == NOT_CONFIRMED and outcome.confirmation:
                    reasons = "; ".join(outcome.confirmation.get("reasons") or [])
                    lines.append(f"check {outcome.name}: all NOT CONFIRMED by the logs: {reasons}")
            else:
                lines.append(f"check {outcome.name}: {outcome.status}: {outcome.message}")
        meaning = _exit_meaning(self.exit_code)
        failed = [o.name for o in self.checks if o.status == "error"]
        if self.exit_code == EXIT_FAILED and failed:
            meaning = f"failed: check {', check '.join(failed)}"
        lines.append(
            f"index: {self.index_html}; log: {self.log_file}; "
            f"exit code {self.exit_code} ({meaning})"
        )
        return lines


def jobs_exit_code(outcomes: Sequence[CheckOutcome]) -> int:
    """The exit code of a job: the first that applies of 1, 6, 7, 5, 4, 3, 8, 0.

    1: a check failed; 6: a verdict changed against the check's previous run;
    7: a check was busy; else the worst gate's code (``invalid`` 5, ``none``
    4, ``some`` 3, ``all, not confirmed`` 8, ``all`` 0). No checks gives 0.
    """
    if any(o.status == "error" for o in outcomes):
        return EXIT_FAILED
    if any(o.changed for o in outcomes):
        return EXIT_CHANGED
    if any(o.status == "busy" for o in outcomes):
        return EXIT_BUSY
    gates = {o.gate for o in outcomes if o.gate is not None}
    for name in _GATE_ORDER:
        if name in gates:
            return RUN_EXIT_CODES[name]
    return 0


def _exit_meaning(code: int) -> str:
    meanings = {
        EXIT_FAILED: "a check failed",
        EXIT_CHANGED: "a verdict changed",
        EXIT_BUSY: "a check was skipped: another run is in progress",
        **{value: f"worst verdict {name}" for name, value in RUN_EXIT_CODES.items()},
    }
    return meanings.get(code, "unknown")


def verdict_change_note(previous: PreviousRun | None, verdict: str) -> str | None:
    """A sentence for a report when ``verdict`` differs from the previous run's, else None."""
    if previous is None or previous.verdict == verdict:
        return None
    return (
        f"The verdict changed from {previous.verdict!r} (run {previous.run}, "
        f"finished {previous.finished}) to {verdict!r}."
    )


_STABILITY_NUMBERS = ("share", "threshold", "replicates")


def _validate_outcome(result: Any) -> None:
    if not isinstance(result, RunOutcome):
        raise TypeError(f"run_one returned {type(result).__name__}, not a RunOutcome")
    if result.verdict not in EXIT_CODES:
        raise ValueError(f"run_one returned the verdict {result.verdict!r}")
    for name in ("n_dags", "n_hold", "n_fail", "n_invalid"):
        value = getattr(result, name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"run_one returned {name}={value!r}, not an integer")
    stability = result.stability
    if stability is not None and not (
        isinstance(stability, dict)
        and isinstance(stability.get("stable"), bool)
        and all(isinstance(stability.get(key), int | float) for key in _STABILITY_NUMBERS)
    ):
        raise TypeError(f"run_one returned stability={stability!r}, not a stability_summary")
    direct = result.direct_test
    if direct is not None and not (
        isinstance(direct, dict)
        and isinstance(direct.get("status"), str)
        and isinstance(direct.get("reject"), bool)
        and isinstance(direct.get("contradicts"), bool)
    ):
        raise TypeError(f"run_one returned direct_test={direct!r}, not a direct_test_summary")


def _run_record(
    name: str,
    run_id: str,
    seq: int,
    started: str,
    duration: float,
    result: RunOutcome | None,
    error: str | None,
    previous: PreviousRun | None,
) -> dict[str, Any]:
    ok = error is None and result is not None
    verdict = result.verdict if ok and result is not None else None
    return {
        "schema_version": SCHEMA_VERSION,
        "check": name,
        "run": run_id,
        "seq": seq,
        "status": "ok" if ok else "error",
        "started": started,
        "finished": iso_now(),
        "duration_s": round(duration, 3),
        "verdict": verdict,
        "n_dags": result.n_dags if ok and result is not None else None,
        "n_hold": result.n_hold if ok and result is not None else None,
        "n_fail": result.n_fail if ok and result is not None else None,
        "n_invalid": result.n_invalid if ok and result is not None else None,
        "stability": result.stability if ok and result is not None else None,
        "direct_test": result.direct_test if ok and result is not None else None,
        "confirmation": result.confirmation if ok and result is not None else None,
        "previous_run": None if previous is None else previous.run,
        "previous_verdict": None if previous is None else previous.verdict,
        "changed": bool(ok and previous is not None and previous.verdict != verdict),
        "error": error,
    }
