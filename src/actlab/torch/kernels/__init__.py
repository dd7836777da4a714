"""Compiled CPU kernels for the elementwise activations: built once per machine, loaded by ctypes.

``kernels.c`` (next to this file) holds one forward and one backward loop per
activation and storage type (float32, bfloat16, float16), each a single pass over
memory that computes in double in registers. The first process that needs them
compiles it with the system C compiler (``$ACTLAB_CC``, ``$CC`` or ``cc``) into
actlab's cache directory (``$ACTLAB_CACHE``, else ``$XDG_CACHE_HOME/actlab``, else
``~/.cache/actlab``); every later process, on the same machine, only loads the
shared library (milliseconds). The cold build says so once, with a
:class:`KernelWarning`; so does a failure, after which actlab runs its eager paths.

Nothing here needs a GPU, Triton or torch.compile, and nothing in actlab requires
these kernels: :func:`load` returns ``None`` where they cannot be built (no
compiler, ``ACTLAB_KERNELS=0``), and :mod:`actlab.torch.fast` falls back.

Example:
    >>> from actlab.torch import kernels
    >>> kernels.status()["state"] in ("ready", "unavailable", "not loaded")
    True
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

__all__ = [
    "DTYPES",
    "FLOAT32",
    "FUSED",
    "NAMES",
    "KernelWarning",
    "cache_dir",
    "enabled",
    "function",
    "load",
    "reset",
    "status",
    "tables",
]

#: storage types, by their suffix in the C names
DTYPES = ("f32", "bf16", "f16")

_SOURCE = Path(__file__).with_name("kernels.c")
_VERSION = 2  # actlab_kernels_version() in kernels.c
_BASE_FLAGS = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-fPIC", "-shared"]
# Tried in order until one builds and loads: the fastest first (native instructions,
# threads, glibc's vector erfc), then without each optional part.
_VARIANTS: tuple[tuple[str, list[str], list[str]], ...] = (
    ("native+openmp+mvec", ["-march=native", "-fopenmp", "-DACTLAB_MVEC"], ["-lmvec", "-lm"]),
    ("native+openmp", ["-march=native", "-fopenmp"], ["-lm"]),
    ("native", ["-march=native"], ["-lm"]),
    ("generic", [], ["-lm"]),
)
_BUILD_TIMEOUT_S = 600

_lock = threading.RLock()
_lib: ctypes.CDLL | None = None
_state = "not loaded"  # "ready", "unavailable" or "not loaded"
_info: dict[str, Any] = {}
_tables: dict[str, Any] | None = None
_functions: dict[str, Any] = {}  # bound ctypes functions, by symbol


class KernelWarning(UserWarning):
    """Said once per process: the kernels are being compiled (cold cache), or cannot be."""


def enabled() -> bool:
    """False when ``ACTLAB_KERNELS`` is ``0``, ``off``, ``no`` or ``false``."""
    return os.environ.get("ACTLAB_KERNELS", "1").strip().lower() not in ("0", "off", "no", "false")


def cache_dir() -> Path:
    """Where compiled kernels (and the per-machine choices of :mod:`actlab.torch.fast`) are kept."""
    from ..._cache import cache_dir as root

    return root()


def _cpu_id() -> str:
    """The CPU model and instruction-set flags: -march=native code is valid only there."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return f"{platform.machine()}|{platform.processor()}"
    keep = [ln for ln in text.splitlines() if ln.startswith(("model name", "flags", "Features"))]
    return "\n".join(dict.fromkeys(keep))  # one copy per distinct line, not one per core


@functools.cache
def machine_key() -> str:
    """Identifies this machine, OS and kernel source: the cache file names carry it."""
    h = hashlib.sha256()
    for part in (_SOURCE.read_bytes(), _cpu_id().encode(), sys.platform.encode(), b"v1"):
        h.update(part)
        h.update(b"\0")
    return h.hexdigest()[:16]


def _compiler() -> str | None:
    for cand in (os.environ.get("ACTLAB_CC"), os.environ.get("CC"), "cc", "gcc", "clang"):
        if cand:
            found = shutil.which(cand)
            if found:
                return found
            if os.environ.get("ACTLAB_CC") == cand:  # an explicit choice that is not there
                return None
    return None


def _warn(msg: str) -> None:
    warnings.warn(msg, KernelWarning, stacklevel=4)


def _try_load(path: Path) -> ctypes.CDLL | None:
    try:
        lib = ctypes.CDLL(str(path))
        if lib.actlab_kernels_version() != _VERSION:
            return None
        return lib
    except (OSError, AttributeError):
        return None


def _manifest(target: Path) -> Path:
    return target.with_suffix(".json")


