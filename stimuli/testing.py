"""Synthetic records and stores for tests and examples (no renderer needed).

Images are smooth colour patches; a metamer differs from its target by a small colour shift that
grows with its index, so a store built here has items of graded difficulty. With ``n_renders = R``
every scene and metamer also holds R independent display renders (schema 1.1): render 0 is the
display image, the others the same noiseless patch with fresh pixel noise (its own seed each).

Examples
--------
>>> import tempfile, os
>>> from stimuli import validate_store
>>> path = os.path.join(tempfile.mkdtemp(), "syn.h5")
>>> ids = write_synthetic_store(path, n_scenes=2, n_metamers_per_scene=2)
>>> len(ids), validate_store(path)
(4, [])
>>> from stimuli import StimulusSet
>>> with StimulusSet(path) as s:
...     s.n_renders("scene", "scene0"), s.render_seeds("metamer", "scene0-m1")
(4, [101000, 101001, 101002, 101003])
"""

from __future__ import annotations

import os

import numpy as np

from stimuli.records import MetamerRecord, ModelRecord, SceneRecord, Similarity
from stimuli.writer import StoreWriter

LAYERS = ["layer_a", "layer_b"]
_FACES = np.array([[i, (i + 1) % 12, (i + 5) % 12] for i in range(20)], dtype=np.int32)


def synthetic_model(model_id: str = "toy") -> ModelRecord:
    """A model record with two layers and no weights file."""
    return ModelRecord(model_id, "resnet18", "random", "", "", list(LAYERS), (3, 64, 64), (0.5,) * 3, (0.5,) * 3)


NOISE = 0.002
"""Standard deviation of the synthetic per-render pixel noise (linear units)."""
RENDERS = 4
"""Default number of independent renders per scene and metamer in :func:`write_synthetic_store`."""


