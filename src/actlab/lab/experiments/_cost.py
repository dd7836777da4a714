"""Timing shared by C1 (what an activation costs) and C18 (the "cheap" criterion).

The timing itself is actlab's one harness (:func:`actlab._timing.interleaved`). Every
variant (an activation's forward pass, forward into a preallocated output,
forward+backward; a bare kernel such as ``torch.exp``; a memory copy) is timed
round by round, interleaved, in a shuffled order, so that a burst of load from
another process hits every variant alike. A sample repeats the call until it lasts
about :data:`TARGET_SAMPLE_S` (one call on a small tensor lasts a few microseconds,
near the timer's noise); where one call is a whole sample, an untimed call goes
first, so that the allocator state the previous variant left is not charged to it.
The analysis divides a variant's fastest round by the baseline's (:func:`ratio`
says why the fastest and not the median): absolute times mean little on a shared
machine whose CPU changes from day to day, ratios taken in one run do.

The measurement functions are module-level so :meth:`Context.measure` can store
their JSON results: C18 asks for the same in-cache run as C1 and reads it back.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ... import _timing as timing
from ._common import COMPARED

#: The activations timed: the seed texts' list (the comparison sweep's).
FUNCTIONS = list(COMPARED)
#: Bare kernels, the "is exp the cost?" control: exp and its relatives that the
#: activations are built from (expm1 for ELU, log1p for softplus/Mish, erfc for GELU).
KERNELS = ["exp", "tanh", "erfc", "expm1", "log1p"]
#: A sample repeats the call until it lasts this long: perf_counter and the loop add
#: about a microsecond, so a 2 ms sample keeps them under 0.1% of what is measured.
TARGET_SAMPLE_S = 2e-3
#: ... but never more calls than this (a 1-element call is ~1 us: 2,000 calls = 2 ms).
MAX_INNER = 2000


@contextlib.contextmanager
def threads(n: int) -> Iterator[int]:
    """Run torch with ``n`` threads, restored afterwards; yields the count torch reports."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(old)


def caches() -> dict[str, int]:
    """Data cache sizes in bytes of CPU 0 (``{"L1": .., "L2": .., "L3": ..}``); {} if unknown."""
    out: dict[str, int] = {}
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    for d in sorted(base.glob("index*")):
        try:
            kind = (d / "type").read_text().strip()
            level = (d / "level").read_text().strip()
            size = (d / "size").read_text().strip()
        except OSError:
            continue
        if kind == "Instruction":
            continue
        mult = {"K": 1024, "M": 1024**2, "G": 1024**3}.get(size[-1:], 1)
        out[f"L{level}"] = int(size.rstrip("KMG")) * mult
    return out


