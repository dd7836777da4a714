"""actlab's one cache directory: generated data sets, compiled kernels and per-machine choices."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$ACTLAB_CACHE``, else ``$XDG_CACHE_HOME/actlab``, else ``~/.cache/actlab``.

    Example:
        >>> cache_dir().name == "actlab" or "ACTLAB_CACHE" in os.environ
        True
    """
    root = os.environ.get("ACTLAB_CACHE")
    if root:
        return Path(root).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "actlab"
