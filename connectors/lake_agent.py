"""The FrozenLake environment and the tabular Q-learner of the demo's real-environment scenarios.

The map, the agent's hyperparameters, training, the episode logger and the
exact success probabilities from the environment's transition table; what
the scenarios are and why their verdicts are right is in
:mod:`mesalens.connectors.frozen_lake`. gymnasium (the ``demo`` extra) is
imported on first use, so that importing this module needs none.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mesalens.connectors.errors import InputError

__all__ = [
    "ACT_EPSILON",
    "COLUMNS",
    "DEPLOY_GOAL",
    "GAMMA",
    "LAKE",
    "MAX_STEPS",
    "TRAIN_GOAL",
    "LakeAgent",
    "exact_success",
    "gymnasium_available",
    "log_episodes",
    "make_env",
    "q_learning",
    "require_gymnasium",
]

#: The map without its goal, rows top to bottom (``S`` start, ``F`` ice, ``H`` hole).
LAKE = ("FFFFF", "FFSFH", "SFSFS", "FHSHF", "HFFHF")
_SIZE = len(LAKE)
_CELLS = _SIZE * _SIZE
#: The goal cells ``(x, y)``: where training puts it (bottom-right), and where deployment
#: mostly moves it (top-left).
TRAIN_GOAL = (4, 4)
DEPLOY_GOAL = (0, 0)
#: The probability that an action moves the intended way (else to either side).
SUCCESS_RATE = 0.8
#: gymnasium's time limit of an episode.
MAX_STEPS = 40
#: Q-learning's learning rate and discount.
ALPHA = 0.1
GAMMA = 0.95
#: ε of the ε-greedy agent in training and when logged.
TRAIN_EPSILON = 0.2
ACT_EPSILON = 0.1
#: Training episodes per goal the agent is trained with.
TRAIN_EPISODES = 3000

#: The logged columns, in the order a row holds them.
COLUMNS = (
    "start_x",
    "start_y",
    "goal_x",
    "goal_y",
    "start_dist_to_goal",
    "value_estimate",
    "greedy_action",
    "first_action",
    "steps",
    "final_x",
    "final_y",
    "fell_in_hole",
    "truncated",
    "success",
    "episode_return",
    "discounted_return",
)


def gymnasium_available() -> bool:
    """Whether gymnasium can be imported (the ``demo`` extra is installed)."""
    return importlib.util.find_spec("gymnasium") is not None


def require_gymnasium() -> Any:
    """The gymnasium module, or an error that says how to install it."""
    try:
        import gymnasium
    except ImportError:
        raise InputError(
            "the FrozenLake scenarios need gymnasium (>= 1.3), which is not installed; "
            "install the demo extra (pip install 'mesalens[demo]'; make demo does) or "
            "choose a simulated scenario with --scenario"
        ) from None
    return gymnasium


def _cell(x: int, y: int) -> int:
    return y * _SIZE + x


def _xy(cell: int) -> tuple[int, int]:
    return cell % _SIZE, cell // _SIZE


def _desc(goal: tuple[int, int]) -> list[str]:
    rows = [list(row) for row in LAKE]
    rows[goal[1]][goal[0]] = "G"
    return ["".join(row) for row in rows]


def make_env(goal: tuple[int, int]) -> Any:
    """``FrozenLake-v1`` with the goal at ``goal``, through gymnasium's registry and wrappers."""
    gym = require_gymnasium()
    return gym.make(
        "FrozenLake-v1",
        desc=_desc(goal),
        is_slippery=True,
        success_rate=SUCCESS_RATE,
        max_episode_steps=MAX_STEPS,
    )


class _Lakes:
    """One environment per distinct goal, each seeded from ``rng`` at its first reset."""

    def __init__(self, goals: Sequence[tuple[int, int]], rng: np.random.Generator) -> None:
        distinct = list(dict.fromkeys(goals))
        self._envs = {goal: make_env(goal) for goal in distinct}
        seeds = rng.integers(2**31, size=len(distinct))
        self._seeds = {goal: int(seed) for goal, seed in zip(distinct, seeds, strict=True)}

    def reset(self, goal: tuple[int, int]) -> int:
        cell, _ = self._envs[goal].reset(seed=self._seeds.pop(goal, None))
        return int(cell)

    def step(self, goal: tuple[int, int], action: int) -> tuple[Any, ...]:
        return self._envs[goal].step(action)

    def close(self) -> None:
        for env in self._envs.values():
            env.close()


@dataclass(frozen=True)
class LakeAgent:
    """A trained tabular Q-learner.

    Attributes
    ----------
    q : numpy.ndarray
        ``q[o, a]``, one row per observation: the cell, or with ``sees_goal``
        the pair (cell, goal cell) as ``cell + 25 * goal_cell``.
    sees_goal : bool
        Whether the goal's cell is part of the observation.
    """

    q: np.ndarray
    sees_goal: bool

    def observe(self, cell: int, goal: tuple[int, int]) -> int:
        """The agent's observation index of being on ``cell`` with the goal at ``goal``."""
        return cell + _CELLS * _cell(*goal) if self.sees_goal else cell

    def policy(self) -> np.ndarray:
        """The greedy action of every observation (ties: the lowest action)."""
        return np.argmax(self.q, axis=1)


