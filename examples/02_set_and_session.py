"""Build a small stimulus set and run simulated participants through the oddity session (about 1-2 min).

Run: ``.venv/bin/python examples/02_set_and_session.py [OUT_DIR]``. Generates the reduced demo set
(``tests/data/tiny_demo.toml``: 2 scenes x {material, shape}, 32 px), then three simulated
"model" observers do the window-less session on it, writing the session-data contract (trials
CSV, sidecar, plan) into ``OUT_DIR/data``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import mrd
import psychophysics

HERE = Path(__file__).resolve().parent
CONFIG = HERE.parent / "tests" / "data" / "tiny_demo.toml"
EXPERIMENT = HERE.parent / "tests" / "data" / "tiny_experiment.toml"


def main(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    store = out / "tiny.h5"
    summary = mrd.generate(CONFIG, store, progress=False)
    print(f"{store}: {len(summary.made)} metamers made, {len(summary.skipped)} already there")
    files = psychophysics.simulate_participants(
        store, 3, "model", out / "data", seed=1, config_path=EXPERIMENT, progress=False
    )
    for f in files:
        print(f)
    return files


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("examples_output"))
