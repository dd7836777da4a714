"""actlab.Monitor and actlab.swap: dead units, saturation and gradient norms in any model."""

from __future__ import annotations

import csv
import gc
import json
import math
import tracemalloc

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import actlab
from actlab.functions import InvalidParameterError
from actlab.monitor import Finding, TensorBoardLogger, advise, format_table
from actlab.monitor.activations import FUNCTIONS, module_target


# ------------------------------------------------------------------------------ models
def relu_mlp(act: type[nn.Module] | nn.Module = nn.ReLU, width: int = 64) -> nn.Sequential:
    def a() -> nn.Module:
        return act() if isinstance(act, type) else actlab.create(actlab.spec(act))

    return nn.Sequential(
        nn.Linear(10, width), a(), nn.Linear(width, width), a(), nn.Linear(width, 3)
    )


def blobs(n: int = 512, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(3, 10, generator=g) * 2
    y = torch.randint(0, 3, (n,), generator=g)
    return centres[y] + torch.randn(n, 10, generator=g), y


def pixels(n: int = 512, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Unnormalised, image-like inputs in [0, 1): all positive, as C8 warns against."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 10, generator=g)
    return x, (x[:, :3].sum(1) * 2).long().clamp(max=2)


def train(model: nn.Module, steps: int, lr: float, *, batch: int = 64, data=pixels) -> None:
    x, y = data()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for i in range(steps):
        idx = slice((i * batch) % len(x), (i * batch) % len(x) + batch)
        opt.zero_grad()
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()


class Functional(nn.Module):
    """Every activation is a function call inside forward: invisible to module hooks."""

    def __init__(self) -> None:
        super().__init__()
        self.l1 = nn.Linear(6, 16)
        self.l2 = nn.Linear(16, 16)
        self.l3 = nn.Linear(16, 16)
        self.l4 = nn.Linear(16, 16)
        self.out = nn.Linear(16, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.l1(x))
        x = torch.tanh(self.l2(x))
        x = F.leaky_relu(self.l3(x), 0.2)
        x = self.l4(x).sigmoid()
        return F.gelu(self.out(x), approximate="tanh")


class BasicBlock(nn.Module):
    """torchvision's ResNet BasicBlock, as written there: one in-place ReLU used twice."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.bn2(out)
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        out = self.relu(out)
        return out


class TinyResNet(nn.Module):
    """A torchvision-style ResNet: stem, two stages of BasicBlocks, pooling, fc."""

    def __init__(self, num_classes: int = 5) -> None:
        super().__init__()
        self.inplanes = 8
        self.conv1 = nn.Conv2d(3, 8, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(2)
        self.layer1 = self._make_layer(8, 2)
        self.layer2 = self._make_layer(16, 1, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(16, num_classes)

    def _make_layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
            )
        layers = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class Mixed(nn.Module):
    """Nested modules, a shared activation module called twice, functional calls,
    actlab modules, dropout (RNG) and an in-place ReLU: all at once."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = nn.Sequential(nn.Linear(6, 12), nn.ReLU(inplace=True), nn.Dropout(0.2))
        self.act = nn.ELU()
        self.mid = nn.Linear(12, 12)
        self.head = nn.Sequential(nn.Linear(12, 8), actlab.create("mish"), nn.Linear(8, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.inner(x))
        h = self.act(self.mid(h))  # the same module, a second call
        h = F.silu(h) + torch.sigmoid(h)
        return self.head(h)


def conv_model() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 4, 3, padding=1),
        nn.Tanh(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 2),
    )


def run_steps(model: nn.Module, x: torch.Tensor, steps: int = 3) -> list[torch.Tensor]:
    """Outputs and parameter gradients of a few SGD steps (seeded: dropout is random)."""
    torch.manual_seed(1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    got = []
    for _ in range(steps):
        opt.zero_grad()
        out = model(x)
        out.square().mean().backward()
        got.append(out.detach().clone())
        got += [p.grad.clone() for p in model.parameters()]
        opt.step()
    return got


def all_hooks(model: nn.Module) -> int:
    return sum(
        len(m._forward_hooks)
        + len(m._forward_pre_hooks)
        + len(m._backward_hooks)
        + len(getattr(m, "_backward_pre_hooks", {}))
        + len(getattr(m, "_forward_hooks_always_called", {}))
        for m in model.modules()
    )


# ------------------------------------------------------------------------------ dead units
def test_relu_dies_with_a_large_learning_rate_and_the_advice_says_so() -> None:
    torch.manual_seed(0)
    model = relu_mlp()
    with actlab.Monitor(model, every=1, window=10) as mon:
        train(model, 60, lr=3.0)
    recs = {r["layer"]: r for r in mon.summary()}
    worst = max(recs.values(), key=lambda r: r["dead_fraction"])
    assert worst["dead_fraction"] > 0.5 and worst["finite"]
    assert worst["dead_units"] == round(worst["dead_fraction"] * 64)
    assert worst["window"] == "steps 51-60 (10 batches, all sampled)"
    assert worst["samples"] == 640
    dead = [f for f in mon.advice() if f.topic == "dead_units" and f.layer == worst["layer"]]
    assert dead and dead[0].severity == "warning"
    msg = str(dead[0])
    assert dead[0].layer == worst["layer"] and f"{worst['dead_units']} units" in msg
    assert "since step" in msg and "smaller learning rate" in msg and "Leaky ReLU" in msg
    assert "He (Kaiming)" in msg and "normalisation" in msg
    assert "C5" in dead[0].claims
    assert dead[0].evidence["dead_fraction"] == worst["dead_fraction"]


def test_leaky_relu_in_the_same_setting_shows_no_dead_units() -> None:
    torch.manual_seed(0)
    model = relu_mlp()
    assert actlab.swap(model, "leaky_relu", old=nn.ReLU) == 2
    with actlab.Monitor(model, every=1, window=10) as mon:
        train(model, 60, lr=3.0)
    recs = mon.summary()
    assert [r["kind"] for r in recs] == ["leaky_relu"] * 2
    assert [r["finite"] for r in recs] == [True, True]  # trained, not diverged
    assert [r["dead_fraction"] for r in recs] == [0.0, 0.0]
    assert [r["dead_units"] for r in recs] == [0, 0]
    assert not [f for f in mon.advice() if f.topic == "dead_units"]


def test_negative_bias_shift_kills_exactly_the_shifted_units() -> None:
    torch.manual_seed(0)
    model = relu_mlp(width=16)
    with torch.no_grad():
        model[0].bias[:10] -= 100.0  # 10 of 16 units: input negative for every sample
    x, _ = blobs(256)
    mon = actlab.Monitor(model, every=1)
    recs = mon.scan(model, x, batch_size=64)
    first = recs[0]
    assert first["layer"] == "1" and first["dead_units"] == 10 and first["dead_fraction"] == 10 / 16
    assert first["window"] == "scan of 4 batches at step 0" and first["samples"] == 256
    assert first["grad_norm"] is None
    assert mon.units("1", source="scan")["dead"].tolist() == [True] * 10 + [False] * 6
    assert all_hooks(model) == 0  # scan attached and detached again


def test_units_that_die_and_come_back_are_counted() -> None:
    torch.manual_seed(0)
    model = relu_mlp(width=16)
    x, _ = blobs(64)
    mon = actlab.Monitor(model, every=1, window=2).attach()
    for step in range(8):
        with torch.no_grad():  # steps 3-4: 5 units forced dead; from step 5 restored
            if step == 2:
                model[0].bias[:5] -= 100.0
            if step == 4:
                model[0].bias[:5] += 100.0
        model(x).sum().backward()
    mon.detach()
    hist = [r for r in mon.history() if r["layer"] == "1"]
    assert [r["dead_units"] for r in hist] == [0, 5, 0, 0]
    assert [r["died"] for r in hist] == [0, 5, 0, 0]
    assert [r["revived"] for r in hist] == [0, 0, 5, 0]
    assert hist[1]["dead_since"] == 3 and hist[-1]["revived_total"] == 5
    assert hist[-1]["ever_dead_fraction"] == 5 / 16
    recovery = [f for f in mon.advice() if f.topic == "recovery"]
    assert recovery and "came back" in recovery[0].message and "C5" in recovery[0].claims


# ------------------------------------------------------------------------------ gradients
def deep(act: type[nn.Module], depth: int = 10, width: int = 32) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(depth):
        lin = nn.Linear(width, width)
        if act is nn.ReLU:
            nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
            nn.init.zeros_(lin.bias)
        layers += [lin, act()]
    return nn.Sequential(*layers, nn.Linear(width, 2))


def test_deep_sigmoid_mlp_gradient_ratio_collapses() -> None:
    torch.manual_seed(0)
    ratios = {}
    for act in (nn.Sigmoid, nn.ReLU):
        model = deep(act)
        with actlab.Monitor(model, every=1, window=5) as mon:
            train_x = torch.randn(64, 32)
            for _ in range(5):
                model(train_x).square().mean().backward()
        ratios[act.__name__] = mon.grad_ratio()
        assert len(mon.summary()) == 10
    sig = ratios["Sigmoid"]
    assert sig["first"] == "1" and sig["last"] == "19"
    assert sig["ratio"] < 1e-4  # about 0.25 per layer over nine layers
    assert 0.1 < ratios["ReLU"]["ratio"] < 10  # He-initialised ReLU: no collapse
    finding = [f for f in advise(mon.summary(), sig) if f.topic == "vanishing_gradients"]
    assert finding and "C2" in finding[0].claims and f"{sig['ratio']:.3g}" in finding[0].message


def test_grad_norm_is_the_norm_of_the_gradient_reaching_the_output() -> None:
    torch.manual_seed(0)
    model = relu_mlp(width=8)
    x = torch.randn(32, 10)
    ys = []
    hook = model[1].register_forward_hook(lambda m, a, out: ys.append(out) or out.retain_grad())
    with actlab.Monitor(model, every=1, window=1) as mon:
        model(x).square().mean().backward()
    hook.remove()
    expected = torch.linalg.vector_norm(ys[0].grad).item()
    assert mon.summary()[0]["grad_norm"] == pytest.approx(expected, rel=1e-6)


def test_mean_and_std_per_unit_and_per_layer() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7), nn.ELU())
    xs = [torch.randn(16, 5) for _ in range(3)]
    with actlab.Monitor(model, every=1, window=3) as mon:
        for x in xs:
            model(x).sum().backward()
    with torch.no_grad():
        y = torch.cat([model(x) for x in xs]).double()
    rec, units = mon.summary()[0], mon.units("1")
    assert rec["mean"] == pytest.approx(y.mean().item(), rel=1e-5)
    assert rec["std"] == pytest.approx(y.std(unbiased=False).item(), rel=1e-5)
    np.testing.assert_allclose(units["mean"], y.mean(0).numpy(), rtol=1e-5)
    np.testing.assert_allclose(units["std"], y.std(0, unbiased=False).numpy(), rtol=1e-4)
    np.testing.assert_array_equal(units["active_fraction"], (y != 0).double().mean(0).numpy())


