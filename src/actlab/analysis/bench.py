"""Cost of every activation, measured honestly: ratios taken in one run, interleaved.

For each activation, size and dtype, :func:`bench` times the forward pass and the
forward+backward pass of actlab's implementation and of PyTorch's native op (where
there is one), interleaved round by round with two baselines measured on the same
tensor: a memory copy (``torch.empty_like(x).copy_(x)``, the roofline of an
out-of-place elementwise op) and PyTorch's ReLU. Every figure is a median of
repeats after warm-up, reported as a ratio to those baselines, because absolute
times mean little on a shared machine whose CPU changes from day to day; each row also
carries the spread of its repeats (interquartile range over the median), since a
sub-millisecond cell can move by half between runs on a noisy machine. Two more
baselines show the floor of the functions built on a transcendental: a bare e^x
(the faster of PyTorch's ``torch.exp`` and actlab's ``exponential``, so at least one
accurate exponential per element) and PyTorch's ``erfc`` (GELU's), on the same tensor.

It also counts the bytes each implementation saves for the backward pass
(through ``torch.autograd.graph.saved_tensors_hooks``), the memory claim C17
is about.

Example:
    >>> from actlab.analysis.bench import bench
    >>> rows = bench(["relu"], sizes=[4096], repeats=3)
    >>> rows[0].impl, rows[0].name
    ('actlab', 'relu')
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch

from .. import functions

__all__ = ["BenchRow", "bench", "native_op", "saved_bytes"]


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
    path: str = ""  # actlab's variants, "forward/backward" (actlab._fast), or "reference"
    fwd_vs_exp: float = float("nan")  # over the fastest bare e^x on the same tensor
    fwd_vs_erfc: float = float("nan")  # over PyTorch's erfc on the same tensor
    # (75th - 25th percentile) / median of the repeats: how far to trust the cell
    fwd_spread: float = float("nan")
    fwd_bwd_spread: float = float("nan")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def native_op(name: str) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """PyTorch's own implementation of a catalogue entry at default parameters, if any."""
    import torch.nn.functional as F

    return {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "relu6": F.relu6,
        "leaky_relu": F.leaky_relu,
        "elu": F.elu,
        "celu": F.celu,
        "selu": F.selu,
        "gelu": F.gelu,
        "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
        "silu": F.silu,
        "mish": F.mish,
        "softplus": F.softplus,
        "softsign": F.softsign,
        "log_sigmoid": F.logsigmoid,
        "hard_sigmoid": F.hardsigmoid,
        "hard_swish": F.hardswish,
        "hard_tanh": F.hardtanh,
        "hard_shrink": F.hardshrink,
        "soft_shrink": F.softshrink,
        "tanh_shrink": F.tanhshrink,
        "exponential": torch.exp,
        "prelu": lambda x: F.prelu(x, torch.tensor([0.25], dtype=x.dtype, device=x.device)),
        "rrelu": lambda x: F.rrelu(x, training=False),
        "threshold": lambda x: F.threshold(x, 0.0, 0.0),
    }.get(name)


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


