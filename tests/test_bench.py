"""actlab bench runs, reports ratios from one run, and counts what backward keeps."""

from __future__ import annotations

import json
import math

import pytest
import torch

from actlab.analysis.bench import bench, native_op, peak_bytes, plot_rows, saved_bytes
from actlab.cli import main


def test_bench_rows_and_ratios() -> None:
    rows = bench(["relu", "gelu", "quick_gelu"], sizes=[4096], repeats=3, warmup=1)
    assert {(r.name, r.impl) for r in rows} == {("relu", "actlab"), ("relu", "torch"),
                                                ("gelu", "actlab"), ("gelu", "torch"),
                                                ("quick_gelu", "actlab")}  # no torch twin
    for r in rows:
        assert r.size == 4096 and r.dtype == "float32" and r.threads >= 1
        assert math.isnan(r.fwd_spread) and math.isnan(r.fwd_bwd_spread)  # 3 repeats: none
    # every row of one tensor is divided by the same baselines, measured once: the ratio of
    # two rows' figures is the ratio of their times, whichever baseline it is taken over
    a, *others = rows
    for r in others:
        t = r.fwd_s / a.fwd_s
        for key in ("fwd_vs_copy", "fwd_vs_relu", "fwd_vs_exp", "fwd_vs_erfc"):
            assert getattr(r, key) / getattr(a, key) == pytest.approx(t, rel=1e-12), key
        assert r.fwd_bwd_vs_relu / a.fwd_bwd_vs_relu == pytest.approx(
            r.fwd_bwd_s / a.fwd_bwd_s, rel=1e-12
        )
    (row,) = bench(["relu"], sizes=[4096], repeats=5, warmup=1, native=False)
    assert 0 <= row.fwd_spread < float("inf") and 0 <= row.fwd_bwd_spread < float("inf")


def test_bench_dtypes_and_errors() -> None:
    (row,) = bench(["silu"], sizes=[1024], dtypes=["bfloat16"], repeats=2, native=False)
    assert row.dtype == "bfloat16" and row.impl == "actlab"
    with pytest.raises(ValueError, match="not elementwise"):
        bench(["softmax"], sizes=[16])


def test_saved_bytes_counts_what_backward_keeps() -> None:
    x = torch.randn(1000)
    assert saved_bytes(torch.relu, x) == 4000  # one float32 tensor (its output)
    assert saved_bytes(lambda t: t * 2.0, x) == 0  # a constant scale saves nothing
    assert saved_bytes(lambda t: t * t, x) == 4000  # x saved twice, the same storage counted once
    assert native_op("relu") is torch.nn.functional.relu and native_op("sparse_plus") is None
    x = torch.randn(64)  # parameters and definition-selecting keywords reach PyTorch's op
    assert torch.equal(native_op("gelu")(x), torch.nn.functional.gelu(x))
    assert torch.equal(native_op("gelu_tanh")(x), torch.nn.functional.gelu(x, approximate="tanh"))
    assert torch.equal(native_op("rrelu")(x), torch.nn.functional.rrelu(x, training=False))


def test_peak_bytes_counts_outputs_temporaries_and_the_gradient() -> None:
    x = torch.randn(1 << 14)
    n = x.numel()
    # (a Python scalar becomes a small tensor of its own: a few bytes beside the arrays)
    assert peak_bytes(torch.relu, x, backward=False) == pytest.approx(4 * n, abs=64)  # output
    assert peak_bytes(torch.relu, x) == pytest.approx(8 * n, abs=64)  # and the input's gradient
    # two ops: sigmoid(x) is alive while the product is made
    silu = peak_bytes(lambda t: t * torch.sigmoid(t), x, backward=False)
    assert silu == pytest.approx(8 * n, abs=64)
    half = peak_bytes(lambda t: t * 2.0, x.to(torch.bfloat16), backward=False)
    assert half == pytest.approx(2 * n, abs=64)


