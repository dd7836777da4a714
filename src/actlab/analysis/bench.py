"""Cost of every activation, measured honestly: ratios taken in one run, interleaved.

For each activation, size and dtype, :func:`bench` times the forward pass and the
forward+backward pass of actlab's implementation and of PyTorch's native op (where
there is one), interleaved round by round with two baselines measured on the same
tensor: a memory copy (``torch.empty_like(x).copy_(x)``, the roofline of an
out-of-place elementwise op) and PyTorch's ReLU, in a fresh seeded order every round
(:func:`actlab._timing.interleaved`). Every figure is a median of repeats after
warm-up, reported as a ratio to those baselines, because absolute times mean little
on a shared machine whose CPU changes from day to day; each row also carries the
spread of its repeats (interquartile range over the median), since a sub-millisecond
cell can move by half between runs on a noisy machine. Two more
baselines show the floor of the functions built on a transcendental: a bare e^x
(the faster of PyTorch's ``torch.exp`` and actlab's ``exponential``, so at least one
accurate exponential per element) and PyTorch's ``erfc`` (GELU's), on the same tensor.
With ``inplace=True`` the in-place forms are timed as well, against the baseline that
matches their work: a copy into an existing buffer.

It also counts the bytes each implementation saves for the backward pass
(through ``torch.autograd.graph.saved_tensors_hooks``), the memory claim C17
is about, and the peak of what the forward and the forward+backward pass allocate
beyond what existed before (outputs, saved tensors, temporaries, the input's
gradient): on the CPU from the allocator's running total as PyTorch's profiler
records it, on CUDA from the caching allocator's peak statistics.

Example:
    >>> from actlab.analysis.bench import bench
    >>> rows = bench(["relu"], sizes=[4096], repeats=3)
    >>> rows[0].impl, rows[0].name
    ('actlab', 'relu')
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch

from .. import functions
from .._timing import interleaved

__all__ = [
    "BenchRow",
    "bench",
    "native_inplace_op",
    "native_op",
    "peak_bytes",
    "plot_rows",
    "saved_bytes",
]


#: The dtypes :func:`bench` times.
DTYPES = ("float32", "bfloat16", "float16", "float64")


@dataclass(frozen=True)
class BenchRow:
    """One activation, implementation, size and dtype."""

    name: str
    impl: str  # "actlab" or "torch"
    size: int
    dtype: str
    device: str
    threads: int
    fwd_s: float  # median seconds, forward
    fwd_bwd_s: float  # median seconds, forward + backward
    fwd_vs_copy: float
    fwd_vs_relu: float  # over torch.relu's forward on the same tensor
    fwd_bwd_vs_relu: float  # over torch.relu's forward + backward
    saved_per_element: float  # bytes saved for backward, per input element
    path: str = ""  # actlab's variants, "forward/backward" (actlab.torch.fast), or "reference"
    fwd_vs_exp: float = float("nan")  # over the fastest bare e^x on the same tensor
    fwd_vs_erfc: float = float("nan")  # over PyTorch's erfc on the same tensor
    # (75th - 25th percentile) / median of the repeats: how far to trust the cell
    fwd_spread: float = float("nan")
    fwd_bwd_spread: float = float("nan")
    # peak bytes allocated per input element beyond what existed before (peak_bytes)
    fwd_peak_per_element: float = float("nan")
    fwd_bwd_peak_per_element: float = float("nan")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def native_op(name: str) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """PyTorch's own implementation of a catalogue entry at default parameters, if any."""
    from ..torch import twins

    return twins.function(name)


def native_inplace_op(name: str) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """PyTorch's in-place form of a catalogue entry at default parameters, if any."""
    from ..torch import twins

    return twins.inplace_function(name)


