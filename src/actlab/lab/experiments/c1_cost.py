"""C1: is ReLU cheaper than sigmoid/tanh, and do SiLU, Mish, ELU cost more because of exp?

The texts say ReLU is cheap because it needs no exponential, and that SiLU, Mish
and ELU pay for theirs. Both halves are timings, so we time them, float32 on the
CPU with every core the machine has:

* each activation's PyTorch native op and actlab's implementation, forward and
  forward+backward, and the native op also into a preallocated ``out=`` buffer
  (no allocation), on an array that fits the L2 cache (16K elements), one around
  the L3 size and one beyond it (quick: 1M and 4M elements);
* two memory copies as the floor of any elementwise op: ``torch.empty_like(x).copy_(x)``
  (with allocation) and ``buf.copy_(x)`` (without), and a one-element call for the
  per-call overhead;
* the bare kernels ``exp``, ``tanh``, ``erfc``, ``expm1`` and ``log1p``: if exp were
  what makes SiLU, Mish and ELU dear, a bare exp would be dear too, and each function
  would cost no more than its own kernels run one after another.

All variants of one size run interleaved (``_cost.interleaved``); every figure is
a ratio of the fastest rounds of two variants timed in the same run
(``_cost.ratio`` says why the fastest, not the median). The claim is about the
functions, so each is judged by its fastest implementation (PyTorch's, or
actlab's where that is faster); actlab's own cost is reported beside it.

Part (a): sigmoid and tanh each cost at least :data:`MARGIN` times ReLU (per size
and pass). Part (b): SiLU, Mish and ELU each cost at least :data:`MARGIN` times
ReLU *and* a bare exp does too *and* the function costs no more than
:data:`MARGIN` times its exponential-family kernels plus its cheap arithmetic
run as separate passes (:data:`RECIPES`). Both parts everywhere: supported;
neither anywhere: refuted; otherwise the answer depends, and the boundary names
where each part holds.
"""

from __future__ import annotations

from typing import Any

from . import Anchor, Context, Experiment, Outcome, Table, Verdict, register
from . import _cost as cost

#: How much dearer than ReLU a function must be to count as dearer. Repeated runs on a
#: shared 2-core machine move a ratio by about 10% (the brackets the analysis reports);
#: 1.25 is clearly beyond that, and a 25% difference on an op that is a small part of a
#: training step is already hard to notice.
MARGIN = 1.25
#: Fewer interleaved rounds than this leave the estimates loose: the verdict is provisional.
MIN_ROUNDS = 5
#: Sizes (elements) and rounds per profile. Native ops are timed at every size; actlab's
#: (much slower today) at fewer sizes and rounds, to keep the quick report in budget.
#: The smoke profile (for tests) times one thread only: a woken second thread on a busy
#: machine can add milliseconds per call, seconds per run.
PLANS: dict[str, dict[str, Any]] = {
    "smoke": dict(sizes=[1 << 14, 1 << 18], rounds=3, actlab_sizes=[1 << 14], actlab_rounds=2),
    "quick": dict(
        sizes=[1 << 14, 1 << 20, 1 << 22],
        rounds=5,
        actlab_sizes=[1 << 14, 1 << 20],
        actlab_rounds=3,
    ),
    "full": dict(
        sizes=[1 << 14, 1 << 20, 1 << 22, 1 << 24],
        rounds=15,
        actlab_sizes=[1 << 14, 1 << 20, 1 << 22],
        actlab_rounds=5,
    ),
}
#: The classics the claim says ReLU is cheaper than.
CLASSICS = ("sigmoid", "tanh")
CLASSICS_AND_RELU = ("relu", *CLASSICS)
#: The functions the claim says pay for an exponential.
EXP_BASED = ("silu", "mish", "elu")
#: Each function written with the bare kernels timed here plus cheap arithmetic passes
#: (each about one ReLU): sigmoid 1/(1+exp(-x)) = exp + neg, add, reciprocal; SiLU
#: x*sigmoid(x) = exp + 4; ELU where(x>0, x, expm1(x)) = expm1 + where; softplus
#: log1p(exp(x)) + threshold where; Mish x*tanh(softplus(x)); GELU x/2*erfc(-x/sqrt 2).
RECIPES: dict[str, tuple[tuple[str, ...], int]] = {
    "sigmoid": (("exp",), 3),
    "tanh": (("tanh",), 0),
    "elu": (("expm1",), 1),
    "silu": (("exp",), 4),
    "softplus": (("exp", "log1p"), 1),
    "mish": (("exp", "log1p", "tanh"), 2),
    "gelu": (("erfc",), 3),
}
MODES = {
    "fwd": "forward",
    "out": "forward into a preallocated output",
    "fb": "forward+backward",
}
#: The memory copy each pass is compared with.
COPY = {"fwd": "copy/alloc", "out": "copy/out", "fb": "copy/alloc"}
#: Numbers from an earlier run of this measurement on another machine (the project's
#: issue text): 1M float32 elements, 2 threads, PyTorch 2.13 eager, ratio to a copy.
EARLIER_1M = {
    ("tanh", "out"): 1.1,
    ("sigmoid", "out"): 1.4,
    ("exp", "out"): 1.0,
    ("mish", "fwd"): 13.0,
}

