"""Loading session data against the store (digest checks, joins, flags) and the generic table entry."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from analysis.load import load_sessions
from analysis.load_table import load_trials_table
from analysis.observer import fit_sigma
from analysis.synthetic import simulate_sessions
from stimuli import StimulusSet
from stimuli.errors import MRDError


def _copy(data: Path, dest: Path) -> Path:
    shutil.copytree(data, dest)
    return dest


def test_trials_joined_with_store_metadata(sessions: tuple[Path, Path, pd.DataFrame]) -> None:
    store, data, truth = sessions
    d = load_sessions(data, store)
    t = d.trials
    assert len(t) == len(truth)
    rows = t[~t["is_catch"]].sample(25, random_state=0)
    with StimulusSet(store) as s:
        for _, r in rows.iterrows():
            rec = s.metamer(r["metamer_id"], images=False)
            assert (r["scene_id"], r["model_id"], r["group"], r["success"]) == (
                rec.scene_id,
                rec.model_id,
                rec.group,
                rec.success,
            )
            cos = rec.similarity[rec.model_id].cosine
            assert r["similarity"] == pytest.approx(cos[int(r["view"])].mean())
            assert r["distance"] == pytest.approx(1 - cos[int(r["view"])].mean())
            assert r["phys_param_l2"] == pytest.approx(rec.physical_distance["param_l2"])
            other = rec.similarity["netB"]
            assert r["sim:netB:l2"] == pytest.approx(other.cosine[:, 1].mean())
    assert set(d.similarities.columns) == {"metamer_id", "scoring_model", "layer", "view", "cosine", "rel_l2"}
    assert d.source["digest"] and d.condition_cols == ["group", "model_id"]


def test_roles_and_session_table(sessions: tuple[Path, Path, pd.DataFrame]) -> None:
    store, data, _ = sessions
    d = load_sessions(data, store)
    t = d.trials
    expected_analysed = 0
    for path in sorted(data.glob("*_trials.csv")):  # count with the csv module, not pandas
        with open(path, newline="") as fh:
            for row in csv.DictReader(fh):
                expected_analysed += row["block_type"] == "main" and row["is_catch"] == "0"
    assert int(t["analysed"].sum()) == expected_analysed
    assert not t.loc[t["block_type"] == "practice", "analysed"].any()
    assert not t.loc[t["metamer_id"].str.startswith("catch:"), "analysed"].any()
    ses = d.sessions.set_index("participant")
    assert len(ses) == 6 and not ses.loc["P06", "completed"] and ses.drop("P06")["completed"].all()
    assert ses.loc["P06", "n_trials_done"] < ses.loc["P06", "n_trials_planned"]
    assert (ses["n_practice"] == 8).all()
    catch = t[t["is_catch"] & (t["block_type"] == "main")]
    assert ses["n_catch"].sum() == len(catch)
    missed = t[t["response_position"].isna()]
    assert (missed["correct"] == 0).all() and not missed["responded"].any()


def test_foreign_digest_is_refused(sessions: tuple[Path, Path, pd.DataFrame], tmp_path: Path) -> None:
    store, data, _ = sessions
    mixed = _copy(data, tmp_path / "mixed")
    foreign = tmp_path / "foreign"
    simulate_sessions(store, foreign, n_participants=1, n_main=10, seed=3, digest="ab" * 32)
    for f in foreign.iterdir():
        shutil.copy(f, mixed / f.name.replace("P01", "X99"))
    with pytest.raises(MRDError) as info:
        load_sessions(mixed, store)
    msg = str(info.value)
    assert "sub-X99_ses-1_trials.csv" in msg and "abababababababab" in msg and str(store) in msg


def test_other_defects_are_refused(sessions: tuple[Path, Path, pd.DataFrame], tmp_path: Path) -> None:
    store, data, _ = sessions
    a = _copy(data, tmp_path / "a")
    (a / "sub-P02_ses-1_session.json").unlink()
    with pytest.raises(MRDError, match="sub-P02_ses-1_session.json is missing"):
        load_sessions(a, store)

    b = _copy(data, tmp_path / "b")
    p = b / "sub-P03_ses-1_trials.csv"
    df = pd.read_csv(p, dtype=str, keep_default_na=False)
    df.loc[10, "metamer_id"] = "no-such-metamer"
    df.to_csv(p, index=False)
    with pytest.raises(MRDError, match="sub-P03_ses-1_trials.csv: metamer_id 'no-such-metamer'"):
        load_sessions(b, store)

    c = _copy(data, tmp_path / "c")
    p = c / "sub-P01_ses-1_trials.csv"
    df = pd.read_csv(p, dtype=str, keep_default_na=False)
    df.loc[3, "correct"] = "yes"
    df.to_csv(p, index=False)
    with pytest.raises(MRDError, match="column 'correct' has value 'yes'"):
        load_sessions(c, store)

    e = _copy(data, tmp_path / "e")
    side = e / "sub-P01_ses-1_session.json"
    info = json.loads(side.read_text())
    del info["stimulus_digest"]
    side.write_text(json.dumps(info))
    with pytest.raises(MRDError, match="sidecar keys missing: stimulus_digest"):
        load_sessions(e, store)

    (tmp_path / "empty").mkdir()
    with pytest.raises(MRDError, match="no session files"):
        load_sessions(tmp_path / "empty", store)


def test_generic_table(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    pd.DataFrame(
        {
            "subj": ["a", "a", "b", "b"],
            "img": ["x", "y", "x", "y"],
            "model": ["m1", "m2", "m1", "m2"],
            "pres": ["P", "I", "P", "I"],
            "ok": [1, 0, 1, 1],
            "dist": [0.1, 0.2, 0.1, 0.2],
        }
    ).to_csv(p, index=False)
    d = load_trials_table(p, "subj", "img", ["model", "pres"], "ok", x_col="dist")
    assert d.trials["condition"].tolist() == ["m1 / P", "m2 / I", "m1 / P", "m2 / I"]
    assert d.trials["distance"].tolist() == [0.1, 0.2, 0.1, 0.2] and d.trials["analysed"].all()
    with pytest.raises(
        MRDError, match="column\\(s\\) 'correct', 'item', 'condition' not found; the table has subj"
    ):
        load_trials_table(p, "subj")
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"participant": ["a"], "item": ["x"], "condition": ["c"], "correct": [2]}).to_csv(
        bad, index=False
    )
    with pytest.raises(MRDError, match="expected 0 or 1"):
        load_trials_table(bad)


def test_psychophysics_session_files(store: Path, tmp_path: Path) -> None:
    """Contract test: sessions written by the psychophysics package's simulated model observer load,
    and the analysis' model observer recovers the sigma it was simulated with."""
    simulate = pytest.importorskip("psychophysics.simulate")
    cfg = tmp_path / "exp.toml"
    cfg.write_text(
        "[design]\nrepeats = 2\npractice_trials = 4\ncatch_trials = 6\nbreak_every = 50\n"
        "[observers.model]\nsigma = 0.04\n"
    )
    simulate.simulate_participants(
        store, 3, "model", tmp_path / "data", seed=3, config_path=cfg, progress=False
    )
    d = load_sessions(tmp_path / "data", store)
    t = d.trials
    assert set(t.loc[t["is_catch"], "group"]) == {"catch"} and not t.loc[t["is_catch"], "analysed"].any()
    assert (d.sessions["observer"] == "model").all() and d.sessions["completed"].all()
    fit = fit_sigma(d.analysed)
    assert fit.lo < 0.04 < fit.hi
    assert np.isfinite(d.analysed["similarity"]).all()


