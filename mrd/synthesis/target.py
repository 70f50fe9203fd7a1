"""A target scene ready for synthesis: its layout, values, renderer and stored display images.

Examples
--------
>>> from mrd.config import RenderSettings, SceneSpec
>>> layout_for(SceneSpec(id="a"), RenderSettings(views=2)).size
(64, 64)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mrd.config import RenderSettings, SceneSpec
from mrd.groups import copy_params, renderer_for, target_params
from mrd.render.scene import Layout, cameras, describe
from mrd.render.tonemap import describe as tone_map_name
from mrd.render.tonemap import display_image
from mrd.synthesis.seeds import scene_display_seed
from stimuli.records import Params, SceneRecord


def layout_for(spec: SceneSpec, render: RenderSettings, sppi: int = 0, *, sppc: int | None = None,
               sppp: int | None = None) -> Layout:
    """The layout of a scene spec under render settings (and the shape-gradient sample counts
    ``optimize.sppi`` / ``sppc`` / ``sppp``; None: :mod:`mrd.render.renderer`'s defaults).

    Examples
    --------
    >>> layout_for(SceneSpec(id="a"), RenderSettings(views=2)).size
    (64, 64)
    """
    lt = spec.lighting
    return Layout(
        views=cameras(render),
        size=render.size,
        environment=lt.environment,
        light=lt.light,
        light_position=tuple(lt.light_position),
        light_size=lt.light_size,
        textured=spec.material.texture is not None,
        env_resolution=render.env_resolution,
        max_depth=render.max_depth,
        extra={k: v for k, v in (("sppi", sppi or None), ("sppc", sppc), ("sppp", sppp)) if v is not None},
    )


@dataclass
class Target:
    """A target scene: spec, layout, every group's values, its renderer and display images.

    Build with :meth:`from_spec`. ``record`` is the :class:`stimuli.records.SceneRecord` to store
    when the display images were rendered here (None when they came from a store).
    """

    spec: SceneSpec
    layout: Layout
    params: Params
    renderer: Any
    display: np.ndarray
    record: SceneRecord | None = None
    renders: np.ndarray | None = None
    render_seeds: tuple[int, ...] = ()

    @property
    def scene_id(self) -> str:
        return self.spec.id

    @classmethod
    def from_spec(
        cls, spec: SceneSpec, render: RenderSettings, *, master_seed: int = 0,
        resolve: Callable[[str], Path] = Path, display: np.ndarray | None = None,
        renders: np.ndarray | None = None, sppi: int = 0, sppc: int | None = None, sppp: int | None = None,
    ) -> Target:  # fmt: skip
        """Build the scene; render its display images at ``render.display_spp`` unless given.

        Parameters
        ----------
        spec : SceneSpec
        render : RenderSettings
        master_seed : int
            The config's ``seed`` (the display render's seed derives from it and the scene id).
        resolve : callable
            Resolves paths of mesh and texture files (relative to the config's folder).
        display : numpy.ndarray, optional
            Stored display images ``(V, H, W, 3)`` uint8 (a resumed run scores against these).
        renders : numpy.ndarray, optional
            Stored independent display renders ``(R, V, H, W, 3)`` (``renders[0] == display``).
        """
        layout = layout_for(spec, render, sppi, sppc=sppc, sppp=sppp)
        params = target_params(spec, resolve)
        renderer = renderer_for(layout, params)
        record = None
        n = render.display_renders
        seeds = tuple(scene_display_seed(master_seed, spec.id, r) for r in range(n))
        if display is None:
            hdr = renderer.render_display(render.display_spp, seeds[0])
            display = display_image(hdr, render.exposure)
            more = [display_image(renderer.render_display(render.display_spp, s), render.exposure) for s in seeds[1:]]
            renders = np.stack([display, *more])
            record = SceneRecord(
                scene_id=spec.id,
                description=describe(layout, params, spec),
                params=copy_params(params),
                views=layout.views,
                hdr=hdr,
                display=display,
                spp=render.display_spp,
                tone_map=tone_map_name(render.exposure),
                renders=renders,
                render_seeds=list(seeds),
            )
        elif renders is None or len(renders) < n:  # a store without (enough) renders: make them here
            have = [display] if renders is None else list(renders)
            have += [display_image(renderer.render_display(render.display_spp, s), render.exposure)
                     for s in seeds[len(have):]]  # fmt: skip
            renders = np.stack(have)
        return cls(spec, layout, params, renderer, display, record, renders[:n], seeds)

    def reset(self) -> None:
        """Write the target's own values back into the renderer."""
        self.renderer.set_params(self.params)
