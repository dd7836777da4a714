"""``actlab.functional``: the public name of :mod:`actlab.torch.functional` (the same module)."""

import sys

from .torch import functional as _module

sys.modules[__name__] = _module