def _clean(rgb: np.ndarray, views: int, size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    shade = 0.6 + 0.4 * (1 - (xx - 0.5) ** 2 - (yy - 0.5) ** 2)
    img = np.stack([np.clip(shade * c, 0, 1) for c in rgb], axis=-1)
    return np.stack([np.roll(img, 2 * v, axis=1) for v in range(views)]).astype(np.float32)


def _patch(rgb: np.ndarray, views: int, size: int, rng: np.random.Generator) -> np.ndarray:
    out = _clean(rgb, views, size)
    return out + rng.normal(0, NOISE, out.shape).astype(np.float32)


def _to_uint8(hdr: np.ndarray) -> np.ndarray:
    return (np.clip(hdr, 0, 1) * 255).round().astype(np.uint8)


def _renders(display: np.ndarray, clean: np.ndarray, n: int, seed: int) -> tuple[np.ndarray | None, list[int]]:
    """``n`` independent renders: the display, then ``clean`` with fresh noise per render seed."""
    if n <= 0:
        return None, []
    seeds = [1000 * seed + r for r in range(n)]
    out = [display] + [
        _to_uint8(clean + np.random.default_rng(sd).normal(0, NOISE, clean.shape).astype(np.float32))
        for sd in seeds[1:]
    ]
    return np.stack(out), seeds


def synthetic_scene(scene_id: str, seed: int = 0, views: int = 2, size: int = 32, n_renders: int = 0) -> SceneRecord:
    """A target scene record with smooth patch images (and ``n_renders`` independent renders)."""
    rng = np.random.default_rng(seed)
    rgb = rng.uniform(0.2, 0.8, 3)
    hdr = _patch(rgb, views, size, rng)
    display = _to_uint8(hdr)
    renders, seeds = _renders(display, _clean(rgb, views, size), n_renders, seed)
    return SceneRecord(
        scene_id=scene_id,
        description={"type": "synthetic", "seed": seed},
        params={"material": {"base_color": rgb},
                "shape": {"vertices": rng.normal(size=(12, 3)), "faces": _FACES.copy()},
                "lighting": {"radiance": np.array(1.0)}},
        views=[{"view": v} for v in range(views)],
        hdr=hdr,
        display=display,
        spp=16,
        tone_map="clip-srgb",
        renders=renders,
        render_seeds=seeds,
    )


def synthetic_metamer(scene: SceneRecord, metamer_id: str, model_id: str, shift: float, seed: int = 0,
                      group: str = "material", null_draws: int = 4, n_renders: int = 0) -> MetamerRecord:
    """A metamer of ``scene`` whose colour differs by ``shift``; similarity falls as shift grows."""
    rng = np.random.default_rng(seed)
    views = scene.display.shape[0]
    hdr = np.clip(scene.hdr + shift * np.array([1.0, -0.5, 0.2], np.float32), 0, 1).astype(np.float32)
    cos = np.clip(1 - 0.5 * shift**2 - rng.uniform(0, 1e-4, (views, len(LAYERS))), -1, 1)
    null_cos = np.clip(1 - rng.uniform(0.05, 0.2, (null_draws, len(LAYERS))), -1, 1)
    sim = Similarity(list(LAYERS), cos, np.sqrt(2 * (1 - cos)), null_cos, np.sqrt(2 * (1 - null_cos)))
    base = scene.params["material"]["base_color"]
    params = {g: dict(v) for g, v in scene.params.items()}
    final = dict(params)
    final["material"] = {"base_color": np.clip(base + shift, 0, 1)}
    null = np.repeat(scene.display[None], null_draws, axis=0)
    display = (hdr * 255).round().astype(np.uint8)
    offset = shift * np.array([1.0, -0.5, 0.2], np.float32)
    clean = np.clip(_clean(base, views, scene.display.shape[1]) + offset, 0, 1)
    renders, seeds = _renders(display, clean, n_renders, seed + 100)
    return MetamerRecord(
        metamer_id=metamer_id, scene_id=scene.scene_id, model_id=model_id, layers=list(LAYERS), group=group,
        seed=seed, initial_params=params, final_params=final,
        display=display, hdr=hdr, loss=np.linspace(1, 0.01, 10), steps=10,
        wall_time_s=0.5, converged=True, success=bool(sim.mean_cosine > sim.null_max_cosine), similarity={model_id: sim},
        physical_distance={"base_color_l2": float(np.sqrt(3) * shift)}, tone_map="clip-srgb", null_display=null,
        info={"synthetic": True}, renders=renders, render_seeds=seeds,
    )


def write_synthetic_store(path: str | os.PathLike[str], n_scenes: int = 2, n_metamers_per_scene: int = 3,
                          views: int = 2, size: int = 32, config_text: str = "synthetic = true\n",
                          n_renders: int = RENDERS) -> list[str]:
    """Write (or complete) a synthetic store; return the metamer ids.

    Metamers alternate between the ``material`` and ``shape`` groups; their colour shift grows with
    their index (0.02, 0.06, 0.10, ...). Every scene and metamer holds ``n_renders`` independent
    renders (0: none, like a schema 1.0 store); the display images do not depend on ``n_renders``.
    """
    with StoreWriter(path, config_text=config_text) as w:
        return add_synthetic_units(w, n_scenes, n_metamers_per_scene, views, size, n_renders)


def add_synthetic_units(w: StoreWriter, n_scenes: int = 2, n_metamers_per_scene: int = 3, views: int = 2,
                        size: int = 32, n_renders: int = RENDERS) -> list[str]:
    """Add the units of :func:`write_synthetic_store` that ``w`` lacks (the writer stays open); return the ids.

    Examples
    --------
    >>> import tempfile, os
    >>> w = StoreWriter(os.path.join(tempfile.mkdtemp(), "u.h5"), config_text="x = 1")
    >>> ids = add_synthetic_units(w, n_scenes=1, n_metamers_per_scene=2)
    >>> ids, len(w.pending)
    (['scene0-m0', 'scene0-m1'], 4)
    >>> w.close()
    """
    ids = []
    w.add_model(synthetic_model())
    for s in range(n_scenes):
        scene = synthetic_scene(f"scene{s}", seed=s, views=views, size=size, n_renders=n_renders)
        w.add_scene(scene)
        for k in range(n_metamers_per_scene):
            mid = f"scene{s}-m{k}"
            ids.append(mid)
            if not w.has_metamer(mid):
                group = ("material", "shape")[k % 2]
                w.add_metamer(synthetic_metamer(scene, mid, "toy", 0.02 + 0.04 * k, seed=100 * s + k, group=group,
                                                n_renders=n_renders))
    return ids
