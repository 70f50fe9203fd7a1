"""The SLURM executor on submitit's local executor: the same store as the local executor, resume after
a killed ``mrd generate`` (finished and still-running array tasks collected, nothing re-run), requeue
of a preempted task, cancellation on interrupt, and option errors.

The array tasks are real submitit tasks (pickled job, separate Python processes started by
submitit's local controller, result files) running the real renderer and the demo's real
MobileNetV2 on a cut-down tiny config (one scene, 16 px, 2 steps). As in tests/mrd/test_ray.py the
stores are compared bit for bit (scripts/compare_stores.py, timing fields aside): the local store is
made with one Dr.Jit and one torch thread, which is what each task uses with ``--slurm-cpus 1``, and
the SLURM runs start from a partial store holding the local store's target scenes, so targets are
not re-rendered with other thread counts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import pytest

pytest.importorskip("submitit", reason="submitit is not installed (pip install 'mrd-suite[slurm]')")

from mrd.cli import main  # noqa: E402
from mrd.synthesis.executor import make_executor  # noqa: E402
from mrd.synthesis.generate import generate  # noqa: E402
from mrd.synthesis.slurm import SlurmOptions, _pid_running  # noqa: E402
from stimuli import StimulusSet, StoreWriter, validate_store  # noqa: E402
from stimuli.errors import MRDError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "data" / "tiny_demo.toml"
LOCAL_1CPU = SlurmOptions(local=True, cpus=1, parallel=2, poll_s=0.2)


def tiny_config(tmp: Path) -> Path:
    """tests/data/tiny_demo.toml cut down: one scene, 16 px, 2 steps, material only, seeds 0 and 1 (2 jobs)."""
    text = TINY.read_text()
    green = text.index('[[scenes]]\nid = "blob_green"')
    text = text[:green] + text[text.index("# Every scene", green):]
    for old, new in (("resolution = 32", "resolution = 16"), ("display_spp = 16", "display_spp = 4"),
                     ("steps = 4", "steps = 2"), ("target_renders = 4", "target_renders = 2"),
                     ('groups = ["material", "shape"]', 'groups = ["material"]'), ("seeds = [0]", "seeds = [0, 1]")):
        assert old in text, f"tiny_demo.toml no longer has {old!r}; update this test"
        text = text.replace(old, new)
    path = tmp / "tiny.toml"
    path.write_text(text + "\n[criterion]\ntriplets = 30\n")
    return path


@pytest.fixture(scope="module")
def local_store(tmp_path_factory):
    import drjit as dr
    import torch

    before = (dr.thread_count(), torch.get_num_threads())
    dr.set_thread_count(1)
    torch.set_num_threads(1)
    try:
        tmp = tmp_path_factory.mktemp("slurm")
        cfg = tiny_config(tmp)
        out = tmp / "local.h5"
        assert len(generate(cfg, out, progress=False).made) == 2
    finally:
        dr.set_thread_count(before[0])
        torch.set_num_threads(before[1])
    with StimulusSet(out) as s:
        ids = sorted(s.metamer_ids)
    return cfg, out, ids


def partial_copy(local: Path, out: Path, metamers: list[str]) -> None:
    """A store holding the local store's models, scenes and the given metamers (a run to resume)."""
    with StimulusSet(local) as s, StoreWriter(out, config_text=s.config_text) as w:
        for rec in s.models.values():
            w.add_model(rec)
        for sid in s.scene_ids:
            w.add_scene(s.scene(sid, images=True))
        for mid in metamers:
            w.add_metamer(s.metamer(mid, images=True))


