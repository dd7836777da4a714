"""Findings in plain language, each with its evidence and things to try.

The remedies are the usual ones from the texts the claims register collects
(C5, C6, C2, C8); each is something to try, not a promise: the monitor measured
the symptom, not the cause.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["DEFAULTS", "Finding", "advise"]

#: Default thresholds of :func:`advise`.
DEFAULTS: dict[str, float] = {
    "dead_warn": 0.10,  # a site with at least this fraction of dead units
    "frozen_warn": 0.10,  # ... or of units saturated on every value but not dead
    "saturation_warn": 0.25,  # saturated pre-activations beyond the zero outputs
    "vanishing": 1e-2,  # first/last gradient-norm ratio below this: vanishing
    "exploding": 1e2,  # ... above this: exploding
}


@dataclass(frozen=True)
class Finding:
    """One thing the monitor found.

    Attributes:
        severity: ``"warning"`` or ``"info"``.
        topic: ``"dead_units"``, ``"frozen_units"``, ``"saturation"``, ``"non_finite"``,
            ``"recovery"``,
            ``"vanishing_gradients"``, ``"exploding_gradients"`` or ``"ok"``.
        layer: the site it is about (``None`` for the whole model).
        message: what was measured, in words, with the numbers.
        evidence: the numbers themselves.
        remedies: things to try (none guaranteed to help).
        claims: ids from the claims register this bears on.
    """

    severity: str
    topic: str
    layer: str | None
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    remedies: tuple[str, ...] = ()
    claims: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["remedies"] = list(self.remedies)
        d["claims"] = list(self.claims)
        return d

    def __str__(self) -> str:
        head = f"[{self.severity}] {self.message}"
        if not self.remedies:
            return head
        tries = "\n".join(f"  - {r}" for r in self.remedies)
        return f"{head}\n  Things to try (each may or may not help here):\n{tries}"


def _pct(v: float) -> str:
    return f"{100 * v:.0f}%" if v >= 0.01 or v == 0 else f"{100 * v:.2g}%"


def _base(kind: str) -> str:
    return kind.split("(", 1)[0]


DEAD_REMEDIES = (
    "a smaller learning rate: large updates push a unit's bias and weights to where its "
    "input is negative for every sample (C5)",
    "Leaky ReLU or ELU, which keep a gradient for negative inputs so a unit can come back: "
    "actlab.swap(model, 'leaky_relu(negative_slope=0.01)', old=torch.nn.ReLU) (C6, C11)",
    "He (Kaiming) initialisation for ReLU layers: "
    "torch.nn.init.kaiming_normal_(layer.weight, nonlinearity='relu')",
    "normalisation before the activation (BatchNorm, LayerNorm), which keeps pre-activations "
    "centred so no unit is negative for every input (C8)",
)

SATURATION_REMEDIES = (
    "normalisation before the activation (BatchNorm, LayerNorm) to keep pre-activations "
    "out of the flat tails",
    "Xavier/Glorot initialisation (smaller weights for sigmoid/tanh layers): "
    "torch.nn.init.xavier_uniform_(layer.weight)",
    "a smaller learning rate",
    "a non-saturating activation (ReLU family, SiLU, GELU) in hidden layers (C2)",
)

VANISHING_REMEDIES = (
    "ReLU-family or SiLU/GELU activations instead of sigmoid/tanh in hidden layers (C2)",
    "He initialisation for ReLU layers, Xavier/Glorot for tanh layers",
    "normalisation (BatchNorm, LayerNorm) between layers",
    "residual (skip) connections, or fewer layers",
)

EXPLODING_REMEDIES = (
    "a smaller learning rate",
    "gradient clipping: torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)",
    "smaller initial weights (He or Xavier initialisation instead of larger scales)",
    "normalisation (BatchNorm, LayerNorm) between layers",
)


def advise(
    records: list[dict[str, Any]],
    grad_ratio: dict[str, Any] | None = None,
    **thresholds: float,
) -> list[Finding]:
    """Turn a monitor's records into findings.

    Args:
        records: :meth:`Monitor.summary` records.
        grad_ratio: :meth:`Monitor.grad_ratio`.
        **thresholds: override :data:`DEFAULTS`: ``dead_warn`` (0.10), ``frozen_warn``
            (0.10), ``saturation_warn`` (0.25), ``vanishing`` (1e-2), ``exploding`` (1e2).

    Returns:
        Findings, warnings first; one ``"ok"`` finding when nothing crossed a threshold.
    """
    unknown = set(thresholds) - set(DEFAULTS)
    if unknown:
        raise TypeError(
            f"unknown threshold(s) {', '.join(sorted(unknown))}; known: {', '.join(DEFAULTS)}"
        )
    t = {**DEFAULTS, **thresholds}
    out: list[Finding] = []
    for r in records:
        out += _site_findings(r, t)
    revived = [r for r in records if r.get("revived_total")]
    if revived:
        died = sum(r["died_total"] for r in revived)
        back = sum(r["revived_total"] for r in revived)
        where = ", ".join(f"{r['layer']} ({r['revived_total']})" for r in revived)
        out.append(
            Finding(
                "info",
                "recovery",
                None,
                f"Dead units came back: {back} revivals against {died} deaths across windows, "
                f"in {where}. C5 says dead ReLUs never recover; here some did (a unit is dead "
                f"in a window when it output 0 for every value in it).",
                {"revived_total": back, "died_total": died},
                (),
                ("C5",),
            )
        )
    if grad_ratio is not None and grad_ratio.get("ratio") is not None:
        out += _gradient_findings(grad_ratio, records, t)
    if not any(f.severity == "warning" for f in out):
        window = records[0]["window"] if records else "no window yet"
        out.insert(
            0,
            Finding(
                "info",
                "ok",
                None,
                f"No dead units (>= {_pct(t['dead_warn'])} of a layer), saturation "
                f"(>= {_pct(t['saturation_warn'])}) or vanishing/exploding gradients "
                f"(first/last norm ratio outside [{t['vanishing']:g}, {t['exploding']:g}]) "
                f"found in {len(records)} monitored sites ({window}).",
                {"sites": len(records)},
            ),
        )
    out.sort(key=lambda f: f.severity != "warning")
    return out


DIVERGED_REMEDIES = (
    "a smaller learning rate",
    "gradient clipping: torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)",
    "standardised inputs (zero mean, unit variance per feature) (C8)",
)


def _site_findings(r: dict[str, Any], t: dict[str, float]) -> list[Finding]:
    out = []
    layer, kind, units = r["layer"], r["kind"], r["units"]
    where = f"Layer {layer} ({kind}, {units} units)"
    if r.get("finite") is False:
        out.append(
            Finding(
                "warning",
                "non_finite",
                layer,
                f"{where}: its outputs were NaN or infinite in {r['window']}: training has "
                f"diverged, and this window's dead-unit and saturation numbers mean little.",
                _evidence(r, "finite", "window", "step"),
                DIVERGED_REMEDIES,
            )
        )
        return out
    if r["dead_fraction"] >= t["dead_warn"] and r["dead_units"]:
        since = r.get("dead_since")
        since_txt = ""
        if since is not None:
            since_txt = f" Half of them have been dead since step {since} or earlier"
            if r.get("dead_since_first") is not None and r["dead_since_first"] != since:
                since_txt += f" (the first since step {r['dead_since_first']})"
            since_txt += "."
        back = (
            f" So far {r['died_total']} units died and {r['revived_total']} came back."
            if r.get("died_total") is not None
            else ""
        )
        out.append(
            Finding(
                "warning",
                "dead_units",
                layer,
                f"{where}: {r['dead_units']} units ({_pct(r['dead_fraction'])}) are dead: "
                f"their output was exactly 0 for every one of the {r['samples']:,} samples "
                f"seen in {r['window']}.{since_txt}{back}",
                _evidence(
                    r,
                    "dead_units",
                    "dead_fraction",
                    "dead_since",
                    "dead_since_first",
                    "died_total",
                    "revived_total",
                    "samples",
                    "window",
                    "step",
                ),
                DEAD_REMEDIES,
                ("C5", "C6"),
            )
        )
    frozen, dead = r.get("frozen_fraction"), r["dead_fraction"]
    if frozen is not None and frozen - dead >= t["frozen_warn"]:
        out.append(
            Finding(
                "warning",
                "frozen_units",
                layer,
                f"{where}: {_pct(frozen - dead)} of the units are saturated (|f'| < {r['eps']:g}) "
                f"on every value seen in {r['window']} without being dead: they pass almost no "
                f"gradient back.",
                _evidence(r, "frozen_fraction", "dead_fraction", "eps", "window", "step"),
                SATURATION_REMEDIES,
                ("C2",),
            )
        )
    sat, sparsity = r.get("saturation"), r.get("sparsity") or 0.0
    # ReLU's saturated values are its zero outputs (sparsity, reported above as dead
    # units when a unit has nothing else): count only the saturation beyond them.
    if sat is not None and sat - sparsity >= t["saturation_warn"]:
        out.append(
            Finding(
                "warning",
                "saturation",
                layer,
                f"{where}: {_pct(sat)} of pre-activations are saturated (|f'| < {r['eps']:g}, "
                f"so the gradient through them shrinks by more than {1 / r['eps']:g}x) "
                f"in {r['window']}.",
                _evidence(r, "saturation", "sparsity", "eps", "mean", "std", "window", "step"),
                SATURATION_REMEDIES,
                ("C2",),
            )
        )
    return out


def _evidence(r: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {"layer": r["layer"], "kind": r["kind"], **{k: r.get(k) for k in keys}}


def _gradient_findings(
    g: dict[str, Any], records: list[dict[str, Any]], t: dict[str, float]
) -> list[Finding]:
    ratio = g["ratio"]
    kinds = sorted({_base(r["kind"]) for r in records})
    relu_like = bool(set(kinds) & {"relu", "leaky_relu", "relu6", "prelu", "rrelu"})
    text = (
        f"the gradient norm reaching {g['first']} (nearest the input) is {ratio:.3g} times "
        f"the one reaching {g['last']} (nearest the output): {g['first_norm']:.3g} vs "
        f"{g['last_norm']:.3g}, mean over the backward passes of {g['window']}"
    )
    ev = {k: g[k] for k in ("ratio", "first", "last", "first_norm", "last_norm", "step")}
    if ratio < t["vanishing"]:
        claims = ("C2", "C3") if relu_like else ("C2",)
        extra = " (C3 says ReLU networks do not suffer this; here they do)" if relu_like else ""
        return [
            Finding(
                "warning",
                "vanishing_gradients",
                None,
                f"Vanishing gradients: {text}{extra}.",
                ev,
                VANISHING_REMEDIES,
                claims,
            )
        ]
    if ratio > t["exploding"]:
        return [
            Finding(
                "warning",
                "exploding_gradients",
                None,
                f"Exploding gradients: {text}.",
                ev,
                EXPLODING_REMEDIES,
                ("C3",),
            )
        ]
    return []
