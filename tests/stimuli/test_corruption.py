"""Corruption suite: byte flips in every dataset kind, changed values and flags, deleted parts.

For every case `mrd inspect --validate` names the damage (exit 1, no traceback) and `mrd inspect --json`
does not crash. Random byte flips anywhere in the file never crash the validator or the summary.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from mrd.cli import main
from stimuli import StoreWriter, validate_store
from stimuli.testing import synthetic_metamer, synthetic_scene, write_synthetic_store

M = "/metamers/scene0-m1"
S = "/scenes/scene0"
C = "/metamers/scene0-crit"
CHANGED = r"(values changed after writing|cannot be read)"
CRIT = {"oddity_pc": 0.35, "oddity_pc_max": 0.4, "null_p": 0.002, "null_alpha": 0.01, "beats_start": True}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pristine") / "set.h5"
    write_synthetic_store(path, n_scenes=2, n_metamers_per_scene=2, views=2, size=24, n_renders=3)
    scene = synthetic_scene("scene0", seed=0, views=2, size=24, n_renders=3)
    met = synthetic_metamer(scene, "scene0-crit", "toy", 0.05, seed=9, n_renders=3)
    met.criterion, met.success = dict(CRIT), True
    with StoreWriter(path) as w:
        w.add_metamer(met)
    assert validate_store(path) == []
    return path


def flip(path: Path, dataset: str, where: float = 0.5) -> None:
    """XOR one byte inside the stored data of ``dataset`` (in the file, below HDF5)."""
    with h5py.File(path, "r") as f:
        ds = f[dataset]
        if ds.chunks:
            info = ds.id.get_chunk_info(0)
            offset, size = info.byte_offset, info.size
        else:
            offset, size = ds.id.get_offset(), ds.id.get_storage_size()
    assert offset is not None and size > 0, dataset
    with open(path, "r+b") as fh:
        fh.seek(offset + int(size * where))
        b = fh.read(1)
        fh.seek(-1, 1)
        fh.write(bytes([b[0] ^ 0x5A]))


def edit(fn):
    """A case that changes the file through h5py (checksums are left as they were)."""
    def run(path: Path) -> None:
        with h5py.File(path, "a") as f:
            fn(f)
    return run


def _set(ds: str, index: tuple, delta: float):
    def fn(f: h5py.File) -> None:
        v = f[ds][index]
        f[ds][index] = v + delta if np.issubdtype(f[ds].dtype, np.floating) else v ^ 1
    return edit(fn)


def _attr(obj: str, name: str, value):
    return edit(lambda f: f[obj].attrs.__setitem__(name, value))


def _del(obj: str):
    parent, name = obj.rsplit("/", 1)
    return edit(lambda f: f[parent or "/"].__delitem__(name))


def _del_attr(obj: str, name: str):
    return edit(lambda f: f[obj].attrs.__delitem__(name))


def _nan_loss_honestly_stamped(f: h5py.File) -> None:
    """A metamer whose loss is [nan] and success True, with checksums made to match (as an old writer did)."""
    from stimuli.checksum import array_sha256, stamp_group

    g = f[M]
    del g["loss"]
    ds = g.create_dataset("loss", data=np.array([np.nan]))
    ds.attrs["sha256"] = array_sha256(np.array([np.nan]))
    g.attrs["steps"], g.attrs["success"] = 1, True
    stamp_group(g)


BYTE_FLIPS = {
    f"flip {d}": (lambda p, d=d: flip(p, d), re.escape(d) + ": " + CHANGED)
    for d in [
        f"{S}/display", f"{S}/hdr", f"{S}/renders", f"{S}/params/shape/vertices", f"{S}/params/shape/faces",
        f"{S}/params/material/base_color", f"{M}/display", f"{M}/renders", f"{M}/hdr", f"{M}/null_display",
        f"{M}/loss", f"{M}/initial_params/material/base_color", f"{M}/final_params/material/base_color",
        f"{M}/final_params/shape/vertices", f"{M}/final_params/shape/faces", f"{M}/similarity/toy/cosine",
        f"{M}/similarity/toy/rel_l2", f"{M}/similarity/toy/null_cosine", f"{M}/similarity/toy/null_rel_l2",
    ]
}
BYTE_FLIPS[f"flip {S}/display late chunk byte"] = (lambda p: flip(p, f"{S}/display", 0.9),
                                                   re.escape(f"{S}/display: ") + CHANGED)

CHANGES = {
    "scene hdr pixel": (_set(f"{S}/hdr", (0, 3, 3, 1), 0.25), f"{S}/hdr: values changed"),
    "null_display pixel": (_set(f"{M}/null_display", (1, 0, 2, 2, 0), 0), f"{M}/null_display: values changed"),
    "metamer hdr pixel": (_set(f"{M}/hdr", (1, 5, 5, 2), 0.1), f"{M}/hdr: values changed"),
    "metamer display pixel": (_set(f"{M}/display", (0, 1, 1, 0), 0), "content digest mismatch"),
    "scene render pixel": (_set(f"{S}/renders", (2, 0, 4, 4, 1), 0), "content digest mismatch"),
    "renders[0] differs": (_set(f"{M}/renders", (0, 0, 0, 0, 0), 0), r"renders\[0\] differs from display"),
    "similarity value": (_set(f"{M}/similarity/toy/cosine", (0, 1), 1e-3), "similarity/toy/cosine: values changed"),
    "null similarity value": (_set(f"{M}/similarity/toy/null_cosine", (2, 0), -0.01), "null_cosine: values changed"),
    "final parameter": (_set(f"{M}/final_params/material/base_color", (1,), 0.01), "base_color: values changed"),
    "initial parameter": (_set(f"{M}/initial_params/shape/vertices", (0, 0), 0.5), "vertices: values changed"),
    "mesh face index": (_set(f"{S}/params/shape/faces", (3, 1), 0), "faces: values changed"),
    "loss value": (_set(f"{M}/loss", (4,), 0.1), f"{M}/loss: values changed"),
    "loss nan, success true": (edit(_nan_loss_honestly_stamped), r"loss: contains non-finite values .* yet success = True"),
    "success flipped": (_attr(M, "success", False), f"{M}: attributes or member list changed"),
    "success flipped against criterion": (_attr(C, "success", False), "success = False contradicts its criterion"),
    "criterion changed": (_attr(C, "criterion", json.dumps(dict(CRIT, null_p=0.2))), "contradicts its criterion"),
    "converged flipped": (_attr(M, "converged", False), f"{M}: attributes or member list changed"),
    "seed changed": (_attr(M, "seed", 12345), f"{M}: attributes or member list changed"),
    "steps changed": (_attr(M, "steps", 3), "loss: length 10 differs from attribute steps=3"),
    "physical distance changed": (_attr(M, "physical_distance", '{"base_color_l2": 9.0}'), "attributes or member"),
    "wall time negative": (_attr(M, "wall_time_s", -1.0), "wall_time_s' = -1.0; expected a finite number >= 0"),
    "group changed": (_attr(M, "group", "lighting"), f"{M}: attributes or member list changed"),
    "scene spp changed": (_attr(S, "spp", 1), f"{S}: attributes or member list changed"),
    "model weight sha changed": (_attr("/models/toy", "weight_sha256", "ab" * 32), "/models/toy: attributes"),
    "render seeds changed": (_attr(S, "render_seeds", "[1, 1, 2]"), "repeat a seed"),
    "success not a bool": (_attr(M, "success", 1), "attribute 'success' = 1; expected true or false"),
}

DELETIONS = {
    "final parameter deleted": (_del(f"{M}/final_params/material/base_color"),
                                "initial_params and final_params hold different parameters"),
    "metamer deleted": (_del(M), "/metamers: attributes or member list changed"),
    "null similarity deleted": (_del(f"{M}/similarity/toy/null_rel_l2"), "similarity/toy/null_rel_l2 is missing"),
    "scene params deleted": (_del(f"{S}/params"), f"{S}/params is missing"),
    "metamer renders deleted": (_del(f"{M}/renders"), "lists 3 renders but the dataset 'renders' is missing"),
    "model deleted": (_del("/models/toy"), "model_id 'toy' is not in /models"),
    "physical distance deleted": (_del_attr(M, "physical_distance"), "attribute 'physical_distance' is missing"),
    "scene display deleted": (_del(f"{S}/display"), f"{S}/display is missing"),
    "dataset checksum deleted": (_del_attr(f"{M}/hdr", "sha256"), f"{M}/hdr: has no 'sha256' checksum"),
    "digest deleted": (_del_attr("/", "content_digest"), "root attribute 'content_digest' is missing"),
    "criterion deleted": (_del_attr(C, "criterion"), f"{C}: attributes or member list changed"),
}

CASES = {**BYTE_FLIPS, **CHANGES, **DELETIONS}


def test_the_suite_has_at_least_47_cases() -> None:
    assert len(CASES) >= 47, len(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_validate_names_each_corruption_and_inspect_does_not_crash(
    pristine: Path, tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "set.h5"
    shutil.copy(pristine, path)
    corrupt, expected = CASES[name]
    corrupt(path)
    problems = validate_store(path)
    assert any(re.search(expected, p) for p in problems), problems
    assert all(p.startswith(f"{path}: ") for p in problems), problems
    if name.startswith("flip") or name.endswith("deleted"):  # the command line says it too (exit 1)
        assert main(["inspect", str(path), "--validate"]) == 1
        err = capsys.readouterr().err
        assert "INVALID" in err and "Traceback" not in err
    code = main(["inspect", str(path), "--json"])
    out = capsys.readouterr()
    assert code in (0, 2) and "Traceback" not in out.err
    if code == 0:
        assert json.loads(out.out)["path"] == str(path)


FLIPPER = """
import json, sys
from stimuli.validate import validate_store
from stimuli.summary import summarize
from stimuli.errors import MRDError
for path in sys.argv[1:]:
    problems = validate_store(path)
    try:
        s = summarize(path); summary = "ok" if not s["errors"] else "errors"
    except MRDError:
        summary = "refused"
    print(json.dumps({"path": path, "problems": len(problems), "summary": summary}), flush=True)