# ------------------------------------------------------------------------------ saturation
@pytest.mark.parametrize(
    ("module", "name", "params"),
    [
        (nn.Sigmoid(), "sigmoid", {}),
        (nn.Tanh(), "tanh", {}),
        (nn.GELU(), "gelu", {}),
        (nn.ELU(alpha=0.5), "elu", {"alpha": 0.5}),
        (nn.Hardtanh(-2.0, 2.0), "hard_tanh", {"min_val": -2.0, "max_val": 2.0}),
        (actlab.create("silu"), "silu", {}),
        (nn.ReLU6(), "relu6", {}),
    ],
)
def test_saturation_is_the_catalogue_derivative_below_eps(
    module: nn.Module, name: str, params: dict
) -> None:
    x = torch.randn(400, 5) * 8
    x[0, :] = torch.tensor([0.0, -6.0, 6.0, 2.0, -2.0])
    model = nn.Sequential(module)
    with actlab.Monitor(model, every=1, window=1, eps=1e-2, track="all") as mon:
        model(x)
    rec = mon.summary()[0]
    d = actlab.get(name).derivative(x, **params)
    assert rec["saturation"] == (d.abs() < 1e-2).double().mean().item()
    per_unit = (d.abs() < 1e-2).double().mean(0).numpy()
    np.testing.assert_array_equal(mon.units(rec["layer"])["saturation"], per_unit)


