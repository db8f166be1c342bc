"""The one table of a check's options: command-line flags, config keys, defaults and checks.

Every setting of a check is declared once, as an :class:`Option` in
:data:`OPTIONS`. From that entry come

* the ``mesalens run`` command-line option (:func:`click_options` decorates
  the command with all of them, flags, types, ranges, metavars, help and the
  ``[default: ...]`` text included);
* the config and job-file key of the same name, its default, and the check
  of a value read from TOML (:meth:`Option.value_in`), with one message
  shape: ``must be <requirement>, got <value>; e.g. <example>``;
* the lists of keys a ``[[check]]`` table and a config's top level take
  (:data:`CHECK_KEYS`, :data:`EVIDENCE_KEYS`, :data:`TOP_ONLY_KEYS`) and the
  flag to name in a message about a value given on the command line
  (:data:`FLAGS`).

Adding a setting is one entry here, plus the code that uses its value
(:func:`mesalens.reports.checks.config.validate_check` builds the check's
settings from the validated values).

A range is declared once and enforced in both places: click refuses an
out-of-range command-line value as a usage error (exit code 2), and a config
value out of the same range is one ``mesalens: error:`` line naming the file
and the key (exit code 1).

>>> OPTIONS["alpha"].value_in({})
0.01
>>> try:
...     OPTIONS["alpha"].value_in({"alpha": 2})
... except ConfigValueError as exc:
...     print(exc)
must be a number strictly between 0 and 1, got 2; e.g. 0.01
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import click

from mesalens.connectors.errors import InputError
from mesalens.connectors.regime import DEFAULT_REGIME_NAME, FORMATS

__all__ = [
    "BOOTSTRAP_MAX",
    "CHECK_KEYS",
    "DIRECT_TEST_ROWS_MAX",
    "DIRECT_TEST_ROWS_MIN",
    "EVIDENCE_KEYS",
    "FLAGS",
    "MAX_DEPTH_MAX",
    "OPTIONS",
    "SEED_MAX",
    "TOP_ONLY_KEYS",
    "BoundedInt",
    "ConfigValueError",
    "Option",
    "click_options",
]

# The values the options list, declared here rather than imported from the
# modules that implement them (connectors.kinds, pipeline.discovery, ci_tests,
# bootstrap, deterministic_rule, confirmation), so that `mesalens run --help`
# loads none of pandas, scipy or the data pipeline. tests/test_run_options.py
# checks each against the module's own.
METHODS = ("pc", "ges", "fci", "boss", "grasp")
AUTO = "auto"  # the method chosen from the data (pipeline.method_choice)
TESTS = ("auto", "fisherz", "gsq", "chisq", "dg", "kci")
DTYPE_OVERRIDES = ("float", "int", "category", "bool")
MISSING_POLICIES = ("drop", "error")
DETERMINISTIC_POLICIES = ("drop", "error")
DEFAULT_THRESHOLD = 0.95
DEFAULT_TOLERANCE = "0.1"


def _parse_tolerance(value: Any) -> Any:
    """:meth:`~mesalens.pipeline.confirmation.Tolerance.parse`, imported on first use."""
    from mesalens.pipeline.confirmation import Tolerance

    return Tolerance.parse(value)


#: The largest seed: numpy's legacy generators (used inside causal-learn and
#: scikit-learn) take seeds below 2**32.
SEED_MAX = 2**32 - 1

# Upper bounds of the counts, each one a 24 GiB, 2-core machine can honour
# (docs/reliability.md, "Absurd counts"):
#: ``--max-depth``: deeper than the columns is no limit at all (PC stops there).
MAX_DEPTH_MAX = 1_000
#: ``--bootstrap``: each resample reruns discovery and the check (~1-3 s each
#: on small logs), and all resamples' statistics share the one extra pass.
BOOTSTRAP_MAX = 10_000
#: ``--direct-test-rows``: the sample is held in memory and cross-fitted by
#: boosted regressions; 10M rows of a few columns are ~1 GB and hours of fitting.
DIRECT_TEST_ROWS_MAX = 10_000_000
#: ... and at least: two regimes' worth of the rows a regime needs before an
#: ``all`` can be confirmed (``pipeline.confirmation.MIN_REGIME_ROWS``); fewer
#: could never give exit 0.
DIRECT_TEST_ROWS_MIN = 200


class BoundedInt(click.IntRange):
    """:class:`click.IntRange` in words that quotes at most 40 characters of a value it refuses.

    A 5,000-digit value would otherwise be echoed whole in the usage error.
    """

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """The integer, or a usage error that shows a long value cut short."""
        text = value if isinstance(value, str) else None
        if text is not None and len(text) > 40:
            self.fail(
                f"{text[:20]!r}... ({len(text):,} characters) is not an integer in the range "
                f"{self._describe_range()}",
                param,
                ctx,
            )
        return super().convert(value, param, ctx)

    def _describe_range(self) -> str:
        # In words (see _range_words), like the float ranges.
        return _range_words(self.min, self.max, self.min_open, self.max_open)


class ConfigValueError(InputError):
    """A value of the wrong type or range; the caller prefixes the file (or flag) and the key.

    Parameters
    ----------
    key : str
        The config key whose value is wrong.
    message : str
        What is wrong, starting with ``must be`` or ``is``.
    """

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


Kind = Literal["int", "float", "bool", "choice", "text", "custom"]
Scope = Literal["check", "evidence", "top"]


@dataclass(frozen=True)
class Option:
    """One setting of a check: its flag, key, default, value rule and help.

    Attributes
    ----------
    key : str
        The config key; also the click parameter name.
    flag : str
        The command-line declaration: ``--alpha``, or ``--x/--no-x`` for a switch.
    help : str
        The help text (without the default, which is appended).
    kind : str
        ``int``, ``float``, ``bool``, ``choice``, ``text`` or ``custom``
        (validated by :func:`~mesalens.reports.checks.config.validate_check`).
    default : object
        The value when neither the config nor the command line gives one.
    scope : str
        ``check`` (a ``[[check]]`` key), ``evidence`` (a check key that sets
        the evidence stages) or ``top`` (a config's top level only).
    requirement : str
        What a valid value is, for messages (``a number strictly between 0 and 1``).
    example : str or None
        A valid value, for messages.
    low, high : float or None
        The range of a number (inclusive unless ``low_open``/``high_open``).
    choices : tuple of str
        The values of a ``choice``.
    click_checks : bool
        Whether click refuses a bad command-line value (exit 2) or the
        config's check does (exit 1, naming the flag).
    metavar : str or None
        The value's placeholder in ``--help``.
    multiple : bool
        A repeatable option (its values arrive as a tuple).
    show_default : str or None
        The default as ``--help`` shows it, when not ``str(default)``.
    convert : callable or None
        For a ``custom`` value with a rule of its own: turns the text or
        TOML value into the setting (``Tolerance.parse``), raising
        :class:`~mesalens.connectors.errors.InputError` when it cannot.
    required : bool
        Whether a run needs it (on the command line or in the ``--config``
        file): ``--help`` marks it ``[required]``; the run's validation
        enforces it, since a config file may give it instead.
    """

    key: str
    flag: str
    help: str
    kind: Kind = "text"
    default: Any = None
    scope: Scope = "check"
    requirement: str = ""
    example: str | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    click_checks: bool = True
    metavar: str | None = None
    multiple: bool = False
    show_default: str | None = None
    convert: Callable[[Any], Any] | None = None
    required: bool = False

    def _bad(self, value: Any) -> ConfigValueError:
        tail = f"; e.g. {self.example}" if self.example else ""
        shown = repr(value) if len(repr(value)) <= 40 else f"{repr(value)[:20]}... (long)"
        return ConfigValueError(self.key, f"must be {self.requirement}, got {shown}{tail}")

    def check(self, value: Any) -> Any:
        """``value`` if it is valid for this option (TOML types), else raise.

        Raises
        ------
        ConfigValueError
            Naming what a valid value is, the value, and an example.
        """
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise self._bad(value)
            return value
        if self.kind == "choice":
            if value not in self.choices:
                raise self._bad(value)
            return value
        if self.kind in ("int", "float"):
            accepted = (int,) if self.kind == "int" else (int, float)
            if isinstance(value, bool) or not isinstance(value, accepted):
                raise self._bad(value)
            if not self._in_range(value):
                raise self._bad(value)
            return float(value) if self.kind == "float" else value
        if self.convert is not None:
            try:
                return self.convert(value)
            except InputError:
                raise self._bad(value) from None
        return value

    def _in_range(self, value: float) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (
            self.high is not None and (value >= self.high if self.high_open else value > self.high)
        )

    def value_in(self, config: Mapping[str, Any]) -> Any:
        """The checked value of this option in ``config``, or its default when absent."""
        if self.key not in config:
            return self.default if self.convert is None else self.convert(self.default)
        return self.check(config[self.key])

    def click_type(self) -> click.ParamType | None:
        """The click type that parses (and, with ``click_checks``, checks) the flag's text."""
        if not self.click_checks or self.kind in ("text", "custom"):
            return None
        if self.kind == "int":
            return BoundedInt(
                None if self.low is None else int(self.low),
                None if self.high is None else int(self.high),
            )
        if self.kind == "float":
            return _FloatRange(self.low, self.high, min_open=self.low_open, max_open=self.high_open)
        if self.kind == "choice":
            return click.Choice(self.choices)
        return None

    def click_option(self) -> Callable[[Any], Any]:
        """The ``click.option`` decorator of this option."""
        shown = self.show_default if self.show_default is not None else self.default
        help_text = self.help
        if self.required:
            help_text = f"{help_text}  [required]"
        if shown is not None and shown != "":
            help_text = f"{help_text}  [default: {shown}]" if help_text else f"[default: {shown}]"
        is_switch = "/" in self.flag
        return click.option(
            self.flag,
            self.key,
            type=self.click_type(),
            default=None,
            multiple=self.multiple,
            # click would show "INTEGER RANGE" / "FLOAT RANGE" for a bounded number.
            metavar=self.metavar or {"int": "INTEGER", "float": "NUMBER"}.get(self.kind),
            help=help_text,
            **({"show_default": False} if is_switch else {}),
        )


def _range_words(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    """A range as ``--help`` and click's out-of-range message say it, in words.

    click's own ``[0<=x<=4294967295]`` and ``[x>=100]`` are hard to read.

    >>> _range_words(0, 4294967295, False, False)
    'from 0 to 4,294,967,295'
    >>> _range_words(100, None, False, False), _range_words(0, 1, True, True)
    ('100 or more', 'strictly between 0 and 1')
    >>> _range_words(0, 1, True, False), _range_words(-1, None, False, False)
    ('above 0, at most 1', '-1 or more')
    """

    def number(value: float) -> str:
        return (
            f"{value:,}"
            if isinstance(value, int) or (float(value).is_integer() and abs(value) >= 1000)
            else f"{value:g}"
        )

    if low is not None and high is not None:
        if low_open and high_open:
            return f"strictly between {number(low)} and {number(high)}"
        if not low_open and not high_open:
            return f"from {number(low)} to {number(high)}"
        lower = f"above {number(low)}" if low_open else f"at least {number(low)}"
        upper = f"below {number(high)}" if high_open else f"at most {number(high)}"
        return f"{lower}, {upper}"
    if low is not None:
        return f"above {number(low)}" if low_open else f"{number(low)} or more"
    if high is not None:
        return f"below {number(high)}" if high_open else f"{number(high)} or less"
    return ""


class _FloatRange(click.FloatRange):
    """click's number range, described in words (:func:`_range_words`)."""

    def _describe_range(self) -> str:
        return _range_words(self.min, self.max, self.min_open, self.max_open)


def _option_table(options: Sequence[Option]) -> dict[str, Option]:
    table = {option.key: option for option in options}
    if len(table) != len(options):  # a duplicated entry: a bug in this module
        raise AssertionError("two options share a key")
    return table


_ONE_OF = "one of {}"

#: Every setting of a check, in ``--help`` order.
OPTIONS: dict[str, Option] = _option_table(
    [
        Option(
            "regimes",
            "--regime",
            "A regime and its logs (file, glob, hive folder, fsspec URL or SQL URL); repeat. "
            "NAME:FORMAT=PATH names this regime's reader (e.g. deploy:csv=logs/deploy.log).",
            kind="custom",
            metavar="NAME[:FORMAT]=PATH",
            multiple=True,
            required=True,
        ),
        Option(
            "format",
            "--format",
            f"Reader ({'|'.join(FORMATS)}) for every regime that does not name its own "
            "NAME:FORMAT, in place of telling it from the file suffix (.csv .tsv .tab .parquet "
            ".pq .jsonl .ndjson, optionally .gz/.zst) or a database URL.",
            kind="custom",
            metavar="FMT",
            show_default="from the suffix",
        ),
        Option(
            "regime_name",
            "--regime-name",
            "Name of the regime node.",
            kind="custom",
            default=DEFAULT_REGIME_NAME,
            metavar="NAME",
        ),
        Option(
            "base",
            "--base",
            "The base objective Y_b (columns).",
            kind="custom",
            metavar="NAMES",
            required=True,
        ),
        Option(
            "mesa",
            "--mesa",
            "The mesa objective Y_m (columns).",
            kind="custom",
            metavar="NAMES",
            required=True,
        ),
        Option(
            "decision",
            "--decision",
            "The mesa decision D_m (columns).",
            kind="custom",
            metavar="NAMES",
            required=True,
        ),
        Option(
            "policy_inputs",
            "--policy-inputs",
            "What the policy reads: 'keep' (D_m's parents in each DAG), 'none', or columns.",
            kind="custom",
            default="keep",
            metavar="keep|none|A,B,...",
        ),
        Option(
            "method",
            "--method",
            "The structure search; 'auto' picks one for the data by measured accuracy "
            "(GES for continuous data, BOSS for discrete, PC otherwise; docs/run.md).",
            kind="choice",
            default=AUTO,
            choices=(AUTO, *METHODS),
            requirement=_ONE_OF.format(", ".join((AUTO, *METHODS))),
        ),
        Option(
            "test",
            "--test",
            f"The conditional-independence test ({'|'.join(TESTS)}).",
            kind="choice",
            default="auto",
            choices=TESTS,
            requirement=_ONE_OF.format(", ".join(TESTS)),
            click_checks=False,
            metavar="NAME",
        ),
        Option(
            "alpha",
            "--alpha",
            "Significance level of the CI tests.",
            kind="float",
            default=0.01,
            low=0,
            high=1,
            low_open=True,
            high_open=True,
            requirement="a number strictly between 0 and 1",
            example="0.01",
        ),
        Option(
            "max_depth",
            "--max-depth",
            f"Largest conditioning set (-1: no limit; at most {MAX_DEPTH_MAX}).",
            kind="int",
            default=-1,
            low=-1,
            high=MAX_DEPTH_MAX,
            requirement=f"an integer from -1 to {MAX_DEPTH_MAX} (-1: no limit)",
            example="3",
        ),
        Option(
            "knowledge",
            "--knowledge",
            "Tetrad knowledge file (tiers, required and forbidden edges).",
            kind="custom",
            metavar="FILE",
        ),
        Option("columns", "--columns", "Use only these columns.", kind="custom", metavar="A,B,..."),
        Option(
            "dtypes",
            "--dtype",
            f"Read COLUMN as KIND ({'|'.join(DTYPE_OVERRIDES)}), e.g. action=category for an "
            "int-coded category; repeat. Merged with the config's dtypes table; these win.",
            kind="custom",
            metavar="COLUMN=KIND",
            multiple=True,
        ),
        Option(
            "missing",
            "--missing",
            "Rows with missing values: drop them, or stop with an error.",
            kind="choice",
            default="drop",
            choices=MISSING_POLICIES,
            requirement=_ONE_OF.format(", ".join(MISSING_POLICIES)),
        ),
        Option(
            "deterministic",
            "--deterministic",
            "Deterministic relations among the columns (constant, derived, equivalent): "
            "leave columns out by the rule of docs/deterministic.md and go on, or stop with "
            "one line naming them all.",
            kind="choice",
            default="drop",
            choices=DETERMINISTIC_POLICIES,
            requirement=_ONE_OF.format(", ".join(DETERMINISTIC_POLICIES)),
        ),
        Option(
            "na_values",
            "--na-values",
            "Text read as a missing value in every column, comma-separated (e.g. None,NA). "
            "Without it a text column reads only empty fields as missing (None, NA, null, N/A "
            "are values); a numeric column also the usual tokens.",
            kind="custom",
            metavar="A,B,...",
            show_default="none",
        ),
        Option(
            "seed",
            "--seed",
            "Seed for everything random.",
            kind="int",
            default=0,
            low=0,
            high=SEED_MAX,
            requirement=f"an integer from 0 to {SEED_MAX}",
            example="0",
        ),
        Option(
            "sensitivity",
            "--sensitivity/--no-sensitivity",
            "Linear-Gaussian sensitivity analysis per σ-graph.",
            kind="bool",
            default=True,
            scope="evidence",
            requirement="true or false",
            show_default="on",
        ),
        Option(
            "bootstrap",
            "--bootstrap",
            "Rerun discovery and check on B Poisson resamples: verdict shares, edge frequencies "
            f"(at most {BOOTSTRAP_MAX:,}).",
            kind="int",
            default=0,
            low=0,
            high=BOOTSTRAP_MAX,
            scope="evidence",
            requirement=f"a number of resamples from 0 to {BOOTSTRAP_MAX:,}",
            example="100 (0: off)",
            metavar="B",
            show_default="0, off",
        ),
        Option(
            "stability_threshold",
            "--stability-threshold",
            "With --bootstrap: the verdict is stable when this share of resamples give it.",
            kind="float",
            default=DEFAULT_THRESHOLD,
            low=0,
            high=1,
            low_open=True,
            scope="evidence",
            requirement="a share in (0, 1]",
            example="0.95",
            metavar="SHARE",
        ),
        Option(
            "advice",
            "--advice/--no-advice",
            "What would settle a 'some' and which policy inputs would pass (advice-knowledge.txt "
            "in --out when knowledge settles it).",
            kind="bool",
            default=True,
            scope="evidence",
            requirement="true or false",
            show_default="on",
        ),
        Option(
            "direct_test",
            "--direct-test/--no-direct-test",
            "Test Y_b ⊥ s | Y_m on the logs and estimate the alignment gap.",
            kind="bool",
            default=True,
            scope="evidence",
            requirement="true or false",
            show_default="on",
        ),
        Option(
            "direct_test_rows",
            "--direct-test-rows",
            "Sample at most N rows for the direct test's regressions (at most "
            f"{DIRECT_TEST_ROWS_MAX:,}).",
            kind="int",
            default=100_000,
            low=DIRECT_TEST_ROWS_MIN,
            high=DIRECT_TEST_ROWS_MAX,
            scope="evidence",
            requirement=f"an integer from {DIRECT_TEST_ROWS_MIN} to {DIRECT_TEST_ROWS_MAX:,}",
            example="100000",
            metavar="N",
        ),
        Option(
            "direct_test_alpha",
            "--direct-test-alpha",
            "Level of the direct test and of the equivalence test behind exit 0 (discovery's "
            "CI tests use --alpha). Less than 0.5: from 0.5 up, the equivalence test would "
            "confirm gaps estimated beyond the tolerance.",
            kind="float",
            default=0.05,
            low=0,
            high=0.5,
            low_open=True,
            high_open=True,
            scope="evidence",
            requirement="a number strictly between 0 and 0.5",
            example="0.05",
            metavar="LEVEL",
        ),
        Option(
            "tolerance",
            "--tolerance",
            "The largest alignment gap |E[Y_b | Y_m, deploy] - E[Y_b | Y_m, train]| you accept: "
            "in within-regime SDs of Y_b (0.1, 0.1sd) or in Y_b's units (0.5abs). Exit 0 needs "
            "the logs to confirm the gap is within it, averaged over Y_m and at each decile of "
            "Y_m (at most 1 SD).",
            kind="custom",
            default=DEFAULT_TOLERANCE,
            scope="evidence",
            requirement="a positive number of within-regime SDs of Y_b, at most 1 (0.1, "
            "0.1sd), or of Y_b's own units (0.5abs)",
            example="0.1",
            metavar="DELTA[sd|abs]",
            show_default="0.1 SD",
            convert=_parse_tolerance,
        ),
        Option(
            "scheduler",
            "--scheduler",
            "A dask.distributed scheduler address.",
            kind="custom",
            scope="top",
            metavar="ADDRESS",
        ),
        Option(
            "out",
            "--out",
            "Folder for result.json, graph.txt and report.html (or out in the --config file).",
            kind="custom",
            scope="top",
            metavar="DIR",
            required=True,
        ),
    ]
)

#: The keys of the evidence beyond the graph.
EVIDENCE_KEYS: tuple[str, ...] = tuple(k for k, o in OPTIONS.items() if o.scope == "evidence")
#: The keys a ``[[check]]`` table (or a job file's top level, as defaults) may hold.
CHECK_KEYS: tuple[str, ...] = tuple(k for k, o in OPTIONS.items() if o.scope != "top")
#: The keys only a config's top level takes.
TOP_ONLY_KEYS: tuple[str, ...] = tuple(k for k, o in OPTIONS.items() if o.scope == "top")
#: The command-line flag of each key, for messages about a value given there.
FLAGS: dict[str, str] = {key: option.flag for key, option in OPTIONS.items()}


def click_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a click command with every option of :data:`OPTIONS`, in table order."""
    for option in reversed(OPTIONS.values()):
        command = option.click_option()(command)
    return command
