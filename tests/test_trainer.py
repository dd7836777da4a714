"""The batched trainer reproduces the plain loop, is deterministic, and records what it claims."""

from __future__ import annotations

import math
import re

import pytest
import torch
import torch.nn.functional as F

from actlab.lab import trainer
from actlab.lab.trainer import config, evaluate, optim, stacked

BASE = dict(data="moons", hidden=[32, 32], activation="tanh", batch_size=100, lr=0.05)


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "adagrad"])
def test_batched_equals_plain_loop(optimizer: str) -> None:
    cfg = {**BASE, "optimizer": optimizer, "epochs": 3, "seed": 3}
    plain = trainer.train_plain(cfg)
    group = trainer.train_group([{**cfg, "seed": 7}, cfg, {**cfg, "seed": 11, "lr": 0.01}])
    mine = group[1]
    assert mine.config["seed"] == 3
    for a, b in zip(plain.history, mine.history):
        for key in ("train_loss", "test_loss", "train_acc", "test_acc", "dead_fraction"):
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-7), (key, a, b)
        assert a["grad_norms"] == pytest.approx(b["grad_norms"], rel=1e-4)
    # other members of the group really are other runs
    assert group[0].final["train_loss"] != mine.final["train_loss"]


def test_fused_adam_equals_plain_loop() -> None:
    """Every model with the same learning rate: Adam runs as PyTorch's fused kernel."""
    cfg = {**BASE, "optimizer": "adam", "epochs": 3, "seed": 3, "weight_decay": 1e-3}
    plain = trainer.train_plain(cfg)
    mine = trainer.train_group([{**cfg, "seed": 7}, cfg])[1]
    for a, b in zip(plain.history, mine.history):
        for key in ("train_loss", "test_loss", "train_acc", "test_acc", "dead_fraction"):
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-7), (key, a, b)
        assert a["grad_norms"] == pytest.approx(b["grad_norms"], rel=1e-4)
    lr = torch.tensor([0.1, 0.1])
    assert optim._BatchedOptimizer([torch.zeros(2, 3)], "adam", lr).fused is hasattr(
        torch, "_fused_adam_"
    )
    assert not optim._BatchedOptimizer([torch.zeros(2, 3)], "adam", lr * lr.new([1, 2])).fused


def test_fused_adam_on_a_conv_net_equals_plain_loop() -> None:
    """vmap's gradient of a conv net's output weight comes back in another memory layout
    than the stacked parameter: the fused kernel must get it in the parameter's."""
    cfg = dict(data="digits", model="cnn", channels=[4, 8], activation="relu",
               optimizer="adam", lr=0.01, epochs=2, batch_size=100, seed=3)  # fmt: skip
    plain = trainer.train_plain(cfg)
    mine = trainer.train_group([{**cfg, "seed": 7}, cfg])[1]  # one lr: the fused kernel
    for a, b in zip(plain.history, mine.history):
        for key in ("train_loss", "test_loss", "train_acc", "test_acc"):
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-7), (key, a, b)


def test_relu_mnist1d_one_epoch_matches_plain() -> None:
    cfg = dict(data="mnist1d", hidden=[100, 100], activation="relu", epochs=1, seed=1)
    plain = trainer.train_plain(cfg).final
    batched = trainer.train_group([cfg, {**cfg, "seed": 2}])[0].final
    assert plain["train_loss"] == pytest.approx(batched["train_loss"], rel=1e-4)
    assert plain["dead_fraction"] == batched["dead_fraction"]


def test_bit_for_bit_deterministic() -> None:
    cfgs = [{**BASE, "optimizer": "adam", "epochs": 2, "seed": s} for s in (0, 1)]
    a, b = trainer.train_group(cfgs), trainer.train_group(cfgs)
    assert [r.history for r in a] == [r.history for r in b]


