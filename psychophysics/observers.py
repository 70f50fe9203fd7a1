"""Simulated observers for the oddity task (no torch, no PsychoPy).

Each observer answers a planned :class:`~psychophysics.design.Trial` with a position (1..3) or
``None`` (no response):

``oracle``
    Always the odd position.
``chance``
    A uniformly random position (expected accuracy 1/3).
``model``
    The differencing observer of oddity signal detection theory on the store's recorded
    similarities. The activation distance of metamer and target is ``d = 1 - cosine`` (under a
    chosen model and layer, for the trial's view or averaged over views). Target and metamer are
    placed ``d`` apart on a line, each of the three presented items gets independent Gaussian noise
    of standard deviation ``sigma``, and the observer picks the item farthest from the other two
    (largest summed distance). This is exactly the differencing model of the oddity (triangle)
    task, so the oddity d' of this observer is ``d / sigma`` and its expected proportion correct is
    :func:`oddity_pc_differencing` ``(d / sigma)``. Catch trials use ``d = catch_distance``.
``psychometric``
    ``P(correct) = 1/3 + (1 - 1/3 - lapse) * logistic((1 - similarity - threshold) / width)`` with
    ``similarity`` the recorded cosine (catch trials: 0); wrong answers are one of the two other
    positions at random.

On noise-floor trials (three renders of the same target) there is no scene difference: ``model`` uses
``d = 0`` and ``psychometric`` answers correctly with probability 1/3, so both are at chance.

Examples
--------
>>> import numpy as np
>>> from psychophysics.design import Trial
>>> t = Trial(1, "main", 1, 1, "m0", "s0", "net", "shape", 0, "metamer", 3, 0)
>>> OracleObserver().choose(t, np.random.default_rng(0))
3
>>> round(oddity_pc_differencing(0.0), 4)
0.3333
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from psychophysics.config import ExperimentConfig, ModelObserverParams, PsychometricObserverParams
from psychophysics.design import Trial
from stimuli.errors import MRDError

OBSERVERS = ("oracle", "chance", "model", "psychometric")
"""Names accepted by :func:`make_observer`."""


def oddity_pc_differencing(dprime: float) -> float:
    """Proportion correct of the differencing observer in the oddity task.

    ``Pc = 2 * int_0^inf [Phi(-z*sqrt(3) + d'*sqrt(2/3)) + Phi(-z*sqrt(3) - d'*sqrt(2/3))] phi(z) dz``
    (Macmillan & Creelman, *Detection Theory*, oddity/triangle differencing model).

    Examples
    --------
    >>> round(oddity_pc_differencing(2.0), 3)
    0.605
    """
    from scipy import integrate, special

    a, b = math.sqrt(3.0), dprime * math.sqrt(2.0 / 3.0)
    norm_pdf = 1.0 / math.sqrt(2.0 * math.pi)

    def f(z: float) -> float:
        return float(
            (special.ndtr(-z * a + b) + special.ndtr(-z * a - b)) * norm_pdf * math.exp(-0.5 * z * z)
        )

    return 2.0 * integrate.quad(f, 0.0, np.inf)[0]


class SimilarityTable:
    """Recorded cosine similarities: ``{metamer_id: {model_id: (layers, cosine (V, L))}}``.

    Parameters
    ----------
    table : dict
        As above; ``generating`` maps metamer ids to their generating model.
    generating : dict of str to str
    """

    def __init__(
        self, table: dict[str, dict[str, tuple[list[str], np.ndarray]]], generating: dict[str, str]
    ) -> None:
        self.table = table
        self.generating = generating

    @classmethod
    def from_store(cls, store: Any) -> SimilarityTable:
        """Read all similarities of an open :class:`stimuli.StimulusSet`."""
        table, generating = {}, {}
        for xid in store.metamer_ids:
            rec = store.metamer(xid, images=False)
            generating[xid] = rec.model_id
            table[xid] = {
                mid: (list(s.layers), np.asarray(s.cosine, float)) for mid, s in rec.similarity.items()
            }
        for pid in getattr(store, "probe_ids", ()):  # probes: 1 - display-render distance, one "layer"
            rec = store.probe(pid, images=False)
            generating[pid] = rec.model_id
            views = len(store.scene(rec.scene_id, images=False).views)
            table[pid] = {mid: (["distance"], np.full((views, 1), 1.0 - d)) for mid, d in rec.distances.items()}
        return cls(table, generating)

    def cosine(self, metamer_id: str, model_id: str, layer: str, view: int | None) -> float:
        """Cosine similarity of a metamer to its target.

        Parameters
        ----------
        metamer_id : str
        model_id : str
            ``""`` = the generating model.
        layer : str
            ``""`` = mean over layers.
        view : int or None
            ``None`` = mean over views.

        Raises
        ------
        MRDError
            If the model or layer has no recorded similarity for the metamer.
        """
        sims = self.table.get(metamer_id)
        if sims is None:
            raise MRDError(f"metamer '{metamer_id}' is not in the stimulus set")
        mid = model_id or self.generating[metamer_id]
        if mid not in sims:
            raise MRDError(
                f"observer model_id '{mid}': metamer '{metamer_id}' has similarities only for "
                f"{sorted(sims)} (add more with `mrd score`)"
            )
        layers, cos = sims[mid]
        if layer:
            if layer not in layers:
                raise MRDError(f"observer layer '{layer}': model '{mid}' has layers {layers}")
            cos = cos[:, [layers.index(layer)]]
        per_view = cos.mean(axis=1)
        return float(per_view[view] if view is not None else per_view.mean())


class Observer(ABC):
    """A simulated observer."""

    name: str = ""

    @property
    def params(self) -> dict[str, Any] | None:
        """Parameters recorded in the sidecar (``None`` if none)."""
        return None

    @abstractmethod
    def choose(self, trial: Trial, rng: np.random.Generator) -> int | None:
        """The chosen position (1..3), or ``None`` for no response."""


class OracleObserver(Observer):
    """Always correct."""

    name = "oracle"

    def choose(self, trial: Trial, rng: np.random.Generator) -> int | None:  # noqa: D102
        return trial.odd_position


class ChanceObserver(Observer):
    """Uniformly random."""

    name = "chance"

    def choose(self, trial: Trial, rng: np.random.Generator) -> int | None:  # noqa: D102
        return int(rng.integers(1, 4))


class ModelObserver(Observer):
    """Differencing observer on recorded activation distances (see the module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> from psychophysics.config import ModelObserverParams
    >>> table = SimilarityTable({"m0": {"net": (["l1"], np.array([[0.9]]))}}, {"m0": "net"})
    >>> obs = ModelObserver(table, ModelObserverParams(sigma=0.05))
    >>> t = Trial(1, "main", 1, 1, "m0", "s0", "net", "shape", 0, "metamer", 2, 0)
    >>> round(obs.distance(t), 3), round(obs.dprime(t), 1)
    (0.1, 2.0)
    """

    name = "model"

    def __init__(self, table: SimilarityTable, p: ModelObserverParams) -> None:
        self.table, self.p = table, p

    @property
    def params(self) -> dict[str, Any]:  # noqa: D102
        return self.p.model_dump()

    def distance(self, trial: Trial) -> float:
        """Activation distance ``d = 1 - cosine`` of the trial's pair (noise floor: 0, the same scene)."""
        if trial.trial_type == "noise_floor":
            return 0.0
        if trial.is_catch:
            return self.p.catch_distance
        view = trial.view if self.p.per_view else None
        return 1.0 - self.table.cosine(trial.metamer_id, self.p.model_id, self.p.layer, view)

    def dprime(self, trial: Trial) -> float:
        """Oddity d' of this observer on the trial: ``d / sigma``."""
        return self.distance(trial) / self.p.sigma

    def choose(self, trial: Trial, rng: np.random.Generator) -> int | None:  # noqa: D102
        d = self.distance(trial)
        odd = trial.odd_position - 1
        # target at 0, metamer at d; the odd item is whichever of the two is shown once
        x = np.full(3, d if trial.odd_item == "target" else 0.0)
        x[odd] = 0.0 if trial.odd_item == "target" else d
        x = x + rng.normal(0.0, self.p.sigma, 3)
        summed = np.abs(x[:, None] - x[None, :]).sum(axis=1)
        return int(np.argmax(summed)) + 1


class PsychometricObserver(Observer):
    """Logistic psychometric function of ``1 - similarity`` with a lapse rate.

    Examples
    --------
    >>> import numpy as np
    >>> from psychophysics.config import PsychometricObserverParams
    >>> table = SimilarityTable({"m0": {"net": (["l1"], np.array([[0.95]]))}}, {"m0": "net"})
    >>> obs = PsychometricObserver(table, PsychometricObserverParams(threshold=0.05, width=0.02, lapse=0.0))
    >>> t = Trial(1, "main", 1, 1, "m0", "s0", "net", "shape", 0, "metamer", 2, 0)
    >>> round(obs.p_correct(t), 4)
    0.6667
    """

    name = "psychometric"

    def __init__(self, table: SimilarityTable, p: PsychometricObserverParams) -> None:
        self.table, self.p = table, p

    @property
    def params(self) -> dict[str, Any]:  # noqa: D102
        return self.p.model_dump()

    def p_correct(self, trial: Trial) -> float:
        """Probability of a correct answer on the trial (noise floor: 1/3, there is nothing to see)."""
        if trial.trial_type == "noise_floor":
            return 1.0 / 3.0
        if trial.is_catch:
            sim = 0.0
        else:
            view = trial.view if self.p.per_view else None
            sim = self.table.cosine(trial.metamer_id, self.p.model_id, self.p.layer, view)
        z = (1.0 - sim - self.p.threshold) / self.p.width
        logistic = 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0
        return 1.0 / 3.0 + (1.0 - 1.0 / 3.0 - self.p.lapse) * logistic

    def choose(self, trial: Trial, rng: np.random.Generator) -> int | None:  # noqa: D102
        if rng.random() < self.p_correct(trial):
            return trial.odd_position
        wrong = [p for p in (1, 2, 3) if p != trial.odd_position]
        return int(wrong[int(rng.integers(0, 2))])


def make_observer(name: str, config: ExperimentConfig, store: Any | None = None) -> Observer:
    """Build a simulated observer by name.

    Parameters
    ----------
    name : str
        One of :data:`OBSERVERS`.
    config : ExperimentConfig
        Its ``[observers.*]`` tables give the parameters.
    store : stimuli.StimulusSet, optional
        Needed by ``model`` and ``psychometric`` (recorded similarities).

    Examples
    --------
    >>> from psychophysics.config import ExperimentConfig
    >>> make_observer("chance", ExperimentConfig()).name
    'chance'
    """
    if name == "oracle":
        return OracleObserver()
    if name == "chance":
        return ChanceObserver()
    if name in ("model", "psychometric"):
        if store is None:
            raise MRDError(f"observer '{name}' needs the stimulus set's recorded similarities")
        table = SimilarityTable.from_store(store)
        if name == "model":
            return ModelObserver(table, config.observers.model)
        return PsychometricObserver(table, config.observers.psychometric)
    raise MRDError(f"unknown simulated observer '{name}'; choose one of {list(OBSERVERS)}")
