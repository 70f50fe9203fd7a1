"""A full disk during unit writes and the pack step, and what a refused or finished writer leaves behind.

Injected ENOSPC (the write / copy / HDF5 calls raise it) always runs; a real small filesystem (tmpfs in
a user + mount namespace, `unshare -rm`) runs where the kernel allows it.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import stimuli.fsutil
import stimuli.pack
import stimuli.writer
from stimuli import MRDError, StimulusSet, StoreWriter, validate_store
from stimuli.testing import synthetic_metamer, synthetic_model, synthetic_scene, write_synthetic_store
from stimuli.writer import journal_dir


def _debris(folder: Path) -> list[str]:
    """Temporary files and lock files left anywhere under ``folder``."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name.endswith((".tmp", ".lock")))


def _store_with_pending(path: Path) -> tuple[StoreWriter, bytes]:
    """A complete store on disk plus a writer holding two finished units not yet packed."""
    write_synthetic_store(path, n_scenes=1, n_metamers_per_scene=2)
    before = path.read_bytes()
    w = StoreWriter(path, config_text="synthetic = true\n")
    scene = synthetic_scene("scene0", seed=0, n_renders=4)
    for k in (5, 6):
        w.add_metamer(synthetic_metamer(scene, f"scene0-m{k}", "toy", 0.1, seed=k, n_renders=4))
    return w, before


def _enospc_after(n_bytes: int):
    """An ``os.write`` that writes ``n_bytes`` in all, then fails as a full disk does."""
    state = {"left": n_bytes}

    def write(fd: int, data) -> int:
        if state["left"] <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = os.write(fd, bytes(data[: state["left"]]))
        state["left"] -= n
        return n

    return write


def test_unit_write_on_a_full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "set.h5"
    write_synthetic_store(path, n_scenes=1, n_metamers_per_scene=1)
    before = path.read_bytes()
    scene = synthetic_scene("scene0", seed=0, n_renders=4)
    with StoreWriter(path, config_text="synthetic = true\n") as w:
        monkeypatch.setattr(stimuli.fsutil, "_os_write", _enospc_after(5000))
        with pytest.raises(MRDError, match="no space left on the device while writing metamer 'scene0-m7'") as info:
            w.add_metamer(synthetic_metamer(scene, "scene0-m7", "toy", 0.1, n_renders=4))
        assert "set.h5 is the last complete store" in str(info.value)
        assert list(journal_dir(path).iterdir()) == []  # the partial unit file is gone
        monkeypatch.undo()  # space freed: the same writer carries on
        w.add_metamer(synthetic_metamer(scene, "scene0-m8", "toy", 0.2, n_renders=4))
    assert path.read_bytes() != before and validate_store(path) == []
    with StimulusSet(path) as s:
        assert s.metamer_ids == ["scene0-m0", "scene0-m8"]
    assert _debris(tmp_path) == [] and not journal_dir(path).exists()


