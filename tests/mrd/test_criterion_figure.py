"""The criterion figure's distances, checked against distances computed here from the stored images."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from mrd.models import ModelSpec, load_model
from mrd.synthesis.criterion_figure import criterion_distances, main, plot_distances
from mrd.synthesis.generate import generate
from stimuli import StimulusSet

sys.path.insert(0, str(Path(__file__).parent))
from luminance_set import luminance_set  # noqa: E402

CONFIG = luminance_set(4)


def _luminance(renders: np.ndarray) -> np.ndarray:
    """Mean relative luminance per render and view of 8-bit sRGB images (independent of mrd's code)."""
    x = renders.astype(np.float64) / 255.0
    lin = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    return (lin @ np.array([0.2126, 0.7152, 0.0722])).mean(axis=(-2, -1))


def test_distances_are_the_models_and_the_figure_is_written(tmp_path):
    cfg = tmp_path / "set.toml"
    cfg.write_text(CONFIG)
    out = tmp_path / "set.h5"
    generate(cfg, out, progress=False)
    model = load_model(ModelSpec(name="mrd.models.testing:mean_luminance", layers=["luminance"]))
    with StimulusSet(out) as s:
        xid = s.metamer_ids[0]
        d = criterion_distances(s, xid, model, "rel_l2")
        t, m = _luminance(s.renders("scene", "ball")), _luminance(s.renders("metamer", xid))
        nulls = _luminance(s.metamer(xid).null_display)
    assert d.rerender.size == 3 * 2 and d.metamer.size == 3 * 3 and d.null.size == 4 * 3

    def rel(a: np.ndarray, b: np.ndarray) -> float:  # rel_l2 of a 1-number layer, mean over views
        return float(np.mean(np.abs(a - b) / np.abs(b)))

    expect_rr = sorted(rel(t[i], t[j]) for i in range(3) for j in range(3) if i != j)
    np.testing.assert_allclose(sorted(d.rerender), expect_rr, rtol=2e-5, atol=1e-7)
    np.testing.assert_allclose(sorted(d.metamer), sorted(rel(m[i], t[j]) for i in range(3) for j in range(3)),
                               rtol=2e-5, atol=1e-7)  # fmt: skip
    np.testing.assert_allclose(sorted(d.null), sorted(rel(nulls[k], t[j]) for k in range(4) for j in range(3)),
                               rtol=2e-5, atol=1e-7)  # fmt: skip
    png = plot_distances([d, d], tmp_path / "fig.png")
    assert png.stat().st_size > 5000 and png.read_bytes()[:4] == b"\x89PNG"
    assert main([str(out), "--out", str(tmp_path / "cli.png")]) == 0 and (tmp_path / "cli.png").exists()
    assert main([str(out), "--out", str(tmp_path / "x.png"), "--metamer", "nope"]) == 2
