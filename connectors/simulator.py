"""A built-in simulator of agent logs with a known causal graph, for the demo and tests.

Each scenario is a small linear-Gaussian structural causal model of an agent
logged in two regimes, ``train`` and ``deploy``. A row is one logged level
(or evaluation batch): what the environment presented, the agent's value
estimate (its mesa objective's proxy), its decision, what happened, and the
true reward (the base objective). The regime enters every model as a 0/1
indicator (0 in ``train``, 1 in ``deploy``) through mean shifts; the frames
that :func:`simulate` returns do **not** contain it: as with real logs, the
regime is which file a row sits in, and the loader adds the column.

Because the ground truth is known, every scenario also says what the answer
should be: :func:`scenario_truth` gives its DAG over the columns plus the
node ``"regime"`` (as plain names and ``(u, v)`` edges: connectors never
import ``mesalens.pipeline``, so turning it into a ``CausalGraph`` is the
caller's business) and the roles of the check as a plain dict.

The effects are strong and the noise independent, so PC with Fisher-z
partial-correlation tests at ``alpha = 0.01`` recovers each scenario's class
from 20,000 pooled rows (see ``tests/test_simulator.py``).

=============  ============================================================  =======
scenario       what goes on                                                  verdict
=============  ============================================================  =======
``aligned``    the shift reaches the reward only through the value head      all
``coinrun``    the shift moves the coin, which the value head ignores        none
``deceptive``  the policy reads a cue that reveals deployment                none
``collider``   the spec's counterexample: C1 and C2 hold, criterion fails    none
=============  ============================================================  =======

Examples
--------
>>> frames = simulate("coinrun", rows=1000, seed=1)
>>> sorted(frames), len(frames["train"]), len(frames["deploy"])
(['deploy', 'train'], 500, 500)
>>> nodes, edges, roles = scenario_truth("coinrun")
>>> ("regime", "coin_position") in edges, roles["base"]
(True, ['coin_reward'])
"""

from __future__ import annotations

import copy
import os
import re
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from mesalens.connectors.errors import InputError
from mesalens.connectors.regime import DEFAULT_REGIME_NAME

__all__ = [
    "MIN_ROWS",
    "REGIME_NODE",
    "SCENARIOS",
    "Mechanism",
    "Scenario",
    "scenario_names",
    "scenario_truth",
    "simulate",
    "write_frames",
    "write_logs",
]

#: The name of the regime node in every scenario's true graph and roles.
REGIME_NODE = DEFAULT_REGIME_NAME

#: Fewest rows :func:`simulate` accepts (both regimes together).
MIN_ROWS = 100

_SHARD_NAME = re.compile(r"part-\d{3,}\.parquet")


@dataclass(frozen=True)
class Mechanism:
    """One structural equation: ``column = intercept + Σ weight·parent + noise·ε``.

    ``ε`` is standard normal and independent of everything else. A parent is
    an earlier column of the scenario or :data:`REGIME_NODE` (0 in the first
    regime, 1 in the second).
    """

    column: str
    intercept: float
    weights: tuple[tuple[str, float], ...]
    noise: float


