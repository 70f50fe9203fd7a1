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

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from mrd.synthesis.distances import (
    NULL_METRICS,
    Feats,
    as_renders,
    check_kind,
    check_views,
    mean_distance,
    pairwise_distances,
    render_features,
)
from stimuli.errors import MRDError
from stimuli.success import CRITERION_KEYS, success_rule

Z95 = 1.959963984540054
"""Two-sided 95 % standard-normal quantile."""
CI_METHODS = ("wilson", "clopper-pearson")
_EXHAUSTIVE_MAX = 2_000_000


def binomial_interval(k: int, n: int, method: str = "wilson") -> tuple[float, float]:
    """Two-sided 95 % interval of a proportion ``k / n``: Wilson score (default) or Clopper-Pearson.

    Examples
    --------
    >>> [round(x, 4) for x in binomial_interval(7, 20)]
    [0.1812, 0.5671]
    """
    if n < 1 or not 0 <= k <= n:
        raise MRDError(f"criterion: binomial interval needs 0 <= k <= n and n >= 1, got k={k}, n={n}")
    if method == "wilson":
        p, z2 = k / n, Z95**2
        centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        half = Z95 / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
        return max(0.0, centre - half), min(1.0, centre + half)
    if method == "clopper-pearson":
        from scipy.stats import beta

        lo = 0.0 if k == 0 else float(beta.ppf(0.025, k, n - k + 1))
        hi = 1.0 if k == n else float(beta.ppf(0.975, k + 1, n - k))
        return lo, hi
    raise MRDError(f"criterion: interval method {method!r} is not one of {', '.join(CI_METHODS)}")


@dataclass
class Oddity:
    """What :func:`model_oddity` measured (see its docstring)."""

    pc: float
    correct: int
    n: int
    ci_low: float
    ci_high: float
    ci_method: str
    distinct: int
    pc_exhaustive: float | None
    pc_per_view: list[float]
    distance_ratio: float
    distance_metamer: float
    distance_target: float


