"""The report's figures as PNG files: ROUGE with confidence intervals, a confusion matrix, a
reliability diagram, ROC curves.

Figures are drawn on `matplotlib.figure.Figure` with the Agg canvas, never through pyplot, so
nothing here touches matplotlib's global backend or needs a display.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 120


def _save(fig: Figure, path: Path) -> None:
    FigureCanvasAgg(fig)  # attaches itself to the figure: savefig renders with Agg
    fig.savefig(path, dpi=DPI, bbox_inches="tight")


def bars_with_ci(
    path: Path,
    systems: Mapping[str, Mapping[str, Any]],
    keys: Sequence[str],
    *,
    title: str,
    ylabel: str,
) -> None:
    """Grouped bars, one group per metric key and one bar per system, with the 95% interval
    (`figures["ci95"][key]`) as error bars where the system has one."""
    names = list(systems)
    width = 0.8 / max(len(names), 1)
    top = 0.0
    fig = Figure(figsize=(max(6.0, 1.2 * len(keys) * max(len(names), 1) * 0.6), 4.0))
    ax = fig.add_subplot()
    for i, name in enumerate(names):
        figures = systems[name]
        values = [float(figures.get(k, 0.0)) for k in keys]
        ci = figures.get("ci95", {})
        # Asymmetric error bars: below and above the point estimate.
        err = [
            [v - ci[k][0] if k in ci else 0.0 for k, v in zip(keys, values, strict=True)],
            [ci[k][1] - v if k in ci else 0.0 for k, v in zip(keys, values, strict=True)],
        ]
        top = max([top, *(v + e for v, e in zip(values, err[1], strict=True))])
        xs = [j + (i - (len(names) - 1) / 2) * width for j in range(len(keys))]
        ax.bar(xs, values, width, yerr=err, capsize=3, label=name.strip("*"))
    ax.set_xticks(range(len(keys)), list(keys))
    ax.set_ylim(0, 1.35 * top if top > 0 else 1.0)  # headroom: the legend sits above the bars
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize="small", loc="upper right", ncols=min(len(names), 3))
    ax.grid(axis="y", alpha=0.3)
    _save(fig, path)


def confusion_matrix(
    path: Path, labels: Sequence[str], matrix: Sequence[Sequence[int]], *, title: str
) -> None:
    """Counts in each cell; colour is the share of the gold row (recall), so rare classes read as
    clearly as frequent ones."""
    shares = [[c / max(sum(row), 1) for c in row] for row in matrix]
    fig = Figure(figsize=(1.3 * len(labels) + 2, 1.1 * len(labels) + 1.5))
    ax = fig.add_subplot()
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            ax.text(
                j,
                i,
                str(count),
                ha="center",
                va="center",
                color="white" if shares[i][j] > 0.5 else "black",
            )
    ax.set_xticks(range(len(labels)), list(labels))
    ax.set_yticks(range(len(labels)), list(labels))
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label="share of the gold row")
    _save(fig, path)


def reliability_diagram(path: Path, calibration: Mapping[str, Any], *, title: str) -> None:
    """Accuracy against confidence per bin (top panel, the diagonal is perfect calibration) and
    how many predictions fall in each bin (bottom panel). Figures in %, as `calibration` holds."""
    bins = calibration["bins"]
    width = 100.0 / max(len(bins), 1)
    centres = [(b["low"] + b["high"]) / 2 for b in bins]
    fig = Figure(figsize=(5.0, 5.5))
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    filled = [(c, b) for c, b in zip(centres, bins, strict=True) if b["count"]]
    top.bar(
        [c for c, _ in filled],
        [b["accuracy"] for _, b in filled],
        width * 0.9,
        label="accuracy",
        edgecolor="black",
    )
    top.plot([0, 100], [0, 100], linestyle="--", color="grey", label="perfect calibration")
    top.plot(
        [c for c, _ in filled],
        [b["confidence"] for _, b in filled],
        "o",
        color="red",
        label="mean confidence",
    )
    top.set_xlim(0, 100)
    top.set_ylim(0, 100)
    top.set_ylabel("accuracy (%)")
    top.set_title(f"{title} (ECE {calibration['ece']:.1f}%)")
    top.legend(fontsize="small", loc="upper left")
    bottom.bar(centres, [b["count"] for b in bins], width * 0.9, color="grey")
    bottom.set_xlabel("confidence of the predicted label (%)")
    bottom.set_ylabel("pairs")
    _save(fig, path)


def roc_curves(
    path: Path,
    curves: Mapping[str, Mapping[str, Sequence[float]]],
    thin: Mapping[str, Mapping[str, Sequence[float]]],
    points: Mapping[str, tuple[float, float]],
    *,
    title: str,
) -> None:
    """ROC curves (`{"fpr": [...], "tpr": [...]}` each): `curves` drawn bold, `thin` ones (e.g.
    per source) dashed, and operating points (fpr, tpr) marked; the diagonal is chance."""
    fig = Figure(figsize=(5.5, 5.0))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", label="chance")
    for name, c in curves.items():
        ax.plot(c["fpr"], c["tpr"], linewidth=2, label=name)
    for name, c in thin.items():
        ax.plot(c["fpr"], c["tpr"], linewidth=1, linestyle="--", label=name)
    for (name, (x, y)), marker in zip(points.items(), "oXsD^v", strict=False):
        ax.plot([x], [y], marker=marker, markersize=9, linestyle="none", markeredgecolor="black", label=name)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("false positive rate (inconsistent called consistent)")
    ax.set_ylabel("true positive rate (consistent called consistent)")
    ax.set_title(title, fontsize="medium")
    ax.legend(fontsize="x-small", loc="lower right")
    ax.grid(alpha=0.3)
    _save(fig, path)
