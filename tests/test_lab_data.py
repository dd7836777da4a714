"""Every loader, including the on-disk formats (on small files written here) and bad files."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from actlab.lab import data
from actlab.lab.data import DataError


@pytest.mark.parametrize("name", data.names())
def test_generated_and_bundled_sets(name: str) -> None:
    ds = data.load(name, seed=0)
    assert ds.x_train.dtype == np.float32 and ds.x_test.dtype == np.float32
    assert len(ds.x_train) == len(ds.y_train) and len(ds.x_test) == len(ds.y_test)
    assert ds.x_train.shape[1:] == ds.x_test.shape[1:]
    np.testing.assert_allclose(ds.x_train.mean(0), 0.0, atol=1e-5)  # standardized on train
    if ds.task == "classification":
        assert ds.y_train.dtype == np.int64
        assert set(np.unique(ds.y_train)) == set(range(ds.n_classes))
    else:
        assert ds.y_train.ndim == 2


def test_mnist1d_is_the_published_benchmark() -> None:
    ds = data.load("mnist1d", standardize=False)
    assert ds.x_train.shape == (4000, 40) and ds.x_test.shape == (1000, 40)
    assert ds.n_classes == 10
    again = data.load("mnist1d", standardize=False)  # from the cache, identical
    np.testing.assert_array_equal(ds.x_train, again.x_train)


def test_mnist1d_from_the_cache_does_not_import_the_generator() -> None:
    """A cached load reads the file: importing mnist1d (SciPy, matplotlib) costs a second."""
    import subprocess
    import sys

    data.load("mnist1d")  # generated and cached here if it was not
    code = (
        "import sys; from actlab.lab import data; ds = data.load('mnist1d'); "
        "print(ds.x_train.shape, 'mnist1d' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["(4000,", "40)", "False"]


def test_split_depends_on_seed_only() -> None:
    a, b, c = data.load("digits", seed=0), data.load("digits", seed=0), data.load("digits", seed=1)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.y_train, c.y_train)


def test_shift_and_scale() -> None:
    ds = data.load("moons")
    sh = ds.shift(mean=3.0, scale=2.0)
    np.testing.assert_allclose(sh.x_train, ds.x_train * 2.0 + 3.0, rtol=1e-6)
    with pytest.raises(ValueError, match="scale"):
        ds.shift(scale=0.0)


def test_unknown_name_suggests() -> None:
    with pytest.raises(DataError, match="did you mean 'mnist1d'"):
        data.load("mnist1")


def _idx(path: Path, arr: np.ndarray, gz: bool = False) -> Path:
    code = {np.uint8: 0x08}[arr.dtype.type]
    raw = (
        struct.pack(">BBBB", 0, 0, code, arr.ndim)
        + b"".join(struct.pack(">I", n) for n in arr.shape)
        + arr.tobytes()
    )
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_directory(tmp_path: Path, gz: bool) -> None:
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    xi = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)
    yi = rng.integers(0, 10, 20, dtype=np.uint8)
    yi[:10] = np.arange(10)
    _idx(tmp_path / f"train-images-idx3-ubyte{suffix}", xi, gz)
    _idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", yi, gz)
    _idx(tmp_path / f"t10k-images-idx3-ubyte{suffix}", xi[:5], gz)
    _idx(tmp_path / f"t10k-labels-idx1-ubyte{suffix}", yi[:5], gz)
    ds = data.load("fashion_mnist", path=tmp_path, standardize=False)
    assert ds.x_train.shape == (20, 1, 28, 28) and ds.x_test.shape == (5, 1, 28, 28)
    np.testing.assert_allclose(ds.x_train[3, 0], xi[3] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(ds.y_train, yi)


def test_idx_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "train-images-idx3-ubyte"
    bad.write_bytes(b"\x12\x34\x56\x78rest")
    with pytest.raises(DataError, match="train-images-idx3-ubyte: not an IDX file"):
        data.load_idx(bad, bad)
    trunc = _idx(tmp_path / "t.idx", np.zeros((4, 3), np.uint8))
    trunc.write_bytes(trunc.read_bytes()[:-3])
    with pytest.raises(DataError, match=r"t.idx: IDX body has 9 bytes, expected 12"):
        data.load_idx(trunc, trunc)
    with pytest.raises(DataError, match="missing train-images-idx3-ubyte"):
        data.load("mnist", path=tmp_path / "empty")
    gzbad = tmp_path / "x.gz"
    gzbad.write_bytes(b"\x1f\x8b" + b"not gzip at all")
    with pytest.raises(DataError, match=r"x\.gz: corrupt gzip"):
        data.load_idx(gzbad, gzbad)
    with pytest.raises(DataError, match="no such file"):
        data.load_idx(tmp_path / "nope", tmp_path / "nope")


def test_cifar10_batches(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    for i in (1, 2):
        batch = {
            b"data": rng.integers(0, 256, (6, 3072), dtype=np.uint8),
            b"labels": list(range(6)),
        }
        (tmp_path / f"data_batch_{i}").write_bytes(pickle.dumps(batch))
    test = {b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), b"labels": [0, 1, 2, 3]}
    (tmp_path / "test_batch").write_bytes(pickle.dumps(test))
    ds = data.load("cifar10", path=tmp_path, standardize=False)
    assert ds.x_train.shape == (12, 3, 32, 32) and ds.x_test.shape == (4, 3, 32, 32)
    np.testing.assert_allclose(ds.x_test[1].ravel(), test[b"data"][1] / 255.0, rtol=1e-6)
    (tmp_path / "data_batch_2").write_bytes(b"garbage")
    with pytest.raises(DataError, match="data_batch_2: not a CIFAR-10 python batch"):
        data.load("cifar10", path=tmp_path)
    with pytest.raises(DataError, match="no data_batch"):
        data.load("cifar10", path=tmp_path / "none")


class _Payload:
    """A pickle that runs code when loaded: it writes a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "ran"))