def test_learnable_prelu_saturation_uses_the_current_slopes() -> None:
    model = nn.Sequential(nn.Conv2d(2, 3, 1), nn.PReLU(3))
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([0.0, 0.5, 1e-4]))
    x = torch.randn(16, 2, 4, 4)
    with actlab.Monitor(model, every=1, window=1) as mon:
        model(x).sum().backward()
    pre = model[0](x)
    expected = ((pre < 0) & (torch.tensor([0.0, 0.5, 1e-4]).view(1, 3, 1, 1) < 1e-3)).double()
    np.testing.assert_array_equal(mon.units("1")["saturation"], expected.mean((0, 2, 3)).numpy())


# ------------------------------------------------------------------------------ exactness
@pytest.mark.parametrize("make", [Mixed, Functional, TinyResNet, conv_model])
def test_outputs_and_gradients_are_bit_identical_with_and_without_the_monitor(make) -> None:
    torch.manual_seed(0)
    plain = make()
    watched = make()
    watched.load_state_dict(plain.state_dict())
    x = torch.randn(8, 3, 8, 8) if make in (TinyResNet, conv_model) else torch.randn(8, 6)
    want = run_steps(plain, x)
    with actlab.Monitor(watched, every=1, window=2) as mon:
        got = run_steps(watched, x)
    assert len(mon.layers) >= 2
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert torch.equal(a, b)


