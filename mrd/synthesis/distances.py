"""Distances between activations of independent renders, the measures of :mod:`mrd.synthesis.criterion`.

Activations are ``{layer: (R, V, ...)}`` (torch tensors or numpy arrays) for R renders of one scene
with V views each (:func:`render_features` makes them from uint8 renders); view ``v`` is only
compared with view ``v``. Distances: ``rel_l2`` and ``cosine`` exactly as the optimisation and the
stored scores compute them (:func:`mrd.synthesis.similarity.layer_similarity`), and ``spearman``
(``1 - rho`` of the flattened activations).

Examples
--------
>>> a = {"x": np.array([[[1.0, 0.0]], [[0.0, 1.0]]])}
>>> pairwise_distances(a, a, "cosine")[:, :, 0, 0].tolist()
[[0.0, 1.0], [1.0, 0.0]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from mrd.synthesis.similarity import DISTANCE_KINDS, display_to_tensor, layer_similarity
from stimuli.errors import MRDError

NULL_METRICS = ("rel_l2", "cosine", "spearman")
"""Metrics of the null test: the optimisation's two distances and a rank correlation (``1 - rho``)."""
Feats = Mapping[str, Any]


def render_features(model: Any, renders: np.ndarray) -> dict[str, torch.Tensor]:
    """Activations ``{layer: (R, V, ...)}`` of uint8 renders ``(R, V, H, W, 3)`` (one render per batch).

    Examples
    --------
    >>> from mrd.models import ModelSpec, load_model
    >>> m = load_model(ModelSpec(name="pixels", layers=["pixels"]))
    >>> tuple(render_features(m, np.zeros((3, 2, 8, 8, 3), np.uint8))["pixels"].shape)
    (3, 2, 3, 64, 64)
    """
    arr = np.asarray(renders)
    if arr.ndim != 5:
        raise MRDError(f"criterion: renders must be uint8 (R, V, H, W, 3), got shape {arr.shape}")
    out: dict[str, list[torch.Tensor]] = {}
    with torch.no_grad():
        for views in arr:
            for k, v in model.features(display_to_tensor(views, model.device)).items():
                out.setdefault(k, []).append(v.detach().cpu())
    return {k: torch.stack(v) for k, v in out.items()}


def as_renders(feats: Feats, what: str, layers: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
    """Check ``{layer: (R, V, ...)}`` (same R, V in every layer) and return float64 CPU tensors."""
    if not feats:
        raise MRDError(f"criterion: {what} activations name no layers")
    if layers is not None and list(feats) != list(layers):
        if set(layers) - set(feats):
            raise MRDError(f"criterion: {what} activations lack layers {sorted(set(layers) - set(feats))}")
        feats = {k: feats[k] for k in layers}
    out = {k: torch.as_tensor(np.asarray(v.detach().cpu()) if isinstance(v, torch.Tensor) else np.asarray(v),
                              dtype=torch.float64) for k, v in feats.items()}  # fmt: skip
    rv = {k: tuple(v.shape[:2]) for k, v in out.items()}
    if any(v.ndim < 3 for v in out.values()) or len(set(rv.values())) != 1:
        raise MRDError(f"criterion: {what} activations must be (R, V, ...) with the same R and V in every "
                       f"layer; got shapes {({k: tuple(v.shape) for k, v in out.items()})}")  # fmt: skip
    return out


def check_views(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], what: str) -> None:
    for k in a:
        if a[k].shape[1:] != b[k].shape[1:]:
            raise MRDError(f"criterion: layer {k!r}: {what} activations have shape {tuple(b[k].shape[1:])} "
                           f"per render, the target's {tuple(a[k].shape[1:])}")  # fmt: skip


def _spearman_rows(x: torch.Tensor) -> torch.Tensor:
    """Average ranks of each row, centred and scaled to unit norm (a constant row becomes 0)."""
    from scipy.stats import rankdata

    r = torch.as_tensor(rankdata(x.numpy(), axis=1), dtype=torch.float64)
    r = r - r.mean(dim=1, keepdim=True)
    return r / torch.linalg.vector_norm(r, dim=1, keepdim=True).clamp_min(1e-300)


