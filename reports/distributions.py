"""The per-regime distributions of the data, for the report: computed, tabled and drawn.

The criterion (``spec/criterion.md``) is a d-separation in the graph,
``Y_b ⊥ s | Y_m`` in ``G_σ``; the data beside it show *where* the regimes
differ. For each column (role variables first)
this module computes its distribution in every regime with shared bins, and
one number for how far each regime moved from the first:

* numeric columns: the standardised mean difference
  ``SMD = (m₁ - m₀) / sqrt((s₀² + s₁²) / 2)`` (Cohen's d with the two
  standard deviations pooled as in Austin, "Balance diagnostics for comparing
  the distribution of baseline covariates between treatment groups in
  propensity-score matched samples", *Statistics in Medicine* 28, 2009);
* categorical columns: the total variation distance
  ``TVD = ½ Σ_c |p₀(c) - p₁(c)|`` between the category shares.

:func:`regime_distributions` takes the numbers from the loader's single pass
(``LoadedData.profile``: ranges, moments and category counts, and a uniform
sample for the histograms) and reads nothing; without a profile it runs two
dask passes. :func:`distribution_rows` turns the result into the report's
table rows, each with a small overlaid SVG of the regimes' shares.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import dask
import numpy as np
import pandas as pd
from markupsafe import Markup, escape

from mesalens.connectors.moments import VALUE as _VALUE_LABEL
from mesalens.reports.formatting import format_number, format_signed

if TYPE_CHECKING:  # the loader (dask.dataframe) is not needed to draw a report
    from mesalens.connectors.loaded import LoadedData

__all__ = [
    "MAX_CATEGORIES",
    "MAX_DISTRIBUTION_COLUMNS",
    "REGIME_PALETTE",
    "distribution_rows",
    "regime_distributions",
]

#: Columns whose distributions are computed and drawn (role variables first).
MAX_DISTRIBUTION_COLUMNS = 30
#: Categories drawn per categorical column (the most frequent).
MAX_CATEGORIES = 12
#: The colour of each regime, in the order of its code, in the plots and their legend.
REGIME_PALETTE = ("#2563eb", "#ea580c", "#16a34a", "#9333ea", "#db2777", "#0d9488")


def regime_distributions(
    data: LoadedData,
    bins: int = 20,
    *,
    first: Sequence[str] = (),
    max_columns: int = MAX_DISTRIBUTION_COLUMNS,
) -> dict[str, Any]:
    """Per-regime histograms and mean/std shifts of the columns, from the loader's pass.

    When ``data.profile`` is there (:func:`mesalens.connectors.load_regimes`
    sets it), nothing is read: ranges, per-regime moments and category
    counts come from the loader's single pass, and the histograms from its
    uniform sample (exact up to
    :data:`mesalens.connectors.loader.SAMPLE_SIZE` rows per regime). Without
    it, two dask passes compute the same, as follows.

    The first pass takes each numeric column's minimum and maximum (for bin
    edges shared by all regimes) and each categorical column's counts per
    regime; the second the per-regime histograms with those edges
    (:func:`numpy.histogram` per partition, summed: what
    :func:`dask.array.histogram` does, kept inside the dataframe graph so the
    pass is one graph), means and standard deviations. Each pass is one
    :func:`dask.compute`, so every partition is read once per pass.

    Parameters
    ----------
    data : LoadedData
        The pooled regimes (:func:`mesalens.connectors.load_regimes`).
    bins : int
        Histogram bins for continuous columns (a whole-number column with at
        most ``bins`` values gets one bin per value).
    first : sequence of str, optional
        Columns to take first (the role variables), before the others in order.
    max_columns : int
        At most this many columns are summarised.

    Returns
    -------
    dict
        JSON-ready: ``regime_labels``, ``bins``, ``n_columns`` (all variables),
        ``truncated`` and ``columns``, a list of per-column dicts with
        ``name``, ``kind``, ``type`` (``numeric`` or ``categorical``),
        ``rows`` per regime, and ``edges`` and ``counts`` (one list per regime)
        or ``categories`` and ``counts``; numeric ones also ``mean``, ``std``
        and ``smd`` (standardised mean difference of each regime against the
        first), categorical ones ``tvd`` (total variation distance against
        the first). ``shift`` is the largest absolute SMD or TVD.
    """
    regime = data.regime_name
    codes = list(range(len(data.regime_labels)))
    variables = list(data.variables)
    chosen = list(dict.fromkeys(c for c in first if c in variables))  # roles may overlap
    chosen += [c for c in variables if c not in chosen]
    columns = chosen[:max_columns]

    # The loader's single pass already took what both passes below compute
    # (ranges, moments and cells per regime, and a sample for histograms),
    # and knows the frame's dtypes: then the frame is not even built.
    profile = getattr(data, "profile", None)
    if profile is not None and (len(profile.regimes) != len(codes) or not profile.dtypes):
        profile = None
    dtypes = profile.dtypes if profile is not None else data.frame.dtypes
    categorical = [c for c in columns if str(dtypes[c]) == "category"]
    numeric = [c for c in columns if c not in categorical]

    # Pass 1: min/max of the numeric columns; counts of the categorical ones.
    if profile is not None:
        first_pass = _profile_first_pass(profile, regime, numeric, categorical)
    else:
        frame = data.frame
        lazy: dict[str, Any] = {}
        if numeric:
            lazy["min"] = frame[numeric].min()
            lazy["max"] = frame[numeric].max()
        for column in categorical:
            lazy[f"cat:{column}"] = frame.groupby([regime, column], observed=True).size()
        lazy["rows"] = frame.groupby(regime).size()
        (first_pass,) = dask.compute(lazy)
    rows_per_regime = {int(k): int(v) for k, v in first_pass["rows"].items()}

    # Pass 2: histograms with common edges, and moments, per regime.
    edges: dict[str, np.ndarray] = {}
    for column in numeric:
        low, high = float(first_pass["min"][column]), float(first_pass["max"][column])
        whole = str(dtypes[column]).startswith("int")
        if whole and high - low + 1 <= bins:
            edges[column] = np.arange(low - 0.5, high + 1.0, 1.0)
        elif high > low:
            # Halved, so that a range such as -1e308 .. 1e308 does not overflow.
            edges[column] = np.linspace(low / 2, high / 2, bins + 1) * 2
        else:
            edges[column] = np.array([low - 0.5, low + 0.5])
    second: dict[str, Any] = {}
    if numeric and profile is not None:
        layout = [(code, column) for code in codes for column in numeric]
    elif numeric:
        grouped = frame[[regime, *numeric]].groupby(regime)
        second["mean"] = grouped.mean()
        second["std"] = grouped.std()
        layout = [(code, column) for code in codes for column in numeric]
        labels = [
            f"{k}:{i}"
            for k, (_code, column) in enumerate(layout)
            for i in range(len(edges[column]) - 1)
        ]
        second["hist"] = (
            frame[[regime, *numeric]]
            .map_partitions(
                _partition_histograms,
                regime,
                layout,
                edges,
                labels,
                meta=pd.DataFrame({label: pd.Series(dtype="int64") for label in labels}),
            )
            .sum()
        )
    if numeric and profile is not None:
        second_pass = _profile_second_pass(profile, codes, numeric, edges, layout)
    else:
        (second_pass,) = dask.compute(second) if second else ({},)

    out_columns = []
    for column in columns:
        entry: dict[str, Any] = {
            "name": column,
            "kind": data.kinds.get(column, ""),
            "rows": [rows_per_regime.get(code, 0) for code in codes],
        }
        if column in numeric:
            means = [_float(second_pass["mean"], code, column) for code in codes]
            stds = [_float(second_pass["std"], code, column) for code in codes]
            smd = [_smd(means[0], stds[0], means[k], stds[k]) for k in range(len(codes))]
            entry.update(
                type="numeric",
                edges=[float(e) for e in edges[column]],
                counts=[_histogram(second_pass["hist"], layout, code, column) for code in codes],
                mean=means,
                std=stds,
                smd=[None, *smd[1:]],
                shift=max((abs(s) for s in smd[1:] if s is not None), default=None),
            )
        else:
            table = first_pass[f"cat:{column}"]
            per_regime: list[dict[str, int]] = [{} for _ in codes]
            for (code, level), count in table.items():
                per_regime[int(code)][str(level)] = int(count)
            totals: dict[str, int] = {}
            for counts_of in per_regime:
                for level, count in counts_of.items():
                    totals[level] = totals.get(level, 0) + count
            levels = sorted(totals, key=lambda lv: (-totals[lv], lv))
            shown = levels[:MAX_CATEGORIES]
            tvd = [_tvd(per_regime[0], per_regime[k]) for k in range(len(codes))]
            entry.update(
                type="categorical",
                categories=shown,
                n_categories=len(levels),
                counts=[[counts_of.get(level, 0) for level in shown] for counts_of in per_regime],
                tvd=[None, *tvd[1:]],
                shift=max((t for t in tvd[1:] if t is not None), default=None),
            )
        out_columns.append(entry)
    return {
        "regime_labels": list(data.regime_labels),
        "bins": bins,
        "n_columns": len(variables),
        "truncated": len(variables) > len(columns),
        "columns": out_columns,
    }


def _profile_first_pass(
    profile: Any, regime: str, numeric: Sequence[str], categorical: Sequence[str]
) -> dict[str, Any]:
    """Pass 1's results (ranges, category counts, rows) from the loader's profile."""
    out: dict[str, Any] = {
        "min": pd.Series({c: profile.low.get(c, math.nan) for c in numeric}, dtype="float64"),
        "max": pd.Series({c: profile.high.get(c, math.nan) for c in numeric}, dtype="float64"),
        "rows": pd.Series({code: m.n for code, m in enumerate(profile.regimes)}),
    }
    for column in categorical:
        table: dict[tuple[int, Any], int] = {}
        for code, moments in enumerate(profile.regimes):
            at = moments.cell_columns.index(column)
            for key, count in moments.cells.items():
                table[(code, key[at])] = table.get((code, key[at]), 0) + count
        out[f"cat:{column}"] = pd.Series(table, dtype="int64")
    return out


def _profile_second_pass(
    profile: Any,
    codes: Sequence[int],
    numeric: Sequence[str],
    edges: Mapping[str, np.ndarray],
    layout: Sequence[tuple[int, str]],
) -> dict[str, Any]:
    """Pass 2's results: moments per regime, and histograms of the pass's uniform sample.

    The counts are exact up to the sample's size per regime
    (:data:`mesalens.connectors.loader.SAMPLE_SIZE`), a uniform sample
    beyond it; the report draws shares, not counts.
    """
    moments = profile.regimes
    mean = pd.DataFrame(
        {c: [moments[code].mean((c, _VALUE_LABEL)) for code in codes] for c in numeric},
        index=list(codes),
    )
    std = pd.DataFrame(
        {
            c: [math.sqrt(moments[code].variance((c, _VALUE_LABEL))) for code in codes]
            for c in numeric
        },
        index=list(codes),
    )
    hist: dict[str, int] = {}
    for k, (code, column) in enumerate(layout):
        values = profile.samples[code].get(column, np.zeros(0))
        column_edges = edges[column]
        values = values[np.isfinite(values)]
        counts = _uniform_histogram(values, column_edges)
        hist.update({f"{k}:{i}": int(v) for i, v in enumerate(counts)})
    return {"mean": mean, "std": std, "hist": pd.Series(hist, dtype="int64")}


def _partition_histograms(
    part: pd.DataFrame,
    regime: str,
    layout: Sequence[tuple[int, str]],
    edges: Mapping[str, np.ndarray],
    labels: Sequence[str],
) -> pd.DataFrame:
    """One partition's histogram counts per (regime, column), flattened into one row."""
    counts: list[np.ndarray] = []
    codes = part[regime].to_numpy()
    for code, column in layout:
        values = part[column].to_numpy(dtype="float64")[codes == code]
        bounds = edges[column]
        # The edges are uniform: bins + range counts the same without sorting.
        finite = values[np.isfinite(values)]
        counts.append(_uniform_histogram(finite, bounds))
    flat = np.concatenate(counts) if counts else np.zeros(0, dtype="int64")
    return pd.DataFrame([flat.astype("int64")], columns=list(labels))