def _odd_scores(d: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Summed distance of each item of triplets ``(a, b, c)`` to the other two: ``(T, 3)``."""
    return np.stack([d[a, b] + d[a, c], d[b, a] + d[b, c], d[c, a] + d[c, b]], axis=1)


def _p_odd(scores: np.ndarray) -> np.ndarray:
    """Chance of picking item 2 (the odd one): 1/#tied if it has the largest score, else 0."""
    top = np.isclose(scores, scores.max(axis=1, keepdims=True), rtol=1e-12, atol=0.0)
    return np.where(top[:, 2], 1.0 / top.sum(axis=1), 0.0)


def sample_triplets(r_target: int, r_metamer: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` oddity triplets ``(a, b, odd)`` of render indices (targets ``0..R_t-1``, metamers after them).

    The first ``ceil(n/2)`` rows hold two distinct target renders and a metamer render, the rest two
    distinct metamer renders and a target render; each type is drawn uniformly, with replacement,
    from its ``C(R, 2) * R_other`` distinct combinations.

    Examples
    --------
    >>> sample_triplets(2, 3, 3, np.random.default_rng(0))[:, :2].tolist()[:2]
    [[0, 1], [0, 1]]
    """

    def draw(same: np.ndarray, other: np.ndarray, k: int) -> np.ndarray:
        pairs = np.array(np.triu_indices(len(same), 1)).T
        pick = pairs[rng.integers(len(pairs), size=k)]
        return np.column_stack([same[pick[:, 0]], same[pick[:, 1]], other[rng.integers(len(other), size=k)]])

    tidx, midx = np.arange(r_target), r_target + np.arange(r_metamer)
    n_a = (n + 1) // 2
    return np.concatenate([draw(tidx, midx, n_a), draw(midx, tidx, n - n_a)])


def model_oddity(
    target_feats: Feats, metamer_feats: Feats, n_triplets: int = 200, rng: Any = None, kind: str = "rel_l2",
    ci: str = "wilson",
) -> Oddity:  # fmt: skip
    """The model as an oddity observer on triplets of independent renders.

    Parameters
    ----------
    target_feats, metamer_feats : mapping of str to array
        ``{layer: (R, V, ...)}`` activations of R >= 2 renders of the target and of the metamer.
    n_triplets : int
        Triplets sampled with replacement over the distinct ones: ``ceil(n/2)`` of two target renders
        and one metamer render, ``floor(n/2)`` the other way round (each type uniformly over its
        ``C(R_a, 2) * R_b`` distinct combinations; a triplet never holds a render twice).
    rng : numpy.random.Generator or int, optional
    kind : {"rel_l2", "cosine"}
        The optimisation's distance (mean over layers; over views for the decision).
    ci : {"wilson", "clopper-pearson"}
        The 95 % interval of the proportion correct.

    Returns
    -------
    Oddity
        ``pc`` (proportion correct, ties guessed with ``rng``), ``correct``, ``n``, the interval,
        ``distinct`` (number of distinct triplets; when ``n`` exceeds it the draws repeat triplets
        and the interval is narrower than the sampling error of R renders), ``pc_exhaustive`` (the
        expected proportion over every distinct triplet, both types weighted equally; None beyond
        2e6 triplets), ``pc_per_view`` (each view judged alone, exhaustively), and the distance ratio
        ``distance_metamer / distance_target``.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> o = model_oddity({"x": rng.random((4, 1, 9))}, {"x": 3 + rng.random((4, 1, 9))}, 100, rng)
    >>> o.pc, o.distinct, o.distance_ratio > 3
    (1.0, 48, True)
    """
    check_kind(kind)
    t = as_renders(target_feats, "target")
    m = as_renders(metamer_feats, "metamer", list(t))
    check_views(t, m, "metamer")
    rt, rm = next(iter(t.values())).shape[0], next(iter(m.values())).shape[0]
    if rt < 2 or rm < 2:
        raise MRDError(f"criterion: oddity triplets need >= 2 independent renders of the target and of the "
                       f"metamer; got {rt} and {rm}")  # fmt: skip
    if n_triplets < 1:
        raise MRDError(f"criterion: n_triplets must be >= 1, got {n_triplets}")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    items = {k: torch.cat([t[k], m[k]]) for k in t}
    d = pairwise_distances(items, items, kind).mean(axis=3)  # (N, N, V); column = reference
    dist_target = float(d[:rt, :rt][~np.eye(rt, dtype=bool)].mean())
    dist_metamer = float(d[rt:, :rt].mean())
    sym = (d + d.transpose(1, 0, 2)) / 2
    comb = sym.mean(axis=2)
    tidx, midx = np.arange(rt), rt + np.arange(rm)
    trip = sample_triplets(rt, rm, n_triplets, gen)
    p_odd = _p_odd(_odd_scores(comb, trip[:, 0], trip[:, 1], trip[:, 2]))
    correct = int((gen.random(len(p_odd)) < p_odd).sum())
    lo, hi = binomial_interval(correct, n_triplets, ci)

    distinct_a, distinct_b = math.comb(rt, 2) * rm, math.comb(rm, 2) * rt
    exhaustive, per_view = None, []
    if distinct_a + distinct_b <= _EXHAUSTIVE_MAX:
        every = []
        for same, other in ((tidx, midx), (midx, tidx)):
            i, j = np.triu_indices(len(same), 1)
            g = np.array(np.meshgrid(np.arange(len(i)), other, indexing="ij")).reshape(2, -1)
            every.append((same[i][g[0]], same[j][g[0]], g[1]))

        def pc_all(dd: np.ndarray) -> float:
            return float(np.mean([_p_odd(_odd_scores(dd, *e)).mean() for e in every]))

        exhaustive = pc_all(comb)
        per_view = [pc_all(sym[:, :, v]) for v in range(sym.shape[2])]
    ratio = dist_metamer / dist_target if dist_target > 0 else (math.inf if dist_metamer > 0 else math.nan)
    return Oddity(pc=correct / n_triplets, correct=correct, n=n_triplets, ci_low=lo, ci_high=hi, ci_method=ci,
                  distinct=distinct_a + distinct_b, pc_exhaustive=exhaustive, pc_per_view=per_view,
                  distance_ratio=ratio, distance_metamer=dist_metamer, distance_target=dist_target)  # fmt: skip


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
