"""The one place that words a verdict: every sentence, label and marker about it.

The terminal summary (:mod:`mesalens.reports.summary`), the HTML report
(:mod:`mesalens.reports.html`, its cards and sections) and the scheduled
jobs say what a verdict is and what it means through these functions, so
the wording is the same everywhere. They read only the result document
(:func:`~mesalens.reports.result_json.check_result_to_dict`, extended by
:func:`~mesalens.reports.run_document.run_result_to_dict` for a run): plain
dicts, lists, strings and numbers, never live pipeline objects, so that a
text can be rebuilt from ``result.json`` alone.

What is here: the verdict's label and quotable sentence, the class's unit
(DAGs, or MAGs for a PAG), role names and the policy, what the verdict
means and does not, the parent-set texts and their C1/C2 and conjecture
marks, open paths as text, the exit code, and the warnings: the PAG note,
an unstable verdict under the bootstrap, and a direct test that contradicts
an ``all``. A marker is returned as ``(text, kind)``, the kind (``muted``,
``warn``, ``disagree`` or ``""``) for the renderer to style.

>>> names_text(["reward"]), names_text(["reward", "score"])
('reward', '{reward, score}')
>>> path_text(["regime", "obs", "value"], [["regime", "-->", "obs"], ["value", "-->", "obs"]])
'regime → obs ← value'
>>> exit_code_line("some")
'Exit code 3 (verdict some): 0 all, 3 some, 4 none, 5 invalid; 1 bad input, 2 usage error.'
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from mesalens.reports.formatting import format_count, format_share

__all__ = [
    "CONTRADICTED_TITLE",
    "CONTRADICTION_WORDS",
    "DASH",
    "EXIT_CODES",
    "NOT_CONFIRMED",
    "RUN_EXIT_CODES",
    "SIGMA",
    "SMALL_GAP_TITLE",
    "SMALL_GAP_WORDS",
    "bootstrap_words",
    "class_unit",
    "confirmation_lines",
    "conjecture_mark",
    "contradiction_alarm",
    "contradiction_sentence",
    "contradiction_words",
    "contradicts_all",
    "count_sentence",
    "exit_code_line",
    "flag",
    "gap_confirmed",
    "gate",
    "graph_origin",
    "is_contradicted",
    "is_unstable",
    "meaning",
    "method_name",
    "names_text",
    "pag_note",
    "parents_text",
    "path_text",
    "policy_option",
    "policy_phrase",
    "policy_text",
    "run_exit_code_line",
    "separation",
    "stability_words",
    "unstable_sentence",
    "verdict_explanation",
    "verdict_label",
    "verdict_segments",
    "verdict_sentence",
]

# Written as escapes because ruff flags the characters as confusable.
SIGMA = "\u03c3"
DASH = "\u2013"  # an en dash: "not applicable" in a table cell

# The process exit code of ``mesalens check-graph`` for each verdict; 1 is a
# bad input and 2 a usage error (click's convention).
EXIT_CODES: dict[str, int] = {"all": 0, "some": 3, "none": 4, "invalid": 5}

#: The gate of a run whose structural ``all`` the logs do not confirm.
NOT_CONFIRMED = "all, not confirmed"

#: The process exit code of ``mesalens run`` (and of each check of a job) for
#: each gate: the structural verdict, with an ``all`` split by whether the
#: logs confirm it (:mod:`mesalens.pipeline.confirmation`).
RUN_EXIT_CODES: dict[str, int] = {"all": 0, NOT_CONFIRMED: 8, "some": 3, "none": 4, "invalid": 5}

#: What the terminal (single runs and jobs) and the jobs index say of a
#: contradicted ``all`` (:func:`contradicts_all`) the logs do not confirm.
CONTRADICTION_WORDS = (
    "the direct test contradicts the structural 'all': the logs reject the independence "
    "it licenses (report: Direct test)"
)

#: ... and of a contradicted ``all`` whose gap the logs confirm within the
#: tolerance: the independence is not exact, but the shift moves ``E[Y_b | Y_m]``
#: by less than the reviewer accepts, so exit 0 stands (a note, not an alarm).
SMALL_GAP_WORDS = (
    "the direct test rejects the exact independence the structural 'all' licenses, but the "
    "logs confirm the alignment gap is within the tolerance (report: Direct test)"
)


def contradiction_words(record: Mapping[str, Any]) -> str:
    """What to say of a contradicted ``all``: an alarm, or a note when its gap is confirmed.

    ``record`` is a result document or a job's run record (both carry ``confirmation``).

    >>> contradiction_words({"confirmation": {"status": "confirmed"}}) == SMALL_GAP_WORDS
    True
    >>> contradiction_words({"confirmation": None}) == CONTRADICTION_WORDS
    True
    """
    return SMALL_GAP_WORDS if gap_confirmed(record) else CONTRADICTION_WORDS


#: The jobs index's "contradicted" marker tooltip: what it means, in the
#: words of the report's verdict card.
CONTRADICTED_TITLE = (
    "The logs contradict this verdict: the direct test rejects Y_b \u22a5 regime | Y_m, "
    "the independence the structural 'all' licenses (E[Y_b | Y_m] moves with the regime). "
    "Do not rely on it until that is resolved; see Direct test in the run's report."
)

#: ... and when the logs confirm the gap within the tolerance all the same.
SMALL_GAP_TITLE = (
    "The direct test rejects Y_b \u22a5 regime | Y_m: the structural 'all' is not exact, "
    "but the logs confirm the alignment gap is within the tolerance; see Direct test in the "
    "run's report."
)


# ------------------------------------------------------------ unit and names
def class_unit(document: Any) -> str:
    """What the class of a result document is made of: ``"MAG"`` for a PAG, else ``"DAG"``.

    >>> class_unit({"latent": {"unit": "MAG"}}), class_unit({"verdict": "all"})
    ('MAG', 'DAG')
    """
    return "MAG" if document.get("latent") else "DAG"


def separation(document: Any) -> str:
    """The separation that decides the criterion: m-separation in a PAG's MAGs, else d-."""
    return "m-separation" if class_unit(document) == "MAG" else "d-separation"


