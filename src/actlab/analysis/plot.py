"""Plots of activation functions and their derivatives, in one consistent style.

:func:`plot` returns a matplotlib ``Figure``: the function, and with
``derivative=True`` its derivative beside it; several activations share the axes,
and a parameter family (``params={"swish": {"beta": [0.5, 1, 2]}}``) gives one line
per value. The style is meant for print: the Okabe-Ito palette (safe for colour-blind
readers) together with distinct line styles and markers (so that a grey-scale copy
still tells the lines apart); kinks marked (a jump of f' shows its one-sided limits as
open circles and the value the implementation returns as a filled dot); saturated
regions, where |f'| < ``saturation``, shaded (hatched); legends that give each formula.

matplotlib is imported only here and only when a plot is made: ``import actlab``
does not need it. Install it with ``pip install 'actlab[plot]'``.

Example:
    >>> import actlab
    >>> fig = actlab.plot("silu", derivative=True, size=(8, 3), dpi=50)
    >>> [ax.get_title() for ax in fig.axes]
    ['f(x)', "f'(x)"]
"""

from __future__ import annotations

import itertools
import math
import textwrap
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import functions

__all__ = [
    "FORMATS",
    "GALLERY_OVERVIEWS",
    "LINESTYLES",
    "MARKERS",
    "OKABE_ITO",
    "gallery_figures",
    "plot",
    "saturated_regions",
    "save",
    "styles",
]

#: Okabe & Ito (2008), "Color Universal Design": distinguishable with every common
#: colour-vision deficiency. Black first; yellow last (weak on white paper).
OKABE_ITO = (
    "#000000",  # black
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#009E73",  # bluish green
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#F0E442",  # yellow
)
#: One dash pattern per line, so that lines differ without colour.
LINESTYLES: tuple[Any, ...] = (
    "-",
    (0, (6, 2)),
    (0, (1, 1.5)),
    (0, (6, 2, 1, 2)),
    (0, (3, 1.5)),
    (0, (6, 2, 1, 2, 1, 2)),
    (0, (10, 3)),
    (0, (2, 3)),
)
#: One marker per line (placed sparsely), a second cue for grey-scale prints.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
#: File formats :func:`save` writes, chosen by the file's extension.
FORMATS = ("png", "svg", "pdf")

_RC = {
    "font.family": "DejaVu Sans",  # ships with matplotlib: the same glyphs everywhere
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "legend.title_fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "lines.linewidth": 1.6,
    "axes.linewidth": 0.8,
    "pdf.fonttype": 42,  # embed TrueType: text stays text in the PDF
    "ps.fonttype": 42,
    "svg.fonttype": "path",
    "hatch.linewidth": 0.6,
}

#: Figures ``actlab plot --all`` draws besides one per activation: name -> curves.
GALLERY_OVERVIEWS: dict[str, list[Any]] = {
    "overview-rectifiers": [
        "relu",
        "leaky_relu",
        "elu",
        "selu",
        "softplus",
        "gelu",
        "silu",
        "mish",
    ],
    "overview-sigmoidal": ["sigmoid", "tanh", "hard_sigmoid", "hard_tanh", "softsign"],
    "family-swish": [("swish", {"beta": b}) for b in (0.5, 1.0, 2.0, 10.0)],
}


def _mpl() -> Any:
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - exercised with matplotlib hidden
        raise ImportError(
            "actlab's plots need matplotlib, which is not installed: pip install 'actlab[plot]'"
        ) from exc
    return matplotlib


@dataclass(frozen=True)
class _Curve:
    act: functions.Activation
    given: dict[str, Any]
    params: dict[str, Any]

    @property
    def label(self) -> str:
        if not self.given:
            return self.act.name
        return f"{self.act.name}({', '.join(f'{k}={v!r}' for k, v in self.given.items())})"

    def f(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.act.forward(x, **self.params), dtype=np.float64)

    def d(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.act.derivative(x, **self.params), dtype=np.float64)