def test_detach_removes_every_hook_and_the_function_mode() -> None:
    model = Mixed()
    before = all_hooks(model)
    mon = actlab.Monitor(model, every=1).attach()
    assert all_hooks(model) > before
    out = model(torch.randn(4, 6))
    assert torch._C._len_torch_function_stack() == 0  # only on during forward
    mon.detach()
    assert all_hooks(model) == before == 0
    assert torch._C._len_torch_function_stack() == 0
    step = mon.step
    snapshot = [r["samples"] for r in mon.summary()]
    out.sum().backward()  # its gradient hooks were removed with the rest
    model(torch.randn(4, 6)).sum().backward()
    assert mon.step == step
    assert [r["grad_samples"] for r in mon.summary()] == [0] * len(snapshot)
    # the context manager too, also when the body raises
    with pytest.raises(RuntimeError), actlab.Monitor(model, every=1):
        raise RuntimeError("boom")
    assert all_hooks(model) == 0 and torch._C._len_torch_function_stack() == 0


def test_a_forward_that_raises_leaves_no_function_mode_behind() -> None:
    model = Functional()
    with actlab.Monitor(model, every=1):
        with pytest.raises(RuntimeError):
            model(torch.randn(4, 5))  # wrong width
        assert torch._C._len_torch_function_stack() == 0
        model(torch.randn(4, 6)).sum().backward()