def names_text(names: Sequence[str]) -> str:
    """A role's names: the name itself, or ``{a, b}`` for several."""
    return names[0] if len(names) == 1 else "{" + ", ".join(names) + "}"


def policy_option(policy: Any) -> str:
    """The policy inputs as on the command line: ``keep``, ``none`` or ``a, b``."""
    if policy == "keep" or policy is None:
        return "keep"
    return ", ".join(policy) if policy else "none"


def policy_phrase(policy: Any, unit: str) -> list[tuple[str, bool]]:
    """How the policy reads, as sentence segments (``True`` marks a name)."""
    if policy == "keep" or policy is None:
        return [
            (
                f"the policy reading whatever parents the decision has in each {unit} "
                "(policy inputs: keep)",
                False,
            )
        ]
    if not policy:
        return [("a policy that reads no input (policy inputs: none)", False)]
    segments: list[tuple[str, bool]] = [("the policy reading ", False)]
    for k, name in enumerate(policy):
        if k:
            segments.append((", ", False))
        segments.append((name, True))
    return segments


def policy_text(policy: Any, unit: str) -> str:
    """The policy inputs for the report's roles table."""
    if policy == "keep" or policy is None:
        return f"keep (the decision's own parents in each {unit})"
    return ", ".join(policy) if policy else "none (the policy reads nothing)"


# -------------------------------------------------------------------- verdict
def verdict_label(verdict: str, unit: str) -> str:
    """The verdict card's headline, in the class's unit (DAGs, or a PAG's MAGs)."""
    return {
        "all": f"holds in every valid {unit}",
        "some": f"holds in some {unit}s, fails in others",
        "none": f"fails in every valid {unit}",
        "invalid": f"no {unit} admits the policy",
    }[verdict]


