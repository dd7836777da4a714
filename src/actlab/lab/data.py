"""Offline data sets: generated, bundled with scikit-learn, or read from files the user has.

Nothing here downloads. MNIST-1D is generated procedurally by the ``mnist1d``
package and cached; scikit-learn's digits, breast-cancer and wine sets ship with
it; spirals, moons and a teacher-network regression are synthesised. MNIST,
Fashion-MNIST (IDX files, raw or gzipped), CIFAR-10 (python batches) and any
``.npz`` are read from disk when the user has them.

Example:
    >>> from actlab.lab import data
    >>> ds = data.load("moons", seed=0)
    >>> ds.x_train.shape[1], ds.n_classes
    (2, 2)
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DataError",
    "Dataset",
    "cache_dir",
    "load",
    "load_cifar10",
    "load_idx",
    "load_npz",
    "names",
]


class DataError(ValueError):
    """A data file is missing, corrupt or not what was expected (the message names the file)."""


@dataclass(frozen=True)
class Dataset:
    """Train and test arrays plus what a model needs to know about them.

    ``x_*`` are float32 arrays of shape ``(n, *input_shape)``; ``y_*`` are int64 class
    labels for classification and float32 targets of shape ``(n, k)`` for regression.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    task: str = "classification"
    n_classes: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def n_outputs(self) -> int:
        return self.n_classes if self.task == "classification" else int(self.y_train.shape[1])

    def standardize(self) -> Dataset:
        """Zero mean and unit variance per feature, with statistics of the training set only."""
        mu = self.x_train.mean(axis=0, keepdims=True)
        sd = self.x_train.std(axis=0, keepdims=True)
        sd = np.where(sd > 0, sd, 1.0)
        return replace(
            self,
            x_train=((self.x_train - mu) / sd).astype(np.float32),
            x_test=((self.x_test - mu) / sd).astype(np.float32),
            meta={**self.meta, "standardized": True},
        )

    def shift(self, mean: float = 0.0, scale: float = 1.0) -> Dataset:
        """Inputs times ``scale`` plus ``mean`` (train and test alike): claim C8's perturbation."""
        if not np.isfinite(scale) or scale <= 0:
            raise ValueError(
                f"The 'scale' of a shift must be a positive finite float. Got {scale!r}"
            )
        return replace(
            self,
            x_train=(self.x_train * scale + mean).astype(np.float32),
            x_test=(self.x_test * scale + mean).astype(np.float32),
            meta={**self.meta, "shift_mean": mean, "shift_scale": scale},
        )


def cache_dir() -> Path:
    """Where generated data are cached: actlab's cache directory (``$ACTLAB_CACHE``)."""
    from .._cache import cache_dir as root

    return root()


# --------------------------------------------------------------------------------------
# generated and bundled sets


def _mnist1d(seed: int = 0, **_: Any) -> Dataset:
    """MNIST-1D (Greydanus 2020): 4,000 train and 1,000 test sequences of length 40, 10 classes.

    The data set is a function of its generator arguments alone (the package's
    default seed, 42, is the published benchmark's); ``seed`` only orders training.
    It is generated once and cached under the installed ``mnist1d`` version, whose
    defaults fix those arguments: a cached load reads the file without importing the
    package, which imports SciPy and matplotlib (1.4 s here, against milliseconds for
    the file; every sweep worker loads the data).
    """
    from importlib import metadata

    try:
        version = metadata.version("mnist1d")
    except metadata.PackageNotFoundError:
        raise DataError(
            "mnist1d needs the 'mnist1d' package (pip install mnist1d): it generates the data"
        ) from None
    path = cache_dir() / f"mnist1d-{version}.npz"
    arrays = None
    if path.exists():
        try:
            with np.load(path) as z:
                arrays = {k: z[k] for k in ("x", "y", "x_test", "y_test")}
        except (OSError, ValueError, KeyError, EOFError):
            arrays = None  # a torn cache file: regenerate it
    if arrays is None:
        from mnist1d.data import get_dataset_args, make_dataset
        from mnist1d.utils import ObjectView

        args = get_dataset_args(as_dict=True)
        d = make_dataset(ObjectView(args))
        arrays = {k: np.asarray(d[k]) for k in ("x", "y", "x_test", "y_test")}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        # the generator's arguments kept beside the arrays, for the record
        np.savez_compressed(tmp, **arrays, args=json.dumps(args, sort_keys=True))
        os.replace(tmp, path)  # atomic: a concurrent reader never sees half a file
    return Dataset(
        "mnist1d",
        arrays["x"].astype(np.float32),
        arrays["y"].astype(np.int64),
        arrays["x_test"].astype(np.float32),
        arrays["y_test"].astype(np.int64),
        n_classes=10,
        meta={"source": "mnist1d.data.make_dataset(get_dataset_args())", "cache": str(path)},
    )


