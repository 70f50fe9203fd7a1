"""Test helper: the loss (or its derivative) of a mesh whose vertices are moved along fixed directions.

Shared by the shape-gradient finite-difference tests (``test_render.py``, ``test_projective.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def displacement(r: Any, v0: np.ndarray, n: np.ndarray, objective: Any, t: float, spp: int, seed: int,
                 grad: bool = False) -> float:
    """Render with vertices ``v0 + t n`` (projective integrator); the loss, or ``d loss / d t`` with ``grad``.

    ``objective`` maps the views' renders to a scalar; None takes the mean of the first view.
    """
    import drjit as dr
    import mitsuba as mi

    from mrd.groups.shape import KEYS

    tt = mi.Float(float(t))
    if grad:
        dr.enable_grad(tt)
    r.write(KEYS["vertices"], mi.Float(v0.ravel()) + tt * mi.Float(n.ravel()))
    r.update()
    images = r.render_views(spp, seed, "projective")
    loss = objective(images) if objective is not None else dr.mean(images[0], axis=None)
    if grad:
        dr.backward(loss)
        return float(dr.grad(tt)[0])
    return float(np.asarray(loss).ravel()[0])