def verdict_segments(document: Mapping[str, Any], class_source: str) -> list[tuple[str, bool]]:
    """The verdict sentence (see :func:`verdict_sentence`) as segments; ``True`` marks a name."""
    roles = document["roles"]
    base, mesa, regime = names_text(roles["base"]), names_text(roles["mesa"]), roles["regime"]
    n_dags, n_hold = document["n_dags"], document["n_hold"]
    n_fail, n_invalid = document["n_fail"], document["n_invalid"]
    verdict = document["verdict"]
    criterion = f"{base} ⊥ {regime} | {mesa} in G_{SIGMA}"
    unit = class_unit(document)
    policy = policy_phrase(roles["policy_inputs"], unit)
    dags = unit if n_dags == 1 else f"{unit}s"
    if verdict == "invalid":
        return [
            (
                f"mesalens verdict INVALID: none of the {format_count(n_dags)} {dags} of "
                f"{class_source} admits ",
                False,
            ),
            *policy,
            (f", so the criterion ({criterion}) is not decided.", False),
        ]
    segments: list[tuple[str, bool]] = [
        (f"mesalens verdict {verdict.upper()}: the criterion that the mesa objective ", False),
        (mesa, True),
        (" screens off the regime ", False),
        (regime, True),
        (" from the base objective ", False),
        (base, True),
        (
            f" ({criterion}) holds in {format_count(n_hold)} of {format_count(n_dags)} {dags} "
            f"of {class_source} ({format_share(n_hold, n_dags)}), with ",
            False,
        ),
        *policy,
    ]
    tail = []
    if n_fail:
        tail.append(f"it fails in {format_count(n_fail)} ({format_share(n_fail, n_dags)})")
    if n_invalid:
        tail.append(
            f"{format_count(n_invalid)} ({format_share(n_invalid, n_dags)}) do not admit the policy"
        )
    segments.append((("; " + ", and ".join(tail)) if tail else "", False))
    segments.append((".", False))
    return segments


def verdict_sentence(document: Mapping[str, Any], class_source: str) -> str:
    """The verdict in one sentence a reviewer can quote, with the counts and the roles.

    Parameters
    ----------
    document : mapping
        A check document (:func:`~mesalens.reports.result_json.check_result_to_dict`).
    class_source : str
        How to name the class, e.g. ``"the class of graph.txt"``.

    Returns
    -------
    str
        Plain text (escaped when rendered), e.g. ``mesalens verdict ALL: the
        criterion that the mesa objective value screens off the regime regime
        from the base objective reward (reward ⊥ regime | value in G_σ) holds
        in 3 of 3 DAGs of the class of graph.txt (100%), with the policy
        reading obs.``
    """
    return "".join(text for text, _name in verdict_segments(document, class_source))


def count_sentence(document: Mapping[str, Any]) -> str:
    """Say in one sentence in how many DAGs the criterion holds (the terminal's count line).

    For example ``The criterion (Yb ⊥ s | Ym in G_sigma) holds in 3 of 5 DAGs
    (60%) of the class; 0 invalid.`` (with the Greek sigma).
    """
    roles = document["roles"]
    n_dags = document["n_dags"]
    unit = class_unit(document)
    dags = unit if n_dags == 1 else f"{unit}s"
    return (
        f"The criterion ({names_text(roles['base'])} ⊥ {roles['regime']} | "
        f"{names_text(roles['mesa'])} in G_{SIGMA}) "
        f"holds in {format_count(document['n_hold'])} of {format_count(n_dags)} {dags} "
        f"({format_share(document['n_hold'], n_dags)}) of the class; "
        f"{format_count(document['n_invalid'])} invalid."
    )


def verdict_explanation(document: Mapping[str, Any]) -> str:
    """What the verdict says, after ``Verdict: VERDICT —`` in the terminal."""
    roles = document["roles"]
    unit = class_unit(document)
    base, mesa = names_text(roles["base"]), names_text(roles["mesa"])
    decision = names_text(roles["decision"])
    if document["verdict"] == "all":
        return (
            f"inner aligned in every valid {unit} of the class: given {mesa}, the regime "
            f"tells nothing more about {base}."
        )
    if document["verdict"] == "some":
        return (
            f"inner aligned in some {unit}s of the class and not in others: the graph does not "
            f"decide it; the table shows which parents of {decision} make the difference."
        )
    if document["verdict"] == "none":
        return (
            f"not inner aligned in any valid {unit} of the class: a path from {roles['regime']} "
            f"to {base} stays open given {mesa}."
        )
    return (
        f"no {unit} of the class admits the policy: every one has a policy input that is a "
        f"descendant of {decision}, so reading it would create a cycle."
    )


