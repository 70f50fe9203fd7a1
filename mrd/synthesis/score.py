"""Score every metamer of a stimulus set under another model (``mrd score``).

A metamer of model A is usually not a metamer of model B. Scoring recomputes, from the stored
display images (target scene, metamer, null draws), the similarity of each metamer to its target
under a further model, registers that model in the store and adds one similarity per metamer.
Metamers that already have a similarity under the model's id are skipped, so a second run changes
nothing; a model id already registered with a different model (name, weights, layers or
preprocessing) is refused.

Examples
--------
>>> import tempfile, os
>>> from stimuli.testing import write_synthetic_store
>>> path = os.path.join(tempfile.mkdtemp(), "set.h5")
>>> _ = write_synthetic_store(path, n_scenes=1, n_metamers_per_scene=2)
>>> spec = make_spec("mrd.models.testing:mean_luminance", ["luminance"])
>>> score_store(path, spec, progress=False).added
2
>>> score_store(path, spec, progress=False).added
0
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import pydantic
from tqdm import tqdm

from mrd.models import ModelSpec, default_layers, load_model
from mrd.synthesis.similarity import score_images
from stimuli import StimulusSet, StoreWriter
from stimuli.errors import MRDError
from stimuli.records import ModelRecord


@dataclass
class ScoreResult:
    """What :func:`score_store` did: the model id, similarities added, metamers already scored."""

    model_id: str
    added: int
    skipped: int


def make_spec(
    name: str,
    layers: list[str] | None = None,
    weights: str = "default",
    weights_sha256: str | None = None,
    model_id: str | None = None,
) -> ModelSpec:
    """A :class:`ModelSpec` from command-line values (default layers when none are given).

    Raises
    ------
    MRDError
        Naming the option and value at fault.

    Examples
    --------
    >>> make_spec("mobilenetv2_100").layers
    ['blocks.2', 'blocks.4', 'blocks.6']
    """
    try:
        return ModelSpec(
            id=model_id,
            name=name,
            layers=layers if layers else default_layers(name),
            weights=weights,
            weights_sha256=weights_sha256,
        )
    except pydantic.ValidationError as exc:
        options = {
            "id": "--id",
            "name": "--model",
            "layers": "--layers",
            "weights": "--weights",
            "weights_sha256": "--weights-sha256",
        }
        problems = "; ".join(
            f"{options.get(str(e['loc'][0]), e['loc'][0]) if e['loc'] else 'model'}: {e['msg']}"
            for e in exc.errors()
        )
        raise MRDError(f"model {name!r}: {problems}") from None


def _same_model(stored: ModelRecord, new: ModelRecord) -> list[str]:
    """Fields in which two records of one model id differ (the file location may move if its hash holds)."""
    a, b = asdict(stored), asdict(new)
    a["input_size"], b["input_size"] = tuple(a["input_size"]), tuple(b["input_size"])
    a["mean"], b["mean"] = tuple(a["mean"]), tuple(b["mean"])
    a["std"], b["std"] = tuple(a["std"]), tuple(b["std"])
    fields = [k for k in a if a[k] != b[k]]
    if fields == ["weight_source"] and a["weight_sha256"]:
        return []
    return fields


def score_store(
    path: str | os.PathLike[str], spec: ModelSpec, device: str = "cpu", progress: bool = True
) -> ScoreResult:
    """Add the similarity under ``spec``'s model to every metamer of the store that lacks it.

    Parameters
    ----------
    path : path-like
        The stimulus set (``.h5``); it must exist.
    spec : ModelSpec
        The scoring model.
    device : str
        Torch device for the model.
    progress : bool
        Show a progress bar.

    Returns
    -------
    ScoreResult

    Raises
    ------
    MRDError
        A missing or unreadable store, a model that cannot be loaded, or a model id already used
        for a different model.

    Examples
    --------
    >>> import tempfile, os
    >>> from stimuli.testing import write_synthetic_store
    >>> path = os.path.join(tempfile.mkdtemp(), "set.h5")
    >>> _ = write_synthetic_store(path, n_scenes=1, n_metamers_per_scene=1)
    >>> r = score_store(path, make_spec("test_resnet", ["layer2"], weights="random"), progress=False)
    >>> r.model_id, r.added, r.skipped
    ('test_resnet', 1, 0)
    """
    path = Path(path)
    with StimulusSet(path) as s:  # fail on a bad store before loading a model
        stored = s.models.get(spec.model_id)
    model = load_model(spec, device=device)
    rec = model.record
    if stored is not None:
        differ = _same_model(stored, rec)
        if differ:
            details = ", ".join(
                f"{k}: stored {getattr(stored, k)!r}, now {getattr(rec, k)!r}" for k in differ
            )
            raise MRDError(
                f"{path}: model id {rec.model_id!r} is already registered for a different model ({details}); "
                "choose another id with --id"
            )
    added = skipped = 0
    with StoreWriter(path, config_text=None) as w, StimulusSet(path) as s:
        if not w.has_model(rec.model_id):
            w.add_model(rec)
        todo = []
        for xid in s.metamer_ids:
            if rec.model_id in s.metamer(xid, images=False).similarity:
                skipped += 1
            else:
                todo.append(xid)
        for xid in tqdm(todo, desc=f"score {rec.model_id}", unit="metamer", disable=not progress):
            meta = s.metamer(xid, images=True)
            sim = score_images(model, s.scene_display(meta.scene_id), meta.display, meta.null_display)
            w.add_similarity(xid, rec.model_id, sim)
            added += 1
    return ScoreResult(model_id=rec.model_id, added=added, skipped=skipped)