def styles(n: int) -> list[dict[str, Any]]:
    """Line styles for ``n`` curves: colour, dash pattern and marker all differ.

    Example:
        >>> s = styles(3)
        >>> [x["color"] for x in s], [x["marker"] for x in s]
        (['#000000', '#E69F00', '#56B4E9'], ['o', 's', '^'])
    """
    k = len(OKABE_ITO)
    return [
        {
            "color": OKABE_ITO[i % k],
            "linestyle": LINESTYLES[i % len(LINESTYLES)],
            "marker": MARKERS[(i + i // k) % len(MARKERS)],
        }
        for i in range(n)
    ]


def _expand(
    names: Any, params: Mapping[str, Mapping[str, Any]] | None
) -> list[tuple[functions.Activation, dict[str, Any]]]:
    """Names (or ``(name, params)`` pairs) plus per-name parameter lists -> curves."""
    if isinstance(names, (str, functions.Activation)):
        names = [names]
    items: list[tuple[functions.Activation, dict[str, Any]]] = []
    for it in names or []:
        name, given = (it, {}) if isinstance(it, (str, functions.Activation)) else it
        items.append((functions.get(name), dict(given)))
    fam = {functions.get(k).name: v for k, v in (params or {}).items()}
    unknown = [k for k in fam if k not in {a.name for a, _ in items}]
    for k in unknown:  # a family named only in params
        items.append((functions.get(k), {}))
    out = []
    for act, given in items:
        spec = fam.get(act.name, {})
        keys = list(spec)
        values = [v if isinstance(v, (list, tuple)) else [v] for v in spec.values()]
        for combo in itertools.product(*values) if keys else [()]:
            out.append((act, {**given, **dict(zip(keys, combo))}))
    return out


def _jumps(fn: Any, kinks: Sequence[float], scale: float) -> set[float]:
    out = set()
    for k in kinks:
        a, b = fn(np.array([k - 1e-9])), fn(np.array([k + 1e-9]))
        if abs(float(a[0]) - float(b[0])) > 1e-6 * max(1.0, scale):
            out.add(k)
    return out


def _segments(lo: float, hi: float, breaks: Sequence[float], points: int) -> list[np.ndarray]:
    """Sample [lo, hi] in pieces split at ``breaks``, each piece stopping just short of
    a break so that one-sided values are drawn and no line joins across a jump."""
    eps = 1e-9 * (hi - lo)
    edges = [lo, *sorted(b for b in breaks if lo < b < hi), hi]
    out = []
    for a, b in itertools.pairwise(edges):
        n = max(8, int(points * (b - a) / (hi - lo)))
        a2 = a + eps if a != lo else a
        b2 = b - eps if b != hi else b
        out.append(np.linspace(a2, b2, n))
    return out


def _draw(
    ax: Any,
    curve: _Curve,
    fn: Any,
    style: dict[str, Any],
    lo: float,
    hi: float,
    kinks: Sequence[float],
    jumps: set[float],
    points: int,
    markers: bool,
    index: int,
) -> tuple[Any, int, int]:
    """One curve on one axes: lines between jumps, kink markers, jump circles.

    Returns the first line (for the legend) and how many kinks and jumps were marked."""
    line = None
    n_kinks = n_jumps = 0
    segs = _segments(lo, hi, sorted(jumps), points)
    span = hi - lo
    for j, xs in enumerate(segs):
        with np.errstate(all="ignore"):
            ys = fn(xs)
        kw = {}
        if markers:
            # markers every ~1/7 of the range, shifted per curve so they do not pile up
            step = span / 7
            offset = lo + step * ((index * 0.37) % 1.0 + 0.25)
            pos = offset + step * np.arange(8)
            idx = np.searchsorted(xs, pos[(pos >= xs[0]) & (pos <= xs[-1])])
            kw = {"marker": style["marker"], "markevery": list(np.clip(idx, 0, xs.size - 1))}
        (ln,) = ax.plot(
            xs,
            ys,
            color=style["color"],
            linestyle=style["linestyle"],
            markersize=4.5,
            markerfacecolor="white",
            markeredgewidth=1.1,
            label=curve.label if j == 0 else None,
            zorder=3 + index * 0.01,
            **kw,
        )
        line = line or ln
    for k in kinks:
        if not lo <= k <= hi:
            continue
        with np.errstate(all="ignore"):
            left, mid, right = fn(np.array([k - 1e-9 * span, k, k + 1e-9 * span]))
        if k in jumps:  # open circles at the one-sided limits, a dot at the value taken
            n_jumps += 1
            ax.plot(
                [k, k],
                [left, right],
                linestyle="none",
                marker="o",
                markersize=5,
                markerfacecolor="white",
                markeredgecolor=style["color"],
                zorder=5,
            )
            ax.plot(
                [k],
                [mid],
                linestyle="none",
                marker="o",
                markersize=4,
                color=style["color"],
                zorder=6,
            )
        else:  # a kink of a continuous curve: a diamond on the corner
            n_kinks += 1
            ax.plot(
                [k],
                [mid],
                linestyle="none",
                marker="D",
                markersize=4.5,
                markerfacecolor=style["color"],
                markeredgecolor="white",
                markeredgewidth=0.6,
                zorder=6,
            )
    return line, n_kinks, n_jumps


def _runs(mask: np.ndarray, xs: np.ndarray) -> list[tuple[int, int]]:
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    starts = np.nonzero(np.diff(m) == 1)[0]
    ends = np.nonzero(np.diff(m) == -1)[0] - 1
    return list(zip(starts.tolist(), ends.tolist()))


def saturated_regions(
    curve_or_name: Any, x_range: tuple[float, float], eps: float = 0.01, **params: Any
) -> list[tuple[float, float]]:
    """Intervals of ``x_range`` where the activation saturates: |f'| < eps on a stretch
    that reaches an end of the range (a tail), or f' == 0 exactly (a dead zone such as
    hard_shrink's). A stationary point (SiLU's minimum) is not saturation.

    Example:
        >>> saturated_regions("relu", (-5, 5))
        [(-5.0, 0.0)]
    """
    c = curve_or_name
    if not isinstance(c, _Curve):
        act = functions.get(c)
        c = _Curve(act, dict(params), act.resolve(params))
    lo, hi = (float(v) for v in x_range)
    xs = np.linspace(lo, hi, 2001)
    with np.errstate(all="ignore"):
        dy = np.abs(c.d(xs))
    out = []
    for a, b in _runs(dy < eps, xs):
        if a == 0 or b == xs.size - 1 or np.all(dy[a : b + 1] == 0.0):
            out.append((float(xs[a]), float(xs[b])))
    return out


def _shade(ax: Any, regions: Sequence[tuple[float, float]]) -> None:
    for a, b in regions:
        ax.axvspan(
            a, b, facecolor="#ebebeb", edgecolor="#9a9a9a", hatch="///", linewidth=0, zorder=0
        )


def _strip(
    ax: Any,
    curves: Sequence[_Curve],
    st: Sequence[dict[str, Any]],
    regions: Sequence[Sequence[tuple[float, float]]],
    labels: Sequence[str] | None,
) -> None:
    """One row per curve under the plot: a hatched bar where that curve saturates."""
    n = len(curves)
    for i, (s, regs) in enumerate(zip(st, regions)):
        ax.broken_barh(
            [(a, b - a) for a, b in regs],
            (i - 0.34, 0.68),
            facecolors=s["color"],
            edgecolor="#444444",
            hatch="////",
            linewidth=0.4,
            alpha=0.75,
        )
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_yticks(range(n))
    ax.set_yticklabels(list(labels) if labels else [], fontsize=6)
    ax.tick_params(axis="y", length=0)
    ax.grid(False)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _formula(act: functions.Activation, width: int) -> str:
    text = act.formula or act.name
    return "\n".join(textwrap.wrap(text, width=width, subsequent_indent="    "))


def plot(
    names: Any,
    *,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    derivative: bool = False,
    x_range: tuple[float, float] = (-5.0, 5.0),
    size: tuple[float, float] | None = None,
    dpi: float = 100,
    saturation: float = 0.01,
    ylim: tuple[float, float] | None = None,
    title: str | None = None,
    points: int = 1201,
) -> Any:
    """Plot activations (and their derivatives) on shared axes; returns a ``Figure``.

    Args:
        names: an activation name, or a list of names / ``(name, params)`` pairs.
        params: parameter families, ``{"swish": {"beta": [0.5, 1, 2]}}``: one line
            per value (per combination, when several keys are given). Default: None.
        derivative: draw f' in a second panel beside f. Default: False.
        x_range: the x interval. Default: (-5, 5).
        size: figure size in inches (width, height); the image is ``size * dpi``
            pixels. Default: (6.4, 4.2), or (10, 4.2) with the derivative.
        dpi: dots per inch (PNG pixel density). Default: 100.
        saturation: shade where |f'| < saturation (0 turns shading off). Default: 0.01.
        ylim: y limits of the function panel. Default: automatic.
        title: figure title. Default: none.
        points: samples across the range. Default: 1201.

    Raises:
        ImportError: matplotlib is missing (``pip install 'actlab[plot]'``).
        ValueError: a vector activation (softmax, glu, ...) was asked for.

    Example:
        >>> import actlab
        >>> fig = actlab.plot(["relu", "gelu"], size=(4, 3), dpi=50)
        >>> [line.get_label() for line in fig.axes[0].get_lines() if line.get_label()[0] != "_"]
        ['relu', 'gelu']
    """
    mpl = _mpl()
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    from .properties import infer

    lo, hi = (float(v) for v in x_range)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"x_range must be two finite numbers, low < high; got {x_range}")
    pairs = _expand(names, params)
    if not pairs:
        raise ValueError("nothing to plot: give at least one activation")
    vector = sorted({a.name for a, _ in pairs if a.kind != "elementwise"})
    if vector:
        raise ValueError(
            f"{', '.join(vector)} {'is' if len(vector) == 1 else 'are'} not elementwise "
            "(a vector activation mixes values along `dim`) and cannot be drawn as a curve"
        )
    curves = [_Curve(a, g, a.resolve(g)) for a, g in pairs]
    st = styles(len(curves))
    if size is None:
        size = (10.0, 4.2) if derivative else (6.4, 4.2)
    with mpl.rc_context(_RC):
        fig = Figure(figsize=size, dpi=dpi, layout="constrained")
        ncols = 2 if derivative else 1
        regions = (
            [saturated_regions(c, (lo, hi), saturation) for c in curves]
            if saturation > 0
            else [[] for _ in curves]
        )
        shaded = any(regions)
        strips: list[Any] = []
        if shaded and len(curves) > 1:  # a strip under each panel: one row per curve
            grid = fig.subplots(
                2,
                ncols,
                sharex="col",
                squeeze=False,
                gridspec_kw={"height_ratios": [1.0, 0.045 * len(curves) + 0.03]},
            )
            axes, strips = list(grid[0]), list(grid[1])
        else:
            axes = list(fig.subplots(1, ncols, squeeze=False)[0])
        markers = len(curves) > 1
        handles, n_kinks, n_jumps = [], 0, 0
        for i, (c, s) in enumerate(zip(curves, st)):
            # the kinks at these parameters (the catalogue's metadata hold for the defaults)
            kinks = infer(c.act, **c.given).kinks if c.act.kinks or c.given else ()
            jf = _jumps(c.f, kinks, max(1.0, abs(lo), abs(hi)))
            line, nk, nj = _draw(axes[0], c, c.f, s, lo, hi, kinks, jf, points, markers, i)
            handles.append(line)
            n_kinks, n_jumps = n_kinks + nk, n_jumps + nj
            if derivative:
                _, nk, nj = _draw(axes[1], c, c.d, s, lo, hi, kinks, set(kinks), points, markers, i)
                n_kinks, n_jumps = n_kinks + nk, n_jumps + nj
        if shaded and len(curves) == 1:
            for ax in axes:
                _shade(ax, regions[0])
        family = len({c.act.name for c in curves}) == 1
        short = [
            (", ".join(f"{k}={v!r}" for k, v in c.given.items()) if family else "") or c.label
            for c in curves
        ]
        for j, ax in enumerate(strips):
            _strip(ax, curves, st, regions, labels=short if j == 0 else None)
            ax.set_xlabel("x")
        if len(curves) == 1:  # a non-monotonic curve: mark its minimum
            p = infer(curves[0].act, **curves[0].given)
            if not p.monotonic and p.argmin is not None and lo <= p.argmin <= hi:
                axes[0].plot(
                    [p.argmin],
                    [p.min_value],
                    linestyle="none",
                    marker="v",
                    color=OKABE_ITO[5],
                    markersize=6,
                    zorder=7,
                )
                axes[0].annotate(
                    f"min {p.min_value:.4g} at x = {p.argmin:.4g}",
                    (p.argmin, p.min_value),
                    xytext=(0, 12),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    color="#333333",
                    bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "linewidth": 0},
                    zorder=8,
                )
        for ax, name in zip(axes, ("f(x)", "f'(x)")):
            ax.set_title(name)
            if not strips:
                ax.set_xlabel("x")
            ax.set_xlim(lo, hi)
            ax.axhline(0, color="#777777", linewidth=0.6, zorder=1)
            ax.axvline(0, color="#777777", linewidth=0.6, zorder=1)
            ax.grid(True, color="#dddddd", linewidth=0.5, zorder=0)
            ax.set_axisbelow(True)
        if ylim is not None:
            axes[0].set_ylim(*ylim)
        # the legend: formulas; a family shares one formula in the legend's title
        acts = {c.act.name for c in curves}
        labels: list[str] = []
        legend_title = None
        if len(acts) == 1 and len(curves) > 1:
            legend_title = f"{curves[0].act.name}:  {_formula(curves[0].act, 90)}"
            labels = [
                ", ".join(f"{k}={v!r}" for k, v in c.given.items()) or c.label for c in curves
            ]
        else:
            wide = len(curves) == 1 or any(len(c.act.formula) > 40 for c in curves)
            width = 100 if derivative else 70
            labels = [f"{c.label}:  {_formula(c.act, width if wide else 45)}" for c in curves]
        if shaded:
            where = "shaded" if len(curves) == 1 else "bars under the plot"
            handles.append(Patch(facecolor="#ebebeb", edgecolor="#9a9a9a", hatch="///"))
            labels.append(f"{where}: saturated, |f'(x)| < {saturation:g}")
        from matplotlib.lines import Line2D

        if n_kinks:
            handles.append(
                Line2D(
                    [],
                    [],
                    linestyle="none",
                    marker="D",
                    color="#555555",
                    markeredgecolor="white",
                    markersize=5,
                )
            )
            labels.append("kink (f' jumps)")
        if n_jumps:
            handles.append(
                Line2D(
                    [],
                    [],
                    linestyle="none",
                    marker="o",
                    markersize=5,
                    markerfacecolor="white",
                    markeredgecolor="#555555",
                )
            )
            labels.append("jump: open = one-sided limits, dot = value returned")
        ncols = 1 if any(len(t) > 48 for t in labels) else min(3, len(labels))
        fig.legend(
            handles,
            labels,
            loc="outside lower center",
            ncols=ncols,
            title=legend_title,
            frameon=False,
            alignment="left" if ncols == 1 else "center",
            handlelength=3.2,
        )
        if title:
            fig.suptitle(title)
    return fig


