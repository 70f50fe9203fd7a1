"""In-memory records of the stimulus-set contract.

A stimulus set holds three kinds of *units*: models, scenes (targets) and metamers.
Each unit is written to the HDF5 store as a whole or not at all (see
:mod:`stimuli.writer`). These dataclasses are what the writer takes and the
reader returns; the on-disk layout is documented in :mod:`stimuli.schema` and
``docs/schema.md``.

Parameters of a scene are nested dictionaries ``{group: {name: array}}`` where
``group`` is one of :data:`stimuli.schema.GROUPS` (``"shape"``, ``"material"``,
``"lighting"``) and every value is stored as a numeric array (scalars become
0-d arrays), so vertex positions and a roughness value are handled alike.

Examples
--------
>>> import numpy as np
>>> sim = Similarity(layers=["a", "b"], cosine=np.ones((2, 2)), rel_l2=np.zeros((2, 2)),
...                  null_cosine=np.full((3, 2), 0.5), null_rel_l2=np.ones((3, 2)))
>>> round(sim.mean_cosine, 3), round(sim.null_max_cosine, 3)
(1.0, 0.5)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

Params = dict[str, dict[str, np.ndarray]]
"""Scene parameters: ``{group: {name: array}}``."""


@dataclass
class ModelRecord:
    """A vision model used to generate or score metamers.

    Parameters
    ----------
    model_id : str
        Key of the model in the store (letters, digits, ``_ - .``), e.g. ``"mobilenetv2_100"``.
    name : str
        timm model name, or ``"package.module:factory"`` for a user module.
    source : str
        How the weights were obtained: ``"timm-hub"``, ``"weights-file"``, ``"module"`` or ``"random"``.
    weight_source : str
        Where the weights came from (file path or hub tag); empty if none.
    weight_sha256 : str
        sha256 of the weight file; empty if there is no file.
    layers : list of str
        Layer names whose activations are compared.
    input_size : tuple of int
        ``(channels, height, width)`` fed to the model.
    mean, std : tuple of float
        Per-channel normalisation applied to linear-to-sRGB images in ``[0, 1]``.
    """

    model_id: str
    name: str
    source: str
    weight_source: str
    weight_sha256: str
    layers: list[str]
    input_size: tuple[int, int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


@dataclass
class SceneRecord:
    """A target scene with its rendered views.

    Parameters
    ----------
    scene_id : str
        Key of the scene in the store.
    description : dict
        JSON-serialisable description of the scene (the Mitsuba scene dict, with
        meshes referred to by name; their vertices live in ``params``).
    params : Params
        Parameter values per group.
    views : list of dict
        One camera per view (``origin``, ``target``, ``up``, ``fov`` ...), JSON-serialisable.
    hdr : numpy.ndarray
        ``(V, H, W, 3)`` float32 linear radiance.
    display : numpy.ndarray
        ``(V, H, W, 3)`` uint8 tone-mapped sRGB image shown to observers.
    spp : int
        Samples per pixel of the display render.
    tone_map : str
        Name and parameters of the tone-mapping operator, e.g. ``"clip-srgb exposure=0"``.
    renders : numpy.ndarray, optional
        ``(R, V, H, W, 3)`` uint8: R >= 1 independent display renders of the target (distinct
        Monte Carlo seeds), with ``renders[0]`` equal to ``display`` (schema 1.1). ``None`` when
        absent (schema 1.0 stores) or not read (``images=False``).
    render_seeds : list of int
        The seed of each render (length R, distinct); empty when there are no renders.
    """

    scene_id: str
    description: dict[str, Any]
    params: Params
    views: list[dict[str, Any]]
    hdr: np.ndarray
    display: np.ndarray
    spp: int
    tone_map: str
    renders: np.ndarray | None = None
    render_seeds: list[int] = field(default_factory=list)


@dataclass
class Similarity:
    """Activation similarity of a metamer to its target under one model.

    ``cosine`` and ``rel_l2`` have shape ``(V, L)`` (views x layers). ``null_cosine``
    and ``null_rel_l2`` have shape ``(K, L)``: the similarity of the target to K
    scenes drawn from the prior over the varied group, averaged over views.

    ``classification`` (ImageNet classifiers only, else None): top-1 / top-5 agreement of target and
    metamer, ``{"top1", "top5", "null_top1", "null_top5"}`` (fractions over views; the null ones over
    null draws x views) and the per-view top-1 classes ``"target_top1"``, ``"metamer_top1"``
    (see :func:`mrd.synthesis.similarity.classification_agreement`).
    """

    layers: list[str]
    cosine: np.ndarray
    rel_l2: np.ndarray
    null_cosine: np.ndarray
    null_rel_l2: np.ndarray
    classification: dict | None = None

    @property
    def mean_cosine(self) -> float:
        """Cosine similarity averaged over views and layers."""
        return float(np.mean(self.cosine))

    @property
    def null_max_cosine(self) -> float:
        """Largest null similarity (layer-averaged); a success must beat it."""
        if self.null_cosine.size == 0:
            return float("nan")
        return float(np.max(np.mean(self.null_cosine, axis=1)))


@dataclass
class MetamerRecord:
    """A model metamer of one target scene.

    Parameters
    ----------
    metamer_id : str
        Key of the metamer in the store.
    scene_id, model_id : str
        The target scene and the generating model (both must be in the store).
    layers : list of str
        Layers matched during optimisation.
    group : str
        The varied parameter group (``"shape"``, ``"material"`` or ``"lighting"``).
    seed : int
        Seed of the start draw and of the optimisation.
    initial_params, final_params : Params
        Values of *all* groups at the start and at the end.
    display : numpy.ndarray
        ``(V, H, W, 3)`` uint8 display images of every view.
    hdr : numpy.ndarray
        ``(V, H, W, 3)`` float32 linear renders of every view.
    loss : numpy.ndarray
        ``(steps,)`` loss curve.
    steps : int
        Optimisation steps taken.
    wall_time_s : float
        Wall-clock time of the optimisation.
    converged : bool
        Whether a stopping criterion other than the step limit fired.
    success : bool
        Whether the metamer is closer to the target than every null draw under the
        generating model.
    similarity : dict of str to Similarity
        Keyed by model id; includes the generating model.
    physical_distance : dict of str to float
        E.g. ``chamfer``, ``fscore``, or parameter distances.
    tone_map : str
        Tone-mapping operator used for ``display``.
    null_display : numpy.ndarray
        ``(K, V, H, W, 3)`` uint8 display images of the K null draws (scenes drawn from the
        prior over the varied group), so that ``mrd score`` can recompute the null reference
        under another model without a renderer. May be empty (``K = 0``).
    info : dict
        Any further JSON-serialisable provenance (optimiser settings, stop reason, ...).
    renders : numpy.ndarray, optional
        ``(R, V, H, W, 3)`` uint8 independent display renders of the final scene; ``renders[0]``
        equals ``display``. ``None`` when absent (schema 1.0) or not read (``images=False``).
    render_seeds : list of int
        The seed of each render (length R, distinct).
    criterion : dict, optional
        The numbers behind ``success`` (schema 1.1): ``oddity_pc``, ``oddity_pc_max``, ``null_p``,
        ``null_alpha`` (floats) and ``beats_start`` (bool); then ``success`` must equal
        :func:`stimuli.success.success_rule` of it. ``None`` for stores made before the rule.

    Notes
    -----
    Similarities are computed on the stored *display* images (what observers see), converted
    to float sRGB in ``[0, 1]``; ``mrd score`` therefore reproduces them exactly.
    """

    metamer_id: str
    scene_id: str
    model_id: str
    layers: list[str]
    group: str
    seed: int
    initial_params: Params
    final_params: Params
    display: np.ndarray
    hdr: np.ndarray
    loss: np.ndarray
    steps: int
    wall_time_s: float
    converged: bool
    success: bool
    similarity: dict[str, Similarity]
    physical_distance: dict[str, float]
    tone_map: str
    null_display: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0, 0, 3), np.uint8))
    info: dict[str, Any] = field(default_factory=dict)
    renders: np.ndarray | None = None
    render_seeds: list[int] = field(default_factory=list)
    criterion: dict[str, Any] | None = None
    progress: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)
    """Optional snapshots of the varied group's values during optimisation, ``{step: {name: array}}``
    (``store_progress = N`` keeps one every N steps); stored as ``progress/step_NNNNNN/<name>``."""