# ------------------------------------------------------------------------------ model shapes
def test_conv_model_is_monitored_per_channel() -> None:
    torch.manual_seed(0)
    model = conv_model()
    with torch.no_grad():
        model[0].bias[[1, 4, 6]] = -100.0
    with actlab.Monitor(model, every=1, window=3) as mon:
        for _ in range(3):
            model(torch.randn(8, 3, 6, 6)).sum().backward()
    relu, tanh = mon.summary()
    assert (relu["layer"], relu["units"], tanh["units"]) == ("1", 8, 4)
    assert relu["dead_units"] == 3 and relu["values_per_unit"] == 3 * 8 * 36
    assert relu["samples"] == 24
    dead = mon.units("1")["dead"]
    assert np.flatnonzero(dead).tolist() == [1, 4, 6]


def test_functional_only_model_is_monitored_by_call_site() -> None:
    torch.manual_seed(0)
    model = Functional()
    with torch.no_grad():
        model.l1.bias[:4] = -100.0
    with actlab.Monitor(model, every=1, window=4) as mon:
        for _ in range(4):
            model(torch.randn(16, 6)).sum().backward()
    recs = mon.summary()
    assert [(r["layer"], r["kind"], r["source"]) for r in recs] == [
        ("model:relu#1", "relu", "function"),
        ("model:tanh#2", "tanh", "function"),
        ("model:leaky_relu#3", "leaky_relu(negative_slope=0.2)", "function"),
        ("model:sigmoid#4", "sigmoid", "function"),
        ("model:gelu_tanh#5", "gelu_tanh", "function"),
    ]
    assert recs[0]["origin"] == "F.relu" and recs[3]["origin"] == "Tensor.sigmoid"  # x.sigmoid()
    assert recs[0]["dead_units"] == 4 and recs[0]["units"] == 16
    assert all(r["grad_norm"] is not None for r in recs)
    assert mon.grad_ratio()["first"] == "model:relu#1"


def test_functional_calls_inside_submodules_are_named_by_module_and_order() -> None:
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = (self.fc(x) * 2).relu_()  # in place: read before it is overwritten
            return torch.relu(h - 1) + x.tanh()

    model = nn.Sequential(Block(), nn.Sequential(Block()), nn.ReLU())
    with actlab.Monitor(model, every=1, window=1) as mon:
        model(torch.randn(3, 4)).sum().backward()
    assert mon.layers == ["0:relu#1", "0:relu#2", "0:tanh#3", "1.0:relu#1", "1.0:relu#2",
                          "1.0:tanh#3", "2"]  # fmt: skip
    # the torch.nn.ReLU module's own F.relu call is not counted a second time
    assert [r["source"] for r in mon.summary()][-1] == "module"


def test_a_module_called_twice_in_one_forward_is_two_sites() -> None:
    model = Mixed()
    with actlab.Monitor(model, every=1, window=2) as mon:
        for _ in range(2):
            model(torch.randn(5, 6)).sum().backward()
    recs = {r["layer"]: r for r in mon.summary()}
    assert list(recs) == ["inner.1", "act", "act#2", "model:silu#1", "model:sigmoid#2", "head.1"]
    assert recs["act"]["samples"] == recs["act#2"]["samples"] == 10
    assert recs["act"]["kind"] == "elu" and recs["head.1"]["kind"] == "mish"
    assert recs["head.1"]["origin"] == "actlab.nn.Mish"
    assert recs["act"]["mean"] != recs["act#2"]["mean"]


def test_torchvision_style_resnet_is_monitored() -> None:
    torch.manual_seed(0)
    model = TinyResNet()
    with actlab.Monitor(model, every=1, window=2) as mon:
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        for _ in range(2):
            opt.zero_grad()
            F.cross_entropy(model(torch.randn(4, 3, 8, 8)), torch.tensor([0, 1, 2, 3])).backward()
            opt.step()
    recs = {r["layer"]: r for r in mon.summary()}
    assert list(recs) == [
        "relu",
        "layer1.0.relu",
        "layer1.0.relu#2",
        "layer1.1.relu",
        "layer1.1.relu#2",
        "layer2.0.relu",
        "layer2.0.relu#2",
    ]
    assert recs["relu"]["units"] == 8 and recs["layer2.0.relu#2"]["units"] == 16
    assert all(r["grad_norm"] and r["grad_norm"] > 0 for r in recs.values())
    assert all(r["saturation"] == pytest.approx(r["sparsity"]) for r in recs.values())


