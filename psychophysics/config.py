"""The experiment configuration: a strictly validated TOML file.

An experiment config has five tables: ``[presentation]`` (timing in ms, sizes in degrees of visual
angle or whole-number pixel scales, colours, texts), ``[design]`` (which trials, practice, catch and
noise-floor trials, breaks), ``[keys]``, ``[monitor]`` (geometry, resolution, calibration) and
``[observers.*]`` (parameters of the simulated observers). Every field has a default; the shipped
``psychophysics/experiments/default.toml`` spells them all out. Input rules (:mod:`stimuli.tomlcheck`):
unknown fields are errors, booleans are not numbers, numbers are finite and within the bounds the error
states, texts are length-limited, key names must be names PsychoPy reports
(:mod:`psychophysics.keynames`), and the instructions may use only the placeholders in
:data:`PLACEHOLDERS`. Every problem is reported as ``FILE: field 'a.b' = VALUE: what is allowed``.

Examples
--------
>>> cfg = ExperimentConfig.model_validate({"presentation": {"stimulus_ms": 2000}})
>>> cfg.presentation.stimulus_ms, cfg.presentation.mode, cfg.design.only_successful
(2000.0, 'spatial', True)
>>> cfg.keys.position_of("num_2")
2
"""

from __future__ import annotations

import os
import string
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from psychophysics.keynames import check_key_name
from stimuli.errors import MRDError
from stimuli.tomlcheck import Flag, Integer, Number, StrictModel, Text, read_toml, validate

DEFAULT_CONFIG_PATH = Path(__file__).parent / "experiments" / "default.toml"
"""The shipped default experiment config."""

MS = Number(ge=0, le=600_000)
Channel = Number(ge=-1, le=1)
Colour = tuple[Channel, Channel, Channel]
Key = Annotated[Text(32), AfterValidator(check_key_name)]
Pixels = Integer(ge=1, le=32768)

PLACEHOLDERS = (
    "keys", "proceed", "quit", "stimulus_ms", "response_window_ms", "practice_trials",
    "correct_colour", "incorrect_colour",
)  # fmt: skip
"""Names the instructions text may use as ``{name}``."""

DEFAULT_INSTRUCTIONS = (
    "Three images will appear for {stimulus_ms} ms. Two are the same scene, one is different.\n"
    "Press the key for the odd one out:\n{keys}\n"
    "You have {response_window_ms} ms after the images disappear to answer.\n\n"
    "First come {practice_trials} practice trials: after each, the cross turns {correct_colour} "
    "for a correct answer and {incorrect_colour} for a wrong or missing one. "
    "The main part has no feedback.\n\nPress {proceed} to start."
)


def _check_placeholders(text: str) -> str:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        raise ValueError(f"{exc}; write a literal brace as {{{{ or }}}}") from None
    unknown = sorted({f for f in fields if f not in PLACEHOLDERS})
    if unknown:
        raise ValueError(
            f"unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}; "
            f"allowed: {', '.join('{' + p + '}' for p in PLACEHOLDERS)}"
        )
    try:
        text.format(**{p: "x" for p in PLACEHOLDERS})
    except (ValueError, IndexError, KeyError, AttributeError) as exc:
        raise ValueError(f"cannot be filled in ({exc}); use plain {{name}} placeholders") from None
    return text


class Presentation(StrictModel):
    """How a trial looks and how long each part lasts (durations in ms, sizes in degrees)."""

    mode: Literal["spatial", "temporal"] = "spatial"
    stimulus_ms: Number(gt=0, le=600_000) = 200.0
    isi_ms: MS = Field(400.0, description="temporal mode: blank between intervals")
    fixation_ms: MS = 500.0
    mask_ms: MS = Field(0.0, description="0 = no mask")
    response_window_ms: Number(gt=0, le=600_000) = Field(1200.0, description="from stimulus offset")
    iti_ms: MS = 500.0
    feedback_ms: MS = 500.0
    feedback_in_main: Flag = False
    image_size_deg: Number(gt=0, le=180) = 6.0
    image_scale: Integer(ge=0, le=64) = Field(
        0, description="0 = the whole-number scale closest to image_size_deg; n = each pixel as n x n"
    )
    spacing_deg: Number(gt=0, le=180) = Field(8.0, description="centre-to-centre distance (spatial mode)")
    fixation_size_deg: Number(gt=0, le=30) = 0.5
    text_height_deg: Number(gt=0, le=10) = 0.8
    background: Colour = (0.0, 0.0, 0.0)
    fixation_colour: Colour = (1.0, 1.0, 1.0)
    correct_colour: Colour = (-1.0, 1.0, -1.0)
    incorrect_colour: Colour = (1.0, -1.0, -1.0)
    correct_colour_name: Text(40) = "green"
    incorrect_colour_name: Text(40) = "red"
    show_running_accuracy: Flag = True
    break_min_s: Number(ge=0, le=3600) = Field(10.0, description="shortest break before proceed works")
    instructions: Annotated[Text(4000), AfterValidator(_check_placeholders)] = DEFAULT_INSTRUCTIONS

    @model_validator(mode="after")
    def _fits(self) -> Presentation:
        if self.mode == "spatial" and self.image_scale == 0 and self.spacing_deg < self.image_size_deg:
            raise ValueError(
                f"spacing_deg = {self.spacing_deg} is smaller than image_size_deg = "
                f"{self.image_size_deg}: the three images would overlap"
            )
        return self


