"""Activation similarity between images under a model: the optimisation objective and the stored scores.

Two measures per item (image) and layer, on flattened activations ``a`` (candidate) and ``t``
(target):

* cosine similarity ``a.t / (|a| |t|)`` (the cosine of the L2-normalised activations), 1 for
  identical activations and unchanged when either is scaled by a positive factor;
* relative L2 distance ``|a - t| / |t|``, 0 for identical activations.

:func:`activation_distance` is the differentiable objective (mean over layers and items);
:func:`layer_similarity` and :func:`score_images` compute what the store records. Stored scores are
computed from the 8-bit *display* images (``uint8 / 255``) in fixed batches (all views of one
image set at once), so ``mrd score`` reproduces them exactly.

Examples
--------
>>> import torch
>>> t = {"a": torch.rand(2, 4, 3, 3)}
>>> float(activation_distance(t, t, kind="rel_l2"))
0.0
>>> cos, rel = layer_similarity({"a": 2 * t["a"]}, t)
>>> cos.round(6).tolist(), rel.round(6).tolist()
([[1.0], [1.0]], [[1.0], [1.0]])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from stimuli.errors import MRDError
from stimuli.records import Similarity

if TYPE_CHECKING:
    from mrd.models import LoadedModel

DISTANCE_KINDS = ("rel_l2", "cosine")
_TINY = 1e-12


def _pairs(
    feats: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor]
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Flattened ``(B, N)`` pairs per layer, in the order of ``feats``; a target batch of 1 is broadcast."""
    if not feats:
        raise MRDError("similarity: no layers given")
    missing = [k for k in feats if k not in target]
    if missing:
        raise MRDError(f"similarity: target activations lack layers {missing}; target has {list(target)}")
    pairs = []
    for k, a in feats.items():
        t = target[k]
        if t.shape[0] == 1 and a.shape[0] > 1:
            t = t.expand(a.shape[0], *t.shape[1:])
        if a.shape != t.shape:
            raise MRDError(
                f"similarity: layer {k!r} has shape {tuple(a.shape)} but the target {tuple(t.shape)}"
            )
        pairs.append((a.reshape(a.shape[0], -1), t.reshape(t.shape[0], -1)))
    return pairs