@dataclass(frozen=True)
class Scenario:
    """A structural causal model of agent logs with its ground truth.

    Attributes
    ----------
    name : str
        The scenario's name, a key of :data:`SCENARIOS`.
    description : str
        One paragraph for a reviewer: the story, the graph and the expected verdict.
    mechanisms : tuple of Mechanism
        The structural equations, in causal order (parents first).
    roles : mapping
        ``regime`` (str), ``base``, ``mesa``, ``decision`` (lists of columns)
        and ``policy_inputs`` (a list of nodes, or ``"keep"``).
    expected_verdict : str
        What the checker says on the true DAG: ``"all"`` or ``"none"``.
    regimes : tuple of str
        The regime labels, coded 0 and 1 in that order.
    max_rows : int or None
        At most this many rows are simulated, whatever is asked (a scenario
        about logs too few to confirm a verdict).
    """

    name: str
    description: str
    mechanisms: tuple[Mechanism, ...]
    roles: Mapping[str, Any]
    expected_verdict: str
    regimes: tuple[str, str] = ("train", "deploy")
    max_rows: int | None = None
    _columns: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        known = {REGIME_NODE}
        for mechanism in self.mechanisms:
            for parent, weight in mechanism.weights:
                if parent not in known:
                    raise ValueError(
                        f"scenario {self.name!r}: {mechanism.column!r} depends on {parent!r}, "
                        "which is not an earlier column"
                    )
                if weight == 0:
                    raise ValueError(
                        f"scenario {self.name!r}: the weight of {parent!r} in "
                        f"{mechanism.column!r} is zero; drop the edge instead"
                    )
            if mechanism.column in known:
                raise ValueError(f"scenario {self.name!r}: {mechanism.column!r} is defined twice")
            known.add(mechanism.column)
        object.__setattr__(self, "_columns", tuple(m.column for m in self.mechanisms))

    @property
    def columns(self) -> list[str]:
        """The logged columns, in causal order (the regime is not one of them)."""
        return list(self._columns)

    @property
    def nodes(self) -> list[str]:
        """The true graph's nodes: :data:`REGIME_NODE` first, then the columns."""
        return [REGIME_NODE, *self._columns]

    @property
    def true_edges(self) -> list[tuple[str, str]]:
        """The true DAG's edges ``(cause, effect)``, read off the mechanisms."""
        return [(parent, m.column) for m in self.mechanisms for parent, _ in m.weights]


def _mech(column: str, intercept: float, noise: float, **weights: float) -> Mechanism:
    return Mechanism(column, intercept, tuple(weights.items()), noise)


_ALIGNED = Scenario(
    name="aligned",
    description=(
        "A planning agent whose value head tracks the task. Deployment levels have a more "
        "complex layout and a new visual theme (regime -> layout_complexity, regime -> "
        "theme_brightness). The agent's value head scores the layout it sees "
        "(layout_complexity -> value; the theme is ignored), and the planner acts on that "
        "value alone, plus logged exploration noise (value -> action <- exploration_noise). "
        "The environment responds to the action only (action -> progress -> true_reward). "
        "Everything the regime changes reaches the true reward through the value estimate, "
        "so the value screens the shift off: with the policy inputs declared as value and "
        "exploration_noise the criterion holds in the true graph (verdict all), and the "
        "gap E[true_reward | value, deploy] - E[true_reward | value, train] is zero."
    ),
    mechanisms=(
        _mech("layout_complexity", 2.0, 0.6, regime=1.0),
        _mech("theme_brightness", 0.3, 0.15, regime=0.4),
        _mech("value", 9.0, 0.7, layout_complexity=-1.5),
        _mech("exploration_noise", 0.0, 1.0),
        _mech("action", 1.0, 0.6, value=0.5, exploration_noise=0.6),
        _mech("progress", 0.2, 0.6, action=0.8),
        _mech("true_reward", 0.0, 0.6, progress=1.0),
    ),
    roles=MappingProxyType(
        {
            "regime": REGIME_NODE,
            "base": ["true_reward"],
            "mesa": ["value"],
            "decision": ["action"],
            "policy_inputs": ["value", "exploration_noise"],
        }
    ),
    expected_verdict="all",
)

_PILOT = Scenario(
    name="pilot",
    description=(
        "The aligned agent (the same graph and mechanisms as 'aligned'), logged in a short "
        "pilot: 300 episodes in all. The criterion holds in the true graph (verdict all), "
        "but so few rows cannot show that the alignment gap is within the tolerance: the "
        "structural 'all' is not confirmed (exit code 8), and the report says about how many "
        "rows per regime would confirm it."
    ),
    mechanisms=_ALIGNED.mechanisms,
    roles=_ALIGNED.roles,
    expected_verdict="all",
    max_rows=300,
)

