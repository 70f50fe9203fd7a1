"""SIGKILL a process that writes a stimulus set at random points, while it writes units and while
it packs them; the store must always survive.

After every kill: ``SET.h5`` opens and validates (it is the state of its last pack, or of the pack
that the kill interrupted), every unit file in the journal is complete and equal to what was
written, nothing is lost, and a resumed writer completes the set to a store equal
(``scripts/compare_stores.py``) to an uninterrupted one, digest included.
"""

from __future__ import annotations

import importlib.util
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np

from stimuli import StimulusSet, StoreWriter, h5io, validate_store
from stimuli.journal import journal_dir, unit_files
from stimuli.pack import pack_tmp
from stimuli.testing import synthetic_metamer, synthetic_scene, write_synthetic_store

N_SCENES, N_PER_SCENE, VIEWS, SIZE = 2, 6, 2, 64
ARGS = f"n_scenes={N_SCENES}, n_metamers_per_scene={N_PER_SCENE}, views={VIEWS}, size={SIZE}"
CHILD = f"""
import sys, time
from stimuli import StoreWriter
from stimuli.testing import add_synthetic_units
w = StoreWriter(sys.argv[1], config_text="synthetic = true\\n")
print("open", flush=True)
t0 = time.perf_counter()
add_synthetic_units(w, {ARGS})
print("packing", time.perf_counter() - t0, flush=True)
t0 = time.perf_counter()
w.close()
print("packed", time.perf_counter() - t0, flush=True)
"""
"""Writes the set as ``write_synthetic_store`` does, saying when the store is open and when the pack starts."""
ROOT = Path(__file__).resolve().parents[2]


def _compare():
    spec = importlib.util.spec_from_file_location("compare_stores", ROOT / "scripts" / "compare_stores.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.compare


def _expected(mid: str):
    s, k = mid.split("-m")
    s, k = int(s.replace("scene", "")), int(k)
    scene = synthetic_scene(f"scene{s}", seed=s, views=VIEWS, size=SIZE)
    return synthetic_metamer(scene, mid, "toy", 0.02 + 0.04 * k, seed=100 * s + k, group=("material", "shape")[k % 2])


def _same(got, mid: str) -> None:
    exp = _expected(mid)
    assert np.array_equal(got.display, exp.display), mid
    assert np.array_equal(got.null_display, exp.null_display), mid
    assert np.array_equal(got.similarity["toy"].cosine, exp.similarity["toy"].cosine), mid


def _check_after_kill(path: Path) -> tuple[int, int]:
    """The store validates and holds only complete metamers; so does every journal unit. Returns both counts."""
    assert validate_store(path) == [], validate_store(path)
    with StimulusSet(path, allow_pending=True) as s:
        stored = s.metamer_ids
        for mid in stored:
            _same(s.metamer(mid), mid)
    journal = 0
    for unit in unit_files(journal_dir(path)):
        with h5py.File(unit, "r") as uf:  # a unit file is complete: it opens and reads back whole
            if str(uf.attrs["kind"]) == "metamer":
                mid = str(uf.attrs["unit_id"])
                _same(h5io.read_metamer(uf["unit"]), mid)
                journal += mid not in stored
    return len(stored), journal


def _resume_and_compare(path: Path, reference: Path, ref_digest: str, writer: bool) -> None:
    if writer:  # re-run the same command
        ids = write_synthetic_store(path, n_scenes=N_SCENES, n_metamers_per_scene=N_PER_SCENE, views=VIEWS, size=SIZE)
        assert len(ids) == N_SCENES * N_PER_SCENE
    else:  # `mrd pack SET.h5`
        StoreWriter(path).close()
    assert not journal_dir(path).exists() and not pack_tmp(path).exists()
    assert validate_store(path) == []
    with StimulusSet(path) as s:
        assert len(s.metamer_ids) == N_SCENES * N_PER_SCENE
        assert s.digest == ref_digest
    assert _compare()(str(reference), str(path)) == []


def _reference(tmp_path: Path, env: dict[str, str]) -> tuple[Path, str, float, float]:
    """One uninterrupted run: the store to compare with, its digest, and how long writing and packing took."""
    reference = tmp_path / "reference.h5"
    out = subprocess.run([sys.executable, "-c", CHILD, str(reference)], check=True, env=env,
                         capture_output=True, text=True).stdout.split()
    with StimulusSet(reference) as ref:
        digest = ref.digest
    return reference, digest, float(out[out.index("packing") + 1]), float(out[out.index("packed") + 1])


def _stratified(rng: random.Random, n: int, span: float) -> list[float]:
    """``n`` random delays, one in each of ``n`` equal parts of ``[0, span]`` (so they cover the whole span)."""
    return [span * (i + rng.random()) / n for i in range(n)]


def _kill_at(path: Path, env: dict[str, str], phase: str, delay: float) -> int:
    """Start the child, wait for it to reach ``phase`` (``open``, ``packing``), SIGKILL it ``delay`` s later."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    while not proc.stdout.readline().startswith(phase):
        pass
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return proc.returncode


def test_sigkill_while_writing_units_never_corrupts_and_resume_completes(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    reference, ref_digest, write_s, _ = _reference(tmp_path, env)
    counts = []
    for i, delay in enumerate(_stratified(random.Random(1234), 13, 0.95 * write_s)):
        path = tmp_path / f"killed{i}.h5"
        if _kill_at(path, env, "open", delay) != -signal.SIGKILL:
            continue  # this run was faster than the reference: it finished before the kill
        counts.append(_check_after_kill(path))
        _resume_and_compare(path, reference, ref_digest, writer=True)
    print(f"writing took {write_s:.2f} s; complete metamers (store, journal) after each kill:", counts)
    assert len(counts) >= 10, counts
    assert len(set(counts)) >= 6, counts  # the kills landed at many different points


def test_sigkill_during_the_pack_keeps_the_store_or_the_new_one_and_resume_completes(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    reference, ref_digest, _, pack_s = _reference(tmp_path, env)
    states = []
    for i, delay in enumerate(_stratified(random.Random(99), 13, 1.25 * pack_s)):
        path = tmp_path / f"pack{i}.h5"
        if _kill_at(path, env, "packing", delay) != -signal.SIGKILL:
            continue  # the pack finished first: not a kill during the pack
        mid_pack = pack_tmp(path).exists()
        stored, journal = _check_after_kill(path)
        assert stored + journal == N_SCENES * N_PER_SCENE  # nothing lost: every metamer is in one of the two
        assert stored in (0, N_SCENES * N_PER_SCENE)  # the old store or the new one, never a part
        states.append(("copy in progress" if mid_pack else "before the copy") if stored == 0 else "after the rename")
        _resume_and_compare(path, reference, ref_digest, writer=i % 2 == 0)
    print(f"pack took {pack_s:.3f} s; state at each kill:", states)
    assert len(states) >= 10, states
    assert len(set(states)) >= 2, states  # kills before and after the store was replaced