def test_large_data_sets_are_gathered_batch_by_batch_with_the_same_result(monkeypatch) -> None:
    """Above _GATHER_ONCE elements the shuffled copy is not made: same batches, same runs."""
    cfgs = [{**BASE, "optimizer": "adam", "epochs": 2, "seed": s} for s in (0, 1)]
    once = trainer.train_group(cfgs)
    monkeypatch.setattr(trainer, "_GATHER_ONCE", 0)
    per_batch = trainer.train_group(cfgs)
    assert [r.history for r in once] == [r.history for r in per_batch]


def test_history_contents() -> None:
    (r,) = trainer.train_group([{**BASE, "epochs": 2, "activation": "relu", "hidden": [8, 8, 8]}])
    assert [row["epoch"] for row in r.history] == [1, 2]
    row = r.final
    assert len(row["grad_norms"]) == 4  # three hidden layers and the output layer
    assert all(g > 0 for g in row["grad_norms"])
    assert 0.0 <= row["dead_fraction"] <= 1.0 and 0.5 < row["train_acc"] <= 1.0
    assert r.summary()["final_test_acc"] == row["test_acc"] and r.seconds > 0


def test_dead_units_are_counted() -> None:
    """A learning rate far too large kills ReLU units (C5): the dead fraction must show it."""
    cfg = {**BASE, "activation": "relu", "epochs": 1, "optimizer": "sgd", "lr": 5.0}
    r = trainer.train_plain(cfg)
    leaky = trainer.train_plain({**cfg, "activation": "leaky_relu(negative_slope=0.1)"})
    assert r.final["dead_fraction"] > 0.3
    assert leaky.final["dead_fraction"] == 0.0


def test_regression_task() -> None:
    (r,) = trainer.train_group([dict(data="teacher", hidden=[16], epochs=2, seed=0)])
    assert math.isnan(r.final["test_acc"]) and r.final["test_loss"] < 2.0


def test_cnn_group() -> None:
    cfg = dict(data="mnist1d", model="cnn", channels=[4, 8], epochs=1, batch_size=200)
    rs = trainer.train_group([{**cfg, "seed": 0}, {**cfg, "seed": 1}])
    assert all(0.0 < r.final["train_acc"] <= 1.0 for r in rs)


def test_group_must_share_everything_but_seed_and_lr() -> None:
    with pytest.raises(ValueError, match="differ only in seed, lr"):
        trainer.train_group([{**BASE, "epochs": 1}, {**BASE, "epochs": 2}])


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"optimizer": "rmsprop"}, "optimizer: 'rmsprop' is not one of 'sgd', 'momentum'"),
        ({"lr": 0}, "lr: 0 is not a float in the range (0, inf)"),
        ({"batch_size": 0}, "batch_size: 0 is not an int in the range [1, inf)"),
        ({"activation": "reluu"}, "Unknown activation 'reluu'"),
        ({"colour": "red"}, "colour: not a setting"),
    ],
)
def test_bad_settings_are_named(bad: dict, message: str) -> None:
    with pytest.raises((ValueError, KeyError), match=re.escape(message)):
        trainer.resolve({**BASE, **bad})


@pytest.mark.parametrize(
    "extra",
    [
        {"norm": "batch"},
        {"norm": "layer"},
        {"residual": True, "hidden": [16, 16, 16]},
        {"activation": "prelu"},
        {"activation": "swish(beta=1.5, learnable=True)"},
        {"init": "he", "activation": "elu"},
    ],
    ids=["batchnorm", "layernorm", "residual", "prelu", "learnable-swish", "he-init"],
)
def test_stacked_mlp_features_match_plain(extra: dict) -> None:
    cfg = {**BASE, "optimizer": "sgd", "epochs": 2, "seed": 5, **extra}
    plain = trainer.train_plain(cfg)
    batched = trainer.train_group([cfg, {**cfg, "seed": 6}])[0]
    for a, b in zip(plain.history, batched.history):
        for key in ("train_loss", "test_loss", "train_acc", "test_acc", "dead_fraction"):
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-7), (key, a, b)
        assert a["grad_norms"] == pytest.approx(b["grad_norms"], rel=1e-4)


