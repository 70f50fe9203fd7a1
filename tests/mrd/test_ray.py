"""Scale-out on Ray: the Ray path makes the same stimulus set as the local path, and resumes.

A local Ray cluster with 2 CPUs runs 2 workers on a tiny config derived from the demo config
(32 px, 3 steps, the demo's real MobileNetV2). Dr.Jit sums gradients over threads in a
scheduling-dependent order, so two multi-threaded runs differ in the last bits; with one Dr.Jit and
one torch thread they are bit-identical. The local run here therefore uses one thread of each, as
each of the 2 Ray workers on 2 CPUs does, and the stores are compared exactly (timing fields aside).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'mrd-suite[cluster]')")

from mrd.cli import main  # noqa: E402
from mrd.synthesis.executor import make_executor  # noqa: E402
from mrd.synthesis.generate import generate  # noqa: E402
from stimuli import StimulusSet, StoreWriter, validate_store  # noqa: E402
from stimuli.errors import MRDError  # noqa: E402

DEMO = Path(__file__).parents[2] / "stimuli" / "sets" / "demo.toml"
TIMING = ("wall_time_s", "total_time_s")


def tiny_config(tmp: Path) -> Path:
    """The demo config cut down: one scene, 32 px, 3 steps; 4 jobs (material and shape, seeds 0 and 1)."""
    text = DEMO.read_text()
    for old, new in (("resolution = 64", "resolution = 32"), ("display_spp = 256", "display_spp = 16"),
                     ("steps = 60", "steps = 3"), ("draws = 30", "draws = 3")):
        assert old in text, f"demo.toml no longer has {old!r}; update this test"
        text = text.replace(old, new)
    text = text.replace('scenes = "*"', 'scenes = ["blob_red"]').replace("seeds = [0]", "seeds = [0, 1]")
    path = tmp / "tiny.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def one_thread():
    import drjit as dr
    import torch

    before = (dr.thread_count(), torch.get_num_threads())
    dr.set_thread_count(1)
    torch.set_num_threads(1)
    yield
    dr.set_thread_count(before[0])
    torch.set_num_threads(before[1])


@pytest.fixture(scope="module")
def local_store(tmp_path_factory, one_thread):
    tmp = tmp_path_factory.mktemp("ray")
    cfg = tiny_config(tmp)
    out = tmp / "local.h5"
    s = generate(cfg, out, progress=False)
    assert len(s.made) == 4
    return cfg, out


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield
    ray.shutdown()


def _assert_same_metamer(a, b) -> None:
    mid = a.metamer_id
    assert np.array_equal(a.display, b.display), mid
    assert np.array_equal(a.hdr, b.hdr), mid
    assert np.array_equal(a.loss, b.loss), mid
    assert (a.steps, a.success, a.converged, a.seed, a.group) == (b.steps, b.success, b.converged, b.seed, b.group)
    for params_a, params_b in ((a.final_params, b.final_params), (a.initial_params, b.initial_params)):
        assert params_a.keys() == params_b.keys()
        for g in params_a:
            for k in params_a[g]:
                assert np.array_equal(params_a[g][k], params_b[g][k]), (mid, g, k)
    assert a.similarity.keys() == b.similarity.keys()
    for m in a.similarity:
        for f in ("cosine", "rel_l2", "null_cosine", "null_rel_l2"):
            assert np.array_equal(getattr(a.similarity[m], f), getattr(b.similarity[m], f)), (mid, m, f)
    assert a.physical_distance == b.physical_distance
    ia = {k: v for k, v in a.info.items() if k not in TIMING}
    ib = {k: v for k, v in b.info.items() if k not in TIMING}
    assert ia == ib, mid


def test_ray_store_equals_local_and_resumes(local_store, cluster, tmp_path):
    cfg, local = local_store
    out = tmp_path / "ray.h5"
    # a partial store: everything of the local one except three of the four metamers (a resumed run)
    with StimulusSet(local) as s, StoreWriter(out, config_text=s.config_text) as w:
        for rec in s.models.values():
            w.add_model(rec)
        for sid in s.scene_ids:
            w.add_scene(s.scene(sid, images=True))
        first = sorted(s.metamer_ids)[0]
        w.add_metamer(s.metamer(first, images=True))
        ids = sorted(s.metamer_ids)

    summary = generate(cfg, out, progress=False, executor="ray", workers=2)
    assert summary.skipped == [first]
    assert sorted(summary.made) == [i for i in ids if i != first]
    assert validate_store(out) == []
    with StimulusSet(local) as a, StimulusSet(out) as b:
        assert sorted(b.metamer_ids) == ids
        assert a.digest == b.digest
        for mid in ids:
            _assert_same_metamer(a.metamer(mid, images=True), b.metamer(mid, images=True))

    again = generate(cfg, out, progress=False, executor="ray", workers=2)
    assert again.made == [] and sorted(again.skipped) == ids


def test_cli_executor_options(local_store, cluster, capsys):
    cfg, local = local_store
    assert main(["generate", str(cfg), "--out", str(local), "--executor", "ray", "--workers", "2", "--quiet"]) == 0
    assert "0 metamers made, 4 already present" in capsys.readouterr().out
    assert main(["generate", str(cfg), "--out", str(local), "--executor", "local", "--workers", "2"]) == 2
    assert "--workers" in capsys.readouterr().err


def test_executor_errors():
    with pytest.raises(MRDError, match="use one of local, ray"):
        make_executor("dask")
    with pytest.raises(MRDError, match="positive number"):
        make_executor("ray", workers=0)