_COINRUN = Scenario(
    name="coinrun",
    description=(
        "Goal misgeneralization as in CoinRun (Langosco et al., ICML 2022). In training the "
        "coin sits at the end of every level, so 'run to the end' and 'get the coin' coincide; "
        "in deployment it is placed earlier (regime -> coin_position, the coin's distance "
        "from the level's end). The agent learned to run to the end: its value head tracks "
        "progress given the level's obstacles (level_difficulty -> value), its policy reads "
        "the value and the obstacles (value -> action, level_difficulty -> action), and "
        "progress_to_end follows from action and obstacles. The true reward depends on both "
        "progress and where the coin is (progress_to_end -> coin_reward <- coin_position). "
        "The path regime -> coin_position -> coin_reward goes around the value, so no "
        "conditioning on the value blocks it: the criterion fails in every DAG (verdict "
        "none), and at equal value deployment levels pay less."
    ),
    mechanisms=(
        _mech("coin_position", 0.3, 0.8, regime=3.0),
        _mech("level_difficulty", 0.0, 1.0),
        _mech("value", 7.0, 0.8, level_difficulty=-1.2),
        _mech("action", 1.0, 0.6, value=0.5, level_difficulty=-0.4),
        _mech("progress_to_end", 0.5, 0.7, action=0.6, level_difficulty=-0.5),
        _mech("coin_reward", 0.2, 0.5, progress_to_end=1.0, coin_position=-0.6),
    ),
    roles=MappingProxyType(
        {
            "regime": REGIME_NODE,
            "base": ["coin_reward"],
            "mesa": ["value"],
            "decision": ["action"],
            "policy_inputs": ["value", "level_difficulty"],
        }
    ),
    expected_verdict="none",
)

_DECEPTIVE = Scenario(
    name="deceptive",
    description=(
        "A deceptively aligned policy. Deployment tasks have nearer targets "
        "(regime -> target_distance), which the value head accounts for "
        "(target_distance -> value). The observations also carry a cue that reveals "
        "deployment, such as the absence of the training-time overseer "
        "(regime -> deployment_cue). The policy reads its value and that cue: it follows "
        "its value while watched and puts in less task effort when the cue says it is "
        "deployed (value -> action <- deployment_cue, action -> true_reward). The path "
        "regime -> deployment_cue -> action -> true_reward avoids the value, so the "
        "criterion fails (verdict none). A policy that read only the value would pass "
        "in the same graph: the failure is the policy's, not the world's."
    ),
    mechanisms=(
        _mech("target_distance", 5.0, 1.0, regime=-0.8),
        _mech("deployment_cue", 0.1, 0.7, regime=2.0),
        _mech("value", 10.0, 0.8, target_distance=-1.0),
        _mech("action", 0.0, 0.7, value=0.8, deployment_cue=-1.0),
        _mech("true_reward", 0.0, 0.8, action=1.0),
    ),
    roles=MappingProxyType(
        {
            "regime": REGIME_NODE,
            "base": ["true_reward"],
            "mesa": ["value"],
            "decision": ["action"],
            "policy_inputs": ["value", "deployment_cue"],
        }
    ),
    expected_verdict="none",
)

_COLLIDER = Scenario(
    name="collider",
    description=(
        "The spec's counterexample to the post's conjecture. Deployment frames are rendered "
        "differently, which inflates the value head's estimates (regime -> value), and level "
        "difficulty lowers both the value estimate and the true reward "
        "(value <- level_difficulty -> true_reward). The agent acts on its value "
        "(value -> action -> true_reward). The value is an ancestor of the true reward (C1) "
        "and every directed path from the regime to it passes through the value (C2), so the "
        "conjecture says aligned; but the value is a collider: given the value, a deployment "
        "level is a harder level, which pays less (regime -> value <- level_difficulty -> "
        "true_reward is open). The criterion fails (verdict none) and the conjecture "
        "disagrees."
    ),
    mechanisms=(
        _mech("level_difficulty", 0.0, 1.0),
        _mech("value", 5.0, 0.6, regime=1.5, level_difficulty=-1.5),
        _mech("action", 0.5, 0.7, value=0.8),
        _mech("true_reward", 0.0, 0.6, action=0.7, level_difficulty=-1.0),
    ),
    roles=MappingProxyType(
        {
            "regime": REGIME_NODE,
            "base": ["true_reward"],
            "mesa": ["value"],
            "decision": ["action"],
            "policy_inputs": ["value"],
        }
    ),
    expected_verdict="none",
)

