"""Fixtures: a small synthetic stimulus set, a tmp HOME for PsychoPy, and a session runner."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from stimuli import StoreWriter
from stimuli.records import MetamerRecord, ModelRecord, SceneRecord, Similarity

REPO = Path(__file__).resolve().parents[2]
N_VIEWS = 2
SIZE = 32
# (scene colour, metamer colour offsets): plain coloured patches with a marker so images differ
SCENE_COLOURS = {"s0": (200, 40, 40), "s1": (40, 40, 200)}
# metamer id -> (scene, model, group, cosine per view)
METAMERS = {
    "s0_mat": ("s0", "netA", "material", (0.99, 0.97)),
    "s0_shp": ("s0", "netA", "shape", (0.90, 0.85)),
    "s1_lit": ("s1", "netB", "lighting", (0.95, 0.93)),
    "s1_bad": ("s1", "netB", "shape", (0.70, 0.72)),  # success flag not set: left out by only_successful
}
LAYERS = {"netA": ["l1", "l2"], "netB": ["b1"]}


SCENE_RENDERS = 4
METAMER_RENDERS = 3
NOISE_SD = 6.0  # grey levels of independent per-render noise


def _patch(rgb: tuple[int, int, int], view: int, shift: int) -> np.ndarray:
    img = np.empty((SIZE, SIZE, 3), np.uint8)
    img[:] = rgb
    img[4 + view * 4 : 12 + view * 4, 4 + shift : 12 + shift] = 255 - np.asarray(rgb, np.uint8)
    return img


def _renders(clean: np.ndarray, seeds: list[int]) -> np.ndarray:
    """Independent renders: the clean images with fresh noise per seed, (R, V, H, W, 3) uint8."""
    out = [
        np.clip(clean + np.random.default_rng(sd).normal(0, NOISE_SD, clean.shape), 0, 255).round().astype(np.uint8)
        for sd in seeds
    ]
    return np.stack(out)


def _similarity(model: str, cos_views: tuple[float, ...]) -> Similarity:
    layers = LAYERS[model]
    cos = np.repeat(np.asarray(cos_views, float)[:, None], len(layers), axis=1)
    if len(layers) > 1:  # layers differ a little, mean equals the per-view value
        cos[:, 0] -= 0.01
        cos[:, 1] += 0.01
    return Similarity(
        layers=layers,
        cosine=cos,
        rel_l2=1 - cos,
        null_cosine=np.full((3, len(layers)), 0.3),
        null_rel_l2=np.ones((3, len(layers))),
    )


def build_store(path: Path, with_renders: bool = True) -> Path:
    """Write the synthetic stimulus set; returns its path (``with_renders=False``: no independent renders)."""
    with StoreWriter(path, config_text="title = 'psychophysics test set'") as w:
        for mid, layers in LAYERS.items():
            w.add_model(
                ModelRecord(
                    mid, mid, "random", "", "", layers, (3, SIZE, SIZE), (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
                )
            )
        for i, (sid, rgb) in enumerate(SCENE_COLOURS.items()):
            seeds = [100 * i + r for r in range(SCENE_RENDERS)]
            renders = _renders(np.stack([_patch(rgb, v, 0) for v in range(N_VIEWS)]).astype(float), seeds)
            disp = renders[0]
            w.add_scene(
                SceneRecord(
                    sid,
                    {"type": "scene"},
                    {"material": {"albedo": np.asarray(0.5)}},
                    [{"fov": 40.0} for _ in range(N_VIEWS)],
                    disp.astype(np.float32) / 255,
                    disp,
                    64,
                    "clip-srgb",
                    renders=renders if with_renders else None,
                    render_seeds=seeds if with_renders else [],
                )
            )
        for k, (xid, (sid, mid, group, cos)) in enumerate(METAMERS.items()):
            seeds = [1000 + 100 * k + r for r in range(METAMER_RENDERS)]
            clean = np.stack([_patch(SCENE_COLOURS[sid], v, 8 + 4 * k) for v in range(N_VIEWS)]).astype(float)
            renders = _renders(clean, seeds)
            disp = renders[0]
            params = {"material": {"albedo": np.asarray(0.5)}}
            w.add_metamer(
                MetamerRecord(
                    xid,
                    sid,
                    mid,
                    LAYERS[mid],
                    group,
                    k,
                    params,
                    params,
                    disp,
                    disp.astype(np.float32) / 255,
                    np.linspace(1, 0.1, 5),
                    5,
                    0.1,
                    True,
                    xid != "s1_bad",
                    {mid: _similarity(mid, cos)},
                    {"param_l2": 0.1},
                    "clip-srgb",
                    renders=renders if with_renders else None,
                    render_seeds=seeds if with_renders else [],
                )
            )
        w.add_similarity("s0_mat", "netB", _similarity("netB", (0.98, 0.96)))
    return path


@pytest.fixture(scope="session")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("store") / "set.h5")


@pytest.fixture(scope="session")
def psy_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HOME for PsychoPy subprocesses (importing psychopy writes ~/.psychopy3)."""
    return tmp_path_factory.mktemp("home")


FAST_CONFIG = """
[presentation]
stimulus_ms = 30
fixation_ms = 10
response_window_ms = 400
iti_ms = 0
feedback_ms = 10
isi_ms = 10
image_size_deg = 4.0
spacing_deg = 6.0

[design]
practice_trials = 3
break_every = 5
catch_trials = 2

[monitor]
window_size = [640, 480]
resolution = [640, 480]
width_cm = 30.0
distance_cm = 57.0
"""


@pytest.fixture()
def fast_config(tmp_path: Path) -> Path:
    path = tmp_path / "fast.toml"
    path.write_text(FAST_CONFIG, encoding="utf-8")
    return path


def _command(args: list[str]) -> list[str]:
    code = "import sys; from psychophysics.commands import main; sys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-c", code, *args]


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "HOME": str(home), "PYTHONPATH": str(REPO)}


@pytest.fixture(scope="session")
def fast_config_text() -> str:
    """A config with short durations, 3 practice trials, 2 catch trials, breaks every 5 trials."""
    return FAST_CONFIG


@pytest.fixture(scope="session")
def cli(psy_home: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``experiment``/``simulate`` in a subprocess (a crash or SystemExit cannot hit pytest)."""

    def run(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            _command(args), env=_env(psy_home), capture_output=True, text=True, timeout=timeout, cwd=REPO
        )

    return run


@pytest.fixture(scope="session")
def cli_popen(psy_home: Path) -> Callable[[list[str]], subprocess.Popen[str]]:
    """Start ``experiment`` in a subprocess that the test can signal."""

    def start(args: list[str]) -> subprocess.Popen[str]:
        # a file, not a pipe: a full pipe would block the session; closed with the process object
        log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        proc = subprocess.Popen(
            _command(args), env=_env(psy_home), stdout=log, stderr=subprocess.STDOUT, text=True, cwd=REPO
        )
        proc.log = log  # type: ignore[attr-defined]
        return proc

    return start
