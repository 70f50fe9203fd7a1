"""The independent recheck: fresh renders of the stored parameters, reproducible per seed, independent across seeds."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from mrd.synthesis.generate import generate
from mrd.synthesis.recheck import main, recheck
from stimuli import StimulusSet

sys.path.insert(0, str(Path(__file__).parent))
from luminance_set import luminance_set  # noqa: E402

CONFIG = luminance_set(2)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    d = tmp_path_factory.mktemp("recheck")
    (d / "set.toml").write_text(CONFIG)
    generate(d / "set.toml", d / "set.h5", progress=False)
    return d / "set.h5"


def test_same_seed_same_numbers_other_seed_other_renders(store):
    a = recheck(store, triplets=60, renders=4, nulls=2)
    b = recheck(store, triplets=60, renders=4, nulls=2)
    c = recheck(store, triplets=60, renders=4, nulls=2, seed=12345)
    assert [r.unit for r in a.rows] == [r.unit for r in c.rows]
    assert [(r.pc, r.pc_all, r.distance_ratio) for r in a.rows] == [(r.pc, r.pc_all, r.distance_ratio) for r in b.rows]
    assert [r.distance_ratio for r in a.rows] != [r.distance_ratio for r in c.rows]
    with StimulusSet(store) as s:
        (mid,) = s.metamer_ids
        stored = bool(s.metamer(mid, images=False).success)
    (m,) = a.metamers()
    assert m.unit == mid and m.stored_success == stored and m.n == 60
    assert len(a.nulls()) == 2 and all(r.stored_success is None for r in a.nulls())
    for r in a.rows:  # 4 renders per scene: every distinct triplet judged, and a render-level error
        assert 0.0 <= r.pc_all <= 1.0 and r.se_renders is not None and r.se_renders >= 0.0
        assert r.ci_low <= r.pc <= r.ci_high


def test_cli_exit_code_is_the_rule(store, capsys):
    rc = main([str(store), "--triplets", "40", "--renders", "3", "--nulls", "1"])
    out = capsys.readouterr().out
    res = recheck(store, triplets=40, renders=3, nulls=1)
    bad = [r for r in res.metamers(successful=True) if r.pc > 0.45]
    assert rc == (1 if bad else 0)
    assert "successful metamers:" in out and res.rows[0].unit in out
    assert np.isfinite(res.rows[0].distance_ratio)