@pytest.mark.parametrize("where", ["copy", "hdf5"])
def test_pack_on_a_full_disk_keeps_the_last_complete_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    path = tmp_path / "set.h5"
    w, before = _store_with_pending(path)
    if where == "copy":  # the pack's copy of the store runs out of space half-way
        def copy(src, dst):
            with open(dst, "wb") as fh:
                fh.write(Path(src).read_bytes()[: Path(src).stat().st_size // 2])
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(stimuli.pack.shutil, "copyfile", copy)
    else:  # HDF5 fails to extend the copy while units are added (h5py's message for errno 28)
        def stamp(group):
            raise OSError("Can't write data (file write failed: time = now, errno = 28, "
                          "error message = 'No space left on device')")

        monkeypatch.setattr(stimuli.pack, "stamp_group", stamp)
    with pytest.raises(MRDError, match="no space left on the device while packing 2 journal units"):
        w.pack()
    assert not path.with_name("set.h5.pack.tmp").exists()
    assert path.read_bytes() == before and validate_store(path) == []  # the last complete store
    assert len(list(journal_dir(path).glob("*.h5"))) == 2  # finished work kept
    monkeypatch.undo()
    w.close()
    with StimulusSet(path) as s:
        assert s.metamer_ids == ["scene0-m0", "scene0-m1", "scene0-m5", "scene0-m6"]
    assert validate_store(path) == [] and _debris(tmp_path) == []


def test_too_little_free_space_is_refused_before_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "set.h5"
    w, before = _store_with_pending(path)
    monkeypatch.setattr(stimuli.writer, "free_bytes", lambda folder: 1 << 20)
    with pytest.raises(MRDError, match=r"not enough free space to pack the journal for set.h5: needs about "):
        w.pack()
    with pytest.raises(MRDError, match="not enough free space to write metamer 'x'"):
        w.add_metamer(synthetic_metamer(synthetic_scene("scene0", n_renders=4), "x", "toy", 0.3, n_renders=4))
    assert path.read_bytes() == before and _debris(tmp_path) == ["set.h5.lock"]
    monkeypatch.undo()
    w.close()
    assert validate_store(path) == [] and _debris(tmp_path) == []


def test_refused_runs_leave_no_files_and_clean_runs_no_lock(tmp_path: Path) -> None:
    out = tmp_path / "new" / "deeper" / "set.h5"
    with pytest.raises(RuntimeError, match="model failed to load"), StoreWriter(out, config_text="a = 1\n"):
        raise RuntimeError("model failed to load")  # e.g. a refused weights file, before any unit
    assert list(tmp_path.iterdir()) == []  # no store, journal, lock, nor the folders made for it

    path = tmp_path / "set.h5"
    with StoreWriter(path, config_text="a = 1\n") as w:
        w.add_model(synthetic_model())
    assert sorted(os.listdir(tmp_path)) == ["set.h5"]  # a clean finish: no lock file, no journal
    with pytest.raises(MRDError, match="different config"):
        StoreWriter(path, config_text="a = 2\n")
    assert sorted(os.listdir(tmp_path)) == ["set.h5"]
    with pytest.raises(RuntimeError), StoreWriter(path, config_text="a = 1\n"):  # an existing store is kept
        raise RuntimeError("later failure")
    assert sorted(os.listdir(tmp_path)) == ["set.h5"] and validate_store(path) == []
    with pytest.raises(MRDError, match="config text is 5.0 MiB; a stimulus-set config may have at most 4.0 MiB"):
        StoreWriter(tmp_path / "big.h5", config_text="#" * (5 << 20))
    assert sorted(os.listdir(tmp_path)) == ["set.h5"]


SMALL_FS = r"""
import json, os, sys
from pathlib import Path
import stimuli.writer
from stimuli import MRDError, StimulusSet, StoreWriter, validate_store
from stimuli.journal import journal_dir, unit_files
from stimuli.testing import write_synthetic_store
root = Path(sys.argv[1]); results = {}
for mode in ("preflight", "real-enospc"):  # each on its own 8 MiB filesystem
    path = root / mode / "set.h5"
    ballast = path.parent / "ballast"
    if mode == "real-enospc":  # skip the free-space check: the disk itself must say no
        stimuli.writer.free_bytes = lambda folder: 1 << 40
        ballast.write_bytes(bytes(5 << 20))  # what the user deletes to free space afterwards
    try:
        write_synthetic_store(path, n_scenes=2, n_metamers_per_scene=40, views=4, size=64)
        error = None
    except MRDError as exc:
        error = str(exc)
    problems = validate_store(path)  # right after the failure: the last complete store
    pending = len(unit_files(journal_dir(path)))
    refused = None
    if pending:  # the pack could not run on the full disk: free space and pack, as the message says
        try:
            StimulusSet(path).close()
        except MRDError as exc:
            refused = str(exc)
        ballast.unlink()
        StoreWriter(path).close()
    with StimulusSet(path) as s:
        n = len(s.metamer_ids)
    debris = sorted(p.name for p in path.parent.rglob("*") if p.name.endswith(".tmp"))
    results[mode] = {"error": error, "problems": problems, "after": validate_store(path), "metamers": n,
                     "pending": pending, "refused": refused, "debris": debris,
                     "journal_left": journal_dir(path).exists()}
print(json.dumps(results))
"""


def test_a_real_small_filesystem(tmp_path: Path) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("unshare not available")
    mnt = tmp_path / "small"
    for mode in ("preflight", "real-enospc"):
        (mnt / mode).mkdir(parents=True)
    script = tmp_path / "fill.py"
    script.write_text(SMALL_FS)
    mounts = " && ".join(f"mount -t tmpfs -o size=8m tmpfs {mnt / m}" for m in ("preflight", "real-enospc"))
    cmd = f"{mounts} && cd {Path.cwd()} && {sys.executable} {script} {mnt}"
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", cmd], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONPATH=os.getcwd()))
    if proc.returncode != 0 and "mount" in proc.stderr and "Traceback" not in proc.stderr:
        pytest.skip(f"cannot mount a small filesystem here: {proc.stderr.strip()[:200]}")
    assert proc.returncode == 0, proc.stderr[-3000:]  # no segfault, no traceback
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    print(json.dumps(results, indent=1)[:2000])
    for mode, r in results.items():
        assert r["error"] is not None, mode  # 80 metamers do not fit in 8 MiB
        assert "space" in r["error"] and "last complete store" in r["error"], r["error"]
        assert r["problems"] == [] and r["after"] == [] and r["debris"] == [], (mode, r)
        assert r["metamers"] > 0 and not r["journal_left"], (mode, r)
    # The check before each unit keeps room for the pack, so the finished units were packed on exit.
    assert "not enough free space" in results["preflight"]["error"]
    assert results["preflight"]["pending"] == 0
    # A disk that really fills up leaves the units in the journal: readers refuse, pointing at `mrd pack`.
    real = results["real-enospc"]
    assert "no space left on the device" in real["error"]
    assert real["pending"] > 0 and "mrd pack" in real["refused"], real