def test_unit_dim_for_sequence_models() -> None:
    model = nn.Sequential(nn.Linear(4, 6), nn.GELU())
    with actlab.Monitor(model, every=1, window=1, unit_dim=-1) as mon:
        model(torch.randn(2, 7, 4)).sum().backward()
    rec = mon.summary()[0]
    assert rec["units"] == 6 and rec["values_per_unit"] == 14 and rec["samples"] == 2


# ------------------------------------------------------------------------------ windows
def test_sampling_every_k_steps_is_stated_in_the_record() -> None:
    model = relu_mlp(width=8)
    with actlab.Monitor(model, window=6, every=3) as mon:
        for _ in range(6):
            model(torch.randn(4, 10)).sum().backward()
    rec = mon.summary()[0]
    assert (rec["batches"], rec["sampled_batches"], rec["samples"]) == (6, 2, 8)
    assert rec["window"] == "steps 1-6 (6 batches, 2 sampled)"
    assert rec["grad_samples"] == 2


def test_auto_sampling_keeps_the_measured_cost_under_the_budget() -> None:
    from actlab.monitor.sampling import Sampler

    s = Sampler("auto", 0.03)
    now, sampled = 0.0, []
    for step in range(1, 201):
        s.tick(now)
        hit = s.sample(step)
        sampled.append(hit)
        s.cost = 0.001 if hit else 0.0  # 1 ms of monitor work on a measured step
        now += 0.010 + s.cost  # a 10 ms training step
    assert s.k == 4  # ceil(1 ms / (3% of 10 ms))
    assert sum(sampled[-100:]) == 25
    assert s.step_ema == pytest.approx(0.010)
    fixed = Sampler(5, 0.03)
    assert [fixed.sample(i) for i in range(1, 12)] == [i % 5 == 1 for i in range(1, 12)]
    mon = actlab.Monitor(relu_mlp())
    assert (mon.every, mon.budget, mon.sampling) == ("auto", 0.03, 1)


def test_epoch_windows_and_eval_calls_are_not_counted() -> None:
    model = relu_mlp(width=8)
    mon = actlab.Monitor(model, every=1, window="epoch").attach()
    for _epoch in range(2):
        for _ in range(3):
            model(torch.randn(4, 10)).sum().backward()
        with torch.no_grad():  # a validation pass: not a training step
            model(torch.randn(50, 10))
        model.eval()
        model(torch.randn(50, 10))
        model.train()
        mon.end_epoch()
    mon.detach()
    assert mon.step == 6
    recs = [r for r in mon.history() if r["layer"] == "1"]
    assert [r["window"] for r in recs] == [
        "epoch 1, steps 1-3 (3 batches, all sampled)",
        "epoch 2, steps 4-6 (3 batches, all sampled)",
    ]
    assert [r["samples"] for r in recs] == [12, 12]


def test_summary_before_a_window_closes_is_marked_partial() -> None:
    model = relu_mlp(width=8)
    mon = actlab.Monitor(model, every=1, window=10).attach()
    model(torch.randn(4, 10)).sum().backward()
    rec = mon.summary()[0]
    assert rec["window"] == "steps 1-1 (1 batches, all sampled, partial)"
    mon.detach()
    assert mon.summary()[0]["window"] == "steps 1-1 (1 batches, all sampled)"


def _tiny_loop(history: int = 32):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1))
    x = torch.randn(8, 4)
    mon = actlab.Monitor(model, every=1, window=5, history=history).attach()

    def steps(n: int) -> None:
        for _ in range(n):
            model(x).sum().backward()

    return mon, steps