def _split(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    seed: int,
    n_classes: int,
    test_size: float = 0.25,
    **meta: Any,
) -> Dataset:
    from sklearn.model_selection import train_test_split

    xtr, xte, ytr, yte = train_test_split(
        x, y, test_size=test_size, random_state=seed, stratify=y if n_classes else None
    )
    ytr = ytr.astype(np.int64) if n_classes else ytr.astype(np.float32)
    yte = yte.astype(np.int64) if n_classes else yte.astype(np.float32)
    return Dataset(
        name,
        xtr.astype(np.float32),
        ytr,
        xte.astype(np.float32),
        yte,
        task="classification" if n_classes else "regression",
        n_classes=n_classes,
        meta=meta,
    )


def _sklearn(loader: str, name: str) -> Callable[..., Dataset]:
    def make(seed: int = 0, **_: Any) -> Dataset:
        from sklearn import datasets

        b = getattr(datasets, loader)()
        n = int(np.max(b.target)) + 1
        return _split(name, b.data, b.target, seed, n, source=f"sklearn.datasets.{loader}")

    make.__doc__ = f"scikit-learn's bundled {name} set, split 75/25 (stratified) by ``seed``."
    return make


def _spirals(seed: int = 0, n: int = 2000, arms: int = 2, noise: float = 0.2, **_: Any) -> Dataset:
    """Interleaved spirals, ``arms`` classes of ``n // arms`` points in the plane."""
    rng = np.random.default_rng(seed)
    per = n // arms
    t = np.sqrt(rng.uniform(0.0, 1.0, (arms, per))) * 3.0 * np.pi
    xs, ys = [], []
    for k in range(arms):
        phase = 2.0 * np.pi * k / arms
        pts = np.stack([t[k] * np.cos(t[k] + phase), t[k] * np.sin(t[k] + phase)], axis=1)
        xs.append(pts / (3.0 * np.pi) + noise * rng.standard_normal(pts.shape) / 3.0)
        ys.append(np.full(per, k))
    return _split(
        "spirals",
        np.concatenate(xs),
        np.concatenate(ys),
        seed,
        arms,
        source=f"synthetic: {arms} spirals, noise {noise}",
    )


def _moons(seed: int = 0, n: int = 2000, noise: float = 0.2, **_: Any) -> Dataset:
    """scikit-learn's two interleaved half-moons, generated with ``seed``."""
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=n, noise=noise, random_state=seed)
    return _split("moons", x, y, seed, 2, source=f"sklearn make_moons, noise {noise}")


def _teacher(
    seed: int = 0,
    n: int = 4000,
    d_in: int = 20,
    hidden: int = 50,
    d_out: int = 1,
    activation: str = "tanh",
    noise: float = 0.0,
    **_: Any,
) -> Dataset:
    """Regression on the outputs of a random one-hidden-layer teacher network.

    Inputs ~ N(0, I); teacher weights ~ N(0, 1/fan_in); targets = teacher(x) + noise.
    The teacher's activation is a catalogue spec, evaluated by the catalogue.
    """
    from .. import functions
    from ..functions.spec import parse_spec

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d_in))
    w1 = rng.standard_normal((d_in, hidden)) / np.sqrt(d_in)
    w2 = rng.standard_normal((hidden, d_out)) / np.sqrt(hidden)
    act_name, params = parse_spec(activation)
    h = functions.get(act_name).forward(x @ w1, **params)
    y = h @ w2 + noise * rng.standard_normal((n, d_out))
    return _split(
        "teacher",
        x,
        y,
        seed,
        0,
        test_size=0.2,
        source=f"teacher {d_in}-{hidden}-{d_out} with {activation}, noise {noise}",
    )


_GENERATORS: dict[str, Callable[..., Dataset]] = {
    "mnist1d": _mnist1d,
    "digits": _sklearn("load_digits", "digits"),
    "breast_cancer": _sklearn("load_breast_cancer", "breast_cancer"),
    "wine": _sklearn("load_wine", "wine"),
    "spirals": _spirals,
    "moons": _moons,
    "teacher": _teacher,
}


def names() -> list[str]:
    """Names that :func:`load` accepts without a path."""
    return sorted(_GENERATORS)


