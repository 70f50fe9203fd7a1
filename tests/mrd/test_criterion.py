"""The success criterion against known truth: chance for exchangeable renders, certainty for far ones,
brute-force triplet enumeration, statsmodels' binomial intervals, p-values recomputed with scipy, a
calibrated planted null, and the luminance-only network fooled by a colour change at equal luminance.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import torch
from scipy.stats import binomtest, spearmanr
from statsmodels.stats.proportion import proportion_confint

from mrd.models import ModelSpec, load_model
from mrd.render.color import delta_e, linear_to_srgb
from mrd.synthesis.criterion import (
    Criterion,
    binomial_interval,
    evaluate,
    model_oddity,
    null_p_values,
    sample_triplets,
    success_of,
)
from mrd.synthesis.distances import intrinsic_distance, mean_distance, pairwise_distances, render_features
from stimuli.errors import MRDError
from stimuli.success import CRITERION_KEYS, check_criterion


def _scene(rng, n_views=2, n=40):
    return rng.normal(5.0, 1.0, (1, n_views, n))


def _renders(scene, r, rng, noise=0.3):
    return scene + rng.normal(0.0, noise, (r, *scene.shape[1:]))


def test_same_distribution_gives_chance_and_a_far_metamer_is_always_found():
    rng = np.random.default_rng(11)
    scene = _scene(rng)
    target = {"a": _renders(scene, 40, rng), "b": _renders(scene, 40, rng) ** 2}
    same = {"a": _renders(scene, 40, rng), "b": _renders(scene, 40, rng) ** 2}
    for kind in ("rel_l2", "cosine"):
        odd = model_oddity(target, same, 400, rng, kind=kind)
        assert binomtest(odd.correct, odd.n, 1 / 3).pvalue > 0.01, (kind, odd.pc)
        assert abs(odd.pc_exhaustive - 1 / 3) < 0.05 and 0.8 < odd.distance_ratio < 1.25
        assert odd.ci_low < 1 / 3 < odd.ci_high
    far = {"a": _renders(scene + 2.0, 40, rng), "b": _renders(scene + 2.0, 40, rng) ** 2}
    odd = model_oddity(target, far, 400, rng)
    assert odd.pc == 1.0 and odd.pc_exhaustive == 1.0 and odd.distance_ratio > 3
    assert binomtest(odd.correct, odd.n, 1 / 3).pvalue < 1e-50


def test_expected_proportion_over_small_render_sets_is_one_third():
    """With few renders the proportion of one scene pair varies, but its mean over scenes is 1/3."""
    pcs = []
    for seed in range(150):
        rng = np.random.default_rng(seed)
        scene = _scene(rng, 1, 20)
        pcs.append(
            model_oddity({"x": _renders(scene, 5, rng)}, {"x": _renders(scene, 5, rng)}, 2, rng).pc_exhaustive
        )
    assert abs(np.mean(pcs) - 1 / 3) < 3 * np.std(pcs) / math.sqrt(len(pcs)), np.mean(pcs)


def _brute_force_pc(feats_t, feats_m, kind):
    """Proportion correct over every distinct triplet, by loops over itertools (independent of the module)."""
    items = [feats_t[r] for r in range(len(feats_t))] + [feats_m[r] for r in range(len(feats_m))]

    def d(a, b):  # mean over views of the symmetrised distance
        per_view = []
        for v in range(a.shape[0]):
            x, y = a[v].ravel(), b[v].ravel()
            if kind == "rel_l2":
                per_view.append(
                    (np.linalg.norm(x - y) / np.linalg.norm(y) + np.linalg.norm(y - x) / np.linalg.norm(x))
                    / 2
                )
            else:
                per_view.append(1 - x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))
        return np.mean(per_view)

    rt, rm = len(feats_t), len(feats_m)
    by_type = []
    for same, other in ((range(rt), range(rt, rt + rm)), (range(rt, rt + rm), range(rt))):
        right = []
        for (i, j), k in itertools.product(itertools.combinations(same, 2), other):
            trip = (i, j, k)
            s = [sum(d(items[a], items[b]) for b in trip if b != a) for a in trip]
            right.append(float(int(np.argmax(s)) == 2))
        by_type.append(np.mean(right))
    return float(np.mean(by_type)), math.comb(rt, 2) * rm + math.comb(rm, 2) * rt


@pytest.mark.parametrize("kind", ["rel_l2", "cosine"])
def test_exhaustive_proportion_and_distinct_count_match_brute_force(kind):
    rng = np.random.default_rng(2)
    scene = _scene(rng, 2, 12)
    t, m = _renders(scene, 4, rng, 0.6), _renders(scene + 0.3, 3, rng, 0.6)
    odd = model_oddity({"x": t}, {"x": m}, 300, rng, kind=kind)
    pc, distinct = _brute_force_pc(t, m, kind)
    assert odd.distinct == distinct == 6 * 3 + 3 * 4  # C(4,2)*3 + C(3,2)*4
    assert odd.pc_exhaustive == pytest.approx(pc, abs=1e-12)
    assert abs(odd.pc - pc) < 0.12  # 300 draws from the distinct triplets estimate it


def test_triplets_hold_distinct_renders_half_each_way_and_cover_every_combination():
    rng = np.random.default_rng(0)
    trip = sample_triplets(3, 4, 2001, rng)
    assert trip.shape == (2001, 3)
    assert all(len(set(row)) == 3 for row in trip.tolist())
    first, second = trip[:1001], trip[1001:]
    assert (first[:, :2] < 3).all() and (first[:, 2] >= 3).all()
    assert (second[:, :2] >= 3).all() and (second[:, 2] < 3).all()
    combos = {(frozenset(r[:2]), r[2]) for r in trip.tolist()}
    assert len(combos) == math.comb(3, 2) * 4 + math.comb(4, 2) * 3


def test_binomial_intervals_agree_with_statsmodels():
    for k, n in [(0, 10), (3, 10), (67, 200), (200, 200), (1, 7)]:
        for ours, theirs in (("wilson", "wilson"), ("clopper-pearson", "beta")):
            lo, hi = proportion_confint(k, n, alpha=0.05, method=theirs)
            assert binomial_interval(k, n, ours) == pytest.approx((lo, hi), abs=1e-9), (k, n, ours)
    with pytest.raises(MRDError, match="interval method"):
        binomial_interval(1, 2, "exact")


def test_ties_are_guessed():
    """A model that sees no difference at all (every distance 0) is right on a third of the triplets."""
    flat = {"x": np.ones((10, 1, 3))}
    odd = model_oddity(flat, flat, 600, np.random.default_rng(5))
    assert odd.pc_exhaustive == pytest.approx(1 / 3) and binomtest(odd.correct, odd.n, 1 / 3).pvalue > 0.01


def test_pairwise_distances_are_the_objectives_and_spearman_is_scipys():
    rng = np.random.default_rng(4)
    a, b = rng.random((3, 2, 4, 5)), rng.random((2, 2, 4, 5))
    rel = pairwise_distances({"x": a}, {"x": b}, "rel_l2")
    cos = pairwise_distances({"x": torch.tensor(a)}, {"x": torch.tensor(b)}, "cosine")
    spear = pairwise_distances({"x": a}, {"x": b}, "spearman")
    a[0, 0, 0, :3] = 0.0  # ties
    tied = pairwise_distances({"x": a}, {"x": b}, "spearman")
    for n, m, v in itertools.product(range(3), range(2), range(2)):
        x, y = a[n, v].ravel(), b[m, v].ravel()
        assert tied[n, m, v, 0] == pytest.approx(1 - spearmanr(x, y).statistic, abs=1e-12)
    x, y = a[1, 1].ravel(), b[0, 1].ravel()
    assert rel[1, 0, 1, 0] == pytest.approx(np.linalg.norm(x - y) / np.linalg.norm(y), rel=1e-12)
    assert cos[1, 0, 1, 0] == pytest.approx(1 - x @ y / np.linalg.norm(x) / np.linalg.norm(y), rel=1e-12)
    assert spear[1, 0, 1, 0] == pytest.approx(1 - spearmanr(x, y).statistic, abs=1e-12)
    assert mean_distance({"x": b}, {"x": b}, exclude_same=True) == pytest.approx(
        pairwise_distances({"x": b}, {"x": b})[[0, 1], [1, 0]].mean()
    )


def _p_by_hand(t, m, null, metric):
    def d(x, y):
        x, y = x.ravel(), y.ravel()
        if metric == "rel_l2":
            return np.linalg.norm(x - y) / np.linalg.norm(y)
        if metric == "cosine":
            return 1 - x @ y / np.linalg.norm(x) / np.linalg.norm(y)
        return 1 - spearmanr(x, y).statistic

    def dist(c):  # mean over the candidate's renders, the target renders and views
        return np.mean([d(ci[v], tj[v]) for ci in c for tj in t for v in range(t.shape[1])])

    dm = dist(m)
    return (1 + sum(dist(null[k : k + 1]) <= dm for k in range(len(null)))) / (1 + len(null))


def test_null_p_values_recomputed_by_hand_and_per_layer():
    rng = np.random.default_rng(8)
    scene = _scene(rng, 2, 30)
    t = _renders(scene, 3, rng)
    m = _renders(scene + 0.5 * rng.normal(size=scene.shape), 3, rng)  # like a null draw
    null = _renders(scene, 30, rng) + rng.normal(0, 0.5, (30, 1, 30))
    matched = {"good": t.copy(), "bad": t.copy()}
    p = null_p_values(
        {"good": t, "bad": t}, {"good": _renders(scene, 3, rng), "bad": m + 3}, {"good": null, "bad": null}
    )
    assert all(p[metric]["good"] == pytest.approx(1 / 31) for metric in p)
    assert p["rel_l2"]["bad"] == 1.0
    got = null_p_values({"x": t}, {"x": m}, {"x": null})
    for metric in ("rel_l2", "cosine", "spearman"):
        assert got[metric]["x"] == pytest.approx(_p_by_hand(t, m, null, metric), abs=1e-12), metric
    assert 1 / 31 < got["rel_l2"]["x"] < 1.0  # a partial match lies inside the null distribution
    ev = Criterion(n_triplets=20).evaluate(
        matched, {"good": t, "bad": m + 3}, matched, {"good": null, "bad": null}, 0
    )
    per = ev.graded["null_p_per_layer_metric"]
    assert ev.criterion["null_p"] == max(v for d in per.values() for v in d.values()) == 1.0


def test_planted_null_p_values_are_calibrated():
    """A 'metamer' that is itself a draw from the null has p uniform on {1/(K+1), ..., 1}."""
    ps = []
    for seed in range(200):
        rng = np.random.default_rng(100 + seed)
        scene = _scene(rng, 1, 15)
        t = _renders(scene, 2, rng)
        draws = _renders(scene, 20, rng) + rng.normal(0, 1.0, (20, 1, 15))
        ps.append(null_p_values({"x": t}, {"x": draws[:1]}, {"x": draws[1:]}, ["rel_l2"])["rel_l2"]["x"])
    ps = np.array(ps)
    assert set(np.round(ps * 20).astype(int)) <= set(range(1, 21))
    assert abs(ps.mean() - 10.5 / 20) < 0.06
    assert binomtest(int(np.sum(ps <= 0.05)), len(ps), 0.05).pvalue > 0.01  # P(p <= 1/20) = 1/20


def test_evaluate_gives_exactly_the_stored_keys_and_the_rule():
    rng = np.random.default_rng(3)
    scene = _scene(rng, 2, 30)
    t, m = {"x": _renders(scene, 8, rng)}, {"x": _renders(scene, 8, rng)}
    null = {"x": _renders(scene, 100, rng) + rng.normal(0, 1, (100, 1, 30))}
    start = {"x": _renders(scene + 3, 2, rng)}
    ev = evaluate(t, m, start, null, rng=1)
    assert tuple(ev.criterion) == CRITERION_KEYS
    assert check_criterion(ev.criterion, "metamer 'm'") == ev.criterion
    assert (
        ev.criterion["beats_start"]
        and ev.criterion["oddity_pc_max"] == 0.45
        and ev.criterion["null_alpha"] == 0.05
    )
    assert (
        ev.success
        == success_of(ev.criterion)
        == (ev.criterion["oddity_pc"] <= 0.45 and ev.criterion["null_p"] <= 0.05)
    )
    assert ev.criterion["null_p"] == pytest.approx(1 / 101) and ev.success
    g = json.loads(json.dumps(ev.graded))
    assert g["oddity_n"] == 200 and g["null_k"] == 100 and len(g["distance_null"]) == 100
    assert np.array(g["distance_metamer_view_layer"]).shape == (2, 1)
    assert g["distance_start"] > g["distance_metamer"] and min(g["distance_null"]) > g["distance_metamer"]
    # a metamer further from the target than its start fails, whatever else holds
    worse = evaluate(t, m, {"x": t["x"][:2]}, null, rng=1)
    assert not worse.criterion["beats_start"] and not worse.success
    # fewer than 19 null draws can never reach p <= 0.05
    few = evaluate(t, m, start, {"x": null["x"][:10]}, rng=1)
    assert few.criterion["null_p"] == pytest.approx(1 / 11) and not few.success


def test_bad_input_is_refused_clearly():
    x = {"x": np.zeros((3, 2, 4))}
    with pytest.raises(MRDError, match=">= 2 independent renders"):
        model_oddity(x, {"x": np.zeros((1, 2, 4))}, 10)
    with pytest.raises(MRDError, match="lack layers"):
        model_oddity(x, {"y": np.zeros((3, 2, 4))}, 10)
    with pytest.raises(MRDError, match="shape"):
        model_oddity(x, {"x": np.zeros((3, 1, 4))}, 10)
    with pytest.raises(MRDError, match=r"\(R, V, \.\.\.\)"):
        model_oddity({"x": np.zeros((3, 2))}, x, 10)
    with pytest.raises(MRDError, match="distance kind"):
        model_oddity(x, x, 10, kind="l1")
    with pytest.raises(MRDError, match="null metric"):
        null_p_values(x, x, x, ["pearson"])


def _uniform_renders(linear_rgb, r, rng, views=2, size=16, noise=0.02):
    """sRGB images of a flat colour with per-pixel linear noise (the same noise law for any colour)."""
    lin = np.asarray(linear_rgb) + rng.normal(0.0, noise, (r, views, size, size, 3))
    return torch.tensor(linear_to_srgb(lin), dtype=torch.float32)


def _features(model, images):
    r, v = images.shape[:2]
    flat = images.reshape(r * v, *images.shape[2:]).permute(0, 3, 1, 2)
    with torch.no_grad():
        return {k: x.reshape(r, v, *x.shape[1:]) for k, x in model.features(flat).items()}


def test_luminance_network_cannot_tell_a_colour_change_at_equal_luminance_but_pixels_can():
    rng = np.random.default_rng(21)
    luma = np.array([0.2126, 0.7152, 0.0722])
    red = np.array([0.5, 0.2, 0.15])
    blue = np.array([0.05, 0.3, 0.0])
    blue[2] = (red @ luma - blue[:2] @ luma[:2]) / luma[2]  # the same relative luminance
    assert blue @ luma == pytest.approx(red @ luma) and 0 < blue[2] < 1 and delta_e(red, blue) > 20
    t, m = _uniform_renders(red, 30, rng), _uniform_renders(blue, 30, rng)
    lum = load_model(ModelSpec(name="mrd.models.testing:mean_luminance", layers=["luminance"]))
    odd = model_oddity(_features(lum, t), _features(lum, m), 300, rng)
    assert binomtest(odd.correct, odd.n, 1 / 3).pvalue > 0.01, odd.pc
    assert 0.85 < odd.distance_ratio < 1.15
    pix = load_model(ModelSpec(name="pixels_16", layers=["pixels"]))
    assert model_oddity(_features(pix, t), _features(pix, m), 300, rng).pc == 1.0


def test_render_features_of_uint8_renders():
    pix = load_model(ModelSpec(name="pixels_8", layers=["pixels"]))
    renders = np.random.default_rng(0).integers(0, 256, (3, 2, 8, 8, 3), dtype=np.uint8)
    feats = render_features(pix, renders)["pixels"]
    assert feats.shape == (3, 2, 3, 8, 8)
    assert torch.equal(feats[2, 1], torch.from_numpy(renders[2, 1]).permute(2, 0, 1).float() / 255)
    other = 255 - renders
    crit = Criterion(n_triplets=30)
    by_renders = crit.evaluate_renders(pix, renders, other, renders[:1], other, rng=4)
    f, g = render_features(pix, renders), render_features(pix, other)
    assert by_renders == crit.evaluate(f, g, {"pixels": f["pixels"][:1]}, g, rng=4)
    per = intrinsic_distance(f)
    assert per.shape == (2, 1) and float(per.mean()) == pytest.approx(mean_distance(f, f, exclude_same=True))


def test_real_renders_re_render_is_not_told_apart_and_a_colour_change_is():
    """Display renders through the real renderer, judged by the pixel model."""
    from mrd.config import RenderSettings, SceneSpec
    from mrd.groups import copy_params, renderer_for, target_params
    from mrd.render.tonemap import display_image, saturated_fraction
    from mrd.render.variant import use_variant
    from mrd.synthesis.target import layout_for

    use_variant("llvm_ad_rgb")
    spec = SceneSpec(id="ball")
    params = target_params(spec)
    ren = renderer_for(layout_for(spec, RenderSettings(resolution=16, views=1, max_depth=2)), params)

    def renders(seeds):
        hdr = [ren.render_display(4, s) for s in seeds]
        return np.stack([display_image(h) for h in hdr]), hdr

    target, hdr = renders(range(1, 9))
    again, _ = renders(range(101, 109))
    changed = copy_params(params)
    changed["material"]["base_color"] = np.asarray([0.2, 0.5, 0.8], changed["material"]["base_color"].dtype)
    ren.set_params(changed, ("material",))
    other, _ = renders(range(201, 209))
    pix = load_model(ModelSpec(name="pixels_16", layers=["pixels"]))
    ft, fa, fo = (render_features(pix, x) for x in (target, again, other))
    same = model_oddity(ft, fa, 200, np.random.default_rng(0))
    assert same.pc_exhaustive < 0.6 and 0.8 < same.distance_ratio < 1.25, same
    diff = model_oddity(ft, fo, 200, np.random.default_rng(0))
    assert diff.pc == 1.0 and diff.distance_ratio > 2
    assert 0.0 <= saturated_fraction(np.stack(hdr)) < 0.5
