"""Fast paths: the quickest accurate implementation of each elementwise activation, per machine.

For float32, bfloat16 and float16 CPU tensors an activation can run four ways:

- ``"compiled"``: the kernel of :mod:`actlab.torch.kernels`, one pass over memory that
  computes in double in registers (so the catalogue's formulas keep their accuracy:
  correctly rounded but for the double rounding), forward and backward;
- ``"compiled32"``: for the entries of :data:`actlab.torch.kernels.FLOAT32` (sigmoid, silu,
  swish, quick_gelu, exp, tanh, elu, celu, selu, softsign, softplus, log_sigmoid, mish,
  leaky_relu with PReLU's and RReLU's scalar slopes, hard_sigmoid, hard_swish, threshold
  and soft_shrink forward; all of those but silu, swish, quick_gelu, softsign and mish
  backward), the same formulas in float32 arithmetic, e^x carried as a pair of floats,
  a scaled argument (beta x, x / alpha) as a pair too, and the roundings that would
  matter corrected: faster (eight lanes per vector instead of four), within the bounds
  but not correctly rounded (at most 1.5 ULP forward and 2.5 ULP derivative from the
  exact value over all 2^32 float32 inputs, measured by ``benchmarks/exhaustive_f32.py``);
  for gelu, both directions, double arithmetic with a shorter Phi than glibc's erfc (a
  rational function, 2^-39): the double kernels' results but on 3,323 forward and 4,117
  derivative inputs, where they are within 0.50002 and 0.50582 ULP;
- ``"native"``: PyTorch's own op, only where it is within the catalogue's bounds
  (2 ULP forward, 4 ULP derivative) and propagates NaN; :data:`SPECS` lists which,
  and ``tests/test_fast_paths.py`` audits each against the mpmath reference. Where
  a kernel exists, only the correctly rounded ones (the selections: relu, relu6,
  hard_tanh, threshold, hard_shrink) compete with it: the rest are the fallback
  for machines without a C compiler;
- ``"exact"``: the catalogue's definition through the array API, in float64 for
  float32 input (the reference path, always available, also for float64 input).

Which one runs is chosen per activation, dtype and direction by timing the fast
candidates (compiled, compiled32, native) once on this machine (a 64K-element tensor,
the least time over interleaved rounds); the exact path runs only where none
exists. The choice is kept in the cache directory beside the kernels, so later
processes do not time again. ``ACTLAB_FAST`` overrides it: ``off`` (no fast path: the
reference path everywhere), ``exact``, ``native``, ``compiled`` or ``compiled32`` (that
variant where it exists, else ``compiled``, else ``exact``), ``rounded`` (as ``auto``
without ``compiled32``: correctly rounded results wherever a kernel exists),
``bounds`` (as ``auto``, but PyTorch's ops that are within the bounds without being
correctly rounded compete with the kernels too: up to 1.3 ULP forward and 1.6 ULP
derivative), ``auto`` (the default).

Backward keeps what the derivative needs and no more: the output for the entries
whose derivative is a function of it (``Activation.grad_from_output``: the ReLU
family, exp), the input otherwise, as PyTorch does.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .. import functions
from .._timing import interleaved
from ..functions import Activation
from . import kernels as _kernels
from . import twins

__all__ = ["SPECS", "FastFn", "Plan", "Spec", "candidates", "choices", "mode", "plan", "reset"]

_DTAG = {torch.float32: "f32", torch.bfloat16: "bf16", torch.float16: "f16"}
_MODES = ("auto", "rounded", "bounds", "off", "exact", "native", "compiled", "compiled32")
_TIMED = ("auto", "rounded", "bounds")  # the modes that choose by timing
_NO_KERNEL = ("off", "exact", "native")  # the modes that never build or load the kernels


@dataclass(frozen=True)
class Spec:
    """How one activation can run fast.

    Attributes:
        kernel: the C kernel's name in :mod:`actlab.torch.kernels` (None: no kernel).
        args: the kernel's two numeric arguments from the parameter dict.
        native_fwd: PyTorch's op, ``(x, params) -> y``, where it is within the bounds.
        native_bwd: PyTorch's backward, ``(saved, grad, params) -> grad_x``, likewise.
        native_exact: PyTorch's forms are correctly rounded (selections): they compete
            with the compiled kernel. The others (within the bounds, but not to 0.5 ULP)
            run only where no kernel could be built, so that actlab loses no accuracy
            where it need not.
        native_needs_exact: parameters that PyTorch's op rounds to the tensor's dtype
            before comparing (a threshold): the native form is offered only where their
            values are exact in that dtype.
        native_when: the parameter values for which the native form is offered at all.
    """

    kernel: str | None = None
    args: Callable[[dict], tuple[float, float]] = lambda p: (0.0, 0.0)
    native_fwd: Callable[[torch.Tensor, dict], torch.Tensor] | None = None
    native_bwd: Callable[[torch.Tensor, torch.Tensor, dict], torch.Tensor] | None = None
    native_exact: bool = False
    native_needs_exact: tuple[str, ...] = ()
    native_when: Callable[[dict], bool] = lambda p: True


def _kernel_args(act: Activation) -> Callable[[dict], tuple[float, float]]:
    """The kernel's two numbers from the parameter dict: the entry's ``kernel_args``, else
    its first two parameters (0 for those it lacks)."""
    get = act.kernel_args or (lambda p, ks=[q.name for q in act.params[:2]]: [p[k] for k in ks])

    def args(p: dict) -> tuple[float, float]:
        a = [*(float(v) for v in get(p)), 0.0, 0.0]
        return a[0], a[1]

    return args


# PyTorch's backward where it is within the bounds and propagates NaN. Left out: the
# backwards that turn a NaN input into a number (threshold_backward, elu_backward,
# leaky_relu_backward, hardtanh_backward).
_NATIVE_BWD: dict[str, Callable[[torch.Tensor, torch.Tensor, dict], torch.Tensor]] = {
    "exponential": lambda y, g, p: g * y,
    "softplus": lambda x, g, p: torch.ops.aten.softplus_backward(
        g, x, p["beta"], p["threshold"]
    ),
}


def _spec(act: Activation) -> Spec:
    """How an elementwise entry can run fast, from its declarations: the kernel of its own
    name (or the one it borrows, ``Activation.kernel``), and PyTorch's op where its twin
    was audited within the bounds (``TorchTwin.audited``)."""
    tw = act.torch_twin
    audited = tw.audited if tw is not None else ""
    return Spec(
        kernel=act.kernel or act.name,
        args=_kernel_args(act),
        native_fwd=twins.caller(act) if audited else None,
        native_bwd=_NATIVE_BWD.get(act.name) if audited else None,
        native_exact=audited == "exact",
        native_needs_exact=tw.exact_params if tw is not None else (),
        native_when=(tw.native_when if tw is not None else None) or (lambda p: True),
    )


#: Every elementwise entry but identity (it returns a view already): where its kernel is
#: missing (no compiler, no such loop in kernels.c) the plan has no compiled variant.
SPECS: dict[str, Spec] = {
    n: _spec(functions.get(n))
    for n in functions.names()
    if functions.get(n).kind == "elementwise" and n != "identity"
}

# squareplus's kernel computes sqrt(x * x + b) directly: fine for every float32 x, but
# not for b near the double maximum; such a b takes the exact path
_ARG_LIMITS = {"squareplus": lambda a, b: a < 1e300}


# --------------------------------------------------------------------------------------
# variants
def _format(t: torch.Tensor) -> torch.memory_format:
    """The memory format ``t`` is dense in (channels-last kept, as PyTorch's ops keep it)."""
    if t.dim() == 4 and not t.is_contiguous() and t.is_contiguous(memory_format=_CL):
        return _CL
    if t.dim() == 5 and not t.is_contiguous() and t.is_contiguous(memory_format=_CL3):
        return _CL3
    return torch.contiguous_format


_CL, _CL3 = torch.channels_last, torch.channels_last_3d


def dense(x: torch.Tensor) -> bool:
    """Whether x's elements fill its memory without gaps, in a layout the kernels walk."""
    return x.is_contiguous() or _format(x) is not torch.contiguous_format


def _compiled_fwd(fn: Any, a: float, b: float) -> Callable[[torch.Tensor], torch.Tensor]:
    def run(x: torch.Tensor) -> torch.Tensor:
        # the kernel walks the elements in memory order: any dense layout will do, and
        # the output gets the input's (torch.empty_like preserves it)
        if not x.is_contiguous():
            x = x.contiguous(memory_format=_format(x))
        y = torch.empty_like(x)
        fn(x.data_ptr(), y.data_ptr(), x.numel(), a, b, torch.get_num_threads())
        return y

    def into(x: torch.Tensor) -> torch.Tensor:
        # in place, for a dense x: every loop reads an element before it writes it, and
        # no element another iteration writes; the version counter moves as for torch's
        # own in-place ops, so that autograd sees the change
        fn(x.data_ptr(), x.data_ptr(), x.numel(), a, b, torch.get_num_threads())
        torch.autograd.graph.increment_version(x)
        return x

    run.into = into  # type: ignore[attr-defined]
    return run


def _compiled_bwd(fn: Any, a: float, b: float) -> Callable[..., torch.Tensor]:
    def run(s: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        fmt = _format(s)
        s = s.contiguous(memory_format=fmt)
        # the gradient in the same layout; an expanded one (sum().backward()) is
        # materialized here
        g = g.contiguous(memory_format=fmt)
        gx = torch.empty_like(s)
        fn(s.data_ptr(), g.data_ptr(), gx.data_ptr(), s.numel(), a, b, torch.get_num_threads())
        return gx

    return run


def _compiled_fwdd(
    fn: Any, a: float, b: float
) -> Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    def run(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.contiguous(memory_format=_format(x))
        y, d = torch.empty_like(x), torch.empty_like(x)
        fn(x.data_ptr(), y.data_ptr(), d.data_ptr(), x.numel(), a, b, torch.get_num_threads())
        return y, d

    return run


def _exact_fwd(act: Activation, p: dict) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda x: act._eval(act.fn, x, p)


def _exact_bwd(act: Activation, p: dict, from_output: bool) -> Callable[..., torch.Tensor]:
    grad = act.grad_from_output if from_output else act.grad
    return lambda s, g: g * act._eval(grad, s, p)


class Plan:
    """The implementation chosen for one activation, parameter values and dtype.

    ``forward(x)`` and ``backward(saved, grad)`` are the chosen variants; ``inplace(x)``,
    where a kernel serves the forward, overwrites a dense x with f(x) in one pass (the
    kernel of the chosen forward, or the correctly rounded one where PyTorch's exact op
    was chosen), else it is None; ``fused(x)``,
    where a kernel computes f and f' in one pass (:data:`actlab.torch.kernels.FUSED`), returns
    ``(f(x), f'(x))`` for a training loop that keeps the derivative instead of the input
    (actlab's batched trainer: its backward is then one product), else it is None.
    """

    __slots__ = (
        "act",
        "backward",
        "bwd_variant",
        "forward",
        "fused",
        "fwd_variant",
        "inplace",
        "params",
        "saves_output",
    )

    def __init__(
        self,
        act: Activation,
        params: dict[str, Any],
        fwd: tuple[str, Callable[[torch.Tensor], torch.Tensor]],
        bwd: tuple[str, Callable[..., torch.Tensor]],
        saves_output: bool,
        fused: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None,
        inplace: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        self.act = act
        self.params = params
        self.fwd_variant, self.forward = fwd
        self.bwd_variant, self.backward = bwd
        self.saves_output = saves_output
        self.fused = fused
        self.inplace = inplace

    def __repr__(self) -> str:
        saved = "output" if self.saves_output else "input"
        return (
            f"<Plan {self.act.name}: forward {self.fwd_variant}, backward {self.bwd_variant}, "
            f"saves the {saved}>"
        )


class FastFn(torch.autograd.Function):
    """Autograd for a :class:`Plan`: saves the input or the output, never both.

    Double backward (``create_graph=True``) evaluates the catalogue's derivative
    with differentiable torch operations instead of the kernel.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, pl: Plan) -> torch.Tensor:
        y = pl.forward(x)
        ctx.plan = pl
        ctx.save_for_backward(y if pl.saves_output else x)
        return y

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor | None, None]:
        if not ctx.needs_input_grad[0]:
            return None, None
        (s,) = ctx.saved_tensors
        pl: Plan = ctx.plan
        if torch.is_grad_enabled() or not _plain(g) or g.dtype != s.dtype:
            # a differentiable backward (higher derivatives), or a gradient the kernels
            # cannot read: the catalogue's derivative through torch operations
            act = pl.act
            grad = act.grad_from_output if pl.saves_output else act.grad
            return g * act._eval(grad, s, pl.params), None
        return pl.backward(s, g), None


class FastInplaceFn(FastFn):
    """Autograd for an in-place call of a :class:`Plan` whose backward reads the output:
    the kernel overwrites x with f(x), which is then saved, as PyTorch's in-place ReLU
    does. (A backward that needs the input differentiates through a clone instead.)"""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, pl: Plan) -> torch.Tensor:
        pl.inplace(x)
        ctx.mark_dirty(x)
        ctx.plan = pl
        ctx.save_for_backward(x)
        return x


# --------------------------------------------------------------------------------------
# choosing
_lock = threading.RLock()
_plans: dict[tuple, Plan | None] = {}
_choices: dict[str, str] | None = None
_mode: str | None = None


def mode() -> str:
    """The ``ACTLAB_FAST`` setting: auto (default), rounded, bounds, off, or a variant's name."""
    global _mode
    if _mode is None:
        raw = os.environ.get("ACTLAB_FAST", "auto")
        m = raw.strip().lower() or "auto"
        m = "off" if m in ("0", "no", "false") else m
        if m not in _MODES:  # a typo must not silently become auto
            raise ValueError(
                f"ACTLAB_FAST={raw!r} is not a setting; use one of: {', '.join(_MODES)} "
                "(or 0, no, false for off)"
            )
        _mode = m
    return _mode


def reset() -> None:
    """Forget plans, choices and the mode (they are read again on next use)."""
    global _choices, _mode
    with _lock:
        _plans.clear()
        _choices = None
        _mode = None


def _choices_path() -> Any:
    return _kernels.cache_dir() / f"choices-{_kernels.machine_key()}.json"


def choices() -> dict[str, str]:
    """The variants chosen on this machine so far, ``"mish/f32/fwd/compiled+exact"`` -> name."""
    global _choices
    if _choices is None:
        try:
            _choices = dict(json.loads(_choices_path().read_text()))
        except (OSError, ValueError, TypeError):
            _choices = {}
    return _choices


def _remember(key: str, value: str) -> None:
    ch = choices()
    ch[key] = value
    try:
        path = _choices_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(ch, indent=1, sort_keys=True))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache: choose again in the next process


def _time(cands: dict[str, Callable[[], Any]], rounds: int = 7) -> str:
    """The fastest candidate: the least time over interleaved rounds, after a warm-up round.

    The minimum, not the median: the candidates do the same work, and the choice is kept
    for every later process, so it should rank what each costs undisturbed. On a shared
    machine other jobs only ever add time to a round, never take it away, so the fastest
    round is the least disturbed one; the median would let a burst of load across half the
    rounds decide. One call per sample (no inner repeats): the choice is made on first
    use, where a longer measurement would be a visible pause.
    """
    timed = interleaved(cands, rounds, warmup=1)
    return min(cands, key=lambda k: timed[k].min)


def _pick(key: str, cands: dict[str, Any], bench: Callable[[dict], str]) -> str:
    """The variant to run: forced by ACTLAB_FAST, remembered, or timed now.

    The exact path is the fallback, never a contender: it is several passes in float64
    and slower than any fused or native variant.
    """
    m = mode()
    if m in cands:
        return m
    if m == "compiled32" and "compiled" in cands:
        return "compiled"
    fast = {k: v for k, v in cands.items() if k != "exact"}
    if m not in _TIMED or not fast:
        return "exact"
    if len(fast) == 1:
        return next(iter(fast))
    full = f"{key}/{'+'.join(sorted(fast))}"
    chosen = choices().get(full)
    if chosen not in fast:
        chosen = bench(fast)
        _remember(full, chosen)
    return chosen


def candidates(
    act: Activation, dtype: torch.dtype, params: dict[str, Any]
) -> tuple[dict[str, Callable[..., torch.Tensor]], dict[str, Callable[..., torch.Tensor]]]:
    """Every available forward and backward variant for ``act`` on ``dtype`` tensors.

    Returns ``(forwards, backwards)``, each ``{"exact": f, "compiled": f, "compiled32": f,
    "native": f}`` where available; a forward takes ``x``, a backward ``(saved, grad)``, the saved
    tensor being the output when ``act.grad_from_output`` is set, else the input.
    """
    spec = SPECS.get(act.name)
    saves_output = act.grad_from_output is not None
    fwds: dict[str, Callable[..., torch.Tensor]] = {"exact": _exact_fwd(act, params)}
    bwds: dict[str, Callable[..., torch.Tensor]] = {"exact": _exact_bwd(act, params, saves_output)}
    if spec is None or act.user:
        return fwds, bwds
    dtag = _DTAG[dtype]
    ab = spec.args(params)
    limit = _ARG_LIMITS.get(act.name)
    if spec.kernel is not None and (limit is None or limit(*ab)) and mode() not in _NO_KERNEL:
        ff = _kernels.function(spec.kernel, "fwd", dtag)
        fb = _kernels.function(spec.kernel, "bwd", dtag)
        if ff is not None and fb is not None:
            fwds["compiled"] = _compiled_fwd(ff, *ab)
            bwds["compiled"] = _compiled_bwd(fb, *ab)
            if mode() != "rounded":  # the float32-arithmetic loops, where kernels.c has them
                f32 = _kernels.function(spec.kernel, "fwd32", dtag)
                if f32 is not None:
                    fwds["compiled32"] = _compiled_fwd(f32, *ab)
                f32 = _kernels.function(spec.kernel, "bwd32", dtag)
                if f32 is not None:
                    bwds["compiled32"] = _compiled_bwd(f32, *ab)
    if not spec.native_when(params) or any(
        torch.tensor(float(params[k]), dtype=dtype).item() != params[k]
        for k in spec.native_needs_exact
    ):
        # x <= 0.1 in float32 is x <= 0.1f: PyTorch's op would move the threshold
        return fwds, bwds
    if spec.native_fwd is not None:
        nf = spec.native_fwd
        fwds["native"] = lambda x: nf(x, params)
    if spec.native_bwd is not None:
        nb = spec.native_bwd
        bwds["native"] = lambda s, g: nb(s, g, params)
    return fwds, bwds


def _make_plan(act: Activation, dtype: torch.dtype, params: dict[str, Any]) -> Plan | None:
    if act.name not in SPECS or act.user:
        return None
    fwds, bwds = candidates(act, dtype, params)
    if "compiled" in fwds and not SPECS[act.name].native_exact and mode() != "bounds":
        # the kernel is correctly rounded; an inexact native op is only the fallback
        fwds.pop("native", None)
        bwds.pop("native", None)
    saves_output = act.grad_from_output is not None
    dtag = _DTAG[dtype]

    def sample() -> torch.Tensor:  # 64K elements: long enough to use the threads
        return (torch.randn(1 << 16, generator=torch.Generator().manual_seed(0)) * 3).to(dtype)

    def bench_fwd(c: dict) -> str:
        x = sample()
        return _time({k: (lambda f=f: f(x)) for k, f in c.items()})

    def bench_bwd(c: dict) -> str:
        x = sample()
        s, g = (fwds["exact"](x) if saves_output else x), torch.ones_like(x)
        return _time({k: (lambda f=f: f(s, g)) for k, f in c.items()})

    fv = _pick(f"{act.name}/{dtag}/fwd", fwds, bench_fwd)
    bv = _pick(f"{act.name}/{dtag}/bwd", bwds, bench_bwd)
    fused = None
    spec = SPECS[act.name]
    if "compiled" in fwds:  # f and f' in one pass, where kernels.c has that loop
        fn = _kernels.function(spec.kernel, "fwdd", dtag)
        fused = None if fn is None else _compiled_fwdd(fn, *spec.args(params))
    # in place: the chosen kernel, or the correctly rounded one where PyTorch's exact op
    # won the timing (the same values, without a copy back)
    into = getattr(fwds[fv], "into", None)
    if fv == "native" and spec.native_exact and mode() != "native":
        into = getattr(fwds.get("compiled"), "into", None)
    return Plan(act, params, (fv, fwds[fv]), (bv, bwds[bv]), saves_output, fused, into)


def _plain(x: torch.Tensor) -> bool:
    """A real tensor the kernels can read, in a call nobody records.

    Not a subclass (FakeTensor, a tensor subclass), not wrapped by torch.func (vmap,
    grad), not a negative view, and no torch.compile, torch.export or torch.jit.trace
    in progress: a ctypes call would be invisible to them.
    """
    # torch._C's tests, not torch.jit.is_tracing's wrapper: this runs on every call
    return (
        (type(x) is torch.Tensor or type(x) is torch.nn.Parameter)
        and x.layout == torch.strided
        and not x.is_neg()
        and not torch._C._functorch.is_functorch_wrapped_tensor(x)
        and not torch.compiler.is_compiling()
        and not torch._C._is_tracing()
    )


def plan(act: Activation, x: torch.Tensor, params: dict[str, Any]) -> Plan | None:
    """The fast plan for ``act`` on ``x`` with ``params`` (numbers only), or None.

    None means the reference path: float64 or another dtype, not the CPU, tensor
    parameters, a tensor being traced (torch.compile, export, vmap), an activation
    without a fast path, or ``ACTLAB_FAST=off``.
    """
    dtype = x.dtype
    if dtype not in _DTAG or not x.is_cpu or mode() == "off" or not _plain(x):
        return None
    values = tuple(params.values())
    for v in values:
        if isinstance(v, torch.Tensor):
            return None  # a learnable parameter: the reference path differentiates it
    try:
        key = (act.name, dtype, *values)
        pl = _plans.get(key, False)
    except TypeError:  # an unhashable parameter value
        return None
    if pl is not False:
        return pl
    with _lock:
        pl = _plans.get(key, False)
        if pl is False:
            pl = _make_plan(act, dtype, dict(params))
            _plans[key] = pl
    return pl


# --------------------------------------------------------------------------------------
# PReLU with a tensor slope
@dataclass(frozen=True)
class SlopePlan:
    """PReLU's forward and backward on one input, by the ``prelu_*`` kernels.

    The input is seen as ``(outer, C, inner)`` in memory order, the slope as ``C``
    values (see ``prelu_fwd_T`` in kernels.c).
    """

    fwd: Any
    bwd: Any
    outer: int
    channels: int
    inner: int

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        wc, y = w.contiguous(), torch.empty_like(x)
        self.fwd(
            x.data_ptr(), wc.data_ptr(), y.data_ptr(),
            self.outer, self.channels, self.inner, torch.get_num_threads(),
        )  # fmt: skip
        return y

    def backward(
        self, x: torch.Tensor, w: torch.Tensor, g: torch.Tensor, need_x: bool, need_w: bool
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The input's and the slope's gradients (each only where asked for)."""
        if not (need_x or need_w):
            return None, None
        g, wc = g.contiguous(), w.contiguous()
        gx = torch.empty_like(x) if need_x else None
        gw = torch.empty(self.outer, self.channels, dtype=torch.float64) if need_w else None
        self.bwd(
            x.data_ptr(), wc.data_ptr(), g.data_ptr(),
            None if gx is None else gx.data_ptr(), None if gw is None else gw.data_ptr(),
            self.outer, self.channels, self.inner, torch.get_num_threads(),
        )  # fmt: skip
        return gx, None if gw is None else gw.sum(0).to(w.dtype).view(w.shape)


def _slope_blocks(xs: torch.Size, ws: torch.Size) -> tuple[int, int, int] | None:
    """(outer, C, inner) when ``ws`` broadcast to ``xs`` varies over one run of dimensions."""
    if len(ws) > len(xs):
        return None
    ws = (1,) * (len(xs) - len(ws)) + tuple(ws)
    varying = [i for i, n in enumerate(ws) if n != 1]
    if not varying:
        return 1, 1, xs.numel()
    d0, d1 = varying[0], varying[-1] + 1
    if any(ws[i] != xs[i] for i in range(d0, d1)):
        return None  # broadcast inside the run (or a mismatch): not one block per slope
    outer, inner = xs[:d0].numel(), xs[d1:].numel()
    return outer, xs.numel() // max(outer * inner, 1), inner


def slope_plan(act: Activation, x: torch.Tensor, params: dict[str, Any]) -> SlopePlan | None:
    """The kernels for PReLU with a tensor ``weight`` on ``x`` (the learnable slope of
    :class:`actlab.nn.PReLU`, the batched trainer's per-model slopes, RReLU's per-element
    draws in training), or None: the reference path then runs.

    Exact like the reference (a product of two floats, or a selection), with the slope's
    gradient summed in double.
    """
    w = params.get("weight")
    if act.name != "prelu" or act.user or not isinstance(w, torch.Tensor) or len(params) != 1:
        return None
    if mode() in _NO_KERNEL or x.dtype not in _DTAG or w.dtype != x.dtype:
        return None
    if not (x.is_cpu and w.is_cpu and x.is_contiguous() and _plain(x) and _plain(w)):
        return None
    blocks = _slope_blocks(x.shape, w.shape)
    if blocks is None or x.numel() == 0:
        return None
    fwd = _kernels.prelu_function("fwd", _DTAG[x.dtype])
    bwd = _kernels.prelu_function("bwd", _DTAG[x.dtype])
    if fwd is None or bwd is None:
        return None
    return SlopePlan(fwd, bwd, *blocks)


class SlopeFn(torch.autograd.Function):
    """Autograd for a :class:`SlopePlan`: saves the input and the slope.

    Double backward evaluates the catalogue's derivatives with torch operations.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor, sp: SlopePlan) -> torch.Tensor:
        ctx.sp = sp
        ctx.save_for_backward(x, w)
        return sp.forward(x, w)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, w = ctx.saved_tensors
        need_x, need_w = ctx.needs_input_grad[:2]
        if torch.is_grad_enabled() or not _plain(g) or g.dtype != x.dtype:
            from ..functions import get
            from .autograd import _sum_to

            act, p = get("prelu"), {"weight": w}
            gx = g * act._eval(act.grad, x, p) if need_x else None
            dw = act.param_grads["weight"]
            gw = _sum_to(g * act._eval(dw, x, p), w.shape) if need_w else None
            return gx, gw, None
        return (*ctx.sp.backward(x, w, g, need_x, need_w), None)
