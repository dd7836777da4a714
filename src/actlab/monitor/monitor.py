"""``actlab.Monitor``: dead, sparse and saturated units and gradient norms in any ``nn.Module``.

Example:
    >>> import torch, actlab
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    >>> with actlab.Monitor(model, window=10, every=1) as mon:  # every=1: measure every step
    ...     for _ in range(20):
    ...         model(torch.randn(16, 4)).pow(2).mean().backward()
    >>> [(r["layer"], r["kind"], r["units"], r["window"]) for r in mon.summary()]
    [('1', 'relu', 8, 'steps 11-20 (10 batches, all sampled)')]
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from time import perf_counter
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from .activations import FUNCTIONS, FunctionTarget, Target, module_target
from .sampling import Sampler
from .stats import Accumulator, History, Scratch, Site, WindowInfo

__all__ = ["Monitor"]

WindowCallback = Callable[[list[dict[str, Any]], "Monitor"], Any]


class _OpenWindow:
    __slots__ = ("batches", "index", "sampled", "start")

    def __init__(self, index: int = 1, start: int = 1) -> None:
        self.index, self.start, self.batches, self.sampled = index, start, 0, 0


class _CallSites(TorchFunctionMode):
    """Intercepts activation functions called inside the model's forward.

    Every torch call in the forward passes through here while the mode is on, at a
    small Python cost per call; ``calls`` counts them so that the sampler can charge
    that cost (``dispatch_cost()``, measured once per process) to the monitor.
    """

    _dispatch_cost: float | None = None

    def __init__(self, monitor: Monitor) -> None:
        super().__init__()
        self.monitor = monitor
        self.calls = 0

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: Any = None):
        self.calls += 1
        if kwargs is None:
            kwargs = {}
        try:
            target = FUNCTIONS.get(func)
        except TypeError:  # an unhashable callable
            target = None
        if target is None:
            return func(*args, **kwargs)
        return self.monitor._on_call(target, func, args, kwargs)

    @classmethod
    def dispatch_cost(cls) -> float:
        """Seconds a torch call takes longer with the mode on (a one-off measurement)."""
        if cls._dispatch_cost is None:
            x = torch.zeros(1)
            n = 200

            def loop() -> float:
                t0 = perf_counter()
                for _ in range(n):
                    torch.neg(x)
                return perf_counter() - t0

            plain = min(loop() for _ in range(3))
            with _Passthrough():
                moded = min(loop() for _ in range(3))
            cls._dispatch_cost = max(0.0, (moded - plain) / n)
        return cls._dispatch_cost


class _Passthrough(TorchFunctionMode):
    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: Any = None):
        return func(*args, **(kwargs or {}))


class Monitor:
    """Watch the activations of a model while it trains (or scans data), cheaply.

    It finds actlab's activation modules and the elementwise ``torch.nn`` ones
    (ReLU, GELU, Tanh, ...), and with ``functional=True`` also the activation
    functions the model calls inside ``forward`` (``F.relu(x)``, ``torch.tanh(x)``,
    ``x.relu()``). Each call is a site: a module called twice in one forward is two
    sites, ``"name"`` and ``"name#2"``; functional calls are named by the module that
    makes them and their order, ``"block1:relu#1"``.

    Per site and per unit (dim ``unit_dim`` of the output: a Linear feature, a conv
    channel) it counts zeros and saturated values and sums the outputs and their
    squares, with a few torch reductions inside the hooks and no host sync; and it
    reads the norm of the gradient that reaches the output with a tensor hook that
    never changes it. A *window* of batches is turned into one record per site;
    see :meth:`summary` for the keys. It never changes the model's outputs or
    gradients, and :meth:`detach` removes every hook and the function mode.

    A training step is one call of ``model(...)`` with grad enabled in training
    mode (``track="train"``); calls under ``torch.no_grad()`` or in eval mode, such
    as a validation loop, are not counted (``track="all"`` counts every call).

    Args:
        model: any ``torch.nn.Module``.
        window: batches per window (the records describe the last full window), or
            ``"epoch"``: a window ends when you call :meth:`end_epoch`. Either way
            :meth:`detach` closes the open window. Default: ``100``
        every: measure every ``every``-th step only (the others cost almost nothing),
            or ``"auto"``: the monitor times its own work and measures every k-th step,
            with the smallest k that keeps its cost under ``budget`` of the step time
            (k grows with the activations' size against the step's work; see
            :mod:`actlab.monitor.sampling`). ``every=1`` measures every step. Records
            state how many batches were measured. Default: ``"auto"``
        budget: with ``every="auto"``, the fraction of the training step time the
            monitor may spend, as it times itself (hooks, window closes, the function
            mode's dispatch). Default: ``0.03``
        eps: a pre-activation value is saturated where ``|f'(x)| < eps``, from the
            catalogue's derivative: for sigmoid ``|x| > 6.9``, for tanh ``|x| > 4.1``,
            for ReLU ``x <= 0``. Default: ``1e-3``
        zero_tol: an output value counts as zero where ``|y| <= zero_tol``. A unit is
            dead when every output in the window is zero and saturated (``|f'| < eps``),
            so that no gradient reaches it. Default: ``0.0`` (exact zeros)
        unit_dim: the dimension of the output that indexes units: 1 for ``(N, C)``
            and ``(N, C, H, W)``; -1 for sequence models' ``(N, L, D)``. Default: ``1``
        functional: also monitor activation functions called inside ``forward``.
            They are looked for on the first two measured steps and every 100th; while
            none has been found, the function mode stays off and costs nothing (a scan
            always looks). Default: ``True``
        grad: read gradient norms (tensor hooks on the outputs). Default: ``True``
        track: ``"train"`` (count only training steps, see above) or ``"all"``.
            Default: ``"train"``
        history: most windows kept in the history; beyond it the history is thinned
            evenly, so memory does not grow with the number of steps. Default: ``256``
        on_window: callables ``f(records, monitor)`` called when a window closes
            (:class:`~actlab.monitor.TensorBoardLogger` is one). Default: none
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        window: int | str = 100,
        every: int | str = "auto",
        budget: float = 0.03,
        eps: float = 1e-3,
        zero_tol: float = 0.0,
        unit_dim: int = 1,
        functional: bool = True,
        grad: bool = True,
        track: str = "train",
        history: int = 256,
        on_window: WindowCallback | Sequence[WindowCallback] | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"Monitor expects a torch.nn.Module, got {type(model).__name__}")
        _check("window", window, window == "epoch" or _pos_int(window), "a positive int or 'epoch'")
        _check("every", every, every == "auto" or _pos_int(every), "a positive int or 'auto'")
        _check("budget", budget, _num(budget) and 0 < budget <= 1, "a float in the range (0, 1]")
        _check("eps", eps, _num(eps) and eps > 0, "a float in the range (0, inf)")
        _check("zero_tol", zero_tol, _num(zero_tol) and zero_tol >= 0, "a float >= 0")
        _check("unit_dim", unit_dim, isinstance(unit_dim, int), "an int")
        _check("track", track, track in ("train", "all"), "'train' or 'all'")
        _check("history", history, _pos_int(history) and history >= 2, "an int >= 2")
        self.model = model
        self.window = window
        self.every = every
        self.budget = float(budget)
        self._sampler = Sampler(every, budget)
        self.eps = float(eps)
        self.zero_tol = float(zero_tol)
        self.unit_dim = unit_dim
        self.functional = bool(functional)
        self.grad = bool(grad)
        self.track = track
        if on_window is None:
            on_window = []
        elif callable(on_window):
            on_window = [on_window]
        self.on_window: list[WindowCallback] = list(on_window)
        self.step = 0
        self._sites: dict[str, Site] = {}
        self._open: dict[str, _OpenWindow] = {"train": _OpenWindow(), "scan": _OpenWindow()}
        self._history = History(history)
        self._last: list[dict[str, Any]] = []
        self._last_ratio: dict[str, Any] | None = None
        self._attached = False
        self._handles: list[Any] = []
        self._tensor_handles: list[Any] = []
        self._names: dict[int, str] = {}
        self._act_ids: set[int] = set()
        self._calls: dict[int, int] = {}
        self._fcalls: dict[str, int] = {}
        self._pending: dict[int, list[tuple[Site, Accumulator]]] = {}
        self._active = False
        self._source = "train"
        self._scanning = False
        self._scratch = Scratch()
        self._mode = _CallSites(self) if self.functional else None
        self._mode_on = False
        self._fn_sites = 0  # function call sites found so far
        self._measured = 0  # measured training forwards so far

    # ------------------------------------------------------------------ attach / detach
    def attach(self) -> Monitor:
        """Register the hooks (idempotent). Returns the monitor."""
        if self._attached:
            return self
        self._names = {}
        for name, m in self.model.named_modules():
            self._names.setdefault(id(m), name or "model")
        self._act_ids = set()
        for name, m in self.model.named_modules():
            target = module_target(m)
            if target is None:
                continue
            self._act_ids.add(id(m))
            label = name or "model"
            if target.inplace:
                self._handles.append(m.register_forward_pre_hook(self._pre_hook(label, target)))
            self._handles.append(m.register_forward_hook(self._post_hook(label, target)))
        self._handles.append(self.model.register_forward_pre_hook(self._root_pre, prepend=True))
        self._handles.append(self.model.register_forward_hook(self._root_post, always_call=True))
        for site in self._sites.values():
            for acc in site.acc.values():
                acc.live = True
        if self._mode is not None:
            _CallSites.dispatch_cost()  # measured once, outside any forward
        self._sampler.restart()
        self._attached = True
        return self

    def detach(self) -> Monitor:
        """Remove every hook and the function mode; close the open training window."""
        if not self._attached:
            return self
        self._exit_mode()
        for h in self._handles:
            h.remove()
        for h in self._tensor_handles:
            h.remove()
        self._handles.clear()
        self._tensor_handles.clear()
        self._pending.clear()
        self._scratch.clear()
        self._active = False
        self._attached = False
        if self._open["train"].sampled:
            self._close("train")
        for site in self._sites.values():
            for acc in site.acc.values():
                acc.live = False
        return self

    @property
    def attached(self) -> bool:
        return self._attached

    def __enter__(self) -> Monitor:
        return self.attach()

    def __exit__(self, *exc: Any) -> None:
        self.detach()

    def _exit_mode(self) -> None:
        if self._mode_on and self._mode is not None:
            self._mode.__exit__(None, None, None)
            self._mode_on = False

    # ------------------------------------------------------------------ hooks
    def _root_pre(self, module: nn.Module, args: Any) -> None:
        if self._scanning:
            w = self._open["scan"]
            w.batches += 1
            w.sampled += 1
            self._active = True
        else:
            if self.track == "train" and not (module.training and torch.is_grad_enabled()):
                self._active = False
                return
            sampler = self._sampler
            sampler.tick(perf_counter())
            w = self._open["train"]
            if isinstance(self.window, int) and w.batches >= self.window:
                t0 = perf_counter()
                self._close("train")
                sampler.cost += perf_counter() - t0
                w = self._open["train"]
            self.step += 1
            if w.batches == 0:
                w.start = self.step
            w.batches += 1
            self._active = sampler.sample(self.step)
            if not self._active:
                return
            w.sampled += 1
        self._calls.clear()
        self._fcalls.clear()
        self._pending.clear()
        self._tensor_handles.clear()
        probe = self._scanning or self._fn_sites or self._measured % 100 < 2
        if not self._scanning:
            self._measured += 1
        if self._mode is not None and probe and not self._mode_on:
            self._mode.calls = 0
            self._mode.__enter__()
            self._mode_on = True

    def _root_post(self, module: nn.Module, args: Any, output: Any) -> None:
        if self._mode_on and self._mode is not None:
            # the mode's per-call dispatch is not inside any timed hook: charge it here
            self._sampler.cost += self._mode.calls * _CallSites.dispatch_cost()
        self._exit_mode()
        self._active = False

    def _site(self, key: str, source: str, target: Target) -> Site:
        site = self._sites.get(key)
        if site is None or site.target.act is not target.act:
            site = self._sites[key] = Site(
                key, source, target, len(self._sites), self.eps, self.zero_tol, self.unit_dim
            )
            self._sampler.fresh = True  # one-off set-up cost: not used to tune sampling
        return site

    def _module_key(self, module: nn.Module, name: str) -> str:
        k = self._calls[id(module)] = self._calls.get(id(module), 0) + 1
        return name if k == 1 else f"{name}#{k}"

    def _pre_hook(self, name: str, target: Target) -> Callable[..., None]:
        # Only for in-place modules: the pre-activation must be read before it is overwritten.
        def hook(module: nn.Module, args: Any) -> None:
            if not self._active or not args or not _is_float(args[0]):
                return None
            t0 = perf_counter()
            if self._mode_on:  # our own reductions must not go through the function mode
                with torch._C.DisableTorchFunction():
                    self._module_input(module, name, target, args[0])
            else:
                self._module_input(module, name, target, args[0])
            self._sampler.cost += perf_counter() - t0
            return None

        return hook

    def _post_hook(self, name: str, target: Target) -> Callable[..., None]:
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            if not self._active or not _is_float(output):
                return None
            t0 = perf_counter()
            if self._mode_on:
                with torch._C.DisableTorchFunction():
                    self._module_output(module, name, target, args, output)
            else:
                self._module_output(module, name, target, args, output)
            self._sampler.cost += perf_counter() - t0
            return None

        return hook

    def _module_input(self, module: nn.Module, name: str, target: Target, x: Any) -> None:
        site = self._site(self._module_key(module, name), "module", target)
        acc = site.accumulator(self._source, x)
        if acc is None:
            return
        tp = target.tensor_params(x) if target.tensor_params else None
        site.observe_input(acc, x, self._scratch, None, tp)
        self._pending.setdefault(id(module), []).append((site, acc))

    def _module_output(
        self, module: nn.Module, name: str, target: Target, args: Any, output: torch.Tensor
    ) -> None:
        pending = self._pending.get(id(module))
        if pending:
            site, acc = pending.pop()
        else:
            site = self._site(self._module_key(module, name), "module", target)
            acc = site.accumulator(self._source, output)
            if acc is None:
                return
            x = args[0] if args else None
            if _is_float(x) and x is not output and x.shape == output.shape:
                tp = target.tensor_params(x) if target.tensor_params else None
                site.observe_input(acc, x, self._scratch, None, tp)
        site.observe_output(acc, output, self._scratch)
        self._watch_grad(acc, output)

    def _watch_grad(self, acc: Accumulator, output: torch.Tensor) -> None:
        if self.grad and output.requires_grad and torch.is_grad_enabled():
            self._tensor_handles.append(output.register_hook(partial(self._on_grad, acc)))

    def _on_grad(self, acc: Accumulator, grad: torch.Tensor) -> None:
        t0 = perf_counter()
        acc.grad_hook(grad)
        self._sampler.cost += perf_counter() - t0

    def _owner(self, frame: Any) -> str | None:
        """The module whose forward made this call (``None``: a hooked activation module)."""
        names, acts = self._names, self._act_ids
        while frame is not None:
            code = frame.f_code
            if code.co_argcount and code.co_varnames[0] == "self":
                i = id(frame.f_locals.get("self"))
                if i in names:
                    return None if i in acts else names[i]
            frame = frame.f_back
        return "model"

    def _on_call(self, target: FunctionTarget, func: Any, args: tuple, kwargs: dict) -> Any:
        x = args[0] if args else kwargs.get("input")
        if not self._active or not _is_float(x) or x.dim() == 0:
            return func(*args, **kwargs)
        t0 = perf_counter()
        owner = self._owner(sys._getframe(2))
        if owner is None:
            self._sampler.cost += perf_counter() - t0
            return func(*args, **kwargs)
        try:
            act, params, tensors = target.resolve(args, kwargs)
        except (ValueError, TypeError, KeyError):
            self._sampler.cost += perf_counter() - t0
            return func(*args, **kwargs)
        k = self._fcalls[owner] = self._fcalls.get(owner, 0) + 1
        key = f"{owner}:{act.name}#{k}"
        t = Target(act, params, None, target.inplace(args, kwargs), target.origin)
        if key not in self._sites:
            self._fn_sites += 1
        site = self._site(key, "function", t)
        acc = site.accumulator(self._source, x)
        if acc is not None:
            site.observe_input(acc, x, self._scratch, params, tensors)
        self._sampler.cost += perf_counter() - t0
        out = func(*args, **kwargs)
        if acc is not None and _is_float(out) and out.shape == x.shape:
            t0 = perf_counter()
            site.observe_output(acc, out, self._scratch)
            self._watch_grad(acc, out)
            self._sampler.cost += perf_counter() - t0
        return out

    @property
    def sampling(self) -> int:
        """Measure every k-th training step: the k in use now (tuned when ``every="auto"``)."""
        return self._sampler.k

    # ------------------------------------------------------------------ windows
    def end_epoch(self) -> list[dict[str, Any]]:
        """Close the open training window now (the end of an epoch); returns its records."""
        return self._close("train")

    def _close(self, source: str, *, commit: bool = True) -> list[dict[str, Any]]:
        w = self._open[source]
        if w.sampled == 0:
            if commit and w.batches:
                self._open[source] = _OpenWindow(w.index + 1, self.step + 1)
            return []
        kind = "scan" if source == "scan" else ("epoch" if self.window == "epoch" else "batches")
        end = self.step if source == "scan" else w.start + w.batches - 1
        start = self.step if source == "scan" else w.start
        info = WindowInfo(source, kind, w.index, start, end, w.batches, w.sampled, not commit)
        records = []
        for site in self._sites.values():
            acc = site.acc.get(source)
            if acc is None or acc.calls == 0:
                continue
            records.append(site.close(acc, info, commit=commit))
        ratio = _relative_grads(records, info)
        if commit:
            self._open[source] = _OpenWindow(w.index + 1, self.step + 1)
            self._last = records
            self._last_ratio = ratio
            self._history.add({"records": records, "grad_ratio": ratio})
            for cb in self.on_window:
                cb(records, self)
        return [dict(r) for r in records]

    # ------------------------------------------------------------------ results
    def summary(self) -> list[dict[str, Any]]:
        """One record per monitored site, in forward order, for the latest window.

        That is the last closed window; while the training window is still open and
        none has closed yet, the open one (its ``window`` says ``partial``). Keys:

        ``layer``, ``kind`` (the activation's spec, e.g. ``leaky_relu(negative_slope=0.1)``),
        ``source`` (``module``/``function``), ``origin`` (``torch.nn.ReLU``, ``F.relu``),
        ``units``, ``step`` (last step of the window), ``window`` (what it covered, in
        words), ``window_kind``, ``window_start``, ``batches``, ``sampled_batches``,
        ``samples``, ``values_per_unit``, ``dead_units``, ``dead_fraction``, ``sparsity``,
        ``saturation``, ``frozen_fraction``, ``finite`` (no NaN or inf output), ``mean``,
        ``std`` (of all the site's output values), ``grad_norm`` (``||dL/dy||``,
        root-mean-square over the window's backward passes), ``grad_samples``,
        ``grad_norm_ratio`` (this site's grad norm over the last site's), ``died``,
        ``revived`` (units that died / came back since the previous window),
        ``died_total``, ``revived_total``, ``ever_dead_fraction``,
        ``dead_since`` (median first step of the current dead units' dead run),
        ``dead_since_first``, ``eps``, ``zero_tol``. Missing values are ``None``.
        """
        w = self._open["train"]
        if self._attached and isinstance(self.window, int) and w.batches >= self.window:
            self._close("train")
        if self._last:
            return [dict(r) for r in self._last]
        return self._close("train", commit=False)

    def grad_ratio(self) -> dict[str, Any] | None:
        """Gradient norm at the first monitored site over that at the last (latest window).

        ``{"ratio", "first", "last", "first_norm", "last_norm", "step", "window"}``;
        much below 1: gradients vanish on the way to the input (C2); much above:
        they explode. ``None`` before any window with gradients.
        """
        if self._last:
            return None if self._last_ratio is None else dict(self._last_ratio)
        recs = self._close("train", commit=False)
        return _ratio_of(recs)

    def history(self) -> list[dict[str, Any]]:
        """Every record kept, oldest first (bounded: see ``history`` in the constructor)."""
        return [dict(r) for e in self._history.entries for r in e["records"]]

    def grad_ratio_history(self) -> list[dict[str, Any]]:
        """The first-to-last gradient-norm ratio of every window kept."""
        return [dict(e["grad_ratio"]) for e in self._history.entries if e["grad_ratio"]]

    def units(self, layer: str, *, source: str = "train") -> dict[str, np.ndarray]:
        """Per-unit arrays of the last closed window of ``layer``.

        ``active_fraction`` (fraction of non-zero outputs), ``saturation``, ``mean``,
        ``std``, ``dead``, ``frozen``, ``dead_since`` (step; -1 for live units).
        """
        site = self._sites.get(layer)
        if site is None:
            raise KeyError(f"no monitored site {layer!r}; sites: {', '.join(self._sites)}")
        got = site.last_units.get(source)
        if got is None:
            raise KeyError(f"site {layer!r} has no closed {source} window yet")
        return {k: v.copy() for k, v in got.items()}

    @property
    def layers(self) -> list[str]:
        """Names of the sites seen so far, in forward order."""
        return list(self._sites)

    def advice(self, **thresholds: Any) -> list[Any]:
        """Plain-language findings with their evidence; see :func:`actlab.monitor.advise`."""
        from .advice import advise

        return advise(self.summary(), self.grad_ratio(), **thresholds)

    def report(self) -> str:
        """The summary table and the advice, as text."""
        from .export import format_table

        lines = [format_table(self.summary())]
        ratio = self.grad_ratio()
        if ratio is not None:
            lines.append(
                f"gradient norm, first / last monitored site ({ratio['first']} / "
                f"{ratio['last']}): {ratio['ratio']:.3g}"
            )
        lines += ["", *(str(f) for f in self.advice())]
        return "\n".join(lines)

    def print_summary(self, file: Any = None) -> None:
        """Print the summary as a plain-text table (no pandas needed)."""
        from .export import format_table

        print(format_table(self.summary()), file=file or sys.stdout)

    # ------------------------------------------------------------------ scan
    def scan(
        self,
        model: nn.Module,
        loader: Iterable[Any] | torch.Tensor,
        *,
        max_batches: int | None = None,
        train_mode: bool = False,
        batch_size: int = 256,
    ) -> list[dict[str, Any]]:
        """Run ``model`` over a data set without training and return one window's records.

        The window covers every batch of ``loader`` (an iterable of input tensors or of
        ``(inputs, targets, ...)`` tuples, or one tensor split into ``batch_size``
        rows): a unit is dead if it output 0 for every sample of the data set. The
        model runs under ``torch.no_grad()`` in eval mode (``train_mode=True`` keeps
        training-mode BatchNorm and dropout) and is restored afterwards; gradient
        norms are ``None``. Scans keep their own dead-unit tracking, apart from the
        training windows.

        Args:
            model: the model this monitor watches.
            loader: the data.
            max_batches: stop after this many batches. Default: all
            train_mode: run in training mode. Default: ``False``
            batch_size: rows per batch when ``loader`` is one tensor. Default: ``256``
        """
        if model is not self.model:
            raise ValueError(
                "scan() got a different model from the one this Monitor watches; "
                "create actlab.Monitor(model) for it"
            )
        if isinstance(loader, np.ndarray):
            loader = torch.as_tensor(loader)
        if isinstance(loader, torch.Tensor):
            loader = torch.split(loader, batch_size)
        device = next((p.device for p in model.parameters()), None)
        was_attached, was_training = self._attached, model.training
        self.attach()
        self._scanning, self._source = True, "scan"
        self._open["scan"] = _OpenWindow(self._open["scan"].index, self.step)
        model.train(train_mode)
        try:
            with torch.no_grad():
                for i, batch in enumerate(loader):
                    if max_batches is not None and i >= max_batches:
                        break
                    x = batch[0] if isinstance(batch, (tuple, list)) else batch
                    if isinstance(x, np.ndarray):
                        x = torch.as_tensor(x)
                    if device is not None and isinstance(x, torch.Tensor):
                        x = x.to(device)
                    model(x)
        finally:
            self._scanning, self._source = False, "train"
            model.train(was_training)
            records = self._close("scan")
            if not was_attached:
                self.detach()
        return records

    # ------------------------------------------------------------------ export
    def to_csv(self, path: Any) -> Any:
        """Write the history (one row per site per window) as CSV; returns the path."""
        from .export import write_csv

        return write_csv(self.history(), path)

    def to_jsonl(self, path: Any) -> Any:
        """Write the history as JSON lines; returns the path."""
        from .export import write_jsonl

        return write_jsonl(self.history(), path)

    def to_tensorboard(self, writer: Any) -> Any:
        """Write the history as TensorBoard scalars, and the last window's per-unit
        histograms. ``writer`` is a ``SummaryWriter`` or a log directory (needs the
        ``tensorboard`` package). Returns the writer."""
        from .export import TensorBoardLogger

        logger = TensorBoardLogger(writer)
        for entry in self._history.entries:
            logger.scalars(entry["records"], entry["grad_ratio"])
        if self._last:
            logger.histograms(self._last, self)
        logger.flush()
        return logger.writer

    def plot(self, path: Any = None, **kwargs: Any) -> Any:
        """A matplotlib figure of the history (dead fraction, saturation, gradient norms)."""
        from .export import plot_history

        return plot_history(self.history(), self.grad_ratio_history(), path, **kwargs)

    def __repr__(self) -> str:
        state = "attached" if self._attached else "detached"
        return (
            f"Monitor({type(self.model).__name__}, {len(self._sites)} sites, step {self.step}, "
            f"window={self.window!r}, every={self.every!r} (now {self.sampling}), {state})"
        )


def _is_float(x: Any) -> bool:
    return isinstance(x, torch.Tensor) and x.is_floating_point()


def _pos_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _check(name: str, value: Any, ok: bool, what: str) -> None:
    if not ok:
        from ..functions import InvalidParameterError

        raise InvalidParameterError(
            f"The {name!r} parameter of Monitor must be {what}. Got {value!r} instead."
        )


def _ratio_of(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    with_grad = [r for r in records if r.get("grad_norm") is not None]
    if len(with_grad) < 2:
        return None
    first, last = with_grad[0], with_grad[-1]
    ratio = first["grad_norm"] / last["grad_norm"] if last["grad_norm"] > 0 else math.inf
    return {
        "ratio": ratio,
        "first": first["layer"],
        "last": last["layer"],
        "first_norm": first["grad_norm"],
        "last_norm": last["grad_norm"],
        "step": first["step"],
        "window": first["window"],
    }


def _relative_grads(records: list[dict[str, Any]], info: WindowInfo) -> dict[str, Any] | None:
    ratio = _ratio_of(records)
    last = ratio["last_norm"] if ratio else None
    for r in records:
        g = r.get("grad_norm")
        r["grad_norm_ratio"] = g / last if (g is not None and last) else None
    return ratio