Ratio = tuple[float, float, float]  # estimate, low and high end of its bracket


def plan_threads(profile: str) -> list[int]:
    """Thread counts timed under ``profile``: every core and one; one only for smoke."""
    return [1] if profile == "smoke" else cost.thread_counts()


def native_timing(ctx: Context, n: int) -> dict[str, Any]:
    """The stored native-op timing of ``n`` elements under ctx's profile (C18 reads it too)."""
    p = PLANS[ctx.profile]
    return ctx.measure(
        "cost-native", cost.native_run, n=n, rounds=p["rounds"], threads_=plan_threads(ctx.profile)
    )


def _scale(r: Ratio, by: float) -> Ratio:
    return (r[0] / by, r[1] / by, r[2] / by)


def _best(run: dict, act: dict | None, f: str, mode: str) -> tuple[Ratio | None, str]:
    """f's cost over native ReLU's in ``mode``: the faster of PyTorch's op and actlab's."""
    nat = cost.ratio(run, f"{f}/torch/{mode}", f"relu/torch/{mode}")
    mine = cost.ratio(act, f"{f}/actlab/{mode}", f"relu/torch/{mode}") if act else None
    if mine is not None and (nat is None or mine[0] < nat[0]):
        return mine, "actlab"
    return nat, "torch"