def assert_equal_stores(a: Path, b: Path) -> None:
    res = subprocess.run([sys.executable, "scripts/compare_stores.py", str(a), str(b)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:]
    assert res.stdout.strip().endswith("equal")


def wait_for(what: str, check, timeout: float = 600.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def jobs_json(folder: Path) -> dict:
    try:
        return json.loads((folder / "jobs.json").read_text())["jobs"]
    except (OSError, ValueError, KeyError):
        return {}


def task_started(folder: Path, job: dict) -> bool:
    """The task logged that it runs its metamer (its requeue signal handler is installed by then)."""
    err = Path(job["folder"]) / f"{job['job_id']}_0_log.err"
    return err.exists() and "mrd task: metamer" in err.read_text(errors="replace")


def start_cli(cfg: Path, out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "mrd.cli", "generate", str(cfg), "--out", str(out), "--quiet",
           "--executor", "slurm", "--slurm-local", "--slurm-cpus", "1", "--slurm-parallel", "2", *extra]  # fmt: skip
    # SIGINT back to its default in the child: a CI job run in the background of a non-interactive shell
    # inherits SIGINT ignored, and Python keeps an inherited SIG_IGN, so the interrupt would never arrive
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def test_slurm_store_equals_local_and_resumes(local_store, tmp_path):
    cfg, local, ids = local_store
    out = tmp_path / "slurm.h5"
    partial_copy(local, out, ids[:1])
    summary = generate(cfg, out, progress=False, executor="slurm", slurm=LOCAL_1CPU)
    assert summary.skipped == ids[:1] and summary.made == ids[1:]
    assert "local processes" in summary.executor
    assert validate_store(out) == []
    assert_equal_stores(local, out)
    runs = [d for d in (tmp_path / "slurm.h5.slurm").iterdir() if d.is_dir()]
    assert len(runs) == 1 and not list(runs[0].glob("*.pkl"))  # pickles removed once written; logs kept
    assert jobs_json(tmp_path / "slurm.h5.slurm") == {}
    again = generate(cfg, out, progress=False, executor="slurm", slurm=LOCAL_1CPU)
    assert again.made == [] and again.skipped == ids


def test_killed_generate_resumes_collecting_tasks_and_preempted_task_is_requeued(local_store, tmp_path):
    """Preempt one array task (SIGUSR2, what SLURM sends), then SIGKILL ``mrd generate``: the store is valid,
    the tasks run on; re-running collects both results (the preempted one recomputed by its requeued
    task) without submitting anything, and the store equals the local one."""
    cfg, local, ids = local_store
    out = tmp_path / "killed.h5"
    folder = tmp_path / "killed.h5.slurm"
    partial_copy(local, out, [])
    proc = start_cli(cfg, out)
    try:
        jobs = wait_for("two submitted tasks", lambda: (j := jobs_json(folder)) and len(j) == 2 and j)
        first = jobs[ids[0]]
        wait_for("the first task to start its metamer", lambda: task_started(folder, first))
        controller = int(first["job_id"])
        children = Path(f"/proc/{controller}/task/{controller}/children").read_text().split()
        assert len(children) == 1
        os.kill(int(children[0]), signal.SIGUSR2)  # preemption notice
        err = Path(first["folder"]) / f"{controller}_0_log.err"
        wait_for("the requeued task to start", lambda: err.read_text(errors="replace").count("mrd task: metamer") == 2)
    finally:
        proc.kill()
        proc.wait()
    assert validate_store(out) == []
    assert all(_pid_running(int(j["job_id"])) for j in jobs.values()), "tasks must outlive a killed generate"

    summary = generate(cfg, out, progress=False, executor="slurm", slurm=LOCAL_1CPU)
    assert sorted(summary.made) == ids
    assert "2 collected from an earlier run" in summary.executor
    assert len([d for d in folder.iterdir() if d.is_dir()]) == 1  # the resumed run submitted nothing
    log = (Path(first["folder"]) / f"{first['job_id']}_0_log.err").read_text()
    assert "this job is preempted" in log and log.count("mrd task: metamer") == 2
    assert "Requeued job" in (Path(first["folder"]) / f"{first['job_id']}_0_log.out").read_text()
    assert "Traceback" not in log
    assert validate_store(out) == []
    assert_equal_stores(local, out)


def test_interrupt_cancels_tasks(local_store, tmp_path):
    cfg, local, ids = local_store
    out = tmp_path / "int.h5"
    # tasks that cannot finish before the interrupt (with 2 steps they sometimes did: exit 0 on CI)
    slow = tmp_path / "slow.toml"
    slow.write_text(cfg.read_text().replace("steps = 2", "steps = 100000").replace("stop_on_success = true",
                                                                                  "stop_on_success = false"))
    proc = start_cli(slow, out)
    try:
        jobs = wait_for("two submitted tasks", lambda: (j := jobs_json(tmp_path / "int.h5.slurm")) and len(j) == 2 and j)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "interrupted" in err
    wait_for("cancelled tasks to end", lambda: not any(_pid_running(int(j["job_id"])) for j in jobs.values()), 60)
    assert not list((tmp_path / "int.h5.slurm").glob("*/*_result.pkl"))
    with StimulusSet(out) as s:
        assert s.metamer_ids == []


def test_failed_task_names_metamer_and_log(local_store, tmp_path, capsys):
    cfg, local, ids = local_store
    out = tmp_path / "fail.h5"
    partial_copy(local, out, ids[:1])
    # a task that cannot start: its setup line limits its memory below what importing torch maps
    code = main(["generate", str(cfg), "--out", str(out), "--quiet", "--executor", "slurm", "--slurm-local",
                 "--slurm-cpus", "1", "--slurm-setup", "ulimit -v 1500000"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2, err
    assert "1 of 1 metamer tasks failed" in err and ids[1] in err and "_log.err" in err
    assert "Error" in err.split(ids[1], 1)[1]  # the task's last error line
    with StimulusSet(out) as s:
        assert sorted(s.metamer_ids) == ids[:1]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"time_min": 0}, "--slurm-time 0: give the time limit"),
    ({"cpus": True}, "--slurm-cpus True: give the number of CPU cores"),
    ({"gpus": -1}, "--slurm-gpus -1"),
    ({"parallel": 0}, "--slurm-parallel 0"),
    ({"mem_gb": 0}, "--slurm-mem 0: give the memory per task in GB"),
    ({"partition": "gpu; rm"}, "--slurm-partition 'gpu; rm'"),
    ({"sbatch": ("array=0-3",)}, "--slurm-sbatch 'array=0-3': array is set by one array per batch"),
    ({"sbatch": ("time=10",)}, "time is set by --slurm-time"),
    ({"sbatch": ("=x",)}, "give an sbatch option as KEY=VALUE or KEY"),
])  # fmt: skip
def test_option_errors(kwargs, message):
    with pytest.raises(MRDError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SlurmOptions(**kwargs)


def test_sbatch_parameters_and_cli_errors(tmp_path, capsys):
    opts = SlurmOptions(sbatch=("account=lab", "--exclusive", "constraint=a100"), requeue=False)
    assert opts.sbatch_parameters() == {"account": "lab", "exclusive": True, "constraint": "a100"}
    assert SlurmOptions().sbatch_parameters() == {"requeue": True}
    with pytest.raises(MRDError, match="apply to --executor slurm only"):
        make_executor("local", slurm=SlurmOptions())
    with pytest.raises(MRDError, match="--address and --workers apply to --executor ray only"):
        make_executor("slurm", workers=2)
    cfg = tiny_config(tmp_path)
    out = str(tmp_path / "x.h5")
    cases = [(["--slurm-cpus", "4"], "--slurm-* options apply to --executor slurm only"),
             (["--executor", "slurm", "--slurm-time", "0"], "--slurm-time 0"),
             (["--executor", "slurm", "--slurm-cpus", "two"], "--slurm-cpus: invalid int value: 'two'"),
             (["--executor", "slurm"], "sbatch and srun not on this machine's PATH")]  # fmt: skip
    for extra, message in cases:
        with pytest.raises(SystemExit) if "invalid int" in message else nullcontext():
            assert main(["generate", str(cfg), "--out", out, "--quiet", *extra]) == 2
        assert message in capsys.readouterr().err
    assert not Path(out).exists()

