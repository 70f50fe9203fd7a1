"""A small stimulus set with independent renders (schema 1.1) for the online tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stimuli import StoreWriter
from stimuli.testing import synthetic_metamer, synthetic_model, synthetic_scene

N_RENDERS = 3


def _renders(display: np.ndarray, seed: int) -> np.ndarray:
    """``R`` renders of ``display``: render 0 is the display image, the others carry small noise."""
    rng = np.random.default_rng(seed)
    out = [display]
    for _ in range(N_RENDERS - 1):
        noise = rng.integers(-3, 4, display.shape)
        out.append(np.clip(display.astype(int) + noise, 0, 255).astype(np.uint8))
    return np.stack(out)


def build_store(path: Path, n_scenes: int = 2, per_scene: int = 2, size: int = 32) -> Path:
    """Write the store: ``n_scenes`` targets with ``per_scene`` metamers each, 2 views, 3 renders."""
    with StoreWriter(path, config_text="title = 'online test set'\n") as w:
        w.add_model(synthetic_model())
        for s in range(n_scenes):
            scene = synthetic_scene(f"scene{s}", seed=s, views=2, size=size)
            scene.renders = _renders(scene.display, 1000 + s)
            scene.render_seeds = [10 * s + r for r in range(N_RENDERS)]
            w.add_scene(scene)
            for k in range(per_scene):
                m = synthetic_metamer(scene, f"scene{s}-m{k}", "toy", 0.1 + 0.1 * k, seed=100 * s + k,
                                      group=("material", "shape")[k % 2])
                m.renders = _renders(m.display, 2000 + 10 * s + k)
                m.render_seeds = [500 + 10 * s + r for r in range(N_RENDERS)]
                w.add_metamer(m)
    return path