def saved_bytes(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> int:
    """Bytes of tensors autograd keeps for the backward pass of ``fn(x)`` (x requires grad).

    Tensors saved twice (the same storage) are counted once.
    """
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.numel():
            seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    xr = x.detach().requires_grad_(True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = fn(xr)
    del y
    return sum(seen.values())


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence what C++ code writes to file descriptor 2 (the profiler's own start and
    stop lines, which would interleave with a table); Python errors still propagate."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _cpu_peak(run: Callable[[], None]) -> float:
    """Peak of the CPU allocator's total while ``run()`` runs, over its total before: from
    the profiler's memory events ("Total Allocated" after each allocation and free)."""
    from torch.profiler import ProfilerActivity, profile

    with _quiet_stderr():
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            run()
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "trace.json")
            prof.export_chrome_trace(path)
            with open(path) as f:
                events = json.load(f)["traceEvents"]
    mem = [e for e in events if e.get("name") == "[memory]" and "Total Allocated" in e["args"]]
    mem.sort(key=lambda e: float(e["ts"]))
    if not mem:
        return 0.0
    before = mem[0]["args"]["Total Allocated"] - mem[0]["args"]["Bytes"]
    return float(max(0, max(e["args"]["Total Allocated"] for e in mem) - before))


def peak_bytes(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, backward: bool = True
) -> float:
    """Peak bytes allocated by ``fn(x)`` (and, with ``backward``, by the gradient of its
    sum with respect to x, the gradient of the output given) beyond what was allocated
    before: the output, what autograd saves, temporaries, the input's gradient.

    Example:
        >>> import torch
        >>> from actlab.analysis.bench import peak_bytes
        >>> x = torch.randn(1 << 16)
        >>> peak_bytes(torch.relu, x, backward=False) / x.numel()  # the float32 output
        4.0
    """
    xg = x.detach().requires_grad_(backward)
    g = torch.ones_like(x) if backward else None

    def run() -> None:
        y = fn(xg)
        if backward:
            (gx,) = torch.autograd.grad(y, xg, g)
            del gx
        del y

    if x.device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(x.device)
        before = torch.cuda.memory_allocated(x.device)
        run()
        torch.cuda.synchronize()
        return float(torch.cuda.max_memory_allocated(x.device) - before)
    return _cpu_peak(run)


def _bench_tensor(
    x: torch.Tensor,
    acts: list,
    dt_name: str,
    device: str,
    repeats: int,
    warmup: int,
    native: bool,
    sync: Callable[[], None],
    inplace: bool = False,
) -> list[BenchRow]:
    """Every variant on one input tensor, interleaved with the copy and ReLU baselines.

    In-place variants (``inplace``) overwrite a buffer refilled from x before each call,
    untimed; their baselines are a copy into an existing buffer and PyTorch's in-place
    ReLU, timed the same way."""
    from ..torch import functional as AF

    g = torch.ones_like(x)
    xg = x.detach().requires_grad_(True)
    buf = torch.empty_like(x)

    def fwd_bwd(f: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[], None]:
        def run() -> None:
            (gx,) = torch.autograd.grad(f(xg), xg, g)
            del gx

        return run

    def refill() -> None:
        buf.copy_(x)

    exp_act = functions.get("exponential")
    fns: dict[str, Callable[[], Any]] = {
        "copy": lambda: torch.empty_like(x).copy_(x),
        "relu": lambda: torch.relu(x),
        "relu_fb": fwd_bwd(torch.relu),
        "exp_torch": lambda: torch.exp(x),
        "exp_actlab": lambda: AF.apply(exp_act, x),
        "erfc": lambda: torch.special.erfc(x),
    }
    setup: dict[str, Callable[[], Any]] = {}
    if inplace:
        fns["copy_into"] = refill
        fns["relu_"] = lambda: torch.relu_(buf)
        setup["relu_"] = refill
    variants: dict[str, tuple[str, str, Callable[[torch.Tensor], torch.Tensor]]] = {}
    for a in acts:
        variants[f"{a.name}/actlab"] = (a.name, "actlab", lambda t, a=a: AF.apply(a, t))
        op = native_op(a.name) if native else None
        if op is not None:
            variants[f"{a.name}/torch"] = (a.name, "torch", op)
        if inplace and a.inplace:
            variants[f"{a.name}/actlab-inplace"] = (
                a.name,
                "actlab-inplace",
                lambda t, a=a: AF.apply(a, t, inplace=True),
            )
            op = native_inplace_op(a.name) if native else None
            if op is not None:
                variants[f"{a.name}/torch-inplace"] = (a.name, "torch-inplace", op)
    for key, (_, impl, f) in variants.items():
        if impl.endswith("-inplace"):
            fns[key] = lambda f=f: f(buf)
            setup[key] = refill
        else:
            fns[key] = lambda f=f: f(x)
            fns[key + "_fb"] = fwd_bwd(f)
    # medians, not minima: a row is what a user of this machine should expect a call to
    # cost, and the spread beside it says how far to trust that
    times = interleaved(fns, repeats, warmup=warmup, setup=setup, sync=sync)
    med = {k: t.median for k, t in times.items()}
    nan = float("nan")
    size = x.numel()
    exp_floor = min(med["exp_torch"], med["exp_actlab"])
    rows = []
    for key, (name, impl, f) in variants.items():
        common = {
            "name": name,
            "impl": impl,
            "size": size,
            "dtype": dt_name,
            "device": device,
            "threads": torch.get_num_threads(),
            "fwd_s": med[key],
            "fwd_vs_exp": med[key] / exp_floor,
            "fwd_vs_erfc": med[key] / med["erfc"],
            "fwd_spread": times[key].spread,
        }
        act = functions.get(name)
        if impl.endswith("-inplace"):
            refill()  # forward only, against the baselines of in-place work
            row = BenchRow(
                **common,
                fwd_bwd_s=nan,
                fwd_vs_copy=med[key] / med["copy_into"],
                fwd_vs_relu=med[key] / med["relu_"],
                fwd_bwd_vs_relu=nan,
                saved_per_element=nan,
                path=_path(act, x, inplace=True) if impl == "actlab-inplace" else "",
                fwd_peak_per_element=peak_bytes(f, buf, backward=False) / size,
            )
        else:
            row = BenchRow(
                **common,
                fwd_bwd_s=med[key + "_fb"],
                fwd_vs_copy=med[key] / med["copy"],
                fwd_vs_relu=med[key] / med["relu"],
                fwd_bwd_vs_relu=med[key + "_fb"] / med["relu_fb"],
                saved_per_element=saved_bytes(f, x) / size,
                path=_path(act, x) if impl == "actlab" else "",
                fwd_bwd_spread=times[key + "_fb"].spread,
                fwd_peak_per_element=peak_bytes(f, x, backward=False) / size,
                fwd_bwd_peak_per_element=peak_bytes(f, x) / size,
            )
        rows.append(row)
    return rows


def _path(act: Any, x: torch.Tensor, inplace: bool = False) -> str:
    """Which implementation actlab ran: the fast plan's variants, or the reference path;
    in place, the kernel that overwrites x, or the forward whose result is copied back."""
    from ..torch import fast

    plan = fast.plan(act, x, act.resolve({}))
    if plan is None:
        return "reference"
    if not inplace:
        return f"{plan.fwd_variant}/{plan.bwd_variant}"
    if plan.inplace is None:
        return f"{plan.fwd_variant}, copied back"
    return f"{plan.fwd_variant if plan.fwd_variant.startswith('compiled') else 'compiled'} in place"


def bench(
    names: Sequence[str] | None = None,
    *,
    sizes: Sequence[int] = (1 << 20,),
    dtypes: Sequence[str] = ("float32",),
    device: str = "cpu",
    repeats: int = 15,
    warmup: int = 3,
    native: bool = True,
    inplace: bool = False,
) -> list[BenchRow]:
    """Time activations forward and forward+backward against a copy and ReLU, in one run.

    Args:
        names: elementwise activations (default: all of them).
        sizes: numbers of elements (e.g. 4096 up to 1 << 26).
        dtypes: ``"float32"``, ``"bfloat16"``, ``"float16"``, ``"float64"``.
        device: ``"cpu"`` or ``"cuda"``.
        repeats: timed rounds per variant (median taken).
        warmup: untimed rounds first.
        native: also time PyTorch's own op where it has one.
        inplace: also time the in-place forms (``impl`` "actlab-inplace" and
            "torch-inplace"), forward only, as ratios to a copy into an existing buffer
            (``fwd_vs_copy``) and to PyTorch's in-place ReLU (``fwd_vs_relu``).
    """
    if names is None:
        names = [n for n in functions.names() if functions.get(n).kind == "elementwise"]
    acts = [functions.get(n) for n in names]
    for a in acts:
        if a.kind != "elementwise":
            raise ValueError(f"{a.name} is not elementwise; bench covers elementwise activations")
    for what, value, low in (("repeats", repeats, 1), ("warmup", warmup, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"bench: {what} must be an int >= {low}; got {value!r}")
    bad = [d for d in dtypes if d not in DTYPES]
    if bad:
        raise ValueError(
            f"bench times floating-point activations: dtype {', '.join(map(repr, bad))} is "
            f"not one of {', '.join(DTYPES)}"
        )
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"device {device!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r}: this machine has no CUDA device (torch sees none)")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device {device!r}: bench runs on cpu or cuda")
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    gen = torch.Generator(device="cpu").manual_seed(0)
    rows: list[BenchRow] = []
    for dt_name in dtypes:
        dtype = getattr(torch, dt_name)
        for size in sizes:
            x = (torch.randn(size, generator=gen) * 3).to(device=device, dtype=dtype)
            rows += _bench_tensor(
                x, acts, dt_name, device, repeats, warmup, native, sync, inplace
            )
    return rows


def plot_rows(rows: Sequence[BenchRow], *, dpi: float = 100) -> Any:
    """A figure of :func:`bench`'s rows: per dtype and size, the forward over a memory copy
    and the forward+backward over ReLU's, actlab beside PyTorch, with each cell's spread as
    a whisker (the interquartile range of its repeats), the activations sorted by actlab's
    forward. A vertical line marks 1 (the copy, or ReLU) in each panel.

    Raises:
        ImportError: matplotlib is missing (``pip install 'actlab[plot]'``).
        ValueError: no rows.

    Example:
        >>> from actlab.analysis.bench import bench, plot_rows
        >>> fig = plot_rows(bench(["relu", "elu"], sizes=[4096], repeats=4, warmup=1))
        >>> [ax.get_xlabel() for ax in fig.axes]
        ['forward / memory copy', 'forward+backward / ReLU forward+backward']
    """
    from matplotlib.figure import Figure

    from .plot import _RC, OKABE_ITO, _mpl

    if not rows:
        raise ValueError("nothing to plot: no bench rows")
    mpl = _mpl()
    groups: dict[tuple[str, int, str], list[BenchRow]] = {}
    for r in rows:
        groups.setdefault((r.dtype, r.size, r.device), []).append(r)
    panels = (
        ("fwd_vs_copy", "fwd_spread", "forward / memory copy"),
        ("fwd_bwd_vs_relu", "fwd_bwd_spread", "forward+backward / ReLU forward+backward"),
    )
    impls = (("actlab", OKABE_ITO[4], 0.2), ("torch", OKABE_ITO[1], -0.2))  # blue, orange
    heights = [0.9 + 0.28 * len({r.name for r in g}) for g in groups.values()]
    with mpl.rc_context(_RC):
        fig = Figure(figsize=(9.0, sum(heights) + 0.4), dpi=dpi, layout="constrained")
        axes = fig.subplots(len(groups), 2, squeeze=False, height_ratios=heights)
        for (dtype, size, device), ax_row in zip(groups, axes, strict=True):
            g = groups[(dtype, size, device)]
            own = {r.name: r.fwd_vs_copy for r in g if r.impl == "actlab"}
            names = sorted({r.name for r in g}, key=lambda n: own.get(n, 0.0))
            at = {n: i for i, n in enumerate(names)}
            for ax, (key, spread, label) in zip(ax_row, panels, strict=True):
                for impl, colour, shift in impls:
                    cells = [r for r in g if r.impl == impl]
                    if not cells:
                        continue
                    vals = [getattr(r, key) for r in cells]
                    # half the interquartile range either side (none below 4 repeats)
                    err = [
                        0.0 if math.isnan(getattr(r, spread)) else getattr(r, spread) * v / 2
                        for r, v in zip(cells, vals, strict=True)
                    ]
                    ax.barh(
                        [at[r.name] + shift for r in cells],
                        vals,
                        height=0.38,
                        color=colour,
                        xerr=err,
                        label=impl,
                        error_kw={"elinewidth": 0.7, "capsize": 1.5},
                    )
                ax.axvline(1.0, color="0.3", linewidth=0.8, linestyle=(0, (3, 2)))
                ax.set_yticks(range(len(names)), names)
                ax.set_ylim(-0.6, len(names) - 0.4)
                ax.set_xlabel(label)
                ax.grid(axis="x", linewidth=0.4, color="0.85")
                ax.set_axisbelow(True)
            title = f"{size:,} elements, {dtype}, {device}, {g[0].threads} threads"
            ax_row[0].set_title(title, loc="left")
            ax_row[1].legend(loc="lower right")
    return fig