def test_bench_rows_carry_the_peak_memory() -> None:
    rows = bench(["relu", "softsign"], sizes=[1 << 14], repeats=2, warmup=1)
    by = {(r.name, r.impl): r for r in rows}
    for key in [("relu", "actlab"), ("relu", "torch"), ("softsign", "actlab")]:
        # one float32 output forward; with backward also the input's gradient (a few
        # bytes of bookkeeping allowed on top)
        assert by[key].fwd_peak_per_element == pytest.approx(4.0, abs=0.01), key
        assert by[key].fwd_bwd_peak_per_element == pytest.approx(8.0, abs=0.01), key
    # PyTorch's softsign is a composite of three ops, with temporaries
    assert by[("softsign", "torch")].fwd_bwd_peak_per_element > 8.5


def test_bench_inplace_rows() -> None:
    rows = bench(["relu", "elu", "sigmoid"], sizes=[1 << 14], repeats=3, warmup=1, inplace=True)
    by = {(r.name, r.impl): r for r in rows}
    # sigmoid has no in-place form; relu and elu have both, actlab's and PyTorch's
    assert set(by) == {("relu", "actlab"), ("relu", "torch"), ("elu", "actlab"), ("elu", "torch"),
                       ("sigmoid", "actlab"), ("sigmoid", "torch"), ("relu", "actlab-inplace"),
                       ("relu", "torch-inplace"), ("elu", "actlab-inplace"),
                       ("elu", "torch-inplace")}  # fmt: skip
    for name in ("relu", "elu"):
        for impl in ("actlab-inplace", "torch-inplace"):
            r = by[(name, impl)]
            assert r.fwd_s > 0 and r.fwd_vs_copy > 0 and r.fwd_vs_relu > 0
            assert math.isnan(r.fwd_bwd_s) and math.isnan(r.fwd_bwd_vs_relu)
            assert r.fwd_peak_per_element < 0.01  # in place: nothing allocated
    from actlab.torch import kernels as _kernels

    if _kernels.load() is not None:  # a kernel overwrites x; without one, copied back
        assert by[("elu", "actlab-inplace")].path.endswith("in place")


def test_plot_rows_and_cli_plot(tmp_path) -> None:
    rows = bench(["relu", "elu"], sizes=[4096], dtypes=["float32", "bfloat16"], repeats=4,
                 warmup=1)  # fmt: skip
    fig = plot_rows(rows)
    assert len(fig.axes) == 4  # two panels per (dtype, size)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert sorted(labels) == ["elu", "relu"]
    with pytest.raises(ValueError, match="no bench rows"):
        plot_rows([])
    out = tmp_path / "bench.png"
    assert main(["bench", "relu", "--size", "4K", "--repeats", "2", "--plot", str(out),
                 "--format", "markdown"]) == 0  # fmt: skip
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_bench_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "relu", "--size", "4K", "--repeats", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["machine"]["torch"] == torch.__version__
    assert {r["impl"] for r in out["rows"]} == {"actlab", "torch"}
    assert all(r["size"] == 4096 for r in out["rows"])


def test_cli_bench_table_and_bad_size(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "elu", "--size", "2K", "--repeats", "2", "--no-torch",
                 "--format", "markdown"]) == 0
    assert capsys.readouterr().out.startswith("| activation | impl |")
    with pytest.raises(SystemExit):
        main(["bench", "elu", "--size", "0"])


def test_call_overhead_benchmark_measures_both_sides() -> None:
    """benchmarks/call_overhead.py: every pair runs and gets a positive time per call."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "call_overhead.py"
    spec = importlib.util.spec_from_file_location("call_overhead", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    res = mod.measure(size=16, rounds=1, calls=20)
    assert set(res) == set(mod.cases(16))
    for r in res.values():
        assert 0 < r["actlab"] < 1e6 and 0 < r["torch"] < 1e6


def test_inplace_cost_benchmark_times_both_sides() -> None:
    """benchmarks/inplace_cost.py: actlab's and PyTorch's in-place forms and the copy."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "inplace_cost.py"
    spec = importlib.util.spec_from_file_location("inplace_cost", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    res = mod.measure(["relu", "elu"], size=4096, repeats=3)
    assert set(res) == {"copy", "relu", "elu"}
    assert res["copy"]["into"] > 0
    assert all(res[n][impl] > 0 for n in ("relu", "elu") for impl in ("actlab", "torch"))

