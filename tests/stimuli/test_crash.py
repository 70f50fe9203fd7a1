"""SIGKILL a process that writes metamers at random points; the store must always survive.

Every time: the file opens, validates, holds only complete metamers (each equal to what was
written), and a resumed writer completes the set.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import numpy as np

from stimuli import StimulusSet, validate_store
from stimuli.testing import synthetic_metamer, synthetic_scene, write_synthetic_store

N_SCENES, N_PER_SCENE, VIEWS, SIZE = 3, 8, 4, 96
WRITER = f"""
import sys
from stimuli.testing import write_synthetic_store
write_synthetic_store(sys.argv[1], n_scenes={N_SCENES}, n_metamers_per_scene={N_PER_SCENE},
                      views={VIEWS}, size={SIZE}, merge_every=3)
"""


def _expected(mid: str):
    s, k = mid.split("-m")
    s = int(s.replace("scene", ""))
    k = int(k)
    scene = synthetic_scene(f"scene{s}", seed=s, views=VIEWS, size=SIZE)
    group = ("material", "shape")[k % 2]
    return synthetic_metamer(scene, mid, "toy", 0.02 + 0.04 * k, seed=100 * s + k, group=group)


def _check_complete(path) -> list[str]:
    assert validate_store(path) == [], validate_store(path)
    with StimulusSet(path) as s:
        ids = s.metamer_ids
        for mid in ids:
            got, exp = s.metamer(mid), _expected(mid)
            assert np.array_equal(got.display, exp.display), mid
            assert np.array_equal(got.null_display, exp.null_display), mid
            assert np.array_equal(got.similarity["toy"].cosine, exp.similarity["toy"].cosine), mid
    return ids


def test_sigkill_at_random_points_never_corrupts_and_resume_completes(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    reference = tmp_path / "reference.h5"
    t0 = time.perf_counter()  # one uninterrupted run, to spread the kill points over its duration
    subprocess.run([sys.executable, "-c", WRITER, str(reference)], check=True, env=env)
    full = time.perf_counter() - t0
    with StimulusSet(reference) as ref:
        ref_digest = ref.digest
    rng = random.Random(1234)
    counts = []
    for i in range(12):
        path = tmp_path / f"killed{i}.h5"
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], env=env)
        time.sleep(rng.uniform(0.3, 0.98) * full)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if not path.exists():  # killed before the store was created: nothing to check
            counts.append(-1)
            continue
        counts.append(len(_check_complete(path)))
        # A resumed writer completes the set, to the same content as an uninterrupted run.
        ids = write_synthetic_store(path, n_scenes=N_SCENES, n_metamers_per_scene=N_PER_SCENE, views=VIEWS,
                                    size=SIZE, merge_every=3)
        assert sorted(_check_complete(path)) == sorted(ids)
        assert len(ids) == N_SCENES * N_PER_SCENE
        with StimulusSet(path) as s:
            assert s.digest == ref_digest
    print("metamers present after each kill:", counts)
    assert sum(c >= 0 for c in counts) >= 10, counts
    assert len(set(counts)) >= 4, counts  # the kills landed at many different points