def _state_numel(mon: actlab.Monitor) -> int:
    return sum(t.numel() for s in mon._sites.values() for a in s.acc.values() for t in a.tensors())


def test_memory_stays_flat_over_10000_steps() -> None:
    mon, steps = _tiny_loop()  # a window closes every 5 steps: 2,000 windows in all
    steps(2000)
    gc.collect()
    objects, numel = len(gc.get_objects()), _state_numel(mon)
    steps(8000)
    gc.collect()
    grown = len(gc.get_objects()) - objects
    mon.detach()
    assert mon.step == 10_000
    assert len(mon._history) <= 32 and len(mon.history()) <= 64
    assert _state_numel(mon) == numel
    assert abs(grown) < 100, f"{grown} more Python objects after 8,000 more steps"
    steps_kept = sorted({r["step"] for r in mon.history()})
    assert steps_kept[0] == 5 and steps_kept[-1] > 9000  # spans the whole run, evenly


@pytest.mark.slow
def test_traced_memory_stays_flat_over_10000_steps() -> None:
    mon, steps = _tiny_loop()
    tracemalloc.start()
    try:
        steps(2000)
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        drift = []
        for _ in range(8):
            steps(1000)
            gc.collect()
            drift.append(tracemalloc.get_traced_memory()[0] - base)
    finally:
        tracemalloc.stop()
    mon.detach()
    assert max(drift) < 100_000, drift  # bytes: bounded churn of the history, no trend
    assert drift[-1] < max(drift[:4]) + 50_000, drift


# ------------------------------------------------------------------------------ swap
def test_swap_recursive_counts_and_keeps_sharing() -> None:
    model = TinyResNet()
    n = actlab.swap(model, "leaky_relu(negative_slope=0.1)", old=nn.ReLU)
    assert n == 4  # stem + three blocks; each block's one ReLU module is reused twice
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())
    assert actlab.spec(model.layer1[0].relu) == "leaky_relu(negative_slope=0.1)"
    model(torch.randn(2, 3, 8, 8))
    mixed = Mixed()
    assert actlab.swap(mixed, "relu", old="elu") == 1
    assert actlab.swap(mixed, nn.Tanh) == 3  # every activation module: relu, relu (swapped), mish
    assert actlab.swap(mixed, "tanh", old=nn.ReLU) == 0
    with pytest.raises(actlab.UnknownActivationError):
        actlab.swap(mixed, "lekay_relu", old=nn.Tanh)
    assert sum(isinstance(m, nn.Tanh) for m in mixed.modules()) == 3


def test_module_and_function_targets_carry_their_parameters() -> None:
    assert module_target(nn.LeakyReLU(0.3)).spec == "leaky_relu(negative_slope=0.3)"
    assert module_target(nn.ReLU(inplace=True)).inplace
    assert module_target(nn.Softmax(dim=1)) is None  # not elementwise
    assert module_target(nn.Linear(2, 2)) is None
    act, params, _ = FUNCTIONS[F.softplus].resolve((torch.zeros(1), 2.0), {})
    assert (act.name, params) == ("softplus", {"beta": 2.0, "threshold": 20.0})
    act, params, _ = FUNCTIONS[F.elu].resolve((torch.zeros(1),), {"alpha": 0.3})
    assert (act.name, params) == ("elu", {"alpha": 0.3})


# ------------------------------------------------------------------------------ export
def trained_monitor() -> actlab.Monitor:
    torch.manual_seed(0)
    model = relu_mlp(width=8)
    with actlab.Monitor(model, every=1, window=2) as mon:
        train(model, 6, lr=0.1, data=blobs)
    return mon