def meaning(
    document: Mapping[str, Any], run: Mapping[str, Any] | None
) -> tuple[list[str], list[str]]:
    """What the verdict means and what it does not, as two lists of sentences."""
    roles = document["roles"]
    base, mesa, regime = names_text(roles["base"]), names_text(roles["mesa"]), roles["regime"]
    decision = names_text(roles["decision"])
    verdict = document["verdict"]
    unit = class_unit(document)
    # A PAG's members are MAGs, where m-separation plays d-separation's part.
    separated = "m-separated" if unit == "MAG" else "d-separated"
    method = ((run or {}).get("discovery") or {}).get("settings", {}).get("method")
    assumption = (
        "it allows hidden common causes but assumes no selection bias (FCI)"
        if method == "fci"
        else "it assumes no unmeasured common causes (PC, GES)"
    )
    graph_caveat = (
        "It does not show that the learned graph is right: discovery can miss or misorient "
        f"edges at a finite sample and the chosen test level, and {assumption}."
        if run is not None
        else f"It does not show that the graph is right: the graph is "
        f"{graph_origin(None, str(document.get('graph_source') or 'the given graph'))}, and "
        "the verdict is only as good as the graph."
    )
    scope = (
        f"It is not a claim about alignment in general: only about shifts that act through "
        f"the regime variable {regime} as logged, among the variables in the graph."
    )
    if verdict == "all":
        means = [
            f"In every {unit} of the class that admits the policy, {base} is {separated} from "
            f"{regime} given {mesa} in G_{SIGMA}: if the graph is right, E[{base} | {mesa}] is "
            "the same in every regime, for every distribution the graph allows.",
            f"Within this graph, {mesa} screens off the regime shift from {base}.",
        ]
        not_means = [graph_caveat, scope]
    elif verdict == "some":
        means = [
            f"The class leaves it open: the criterion holds in {format_count(document['n_hold'])}"
            f" {unit}s and fails in {format_count(document['n_fail'])}. Which one is true depends "
            f"on orientations the data cannot settle, through the parents of {decision} "
            "(the parent-set table shows which).",
            "Background knowledge (--knowledge) or interventional data that orients those "
            "edges would settle it.",
        ]
        not_means = [
            "The counts are not probabilities: a share of the class is not the chance that "
            f"the true graph is among those {unit}s.",
            graph_caveat,
        ]
    elif verdict == "none":
        means = [
            f"In every valid {unit} of the class a path from {regime} to {base} stays open given "
            f"{mesa} in G_{SIGMA} (highlighted on the graph): some distribution the graph "
            f"allows makes E[{base} | {mesa}] differ between regimes.",
            f"{mesa} does not screen off the regime shift from {base} in this graph.",
        ]
        not_means = [
            "It does not measure how large the shift is, nor show that these data have one: "
            "d-separation says what the graph allows, and an allowed shift may be small.",
            graph_caveat,
        ]
    else:
        means = [
            f"Every {unit} of the class has a declared policy input downstream of {decision}: "
            f"reading it would make the policy depend on its own effect (a cycle in G_{SIGMA}).",
        ]
        not_means = [
            "It is not a verdict on alignment in either direction: fix the policy inputs "
            "(--policy-inputs) or the graph.",
        ]
    return means, not_means


def graph_origin(run: Mapping[str, Any] | None, source: str = "") -> str:
    """Where the graph came from: learned (with the search and its settings) or given.

    >>> settings = {"method": "pc", "test": "fisherz", "alpha": 0.01}
    >>> graph_origin({"discovery": {"settings": settings}})
    'learned from the logs (PC, test fisherz, \u03b1 = 0.01)'
    >>> choice = {"reason": "continuous data"}
    >>> graph_origin({"discovery": {"settings": {**settings, "method_choice": choice}}})[:60]
    'learned from the logs (PC, chosen automatically for continuo'
    >>> graph_origin(None, "example:collider"), graph_origin(None, "g.txt")
    ('the built-in example collider', 'g.txt (given by the user)')
    """
    if run is None:
        if source.startswith("example:"):
            return f"the built-in example {source.removeprefix('example:')}"
        return f"{source} (given by the user)"
    settings = (run.get("discovery") or {}).get("settings") or {}
    method = method_name(str(settings.get("method", "")))
    choice = settings.get("method_choice")
    if method and isinstance(choice, Mapping) and choice.get("reason"):
        method = f"{method}, chosen automatically for {choice['reason']};"
    test = settings.get("test")
    alpha = settings.get("alpha")
    details = ", ".join(
        part
        for part in (method, f"test {test}" if test else "", f"\u03b1 = {alpha}" if alpha else "")
        if part
    ).replace(";,", ";")
    return f"learned from the logs ({details})" if details else "learned from the logs"


