"""What every training path shares: the trial settings, the result, the data and the models.

:data:`DEFAULTS` and :func:`resolve` define a trial config, :func:`group_key` which
configs :func:`~actlab.lab.trainer.train_group` may train together; :func:`_tensors`
caches each data set's tensors and :func:`_make_model` builds a config's model under
its seed, the initialisation every path starts from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .. import data as data_mod
from .. import settings
from ..models import build

#: The value of every setting a config leaves out (the settings schema's).
DEFAULTS: dict[str, Any] = settings.DEFAULTS
OPTIMIZERS = settings.OPTIMIZERS
#: Keys that may differ inside one batched group.
PER_MODEL = ("seed", "lr")


@dataclass
class Result:
    """One trained model: its config, per-epoch history and summary."""

    config: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def final(self) -> dict[str, Any]:
        return self.history[-1] if self.history else {}

    def summary(self) -> dict[str, Any]:
        f = self.final
        return {
            "final_train_loss": f.get("train_loss"),
            "final_test_loss": f.get("test_loss"),
            "final_train_acc": f.get("train_acc"),
            "final_test_acc": f.get("test_acc"),
            "final_dead_fraction": f.get("dead_fraction"),
            "seconds": self.seconds,
        }


def resolve(config: dict[str, Any]) -> dict[str, Any]:
    """The config with defaults filled in, checked against the settings schema first
    (:mod:`actlab.lab.settings`): a :class:`~actlab.lab.settings.SettingsError` lists
    every problem, each naming the key, the value and what is valid."""
    return settings.resolve(config)


def group_key(config: dict[str, Any]) -> str:
    """Configs with the same key can be trained together by :func:`train_group`."""
    c = resolve(config)
    return repr(sorted((k, repr(v)) for k, v in c.items() if k not in PER_MODEL))


_DATA_CACHE: dict[tuple, tuple] = {}


def _tensors(c: dict[str, Any]) -> tuple[data_mod.Dataset, torch.Tensor, ...]:
    key = (c["data"], c["data_seed"], c["standardize"], c["shift_mean"], c["shift_scale"])
    if key not in _DATA_CACHE:
        ds = data_mod.load(c["data"], seed=c["data_seed"], standardize=c["standardize"])
        if c["shift_mean"] != 0.0 or c["shift_scale"] != 1.0:
            ds = ds.shift(c["shift_mean"], c["shift_scale"])
        t = [torch.from_numpy(a) for a in (ds.x_train, ds.y_train, ds.x_test, ds.y_test)]
        if len(_DATA_CACHE) > 8:
            _DATA_CACHE.clear()
        _DATA_CACHE[key] = (ds, *t)
    return _DATA_CACHE[key]


def _make_model(c: dict[str, Any], ds: data_mod.Dataset) -> nn.Module:
    """The config's model, built under ``torch.manual_seed(seed)``: every path's start."""
    torch.manual_seed(c["seed"])
    return build(c, ds.input_shape, ds.n_outputs)


def _weight_names(model: nn.Module) -> list[str]:
    """Parameters whose gradient norms are recorded: the weights of Linear/Conv layers, in order."""
    return [
        f"{n}.weight"
        for n, m in model.named_modules()
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d))
    ]
