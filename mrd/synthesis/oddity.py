"""The model as an oddity observer: triplets of independent renders, proportion correct, its intervals.

Two target renders and one metamer render, or two metamer renders and one target render: the model
picks the item whose summed distance to the other two is largest (distances averaged over views;
``rel_l2`` symmetrised, ``(d(a,b)+d(b,a))/2``, as a triplet has no reference; ties are guessed at
random). A model that cannot tell the metamer from a re-render is right on 1/3 of the triplets.
:mod:`mrd.synthesis.criterion` turns this into the success rule.

The triplets of one scene pair share their renders, so the binomial interval of the sampled
proportion says how well the triplets were sampled, not how well the renders were: the render-level
standard error (:func:`render_jackknife_se`) is the uncertainty of a verdict.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> target = {"x": rng.normal(5, 1, (6, 2, 50))}
>>> model_oddity(target, {"x": rng.normal(9, 1, (6, 2, 50))}, 200, rng).pc
1.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from mrd.synthesis.distances import Feats, as_renders, check_kind, check_views, pairwise_distances
from stimuli.errors import MRDError

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
        lo, hi = max(0.0, centre - half), min(1.0, centre + half)
        return (0.0 if k == 0 else lo), (1.0 if k == n else hi)  # exact ends (rounding left 1 - 2e-16)
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
    pc_se_renders: float | None = None


def _odd_scores(d: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Summed distance of each item of triplets ``(a, b, c)`` to the other two: ``(T, 3)``."""
    return np.stack([d[a, b] + d[a, c], d[b, a] + d[b, c], d[c, a] + d[c, b]], axis=1)


def _p_odd(scores: np.ndarray) -> np.ndarray:
    """Chance of picking item 2 (the odd one): 1/#tied if it has the largest score, else 0."""
    top = np.isclose(scores, scores.max(axis=1, keepdims=True), rtol=1e-12, atol=0.0)
    return np.where(top[:, 2], 1.0 / top.sum(axis=1), 0.0)


def distinct_triplets(r_target: int, r_metamer: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Every distinct triplet of each type, as index arrays ``(a, b, odd)`` (targets first, then metamers).

    Examples
    --------
    >>> [len(a) for a, _, _ in distinct_triplets(3, 4)]  # C(3,2)*4 and C(4,2)*3
    [12, 18]
    """
    tidx, midx = np.arange(r_target), r_target + np.arange(r_metamer)
    every = []
    for same, other in ((tidx, midx), (midx, tidx)):
        i, j = np.triu_indices(len(same), 1)
        g = np.array(np.meshgrid(np.arange(len(i)), other, indexing="ij")).reshape(2, -1)
        every.append((same[i][g[0]], same[j][g[0]], g[1]))
    return every


def render_jackknife_se(p_odd: Sequence[np.ndarray], every: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
                        r_target: int, r_metamer: int) -> float | None:  # fmt: skip
    """Two-sample jackknife standard error, over renders, of the all-triplet proportion correct.

    The all-triplet proportion is a two-sample U-statistic of the target and metamer renders; each
    render is left out in turn (every triplet holding it dropped, the two triplet types still
    weighted equally) and ``se^2 = sum_g (n_g - 1) / n_g * sum_i (pc_(i) - mean_g)^2`` over the two
    groups ``g`` of ``n_g`` renders (Arvesen's jackknife for two-sample U-statistics). It is
    conservative: on exchangeable Gaussian "activations" it came out 1.59x the real spread of the
    proportion over 200 independent render sets at 6 renders per scene and 1.40x at 8 and 12
    (``tests/mrd/test_criterion_se.py``), never below it.

    Parameters
    ----------
    p_odd : sequence of ndarray
        For each triplet type, the chance that each distinct triplet is judged correctly.
    every : sequence of tuple
        The triplets (:func:`distinct_triplets`): index arrays ``(a, b, odd)`` per type.
    r_target, r_metamer : int

    Returns
    -------
    float or None
        None when a group has fewer than 3 renders (leaving one out must leave a pair).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(8, 5))
    >>> d = np.linalg.norm(x[:, None] - x[None], axis=2)
    >>> every = distinct_triplets(4, 4)
    >>> 0 < render_jackknife_se([_p_odd(_odd_scores(d, *e)) for e in every], every, 4, 4) < 0.5
    True
    """
    if r_target < 3 or r_metamer < 3:
        return None
    loo = np.empty(r_target + r_metamer)
    for r in range(r_target + r_metamer):
        keep = [(a != r) & (b != r) & (c != r) for a, b, c in every]
        loo[r] = np.mean([pi[k].mean() for pi, k in zip(p_odd, keep, strict=True)])
    var = 0.0
    for grp in (loo[:r_target], loo[r_target:]):
        n = len(grp)
        var += (n - 1) / n * float(np.sum((grp - grp.mean()) ** 2))
    return math.sqrt(var)


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
        ``distance_metamer / distance_target``, and ``pc_se_renders``, the standard error of
        ``pc_exhaustive`` over the sampling of the *renders* (:func:`render_jackknife_se`; None when
        a type has fewer than 3 renders or beyond 2e6 triplets): the triplets share their renders,
        so this, not the binomial interval, is the uncertainty of the verdict.

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
    trip = sample_triplets(rt, rm, n_triplets, gen)
    p_odd = _p_odd(_odd_scores(comb, trip[:, 0], trip[:, 1], trip[:, 2]))
    correct = int((gen.random(len(p_odd)) < p_odd).sum())
    lo, hi = binomial_interval(correct, n_triplets, ci)

    distinct_a, distinct_b = math.comb(rt, 2) * rm, math.comb(rm, 2) * rt
    exhaustive, per_view, se = None, [], None
    if distinct_a + distinct_b <= _EXHAUSTIVE_MAX:
        every = distinct_triplets(rt, rm)

        def p_all(dd: np.ndarray) -> list[np.ndarray]:
            return [_p_odd(_odd_scores(dd, *e)) for e in every]

        p_comb = p_all(comb)
        exhaustive = float(np.mean([p.mean() for p in p_comb]))
        per_view = [float(np.mean([p.mean() for p in p_all(sym[:, :, v])])) for v in range(sym.shape[2])]
        se = render_jackknife_se(p_comb, every, rt, rm)
    ratio = dist_metamer / dist_target if dist_target > 0 else (math.inf if dist_metamer > 0 else math.nan)
    return Oddity(pc=correct / n_triplets, correct=correct, n=n_triplets, ci_low=lo, ci_high=hi, ci_method=ci,
                  distinct=distinct_a + distinct_b, pc_exhaustive=exhaustive, pc_per_view=per_view,
                  distance_ratio=ratio, distance_metamer=dist_metamer, distance_target=dist_target,
                  pc_se_renders=se)  # fmt: skip