#: Every built-in scenario by name, in the order of :func:`scenario_names`.
SCENARIOS: Mapping[str, Scenario] = MappingProxyType(
    {s.name: s for s in (_ALIGNED, _COINRUN, _DECEPTIVE, _COLLIDER, _PILOT)}
)


def scenario_names() -> list[str]:
    """The names of the built-in scenarios."""
    return list(SCENARIOS)


def _scenario(name: Any) -> Scenario:
    if isinstance(name, str) and name in SCENARIOS:
        return SCENARIOS[name]
    raise InputError(
        f"unknown simulator scenario {name!r}; the available scenarios are {', '.join(SCENARIOS)}"
    )


def scenario_truth(name: str) -> tuple[list[str], list[tuple[str, str]], dict[str, Any]]:
    """The ground truth of a scenario, as plain data.

    Parameters
    ----------
    name : str
        A scenario name (see :func:`scenario_names`).

    Returns
    -------
    nodes : list of str
        :data:`REGIME_NODE` followed by the scenario's columns.
    edges : list of (str, str)
        The true DAG's directed edges ``(cause, effect)``.
    roles : dict
        ``regime``, ``base``, ``mesa``, ``decision`` and ``policy_inputs``
        (a list of nodes, or ``"keep"``); a fresh copy the caller may modify.

    Raises
    ------
    InputError
        If the scenario is unknown (the message lists the available ones).
    """
    scenario = _scenario(name)
    return scenario.nodes, scenario.true_edges, copy.deepcopy(dict(scenario.roles))


