"""Store-append scaling: the time to add one metamer to a stimulus set as the set grows (issue 16).

Synthetic :class:`stimuli.records.MetamerRecord` s at 256 px x 6 views with R = 4 independent display
renders, 4 null displays and an HDR image, are added one by one through :class:`stimuli.StoreWriter`
(one model, one scene first) and every ``add_metamer`` call is timed. The images are smooth
(noise-free shading of the synthetic patch, a different colour per metamer), so the store's own gzip
compresses them (about 2 MiB a metamer on disk; random pixels would not compress and 2,000 metamers
would need ~30 GB). Records are built before the clock starts; a timed add includes the writer's
checks, building the unit, writing and fsync'ing it, and whatever merge the writer does then.

At each checkpoint n the table gives the mean and the median time of the ``--window`` adds that end
at the n-th metamer (the design before issue 16 merged the journal every 8 units, so with the default
window of 8 each window holds exactly one merge and the mean is the amortised cost of an add). The
ratio of the last checkpoint's mean to the first's is the result (same run). Closing the writer
(the final merge, or the pack) is timed too and set against a plain copy of the finished file.

Run::

    .venv/bin/python benchmarks/store_append.py                          # 2,000 metamers (~20 min)
    .venv/bin/python benchmarks/store_append.py --n 300 --name store_append_old  # the old design
    .venv/bin/python benchmarks/store_append.py --n 40 --name store_append_quick
    .venv/bin/python benchmarks/store_append.py --report --previous store_append_old  # re-render the table

``--previous NAME`` adds the table of an earlier result (another run: another load, so compare the
ratios, each from its own run) below this one's; ``--report`` re-renders ``results/NAME.md`` from
``results/NAME.json`` without running anything.

Files go to a temporary folder next to ``--dir`` (default: the system's temporary folder) and are
removed at the end; the free space is checked first.

Examples
--------
>>> checkpoints(300)
[10, 50, 100, 200, 300]
>>> window_stats([1.0, 2.0, 3.0, 4.0], end=4, window=2)
{'mean_s': 3.5, 'median_s': 3.5, 'max_s': 4.0}
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks._common import md_table, write_results  # noqa: E402

SIZE, VIEWS, RENDERS, NULLS = 256, 6, 4, 4
CHECKPOINTS = (10, 50, 100, 200, 300, 500, 1000, 2000)
"""Candidate checkpoints; those up to ``--n`` are reported (and ``--n`` itself)."""
BYTES_PER_METAMER = 2.3 * 2**20
"""About what one benchmark metamer takes on disk (measured: 2.1 MiB), for the free-space check."""


def checkpoints(n: int) -> list[int]:
    """Checkpoints reported for a run of ``n`` metamers.

    Examples
    --------
    >>> checkpoints(2000)
    [10, 50, 100, 200, 300, 500, 1000, 2000]
    """
    out = [c for c in CHECKPOINTS if c <= n]
    return out if out and out[-1] == n else [*out, n]


def window_stats(times: list[float], end: int, window: int) -> dict[str, float]:
    """Mean, median and max of the ``window`` times that end at the ``end``-th (1-based) add.

    Examples
    --------
    >>> window_stats([5.0, 1.0, 1.0], end=3, window=8)["median_s"]
    1.0
    """
    part = times[max(0, end - window):end]
    return {"mean_s": statistics.fmean(part), "median_s": statistics.median(part), "max_s": max(part)}


class Records:
    """The benchmark's records: one scene and metamers whose colour differs by index.

    Examples
    --------
    >>> r = Records(size=16, views=2)
    >>> r.metamer(3).display.shape, r.metamer(3).renders.shape
    ((2, 16, 16, 3), (4, 2, 16, 16, 3))
    """

    def __init__(self, size: int = SIZE, views: int = VIEWS) -> None:
        from stimuli.testing import synthetic_metamer, synthetic_model, synthetic_scene

        self.size, self.views = size, views
        self.model = synthetic_model()
        scene = synthetic_scene("scene0", seed=0, views=views, size=size, n_renders=0)
        self.scene = self._smooth(scene, np.array([0.5, 0.4, 0.3]))
        self._template = synthetic_metamer(scene, "m", "toy", 0.05, null_draws=NULLS)
        self._null = np.repeat(self.scene.display[None], NULLS, axis=0)

    def _smooth(self, rec: Any, rgb: np.ndarray) -> Any:
        from stimuli.testing import _clean

        hdr = _clean(rgb, self.views, self.size)
        display = (np.clip(hdr, 0, 1) * 255).round().astype(np.uint8)
        renders = np.stack([display] + [np.clip(display.astype(np.int16) + (r % 2), 0, 255).astype(np.uint8)
                                        for r in range(1, RENDERS)])
        rec.hdr, rec.display, rec.renders = hdr, display, renders
        rec.render_seeds = [7 * 1000 + r for r in range(RENDERS)]
        return rec

    def metamer(self, i: int) -> Any:
        """Metamer ``i`` (a fresh record; its images depend on ``i``)."""
        import copy

        rec = copy.copy(self._template)
        rec.metamer_id = f"m{i:05d}"
        rec.seed = i
        rgb = 0.2 + 0.6 * np.array([(i * 0.37) % 1, (i * 0.61) % 1, (i * 0.13) % 1])
        rec = self._smooth(rec, rgb)
        rec.null_display = self._null
        return rec


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


def _timed_add(w: Any, rec: Any) -> tuple[float, float]:
    """Wall and CPU seconds of one ``add_metamer``."""
    t0, c0 = time.perf_counter(), time.process_time()
    w.add_metamer(rec)
    return time.perf_counter() - t0, time.process_time() - c0


def run(n: int, window: int, folder: Path, interleave: int) -> dict[str, Any]:
    """Add ``n`` metamers to a new store in ``folder``, then ``interleave`` paired adds; return the timings.

    The paired phase alternates one add to the big store (its (n+1)-th, ...) with one add to a fresh
    store of 9 metamers (its 10th, ...), so both see the same machine load: the ratio of each pair is
    the scaling measured free of load drift.
    """
    from tqdm import tqdm

    from stimuli import StoreWriter

    records = Records()
    path = folder / "bench.h5"
    times: list[float] = []
    cpu: list[float] = []
    loads: dict[int, float] = {}
    marks = set(checkpoints(n))
    w = StoreWriter(path, config_text="benchmark = 'store_append'\n")
    w.add_model(records.model)
    w.add_scene(records.scene)
    for i in tqdm(range(1, n + 1), desc="add metamers", unit="metamer"):
        wall, c = _timed_add(w, records.metamer(i))
        times.append(wall)
        cpu.append(c)
        if i in marks:
            loads[i] = os.getloadavg()[0]
    pairs = []
    if interleave:
        small = StoreWriter(folder / "small.h5", config_text="benchmark = 'store_append small'\n")
        small.add_model(records.model)
        small.add_scene(records.scene)
        for i in range(1, 10):
            small.add_metamer(records.metamer(100_000 + i))
        for r in tqdm(range(interleave), desc="paired adds", unit="pair"):
            at_small = _timed_add(small, records.metamer(100_010 + r))
            at_big = _timed_add(w, records.metamer(n + 1 + r))
            pairs.append({"small_n": 10 + r, "big_n": n + 1 + r, "small_s": at_small[0], "big_s": at_big[0],
                          "small_cpu_s": at_small[1], "big_cpu_s": at_big[1]})
        small.close()
    on_disk = path.stat().st_size + _folder_bytes(path.with_name(path.name + ".journal"))
    n_packed = len(w.pending)
    t0 = time.perf_counter()
    w.close()
    close_s = time.perf_counter() - t0
    size = path.stat().st_size
    copy = folder / "copy.h5"
    t0 = time.perf_counter()
    shutil.copyfile(path, copy)
    from stimuli.fsutil import fsync_file

    fsync_file(copy)
    copy_s = time.perf_counter() - t0
    copy.unlink()
    rows = [{"n": c, **window_stats(times, c, window), "cpu_mean_s": statistics.fmean(cpu[max(0, c - window):c]),
             "load_1m": loads.get(c)} for c in checkpoints(n)]
    return {"times_s": times, "cpu_s": cpu, "rows": rows, "pairs": pairs, "close_s": close_s, "copy_s": copy_s,
            "store_bytes": size, "bytes_before_close": on_disk, "units_packed": n_packed, "total_add_s": sum(times)}


def markdown(res: dict[str, Any], n: int, window: int) -> str:
    """The result tables (runs recorded before CPU times and paired adds were measured lack those columns)."""
    rows = res["rows"]
    first, last = rows[0], rows[-1]
    has_cpu = "cpu_mean_s" in first
    table = md_table(
        ["metamer n", f"mean wall s of the {window} adds ending at n", "median (s)", "max (s)"]
        + (["mean CPU s"] if has_cpu else []) + ["load (1 min)"],
        [[r["n"], f"{r['mean_s']:.3f}", f"{r['median_s']:.3f}", f"{r['max_s']:.3f}"]
         + ([f"{r['cpu_mean_s']:.3f}"] if has_cpu else [])
         + ["" if r["load_1m"] is None else f"{r['load_1m']:.1f}"] for r in rows],
    )
    out = (
        f"{n} synthetic metamers at {SIZE} px x {VIEWS} views, R = {RENDERS} display renders, {NULLS} null displays, "
        f"HDR; smooth images (gzip compresses them as it does real renders).\n\n{table}\n\n"
        f"Mean wall time per add at n = {last['n']} / at n = {first['n']}: **{last['mean_s'] / first['mean_s']:.2f}x** "
        f"(median {last['median_s'] / first['median_s']:.2f}x"
        + (f"; CPU time {last['cpu_mean_s'] / first['cpu_mean_s']:.2f}x" if has_cpu else "")
        + f"). All adds: {res['total_add_s']:.0f} s.\n"
    )
    pairs = res.get("pairs") or []
    if pairs:
        wall = [p["big_s"] / p["small_s"] for p in pairs]
        cpu = [p["big_cpu_s"] / max(p["small_cpu_s"], 1e-9) for p in pairs]
        out += (
            f"\nPaired adds ({len(pairs)} pairs, alternating, so both see the same load): an add to the set of "
            f"{pairs[0]['big_n']}-{pairs[-1]['big_n']} metamers against an add to a set of "
            f"{pairs[0]['small_n']}-{pairs[-1]['small_n']}: wall-time ratio median **{statistics.median(wall):.2f}x** "
            f"(range {min(wall):.2f}-{max(wall):.2f}), CPU-time ratio median {statistics.median(cpu):.2f}x; "
            f"median add {statistics.median(p['big_s'] for p in pairs):.3f} s (big) vs "
            f"{statistics.median(p['small_s'] for p in pairs):.3f} s (small).\n"
        )
    gib = res["store_bytes"] / 2**30
    out += (
        f"\nClosing the writer: {res['close_s']:.1f} s for a {gib:.2f} GiB store "
        f"({res['bytes_before_close'] / 2**30:.2f} GiB on disk before closing); a plain copy + fsync of the "
        f"finished file took {res['copy_s']:.1f} s (close / copy = {res['close_s'] / max(res['copy_s'], 1e-9):.2f}).\n"
    )
    return out


def previous_section(name: str) -> str:
    """The table of an earlier result ``results/NAME.json``, with the command and commit that made it."""
    from benchmarks._common import RESULTS

    old = json.loads((RESULTS / f"{name}.json").read_text())
    m = old["machine"]
    return (f"\n## Earlier run: `{name}`\n\nCommand: `{old['command']}` (commit {m['git_commit']}, {m['when']}, "
            f"load average at the end {m['load_average_1m_5m_15m'][0]:.1f}).\n\n"
            + markdown(old, old["n"], old["window"]))


def report(name: str, previous: str | None) -> str:
    """Re-render ``results/NAME.md`` from ``results/NAME.json`` (plus ``previous``); return the text."""
    from benchmarks._common import RESULTS

    res = json.loads((RESULTS / f"{name}.json").read_text())
    m = res["machine"]
    text = (f"# {name}\n\nCommand: `{res['command']}`\n\nMachine: {m['cpu_count']} CPU cores, Python "
            f"{m['python']}, load average at the end {m['load_average_1m_5m_15m'][0]:.1f}; {m['when']}; "
            f"commit {m['git_commit']}.\n\n" + markdown(res, res["n"], res["window"])
            + (previous_section(previous) if previous else ""))
    (RESULTS / f"{name}.md").write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and record ``benchmarks/results/NAME.{json,md}``."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="metamers to add (default 2000)")
    ap.add_argument("--window", type=int, default=8, help="adds averaged at each checkpoint (default 8)")
    ap.add_argument("--name", default="store_append", help="result name (default store_append)")
    ap.add_argument("--dir", default=tempfile.gettempdir(), help="where the temporary store goes")
    ap.add_argument("--pairs", type=int, default=16, help="paired adds, big vs small store (default 16; 0: none)")
    ap.add_argument("--previous", default=None, help="add the table of results/PREVIOUS.json (an earlier run)")
    ap.add_argument("--report", action="store_true", help="only re-render results/NAME.md from its json")
    args = ap.parse_args(argv)
    if args.report:
        print(report(args.name, args.previous))
        return 0
    need = int(2.2 * (args.n + args.pairs) * BYTES_PER_METAMER) + (1 << 30)
    free = shutil.disk_usage(args.dir).free
    if free < 2 * need:
        print(f"store_append: {args.dir} has {free / 2**30:.1f} GiB free; this run needs about "
              f"{need / 2**30:.1f} GiB and keeps half the disk's free space for others. Use a smaller --n",
              file=sys.stderr)
        return 2
    folder = Path(tempfile.mkdtemp(prefix="store_append-", dir=args.dir))
    try:
        res = run(args.n, args.window, folder, args.pairs)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    command = "nice -n 10 .venv/bin/python benchmarks/store_append.py " + " ".join(argv if argv is not None
                                                                                  else sys.argv[1:])
    data = {"n": args.n, "window": args.window, "size": SIZE, "views": VIEWS, "renders": RENDERS, "nulls": NULLS,
            **res}
    md = markdown(res, args.n, args.window) + (previous_section(args.previous) if args.previous else "")
    write_results(args.name, command.strip(), data, md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
