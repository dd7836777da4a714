"""``actlab.lab.trainer.fit``: any model on given tensors, the loop behind ``actlab diagnose``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from actlab.lab.trainer import fit


def tiny(seed: int = 0, out: int = 3) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, out))


def blobs(n: int = 50, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    return x, (x[:, 0] > 0).long() + (x[:, 1] > 0).long()


def by_hand(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    opt: torch.optim.Optimizer,
    loss_fn: Any,
) -> list[float]:
    """The loop written out: what ``fit`` must reproduce to the bit."""
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), batch_size):
            idx = perm[i : i + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / len(x))
    return losses


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_sgd_with_momentum_matches_the_loop_written_out() -> None:
    x, y = blobs()
    ref = tiny()
    opt = torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    losses = by_hand(ref, x, y, 3, 0.1, 16, 7, opt, nn.CrossEntropyLoss())
    model = tiny()
    history = fit(model, x, y, epochs=3, lr=0.1, batch_size=16, momentum=0.9, seed=7)
    assert same_weights(model, ref)
    assert [r["epoch"] for r in history] == [1, 2, 3]
    assert [r["loss"] for r in history] == losses  # the same floats, not approximately
    assert all(0.0 <= r["train_accuracy"] <= 1.0 for r in history)


def test_adam_on_regression_targets_matches_the_loop_written_out() -> None:
    x, _ = blobs(n=40)
    y = x[:, :2] * 2.0 - 1.0
    ref = tiny(out=2)
    opt = torch.optim.Adam(ref.parameters(), lr=0.01)
    losses = by_hand(ref, x, y, 2, 0.01, 8, 0, opt, nn.MSELoss())
    model = tiny(out=2)
    history = fit(model, x, y, epochs=2, lr=0.01, batch_size=8, optimizer="adam", momentum=5.0)
    assert same_weights(model, ref)  # Adam ignores momentum, even an invalid one
    assert [r["loss"] for r in history] == losses
    assert [r["train_accuracy"] for r in history] == [None, None]


def test_the_seed_orders_the_batches() -> None:
    x, y = blobs()
    a, b, c = tiny(), tiny(), tiny()
    fit(a, x, y, epochs=2, lr=0.1, batch_size=10, seed=1)
    fit(b, x, y, epochs=2, lr=0.1, batch_size=10, seed=1)
    fit(c, x, y, epochs=2, lr=0.1, batch_size=10, seed=2)
    assert same_weights(a, b) and not same_weights(a, c)


def test_on_epoch_gets_each_record_and_the_model_trains_again_after_it() -> None:
    x, y = blobs()
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 3))
    seen: list[tuple[dict[str, Any], bool]] = []

    def after(record: dict[str, Any]) -> None:
        seen.append((dict(record), model.training))
        model.eval()  # e.g. an evaluation; the next epoch must train in train mode again

    history = fit(model, x, y, epochs=3, lr=0.05, on_epoch=after)
    assert [r for r, _ in seen] == history and all(training for _, training in seen)


def test_labels_of_any_integer_dtype_and_a_loss_of_ones_own() -> None:
    x, y = blobs()
    a, b = tiny(), tiny()
    fit(a, x, y, epochs=1, lr=0.1)
    fit(b, x, y.to(torch.int32), epochs=1, lr=0.1)  # cross-entropy needs int64: converted
    assert same_weights(a, b)
    calls = []

    def loss_fn(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        calls.append(len(target))
        return nn.functional.cross_entropy(out, target, label_smoothing=0.1)

    history = fit(tiny(), x, y, epochs=1, lr=0.1, batch_size=20, loss_fn=loss_fn)
    assert calls == [20, 20, 10] and history[0]["train_accuracy"] is not None


def test_no_accuracy_for_outputs_that_are_not_2d_and_no_loss_when_it_is_not_finite() -> None:
    x, y = blobs(n=12)

    class Flat(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(4, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lin(x).squeeze(1)

    def loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return ((out - target.float()) ** 2).mean()

    (rec,) = fit(Flat(), x, y, epochs=1, lr=0.01, loss_fn=loss)
    assert rec["train_accuracy"] is None and math.isfinite(rec["loss"])
    (rec,) = fit(tiny(), x * math.inf, y, epochs=1, lr=0.1)
    assert rec["loss"] is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, r"'epochs' .* an int in the range \[1, inf\)\. Got 0"),
        ({"epochs": 2.0}, r"'epochs' parameter of fit must be an int .* Got 2\.0"),
        ({"epochs": True}, r"'epochs' parameter of fit must be an int .* Got True"),
        ({"batch_size": 0}, r"'batch_size' .* an int in the range \[1, inf\)"),
        ({"lr": 0.0}, r"'lr' parameter of fit must be a float in the range \(0, inf\)\. Got 0\.0"),
        ({"lr": -1}, r"'lr' parameter of fit must be a float in the range \(0, inf\)\. Got -1"),
        ({"lr": math.nan}, r"'lr' parameter of fit must be a float .* Got nan"),
        ({"lr": math.inf}, r"'lr' parameter of fit must be a float .* Got inf"),
        ({"optimizer": "rmsprop"}, r"'optimizer' parameter must be one of 'sgd', 'adam'"),
        ({"momentum": 1.0}, r"'momentum' parameter of fit must be a float in the range \[0, 1\)"),
        ({"momentum": -0.1}, r"'momentum' parameter .* in the range \[0, 1\)\. Got -0\.1"),
        ({"seed": -1}, r"'seed' .* an int in the range \[0, 18446744073709551616\)"),
        ({"seed": 2**64}, r"'seed' parameter of fit must be an int in the range \[0, "),
    ],
)
def test_bad_values_name_the_parameter_and_its_range(kwargs: dict[str, Any], message: str) -> None:
    x, y = blobs(n=8)
    settings = {"epochs": 1, "lr": 0.1, **kwargs}
    model = tiny()
    before = [p.clone() for p in model.parameters()]
    with pytest.raises(ValueError, match=message):
        fit(model, x, y, **settings)
    assert all(torch.equal(p, q) for p, q in zip(before, model.parameters()))  # nothing ran


def test_bad_data_and_models() -> None:
    x, y = blobs(n=8)
    with pytest.raises(ValueError, match=r"'x' parameter must have at least one row"):
        fit(tiny(), x[:0], y[:0], epochs=1, lr=0.1)
    with pytest.raises(ValueError, match=r"'y' parameter must have one row per row of x \(8\)"):
        fit(tiny(), x, y[:5], epochs=1, lr=0.1)
    with pytest.raises(ValueError, match=r"'y' parameter must hold integer labels .* torch\.bool"):
        fit(tiny(), x, y > 0, epochs=1, lr=0.1)
    frozen = tiny().requires_grad_(False)
    with pytest.raises(ValueError, match=r"'model' parameter has no trainable parameters"):
        fit(frozen, x, y, epochs=1, lr=0.1)
    with pytest.raises(TypeError, match=r"'model' parameter must be a torch\.nn\.Module\. Got int"):
        fit(3, x, y, epochs=1, lr=0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"'x' parameter must be a torch\.Tensor\. Got ndarray"):
        fit(tiny(), np.zeros((8, 4)), y, epochs=1, lr=0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"'on_epoch' parameter must be callable or None"):
        fit(tiny(), x, y, epochs=1, lr=0.1, on_epoch="print")  # type: ignore[arg-type]