def test_csv_and_jsonl_export(tmp_path) -> None:
    mon = trained_monitor()
    hist = mon.history()
    assert len(hist) == 6  # 3 windows x 2 sites
    rows = list(csv.DictReader(mon.to_csv(tmp_path / "h.csv").open()))
    assert len(rows) == 6 and rows[0]["layer"] == "1" and float(rows[-1]["step"]) == 6
    lines = (mon.to_jsonl(tmp_path / "h.jsonl")).read_text().splitlines()
    assert [json.loads(line)["dead_fraction"] for line in lines] == [
        r["dead_fraction"] for r in hist
    ]


class FakeWriter:
    def __init__(self) -> None:
        self.scalars: list[tuple] = []
        self.histograms: list[tuple] = []

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self.scalars.append((tag, value, step))

    def add_histogram(self, tag: str, values, step: int) -> None:
        self.histograms.append((tag, len(values), step))


def test_tensorboard_export_and_live_logging() -> None:
    mon = trained_monitor()
    w = FakeWriter()
    mon.to_tensorboard(w)
    assert ("actlab/1/dead_fraction", 0.0, 2) in w.scalars
    assert {t for t, _, _ in w.histograms} == {
        f"actlab/{layer}/unit_{k}" for layer in ("1", "3") for k in ("active_fraction", "mean")
    }
    assert any(t == "actlab/grad_ratio_first_last" for t, _, _ in w.scalars)
    live = FakeWriter()
    model = relu_mlp(width=8)
    with actlab.Monitor(model, every=1, window=1, on_window=TensorBoardLogger(live)):
        model(torch.randn(4, 10)).sum().backward()
        model(torch.randn(4, 10)).sum().backward()
    assert sorted({s for _, _, s in live.scalars}) == [1, 2]


def test_tensorboard_summary_writer(tmp_path) -> None:
    pytest.importorskip("tensorboard")
    mon = trained_monitor()
    writer = mon.to_tensorboard(tmp_path / "tb")
    writer.close()
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


def test_plot_of_the_history(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    mon = trained_monitor()
    fig = mon.plot(tmp_path / "history.png")
    assert (tmp_path / "history.png").stat().st_size > 1000
    assert [ax.get_title() for ax in fig.axes] == [
        "dead fraction",
        "saturation",
        "grad norm",
        "grad norm, first / last site",
    ]


def test_table_report_and_advice_objects() -> None:
    mon = trained_monitor()
    table = format_table(mon.summary())
    assert table.splitlines()[0].split()[:3] == ["layer", "kind", "units"]
    assert len(table.splitlines()) == 3
    report = mon.report()
    assert "gradient norm, first / last monitored site (1 / 3)" in report
    findings = mon.advice()
    assert all(isinstance(f, Finding) for f in findings)
    assert findings[0].topic == "ok" and json.dumps([f.as_dict() for f in findings])
    assert "Monitor(Sequential, 2 sites, step 6" in repr(mon)


# ------------------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"window": 0},
            "The 'window' parameter of Monitor must be a positive int or 'epoch'. Got 0",
        ),
        ({"every": 1.5}, "The 'every' parameter of Monitor must be a positive int or 'auto'."),
        ({"budget": 0.0}, "The 'budget' parameter of Monitor must be a float in the range (0, 1]"),
        ({"eps": -1.0}, "The 'eps' parameter of Monitor must be a float in the range (0, inf)."),
        ({"track": "eval"}, "The 'track' parameter of Monitor must be 'train' or 'all'."),
    ],
)
def test_invalid_parameters(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidParameterError) as info:
        actlab.Monitor(nn.ReLU(), **kwargs)
    assert str(info.value).startswith(message)


def test_scan_rejects_another_model_and_unknown_thresholds() -> None:
    mon = actlab.Monitor(relu_mlp())
    with pytest.raises(ValueError, match="different model"):
        mon.scan(relu_mlp(), torch.randn(4, 10))
    with pytest.raises(TypeError, match="unknown threshold"):
        mon.advice(dead=0.2)
    assert math.isclose(actlab.monitor.DEFAULTS["dead_warn"], 0.1)