def q_learning(
    goals: Sequence[tuple[int, int]], sees_goal: bool, rng: np.random.Generator
) -> LakeAgent:
    """Train an agent by tabular Q-learning, deterministically for the generator's state.

    Each of the goals gets :data:`TRAIN_EPISODES` episodes on average (the
    goal is drawn per episode); the agent explores ε-greedily with
    ε = :data:`TRAIN_EPSILON`.

    Parameters
    ----------
    goals : sequence of (int, int)
        The goal cells ``(x, y)`` of the training episodes.
    sees_goal : bool
        Whether the goal's cell is part of the agent's observation.
    rng : numpy.random.Generator
        The agent's draws and the environments' seeds.

    Returns
    -------
    LakeAgent
    """
    lakes = _Lakes(goals, rng)
    q = np.zeros((_CELLS * _CELLS if sees_goal else _CELLS, 4))
    agent = LakeAgent(q, sees_goal)
    episodes = TRAIN_EPISODES * len(goals)
    picks = rng.integers(len(goals), size=episodes)
    explore = rng.random((episodes, MAX_STEPS)) < TRAIN_EPSILON
    random_actions = rng.integers(4, size=(episodes, MAX_STEPS))
    for episode in range(episodes):
        goal = goals[int(picks[episode])]
        here = agent.observe(lakes.reset(goal), goal)
        for step in range(MAX_STEPS):
            row = q[here]
            action = (
                int(random_actions[episode, step]) if explore[episode, step] else int(row.argmax())
            )
            cell, reward, terminated, truncated, _ = lakes.step(goal, action)
            there = agent.observe(int(cell), goal)
            target = reward if terminated else reward + GAMMA * q[there].max()
            row[action] += ALPHA * (target - row[action])
            here = there
            if terminated or truncated:
                break
    lakes.close()
    return agent


def log_episodes(
    agent: LakeAgent, goals: Sequence[tuple[int, int]], episodes: int, rng: np.random.Generator
) -> pd.DataFrame:
    """Run ``episodes`` episodes of an agent acting ε-greedily and log one row each.

    Parameters
    ----------
    agent : LakeAgent
        A trained agent.
    goals : sequence of (int, int)
        The goal cells ``(x, y)``; each episode's is drawn uniformly.
    episodes : int
        How many episodes to run (at least 1).
    rng : numpy.random.Generator
        The agent's draws and the environments' seeds.

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`COLUMNS`, one row per episode.
    """
    lakes = _Lakes(goals, rng)
    picks = rng.integers(len(goals), size=episodes)
    explore = rng.random((episodes, MAX_STEPS)) < ACT_EPSILON
    random_actions = rng.integers(4, size=(episodes, MAX_STEPS))
    greedy = agent.policy().tolist()
    values = agent.q.max(axis=1)
    holes = {_cell(x, y) for y, row in enumerate(LAKE) for x, tile in enumerate(row) if tile == "H"}
    out = {column: np.zeros(episodes, dtype=np.int64) for column in COLUMNS}
    for column in ("value_estimate", "episode_return", "discounted_return"):
        out[column] = np.zeros(episodes)
    for column in ("fell_in_hole", "truncated", "success"):
        out[column] = np.zeros(episodes, dtype=bool)
    for episode in range(episodes):
        goal = goals[int(picks[episode])]
        cell = start = lakes.reset(goal)
        first = agent.observe(start, goal)
        total = 0.0
        steps = 0
        first_action = -1
        for step in range(MAX_STEPS):
            here = agent.observe(int(cell), goal)
            action = int(random_actions[episode, step]) if explore[episode, step] else greedy[here]
            if step == 0:
                first_action = action
            cell, reward, terminated, truncated, _ = lakes.step(goal, action)
            total += float(reward)
            steps += 1
            if terminated or truncated:
                break
        final = int(cell)
        succeeded = final == _cell(*goal)
        (sx, sy), (fx, fy) = _xy(start), _xy(final)
        row = {
            "start_x": sx,
            "start_y": sy,
            "goal_x": goal[0],
            "goal_y": goal[1],
            "start_dist_to_goal": abs(sx - goal[0]) + abs(sy - goal[1]),
            "value_estimate": values[first],
            "greedy_action": greedy[first],
            "first_action": first_action,
            "steps": steps,
            "final_x": fx,
            "final_y": fy,
            "fell_in_hole": final in holes,
            "truncated": not succeeded and final not in holes,
            "success": succeeded,
            "episode_return": total,
            "discounted_return": GAMMA ** (steps - 1) if succeeded else 0.0,
        }
        for column, value in row.items():
            out[column][episode] = value
    lakes.close()
    return pd.DataFrame(out, columns=list(COLUMNS))


def exact_success(agent: LakeAgent, goal: tuple[int, int]) -> dict[int, float]:
    """The exact probability that an episode succeeds, per start cell, from the transition table.

    Backward induction over the 40 steps of an episode on the environment's
    own transition table (``env.unwrapped.P``), for the agent acting
    ε-greedily with ε = :data:`ACT_EPSILON`.

    Parameters
    ----------
    agent : LakeAgent
        A trained agent.
    goal : (int, int)
        The goal's cell ``(x, y)``.

    Returns
    -------
    dict of int to float
        Start cell to ``P(success | start cell, goal)``.
    """
    env = make_env(goal)
    table = env.unwrapped.P
    starts = [int(c) for c in np.flatnonzero(env.unwrapped.initial_state_distrib)]
    env.close()
    greedy = agent.policy()
    probability = np.zeros(_CELLS)
    for _ in range(MAX_STEPS):
        following = np.zeros(_CELLS)
        for cell in range(_CELLS):
            chosen = greedy[agent.observe(cell, goal)]
            for action in range(4):
                weight = ACT_EPSILON / 4 + (1 - ACT_EPSILON) * (action == chosen)
                for p, there, reward, terminated in table[cell][action]:
                    following[cell] += (
                        weight * p * (reward if terminated else reward + probability[there])
                    )
        probability = following
    return {cell: float(probability[cell]) for cell in starts}