def save(fig: Any, path: str | Path, *, dpi: float | None = None) -> Path:
    """Write ``fig`` to ``path``; the format (png, svg, pdf) comes from its extension.

    The size is the figure's own (no tight cropping), so a PNG is exactly
    ``width * dpi`` by ``height * dpi`` pixels.

    Example:
        >>> import tempfile, pathlib, actlab
        >>> from actlab.analysis.plot import save
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = save(actlab.plot("relu", size=(2, 1.5), dpi=40), pathlib.Path(d) / "r.svg")
        ...     p.stat().st_size > 0
        True
    """
    mpl = _mpl()
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(
            f"cannot tell the image format from {path.name!r}: the file name must end in "
            + ", ".join(f".{f}" for f in FORMATS)
        )
    with mpl.rc_context(_RC):
        fig.savefig(path, format=fmt, dpi=dpi or fig.dpi, metadata=_metadata(fmt))
    return path


def _metadata(fmt: str) -> dict[str, Any]:
    # no creation dates: re-generating an unchanged figure gives an unchanged file
    if fmt == "png":
        return {"Software": None}
    if fmt == "pdf":
        return {"CreationDate": None, "Producer": None, "Creator": "actlab"}
    return {"Date": None, "Creator": "actlab"}


def gallery_figures(
    names: Iterable[str] | None = None,
    *,
    size: tuple[float, float] = (8.0, 3.2),
    dpi: float = 80,
    x_range: tuple[float, float] = (-5.0, 5.0),
    overviews: bool = True,
) -> Iterator[tuple[str, Any]]:
    """Yield ``(file stem, Figure)``: one function + derivative figure per elementwise
    activation, then (``overviews=True``) the :data:`GALLERY_OVERVIEWS` figures.

    Vector activations are left out (they are not curves).
    """
    chosen = list(names) if names is not None else functions.names()
    for name in chosen:
        act = functions.get(name)
        if act.kind != "elementwise":
            continue
        yield act.name, plot(act.name, derivative=True, size=size, dpi=dpi, x_range=x_range)
    if overviews:
        for stem, items in GALLERY_OVERVIEWS.items():
            yield (
                stem,
                plot(
                    items, derivative=True, size=(size[0], size[1] * 1.5), dpi=dpi, x_range=x_range
                ),
            )