def _cosine(a: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return F.cosine_similarity(a, t, dim=1, eps=_TINY)


def _rel_l2(a: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(a - t, dim=1) / torch.linalg.vector_norm(t, dim=1).clamp_min(_TINY)


def activation_distance(
    feats: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor], kind: str = "rel_l2"
) -> torch.Tensor:
    """Differentiable distance of activations to a target, averaged over layers and batch.

    Parameters
    ----------
    feats : mapping of str to Tensor
        ``{layer: (B, ...)}`` activations of the candidate images.
    target : mapping of str to Tensor
        ``{layer: (B, ...)}`` (or ``(1, ...)``, broadcast) target activations.
    kind : {"rel_l2", "cosine"}
        ``"rel_l2"``: ``|a - t| / |t|``; ``"cosine"``: ``1 - cos(a, t)``.

    Returns
    -------
    torch.Tensor
        A scalar.

    Examples
    --------
    >>> import torch
    >>> t = {"x": torch.tensor([[3.0, 4.0]])}
    >>> round(float(activation_distance({"x": torch.tensor([[3.0, 0.0]])}, t)), 6)
    0.8
    >>> round(float(activation_distance({"x": torch.tensor([[6.0, 8.0]])}, t, kind="cosine")), 6)
    0.0
    """
    if kind not in DISTANCE_KINDS:
        raise MRDError(f"activation distance kind {kind!r} is not one of {', '.join(DISTANCE_KINDS)}")
    fn = _rel_l2 if kind == "rel_l2" else (lambda a, t: 1.0 - _cosine(a, t))
    per_layer = [fn(a, t) for a, t in _pairs(feats, target)]
    return torch.stack(per_layer, dim=1).mean()


def layer_similarity(
    feats: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor]
) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarity and relative L2 distance per item and layer (computed in float64, no gradient).

    Returns
    -------
    cosine, rel_l2 : numpy.ndarray
        Each ``(B, L)``, layers in the order of ``feats``.

    Examples
    --------
    >>> import torch
    >>> f = {"x": torch.tensor([[1.0, 0.0], [0.0, 2.0]])}
    >>> cos, rel = layer_similarity(f, {"x": torch.tensor([[1.0, 0.0]])})
    >>> cos[:, 0].tolist(), rel[:, 0].round(4).tolist()
    ([1.0, 0.0], [0.0, 2.2361])
    """
    with torch.no_grad():
        pairs = [(a.double(), t.double()) for a, t in _pairs(feats, target)]
        cos = torch.stack([_cosine(a, t) for a, t in pairs], dim=1)
        rel = torch.stack([_rel_l2(a, t) for a, t in pairs], dim=1)
    return cos.cpu().numpy(), rel.cpu().numpy()


def display_to_tensor(display: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """``(V, H, W, 3)`` uint8 display images to a ``(V, 3, H, W)`` float32 tensor in ``[0, 1]``.

    Examples
    --------
    >>> import numpy as np
    >>> x = display_to_tensor(np.full((2, 4, 5, 3), 255, np.uint8))
    >>> tuple(x.shape), float(x.max())
    ((2, 3, 4, 5), 1.0)
    """
    arr = np.asarray(display)
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[-1] != 3:
        raise MRDError(f"display images must be uint8 (V, H, W, 3), got {arr.dtype} {arr.shape}")
    x = torch.from_numpy(np.ascontiguousarray(arr)).to(device)
    return x.permute(0, 3, 1, 2).to(torch.float32) / 255.0


def score_images(
    model: LoadedModel,
    target_display: np.ndarray,
    metamer_display: np.ndarray,
    null_display: np.ndarray | None = None,
) -> Similarity:
    """The :class:`~stimuli.records.Similarity` of a metamer to its target under ``model``.

    Parameters
    ----------
    model : LoadedModel
        The scoring model.
    target_display, metamer_display : numpy.ndarray
        ``(V, H, W, 3)`` uint8 display images, view ``v`` of one matched with view ``v`` of the other.
    null_display : numpy.ndarray, optional
        ``(K, V, H, W, 3)`` uint8 display images of K scenes from the prior (may be empty).

    Returns
    -------
    Similarity
        ``cosine``/``rel_l2`` ``(V, L)`` per view; ``null_cosine``/``null_rel_l2`` ``(K, L)``: each
        null scene's similarity to the target, averaged over views.

    Examples
    --------
    >>> import numpy as np
    >>> from mrd.models import ModelSpec, load_model
    >>> m = load_model(ModelSpec(name="mrd.models.testing:mean_luminance", layers=["luminance"]))
    >>> img = np.full((2, 8, 8, 3), 128, np.uint8)
    >>> sim = score_images(m, img, img, np.zeros((1, 2, 8, 8, 3), np.uint8))
    >>> sim.rel_l2.tolist(), sim.null_rel_l2.round(3).tolist()
    ([[0.0], [0.0]], [[1.0]])
    """
    layers = list(model.record.layers)
    target = display_to_tensor(target_display, model.device)
    candidate = display_to_tensor(metamer_display, model.device)
    n_views = target.shape[0]
    if candidate.shape[0] != n_views:
        raise MRDError(f"score: metamer has {candidate.shape[0]} views but its target {n_views}")
    null = np.zeros((0, n_views, 1, 1, 3), np.uint8) if null_display is None else np.asarray(null_display)
    if null.size and (null.ndim != 5 or null.shape[1] != n_views):
        raise MRDError(f"score: null images must be (K, V={n_views}, H, W, 3), got {null.shape}")
    null_cos = np.zeros((0, len(layers)))
    null_rel = np.zeros((0, len(layers)))
    with torch.no_grad():
        t_feats = model.features(target)
        cos, rel = layer_similarity(model.features(candidate), t_feats)
        if null.size:
            pairs = [
                layer_similarity(model.features(display_to_tensor(views, model.device)), t_feats)
                for views in null
            ]
            null_cos = np.stack([c.mean(axis=0) for c, _ in pairs])
            null_rel = np.stack([r.mean(axis=0) for _, r in pairs])
        classes = None
        if model.classifier is not None:
            null_logits = [model.logits(display_to_tensor(views, model.device)) for views in null] if null.size else []
            classes = classification_agreement(model.logits(target), model.logits(candidate), null_logits)
    return Similarity(layers=layers, cosine=cos, rel_l2=rel, null_cosine=null_cos, null_rel_l2=null_rel,
                      classification=classes)  # fmt: skip


def classification_agreement(
    target: torch.Tensor, metamer: torch.Tensor, null: list[torch.Tensor] | None = None
) -> dict:
    """Top-1 / top-5 agreement of a metamer's classification with its target's, view by view.

    ``top1``: fraction of views whose top-1 class is the target view's; ``top5``: fraction whose
    top-5 classes contain the target view's top-1 class. ``null_top1`` / ``null_top5``: the same for
    the null draws (a random scene's agreement: the chance level of this scene), None without draws.

    Parameters
    ----------
    target, metamer : torch.Tensor
        ``(V, C)`` logits, view ``v`` of one matched with view ``v`` of the other.
    null : list of torch.Tensor, optional
        ``(V, C)`` logits of each null draw.

    Returns
    -------
    dict
        ``top1``, ``top5``, ``null_top1``, ``null_top5`` (floats), ``target_top1``, ``metamer_top1``
        (per-view class indices).

    Examples
    --------
    >>> import torch
    >>> t = torch.tensor([[0.0, 3.0, 1.0, 0.5, 0.2, 0.1], [2.0, 0.0, 1.0, 0.5, 0.2, 0.1]])
    >>> m = torch.tensor([[0.0, 3.0, 1.0, 0.5, 0.2, 0.1], [0.3, 1.0, 2.0, 0.5, 0.2, 0.1]])
    >>> a = classification_agreement(t, m)
    >>> a["top1"], a["top5"], a["target_top1"], a["metamer_top1"]
    (0.5, 1.0, [1, 0], [1, 2])
    """
    t1 = target.argmax(dim=1)
    k = min(5, target.shape[1])

    def agree(other: torch.Tensor) -> tuple[float, float]:
        top5 = other.topk(k, dim=1).indices
        return float((other.argmax(dim=1) == t1).float().mean()), float((top5 == t1[:, None]).any(dim=1).float().mean())

    top1, top5 = agree(metamer)
    nulls = [agree(n) for n in (null or [])]
    return {
        "top1": top1, "top5": top5,
        "null_top1": float(np.mean([a for a, _ in nulls])) if nulls else None,
        "null_top5": float(np.mean([b for _, b in nulls])) if nulls else None,
        "target_top1": [int(c) for c in t1], "metamer_top1": [int(c) for c in metamer.argmax(dim=1)],
    }  # fmt: skip