@pytest.mark.parametrize("output", [None, "sigmoid", "relu"])
def test_unit_statistics_and_output_activation_match_plain(output) -> None:
    """Sparsity, dead units' indices, noisy-input accuracy and an output activation:
    the stacked trainer and the plain loop agree, and the output layer is never a hidden unit."""
    cfg = {**BASE, "activation": "relu", "epochs": 2, "seed": 2, "eval_noise": 0.5}
    cfg["output"] = output
    plain = trainer.train_plain(cfg).final
    group = trainer.train_group([cfg, {**cfg, "seed": 5}])[0].final
    for key in ("train_loss", "test_acc", "noise_acc", "noise_loss", "sparsity"):
        assert plain[key] == pytest.approx(group[key], rel=1e-5, abs=1e-7), key
    assert plain["dead_units"] == group["dead_units"]
    assert len(plain["dead_units"]) == 2
    n_dead = sum(map(len, plain["dead_units"]))
    assert plain["dead_fraction"] == pytest.approx(n_dead / 64)
    assert 0.1 < plain["sparsity"] < 0.9  # ReLU: about half the activations are exact zeros
    assert plain["noise_acc"] <= plain["test_acc"] + 0.05


def test_smooth_activations_have_no_sparsity_and_noise_is_optional() -> None:
    r = trainer.train_plain({**BASE, "epochs": 1})
    assert r.final["sparsity"] == 0.0 and "noise_acc" not in r.final


def test_bad_eval_noise_and_output_are_named() -> None:
    with pytest.raises(ValueError, match="eval_noise"):
        trainer.resolve({"eval_noise": -1})
    with pytest.raises(ValueError, match="relux"):
        trainer.resolve({"output": "relux"})