def test_cifar10_batches_run_no_code(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    marker = tmp_path / "marker"
    good = {b"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8), b"labels": [0, 1]}
    for name in ("data_batch_1", "test_batch"):
        (tmp_path / name).write_bytes(pickle.dumps(good, protocol=2))
    assert data.load("cifar10", path=tmp_path).x_train.shape == (2, 3, 32, 32)  # protocol 2
    evil = {b"data": good[b"data"], b"labels": [0, 1], b"batch_label": _Payload(marker)}
    (tmp_path / "data_batch_1").write_bytes(pickle.dumps(evil))
    with pytest.raises(DataError, match=r"data_batch_1: .*names pathlib.*write_text.*refused"):
        data.load("cifar10", path=tmp_path)
    assert not marker.exists()
    pixels = np.array([b"x"] * 3072 * 2, dtype=object).reshape(2, 3072)
    objects = {b"data": pixels, b"labels": [0, 1]}
    (tmp_path / "data_batch_1").write_bytes(pickle.dumps(objects))
    with pytest.raises(DataError, match="data_batch_1: data is an array of Python objects"):
        data.load("cifar10", path=tmp_path)


def test_npz_variants(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((40, 5)), np.repeat(np.arange(4), 10)
    np.savez(tmp_path / "xy.npz", x=x, y=y)
    ds = data.load("npz", path=tmp_path / "xy.npz", standardize=False)
    assert len(ds.x_train) == 30 and ds.n_classes == 4
    np.savez(tmp_path / "split.npz", x_train=x[:30], y_train=y[:30], x_test=x[30:], y_test=y[30:])
    ds = data.load_npz(tmp_path / "split.npz")
    np.testing.assert_allclose(ds.x_test, x[30:].astype(np.float32))
    np.savez(tmp_path / "reg.npz", x=x, y=x[:, 0] * 2.0)
    assert data.load_npz(tmp_path / "reg.npz").task == "regression"
    np.savez(tmp_path / "wrong.npz", a=x)
    with pytest.raises(DataError, match=r"wrong.npz: expected arrays x and y"):
        data.load_npz(tmp_path / "wrong.npz")
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(DataError, match=r"broken\.npz: not a readable \.npz"):
        data.load_npz(tmp_path / "broken.npz")
