"""Benchmark (not a test): coverage of the psychometric-fit intervals over many simulated observers.

The test suite checks 30 seeded repetitions; this runs 500 per design. Each repetition simulates an
observer with a known Weibull psychometric function of model distance (guess 1/3, lapse 0.04),
fits it by maximum likelihood and records whether each true parameter lies inside its 95% Wald
interval (observed Fisher information). Coverage is reported with a Wilson interval.

Run::

    .venv/bin/python benchmarks/psychometric_recovery.py

Results go to ``benchmarks/results/psychometric_recovery.json`` and ``.md``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.oddity import binomial_ci  # noqa: E402
from analysis.psychometric import PARAMS, fit_psychometric, predict  # noqa: E402

TRUE = {"alpha": 0.05, "beta": 1.5, "lapse": 0.04}
REPS = 500
DESIGNS = (300, 1000, 3000)
RESULTS = Path(__file__).resolve().parent / "results"
COMMAND = ".venv/bin/python benchmarks/psychometric_recovery.py"


def main() -> int:
    """Run the coverage study and write its results."""
    rows = []
    t0 = time.perf_counter()
    for n_trials in DESIGNS:
        hits = dict.fromkeys(PARAMS, 0)
        for rep in tqdm(range(REPS), desc=f"{n_trials} trials"):
            rng = np.random.default_rng(10_000 + rep)
            x = np.exp(rng.uniform(np.log(0.003), np.log(0.4), n_trials))
            c = (rng.random(n_trials) < predict(x, **TRUE)).astype(int)
            fit = fit_psychometric(x, c)
            for p in PARAMS:
                hits[p] += fit.ci[p][0] <= TRUE[p] <= fit.ci[p][1]
        for p in PARAMS:
            lo, hi = binomial_ci(hits[p], REPS)
            rows.append(
                {
                    "trials": n_trials,
                    "parameter": p,
                    "true": TRUE[p],
                    "coverage": hits[p] / REPS,
                    "coverage_lo": float(lo),
                    "coverage_hi": float(hi),
                    "reps": REPS,
                }
            )
    elapsed = time.perf_counter() - t0
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {
        "benchmark": "psychometric_recovery",
        "command": COMMAND,
        "nominal": 0.95,
        "rows": rows,
        "seconds": round(elapsed, 1),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    (RESULTS / "psychometric_recovery.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Psychometric fit: interval coverage",
        "",
        f"Command: `{COMMAND}` ({result['date']}; {elapsed:.0f} s). {REPS} simulated observers per design, "
        f"true alpha = {TRUE['alpha']}, beta = {TRUE['beta']}, lapse = {TRUE['lapse']}, distances "
        "log-uniform in [0.003, 0.4]; nominal 95% Wald intervals.",
        "",
        "| trials | parameter | coverage | 95% CI of coverage |",
        "| ---: | --- | ---: | --- |",
    ]
    lines += [
        f"| {r['trials']} | {r['parameter']} | {r['coverage']:.3f} | {r['coverage_lo']:.3f} - "
        f"{r['coverage_hi']:.3f} |"
        for r in rows
    ]
    (RESULTS / "psychometric_recovery.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
