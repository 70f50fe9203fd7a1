"""Experiment config: the shipped default and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from psychophysics.config import DEFAULT_CONFIG_PATH, ExperimentConfig, load_config
from stimuli.errors import MRDError


def test_default_has_the_literature_conventions() -> None:
    cfg = load_config(DEFAULT_CONFIG_PATH)
    p, d, k = cfg.presentation, cfg.design, cfg.keys
    assert (p.mode, p.stimulus_ms, p.response_window_ms, p.feedback_in_main) == ("spatial", 200, 1200, False)
    assert (d.practice_trials, d.break_every) == (24, 72)
    assert (k.position_1, k.position_2, k.position_3) == (["1", "left"], ["2", "down"], ["3", "right"])
    assert cfg.monitor.distance_cm > 0 and cfg.monitor.width_cm > 0
    assert cfg == ExperimentConfig()  # the file spells out the defaults
    assert ExperimentConfig.from_dict(cfg.to_dict()) == cfg


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[presentation]\nstimulus_ms = -5\n", r"presentation\.stimulus_ms' = -5"),
        ("[presentation]\nmode = 'spacial'\n", r"presentation\.mode' = 'spacial'.*'spatial' or 'temporal'"),
        ("[design]\nbreak_evry = 10\n", r"design\.break_evry' = 10: Extra inputs"),
        ("[keys]\nquit = ['2']\n", "key '2' is used by both position_2 and quit"),
        ("[presentation]\nimage_size_deg = 9\n", "would overlap"),
        ("[presentation]\nbackground = [0, 0, 2]\n", "-1..1"),
        ("[monitor]\nresolution = [0, 1080]\n", "must be positive"),
        ("[design]\npractice_source = 'own'\n", "needs practice_metamers"),
        ("[design\n", "not valid TOML"),
    ],
)
def test_errors_name_file_field_and_value(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(MRDError, match=expected) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_missing_file() -> None:
    with pytest.raises(MRDError, match="cannot read experiment config"):
        load_config("/nonexistent/exp.toml")
