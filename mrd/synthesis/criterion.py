"""The success criterion of a metamer: the generating model as an oddity observer, and a real null.

All functions take activations of *independent display renders*: ``{layer: (R, V, ...)}`` (torch
tensors or numpy arrays) for R renders (distinct seeds) of one scene, V views each; view ``v`` is
only ever compared with view ``v``. :func:`mrd.synthesis.distances.render_features` makes them from uint8 renders.

Distances are the ones the optimisation uses (:func:`mrd.synthesis.similarity.layer_similarity`):
``rel_l2`` ``|a - b| / |b|`` (``b`` the reference) or ``cosine`` ``1 - cos(a, b)``, averaged over
the configured layers. Three measures come from them:

* :func:`model_oddity`: triplets of renders, half *two target renders + one metamer render*, half
  *two metamer renders + one target render*; the model picks the item whose summed distance to the
  other two is largest (distances averaged over views; ``rel_l2`` symmetrised, ``(d(a,b)+d(b,a))/2``,
  as a triplet has no reference; ties are guessed at random). A model that cannot tell the metamer
  from a re-render is right on 1/3 of the triplets.
* the distance ratio ``d(metamer, target) / d(target, target')`` (mean over render pairs, target
  render as reference): 1 when the metamer is as close as a re-render.
* :func:`null_p_values`: per layer and metric (``rel_l2``, ``cosine`` and the rank correlation
  ``spearman``), the empirical p-value ``(1 + #{null draws at least as close}) / (1 + K)``.

:class:`Criterion` combines them into the stored ``criterion`` (exactly the keys
:data:`stimuli.success.CRITERION_KEYS`) and graded extras; :func:`success_of` is the rule.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> target = {"x": rng.normal(5, 1, (6, 2, 50))}
>>> same = {"x": rng.normal(5, 1, (6, 2, 50))}
>>> far = {"x": rng.normal(9, 1, (6, 2, 50))}
>>> model_oddity(target, far, 200, rng).pc
1.0
>>> 0.2 < model_oddity(target, same, 200, rng).pc < 0.5
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mrd.synthesis.distances import (
    NULL_METRICS,
    Feats,
    as_renders,
    check_views,
    mean_distance,
    pairwise_distances,
    render_features,
)
from mrd.synthesis.oddity import (  # noqa: F401  (re-exported: the criterion's public names)
    CI_METHODS,
    Oddity,
    binomial_interval,
    model_oddity,
    render_jackknife_se,
    sample_triplets,
)
from stimuli.errors import MRDError
from stimuli.success import CRITERION_KEYS, success_rule


def null_p_values(
    target_feats: Feats, metamer_feats: Feats, null_feats: Feats, metrics: Sequence[str] = NULL_METRICS
) -> dict[str, dict[str, float]]:
    """Empirical p-value of the metamer's distance to the target among K null draws, per metric and layer.

    A candidate's distance is the mean over its renders, the target renders and the views;
    ``p = (1 + #{k: d(null_k) <= d(metamer)}) / (1 + K)``. ``cosine`` and ``spearman`` carry no
    information on a layer of one value per view (any two positive scalars have cosine 1), so they
    are left out there.

    Parameters
    ----------
    target_feats, metamer_feats : mapping of str to array
        ``{layer: (R, V, ...)}``.
    null_feats : mapping of str to array
        ``{layer: (K, V, ...)}``: one render of each null draw.
    metrics : sequence of str
        From :data:`NULL_METRICS`.

    Returns
    -------
    dict
        ``{metric: {layer: p}}``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> t = {"x": rng.normal(5, 1, (3, 1, 40))}
    >>> null = {"x": rng.normal(5, 1, (9, 1, 40)) + rng.normal(0, 3, (9, 1, 1))}
    >>> null_p_values(t, {"x": t["x"][:2] + 0.01}, null, ["rel_l2"])
    {'rel_l2': {'x': 0.1}}
    """
    t = as_renders(target_feats, "target")
    m = as_renders(metamer_feats, "metamer", list(t))
    k = as_renders(null_feats, "null", list(t))
    check_views(t, m, "metamer")
    check_views(t, k, "null")
    n_null = next(iter(k.values())).shape[0]
    out: dict[str, dict[str, float]] = {}
    for metric in metrics:
        if metric not in NULL_METRICS:
            raise MRDError(f"criterion: null metric {metric!r} is not one of {', '.join(NULL_METRICS)}")
        layers = [name for name, v in t.items() if metric == "rel_l2" or v[0, 0].numel() > 1]
        if not layers:
            continue
        sub = {name: t[name] for name in layers}
        dm = pairwise_distances({name: m[name] for name in layers}, sub, metric).mean(axis=(0, 1, 2))
        dk = pairwise_distances({name: k[name] for name in layers}, sub, metric).mean(axis=(1, 2))  # (K, L)
        out[metric] = {
            name: float((1 + np.sum(dk[:, i] <= dm[i])) / (1 + n_null)) for i, name in enumerate(layers)
        }
    if not out:
        raise MRDError(f"criterion: none of the metrics {list(metrics)} applies to layers {list(t)}")
    return out


@dataclass
class Evaluation:
    """The outcome of :meth:`Criterion.evaluate`.

    Attributes
    ----------
    criterion : dict
        Exactly :data:`stimuli.success.CRITERION_KEYS` (the metamer attribute ``criterion``).
    graded : dict
        The graded measures (JSON-ready; for the record's ``info``).
    """

    criterion: dict[str, Any]
    graded: dict[str, Any] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return success_of(self.criterion)


def success_of(criterion: Mapping[str, Any]) -> bool:
    """``oddity_pc <= oddity_pc_max and null_p <= null_alpha and beats_start`` (:func:`stimuli.success.success_rule`).

    Examples
    --------
    >>> success_of({"oddity_pc": 0.4, "oddity_pc_max": 0.45, "null_p": 0.01, "null_alpha": 0.05, "beats_start": True})
    True
    """
    return success_rule(dict(criterion))


@dataclass(frozen=True)
class Criterion:
    """The success rule of a metamer and its defaults.

    Parameters
    ----------
    oddity_pc_max : float
        Largest proportion correct of the model as an oddity observer that counts as "cannot tell":
        0.45 lies 0.12 above chance (1/3), which with 200 triplets is about 3.5 binomial standard
        errors (sd of a proportion at 1/3 over 200 trials: 0.033): a metamer the model tells apart
        on half the triplets fails. The spread that matters more is that of the R renders: the
        triplets of one scene pair share them, so even a perfect metamer's proportion varies from
        pair to pair. Measured on exchangeable Gaussian "activations" (30 values, 400 pairs each),
        the all-triplet proportion has sd 0.107 at R = 4 renders per scene (14 % of perfect
        metamers above 0.45), 0.067 at R = 6 (5.5 %), 0.049 at R = 8 (2 %), 0.032 at R = 12 (0 %):
        use R >= 8 renders for the criterion.
    null_alpha : float
        Largest null p-value that counts: 0.05. With K = 100 draws the smallest reachable p is
        1/101 (about 0.0099), so 0.05 means at most 4 of 100 null draws as close as the metamer; with
        K < 19 no metamer can pass. The rule takes the largest p over layers and metrics (the weakest
        evidence): requiring every test to pass is an intersection-union test, valid at level alpha
        without a multiplicity correction.
    n_triplets : int
        Oddity triplets (>= 200 by the issue's check).
    kind : {"rel_l2", "cosine"}
        The optimisation's distance.
    metrics : tuple of str
        Null-test metrics.
    ci : {"wilson", "clopper-pearson"}

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> scene = rng.normal(5, 1, (1, 1, 30))  # re-renders: the scene plus render noise
    >>> t, m = {"x": scene + rng.normal(0, 0.3, (6, 2, 30))}, {"x": scene + rng.normal(0, 0.3, (6, 2, 30))}
    >>> null = {"x": scene + rng.normal(0, 0.3, (100, 2, 30)) + rng.normal(0, 1, (100, 1, 30))}
    >>> ev = Criterion().evaluate(t, m, {"x": t["x"] + 5}, null, rng=0)
    >>> sorted(ev.criterion) == sorted(CRITERION_KEYS), ev.criterion["beats_start"], ev.success
    (True, True, True)
    """

    oddity_pc_max: float = 0.45
    null_alpha: float = 0.05
    n_triplets: int = 200
    kind: str = "rel_l2"
    metrics: tuple[str, ...] = NULL_METRICS
    ci: str = "wilson"

    def evaluate_renders(self, model: Any, target: np.ndarray, metamer: np.ndarray, start: np.ndarray,
                         null: np.ndarray, rng: Any = None) -> Evaluation:  # fmt: skip
        """:meth:`evaluate` on uint8 display renders ``(R, V, H, W, 3)`` (``null``: ``(K, V, H, W, 3)``) under ``model``.

        Examples
        --------
        >>> from mrd.models import ModelSpec, load_model
        >>> m = load_model(ModelSpec(name="pixels_8", layers=["pixels"]))
        >>> imgs = np.random.default_rng(0).integers(0, 256, (4, 1, 8, 8, 3), dtype=np.uint8)
        >>> far = 255 - imgs  # four null draws far from the target
        >>> Criterion(n_triplets=10).evaluate_renders(m, imgs, imgs, far[:1], far, rng=0).criterion["null_p"]
        0.2
        """
        feats = [render_features(model, x) for x in (target, metamer, start, null)]
        return self.evaluate(*feats, rng=rng)

    def evaluate(self, target_feats: Feats, metamer_feats: Feats, start_feats: Feats, null_feats: Feats,
                 rng: Any = None) -> Evaluation:  # fmt: skip
        """Oddity, null p-values and the start comparison of a metamer (all arguments ``{layer: (R, V, ...)}``).

        ``null_feats`` holds one render of each of K null draws, ``start_feats`` renders of the
        optimisation's start. ``rng`` (Generator or seed) draws the triplets.
        """
        odd = model_oddity(target_feats, metamer_feats, self.n_triplets, rng, self.kind, self.ci)
        p = null_p_values(target_feats, metamer_feats, null_feats, self.metrics)
        d_start = mean_distance(start_feats, target_feats, self.kind)
        t = as_renders(target_feats, "target")
        null_d = pairwise_distances(null_feats, t, self.kind).mean(axis=(1, 2, 3))
        per_vl = pairwise_distances(metamer_feats, t, self.kind).mean(axis=(0, 1))
        tt = pairwise_distances(t, t, self.kind)
        off = ~np.eye(tt.shape[0], dtype=bool)
        criterion = {
            "oddity_pc": odd.pc, "oddity_pc_max": float(self.oddity_pc_max),
            "null_p": max(v for per in p.values() for v in per.values()), "null_alpha": float(self.null_alpha),
            "beats_start": bool(odd.distance_metamer < d_start),
        }  # fmt: skip
        criterion = {k: criterion[k] for k in CRITERION_KEYS}
        graded = {
            "oddity_correct": odd.correct, "oddity_n": odd.n, "oddity_ci_low": odd.ci_low,
            "oddity_ci_high": odd.ci_high, "oddity_ci_method": odd.ci_method, "oddity_distinct": odd.distinct,
            "oddity_pc_exhaustive": odd.pc_exhaustive, "oddity_pc_per_view": odd.pc_per_view,
            "oddity_pc_se_renders": odd.pc_se_renders,
            "distance_kind": self.kind, "distance_ratio": odd.distance_ratio,
            "distance_metamer": odd.distance_metamer, "distance_target": odd.distance_target,
            "distance_start": d_start, "distance_null": [float(x) for x in null_d],
            "distance_metamer_view_layer": per_vl.tolist(), "distance_target_view_layer": tt[off].mean(axis=0).tolist(),
            "layers": list(t), "null_k": int(null_d.shape[0]), "null_p_per_layer_metric": p,
        }  # fmt: skip
        return Evaluation(criterion=criterion, graded=graded)


def evaluate(target_feats: Feats, metamer_feats: Feats, start_feats: Feats, null_feats: Feats, *,
             rng: Any = None, **settings: Any) -> Evaluation:  # fmt: skip
    """``Criterion(**settings).evaluate(...)``.

    Examples
    --------
    >>> x = {"x": np.random.default_rng(0).random((3, 1, 4))}
    >>> evaluate(x, x, x, x, rng=0, n_triplets=10).criterion["beats_start"]
    False
    """
    return Criterion(**settings).evaluate(target_feats, metamer_feats, start_feats, null_feats, rng)