def _fingerprint(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _intact(target: Path) -> bool:
    """Whether the cached library is the file its build wrote, byte for byte.

    ``dlopen`` of a truncated or overwritten shared library can kill the process
    (SIGBUS) on the first call into it, with no exception to catch: the file is checked
    against the manifest its build left before it is ever loaded.
    """
    try:
        return json.loads(_manifest(target).read_text()) == _fingerprint(target)
    except (OSError, ValueError):
        return False


def _build(target: Path, cc: str | None) -> tuple[ctypes.CDLL | None, str]:
    """Compile kernels.c into ``target``; the first variant that builds and loads wins."""
    if cc is None:
        return None, "no C compiler found (set ACTLAB_CC or CC)"
    target.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for name, flags, libs in _VARIANTS:
        # a temporary name in the same directory, then an atomic rename: processes that
        # build at the same time never load a half-written file
        fd, tmp = tempfile.mkstemp(prefix=".build-", suffix=".so", dir=target.parent)
        os.close(fd)
        cmd = [cc, *_BASE_FLAGS, *flags, str(_SOURCE), "-o", tmp, *libs]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_BUILD_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as e:
            errors.append(f"{name}: {e}")
            Path(tmp).unlink(missing_ok=True)
            continue
        if proc.returncode != 0:
            errors.append(f"{name}: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}")
            Path(tmp).unlink(missing_ok=True)
            continue
        lib = _try_load(Path(tmp))
        if lib is None:
            errors.append(f"{name}: built but could not be loaded")
            Path(tmp).unlink(missing_ok=True)
            continue
        # the manifest first, then the library: whoever sees the new library sees its
        # manifest (each is renamed into place whole)
        fd, man = tempfile.mkstemp(prefix=".build-", suffix=".json", dir=target.parent)
        with os.fdopen(fd, "w") as f:
            json.dump(_fingerprint(Path(tmp)), f)
        os.replace(man, _manifest(target))
        os.replace(tmp, target)
        _info["variant"] = name
        return lib, ""
    return None, "; ".join(errors)


def load(*, build: bool = True) -> ctypes.CDLL | None:
    """The kernel library, building it if the cache has none (once per machine).

    Returns ``None`` (and the eager paths are used) when the kernels are disabled
    or cannot be built here; :func:`status` says why.
    """
    global _lib, _state
    if _state == "ready" or (_state == "unavailable" and _info.get("final")):
        return _lib
    with _lock:
        if _state == "ready":
            return _lib
        if not enabled():
            _state = "unavailable"
            _info.update(reason="disabled by ACTLAB_KERNELS", final=False)
            return None
        t0 = time.perf_counter()
        try:
            target = cache_dir() / "kernels" / f"actlab-kernels-{machine_key()}.so"
        except OSError as e:  # an installation without kernels.c
            target, lib, reason = None, None, f"kernel source unreadable ({e})"
        else:
            _info["path"] = str(target)
            lib = None
            if target.exists() and _manifest(target).exists():  # else: built before manifests
                if _intact(target):
                    lib = _try_load(target)
                else:
                    _info["damaged"] = True
                    _warn(
                        f"actlab: the cached kernels {target} are damaged or incomplete "
                        "(they do not match their build's manifest); rebuilding them"
                    )
        if lib is None:
            if not build:
                return None
            if target is not None:
                cc = _compiler()
                if cc is not None:
                    _warn(
                        f"actlab: compiling its CPU kernels for this machine with {cc} (once; "
                        f"about 15 s), cached in {target.parent}"
                    )
                try:
                    lib, reason = _build(target, cc)
                except OSError as e:  # a read-only cache directory, a full disk
                    lib, reason = None, f"cannot write {target.parent} ({e})"
            if lib is None:
                _state = "unavailable"
                _info.update(reason=reason, final=True)
                _warn(f"actlab: compiled kernels unavailable, using the eager paths ({reason})")
                return None
            _info["built"] = True
        _info["load_seconds"] = time.perf_counter() - t0
        _lib, _state = lib, "ready"
        _info.update(reason="", final=True)
        return _lib


def _bind(symbol: str, argtypes: list) -> Any:
    """The library's function ``symbol`` with its argument types set (cached), or None."""
    fn = _functions.get(symbol)
    if fn is not None:
        return fn
    lib = load()
    if lib is None:
        return None
    try:
        fn = getattr(lib, symbol)
    except AttributeError:  # no such kernel (a variant this entry does not have)
        return None
    fn.argtypes = argtypes
    fn.restype = None
    _functions[symbol] = fn
    return fn


_PTR, _I64, _F64, _INT = ctypes.c_void_p, ctypes.c_int64, ctypes.c_double, ctypes.c_int


def function(name: str, direction: str, dtype: str) -> Any:
    """The ctypes function ``{name}_{direction}_{dtype}`` (argument types set), or None.

    ``direction`` is ``fwd`` or ``bwd`` (computed in double), ``fwd32`` or ``bwd32``
    (computed in float32, for the entries of :data:`FLOAT32`), or ``fwdd`` (f and f'
    together: ``(x, y, d, n, a, b, threads)``, for the entries of :data:`FUSED`).
    """
    tensors = [_PTR] * (2 if direction in ("fwd", "fwd32") else 3)
    return _bind(f"{name}_{direction}_{dtype}", [*tensors, _I64, _F64, _F64, _INT])


def prelu_function(direction: str, dtype: str) -> Any:
    """The ctypes function ``prelu_{direction}_{dtype}``: leaky ReLU with a tensor slope.

    ``fwd(x, w, y, outer, C, inner, threads)`` and ``bwd(x, w, g, gx, gw, outer, C,
    inner, threads)`` (``gx`` or ``gw`` may be NULL): ``x`` seen as (outer, C, inner) in
    memory order, slope ``w[c]``, the slope's gradient per (o, c) block in float64.
    None where the kernels are unavailable.
    """
    tensors = [_PTR] * (3 if direction == "fwd" else 5)
    return _bind(f"prelu_{direction}_{dtype}", [*tensors, _I64, _I64, _I64, _INT])


def _exports(direction: str) -> tuple[str, ...]:
    """The kernels for which the library exports ``{name}_{direction}_f32``, among the
    catalogue's elementwise entries' kernels (their own name or ``Activation.kernel``)."""
    from ... import functions

    acts = [functions.get(n) for n in functions.names()]
    # an entry that borrows a kernel is not probed under its own name: prelu_fwd_f32 is the
    # tensor-slope kernel, with other arguments (prelu_function)
    names = dict.fromkeys(a.kernel or a.name for a in acts if a.kind == "elementwise")
    return tuple(k for k in names if function(k, direction, "f32") is not None)


def tables() -> dict[str, Any]:
    """What kernels.c holds, read off the built library (empty where none could be built).

    ``NAMES``: the kernels (catalogue names; rrelu and prelu use leaky_relu's).
    ``FLOAT32``: per kernel, the loops also written in float32 arithmetic (``fwd32``,
    ``bwd32``): faster, within the catalogue's bounds without being correctly rounded.
    ``FUSED``: the kernels that also compute f and f' in one pass (``fwdd``).
    The same names are the module's attributes (``kernels.NAMES``, ...).
    """
    global _tables
    with _lock:
        if _tables is None:
            names = _exports("fwd")
            f32 = {d: set(_exports(d)) for d in ("fwd32", "bwd32")}
            _tables = {
                "NAMES": names,
                "FLOAT32": {
                    k: tuple(d for d in ("fwd32", "bwd32") if k in f32[d])
                    for k in names
                    if k in f32["fwd32"] | f32["bwd32"]
                },
                "FUSED": _exports("fwdd"),
            }
        return _tables


def __getattr__(name: str) -> Any:
    if name in ("NAMES", "FLOAT32", "FUSED"):
        return tables()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def count_nonzero_function() -> Any:
    """``count_nonzero_rows_f32(x, out, outer, rows, cols, threads)``, or None without kernels.

    ``x`` (float32) seen as (outer, rows, cols) in memory order; ``out[o, c]`` (int32) =
    how many of ``x[o, :, c]`` are nonzero, a NaN counted as nonzero.
    """
    return _bind("count_nonzero_rows_f32", [_PTR, _PTR, _I64, _I64, _I64, _INT])


def softmax_xent_function() -> Any:
    """``softmax_xent_f32(z, y, ys, S, B, ld, o, d, scale, loss, correct, threads)``, or None.

    Softmax cross-entropy over the rows of ``z`` (float32, (S, B, ld) in memory order, the
    first ``o`` entries of a row its logits), the label of row (s, i) ``y[s * ys + i]``
    (int64, every one in ``[0, o)``: not checked here). ``d`` (or NULL) receives
    ``scale * (softmax - onehot)``, zero in the padding; ``loss`` (float64, S) and
    ``correct`` (int64, S), or NULL, the summed loss and the argmax hits per s.
    """
    return _bind(
        "softmax_xent_f32",
        [_PTR, _PTR, _I64, _I64, _I64, _I64, _I64, _PTR, _F64, _PTR, _PTR, _INT],
    )


def status() -> dict[str, Any]:
    """Where the kernels stand in this process: state, library path, build variant, reason."""
    return {"state": _state, **{k: v for k, v in _info.items() if k != "final"}}


def reset() -> None:
    """Forget the loaded library (for tests: the next use looks at the cache again)."""
    global _lib, _state, _tables
    with _lock:
        _lib, _state, _tables = None, "not loaded", None
        _info.clear()
        _functions.clear()