def _histogram(
    totals: pd.Series, layout: Sequence[tuple[int, str]], code: int, column: str
) -> list[int]:
    k = layout.index((code, column))
    prefix = f"{k}:"
    return [int(v) for label, v in totals.items() if str(label).startswith(prefix)]


def _uniform_histogram(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin of uniform ``edges``: bins + range, without sorting (same counts).

    A range wider than float64 holds (``-1e308 .. 1e308``) is counted in
    quarters of the unit (a power of two: the same bins, exactly).
    """
    low, high = float(edges[0]), float(edges[-1])
    scale = 1.0 if math.isfinite(high - low) else 0.25
    with np.errstate(over="ignore", invalid="ignore"):
        return np.histogram(values * scale, bins=len(edges) - 1, range=(low * scale, high * scale))[
            0
        ]


def _float(table: Any, code: int, column: str) -> float | None:
    try:
        value = float(table.loc[code, column])
    except (KeyError, TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _smd(m0: float | None, s0: float | None, m1: float | None, s1: float | None) -> float | None:
    """Standardised mean difference ``(m1 - m0) / sqrt((s0² + s1²) / 2)``."""
    if None in (m0, s0, m1, s1):
        return None
    pooled = math.hypot(s0, s1) / math.sqrt(2)  # type: ignore[arg-type]
    if pooled == 0:
        return None
    return (m1 - m0) / pooled  # type: ignore[operator]


def _tvd(p: Mapping[str, int], q: Mapping[str, int]) -> float | None:
    total_p, total_q = sum(p.values()), sum(q.values())
    if not total_p or not total_q:
        return None
    levels = set(p) | set(q)
    return 0.5 * sum(abs(p.get(lv, 0) / total_p - q.get(lv, 0) / total_q) for lv in levels)


def _histogram_svg(entry: Mapping[str, Any], labels: Sequence[str]) -> Markup:
    """A small SVG of the per-regime distributions of one column (shares, overlaid)."""
    width, height, pad = 176.0, 46.0, 2.0
    counts = entry["counts"]
    shares = []
    for row in counts:
        total = sum(row)
        shares.append([c / total if total else 0.0 for c in row])
    peak = max((max(row, default=0.0) for row in shares), default=0.0) or 1.0
    n = max((len(row) for row in shares), default=0)
    if n == 0:
        return Markup("")
    step = (width - 2 * pad) / n
    parts = [
        f'<svg class="dist" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-label="distribution of {escape(entry["name"])} per regime">',
        f'<line x1="0" y1="{height - 1:.1f}" x2="{width:.0f}" y2="{height - 1:.1f}" '
        'stroke="#cbd5e1"/>',
    ]
    if entry["type"] == "categorical":
        group = len(shares)
        bar = step / (group + 0.6)
        for k, row in enumerate(shares):
            color = REGIME_PALETTE[k % len(REGIME_PALETTE)]
            for i, share in enumerate(row):
                h = (height - 2 * pad) * share / peak
                x = pad + i * step + 0.3 * bar + k * bar
                parts.append(
                    f'<rect x="{x:.1f}" y="{height - 1 - h:.1f}" width="{bar:.1f}" '
                    f'height="{h:.1f}" fill="{color}" fill-opacity="0.75"/>'
                )
    else:
        for k, row in enumerate(shares):
            color = REGIME_PALETTE[k % len(REGIME_PALETTE)]
            points = [f"M{pad:.1f},{height - 1:.1f}"]
            for i, share in enumerate(row):
                y = height - 1 - (height - 2 * pad) * share / peak
                points.append(f"L{pad + i * step:.1f},{y:.1f} L{pad + (i + 1) * step:.1f},{y:.1f}")
            points.append(f"L{width - pad:.1f},{height - 1:.1f}")
            fill = ' fill-opacity="0.18"' if k == 0 else ' fill-opacity="0.08"'
            parts.append(
                f'<path d="{" ".join(points)}" fill="{color}"{fill} stroke="{color}" '
                'stroke-width="1.4" stroke-linejoin="round"/>'
            )
    title = "; ".join(str(label) for label in labels)
    parts.append(f"<title>{escape(entry['name'])}: {escape(title)}</title></svg>")
    return Markup("".join(parts))


def distribution_rows(
    distributions: Mapping[str, Any], data: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """The report's table of the distributions: one row per column, with its plot.

    Parameters
    ----------
    distributions : mapping
        From :func:`regime_distributions`.
    data : mapping or None
        The run document's ``data`` part, for the missing values per regime.

    Returns
    -------
    list of dict
        Per column: ``name``, ``kind``, ``missing`` (per regime), ``stats``
        (mean ± std per regime, or the number of levels), ``shift_label``
        (``SMD`` or ``TVD``), ``shifts`` against the first regime,
        ``shift_level`` (``high`` from 0.5, ``mid`` from 0.2) and ``plot``
        (inline SVG).
    """
    labels = distributions.get("regime_labels", [])
    missing_per_regime = []
    for summary in (data or {}).get("regimes", []):
        missing_per_regime.append(summary.get("missing") or {})
    rows = []
    for entry in distributions.get("columns", []):
        name = entry["name"]
        missing = [str(m.get(name, 0)) for m in missing_per_regime] if missing_per_regime else []
        if entry["type"] == "numeric":
            stats = [
                f"{format_number(m)} ± {format_number(s)}"
                for m, s in zip(entry.get("mean", []), entry.get("std", []), strict=False)
            ]
            shift_label = "SMD"
            shifts = [format_signed(v) for v in entry.get("smd", [])[1:]]
        else:
            shown = len(entry.get("categories", []))
            more = entry.get("n_categories", shown) - shown
            stats = [
                f"{entry.get('n_categories', shown)} levels" + (f" ({shown} drawn)" if more else "")
            ]
            shift_label = "TVD"
            shifts = ["–" if v is None else f"{v:.2f}" for v in entry.get("tvd", [])[1:]]
        shift = entry.get("shift")
        level = "" if shift is None else ("high" if shift >= 0.5 else "mid" if shift >= 0.2 else "")
        rows.append(
            {
                "name": name,
                "kind": entry.get("kind", ""),
                "missing": missing,
                "stats": stats,
                "shift_label": shift_label,
                "shifts": shifts,
                "shift_level": level,
                "plot": _histogram_svg(entry, labels),
            }
        )
    return rows
