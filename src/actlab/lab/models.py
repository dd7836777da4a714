"""Models for the experiments: an MLP and a small CNN, with activations named by catalogue spec.

Example:
    >>> from actlab.lab.models import MLP
    >>> MLP(40, [100, 100], 10, activation="leaky_relu(negative_slope=0.1)")
    MLP(
      (layers): ModuleList(
        (0): Linear(in_features=40, out_features=100, bias=True)
        (1): Linear(in_features=100, out_features=100, bias=True)
      )
      (acts): ModuleList(
        (0-1): 2 x LeakyReLU(negative_slope=0.1)
      )
      (out): Linear(in_features=100, out_features=10, bias=True)
    )
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .. import create, functions
from ..functions.spec import parse_spec

__all__ = ["INITS", "MLP", "MLPLayer", "SmallCNN", "build", "init_weights", "run_layers"]

INITS = ("he", "xavier", "lecun", "orthogonal", "torch")


def _gain(activation: str) -> float:
    """He-style gain of a catalogue spec (1 for vector activations): see properties.gain."""
    from ..analysis.properties import gain

    name, params = parse_spec(activation)
    if functions.get(name).kind != "elementwise":
        return 1.0
    return gain(name, **params)


def init_weights(layer: nn.Module, scheme: str, activation: str = "relu") -> None:
    """Initialise a Linear or Conv layer's weight (biases to 0) in place.

    ``he``: N(0, gain^2 / fan_in) with the activation's own gain (sqrt(2) for ReLU);
    ``lecun``: N(0, 1 / fan_in); ``xavier``: N(0, 2 / (fan_in + fan_out));
    ``orthogonal``: scaled by the gain; ``torch``: PyTorch's default, untouched.
    """
    if scheme not in INITS:
        raise ValueError(f"The 'init' parameter must be one of {', '.join(INITS)}. Got {scheme!r}")
    if scheme == "torch" or not hasattr(layer, "weight"):
        return
    w = layer.weight
    fan_in = w[0].numel()
    fan_out = w.shape[0] * (w[0][0].numel() if w.dim() > 2 else 1)
    with torch.no_grad():
        if scheme == "he":
            w.normal_(0.0, _gain(activation) / math.sqrt(fan_in))
        elif scheme == "lecun":
            w.normal_(0.0, 1.0 / math.sqrt(fan_in))
        elif scheme == "xavier":
            w.normal_(0.0, math.sqrt(2.0 / (fan_in + fan_out)))
        else:
            nn.init.orthogonal_(w, gain=_gain(activation))
        if getattr(layer, "bias", None) is not None:
            layer.bias.zero_()


class MLP(nn.Module):
    """Fully connected network: ``depth`` hidden layers, each Linear -> [norm] -> activation.

    Args:
        in_features: input size (inputs are flattened).
        hidden: widths of the hidden layers, e.g. ``[100, 100]``.
        out_features: number of outputs (classes or regression targets).
        activation: a catalogue spec, e.g. ``"relu"`` or ``"elu(alpha=0.5)"``.
        init: ``he``, ``xavier``, ``lecun``, ``orthogonal`` or ``torch``. Default: ``torch``.
        norm: ``None``, ``"batch"`` or ``"layer"``.
        residual: add each hidden layer's input to its output where widths match.
        output: a catalogue spec applied to the output layer (``None``: linear outputs,
            i.e. logits for a softmax cross-entropy). For testing where an activation
            belongs (claim C16); hidden-unit statistics never include it.
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int],
        out_features: int,
        activation: str = "relu",
        init: str = "torch",
        norm: str | None = None,
        residual: bool = False,
        output: str | None = None,
    ):
        super().__init__()
        if norm not in (None, "batch", "layer"):
            raise ValueError(f"The 'norm' parameter must be None, 'batch' or 'layer'. Got {norm!r}")
        widths = [in_features, *hidden]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(widths))
        if norm == "batch":
            self.norms = nn.ModuleList(nn.BatchNorm1d(w) for w in hidden)
        elif norm == "layer":
            self.norms = nn.ModuleList(nn.LayerNorm(w) for w in hidden)
        else:
            self.norms = None
        self.acts = nn.ModuleList(create(activation) for _ in hidden)
        self.out = nn.Linear(widths[-1], out_features)
        self.out_act = create(output) if output else None
        self.residual = residual
        for layer in [*self.layers, self.out]:
            init_weights(layer, init, activation)

    def layer_sequence(self) -> tuple[MLPLayer, ...]:
        """The network as :func:`run_layers` runs it: the hidden layers, then the output layer.

        Built from the modules each call, so a replaced activation (``model.acts[i] = ...``)
        is the one that runs.

        Example:
            >>> net = MLP(4, [8, 8], 2, residual=True)
            >>> [(layer.index, layer.hidden, layer.skip) for layer in net.layer_sequence()]
            [(0, True, False), (1, True, True), (2, False, False)]
        """
        hidden = tuple(
            MLPLayer(
                index=i,
                linear=linear,
                norm=None if self.norms is None else self.norms[i],
                act=act,
                skip=self.residual and linear.in_features == linear.out_features,
                hidden=True,
            )
            for i, (linear, act) in enumerate(zip(self.layers, self.acts))
        )
        out = MLPLayer(len(hidden), self.out, None, self.out_act, skip=False, hidden=False)
        return (*hidden, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return run_layers(self.layer_sequence(), x.flatten(1))[0]


@dataclass(frozen=True)
class MLPLayer:
    """One layer of an :class:`MLP`: ``linear``, then ``norm`` and ``act`` where they are
    not None; with ``skip`` the layer's input is added to that result (a residual
    connection: ``residual=True`` and the layer keeps its width).

    ``index`` counts the layers from 0 in the order they run, the output layer last;
    ``hidden`` is False for the output layer, whose activation (if any) is not a hidden unit.
    """

    index: int
    linear: nn.Linear
    norm: nn.Module | None
    act: nn.Module | None
    skip: bool
    hidden: bool


def run_layers(
    layers: Sequence[MLPLayer],
    h: torch.Tensor,
    linear: Callable[[MLPLayer, torch.Tensor], torch.Tensor] | None = None,
    norm: Callable[[MLPLayer, torch.Tensor], torch.Tensor] | None = None,
    act: Callable[[MLPLayer, torch.Tensor], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Run ``h`` through ``layers`` (an :meth:`MLP.layer_sequence`): the MLP's forward pass.

    Each step is the layer's own module (``layer.linear(h)``, ...) unless ``linear``,
    ``norm`` or ``act`` computes it instead, as ``f(layer, input)``: the batched trainer
    runs the same sequence over stacked weights that way. Returns the output and the
    hidden layers' activation outputs (before any skip connection adds to them).
    """
    hidden = []
    for layer in layers:
        z = layer.linear(h) if linear is None else linear(layer, h)
        if layer.norm is not None:
            z = layer.norm(z) if norm is None else norm(layer, z)
        if layer.act is not None:
            z = layer.act(z) if act is None else act(layer, z)
        if layer.hidden:
            hidden.append(z)
        h = h + z if layer.skip else z
    return h, hidden


class SmallCNN(nn.Module):
    """Conv blocks (3x3 conv -> [batch norm] -> activation -> 2x2 max-pool), then a linear layer.

    Input ``(N, C, H, W)``, or ``(N, L)`` sequences, which are treated as one-channel 1-D signals.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        out_features: int,
        activation: str = "relu",
        channels: Sequence[int] = (16, 32),
        init: str = "torch",
        norm: str | None = None,
    ):
        super().__init__()
        shape = tuple(input_shape)
        conv, pool, bn = (
            (nn.Conv1d, nn.MaxPool1d, nn.BatchNorm1d)
            if len(shape) == 1
            else (nn.Conv2d, nn.MaxPool2d, nn.BatchNorm2d)
        )
        c_in = 1 if len(shape) == 1 else shape[0]
        blocks: list[nn.Module] = []
        for c in channels:
            blocks += [conv(c_in, c, 3, padding=1)]
            if norm == "batch":
                blocks.append(bn(c))
            blocks += [create(activation), pool(2)]
            c_in = c
        self.features = nn.Sequential(*blocks)
        self.one_d = len(shape) == 1
        with torch.no_grad():
            probe = torch.zeros(1, *((1, *shape) if self.one_d else shape))
            n_flat = self.features(probe).numel()
        self.out = nn.Linear(n_flat, out_features)
        for m in self.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
                init_weights(m, init, activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.one_d:
            x = x.unsqueeze(1)
        return self.out(self.features(x).flatten(1))


def build(config: dict[str, Any], input_shape: Sequence[int], n_outputs: int) -> nn.Module:
    """The model a trial config describes (keys ``model``, ``hidden``, ``activation``, ...)."""
    kind = config.get("model", "mlp")
    act = config.get("activation", "relu")
    if kind == "mlp":
        return MLP(
            int(math.prod(input_shape)),
            list(config.get("hidden", [100, 100])),
            n_outputs,
            activation=act,
            init=config.get("init", "torch"),
            norm=config.get("norm"),
            residual=bool(config.get("residual", False)),
            output=config.get("output"),
        )
    if kind == "cnn":
        if config.get("output"):
            raise ValueError("The 'output' setting is supported for model 'mlp' only")
        return SmallCNN(
            input_shape,
            n_outputs,
            activation=act,
            channels=tuple(config.get("channels", (16, 32))),
            init=config.get("init", "torch"),
            norm=config.get("norm"),
        )
    raise ValueError(f"The 'model' parameter must be 'mlp' or 'cnn'. Got {kind!r}")
