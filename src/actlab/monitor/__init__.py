"""Diagnostics for any ``torch.nn.Module``: dead, sparse and saturated units, vanishing gradients.

``actlab.Monitor(model)`` hooks the activation modules (actlab's and ``torch.nn``'s)
and, through a ``TorchFunctionMode``, the activation functions called inside
``forward``; it keeps bounded streaming statistics per unit and tells you what it
found and what to try. ``actlab.swap`` replaces activation modules recursively.

Modules: :mod:`.activations` (torch modules and functions -> catalogue entries),
:mod:`.saturation` (where ``|f'| < eps``), :mod:`.stats` (per-site sums, windows,
dead-unit tracking, bounded history), :mod:`.monitor` (hooks and results),
:mod:`.advice` (findings), :mod:`.export` (table, CSV/JSONL, TensorBoard, plot),
:mod:`.swap`.

Example:
    >>> import torch, actlab
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    >>> mon = actlab.Monitor(model, window=5)
    >>> with mon:
    ...     for _ in range(5):
    ...         model(torch.randn(32, 4)).sum().backward()
    >>> sorted(mon.summary()[0])[:4]
    ['batches', 'dead_fraction', 'dead_since', 'dead_since_first']
"""

from __future__ import annotations

from .advice import DEFAULTS, Finding, advise
from .export import TensorBoardLogger, format_table
from .monitor import Monitor
from .swap import swap

__all__ = ["DEFAULTS", "Finding", "Monitor", "TensorBoardLogger", "advise", "format_table", "swap"]