#: How the searches' names are written.
METHOD_NAMES = {"pc": "PC", "ges": "GES", "fci": "FCI", "boss": "BOSS", "grasp": "GRaSP"}


def method_name(method: str) -> str:
    """A search's name as the outputs write it: ``GRaSP``, ``PC``, ``auto``.

    >>> method_name("grasp"), method_name("ges"), method_name("auto")
    ('GRaSP', 'GES', 'auto')
    """
    return METHOD_NAMES.get(method, method if method == "auto" else method.upper())


def gate(document: Mapping[str, Any]) -> str:
    """A run's gate: its verdict, or ``all, not confirmed`` when the logs do not confirm the all.

    >>> gate({"verdict": "all", "confirmation": {"status": "not confirmed"}})
    'all, not confirmed'
    >>> gate({"verdict": "all", "confirmation": {"status": "confirmed"}}), gate({"verdict": "some"})
    ('all', 'some')
    """
    verdict = str(document["verdict"])
    confirmation = document.get("confirmation") or {}
    if verdict == "all" and confirmation.get("status") == "not confirmed":
        return NOT_CONFIRMED
    return verdict


def run_exit_code_line(gate_name: str) -> str:
    """The exit-code line of a run: its gate's code and what every code means."""
    return (
        f"Exit code {RUN_EXIT_CODES[gate_name]} ({gate_name}): 0 all, confirmed by the logs; "
        "8 all, not confirmed; 3 some; 4 none; 5 invalid; 1 bad input, 2 usage error."
    )