def test_similarity_model_option(sessions: tuple[Path, Path, pd.DataFrame]) -> None:
    store, data, _ = sessions
    d = load_sessions(data, store, similarity_model="netB")
    r = d.analysed.iloc[0]
    with StimulusSet(store) as s:
        cos = s.metamer(r["metamer_id"], images=False).similarity["netB"].cosine
    assert r["similarity"] == pytest.approx(cos[int(r["view"])].mean())
    assert d.source["similarity_model"] == "netB"
    with pytest.raises(MRDError, match="similarity model 'netZ' is not in the store; models: netA, netB"):
        load_sessions(data, store, similarity_model="netZ")


def _tampered(store: Path, dest: Path, how: str) -> Path:
    shutil.copy(store, dest)
    with h5py.File(dest, "a") as f:
        m = f["metamers"][sorted(f["metamers"])[3]]
        if how == "pixel":  # one display pixel; the stored digest attribute is left as it was
            m["display"][0, 1, 2, 0] ^= 1
        elif how == "similarity":
            m["similarity"][m.attrs["model_id"]]["cosine"][0, 0] += 1e-3
        elif how == "success":
            m.attrs["success"] = not bool(m.attrs["success"])
    return dest


def test_changed_display_pixel_is_refused_naming_the_set(
    sessions: tuple[Path, Path, pd.DataFrame], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, data, _ = sessions
    bad = _tampered(store, tmp_path / "tampered.h5", "pixel")
    with StimulusSet(bad) as s:
        assert s.digest == StimulusSet(store).digest  # the attribute alone would not tell
    with pytest.raises(MRDError) as info:
        load_sessions(data, bad)
    msg = str(info.value)
    assert str(bad) in msg and "no longer give its stored content digest" in msg and "/display" in msg
    from mrd.cli import main

    out = tmp_path / "out"
    assert main(["analyze", "--data", str(data), "--stimuli", str(bad), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "tampered.h5" in err and "Traceback" not in err
    assert not (out / "report.html").exists()


@pytest.mark.parametrize("how", ["similarity", "success"])
def test_changed_stored_numbers_are_refused(
    sessions: tuple[Path, Path, pd.DataFrame], tmp_path: Path, how: str
) -> None:
    store, data, _ = sessions
    bad = _tampered(store, tmp_path / f"{how}.h5", how)
    with pytest.raises(MRDError, match="stored numbers changed after writing") as info:
        load_sessions(data, bad)
    assert str(bad) in str(info.value)


def test_load_result_states_what_was_verified(sessions: tuple[Path, Path, pd.DataFrame]) -> None:
    store, data, _ = sessions
    d = load_sessions(data, store)
    assert d.source["digest_check"].startswith("recomputed from the stimulus set's")
    assert "match their per-dataset checksums" in d.source["metadata_check"]


def test_participant_ids_are_checked_against_file_names(
    sessions: tuple[Path, Path, pd.DataFrame], tmp_path: Path
) -> None:
    store, data, _ = sessions
    a = _copy(data, tmp_path / "a")  # a session renamed to another participant
    for f in list(a.glob("sub-P02_ses-1_*")):
        f.rename(f.with_name(f.name.replace("P02", "P09")))
    with pytest.raises(
        MRDError, match="participant 'P02' differs from the participant 'P09' in its file name"
    ):
        load_sessions(a, store)

    b = _copy(data, tmp_path / "b")  # one row of a CSV edited to another participant
    p = b / "sub-P03_ses-1_trials.csv"
    df = pd.read_csv(p, dtype=str, keep_default_na=False)
    df.loc[7, "participant"] = '=HYPERLINK("http://x")'
    df.to_csv(p, index=False)
    with pytest.raises(
        MRDError,
        match=r"sub-P03_ses-1_trials.csv: column 'participant' has value .*HYPERLINK.* in "
        r"row 9, but the file name says participant 'P03'",
    ):
        load_sessions(b, store)

    c = _copy(data, tmp_path / "c")
    (c / "sub-P04_ses-1_trials.csv").write_text("")
    with pytest.raises(MRDError, match="sub-P04_ses-1_trials.csv: is empty"):
        load_sessions(c, store)


def _table(tmp_path: Path, text: str | bytes, name: str = "t.csv") -> Path:
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return p


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "t.csv: is empty"),
        ("participant,item,condition,correct\n", "has a header but no trial rows"),
        (b"participant,item,condition,correct\nA,x,c,1\nB,\x00y,c,0\n", "line 3 holds a NUL byte"),
        (
            "participant,item,condition,correct,d\nA,x,c,1,0.1\nB,y,c,0,inf\n",
            "column 'd' has value inf in row 3; --x-col needs a finite number",
        ),
        (
            "participant,item,condition,correct,d\nA,x,c,1,-0.5\n",
            "column 'd' has value -0.5 in row 2; a stimulus difference cannot be negative",
        ),
        ("participant,item,condition,correct,d\nA,x,c,1,\n", "column 'd' has value nan in row 2"),
        ("participant,item,condition,correct,d\nA,x,c,1,abc\n", "column 'd' has value 'abc' in row 2"),
        ("participant,item,condition,correct,d\n,x,c,1,0.1\n", "column 'participant' is empty in row 2"),
        (
            "participant,item,condition,correct,d\nA,x,c,2,0.1\n",
            "column 'correct' has value 2 .row 2.; expected 0 or 1",
        ),
        (b"participant,item\n\xff\xfe,x\n", "not a readable CSV"),
    ],
)
def test_trials_table_input_errors_name_file_column_row_value(tmp_path: Path, content, message: str) -> None:
    p = _table(tmp_path, content)
    x = "d" if (b"d\n" if isinstance(content, bytes) else "d\n") in content else None
    with pytest.raises(MRDError, match=message) as info:
        load_trials_table(p, x_col=x)
    assert str(p) in str(info.value)


