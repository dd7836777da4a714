"""C17: does ReLU need less memory for the backward pass than the other activations?

The texts say ReLU keeps only one value (or one bit) per unit for the backward
pass, and some add that it needs fewer parameters. Both are measurable exactly:
autograd's saved-tensor hooks see every tensor kept for the backward pass, so
we count their bytes (a storage kept twice is counted once) for the activation
alone, and for a whole MLP, where what an activation keeps may be kept anyway
(the next Linear layer keeps its input, which is the activation's output).
"""

from __future__ import annotations

from typing import Any

from . import Anchor, Context, Experiment, Outcome, Table, Verdict, register

#: The activations the seed texts compare.
ACTIVATIONS = ["relu", "relu6", "leaky_relu", "prelu", "rrelu", "elu", "sigmoid", "tanh",
               "softplus", "silu", "mish", "gelu"]  # fmt: skip
#: Those the texts contrast ReLU with for memory: the saturating classics.
CLASSICS = ("sigmoid", "tanh")


def _model_bytes(act: Any, width: int, depth: int, x: Any) -> float:
    """Bytes an MLP of ``depth`` Linear+``act`` layers keeps beyond its weights, per hidden unit."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), act()]
    model = nn.Sequential(*layers, nn.Linear(width, 10))
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        ptr = t.untyped_storage().data_ptr()
        if t.numel() and ptr not in weights:
            seen[ptr] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(x)
    del out
    return sum(seen.values()) / (x.shape[0] * width * depth)


def _measure(width: int, depth: int, batch: int) -> dict[str, Any]:
    import torch
    from torch import nn

    from ... import create
    from ...analysis.bench import native_op, saved_bytes

    class Native(nn.Module):
        def __init__(self, f: Any):
            super().__init__()
            self.f = f

        def forward(self, t: torch.Tensor) -> torch.Tensor:
            return self.f(t)

    x = torch.randn(batch, width)
    per_op: dict[str, dict[str, float | None]] = {}
    per_model: dict[str, dict[str, float | None]] = {}
    params: dict[str, int] = {}
    for name in ACTIVATIONS:
        params[name] = sum(p.numel() for p in create(name).parameters())
        native = native_op(name)
        per_op[name] = {
            "actlab": saved_bytes(create(name), x) / x.numel(),
            "torch": saved_bytes(native, x) / x.numel() if native else None,
        }
        per_model[name] = {
            "actlab": _model_bytes(lambda name=name: create(name), width, depth, x),
            "torch": _model_bytes(lambda native=native: Native(native), width, depth, x)
            if native
            else None,
        }
    return {
        "per_op": per_op,
        "per_model": per_model,
        "params": params,
        "dtype_bytes": 4,
        "width": width,
        "depth": depth,
        "batch": batch,
    }


def _best(d: dict[str, float | None]) -> float:
    """The smaller of the implementations' figures (the memory an activation needs)."""
    return min(v for v in d.values() if v is not None)


