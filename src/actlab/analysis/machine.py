"""A description of the machine and software a measurement ran on, for reports and docs."""

from __future__ import annotations

import datetime as _dt
import os
import platform
from typing import Any


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), or the platform's best guess."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe() -> dict[str, Any]:
    """CPU, core and thread counts, library versions and the UTC date.

    Example:
        >>> "cpu" in describe() and "torch" in describe()
        True
    """
    from importlib.metadata import version

    import numpy
    import torch

    return {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "actlab": version("actlab"),  # the installed distribution's, not the package root's
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