def test_trials_table_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(MRDError, match="dir.csv: is a folder"):
        load_trials_table(tmp_path / "dir.csv")


CELLS = [
    "0",
    "1",
    "1.0",
    "2",
    "",
    "inf",
    "-inf",
    "nan",
    "-1",
    "-0.0",
    "1e400",
    "0.25",
    "=cmd|' /C calc'!A0",
    "@SUM(1)",
    "\x00",
    "a,b",
    '"',
    "\n",
    "é",
    "True",
    " 1",
    "0x1",
]


def test_trials_table_fuzz_gives_success_or_a_clear_error(tmp_path: Path) -> None:
    """Hypothesis fuzz (bounded): every table loads or raises MRDError naming the file; never a traceback."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    counts = {"cases": 0, "loaded": 0, "clear_error": 0}
    columns = ["participant", "item", "condition", "correct", "d"]
    cell = st.sampled_from(CELLS) | st.text(max_size=6)
    header = st.one_of(
        st.just(columns),
        st.just(columns),
        st.just(columns),
        st.lists(st.sampled_from([*columns, "x", ""]), min_size=0, max_size=6),
    )
    ids = st.sampled_from(["A", "B", "P01", "x y", "=1+2", "@me"])
    good = st.tuples(
        ids, ids, ids, st.sampled_from(["0", "1"]), st.sampled_from(["0", "0.1", "0.5", "3"])
    ).map(list)

    def spoil(row_cell):
        row, (i, value) = row_cell
        row[i % len(row)] = value
        return row

    spoiled = st.tuples(good, st.tuples(st.integers(0, 4), cell)).map(spoil)
    row = st.one_of(good, good, good, spoiled, st.lists(cell, min_size=0, max_size=7))
    table = st.tuples(header, st.lists(row, max_size=12))

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(
        table=table,
        raw=st.booleans(),
        junk=st.binary(max_size=40),
        use_junk=st.integers(0, 19),
        x=st.booleans(),
    )
    def one(table, raw, junk, use_junk, x) -> None:
        head, rows = table
        p = tmp_path / "fuzz.csv"
        if use_junk == 0:
            p.write_bytes(junk)
        elif raw:  # as typed by hand: no quoting at all
            p.write_text(
                "\n".join(",".join(r) for r in [head, *rows]), encoding="utf-8", errors="surrogatepass"
            )
        else:
            with open(p, "w", newline="", encoding="utf-8", errors="surrogatepass") as fh:
                csv.writer(fh).writerows([head, *rows])
        counts["cases"] += 1
        try:
            d = load_trials_table(p, x_col="d" if x else None)
        except MRDError as exc:
            assert str(p) in str(exc)
            counts["clear_error"] += 1
            return
        counts["loaded"] += 1
        t = d.trials
        assert set(t["correct"].unique()) <= {0, 1} and len(t) > 0
        assert t["participant"].map(lambda v: isinstance(v, str) and v != "").all()
        if x:
            assert np.isfinite(t["distance"]).all() and (t["distance"] >= 0).all()

    one()
    print(f"trials-table fuzz: {counts}")
    assert counts["cases"] == 200 and counts["loaded"] + counts["clear_error"] == 200
    assert counts["loaded"] > 0 and counts["clear_error"] > 0