@register
class Memory(Experiment):
    id = "C17"
    title = "Memory kept for the backward pass"
    question = (
        "Does ReLU keep less for the backward pass (bytes per unit) than sigmoid, tanh and the "
        "exponential-based activations, and does it have fewer parameters?"
    )

    def _size(self, profile: str) -> dict[str, int]:
        return {"smoke": dict(width=64, depth=2, batch=8)}.get(
            profile, dict(width=512, depth=4, batch=64)
        )

    def setup(self, profile: str) -> dict[str, Any]:
        s = self._size(profile)
        return {
            "activations": ", ".join(ACTIVATIONS),
            "measured": "bytes of every tensor autograd saves (saved_tensors_hooks), "
            "storages counted once, float32",
            "model": f"MLP of {s['depth']} Linear({s['width']}) + activation layers, "
            f"batch {s['batch']}; weights not counted",
        }

    def run(self, ctx: Context) -> dict[str, Any]:
        return ctx.measure("saved-bytes", _measure, **self._size(ctx.profile))

    def analyse(self, data: dict[str, Any]) -> Outcome:
        op = {k: _best(v) for k, v in data["per_op"].items()}
        model = {k: _best(v) for k, v in data["per_model"].items()}
        nbytes = data["dtype_bytes"]
        relu, m_relu = op["relu"], model["relu"]
        others = [k for k in model if k != "relu"]
        more = sorted(k for k in others if model[k] > m_relu + 1e-9)
        same = sorted(k for k in others if abs(model[k] - m_relu) <= 1e-9)
        less = sorted(k for k in others if model[k] < m_relu - 1e-9)
        params = data["params"]
        with_params = sorted(k for k, n in params.items() if n > params["relu"])
        evidence = {
            "saved_bytes_per_element": data["per_op"],
            "model_saved_bytes_per_unit": data["per_model"],
            "relu_values_kept_per_unit": relu / nbytes,
            "keep_more_than_relu_in_mlp": more,
            "keep_as_much_as_relu_in_mlp": same,
            "keep_less_than_relu_in_mlp": less,
            "parameters": params,
        }
        findings = [
            f"Alone, ReLU keeps {relu:g} bytes per unit ({relu / nbytes:g} float32 value); "
            + ", ".join(f"{k} {op[k]:g}" for k in CLASSICS)
            + ".",
            f"In an MLP, where the next Linear layer keeps the activation's output anyway, ReLU "
            f"adds {m_relu:.2f} bytes per hidden unit and example (the best implementation); "
            + ", ".join(f"{k} {model[k]:.2f}" for k in CLASSICS)
            + (f"; more: {', '.join(f'{k} {model[k]:.2f}' for k in more)}" if more else "")
            + ".",
        ]
        a_relu = data["per_model"]["relu"]["actlab"]
        t_relu = data["per_model"]["relu"]["torch"]
        if t_relu is not None and a_relu > t_relu + 1e-9:
            findings.append(
                f"actlab's ReLU keeps its input as well ({a_relu:.2f} B per unit in the MLP "
                f"against PyTorch's {t_relu:.2f}): an implementation cost, not the function's."
            )
        findings.append(
            f"Parameters: ReLU has {params['relu']}; "
            + (
                f"only {', '.join(with_params)} {'has' if len(with_params) == 1 else 'have'} more "
                "(learnable), so 'fewer parameters' is false against sigmoid and tanh."
                if with_params
                else "so has every other activation measured: 'fewer parameters' is false."
            )
        )
        classics = [model[k] for k in CLASSICS]
        if m_relu < min(classics) - 1e-9:
            verdict = Verdict(
                "supported",
                f"In an MLP ReLU adds {m_relu:.2f} bytes per unit against "
                + ", ".join(f"{k}'s {model[k]:.2f}" for k in CLASSICS) + ".",
            )  # fmt: skip
        elif not more:
            verdict = Verdict(
                "refuted",
                f"ReLU adds {m_relu:.2f} bytes per unit in an MLP, no less than any other "
                "activation measured.",
            )
        else:
            verdict = Verdict(
                "depends",
                f"ReLU adds {m_relu:.2f} bytes per unit in an MLP: as much as "
                + ", ".join(f"{k} ({model[k]:.2f})" for k in CLASSICS)
                + f", less than {', '.join(more)}.",
                on="whether the other function's derivative needs its input",
                boundary=f"less than {', '.join(more)} (which keep their input); no less than "
                "functions whose derivative is a function of their output (sigmoid, tanh)",
            )
        rows = [
            [k, data["per_op"][k]["actlab"], _cell(data["per_op"][k]["torch"]),
             data["per_model"][k]["actlab"], _cell(data["per_model"][k]["torch"]), params[k]]
            for k in data["per_op"]
        ]  # fmt: skip
        table = Table(
            "Bytes kept for the backward pass, per unit (float32)",
            ["activation", "alone: actlab", "alone: PyTorch", "in MLP: actlab", "in MLP: PyTorch",
             "parameters"],
            rows,
        )  # fmt: skip
        anchor = Anchor(
            "float32 values ReLU keeps per unit (the texts: one value, or one bit)",
            1.0,
            relu / nbytes,
            "seed text 001 (the claim itself)",
            "a framework may keep a bit mask instead (1/32 of a value); PyTorch keeps the output",
            unit="",
        )
        return Outcome(verdict, evidence, findings, [table], [anchor])

    def figure(self, data: dict[str, Any], outcome: Outcome) -> Any:
        import matplotlib.pyplot as plt

        pm = data["per_model"]
        names = list(pm)
        fig, ax = plt.subplots(figsize=(8, 3.6))
        xs = range(len(names))
        ax.bar([x - 0.2 for x in xs], [pm[n]["actlab"] for n in names], 0.4, label="actlab")
        ax.bar([x + 0.2 for x in xs], [pm[n]["torch"] or 0 for n in names], 0.4,
               label="PyTorch native")  # fmt: skip
        ax.set_xticks(list(xs), names, rotation=40, ha="right")
        ax.set_ylabel("bytes per hidden unit and example")
        ax.set_title("What an MLP keeps for the backward pass, by activation (float32)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        return fig


def _cell(v: float | None) -> Any:
    return "no native op" if v is None else v