def _interleaved(
    fns: dict[str, Callable[[], Any]], repeats: int, sync: Callable[[], None]
) -> dict[str, list[float]]:
    """Seconds per call of every variant, ``repeats`` rounds of one call each."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():  # one round of every variant, so drift hits them alike
            sync()
            t0 = time.perf_counter()
            f()
            sync()
            times[k].append(time.perf_counter() - t0)
    return times


def _spread(v: list[float]) -> float:
    """The interquartile range over the median (nan with fewer than 4 repeats)."""
    if len(v) < 4:
        return float("nan")
    q1, _, q3 = statistics.quantiles(v, n=4)
    return (q3 - q1) / statistics.median(v)


def _bench_tensor(
    x: torch.Tensor,
    acts: list,
    dt_name: str,
    device: str,
    repeats: int,
    warmup: int,
    native: bool,
    sync: Callable[[], None],
) -> list[BenchRow]:
    """Every variant on one input tensor, interleaved with the copy and ReLU baselines."""
    from .. import functional as AF

    g = torch.ones_like(x)
    xg = x.detach().requires_grad_(True)

    def fwd_bwd(f: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[], None]:
        def run() -> None:
            (gx,) = torch.autograd.grad(f(xg), xg, g)
            del gx

        return run

    exp_act = functions.get("exponential")
    fns: dict[str, Callable[[], Any]] = {
        "copy": lambda: torch.empty_like(x).copy_(x),
        "relu": lambda: torch.relu(x),
        "relu_fb": fwd_bwd(torch.relu),
        "exp_torch": lambda: torch.exp(x),
        "exp_actlab": lambda: AF.apply(exp_act, x),
        "erfc": lambda: torch.special.erfc(x),
    }
    variants: dict[str, tuple[str, str, Callable[[torch.Tensor], torch.Tensor]]] = {}
    for a in acts:
        variants[f"{a.name}/actlab"] = (a.name, "actlab", lambda t, a=a: AF.apply(a, t))
        op = native_op(a.name) if native else None
        if op is not None:
            variants[f"{a.name}/torch"] = (a.name, "torch", op)
    for key, (_, _, f) in variants.items():
        fns[key] = lambda f=f: f(x)
        fns[key + "_fb"] = fwd_bwd(f)
    _interleaved(fns, warmup, sync)
    times = _interleaved(fns, repeats, sync)
    med = {k: statistics.median(v) for k, v in times.items()}
    size = x.numel()
    exp_floor = min(med["exp_torch"], med["exp_actlab"])
    return [
        BenchRow(
            name=name,
            impl=impl,
            size=size,
            dtype=dt_name,
            device=device,
            threads=torch.get_num_threads(),
            fwd_s=med[key],
            fwd_bwd_s=med[key + "_fb"],
            fwd_vs_copy=med[key] / med["copy"],
            fwd_vs_relu=med[key] / med["relu"],
            fwd_bwd_vs_relu=med[key + "_fb"] / med["relu_fb"],
            saved_per_element=saved_bytes(f, x) / size,
            path=_path(functions.get(name), x) if impl == "actlab" else "",
            fwd_vs_exp=med[key] / exp_floor,
            fwd_vs_erfc=med[key] / med["erfc"],
            fwd_spread=_spread(times[key]),
            fwd_bwd_spread=_spread(times[key + "_fb"]),
        )
        for key, (name, impl, f) in variants.items()
    ]


def _path(act: Any, x: torch.Tensor) -> str:
    """Which implementation actlab ran: the fast plan's variants, or the reference path."""
    from .. import _fast

    plan = _fast.plan(act, x, act.resolve({}))
    return "reference" if plan is None else f"{plan.fwd_variant}/{plan.bwd_variant}"


def bench(
    names: Sequence[str] | None = None,
    *,
    sizes: Sequence[int] = (1 << 20,),
    dtypes: Sequence[str] = ("float32",),
    device: str = "cpu",
    repeats: int = 15,
    warmup: int = 3,
    native: bool = True,
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
    """
    if names is None:
        names = [n for n in functions.names() if functions.get(n).kind == "elementwise"]
    acts = [functions.get(n) for n in names]
    for a in acts:
        if a.kind != "elementwise":
            raise ValueError(f"{a.name} is not elementwise; bench covers elementwise activations")
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    gen = torch.Generator(device="cpu").manual_seed(0)
    rows: list[BenchRow] = []
    for dt_name in dtypes:
        dtype = getattr(torch, dt_name)
        for size in sizes:
            x = (torch.randn(size, generator=gen) * 3).to(device=device, dtype=dtype)
            rows += _bench_tensor(x, acts, dt_name, device, repeats, warmup, native, sync)
    return rows