def load(
    name: str,
    *,
    seed: int = 0,
    standardize: bool = True,
    path: str | os.PathLike | None = None,
    **kwargs: Any,
) -> Dataset:
    """Load a data set by name.

    Args:
        name: one of :func:`names`, or ``"mnist"``, ``"fashion_mnist"``, ``"cifar10"``,
            ``"npz"`` with ``path`` pointing at the user's files.
        seed: the train/test split (scikit-learn and synthetic sets) and the synthetic draw.
        standardize: zero mean, unit variance per feature (training statistics).
        path: directory or file for the on-disk formats.
        **kwargs: passed to the generator (e.g. ``noise=0.1`` for spirals).

    Example:
        >>> from actlab.lab import data
        >>> ds = data.load("wine")
        >>> ds.x_train.shape, ds.n_classes
        ((133, 13), 3)
    """
    key = name.lower().replace("-", "_")
    if key in _GENERATORS:
        ds = _GENERATORS[key](seed=seed, **kwargs)
    elif key in ("mnist", "fashion_mnist"):
        ds = _idx_dir(key, path)
    elif key == "cifar10":
        if path is None:
            raise DataError("cifar10 needs path=DIR holding the python batches (data_batch_1..5)")
        ds = load_cifar10(path)
    elif key == "npz":
        if path is None:
            raise DataError("npz needs path=FILE.npz with arrays x and y (or x_train/y_train/...)")
        ds = load_npz(path, seed=seed)
    else:
        import difflib

        close = difflib.get_close_matches(key, [*names(), "mnist", "fashion_mnist", "cifar10"])
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise DataError(
            f"Unknown data set {name!r}{hint} Known: {', '.join(names())}, "
            "mnist, fashion_mnist, cifar10 (with path=), npz (with path=)."
        )
    return ds.standardize() if standardize else ds


# --------------------------------------------------------------------------------------
# files the user already has

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_maybe_gz(path: Path) -> bytes:
    if not path.exists():
        raise DataError(f"{path}: no such file")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError(f"{path}: corrupt gzip data ({exc})") from exc
    return raw