@pytest.mark.parametrize("kernel", [True, False], ids=["kernel", "torch"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_nonzero_counts_match_a_direct_count_nan_included(kernel, dtype, monkeypatch):
    if not kernel:  # the torch fallback (no C compiler)
        monkeypatch.setattr(evaluate._kernels, "count_nonzero_function", lambda: None)
    gen = torch.Generator().manual_seed(0)
    a = torch.relu(torch.randn(3, 50, 7, 2, generator=gen)).to(dtype)  # units of any shape
    a[1, :, 2] = 0.0  # a dead unit
    a[0, 0, 0] = -0.0
    a[0, 1, 3] = torch.finfo(dtype).tiny * torch.finfo(dtype).eps  # a subnormal is nonzero
    want = (a != 0).sum(1).flatten(1).double()
    assert torch.equal(evaluate._nonzero_counts(a), want)
    a[2, 5, 4] = float("nan")  # a NaN is nonzero, and the rest still counted exactly
    assert torch.equal(evaluate._nonzero_counts(a), (a != 0).sum(1).flatten(1).double())


def _ulp32(x: torch.Tensor) -> torch.Tensor:
    """The spacing of float32 at each |x| (float64), subnormals included."""
    a = x.abs().float()
    return (torch.nextafter(a, torch.tensor(float("inf"))) - a).double()


def _logits(shape, o):
    """Logits with the cases a softmax must get right: large, tied, -inf, a NaN row."""
    gen = torch.Generator().manual_seed(1)
    z = 4 * torch.randn(shape, generator=gen)
    z[0, 0, :o] = 3.0  # all tied: argmax is the first
    z[0, 1, 2] = z[0, 1, 5] = 90.0  # two tied maxima, e^(z) beyond float32
    z[0, 2, :o] = torch.linspace(-1e4, 1e4, o)  # one class takes all the mass
    z[0, 3, 1] = -float("inf")
    z[1, 0, 4] = float("nan")
    return z


@pytest.fixture(params=["kernel", "torch"])
def xent_path(request, monkeypatch):
    """Both softmax cross-entropy paths: the compiled kernel and the torch fallback."""
    if request.param == "torch":
        monkeypatch.setattr(evaluate._kernels, "softmax_xent_function", lambda: None)
    return request.param


@pytest.mark.parametrize("ld", [16, 24])  # the compiled width and the general one
def test_softmax_cross_entropy_gradient(xent_path, ld):
    o, b = 10, 7
    z = _logits((3, b, ld), o)
    y = torch.randint(0, o, (3, b), generator=torch.Generator().manual_seed(2))
    y[0, 3] = 1  # the label on a -inf logit: a gradient of -1/b there
    p = z[..., :o].double().softmax(-1)
    want = torch.zeros(z.shape, dtype=torch.float64)
    want[..., :o] = (p - F.one_hot(y, o)) / b
    d = evaluate._xent_grad(z, y, o)
    assert torch.equal(d[..., o:], torch.zeros_like(d[..., o:]))  # the padding
    assert torch.equal(d.isnan(), want.isnan()) and d[1, 0, :o].isnan().all()
    # float32's promise, in ULPs of what is computed. The softmax p = e^(z - m) / sum is
    # off by at most (o + 2 + |z - m|) units of roundoff relative: the rounded shift z - m
    # is magnified |z - m| times by exp, then o exps of 2u each at most, a sum of o terms
    # and a division. p - y and the scaling by 1/b round twice more. Near p = 1 the
    # subtraction cancels, so the bound is in ULPs of p, not of the (smaller) result.
    ok = ~want.isnan()
    shift = torch.zeros_like(want)
    shift[..., :o] = (z[..., :o] - z[..., :o].amax(-1, keepdim=True)).double().abs()
    shift = shift.nan_to_num(posinf=0.0)  # a -inf logit: p is exactly 0
    p_all = torch.zeros_like(want)
    p_all[..., :o] = p
    d64, w = d[ok].double(), want[ok]
    bound = (o + 4 + shift[ok]) * _ulp32(p_all[ok]) / b + 4 * _ulp32(w)
    worst = ((d64 - w).abs() / bound).max().item()
    assert worst <= 1.0, f"{worst:.2f} times float32's bound"
    assert d[0, 3, 1] == -1 / b  # the label on a -inf logit, exactly


@pytest.mark.parametrize("ld", [10, 16, 24])
def test_softmax_cross_entropy_loss_and_hits(xent_path, ld):
    o, b = 10, 9
    z = _logits((3, b, ld), o)
    y = torch.randint(0, o, (b,), generator=torch.Generator().manual_seed(3))
    y[0], y[1], y[4] = 0, 2, 4  # ties resolved to the first index; NaN the argmax
    loss, hits = evaluate._xent_eval(z, y, o)
    zz = z[..., :o].double()
    per = F.cross_entropy(zz.flatten(0, 1), y.repeat(3), reduction="none").view(3, b)
    torch.testing.assert_close(loss, per.sum(1), rtol=1e-6, atol=1e-5, equal_nan=True)
    assert loss[1].isnan() and not loss[[0, 2]].isnan().any()
    assert torch.equal(hits, (z[..., :o].argmax(2) == y).sum(1))


def test_labels_outside_the_outputs_are_named(monkeypatch) -> None:
    ds, xtr, ytr, xte, yte = config._tensors(trainer.resolve(BASE))
    bad = ytr.clone()
    bad[3] = ds.n_outputs
    key = next(k for k, v in config._DATA_CACHE.items() if v[0] is ds)
    monkeypatch.setitem(config._DATA_CACHE, key, (ds, xtr, bad, xte, yte))
    with pytest.raises(ValueError, match=r"class labels must lie in 0\.\.1"):
        trainer.train_group([{**BASE, "epochs": 1}])


@pytest.mark.parametrize(
    "cfg",
    [
        dict(data="moons", hidden=[16, 16], activation="relu"),  # saves the output
        dict(data="moons", hidden=[16, 16], activation="tanh", residual=True),
        # f' kept from the forward (fused kernel), the gradient product made in place
        dict(data="moons", hidden=[16, 16, 16], activation="gelu", residual=True),
        dict(data="moons", hidden=[16, 16], activation="mish"),
        dict(data="teacher", hidden=[16, 16], activation="gelu"),  # regression
        dict(data="digits", hidden=[24], activation="silu"),  # 10 classes: padded output
        dict(data="moons", hidden=[8], activation="leaky_relu(negative_slope=0.2)"),
        dict(data="moons", hidden=[16, 16], activation="prelu"),  # learnable slopes
        dict(data="moons", hidden=[16, 16], activation="rrelu"),  # random slopes
    ],
    ids=lambda c: f"{c['data']}-{c['activation']}",
)
def test_written_out_gradients_equal_autograd(cfg: dict) -> None:
    cs = [trainer.resolve({**cfg, "seed": s}) for s in (0, 1, 2)]
    ds, xtr, ytr, *_ = config._tensors(cs[0])
    st = stacked._MLPStack([config._make_model(c, ds) for c in cs], cs[0])
    pl = st.manual_plan(xtr[:1])
    assert pl is not None
    xb, yb = xtr[:60].view(3, 20, *xtr.shape[1:]), ytr[:60].view(3, 20, *ytr.shape[1:])
    torch.manual_seed(5)  # RReLU's draws: the same in both
    got = st.grads(xb, yb, ds.task, pl)
    torch.manual_seed(5)
    out = st.forward(xb)
    if ds.task == "classification":
        loss = (
            torch.nn.functional.cross_entropy(out.flatten(0, 1), yb.flatten(0, 1), reduction="none")
            .view(3, -1)
            .mean(1)
            .sum()
        )
    else:
        loss = ((out - yb) ** 2).flatten(1).mean(1).sum()
    want = torch.autograd.grad(loss, st.leaves)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-7)
    assert float(want[0].abs().max()) > 0  # a real gradient was compared


@pytest.mark.parametrize(
    "cfg",
    [
        dict(norm="batch"),
        dict(norm="layer"),
        dict(activation="swish(beta=1.5)", output="sigmoid"),  # an output activation
    ],
    ids=str,
)
def test_autograd_trains_what_is_not_written_out(cfg: dict) -> None:
    c = trainer.resolve({**BASE, **cfg})
    ds, xtr, *_ = config._tensors(c)
    st = stacked._MLPStack([config._make_model(c, ds)], c)
    assert st.manual_plan(xtr[:1]) is None


def test_one_evaluator_for_modules_and_stacks() -> None:
    """The record of a module (its activations by hooks) and of the stacked MLP (its
    batched pass): the same keys, and the same values to float rounding."""
    c = trainer.resolve({**BASE, "activation": "relu", "eval_noise": 0.3, "hidden": [8, 8]})
    ds, *tensors = config._tensors(c)
    models = [config._make_model({**c, "seed": s}, ds) for s in (0, 1)]
    rows = stacked._MLPStack(models, c).evaluate(c, ds, *tensors)
    for model, row in zip(models, rows):
        mine = evaluate._evaluate(model, c, ds, *tensors)
        assert list(mine) == list(row)
        assert mine["dead_units"] == row["dead_units"]
        for key in ("train_loss", "test_acc", "noise_loss", "sparsity", "dead_fraction"):
            assert mine[key] == pytest.approx(row[key], rel=1e-6), key


def test_a_conv_channel_is_one_unit() -> None:
    """Channels whose every position is zero for every training example are dead."""
    c = trainer.resolve(dict(data="mnist1d", model="cnn", channels=[4, 8]))
    ds, *tensors = config._tensors(c)
    model = config._make_model(c, ds)
    with torch.no_grad():
        model.features[0].bias.fill_(-100.0)  # the first block: all zeros
        model.features[3].bias.copy_(torch.tensor([-1.0, 1, -1, 1, 1, 1, 1, -1]))
    row = evaluate._evaluate(model, c, ds, *tensors)
    assert row["dead_units"] == [[0, 1, 2, 3], [0, 2, 7]]  # the second: its biases <= 0
    assert row["dead_fraction"] == 7 / 12
    n, length = tensors[0].shape  # positions: 40 in the first block, 20 after a pooling
    zeros, count = n * length * 4 + n * length // 2 * 3, n * length * 4 + n * length // 2 * 8
    assert row["sparsity"] == zeros / count
