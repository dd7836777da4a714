"""``actlab.nn``: the public name of :mod:`actlab.torch.nn` (the same module)."""

import sys

from .torch import nn as _module

sys.modules[__name__] = _module