def confirmation_lines(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What the logs say of the verdict, as ``(text, kind)`` lines (kind ``warn`` or ``""``).

    For an ``all``: whether the logs confirm it to within the tolerance, why
    not, and what would settle it. For another verdict: whether this shift
    excites the open path, as far as the direct test can tell.
    """
    confirmation = document.get("confirmation")
    if not confirmation:
        return []
    tolerance = confirmation["tolerance"]["text"]
    alpha = confirmation["alpha"]
    if confirmation["status"] == "confirmed":
        rows = ", ".join(f"{n:,}" for n in confirmation["rows"].values())
        where = (
            ", averaged and at each decile (or level) of Y_m,"
            if confirmation.get("pointwise")
            else " (averaged over Y_m)"
        )
        return [
            (
                f"Confirmed by the logs: every alignment gap{where} is within the tolerance of "
                f"{tolerance} (equivalence test at level {alpha:g}; rows per regime: {rows}).",
                "",
            )
        ]
    if confirmation["status"] == "not confirmed":
        lines = [
            (
                f"Not confirmed by the logs (exit code {RUN_EXIT_CODES[NOT_CONFIRMED]}): "
                f"{'; '.join(confirmation['reasons'])}.",
                "warn",
            )
        ]
        if confirmation.get("advice"):
            lines.append((f"What would settle it: {confirmation['advice']}.", ""))
        return lines
    direct = document.get("direct_test") or {}
    if direct.get("status") != "done":
        return []
    if direct.get("reject"):
        return [
            (
                "The logs show this shift moving E[Y_b | Y_m] (the direct test rejects): it "
                "excites an open path.",
                "warn",
            )
        ]
    return [
        (
            "The direct test does not detect this shift moving E[Y_b | Y_m]: it may not excite "
            "the open path, but another shift through the same graph could.",
            "",
        )
    ]


def exit_code_line(verdict: str) -> str:
    """One line saying which exit code this verdict gives and what the codes mean."""
    return (
        f"Exit code {EXIT_CODES[verdict]} (verdict {verdict}): 0 all, 3 some, 4 none, "
        "5 invalid; 1 bad input, 2 usage error."
    )


# ---------------------------------------------------------------- parent sets
def parents_text(parents: Any) -> str:
    """A parent set: ``a, b`` (one decision; ``(none)`` when empty), or ``d: a; e: b``.

    ``parents`` is a parent set's ``parents`` in the document: a list of
    names for one decision node, a mapping from each decision to its names
    for several.
    """
    if isinstance(parents, Mapping):
        return "; ".join(
            f"{decision}: {', '.join(names) if names else '(none)'}"
            for decision, names in parents.items()
        )
    return ", ".join(parents) if parents else "(none)"


def flag(value: bool | None, count: int | None, n_valid: int) -> tuple[str, str]:
    """A parent set's C1 or C2 cell: ``yes``, ``no``, ``varies``, ``?`` (unknown) or a dash."""
    if n_valid == 0:
        return DASH, "muted"
    if count is None:
        return "?", "muted"  # the diagnostics ran out of budget
    if value is None:
        return "varies", "warn"
    return ("yes" if value else "no"), ""


def conjecture_mark(entry: Mapping[str, Any]) -> tuple[str, str]:
    """Whether the post's conjecture (C1 ∧ C2) agrees with the criterion on a parent set."""
    if entry["n_hold"] + entry["n_fail"] == 0:
        return DASH, "muted"
    disagrees = entry.get("conjecture_disagrees")
    if disagrees is None:
        return "?", "muted"
    return ("disagrees", "disagree") if disagrees else ("agrees", "")


def path_text(path: Sequence[str], edges: Sequence[Sequence[str]] | None = None) -> str:
    """Format a path as ``a → b ← c``, with the edge directions read off ``edges``.

    ``edges`` are a graph's edges as in the document: ``[u, kind, v]``
    triples, or ``[tail, head]`` pairs of directed edges. Without them (or
    for a step they do not join, or one with an arrowhead at both ends or
    none) the nodes are joined with ``—``.
    """
    if not path:
        return ""
    # (x, y) -> whether the edge between x and y has an arrowhead at y.
    head_at: dict[tuple[str, str], bool] = {}
    for edge in edges or ():
        if len(edge) == 3:
            u, kind, v = edge
        else:
            (u, v), kind = edge, "-->"
        head_at[(u, v)] = kind.endswith(">")
        head_at[(v, u)] = kind.startswith("<")
    parts = [path[0]]
    for a, b in itertools.pairwise(path):
        arrow = "—"
        if head_at.get((a, b)) and not head_at.get((b, a)):
            arrow = "→"
        elif head_at.get((b, a)) and not head_at.get((a, b)):
            arrow = "←"
        parts.extend((arrow, b))
    return " ".join(parts)


# ------------------------------------------------------------------- warnings
def pag_note(document: Mapping[str, Any]) -> str:
    """One paragraph for the terminal: the unit is MAGs, and what the verdict assumed."""
    n_mags = document["latent"]["n_mags"]
    counted = (
        f"{n_mags} MAG{'' if n_mags == 1 else 's'} with the regime as an unconfounded root"
        if n_mags is not None
        else "one MAG (the class was not enumerated; with policy inputs 'keep' every MAG "
        "gives the same answer)"
    )
    return (
        f"The graph is a PAG (latent confounding): every count below is over MAGs, not DAGs "
        f"({counted}), and 'parents' are the directed parents of the decision in each MAG. "
        "The verdict is a sound approximation, not complete: the regime is taken as exogenous "
        "and unconfounded, and the policy removes every edge with an arrowhead at the decision "
        "(Zhang 2008; Wang, Du & Zhou 2024; see the JSON 'latent' part for the assumptions)."
    )


def bootstrap_words(part: Mapping[str, Any]) -> tuple[str, str]:
    """The terminal's line on the verdict's stability, as a lead and the part to stress.

    ``part`` is the run document's ``bootstrap``. For a stable verdict the
    lead is the sentence and the rest its end: ``"."``, or a warning that
    there are too few resamples to rely on. For an unstable one the lead is
    ``UNSTABLE`` and the rest says why not to rely on the verdict.
    """
    counts, total, verdict = part["verdict_counts"], part["replicates"], part["verdict"]
    share = format_share(counts[verdict], total)
    others = [
        f"{format_share(count, total)} {'errors' if outcome == 'error' else repr(outcome)}"
        for outcome, count in counts.items()
        if count and outcome != verdict
    ]
    rest = f" ({', '.join(others)})" if others else ""
    threshold = f"{round(part['threshold'] * 100, 6):g}%"
    if part["stable"]:
        lead = (
            f"Bootstrap: the verdict {verdict!r} came back in {share} of {total} "
            f"resamples{rest}: stable at the {threshold} threshold"
        )
        if part["enough_replicates"]:
            return lead, "."
        low, high = part["share_interval"]
        return lead, (
            f", but {total} resamples are too few to rely on (95% interval "
            f"{low:.0%}-{high:.0%}); use --bootstrap {part['min_replicates']} or more."
        )
    return "UNSTABLE", (
        f": the verdict {verdict!r} came back in only {share} of {total} bootstrap "
        f"resamples{rest}, below the {threshold} threshold; it flips under resampling, "
        "so do not rely on it (see the report's stability section)."
    )


def unstable_sentence(run: Mapping[str, Any] | None) -> str | None:
    """One sentence for the verdict card when the bootstrap found the verdict unstable."""
    part = (run or {}).get("bootstrap")
    if not part or part.get("stable", True):
        return None
    share = part["share"]
    return (
        f"UNSTABLE: only {share:.0%} of {part['replicates']} bootstrap resamples give this "
        f"verdict (threshold {part['threshold']:.0%}); see Stability below."
    )


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


def contradicts_all(verdict: str, part: Mapping[str, Any] | None) -> bool:
    """Whether the direct test rejects the independence a structural ``all`` licenses.

    The one disagreement a reviewer must not miss: the graph says the mesa
    objective screens the regime off, the logs say it does not.

    >>> contradicts_all("all", {"status": "done", "reject": True})
    True
    >>> contradicts_all("none", {"status": "done", "reject": True}), contradicts_all("all", None)
    (False, False)
    """
    return (
        verdict == "all"
        and part is not None
        and part.get("status") != "skipped"
        and bool(part.get("reject"))
    )


def contradiction_sentence(
    document: Mapping[str, Any], run: Mapping[str, Any] | None
) -> str | None:
    """One sentence for the verdict card when the direct test rejects what ``all`` licenses."""
    part = (run or {}).get("direct_test")
    if not contradicts_all(document["verdict"], part):
        return None
    roles = document["roles"]
    base, mesa = names_text(roles["base"]), names_text(roles["mesa"])
    if gap_confirmed(document):
        return (
            f"The direct test rejects {base} ⊥ {roles['regime']} | {mesa}: E[{base} | {mesa}] "
            "moves with the regime, so the structural 'all' is not exact; but the logs confirm "
            "that the alignment gap is within the tolerance, so the exit code 0 stands. See "
            "Direct test below."
        )
    return (
        f"The logs contradict this verdict: the direct test rejects {base} ⊥ "
        f"{roles['regime']} | {mesa} (E[{base} | {mesa}] moves with the regime). Do not rely "
        "on the structural 'all' until that is resolved; see Direct test below."
    )


def gap_confirmed(record: Mapping[str, Any]) -> bool:
    """Whether the logs confirm the alignment gap within the tolerance (exit code 0).

    ``record`` is a result document or a job's run record (both carry
    ``confirmation``). A contradicted ``all`` whose gap is confirmed is a
    note, not an alarm.
    """
    return (record.get("confirmation") or {}).get("status") == "confirmed"


def contradiction_alarm(record: Mapping[str, Any]) -> bool:
    """Whether a job's run record holds a contradicted ``all`` the logs do not confirm.

    >>> contradiction_alarm({"direct_test": {"contradicts": True}, "confirmation": None})
    True
    >>> contradiction_alarm(
    ...     {"direct_test": {"contradicts": True}, "confirmation": {"status": "confirmed"}}
    ... )
    False
    """
    return is_contradicted(record.get("direct_test")) and not gap_confirmed(record)


def is_contradicted(direct_test: Any) -> bool:
    """Whether a run record's ``direct_test`` says the test contradicts its verdict ``all``.

    Reads the ``contradicts`` the run recorded (computed once, by
    :func:`contradicts_all`); a record without the field, from before it
    existed, is not contradicted.
    """
    return isinstance(direct_test, Mapping) and direct_test.get("contradicts") is True
