"""Experiment config: the shipped default, strict types and bounds, clear errors naming file, field, value."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from psychophysics.calibration import drive_table, read_lut, srgb_to_linear
from psychophysics.config import DEFAULT_CONFIG_PATH, ExperimentConfig, Monitor, load_config
from stimuli.errors import MRDError


def test_default_has_the_literature_conventions() -> None:
    cfg = load_config(DEFAULT_CONFIG_PATH)
    p, d, k = cfg.presentation, cfg.design, cfg.keys
    assert (p.mode, p.stimulus_ms, p.response_window_ms, p.feedback_in_main) == ("spatial", 200, 1200, False)
    assert (d.practice_trials, d.break_every, d.only_successful) == (24, 72, True)
    assert (k.position_1, k.position_2, k.position_3) == (
        ["1", "left", "num_1"], ["2", "down", "num_2"], ["3", "right", "num_3"],
    )  # fmt: skip
    assert cfg.monitor.distance_cm > 0 and cfg.monitor.width_cm > 0 and cfg.monitor.calibration == "none"
    assert cfg == ExperimentConfig()  # the file spells out the defaults
    assert ExperimentConfig.from_dict(cfg.to_dict()) == cfg
    demo = load_config(DEFAULT_CONFIG_PATH.parent / "demo.toml")
    assert demo.design.break_every < 68  # the demo set's 68 main trials get at least one break


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "exp.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[presentation]\nstimulus_ms = -5\n", r"field 'presentation\.stimulus_ms' = -5: out of range; give a number > 0"),
        ("[presentation]\nstimulus_ms = inf\n", r"'presentation\.stimulus_ms' = inf: give a finite number > 0"),
        ("[presentation]\nstimulus_ms = nan\n", r"'presentation\.stimulus_ms' = nan: give a finite number"),
        ("[presentation]\nstimulus_ms = true\n", r"'presentation\.stimulus_ms' = True: a boolean is not a number"),
        ("[presentation]\nstimulus_ms = '200'\n", r"'presentation\.stimulus_ms' = '200': give a number"),
        ("[design]\nrepeats = 2.5\n", r"'design\.repeats' = 2\.5: give a whole number >= 1"),
        ("[design]\nrepeats = true\n", r"'design\.repeats' = True: a boolean is not a number"),
        ("[design]\nviews = [true]\n", r"'design\.views\[0\]' = True: a boolean is not a number"),
        ("[design]\nseed = 1e30\n", r"'design\.seed'"),
        ("[design]\nonly_successful = 1\n", r"'design\.only_successful' = 1: give true or false"),
        ("[presentation]\nmode = 'spacial'\n", r"presentation\.mode' = 'spacial': give one of 'spatial' or 'temporal'"),
        ("[design]\nbreak_evry = 10\n", r"design\.break_evry' = 10: unknown field"),
        ("[keys]\nquit = ['2']\n", "key '2' is used by both position_2 and quit"),
        ("[keys]\nproceed = ['spcae']\n", r"'keys\.proceed\[0\]' = 'spcae': .*did you mean 'space'"),
        ("[keys]\nposition_1 = ['Left']\n", r"'keys\.position_1\[0\]' = 'Left': .*not a key name PsychoPy reports"),
        ("[keys]\nposition_1 = []\n", "give at least one key name"),
        ("[presentation]\nimage_size_deg = 9\n", "would overlap"),
        ("[presentation]\nbackground = [0, 0, 2]\n", r"'presentation\.background\[2\]' = 2: out of range"),
        ("[monitor]\nresolution = [0, 1080]\n", r"'monitor\.resolution\[0\]' = 0: out of range; give a number >= 1"),
        ("[monitor]\nwidth_cm = 1e300\n", r"'monitor\.width_cm'.*<= 10000"),
        ("[monitor]\ncalibration = 'gamma'\n", "needs the measured white_cd_m2 > black_cd_m2"),
        ("[monitor]\ncalibration = 'lut'\nwhite_cd_m2 = 100\n", "needs lut_file"),
        ("[design]\npractice_source = 'own'\n", "needs practice_metamers"),
        ("[presentation]\ninstructions = 'Press {procede}'\n", r"unknown placeholder\(s\) \{procede\}; allowed: \{keys\}"),
        ("[presentation]\ninstructions = 'a { b'\n", r"instructions' = 'a \{ b'.*literal brace"),
        ("[presentation]\ninstructions = '{keys.x}'\n", r"unknown placeholder"),
        ("[presentation]\ninstructions = '{0}'\n", r"unknown placeholder"),
        ("[presentation]\ncorrect_colour_name = '" + "x" * 100 + "'\n", r"too long \(100 characters\); at most 40"),
        ("[design\n", "not valid TOML"),
        (b"[design]\nseed = 1 # \xff\xfe\n", r"not UTF-8 text \(byte 0xff at offset 20"),
        (b"[design]\x00\n", "NUL byte"),
    ],
)
def test_errors_name_file_field_and_value(tmp_path: Path, text: str | bytes, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(MRDError, match=expected) as info:
        load_config(path)
    assert str(info.value).startswith(str(path))


def test_placeholders_fill_in() -> None:
    cfg = ExperimentConfig.model_validate({"presentation": {"instructions": "{stimulus_ms} ms, {{literal}}"}})
    assert cfg.presentation.instructions.format(stimulus_ms=200) == "200 ms, {literal}"


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(MRDError, match="cannot read experiment config"):
        load_config("/nonexistent/exp.toml")
    with pytest.raises(MRDError, match="is a folder"):
        load_config(tmp_path)


def test_gamma_calibration_makes_sent_luminance_linear() -> None:
    """Independent truth: a display L(d) = black + (white-black) (d/255)^gamma shows s(v) after the table."""
    m = Monitor(calibration="gamma", gamma=2.4, white_cd_m2=120.0, black_cd_m2=0.4)
    t = drive_table(m)[:, 0].astype(float)
    shown = (t / 255.0) ** 2.4
    wanted = srgb_to_linear(np.arange(256) / 255.0)
    assert np.max(np.abs(shown - wanted)) < 0.01 and t[0] == 0 and t[255] == 255


def test_lut_calibration_inverts_the_measured_table(tmp_path: Path) -> None:
    d = np.arange(256) / 255.0
    lum = 0.5 + 99.5 * d**2.0  # a display with gamma 2.0
    lut = tmp_path / "lut.txt"
    lut.write_text("# measured\n" + "\n".join(f"{v:.5f}" for v in lum), encoding="utf-8")
    cfg_path = write(tmp_path, f"[monitor]\ncalibration = 'lut'\nlut_file = '{lut.name}'\nwhite_cd_m2 = 100\nblack_cd_m2 = 0.5\n")
    cfg = load_config(cfg_path)
    assert cfg.monitor.lut_file == str(lut.resolve())  # relative to the config's folder
    t = drive_table(cfg.monitor)[:, 1].astype(float)
    shown = (np.interp(t, np.arange(256), lum) - lum[0]) / (lum[-1] - lum[0])
    assert np.max(np.abs(shown - srgb_to_linear(d))) < 0.01
    lut.write_text("\n".join(["1"] * 10), encoding="utf-8")
    with pytest.raises(MRDError, match="has 10 rows; give 256"):
        load_config(cfg_path)
    lut.write_text("\n".join(f"{v}" for v in lum[::-1]), encoding="utf-8")
    with pytest.raises(MRDError, match="must not decrease"):
        read_lut(lut)