"""


def test_random_byte_flips_never_crash_validate_or_summary(pristine: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(18)
    size = pristine.stat().st_size
    data = pristine.read_bytes()
    paths = []
    for i in range(40):
        buf = bytearray(data)
        for pos in rng.integers(0, size, 1 + i % 3):
            buf[pos] ^= int(rng.integers(1, 256))
        p = tmp_path / f"flip{i}.h5"
        p.write_bytes(bytes(buf))
        paths.append(str(p))
    results = []
    for batch in (paths[:20], paths[20:]):
        proc = subprocess.run([sys.executable, "-c", FLIPPER, *batch], capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]  # no crash, no traceback, no signal
        results += [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(results) == 40
    caught = sum(r["problems"] > 0 for r in results)
    print(f"random flips: {caught}/40 reported by --validate; summaries: "
          f"{sorted({r['summary'] for r in results})}")
    assert caught >= 20  # most bytes of a small store are data or metadata; padding flips are harmless


def test_a_huge_stored_config_is_truncated_by_inspect(pristine: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    # Functional check only (speed and memory belong in benchmarks/): the 64 MiB text is not echoed.
    path = tmp_path / "big.h5"
    shutil.copy(pristine, path)
    with h5py.File(path, "a") as f:
        f.attrs["config_text"] = "# " + "x" * (64 << 20) + "\n"
    assert main(["inspect", str(path), "--json"]) == 0
    out = capsys.readouterr().out
    assert len(out) < 100_000 and "xxxxxxxx" not in out