def pairwise_distances(cand: Feats, ref: Feats, metric: str = "rel_l2") -> np.ndarray:
    """``d(cand[n, v], ref[m, v])`` per layer: an array ``(N, M, V, L)`` (layers in the order of ``cand``).

    ``metric`` is ``"rel_l2"`` (``ref`` is the reference), ``"cosine"`` (``1 - cos``) or
    ``"spearman"`` (``1 - rho`` of the flattened activations; average ranks for ties, ``rho = 0``
    when either is constant).

    Examples
    --------
    >>> a = {"x": np.array([[[3.0, 4.0]], [[3.0, 0.0]]])}
    >>> pairwise_distances(a, a)[:, :, 0, 0].round(3).tolist()
    [[0.0, 1.333], [0.8, 0.0]]
    """
    if metric not in NULL_METRICS:
        raise MRDError(f"criterion: metric {metric!r} is not one of {', '.join(NULL_METRICS)}")
    c = as_renders(cand, "candidate")
    r = as_renders(ref, "reference", list(c))
    check_views(r, c, "candidate")
    n, v_count = next(iter(c.values())).shape[:2]
    m = next(iter(r.values())).shape[0]
    out = np.empty((n, m, v_count, len(c)))
    if metric == "spearman":
        for li, k in enumerate(c):
            for v in range(v_count):
                a = _spearman_rows(c[k][:, v].reshape(n, -1))
                b = _spearman_rows(r[k][:, v].reshape(m, -1))
                out[:, :, v, li] = (1.0 - a @ b.T).numpy()
        return out
    for j in range(m):
        for v in range(v_count):
            cos, rel = layer_similarity(
                {k: x[:, v] for k, x in c.items()}, {k: x[j : j + 1, v] for k, x in r.items()}
            )
            out[:, j, v, :] = rel if metric == "rel_l2" else 1.0 - cos
    return out


def check_kind(kind: str) -> None:
    if kind not in DISTANCE_KINDS:
        raise MRDError(f"criterion: distance kind {kind!r} is not one of {', '.join(DISTANCE_KINDS)}")


def mean_distance(cand: Feats, ref: Feats, kind: str = "rel_l2", *, exclude_same: bool = False) -> float:
    """Mean over render pairs, views and layers of ``d(cand, ref)`` (``exclude_same``: skip ``n == m``).

    Examples
    --------
    >>> a = {"x": np.array([[[1.0, 0.0]], [[0.0, 1.0]]])}
    >>> mean_distance(a, a, "cosine", exclude_same=True)
    1.0
    """
    check_kind(kind)
    d = pairwise_distances(cand, ref, kind).mean(axis=(2, 3))
    if exclude_same:
        if d.shape[0] != d.shape[1] or d.shape[0] < 2:
            raise MRDError(
                f"criterion: need >= 2 renders of one scene for pairs of distinct renders, got {d.shape[0]}"
            )
        return float(d[~np.eye(d.shape[0], dtype=bool)].mean())
    return float(d.mean())


def intrinsic_distance(feats: Feats, kind: str = "rel_l2") -> np.ndarray:
    """The model's own render-to-render distance of one scene: ``(V, L)``, mean over pairs of distinct renders.

    Examples
    --------
    >>> a = {"x": np.array([[[3.0, 4.0]], [[3.0, 0.0]]])}
    >>> intrinsic_distance(a).round(4).tolist()
    [[1.0667]]
    """
    check_kind(kind)
    d = pairwise_distances(feats, feats, kind)
    if d.shape[0] < 2:
        raise MRDError(
            f"criterion: need >= 2 renders of one scene for pairs of distinct renders, got {d.shape[0]}"
        )
    return d[~np.eye(d.shape[0], dtype=bool)].mean(axis=0)
