"""Analyse a published oddity data set: Wallis et al. (2017), experiment 1 (about 10 s).

Run: ``.venv/bin/python examples/03_published_table.py [OUT_DIR] [TRIALS_CSV]``. Reads the
trial table from ``../shared/datasets/wallis2017_oddity/experiment11_trials.csv`` (next to a clone
of this repository; pass another path as the second argument), analyses proportion correct and
oddity d' per model and presentation condition with the binomial mixed model, and writes tables,
figures and ``report.html`` into ``OUT_DIR/wallis``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from analysis import analyze

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "wallis2017_oddity" / "experiment11_trials.csv"


def main(out: Path, trials: Path = DEFAULT) -> Path:
    if not trials.exists():
        raise SystemExit(f"{trials}: not found; give the path of a Wallis et al. trial table as the second argument")
    res = analyze(
        trials=trials, out=out / "wallis", participant_col="subject", item_cols=["image"],
        condition_cols=["model", "presentation"], correct_col="correct", progress=False,
    )  # fmt: skip
    a = res.data.analysed
    print(f"{len(a)} trials, {a['subject'].nunique() if 'subject' in a else a['participant'].nunique()} participants; "
          f"report: {out / 'wallis' / 'report.html'}")
    return out / "wallis" / "report.html"


if __name__ == "__main__":
    argv = sys.argv[1:]
    main(Path(argv[0]) if argv else Path("examples_output"), Path(argv[1]) if len(argv) > 1 else DEFAULT)