class Design(StrictModel):
    """Which trials a session holds and in which blocks."""

    views: list[Integer(ge=0, le=10_000)] = Field(default_factory=list, max_length=10_000)
    repeats: Integer(ge=1, le=1000) = 1
    odd_items: list[Literal["metamer", "target"]] = Field(default_factory=lambda: ["metamer", "target"])
    models: list[Text(200)] = Field(default_factory=list, max_length=1000)
    groups: list[Literal["shape", "material", "lighting"]] = Field(default_factory=list, max_length=3)
    only_successful: Flag = True
    stimuli: Literal["metamers", "probes"] = Field(
        "metamers", description="odd items: the set's metamers, or its probe units (mrd probe; docs/probes.md)"
    )
    practice_trials: Integer(ge=0, le=1000) = 24
    practice_source: Literal["easiest", "own", "catch"] = "easiest"
    practice_items: Integer(ge=1, le=1000) = Field(1, description="'easiest': metamers kept for practice")
    practice_metamers: list[Text(200)] = Field(default_factory=list, max_length=1000)
    practice_criterion: Number(ge=0, le=1) = Field(0.0, description="0 = none; else accuracy to leave")
    practice_max_rounds: Integer(ge=1, le=10) = 3
    catch_trials: Integer(ge=0, le=100_000) = 0
    noise_floor_trials: Integer(ge=0, le=100_000) = 0
    break_every: Integer(ge=0, le=100_000) = 72
    seed: Integer(ge=0, le=2**63 - 1) = 0

    @model_validator(mode="after")
    def _consistent(self) -> Design:
        if not self.odd_items or len(set(self.odd_items)) != len(self.odd_items):
            raise ValueError(f"odd_items = {self.odd_items}: give 'metamer', 'target' or both, once each")
        if self.practice_source == "own" and self.practice_trials and not self.practice_metamers:
            raise ValueError("practice_source = 'own' needs practice_metamers (metamer ids)")
        if len(set(self.views)) != len(self.views):
            raise ValueError(f"views = {self.views}: each view once")
        return self


KeyList = list[Key]


class Keys(StrictModel):
    """Response keys (PsychoPy key names). Position 1 is the left (or first) image."""

    position_1: KeyList = Field(default_factory=lambda: ["1", "left", "num_1"], max_length=10)
    position_2: KeyList = Field(default_factory=lambda: ["2", "down", "num_2"], max_length=10)
    position_3: KeyList = Field(default_factory=lambda: ["3", "right", "num_3"], max_length=10)
    quit: KeyList = Field(default_factory=lambda: ["escape"], max_length=10)
    proceed: KeyList = Field(default_factory=lambda: ["space"], max_length=10)
    backend: Literal["auto", "ptb", "event"] = "auto"
    counterbalance: Flag = False

    @model_validator(mode="after")
    def _distinct(self) -> Keys:
        seen: dict[str, str] = {}
        for name in ("position_1", "position_2", "position_3", "quit", "proceed"):
            keys = getattr(self, name)
            if not keys:
                raise ValueError(f"{name} = []: give at least one key name")
            for k in keys:
                if k in seen:
                    raise ValueError(f"key '{k}' is used by both {seen[k]} and {name}")
                seen[k] = name
        return self

    @property
    def response_keys(self) -> list[str]:
        """All keys that answer a trial."""
        return [*self.position_1, *self.position_2, *self.position_3]

    def position_of(self, key: str) -> int | None:
        """The position (1..3) a key stands for, or ``None``."""
        for pos, keys in enumerate((self.position_1, self.position_2, self.position_3), start=1):
            if key in keys:
                return pos
        return None

    def key_for(self, position: int) -> str:
        """The first key of a position (1..3)."""
        return (self.position_1, self.position_2, self.position_3)[position - 1][0]

    def permuted(self, order: list[int]) -> Keys:
        """Keys with the position key lists reordered: position ``i`` gets the keys of ``order[i-1]``.

        Examples
        --------
        >>> Keys().permuted([3, 2, 1]).position_1
        ['3', 'right', 'num_3']
        """
        lists = (self.position_1, self.position_2, self.position_3)
        return self.model_copy(update={f"position_{i + 1}": list(lists[o - 1]) for i, o in enumerate(order)})


