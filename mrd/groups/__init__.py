"""Parameter groups: what a metamer varies (shape, material, lighting, or a group you register).

Each group is one module (:mod:`~mrd.groups.shape`, :mod:`~mrd.groups.material`,
:mod:`~mrd.groups.lighting`) implementing :class:`~mrd.groups.base.ParameterGroup`; they are
registered here (:mod:`~mrd.groups.registry`). This package also holds the few functions over all
groups of a scene: :func:`target_params`, :func:`copy_params`, :func:`write_params`.

Examples
--------
>>> from mrd.config import SceneSpec
>>> p = target_params(SceneSpec(id="a"))
>>> sorted(p), sorted(p["material"])
(['lighting', 'material', 'shape'], ['base_color', 'metallic', 'roughness', 'specular'])
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mrd.groups.base import GroupParam, ParameterGroup, Params
from mrd.groups.lighting import Lighting
from mrd.groups.material import Material
from mrd.groups.registry import get_group, group_names, register_group, unregister_group
from mrd.groups.shape import Shape

__all__ = [
    "GroupParam",
    "ParameterGroup",
    "copy_params",
    "get_group",
    "group_names",
    "register_group",
    "renderer_for",
    "target_params",
    "unregister_group",
    "write_params",
]

SCENE_GROUPS = ("shape", "material", "lighting")
"""The groups every target scene has values for (a registered group may add more)."""

for _g in (Shape(), Material(), Lighting()):
    register_group(_g, replace=True)


def target_params(scene: Any, resolve: Callable[[str], Path] = Path) -> Params:
    """All parameter values of a target scene (every registered group's target values).

    Parameters
    ----------
    scene : mrd.config.SceneSpec
    resolve : callable
        Turns a path from the config into a file path (relative to the config's folder).
    """
    return {name: get_group(name).target_values(scene, resolve) for name in group_names()}


def copy_params(params: Params) -> Params:
    """A deep copy (arrays copied), so that groups can be swapped without aliasing."""
    return {g: {k: np.array(v, copy=True) for k, v in vals.items()} for g, vals in params.items()}


def write_params(renderer: Any, params: Params, groups: tuple[str, ...] | None = None) -> None:
    """Write exact numpy values of the given groups (all by default) into a renderer, then update it."""
    for name in groups or tuple(params):
        get_group(name).write(renderer, params[name])
    renderer.update()


def renderer_for(layout: Any, params: Params) -> Any:
    """A :class:`mrd.render.renderer.Renderer` of ``layout`` holding ``params`` (written by the groups).

    Examples
    --------
    >>> from mrd.render.variant import use_variant
    >>> _ = use_variant("llvm_ad_rgb")
    >>> from mrd.config import RenderSettings, SceneSpec
    >>> from mrd.synthesis.target import layout_for
    >>> spec = SceneSpec(id="a")
    >>> r = renderer_for(layout_for(spec, RenderSettings(resolution=16, views=2)), target_params(spec))
    >>> r.render_display(spp=4, seed=0).shape
    (2, 16, 16, 3)
    """
    from mrd.render.renderer import Renderer

    return Renderer(layout, params, write_params)