def cells(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One cell per (size, pass): every function's cost over ReLU's, the kernels', the recipes'."""
    act_by_n = {r["n"]: r for r in data.get("actlab", [])}
    out = []
    for run in data["native"]:
        n = run["n"]
        act = act_by_n.get(n)
        for mode in MODES:
            best: dict[str, Ratio] = {}
            impl: dict[str, str] = {}
            for f in cost.FUNCTIONS:
                r, who = _best(run, act if mode != "out" else None, f, mode)
                if r is not None:
                    best[f], impl[f] = r, who
            if "relu" not in best:
                continue
            relu = best["relu"][0]  # 1.0 unless actlab's ReLU is the faster
            rel = {f: _scale(r, relu) for f, r in best.items()}
            kern = {}
            for k in cost.KERNELS:
                r = cost.ratio(run, f"{k}/kernel/{mode}", f"relu/torch/{mode}")
                if r is not None:
                    kern[k] = _scale(r, relu)
            unfused = {
                f: sum(kern[k][0] for k in ks) + cheap / relu
                for f, (ks, cheap) in RECIPES.items()
                if all(k in kern for k in ks)
            }
            vs_copy = {f: cost.ratio(run, f"{f}/torch/{mode}", COPY[mode]) for f in cost.FUNCTIONS}
            k_copy = {k: cost.ratio(run, f"{k}/kernel/{mode}", COPY[mode]) for k in cost.KERNELS}
            out.append(
                {
                    "n": n,
                    "mode": mode,
                    "rel": rel,
                    "impl": impl,
                    "kernels": kern,
                    "unfused": unfused,
                    "vs_copy": {k: v for k, v in vs_copy.items() if v is not None},
                    "kernels_vs_copy": {k: v for k, v in k_copy.items() if v is not None},
                    "rounds": run["rounds"],
                }
            )
    return out


def classify_exp(cell: dict[str, Any], f: str) -> str:
    """Why ``f`` costs what it costs in this cell (part b).

    ``"cheap"``: not dearer than ReLU; ``"implementation"``: dearer than its own kernels
    and cheap passes run one after another; ``"not exp"``: dearer, but a bare exp costs
    about what ReLU costs; ``"exp"``: dearer, and in line with a dear exponential.
    """
    r = cell["rel"][f][0]
    if r < MARGIN:
        return "cheap"
    unf = cell["unfused"].get(f)
    if cell["mode"] != "fb" and unf is not None and r > MARGIN * unf:
        return "implementation"
    if cell["kernels"]["exp"][0] < MARGIN:
        return "not exp"
    return "exp"


_STATE = {
    "holds": "holds at every size and pass",
    "fails": "holds at no size or pass",
    "mixed": "holds at some sizes or passes only",
}


def _straddles(r: Ratio) -> bool:
    return r[1] < MARGIN <= r[2]


def _x(v: float) -> str:
    return f"{v:.1f}x" if v < 10 else f"{v:.0f}x"


def _where(n: int, caches: dict[str, int]) -> str:
    lab = cost.size_label(n, caches)
    return f"{cost.human(n)} ({'in ' + lab if lab != 'memory' else 'beyond the caches'})"


def _part_text(by_mode: dict[str, bool]) -> str:
    yes = [m for m, ok in by_mode.items() if ok]
    if len(yes) == len(by_mode):
        return "in every pass"
    if not yes:
        return "in no pass"
    return "only " + " and ".join(MODES[m] for m in yes)


@register
class Cost(Experiment):
    id = "C1"
    title = "Cost of computing each activation"
    question = (
        "Is ReLU cheaper than sigmoid and tanh, forward and backward, and do SiLU, Mish and "
        "ELU cost more because of their exponential?"
    )

    def setup(self, profile: str) -> dict[str, Any]:
        p = PLANS[profile]
        return {
            "functions": ", ".join(cost.FUNCTIONS),
            "bare kernels": ", ".join(cost.KERNELS),
            "sizes (float32 elements)": ", ".join(cost.human(n) for n in p["sizes"]),
            "actlab's implementation timed at": ", ".join(cost.human(n) for n in p["actlab_sizes"]),
            "rounds": f"{p['rounds']} interleaved (actlab: {p['actlab_rounds']}); ratios of "
            "the fastest rounds",
            "threads": ", ".join(map(str, plan_threads(profile)))
            + " (every core, and one); each variant gets the faster setting, round by round",
            "baselines": "torch.empty_like(x).copy_(x) and buf.copy_(x); PyTorch's ReLU",
        }

    def run(self, ctx: Context) -> dict[str, Any]:
        p = PLANS[ctx.profile]
        native = [native_timing(ctx, n) for n in p["sizes"]]
        actlab = [
            ctx.measure(
                "cost-actlab",
                cost.actlab_run,
                n=n,
                rounds=p["actlab_rounds"],
                threads_=plan_threads(ctx.profile),
            )
            for n in p["actlab_sizes"]
        ]
        return {"native": native, "actlab": actlab, "caches": cost.caches()}

    def analyse(self, data: dict[str, Any]) -> Outcome:
        caches = data.get("caches", {})
        cs = cells(data)
        sizes = sorted({c["n"] for c in cs})
        a_ok = {(c["n"], c["mode"]): all(c["rel"][f][0] >= MARGIN for f in CLASSICS) for c in cs}
        a_none = {
            (c["n"], c["mode"]): not any(c["rel"][f][0] >= MARGIN for f in CLASSICS) for c in cs
        }
        why = {(c["n"], c["mode"]): {f: classify_exp(c, f) for f in EXP_BASED} for c in cs}
        b_ok = {k: all(v == "exp" for v in w.values()) for k, w in why.items()}
        b_none = {k: not any(v == "exp" for v in w.values()) for k, w in why.items()}
        a_state = "holds" if all(a_ok.values()) else "fails" if all(a_none.values()) else "mixed"
        b_state = "holds" if all(b_ok.values()) else "fails" if all(b_none.values()) else "mixed"

        deciding = [c["rel"][f] for c in cs for f in (*CLASSICS, *EXP_BASED)]
        deciding += [c["kernels"]["exp"] for c in cs]
        loose = [r for r in deciding if _straddles(r)]
        few_rounds = min(c["rounds"] for c in cs) < MIN_ROUNDS
        provisional = bool(loose) or few_rounds

        by = {(c["n"], c["mode"]): c for c in cs}
        lo, hi = sizes[0], sizes[-1]

        def fb(f: str, n: int) -> float:
            return by[(n, "fb")]["rel"][f][0]

        def fw(f: str, n: int) -> float:
            return by[(n, "fwd")]["rel"][f][0]

        a_sentence = "forward+backward, " + ", ".join(
            f"{f} costs {_x(fb(f, lo))} ReLU at {cost.human(lo)} and {_x(fb(f, hi))} at "
            f"{cost.human(hi)} elements"
            for f in CLASSICS
        )
        b_sentence = (
            f"forward at {cost.human(hi)}, "
            + ", ".join(f"{f} costs {_x(fw(f, hi))}" for f in EXP_BASED)
            + f" ReLU while a bare exp costs {_x(by[(hi, 'fwd')]['kernels']['exp'][0])}"
        )
        if a_state == "holds" and b_state == "holds":
            verdict = Verdict(
                "supported",
                f"ReLU was cheaper than sigmoid and tanh at every size and pass ({a_sentence}); "
                f"SiLU, Mish and ELU cost more, in line with a dear exponential ({b_sentence}).",
                provisional=provisional,
            )
        elif a_state == "fails" and b_state == "fails":
            verdict = Verdict(
                "refuted",
                f"ReLU was not cheaper than sigmoid and tanh at any size or pass ({a_sentence}), "
                f"and nowhere did SiLU, Mish and ELU cost more because of exp ({b_sentence}).",
                provisional=provisional,
            )
        else:
            on, boundary = self._depends(cs, a_ok, b_ok, why, caches, a_state, b_state)
            verdict = Verdict(
                "depends",
                f"That ReLU is cheaper than sigmoid and tanh {_STATE[a_state]} ({a_sentence}); "
                f"that SiLU, Mish and ELU are dearer because of exp {_STATE[b_state]} "
                f"({b_sentence}).",
                on=on,
                boundary=boundary,
                provisional=provisional,
            )

        findings = self._findings(data, cs, why, caches, loose, few_rounds)
        evidence = {
            "margin": MARGIN,
            "threads": {cost.human(r["n"]): r["threads"] for r in data["native"]},
            "rounds": data["native"][0]["rounds"],
            "caches_bytes": caches,
            "part_a": a_state,
            "part_b": b_state,
            "cost_over_relu": {
                f"{cost.human(c['n'])}/{c['mode']}": {
                    f: round(r[0], 3) for f, r in c["rel"].items()
                }
                for c in cs
            },
            "kernels_over_relu": {
                f"{cost.human(c['n'])}/{c['mode']}": {
                    k: round(r[0], 3) for k, r in c["kernels"].items()
                }
                for c in cs
            },
            "cost_over_copy": {
                f"{cost.human(c['n'])}/{c['mode']}": {
                    k: round(r[0], 3) for k, r in c["vs_copy"].items()
                }
                for c in cs
            },
            "kernels_over_copy": {
                f"{cost.human(c['n'])}/{c['mode']}": {
                    k: round(r[0], 3) for k, r in c["kernels_vs_copy"].items()
                }
                for c in cs
            },
            "why_exp_based_cost_more": {f"{cost.human(n)}/{m}": w for (n, m), w in why.items()},
            "actlab_over_native_fwd_bwd": self._actlab(data),
        }
        anchors = self._anchors(cs, max(data["native"][0]["threads"]))
        return Outcome(verdict, evidence, findings, self._tables(data, cs), anchors)

    # -- the parts of the outcome ---------------------------------------------------------
    def _depends(
        self,
        cs: list[dict[str, Any]],
        a_ok: dict,
        b_ok: dict,
        why: dict,
        caches: dict[str, int],
        a_state: str,
        b_state: str,
    ) -> tuple[str, str]:
        sizes = sorted({c["n"] for c in cs})
        modes = [m for m in MODES if any(c["mode"] == m for c in cs)]
        dims = []
        for part in (a_ok, b_ok):
            per_size = [tuple(part.get((n, m)) for m in modes) for n in sizes]
            if len(set(per_size)) > 1 and "array size (cache or memory)" not in dims:
                dims.append("array size (cache or memory)")
            if any(len(set(v)) > 1 for v in per_size) and "the pass" not in dims:
                dims.append("the pass")
        if any(v == "implementation" for w in why.values() for v in w.values()):
            dims.append("the implementation (a fused op slower than its own kernels)")
        if a_state != b_state:
            dims.append("the part of the claim")
        parts = []
        for n in sizes:
            a_txt = _part_text({m: a_ok[(n, m)] for m in modes})
            b_txt = _part_text({m: b_ok[(n, m)] for m in modes})
            parts.append(
                f"at {_where(n, caches)}: ReLU cheaper than sigmoid and tanh {a_txt}; "
                f"SiLU, Mish and ELU dearer because of exp {b_txt}"
            )
        return ", ".join(dims) or "the part of the claim", "; ".join(parts)

    def _findings(
        self,
        data: dict[str, Any],
        cs: list[dict[str, Any]],
        why: dict,
        caches: dict[str, int],
        loose: list,
        few_rounds: bool,
    ) -> list[str]:
        run0 = data["native"][0]
        mach = run0.get("machine", {})
        by = {(c["n"], c["mode"]): c for c in cs}
        sizes = sorted({c["n"] for c in cs})
        out = [
            f"Timed on {mach.get('cpu', 'this CPU')} ({mach.get('cores', '?')} cores) with "
            f"{' and '.join(map(str, run0['threads']))} thread(s), each variant at its faster "
            f"setting, PyTorch {mach.get('torch', '?')}, float32; ratios of the fastest of "
            f"{run0['rounds']} interleaved rounds; caches: "
            + (", ".join(f"{k} {v // 1024} KiB" for k, v in caches.items()) or "unknown")
            + "."
        ]
        loads = [x for r in data["native"] for x in r.get("load", []) if x is not None]
        cores = mach.get("cores")
        if loads and cores:
            busy = max(loads) >= cores
            out.append(
                f"Load average while timing: {min(loads):.1f} to {max(loads):.1f} on {cores} "
                "cores: "
                + (
                    "other processes competed for the cores, which inflates and scatters "
                    "every time; ratios from an idle machine are steadier."
                    if busy
                    else "the cores were mostly free."
                )
            )
        for n in sizes:
            c_out, c_fwd = by.get((n, "out")), by[(n, "fwd")]
            src = c_out or c_fwd
            vals = ", ".join(
                [f"{k} {_x(src['vs_copy'][k][0])}" for k in CLASSICS_AND_RELU
                 if k in src["vs_copy"]]
                + [f"bare {k} {_x(src['kernels_vs_copy'][k][0])}" for k in cost.KERNELS
                   if k in src["kernels_vs_copy"]]
            )  # fmt: skip
            more = ", ".join(
                f"{k} {_x(c_fwd['vs_copy'][k][0])}"
                for k in ("elu", "softplus", "silu", "mish", "gelu")
                if k in c_fwd["vs_copy"]
            )
            out.append(
                f"At {_where(n, caches)}, over a memory copy"
                + (" into a preallocated output" if c_out else "")
                + f": {vals}; out of place: {more}."
            )
        hi = sizes[-1]
        for f in EXP_BASED:
            c = by[(hi, "fwd")]
            r, unf, e = c["rel"][f][0], c["unfused"].get(f), c["kernels"]["exp"][0]
            kind = why[(hi, "fwd")][f]
            reading = {
                "cheap": "no dearer than ReLU",
                "implementation": "dearer than its own kernels run one after another: the "
                "implementation, not the exponential, sets its cost",
                "not exp": "dearer, but a bare exp costs about what ReLU costs, so exp is not "
                "the reason",
                "exp": "dearer, in line with its exponential",
            }[kind]
            ks = " + ".join(RECIPES[f][0])
            out.append(
                f"{f} forward at {cost.human(hi)}: {_x(r)} ReLU; bare exp {_x(e)}; {ks} plus "
                f"{RECIPES[f][1]} cheap pass(es) run separately {_x(unf or float('nan'))}: "
                f"{reading}."
            )
        lo = sizes[0]
        tiny = cost.ratio(run0, "tiny/alloc", "copy/alloc") if run0["n"] == lo else None
        alloc = cost.ratio(data["native"][-1], "copy/alloc", "copy/out")
        for run in data["native"]:
            ts = sorted(run["threads"])
            if len(ts) < 2:
                continue
            pairs = {
                k: (
                    cost.fastest_time(run, f"{k}/kernel/fwd", ts[-1]),
                    cost.fastest_time(run, f"{k}/kernel/fwd", ts[0]),
                )
                for k in ("exp", "tanh")
            }
            out.append(
                f"At {cost.human(run['n'])}, per call with {ts[-1]} threads against {ts[0]}: "
                + ", ".join(
                    f"{k} {a * 1e6:.1f} us vs {b * 1e6:.1f} us"
                    for k, (a, b) in pairs.items()
                    if a and b
                )
                + "; each variant is judged at its faster setting (waking a second thread "
                "for a small array can cost more than the work, above all on a busy machine)."
            )
        if tiny is not None:
            tt = sorted(cost.best_of_threads(run0)["tiny/alloc"])
            us = tt[len(tt) // 2] * 1e6
            out.append(
                f"A call on one element costs {us:.1f} us, {tiny[0]:.0%} of a {cost.human(lo)} "
                "copy: in cache the per-call overhead is a large part of every ratio."
            )
        if alloc is not None:
            out.append(
                f"At {cost.human(data['native'][-1]['n'])}, a copy into a new tensor costs "
                f"{alloc[0]:.2f}x a copy into a preallocated one (the cost of allocation)."
            )
        for n, per in self._actlab(data).items():
            vals = sorted(per.values())
            best, worst = min(per, key=per.get), max(per, key=per.get)
            faster = sorted(f for f, v in per.items() if v < 1 / MARGIN)
            out.append(
                f"actlab's own implementations cost a median {_x(vals[len(vals) // 2])} "
                f"PyTorch's native op forward+backward at {n} elements (from {_x(per[best])}, "
                f"{best}, to {_x(per[worst])}, {worst})"
                + (f"; faster than PyTorch's: {', '.join(faster)}" if faster else "")
                + "; the verdict uses the faster of the two."
            )
        if few_rounds:
            out.append(f"Fewer than {MIN_ROUNDS} rounds: the estimates are loose (provisional).")
        elif loose:
            out.append(
                f"{len(loose)} deciding ratios have brackets (from the two fastest rounds) on "
                f"both sides of {MARGIN}: another run could move them across (provisional)."
            )
        return out

    def _actlab(self, data: dict[str, Any]) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for run in data.get("actlab", []):
            per = {}
            for f in cost.FUNCTIONS:
                r = cost.ratio(run, f"{f}/actlab/fb", f"{f}/torch/fb")
                if r is not None:
                    per[f] = round(r[0], 3)
            if per:
                out[cost.human(run["n"])] = per
        return out

    def _tables(self, data: dict[str, Any], cs: list[dict[str, Any]]) -> list[Table]:
        by = {(c["n"], c["mode"]): c for c in cs}
        act = self._actlab(data)
        tables = []
        for run in data["native"]:
            n = run["n"]
            rows = []
            for name in [*cost.FUNCTIONS, *(f"{k} (kernel)" for k in cost.KERNELS)]:
                key = name.split(" ")[0]
                is_k = name.endswith("(kernel)")
                row: list[Any] = [name]
                for mode in MODES:
                    vc = "kernels_vs_copy" if is_k else "vs_copy"
                    r = by.get((n, mode), {}).get(vc, {}).get(key)
                    row.append(round(r[0], 2) if r else "-")
                for mode in ("fwd", "fb"):
                    src = by[(n, mode)]["kernels" if is_k else "rel"].get(key)
                    row.append(round(src[0], 2) if src else "-")
                mine = act.get(cost.human(n), {}).get(key) if not is_k else None
                row.append(round(mine, 1) if mine is not None else "-")
                rows.append(row)
            tables.append(
                Table(
                    f"Cost at {cost.human(n)} float32 elements (PyTorch native ops)",
                    [
                        "function",
                        "fwd / copy",
                        "fwd into out= / copy",
                        "fwd+bwd / copy",
                        "fwd / ReLU",
                        "fwd+bwd / ReLU",
                        "actlab fwd+bwd / native",
                    ],
                    rows,
                )
            )
        return tables

    def _anchors(self, cs: list[dict[str, Any]], threads: int) -> list[Anchor]:
        by = {(c["n"], c["mode"]): c for c in cs}
        out = []
        for (f, mode), published in EARLIER_1M.items():
            c = by.get((1 << 20, mode))
            r = c["vs_copy" if f in cost.FUNCTIONS else "kernels_vs_copy"].get(f) if c else None
            if r is None:
                continue
            where = "into a preallocated output" if mode == "out" else "out of place"
            out.append(
                Anchor(
                    f"{f} forward {where} over a memory copy, 1M float32 ({threads} threads here)",
                    published,
                    round(r[0], 2),
                    "an earlier run of this measurement on another machine (project issue, "
                    "PyTorch 2.13 eager, 2 threads, 1M float32)",
                    "another CPU: its vector width, its exp/tanh routines and its memory "
                    "bandwidth all move the ratio (an AMD machine once gave tanh 28x)",
                    unit="x",
                )
            )
        return out

    def figure(self, data: dict[str, Any], outcome: Outcome) -> Any:
        import matplotlib.pyplot as plt
        import numpy as np

        cs = cells(data)
        by = {(c["n"], c["mode"]): c for c in cs}
        sizes = sorted({c["n"] for c in cs})
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3.6))
        left = [*cost.FUNCTIONS, *cost.KERNELS]
        w = 0.8 / len(sizes)
        xs = np.arange(len(left))
        for i, n in enumerate(sizes):
            vc, kc = by[(n, "fwd")]["vs_copy"], by[(n, "fwd")]["kernels_vs_copy"]
            vals = [vc[f][0] if f in vc else np.nan for f in cost.FUNCTIONS]
            vals += [kc[k][0] if k in kc else np.nan for k in cost.KERNELS]
            ax1.bar(
                xs + (i - (len(sizes) - 1) / 2) * w,
                vals,
                w,
                label=f"{cost.human(n)}",
            )
        ax1.axvline(len(cost.FUNCTIONS) - 0.5, color="grey", lw=0.8, ls=":")
        ax1.axhline(1.0, color="black", lw=0.8)
        ax1.set_yscale("log")
        ax1.set_xticks(xs, left, rotation=60, ha="right", fontsize=7)
        ax1.set_ylabel("time / memory copy")
        ax1.set_title("Forward (native ops | bare kernels)", fontsize=9)
        ax1.legend(fontsize=7, title="elements", title_fontsize=7)
        fs = cost.FUNCTIONS
        xs2 = np.arange(len(fs))
        for i, n in enumerate(sizes):
            rel = by[(n, "fb")]["rel"]
            ax2.bar(
                xs2 + (i - (len(sizes) - 1) / 2) * w,
                [rel[f][0] if f in rel else np.nan for f in fs],
                w,
                label=cost.human(n),
            )
        for j, (n, per) in enumerate(self._actlab(data).items()):
            c = next((c for c in cs if cost.human(c["n"]) == n and c["mode"] == "fb"), None)
            if c is None:
                continue
            ys = [per.get(f, np.nan) * self._native_rel(data, c["n"], f) for f in fs]
            i = sizes.index(c["n"])
            ax2.plot(xs2 + (i - (len(sizes) - 1) / 2) * w, ys, "x", color="black", mew=1.5,
                     ms=5, label="actlab (on its size's bar)" if j == 0 else None)  # fmt: skip
            ax2.plot(xs2 + (i - (len(sizes) - 1) / 2) * w, ys, "x", color=f"C{i}", ms=4)
        ax2.axhline(1.0, color="black", lw=0.8)
        ax2.axhline(MARGIN, color="red", lw=0.8, ls="--", label=f"{MARGIN}x ReLU")
        ax2.set_yscale("log")
        ax2.set_xticks(xs2, fs, rotation=60, ha="right", fontsize=7)
        ax2.set_ylabel("time / ReLU's")
        ax2.set_title("Forward+backward over ReLU", fontsize=9)
        ax2.legend(fontsize=6)
        fig.suptitle("C1: cost of each activation (float32, CPU)", fontsize=10)
        fig.tight_layout()
        return fig

    @staticmethod
    def _native_rel(data: dict[str, Any], n: int, f: str) -> float:
        """Native f's fwd+bwd over native ReLU's at n (from the actlab run of that size)."""
        for run in data.get("actlab", []):
            if run["n"] == n:
                r = cost.ratio(run, f"{f}/torch/fb", "relu/torch/fb")
                return r[0] if r else float("nan")
        return float("nan")