def _read_idx(path: Path) -> np.ndarray:
    raw = _read_maybe_gz(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise DataError(f"{path}: not an IDX file (expected magic 0x0000TTDD, got {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: IDX header truncated ({len(raw)} bytes for {ndim} dimensions)")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            f"{path}: IDX body has {len(raw) - header} bytes, expected {expected} "
            f"for shape {shape} of {dtype}"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def load_idx(
    images: str | os.PathLike,
    labels: str | os.PathLike,
    name: str = "idx",
    test_images: str | os.PathLike | None = None,
    test_labels: str | os.PathLike | None = None,
) -> Dataset:
    """MNIST-format IDX image and label files (raw or gzipped); pixels scaled to [0, 1]."""
    x = _read_idx(Path(images))
    y = _read_idx(Path(labels))
    if x.shape[0] != y.shape[0]:
        raise DataError(f"{images} has {x.shape[0]} images but {labels} has {y.shape[0]} labels")
    if test_images is not None and test_labels is not None:
        xt, yt = _read_idx(Path(test_images)), _read_idx(Path(test_labels))
        if xt.shape[0] != yt.shape[0]:
            raise DataError(
                f"{test_images} has {xt.shape[0]} images but {test_labels} has {yt.shape[0]} labels"
            )
    else:
        cut = int(0.8 * x.shape[0])
        x, xt, y, yt = x[:cut], x[cut:], y[:cut], y[cut:]
    scale = 255.0 if x.dtype == np.uint8 else 1.0
    n = int(max(y.max(), yt.max())) + 1
    return Dataset(
        name,
        (x[:, None] / scale).astype(np.float32),
        y.astype(np.int64),
        (xt[:, None] / scale).astype(np.float32),
        yt.astype(np.int64),
        n_classes=n,
        meta={"source": str(images)},
    )


def _idx_dir(name: str, root: str | os.PathLike | None) -> Dataset:
    if root is None:
        raise DataError(f"{name} needs path=DIR holding train-images-idx3-ubyte[.gz] and friends")
    d = Path(root)

    def find(stem: str) -> Path:
        for cand in (d / stem, d / f"{stem}.gz"):
            if cand.exists():
                return cand
        raise DataError(f"{d}: missing {stem} (or {stem}.gz)")

    return load_idx(
        find("train-images-idx3-ubyte"),
        find("train-labels-idx1-ubyte"),
        name,
        find("t10k-images-idx3-ubyte"),
        find("t10k-labels-idx1-ubyte"),
    )


#: What a CIFAR-10 python batch holds besides dicts, lists, bytes, str and ints: NumPy
#: arrays and their dtypes (under NumPy 1's and 2's module names), and the codec call
#: that Python 3 uses for bytes in protocol-2 pickles. Nothing else may be constructed:
#: a pickle names callables, and an unrestricted load runs whatever a file names.
_CIFAR_GLOBALS = frozenset({
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
})  # fmt: skip


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _CIFAR_GLOBALS:
            raise pickle.UnpicklingError(
                f"it names {module}.{name}, which a CIFAR-10 batch never holds (refused: "
                "loading it would run code from the file)"
            )
        return super().find_class(module, name)


def _unpickle(path: Path) -> dict:
    if not path.exists():
        raise DataError(f"{path}: no such file")
    try:
        with path.open("rb") as f:
            d = _BatchUnpickler(f, encoding="bytes").load()
    except Exception as exc:  # pickle raises many types on corrupt input
        raise DataError(
            f"{path}: not a CIFAR-10 python batch ({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(d, dict) or b"data" not in d or b"labels" not in d:
        raise DataError(f"{path}: expected a dict with b'data' and b'labels'")
    return d


def load_cifar10(root: str | os.PathLike) -> Dataset:
    """CIFAR-10 python batches (``data_batch_1``..``5`` and ``test_batch``) from ``root``."""
    d = Path(root)
    train = sorted(d.glob("data_batch_*"))
    if not train:
        raise DataError(f"{d}: no data_batch_* files (CIFAR-10 python version expected)")
    parts = [_unpickle(p) for p in train]
    test = _unpickle(d / "test_batch")

    def arr(batch: dict, path: Any) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(batch[b"data"], np.ndarray) and batch[b"data"].dtype.hasobject:
            raise DataError(f"{path}: data is an array of Python objects, not of pixels")
        x = np.asarray(batch[b"data"], dtype=np.uint8)
        if x.ndim != 2 or x.shape[1] != 3072:
            raise DataError(f"{path}: data has shape {x.shape}, expected (n, 3072)")
        return x.reshape(-1, 3, 32, 32), np.asarray(batch[b"labels"], dtype=np.int64)

    xs, ys = zip(*(arr(b, p) for b, p in zip(parts, train)))
    xt, yt = arr(test, d / "test_batch")
    return Dataset(
        "cifar10",
        (np.concatenate(xs) / 255.0).astype(np.float32),
        np.concatenate(ys),
        (xt / 255.0).astype(np.float32),
        yt,
        n_classes=10,
        meta={"source": str(d)},
    )


def load_npz(path: str | os.PathLike, *, seed: int = 0, require_test: bool = True) -> Dataset:
    """An ``.npz`` with ``x_train, y_train, x_test, y_test``, or ``x, y`` (split 75/25 by ``seed``).

    With ``require_test=False`` a file with ``x_train`` and ``y_train`` alone is accepted
    too: all its rows train and the test arrays are empty (0 rows). Every problem (no
    such file, not an ``.npz``, missing arrays, row counts that disagree) is a
    :class:`DataError` naming the file.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file")
    try:
        z = np.load(p, allow_pickle=False)
        keys = set(z.files)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"{p}: not a readable .npz file ({exc})") from exc
    with z:
        if {"x_train", "y_train", "x_test", "y_test"} <= keys:
            xtr, ytr, xte, yte = (z[k] for k in ("x_train", "y_train", "x_test", "y_test"))
        elif {"x_train", "y_train"} <= keys and not require_test:
            if keys & {"x_test", "y_test"}:
                (has,) = keys & {"x_test", "y_test"}
                lacks = "y_test" if has == "x_test" else "x_test"
                raise DataError(f"{p}: has {has} but no {lacks}; give both or neither")
            xtr, ytr = z["x_train"], z["y_train"]
            xte, yte = xtr[:0], ytr[:0]
        elif {"x", "y"} <= keys:
            x, y = z["x"], z["y"]
            if len(x) != len(y):
                raise DataError(f"{p}: x has {len(x)} rows but y has {len(y)}")
            classification = np.issubdtype(y.dtype, np.integer)
            n = int(y.max()) + 1 if classification else 0
            return _split(
                p.stem, x, y if classification else y.reshape(len(y), -1), seed, n, source=str(p)
            )
        else:
            split = (
                "x_train, y_train, x_test, y_test"
                if require_test
                else "x_train and y_train, optionally with x_test and y_test"
            )
            raise DataError(f"{p}: expected arrays x and y (or {split}); found {sorted(keys)}")
    if len(xtr) != len(ytr):
        raise DataError(f"{p}: x_train has {len(xtr)} rows but y_train has {len(ytr)}")
    if len(xte) != len(yte):
        raise DataError(f"{p}: x_test has {len(xte)} rows but y_test has {len(yte)}")
    if len(xtr) == 0:
        raise DataError(f"{p}: x_train has no rows")
    classification = np.issubdtype(ytr.dtype, np.integer)
    return Dataset(
        p.stem,
        xtr.astype(np.float32),
        ytr.astype(np.int64) if classification else ytr.astype(np.float32),
        xte.astype(np.float32),
        yte.astype(np.int64) if classification else yte.astype(np.float32),
        task="classification" if classification else "regression",
        n_classes=int(max(ytr.max(), yte.max(initial=0))) + 1 if classification else 0,
        meta={"source": str(p)},
    )
