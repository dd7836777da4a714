"""Monitor records out: a plain-text table, CSV, JSON lines, TensorBoard, a plot.

None of these needs pandas. TensorBoard needs the ``tensorboard`` package (an
optional extra); the plot needs matplotlib (the ``plot`` extra).
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "TABLE_COLUMNS",
    "TensorBoardLogger",
    "format_table",
    "plot_history",
    "write_csv",
    "write_jsonl",
]

#: Columns of the summary table, in order.
TABLE_COLUMNS = (
    "layer",
    "kind",
    "units",
    "dead_fraction",
    "sparsity",
    "saturation",
    "mean",
    "std",
    "grad_norm",
    "revived_total",
    "window",
)

_SCALARS = (
    "dead_fraction",
    "sparsity",
    "saturation",
    "frozen_fraction",
    "mean",
    "std",
    "grad_norm",
    "grad_norm_ratio",
    "ever_dead_fraction",
    "died",
    "revived",
)


def format_value(v: Any) -> str:
    """A cell: floats to 3 significant digits, ``-`` for missing."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        if v == 0:
            return "0"
        if 1e-3 <= abs(v) < 1e5:
            return f"{v:.3f}".rstrip("0").rstrip(".") if abs(v) < 1 else f"{v:.4g}"
        return f"{v:.3g}"
    return str(v)


def format_table(records: Sequence[dict[str, Any]], columns: Sequence[str] = TABLE_COLUMNS) -> str:
    """Records as a fixed-width text table (one row per record).

    Example:
        >>> print(format_table([{"layer": "1", "units": 8, "dead_fraction": 0.25}],
        ...                    ["layer", "units", "dead_fraction"]))
        layer  units  dead_fraction
        1      8      0.25
    """
    if not records:
        return "(no monitored sites seen yet)"
    rows = [[format_value(r.get(c)) for c in columns] for r in records]
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def write_csv(records: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Write records as CSV (columns: the union of their keys, in first-seen order)."""
    path = Path(path)
    keys: dict[str, None] = {}
    for r in records:
        keys.update(dict.fromkeys(r))
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(keys))
        w.writeheader()
        for r in records:
            w.writerow({k: "" if v is None else v for k, v in r.items()})
    return path


def write_jsonl(records: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Write records as JSON lines (``null`` for missing values)."""
    path = Path(path)
    with path.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, allow_nan=False, default=_jsonable) + "\n")
    return path


def _jsonable(v: Any) -> Any:
    if hasattr(v, "tolist"):
        return v.tolist()
    raise TypeError(f"cannot write {type(v).__name__} as JSON")


def _tag(layer: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-/]", "_", layer)


class TensorBoardLogger:
    """Writes monitor windows to TensorBoard: scalars per site, per-unit histograms.

    Use it live, ``Monitor(model, on_window=TensorBoardLogger("runs/x"))``, or
    afterwards through :meth:`Monitor.to_tensorboard`.

    Args:
        writer: a ``torch.utils.tensorboard.SummaryWriter`` (or any object with
            ``add_scalar`` and ``add_histogram``), or a log directory for a new one,
            which needs the ``tensorboard`` package.
        prefix: tag prefix. Default: ``"actlab"``
    """

    def __init__(self, writer: Any, prefix: str = "actlab") -> None:
        if isinstance(writer, (str, Path)):
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as exc:  # tensorboard is an optional extra
                raise ImportError(
                    "writing TensorBoard logs needs the 'tensorboard' package: "
                    "pip install tensorboard"
                ) from exc
            writer = SummaryWriter(str(writer))
        self.writer = writer
        self.prefix = prefix

    def __call__(self, records: list[dict[str, Any]], monitor: Any) -> None:
        self.scalars(records, monitor.grad_ratio())
        self.histograms(records, monitor)

    def scalars(self, records: list[dict[str, Any]], grad_ratio: dict[str, Any] | None) -> None:
        for r in records:
            for key in _SCALARS:
                v = r.get(key)
                if v is not None:
                    self.writer.add_scalar(
                        f"{self.prefix}/{_tag(r['layer'])}/{key}", float(v), r["step"]
                    )
        if grad_ratio:
            tag = f"{self.prefix}/grad_ratio_first_last"
            self.writer.add_scalar(tag, float(grad_ratio["ratio"]), grad_ratio["step"])

    def histograms(self, records: list[dict[str, Any]], monitor: Any) -> None:
        for r in records:
            try:
                units = monitor.units(r["layer"])
            except KeyError:
                continue
            for key in ("active_fraction", "mean"):
                values = units[key]
                values = values[values == values]  # drop NaN
                if values.size:
                    self.writer.add_histogram(
                        f"{self.prefix}/{_tag(r['layer'])}/unit_{key}", values, r["step"]
                    )

    def flush(self) -> None:
        if hasattr(self.writer, "flush"):
            self.writer.flush()


def plot_history(
    records: Sequence[dict[str, Any]],
    ratios: Sequence[dict[str, Any]] = (),
    path: str | Path | None = None,
    *,
    metrics: Sequence[str] = ("dead_fraction", "saturation", "grad_norm"),
) -> Any:
    """One panel per metric against the step, one line per site; plus the gradient ratio.

    Returns a ``matplotlib.figure.Figure`` (saved to ``path`` when given).
    """
    from matplotlib.figure import Figure

    panels = list(metrics) + (["grad_ratio"] if ratios else [])
    fig = Figure(figsize=(4.2 * len(panels), 3.4), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    layers = list(dict.fromkeys(r["layer"] for r in records))
    for ax, metric in zip(axes, panels):
        if metric == "grad_ratio":
            ax.plot([g["step"] for g in ratios], [g["ratio"] for g in ratios], marker=".")
            ax.set_yscale("log")
            ax.set_title("grad norm, first / last site")
        else:
            for layer in layers:
                pts = [
                    (r["step"], r[metric])
                    for r in records
                    if r["layer"] == layer and r.get(metric) is not None
                ]
                if pts:
                    xs, ys = zip(*pts)
                    ax.plot(xs, ys, marker=".", label=layer)
            if metric.startswith("grad_norm"):
                ax.set_yscale("log")
            ax.set_title(metric.replace("_", " "))
        ax.set_xlabel("step")
    if layers and len(layers) <= 12:
        axes[0].legend(fontsize="small")
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
