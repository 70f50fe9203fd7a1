"""Physical eigendistortions: a model's most and least sensitive directions in one group, rendered.

For one target scene, model and group: the Fisher information of the model's activations with
respect to the group's latent parameters (:mod:`mrd.probes.fisher`, through
:class:`mrd.probes.operator.ActivationMap`), its extreme eigenpairs, each checked by finite
differences, and stimuli at steps of equal physical size along each direction on both sides
(:func:`mrd.probes.steps.equal_steps`), rendered and scored as a metamer is
(:mod:`mrd.probes.render`). Each stimulus becomes a :class:`stimuli.probes_io.ProbeRecord`.

Examples
--------
>>> probe_id("ball", "material", "luminance", "least", 0, -1, 2)
'ball.material.eigen.luminance.least0.-2'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mrd.probes.fisher import Eigen, fd_eigenvalue, fisher_eigen
from mrd.probes.operator import ActivationMap
from mrd.probes.render import display_distances, group_param, probe_renders, probe_seeds
from mrd.probes.steps import equal_steps, metric_name
from mrd.render.tonemap import describe as tone_map_name
from mrd.synthesis.seeds import stable_seed
from stimuli.probes_io import ProbeRecord


def probe_id(scene: str, group: str, model_id: str, end: str, rank: int, sign: int, step: int) -> str:
    """Store id of one eigendistortion stimulus."""
    return f"{scene}.{group}.eigen.{model_id}.{end}{rank}.{'+' if sign > 0 else '-'}{step}"


def operator_for(cfg: Any, target: Any, model: Any, model_id: str, group: str) -> ActivationMap:
    """The activation map of ``[probe.eigen]``'s settings at the target (seeds derived from the ids)."""
    e = cfg.probe.eigen
    seeds = [stable_seed(cfg.seed, target.scene_id, group, model_id, "fisher", i) for i in range(e.seeds)]
    return ActivationMap(target.renderer, group_param(cfg, target, group), model, spp=e.spp, seeds=seeds,
                         exposure=cfg.render.exposure)  # fmt: skip


def eigen_probes(
    cfg: Any, target: Any, model: Any, model_id: str, group: str, scoring: Mapping[str, Any], *,
    progress: Any = None,
) -> tuple[Eigen, list[ProbeRecord]]:  # fmt: skip
    """The decomposition and the rendered stimuli of one (scene, model, group).

    Parameters
    ----------
    cfg : mrd.probes.config.ProbeConfig
    target : mrd.synthesis.target.Target
    model : mrd.models.LoadedModel
    model_id : str
    group : str
    scoring : mapping of str to LoadedModel
        Models every stimulus is scored under (display-render distances to the target).
    progress : callable, optional
        Called with a short status string after each stage.

    Returns
    -------
    (Eigen, list of ProbeRecord)
    """
    e = cfg.probe.eigen
    op = operator_for(cfg, target, model, model_id, group)
    eig = fisher_eigen(op, method=e.method, exact_max=e.exact_max, iterations=e.lanczos_iterations,
                       seed=stable_seed(cfg.seed, target.scene_id, group, model_id, "lanczos"))  # fmt: skip
    if progress:
        progress(f"{eig.method} eigen-decomposition, n = {op.n}")
    size = float(getattr(e.step_size, group, e.step_size.material))
    records: list[ProbeRecord] = []
    cache: dict[str, Any] = {}
    k = len(eig.eigenvalues)
    pairs = [("most", r, *eig.most(r)) for r in range(min(e.directions, k))]
    pairs += [("least", r, *eig.least(r)) for r in range(min(e.directions, k))]
    for end, rank, lam, vec in pairs:
        fd = fd_eigenvalue(op, vec, e.fd_h) if e.fd_check else float("nan")
        op.restore()
        for st in equal_steps(group, op.values, op.z0, vec, size, e.steps):
            pid = probe_id(target.scene_id, group, model_id, end, rank, st["sign"], st["step"])
            seeds = probe_seeds(cfg.seed, pid, cfg.render.display_renders)
            renders, params = probe_renders(cfg, target, group, st["values"], seeds)
            records.append(ProbeRecord(
                probe_id=pid, scene_id=target.scene_id, group=group, probe="eigen", model_id=model_id,
                direction=end, renders=renders, render_seeds=seeds, params={group: params[group]}, rank=rank,
                step=int(st["sign"] * st["step"]), step_size=size, physical_distance=float(st["distance"]),
                metric=metric_name(group), eigenvalue=lam, eigenvalue_fd=fd, spectrum=eig.eigenvalues,
                vector=vec, distances=display_distances(scoring, target, renders, cache=cache),
                tone_map=tone_map_name(cfg.render.exposure),
                info={"method": eig.method, "latent_names": op.names, "latent_t": st["t"], "fisher_spp": e.spp,
                      "fisher_seeds": op.seeds, "fd_h": e.fd_h, "operator_renders": op.evaluations,
                      "residual": float(eig.residuals[rank if end == "most" else k - 1 - rank])
                      if eig.residuals.size else 0.0},
            ))  # fmt: skip
            if group == "material" and "base_color" in st["values"]:
                records[-1].info["base_color_luminance_change"] = luminance_change(st["values"], target.params[group])
        if progress:
            progress(f"{end}{rank}: eigenvalue {lam:.4g} (finite differences {fd:.4g})")
    target.reset()
    return eig, records


def luminance_change(values: Mapping[str, np.ndarray], target: Mapping[str, np.ndarray]) -> float:
    """Rec. 709 luminance change of the (mean) base colour, relative to its colour change (RGB norm).

    0 for an iso-luminant change, 0.577 for a grey one, at most 0.755 (the norm of the luma weights) along them.

    Examples
    --------
    >>> t = {"base_color": np.array([0.5, 0.5, 0.5])}
    >>> round(luminance_change({"base_color": np.array([0.6, 0.6, 0.6])}, t), 3)
    0.577
    """
    from mrd.models.testing import REC709_LUMA

    a = np.asarray(values["base_color"], np.float64).reshape(-1, 3).mean(axis=0)
    b = np.asarray(target["base_color"], np.float64).reshape(-1, 3).mean(axis=0)
    d = a - b
    return float(abs(np.dot(REC709_LUMA, d)) / max(np.linalg.norm(d), 1e-300))