def _check_int(value: Any, option: str, minimum: int, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InputError(f"{option} must be an integer; got {value!r}")
    if value < minimum:
        raise InputError(f"{option} must be at least {minimum:,}; got {value:,}. {hint}")
    return int(value)


def simulate(scenario: str, rows: int = 20000, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Simulate a scenario's logs, one frame per regime.

    Parameters
    ----------
    scenario : str
        A scenario name (see :func:`scenario_names`).
    rows : int, default 20000
        Rows over both regimes, split evenly (the first regime gets the odd
        row). At least :data:`MIN_ROWS`; at most the scenario's ``max_rows``.
    seed : int, default 0
        Seed of the random draws: the same scenario, rows and seed give
        identical frames on every run and platform.

    Returns
    -------
    dict of str to pandas.DataFrame
        Regime label (``"train"``, ``"deploy"``) to that regime's rows: one
        float64 column per scenario column, in causal order, with a fresh
        ``RangeIndex``. There is no regime column.

    Raises
    ------
    InputError
        If the scenario is unknown, ``rows`` is below :data:`MIN_ROWS` or
        ``seed`` is negative.
    """
    spec = _scenario(scenario)
    rows = _check_int(rows, "rows", MIN_ROWS, "Simulate more rows.")
    if spec.max_rows is not None:
        rows = min(rows, spec.max_rows)
    seed = _check_int(seed, "seed", 0, "Use a non-negative seed.")
    # The scenario's name goes into the seed, so that scenarios sharing a
    # column do not share its noise draws.
    rng = np.random.default_rng([seed, zlib.crc32(spec.name.encode())])
    first = rows - rows // 2
    indicator = np.zeros(rows)
    indicator[first:] = 1.0
    values: dict[str, np.ndarray] = {REGIME_NODE: indicator}
    for mechanism in spec.mechanisms:
        column = np.full(rows, float(mechanism.intercept))
        for parent, weight in mechanism.weights:
            column += weight * values[parent]
        column += mechanism.noise * rng.standard_normal(rows)
        values[mechanism.column] = column
    pooled = pd.DataFrame({c: values[c] for c in spec.columns})
    bounds = {spec.regimes[0]: (0, first), spec.regimes[1]: (first, rows)}
    return {
        label: pooled.iloc[start:stop].reset_index(drop=True)
        for label, (start, stop) in bounds.items()
    }


def write_logs(
    scenario: str,
    out_dir: str | os.PathLike[str],
    rows: int = 20000,
    seed: int = 0,
    shards: int = 4,
) -> dict[str, list[Path]]:
    """Simulate a scenario and write each regime as Parquet shards.

    The layout is ``out_dir/<regime>/part-000.parquet``, ``part-001.parquet``,
    ..., one directory per regime, ready for ``--regime train=out_dir/train
    --regime deploy=out_dir/deploy``. Each shard is written to a hidden
    temporary file in its directory and renamed into place, so a reader never
    sees a partial shard. Shards ``part-NNN.parquet`` left over from an earlier
    run with more shards are removed; any other file in a regime directory is
    an error (the loader would read it as data).

    Parameters
    ----------
    scenario : str
        A scenario name (see :func:`scenario_names`).
    out_dir : str or path-like
        A local directory, created if needed.
    rows, seed : int
        As for :func:`simulate`.
    shards : int, default 4
        Files per regime; consecutive row ranges of nearly equal size. At
        least 1 and at most the rows of the smaller regime.

    Returns
    -------
    dict of str to list of pathlib.Path
        Regime label to its shard paths, in row order.

    Raises
    ------
    InputError
        For an unknown scenario, bad ``rows``, ``seed`` or ``shards``, an
        output location that is not a directory, or a regime directory that
        holds files other than shards.
    """
    return write_frames(simulate(scenario, rows=rows, seed=seed), out_dir, shards=shards)


def write_frames(
    frames: Mapping[str, pd.DataFrame],
    out_dir: str | os.PathLike[str],
    shards: int = 4,
) -> dict[str, list[Path]]:
    """Write each regime's frame as Parquet shards ``out_dir/<regime>/part-NNN.parquet``.

    The writer of :func:`write_logs`, for any frames (the gymnasium demo's
    logs go through it too); the layout, the atomic renames and the errors
    are as described there.

    Parameters
    ----------
    frames : mapping of str to pandas.DataFrame
        Regime label to that regime's rows.
    out_dir : str or path-like
        A local directory, created if needed.
    shards : int, default 4
        Files per regime; at least 1 and at most the rows of the smallest frame.

    Returns
    -------
    dict of str to list of pathlib.Path
        Regime label to its shard paths, in row order.

    Raises
    ------
    InputError
        For bad ``shards``, an output location that is not a directory, or a
        regime directory that holds files other than shards.
    """
    smallest = min(len(f) for f in frames.values())
    shards = _check_int(shards, "shards", 1, "Write at least one file per regime.")
    if shards > smallest:
        raise InputError(
            f"shards must be at most {smallest:,} (the rows of the smaller regime); got "
            f"{shards:,}. Write fewer shards or simulate more rows."
        )
    root = Path(out_dir)
    written: dict[str, list[Path]] = {}
    for label, frame in frames.items():
        directory = root / label
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise InputError(
                f"cannot write the {label!r} logs to {str(directory)!r}: a file is in the way "
                f"({exc.strerror}); choose another output directory"
            ) from None
        foreign = sorted(
            p.name
            for p in directory.iterdir()
            if not _SHARD_NAME.fullmatch(p.name) and not p.name.startswith(".")
        )
        if foreign:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            raise InputError(
                f"{str(directory)!r} holds files the simulator did not write ({shown}); "
                "the loader would read them as logs: choose an empty output directory"
            )
        bounds = np.linspace(0, len(frame), shards + 1).round().astype(int)
        paths = []
        for k in range(shards):
            path = directory / f"part-{k:03d}.parquet"
            temporary = directory / f".{path.name}.{uuid.uuid4().hex}.tmp"
            try:
                frame.iloc[bounds[k] : bounds[k + 1]].to_parquet(
                    temporary, index=False, engine="pyarrow"
                )
                os.replace(temporary, path)
            finally:
                temporary.unlink(missing_ok=True)
            paths.append(path)
        for stale in directory.iterdir():
            if _SHARD_NAME.fullmatch(stale.name) and stale not in paths:
                stale.unlink()
        written[label] = paths
    return written