def interleaved(
    fns: dict[str, Callable[[], Any]], rounds: int, thread_counts: Sequence[int]
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Seconds per call of every variant under every thread count, one sample per round.

    Keys are ``"<variant>@<threads>"``. One untimed call per variant first (lazy
    initialisation, allocator warm-up) and one timed call that sets how many calls make a
    sample; then ``rounds`` rounds, each timing every variant under every thread count
    in a freshly shuffled order (seeded, so runs repeat it), by
    :func:`actlab._timing.interleaved`. The thread count changes once per block of a
    round, outside the timed region (a change wakes the pool's threads or puts them to
    sleep, far slower than a call). Returns the samples and the calls per sample.
    """
    import torch

    def use(t: int) -> Callable[[], None]:
        return lambda: torch.set_num_threads(t)

    per_thread = {f"{k}@{t}": f for t in thread_counts for k, f in fns.items()}
    blocks = [(use(t), [f"{k}@{t}" for k in fns]) for t in thread_counts]
    with threads(torch.get_num_threads()):  # restored afterwards
        timed = timing.interleaved(
            per_thread,
            rounds,
            warmup=1,
            target_s=TARGET_SAMPLE_S,
            max_inner=MAX_INNER,
            prime=True,
            blocks=blocks,
        )
    return {k: list(t.samples) for k, t in timed.items()}, {k: t.inner for k, t in timed.items()}


def best_of_threads(run: dict) -> dict[str, list[float]]:
    """Per variant and round, the fastest of the thread counts timed (keys without ``@t``).

    More threads pay off on large arrays when the cores are free; on a small array, or
    on a busy machine, waking a second thread can cost more than the work (PyTorch's
    exp/tanh kernels split even 16K elements across threads, and a woken thread may wait
    milliseconds for a time slice), so each variant gets its best setting, round by round.
    """
    out: dict[str, list[float]] = {}
    for key, ts in run["times"].items():
        name = key.rsplit("@", 1)[0]
        prev = out.get(name)
        out[name] = list(ts) if prev is None else [min(a, b) for a, b in zip(prev, ts)]
    return out


def _kernels() -> dict[str, tuple[Callable[..., Any], bool]]:
    """Bare kernels: (function, needs a positive input). log1p gets |x| (no NaNs to time)."""
    import torch

    return {
        "exp": (torch.exp, False),
        "tanh": (torch.tanh, False),
        "erfc": (torch.erfc, False),
        "expm1": (torch.expm1, False),
        "log1p": (torch.log1p, True),
    }


def _inputs(n: int) -> tuple[Any, ...]:
    import torch

    gen = torch.Generator().manual_seed(0)
    # scale 3: both sides of every function's bend and tail are exercised
    x = torch.randn(n, generator=gen) * 3
    return x, x.abs(), torch.empty_like(x), x.clone().requires_grad_(True), torch.ones_like(x)


def _load() -> float | None:
    """The 1-minute load average (runnable processes), where the OS reports one."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _fwd_bwd(f: Callable[[Any], Any], xg: Any, g: Any) -> Callable[[], None]:
    import torch

    def run() -> None:
        (gx,) = torch.autograd.grad(f(xg), xg, g)
        del gx

    return run


def native_run(
    n: int, rounds: int, threads_: list[int], functions: list[str] | None = None
) -> dict:
    """Time PyTorch's native ops and the bare kernels on ``n`` float32 elements.

    Variants: ``copy/alloc`` (``torch.empty_like(x).copy_(x)``), ``copy/out``
    (``buf.copy_(x)``), ``<f>/torch/fwd|out|fb`` for each function, ``<k>/kernel/fwd|out|fb``
    for each kernel, and the per-call overhead ``tiny/alloc`` (a copy of one element) and
    ``tiny/fb`` (ReLU forward+backward on one element).
    """
    import torch

    from ...analysis.bench import native_op
    from ...torch import twins

    functions = list(functions or FUNCTIONS)
    with threads(max(threads_)):
        x, xp, buf, xg, g = _inputs(n)
        one = torch.zeros(1).normal_(generator=torch.Generator().manual_seed(1))
        one_g = one.clone().requires_grad_(True)
        fns: dict[str, Callable[[], Any]] = {
            "copy/alloc": lambda: torch.empty_like(x).copy_(x),
            "copy/out": lambda: buf.copy_(x),
            "tiny/alloc": lambda: torch.empty_like(one).copy_(one),
            "tiny/fb": _fwd_bwd(torch.relu, one_g, torch.ones_like(one)),
        }
        for f in functions:
            op = native_op(f)
            if op is None:
                continue
            fns[f"{f}/torch/fwd"] = lambda op=op: op(x)
            into = twins.aten_out(f)  # PyTorch's op into an existing buffer, where it has one
            if into is not None:
                fns[f"{f}/torch/out"] = lambda o=into: o(x, buf)
            fns[f"{f}/torch/fb"] = _fwd_bwd(op, xg, g)
        xpg = xp.clone().requires_grad_(True)
        for k, (op, positive) in _kernels().items():
            src, srcg = (xp, xpg) if positive else (x, xg)
            fns[f"{k}/kernel/fwd"] = lambda op=op, s=src: op(s)
            fns[f"{k}/kernel/out"] = lambda op=op, s=src: op(s, out=buf)
            if k == "exp":  # the control for the forward+backward pass
                fns[f"{k}/kernel/fb"] = _fwd_bwd(op, srcg, g)
        return _timed(fns, n, rounds, threads_)


def _timed(fns: dict[str, Callable[[], Any]], n: int, rounds: int, threads_: list[int]) -> dict:
    """Time ``fns`` interleaved; the record both timing functions return."""
    from ...analysis import machine

    load0 = _load()
    times, inner = interleaved(fns, rounds, threads_)
    return {
        "n": n,
        "threads": list(threads_),
        "rounds": rounds,
        "times": times,
        "inner": inner,
        "load": [load0, _load()],
        "machine": machine.describe(),
    }


def actlab_run(
    n: int, rounds: int, threads_: list[int], functions: list[str] | None = None
) -> dict:
    """Time actlab's implementations beside PyTorch's native ops on ``n`` float32 elements.

    Variants: ``copy/alloc``, and for each function ``<f>/torch/fwd|fb`` and
    ``<f>/actlab/fwd|fb`` (``actlab.functional.apply``), in one interleaved run.
    """
    import torch

    from ...analysis.bench import native_op
    from ...torch import functional as AF

    functions = list(functions or FUNCTIONS)
    with threads(max(threads_)):
        x, _, _, xg, g = _inputs(n)
        fns: dict[str, Callable[[], Any]] = {"copy/alloc": lambda: torch.empty_like(x).copy_(x)}
        for f in functions:
            op = native_op(f)
            if op is not None:
                fns[f"{f}/torch/fwd"] = lambda op=op: op(x)
                fns[f"{f}/torch/fb"] = _fwd_bwd(op, xg, g)

            def mine(t: Any, f: str = f) -> Any:
                return AF.apply(f, t)

            fns[f"{f}/actlab/fwd"] = lambda mine=mine: mine(x)
            fns[f"{f}/actlab/fb"] = _fwd_bwd(mine, xg, g)
        return _timed(fns, n, rounds, threads_)


def ratio(run: dict, a: str, b: str) -> tuple[float, float, float] | None:
    """``time(a) / time(b)`` from each one's fastest round, with a bracket; None if untimed.

    A sample on a shared machine can only be slowed by other processes (preempted, or a
    woken thread waiting for a time slice), never sped up, so the fastest round is the
    least disturbed one (``timeit``'s advice). The median fails where most rounds are
    disturbed: with as many runnable processes as cores, most rounds of a multi-threaded
    call wait for a time slice, and their median measures the other processes, not the
    call. The bracket pairs each fastest time with the other's second fastest,
    ``(min a / 2nd b, min a / min b, 2nd a / min b)``: wide when the fastest samples
    disagree, i.e. when even they were disturbed. Each time is the faster of the thread
    counts timed in its round.
    """
    best = best_of_threads(run)
    ta, tb = sorted(best.get(a) or []), sorted(best.get(b) or [])
    if not ta or not tb:
        return None
    r = ta[0] / tb[0]
    if len(ta) < 2 or len(tb) < 2:
        return (r, r, r)
    return (r, ta[0] / tb[1], ta[1] / tb[0])


def default_threads() -> int:
    """Every core the machine has: the cost a user of this machine would see."""
    return os.cpu_count() or 1


def thread_counts() -> list[int]:
    """Every core, and one thread too (see :func:`best_of_threads`)."""
    t = default_threads()
    return [t, 1] if t > 1 else [t]


def fastest_time(run: dict, variant: str, threads_: int) -> float | None:
    """Seconds per call of one variant under one thread count, in its fastest round."""
    ts = run["times"].get(f"{variant}@{threads_}")
    return min(ts) if ts else None


def size_label(n: int, cache: dict[str, int], arrays: int = 2) -> str:
    """Where ``arrays`` float32 arrays of ``n`` elements live: "L2", "L3" or "memory"."""
    ws = arrays * 4 * n
    if cache.get("L2") and ws <= cache["L2"]:
        return "L2"
    if cache.get("L3") and ws < cache["L3"]:
        return "L3"
    if not cache:
        return "cache" if ws <= 1 << 20 else "memory"
    return "memory"


def human(n: int) -> str:
    """16384 -> '16K', 4194304 -> '4M'."""
    for unit, div in (("M", 1 << 20), ("K", 1 << 10)):
        if n >= div and n % div == 0:
            return f"{n // div}{unit}"
    return str(n)
