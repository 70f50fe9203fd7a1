"""The experiment configuration: a validated TOML file.

An experiment config has five tables: ``[presentation]`` (timing in ms, sizes in degrees of
visual angle, colours), ``[design]`` (which trials, practice, catch trials, breaks), ``[keys]``,
``[monitor]`` (the PsychoPy monitor: width, distance, resolution) and ``[observers.*]``
(parameters of the simulated observers). Every field has a default; the shipped
``psychophysics/experiments/default.toml`` spells them all out. Unknown fields are errors, so a
typo never silently falls back to a default.

Examples
--------
>>> cfg = ExperimentConfig.model_validate({"presentation": {"stimulus_ms": 2000}})
>>> cfg.presentation.stimulus_ms, cfg.presentation.mode, cfg.design.break_every
(2000.0, 'spatial', 72)
>>> cfg.keys.position_of("down")
2
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from stimuli.errors import MRDError

DEFAULT_CONFIG_PATH = Path(__file__).parent / "experiments" / "default.toml"
"""The shipped default experiment config."""

Colour = tuple[float, float, float]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_colour(value: Colour) -> Colour:
    if any(not -1.0 <= c <= 1.0 for c in value):
        raise ValueError(f"colour {list(value)} must have three PsychoPy rgb values in -1..1")
    return value


class Presentation(_Strict):
    """How a trial looks and how long each part lasts (durations in ms, sizes in degrees)."""

    mode: Literal["spatial", "temporal"] = "spatial"
    stimulus_ms: float = Field(200.0, gt=0)
    isi_ms: float = Field(400.0, ge=0, description="temporal mode: blank between intervals")
    fixation_ms: float = Field(500.0, ge=0)
    mask_ms: float = Field(0.0, ge=0, description="0 = no mask")
    response_window_ms: float = Field(1200.0, gt=0, description="from stimulus offset")
    iti_ms: float = Field(500.0, ge=0)
    feedback_ms: float = Field(500.0, ge=0)
    feedback_in_main: bool = False
    image_size_deg: float = Field(6.0, gt=0)
    spacing_deg: float = Field(8.0, gt=0, description="centre-to-centre distance (spatial mode)")
    fixation_size_deg: float = Field(0.5, gt=0)
    text_height_deg: float = Field(0.8, gt=0)
    background: Colour = (0.0, 0.0, 0.0)
    fixation_colour: Colour = (1.0, 1.0, 1.0)
    correct_colour: Colour = (-1.0, 1.0, -1.0)
    incorrect_colour: Colour = (1.0, -1.0, -1.0)
    show_running_accuracy: bool = True
    instructions: str = (
        "Three images will appear. Two are identical, one is different.\n\n"
        "Press the key for the odd one out:\n{keys}\n\nPress {proceed} to start."
    )

    _colours = field_validator("background", "fixation_colour", "correct_colour", "incorrect_colour")(
        _check_colour
    )

    @model_validator(mode="after")
    def _fits(self) -> Presentation:
        if self.mode == "spatial" and self.spacing_deg < self.image_size_deg:
            raise ValueError(
                f"spacing_deg = {self.spacing_deg} is smaller than image_size_deg = "
                f"{self.image_size_deg}: the three images would overlap"
            )
        return self


class Design(_Strict):
    """Which trials a session holds and in which blocks."""

    views: list[int] = Field(default_factory=list, description="view indices; empty = all views")
    repeats: int = Field(1, ge=1, description="repeats of each (metamer, view, odd item) cell")
    odd_items: list[Literal["metamer", "target"]] = Field(default_factory=lambda: ["metamer", "target"])
    models: list[str] = Field(default_factory=list, description="generating models; empty = all")
    groups: list[Literal["shape", "material", "lighting"]] = Field(default_factory=list)
    only_successful: bool = False
    practice_trials: int = Field(24, ge=0)
    practice_source: Literal["easiest", "own"] = "easiest"
    practice_metamers: list[str] = Field(default_factory=list, description="used when practice_source='own'")
    catch_trials: int = Field(0, ge=0, description="number of catch trials among the main trials")
    break_every: int = Field(72, ge=0, description="main trials per block; 0 = one block")
    seed: int = Field(0, ge=0, description="mixed with participant and session")

    @model_validator(mode="after")
    def _consistent(self) -> Design:
        if not self.odd_items or len(set(self.odd_items)) != len(self.odd_items):
            raise ValueError(f"odd_items = {self.odd_items}: give 'metamer', 'target' or both, once each")
        if any(v < 0 for v in self.views):
            raise ValueError(f"views = {self.views}: view indices are >= 0")
        if self.practice_source == "own" and self.practice_trials and not self.practice_metamers:
            raise ValueError("practice_source = 'own' needs practice_metamers (metamer ids)")
        return self


class Keys(_Strict):
    """Response keys (PsychoPy key names). Position 1 is the left (or first) image."""

    position_1: list[str] = Field(default_factory=lambda: ["1", "left"])
    position_2: list[str] = Field(default_factory=lambda: ["2", "down"])
    position_3: list[str] = Field(default_factory=lambda: ["3", "right"])
    quit: list[str] = Field(default_factory=lambda: ["escape"])
    proceed: list[str] = Field(default_factory=lambda: ["space"])

    @model_validator(mode="after")
    def _distinct(self) -> Keys:
        seen: dict[str, str] = {}
        for name in ("position_1", "position_2", "position_3", "quit", "proceed"):
            keys = getattr(self, name)
            if not keys or any(not k for k in keys):
                raise ValueError(f"{name} = {keys}: give at least one non-empty key name")
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


class Monitor(_Strict):
    """The PsychoPy monitor: physical width, viewing distance and resolution."""

    name: str = "mrd-default"
    width_cm: float = Field(53.0, gt=0)
    distance_cm: float = Field(60.0, gt=0)
    resolution: tuple[int, int] = (1920, 1080)
    window_size: tuple[int, int] = Field((1280, 1024), description="window size when not fullscreen")
    nominal_refresh_hz: float = Field(60.0, gt=0, description="used when the refresh cannot be measured")
    screen: int = Field(0, ge=0)

    @field_validator("resolution", "window_size")
    @classmethod
    def _positive(cls, value: tuple[int, int]) -> tuple[int, int]:
        if min(value) <= 0:
            raise ValueError(f"{list(value)}: width and height in pixels must be positive")
        return value


class ModelObserverParams(_Strict):
    """The ``model`` observer (see :class:`psychophysics.observers.ModelObserver`)."""

    model_id: str = Field("", description="'' = each metamer's generating model")
    layer: str = Field("", description="'' = mean over layers")
    sigma: float = Field(0.05, gt=0)
    per_view: bool = True
    catch_distance: float = Field(1.0, gt=0)


class PsychometricObserverParams(_Strict):
    """The ``psychometric`` observer (see :class:`psychophysics.observers.PsychometricObserver`)."""

    model_id: str = ""
    layer: str = ""
    threshold: float = 0.05
    width: float = Field(0.02, gt=0)
    lapse: float = Field(0.02, ge=0, lt=2 / 3)
    per_view: bool = True


class Observers(_Strict):
    """Parameters of the simulated observers."""

    model: ModelObserverParams = Field(default_factory=ModelObserverParams)
    psychometric: PsychometricObserverParams = Field(default_factory=PsychometricObserverParams)


class ExperimentConfig(_Strict):
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
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise MRDError(_explain(exc, source)) from None


def _explain(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid experiment config"]
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        value = err.get("input")
        shown = repr(value) if not isinstance(value, dict) else "{...}"
        lines.append(f"  field '{field}' = {shown}: {err['msg']}")
    return "\n".join(lines)


def load_config(path: str | Path | None = None) -> ExperimentConfig:
    """Read and validate an experiment config (TOML).

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
        If the file is missing, is not TOML, or a field is invalid (naming file, field and value).

    Examples
    --------
    >>> load_config().presentation.response_window_ms
    1200.0
    """
    path = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MRDError(f"{path}: cannot read experiment config ({exc.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MRDError(f"{path}: not valid TOML ({exc})") from None
    return ExperimentConfig.from_dict(data, source=str(path))