class Monitor(StrictModel):
    """The display: geometry, resolution, refresh and calibration."""

    name: Text(100) = "mrd-default"
    width_cm: Number(gt=0, le=10_000) = 53.0
    distance_cm: Number(gt=0, le=100_000) = 60.0
    resolution: tuple[Pixels, Pixels] = (1920, 1080)
    window_size: tuple[Pixels, Pixels] = Field((1280, 1024), description="window size with --windowed")
    nominal_refresh_hz: Number(gt=1, le=1000) = 60.0
    screen: Integer(ge=0, le=16) = 0
    calibration: Literal["none", "gamma", "lut"] = "none"
    gamma: Number(ge=0.2, le=5) = Field(2.2, description="calibration = 'gamma': L = black + (white-black) v^gamma")
    lut_file: Text(4096) = Field("", description="calibration = 'lut': 256 rows of measured luminance")
    white_cd_m2: Number(ge=0, le=100_000) = Field(0.0, description="measured white luminance; 0 = unknown")
    black_cd_m2: Number(ge=0, le=100_000) = Field(0.0, description="measured black luminance")

    @model_validator(mode="after")
    def _calibration(self) -> Monitor:
        if self.calibration == "lut" and not self.lut_file:
            raise ValueError("calibration = 'lut' needs lut_file (a table of 256 measured luminances)")
        if self.calibration != "none" and self.white_cd_m2 <= self.black_cd_m2:
            raise ValueError(
                f"calibration = '{self.calibration}' needs the measured white_cd_m2 > black_cd_m2 "
                f"(got {self.white_cd_m2} and {self.black_cd_m2})"
            )
        return self


class ModelObserverParams(StrictModel):
    """The ``model`` observer (see :class:`psychophysics.observers.ModelObserver`)."""

    model_id: Text(200) = Field("", description="'' = each metamer's generating model")
    layer: Text(200) = Field("", description="'' = mean over layers")
    sigma: Number(gt=0, le=1e6) = 0.05
    per_view: Flag = True
    catch_distance: Number(gt=0, le=1e6) = 1.0


class PsychometricObserverParams(StrictModel):
    """The ``psychometric`` observer (see :class:`psychophysics.observers.PsychometricObserver`)."""

    model_id: Text(200) = ""
    layer: Text(200) = ""
    threshold: Number(ge=-10, le=10) = 0.05
    width: Number(gt=1e-9, le=10) = 0.02
    lapse: Number(ge=0, lt=2 / 3) = 0.02
    per_view: Flag = True


class Observers(StrictModel):
    """Parameters of the simulated observers."""

    model: ModelObserverParams = Field(default_factory=ModelObserverParams)
    psychometric: PsychometricObserverParams = Field(default_factory=PsychometricObserverParams)


class ExperimentConfig(StrictModel):
    """A whole experiment config."""

    presentation: Presentation = Field(default_factory=Presentation)
    design: Design = Field(default_factory=Design)
    keys: Keys = Field(default_factory=Keys)
    monitor: Monitor = Field(default_factory=Monitor)
    observers: Observers = Field(default_factory=Observers)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (round-trips through :meth:`from_dict`)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> ExperimentConfig:
        """Validate a dict, raising :class:`MRDError` that names ``source``, the field and the value."""
        return validate(cls, data, source, what="experiment config")


def load_config(path: str | os.PathLike[str] | None = None) -> ExperimentConfig:
    """Read and validate an experiment config (TOML, UTF-8).

    A relative ``monitor.lut_file`` is resolved against the config's folder and the table is checked.

    Parameters
    ----------
    path : str or Path, optional
        The TOML file; ``None`` reads the shipped default.

    Returns
    -------
    ExperimentConfig

    Raises
    ------
    MRDError
        If the file is missing, not UTF-8, not TOML, or a field is invalid (naming file, field and value).

    Examples
    --------
    >>> load_config().presentation.response_window_ms
    1200.0
    """
    path = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    data, _ = read_toml(path, what="experiment config")
    cfg = ExperimentConfig.from_dict(data, source=str(path))
    if cfg.monitor.lut_file:
        lut = Path(cfg.monitor.lut_file)
        lut = lut if lut.is_absolute() else (path.parent / lut)
        from psychophysics.calibration import read_lut

        read_lut(lut)  # refuse a bad table now, before any file is written
        monitor = cfg.monitor.model_copy(update={"lut_file": str(lut.resolve())})
        cfg = cfg.model_copy(update={"monitor": monitor})
    return cfg


def config_difference(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> str | None:
    """The first field (``table.field``) where two config dicts differ, or ``None``.

    Examples
    --------
    >>> config_difference({"design": {"seed": 0}}, {"design": {"seed": 1}})
    'design.seed'
    """
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key, MRDError), b.get(key, MRDError)
        name = f"{prefix}{key}"
        if isinstance(va, dict) and isinstance(vb, dict):
            inner = config_difference(va, vb, name + ".")
            if inner:
                return inner
        elif va != vb:
            return name
    return None
