"""Plots: every format renders, sizes are honoured, the style marks what it promises."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest
from scipy.optimize import brentq

pytest.importorskip("matplotlib")

import actlab
from actlab.analysis import plot as P
from actlab.cli import EXIT_OK, EXIT_USAGE, main


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _legend_texts(fig) -> list[str]:
    return [t.get_text() for lg in fig.legends for t in lg.get_texts()]


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_each_format_renders(tmp_path: Path, fmt: str) -> None:
    fig = actlab.plot(["relu", "gelu"], derivative=True, size=(6, 3), dpi=50)
    path = P.save(fig, tmp_path / f"a.{fmt}")
    data = path.read_bytes()
    assert len(data) > 2000
    magic = {"png": b"\x89PNG", "svg": b"<?xml", "pdf": b"%PDF"}[fmt]
    assert data.startswith(magic)
    if fmt == "png":
        assert png_size(path) == (300, 150)
    if fmt == "svg":
        assert b'width="432pt"' in data and b'height="216pt"' in data  # 6 x 3 in


def test_png_size_is_exact(tmp_path: Path) -> None:
    for size, dpi in (((4.0, 2.5), 100), ((7.3, 3.1), 60)):
        path = P.save(actlab.plot("tanh", size=size, dpi=dpi), tmp_path / "t.png")
        assert png_size(path) == (round(size[0] * dpi), round(size[1] * dpi))


def test_function_and_derivative_side_by_side() -> None:
    fig = actlab.plot("silu", derivative=True, size=(6, 3), dpi=40)
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == ["f(x)", "f'(x)"]
    # the minimum is marked and labelled
    texts = [t.get_text() for t in axes[0].texts]
    assert any(t.startswith("min -0.2785 at x = -1.278") for t in texts)
    # the legend carries the formula
    assert any("x * sigmoid(x)" in t for t in _legend_texts(fig))


def test_shared_axes_and_family() -> None:
    fig = actlab.plot(["relu", "tanh", "elu"], size=(5, 4), dpi=40)
    labels = _legend_texts(fig)
    assert [t.split(":")[0] for t in labels[:3]] == ["relu", "tanh", "elu"]
    fam = actlab.plot("swish", params={"swish": {"beta": [0.5, 1.0, 2.0]}}, size=(5, 4), dpi=40)
    lines = [ln for ln in fam.axes[0].get_lines() if not ln.get_label().startswith("_")]
    assert [ln.get_label() for ln in lines] == [
        "swish(beta=0.5)",
        "swish(beta=1.0)",
        "swish(beta=2.0)",
    ]
    assert "x * sigmoid(beta * x)" in fam.legends[0].get_title().get_text()
    # each line differs in colour and, for grey-scale prints, in marker
    assert len({ln.get_color() for ln in lines}) == 3
    assert len({ln.get_marker() for ln in lines}) == 3


def test_styles_are_distinct_without_colour() -> None:
    st = P.styles(8)
    assert len({s["color"] for s in st}) == 8
    assert len({str(s["linestyle"]) for s in st}) == 8
    assert len({s["marker"] for s in st}) == 8
    assert set(P.OKABE_ITO) == {s["color"] for s in st}


def test_kinks_and_jumps_are_marked() -> None:
    fig = actlab.plot("relu6", size=(6, 3), dpi=40)  # 6 lies outside the range (-5, 5)
    diamonds = [ln for ln in fig.axes[0].get_lines() if ln.get_marker() == "D"]
    assert [float(ln.get_xdata()[0]) for ln in diamonds] == [0.0]
    fig = actlab.plot("relu6", derivative=True, x_range=(-2, 8), size=(6, 3), dpi=40)
    ax_f, ax_d = fig.axes[:2]
    assert sorted(
        float(ln.get_xdata()[0]) for ln in ax_f.get_lines() if ln.get_marker() == "D"
    ) == [0.0, 6.0]
    # f' jumps at both kinks: open circles for the limits, a dot for the value
    circles = [ln for ln in ax_d.get_lines() if ln.get_marker() == "o"]
    assert len(circles) == 4
    # a discontinuous f: the jump is drawn on the function panel too
    hs = actlab.plot("hard_shrink", size=(5, 3), dpi=40)
    assert sum(ln.get_marker() == "o" for ln in hs.axes[0].get_lines()) == 4


def test_saturated_regions() -> None:
    assert P.saturated_regions("relu", (-5, 5)) == [(-5.0, 0.0)]
    (left, right) = P.saturated_regions("tanh", (-5, 5))
    assert left[0] == -5.0 and right[1] == 5.0
    assert left[1] == pytest.approx(-2.99, abs=0.01)  # tanh'(x) = 0.01 at |x| = 2.99
    # SiLU: the left tail only, not the stationary point at its minimum (x = -1.278)
    assert P.saturated_regions("silu", (-5, 5)) == []
    (tail,) = P.saturated_regions("silu", (-8, 5))
    d = actlab.get("silu").derivative
    edge = brentq(lambda x: abs(float(d(x))) - 0.01, -8, -3)
    assert tail == (-8.0, pytest.approx(edge, abs=13 / 2000))  # the sampling step
    (dead,) = P.saturated_regions("hard_shrink", (-5, 5))  # f' == 0 exactly inside
    assert dead == pytest.approx((-0.5, 0.5), abs=0.006)
    assert P.saturated_regions("leaky_relu", (-5, 5)) == []


def test_saturation_is_shaded() -> None:
    one = actlab.plot("sigmoid", size=(5, 3), dpi=40)
    assert len(one.axes[0].patches) == 2  # both tails, full height
    assert any("saturated" in t for t in _legend_texts(one))
    many = actlab.plot(["relu", "sigmoid"], derivative=True, size=(6, 4), dpi=40)
    assert len(many.axes) == 4  # two panels, each with a strip of saturation bars under it
    none = actlab.plot("sigmoid", saturation=0, size=(5, 3), dpi=40)
    assert not none.axes[0].patches


def test_vector_activation_is_refused() -> None:
    with pytest.raises(ValueError, match="softmax is not elementwise"):
        actlab.plot("softmax")


def test_bad_extension(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.png, \.svg, \.pdf"):
        P.save(actlab.plot("relu", size=(2, 2), dpi=20), tmp_path / "x.gif")


def test_import_actlab_does_not_import_matplotlib() -> None:
    code = "import sys, actlab; actlab.get('relu'); print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'actlab\[plot\]'"):
        actlab.plot("relu")


def test_gallery_figures_skip_vector() -> None:
    got = [name for name, _ in P.gallery_figures(["relu", "softmax"], overviews=False, dpi=20)]
    assert got == ["relu"]


# --- actlab plot ----------------------------------------------------------------------------
def test_plot_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "f.png"
    assert main(["plot", "relu", "gelu", "-o", str(out)]) == EXIT_OK
    assert png_size(out) == (640, 420)  # the default 6.4 x 4.2 in at 100 dpi
    assert str(out) in capsys.readouterr().out


def test_plot_derivative(tmp_path: Path) -> None:
    out = tmp_path / "d.png"
    assert main(["plot", "tanh", "--derivative", "-o", str(out)]) == EXIT_OK
    assert png_size(out) == (1000, 420)


@pytest.mark.parametrize("fmt", ["svg", "pdf"])
def test_plot_format_from_extension(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"f.{fmt}"
    assert main(["plot", "mish", "-o", str(out)]) == EXIT_OK
    assert out.stat().st_size > 2000


def test_plot_size_and_dpi(tmp_path: Path) -> None:
    out = tmp_path / "s.png"
    assert main(["plot", "elu", "--size", "5", "2", "--dpi", "72", "-o", str(out)]) == EXIT_OK
    assert png_size(out) == (360, 144)


def test_plot_range(tmp_path: Path) -> None:
    out = tmp_path / "r.png"
    assert main(["plot", "relu6", "--range", "-2", "8", "-o", str(out)]) == EXIT_OK
    assert main(["plot", "relu6", "--range", "3", "1", "-o", str(out)]) == EXIT_USAGE


def test_plot_param_family(tmp_path: Path) -> None:
    out = tmp_path / "p.svg"
    argv = ["plot", "swish", "--param", "swish:beta=0.5,1,2", "--derivative", "-o", str(out)]
    assert main(argv) == EXIT_OK
    svg = out.read_text()
    assert "beta=0.5" in svg or svg.count("<path") > 50  # text is drawn as paths in SVG


def test_plot_param_alone(tmp_path: Path) -> None:
    out = tmp_path / "p.png"
    assert main(["plot", "--param", "elu:alpha=0.5,2", "-o", str(out)]) == EXIT_OK


def test_plot_saturation_ylim_title(tmp_path: Path) -> None:
    out = tmp_path / "o.png"
    argv = ["plot", "sigmoid", "--saturation", "0.05", "--ylim", "-1", "2"]
    assert main([*argv, "--title", "sigmoid", "-o", str(out)]) == EXIT_OK


def test_plot_all_gallery(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "gallery"
    assert main(["plot", "--all", "relu", "softmax", "--dpi", "30", "-o", str(out)]) == EXIT_OK
    assert png_size(out / "relu.png") == (240, 96)  # 8 x 3.2 in
    index = (out / "README.md").read_text()
    assert "![relu](relu.png)" in index and "softmax" in index and "Not drawn" in index
    assert "wrote 1 figures" in capsys.readouterr().out


def test_plot_all_image_format(tmp_path: Path) -> None:
    out = tmp_path / "g"
    argv = ["plot", "--all", "tanh", "--image-format", "svg", "--dpi", "20", "-o", str(out)]
    assert main(argv) == EXIT_OK
    assert (out / "tanh.svg").stat().st_size > 0


def test_plot_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", "relu"]) == EXIT_USAGE
    assert "-o FILE" in capsys.readouterr().err
    assert main(["plot", "relu", "-o", str(tmp_path / "x.gif")]) == EXIT_USAGE
    assert "must end in .png" in capsys.readouterr().err
    assert main(["plot", "softmax", "-o", str(tmp_path / "x.png")]) == EXIT_USAGE
    assert "not elementwise" in capsys.readouterr().err
    assert main(["plot", "-o", str(tmp_path / "x.png")]) == EXIT_USAGE
    assert main(["plot", "--all", "-o", str(tmp_path / "x.png")]) == EXIT_USAGE
    assert main(["plot", "relu", "--size", "0", "2", "-o", str(tmp_path / "x.png")]) == EXIT_USAGE


@pytest.mark.slow
def test_full_gallery(tmp_path: Path) -> None:
    assert main(["plot", "--all", "--dpi", "30", "-o", str(tmp_path)]) == EXIT_OK
    n = sum(1 for n in actlab.names() if actlab.get(n).kind == "elementwise")
    assert len(list(tmp_path.glob("*.png"))) == n + len(P.GALLERY_OVERVIEWS)
