"""The Mitsuba scene: cameras, the fixed layout, and the scene dictionary built from parameter values.

A scene is split into a fixed :class:`Layout` (cameras, kinds of environment and light, light
placement, whether the base colour is a texture) and varying :data:`stimuli.records.Params`
(``{group: {name: array}}``)::

    shape     vertices (N, 3) float32, faces (F, 3) int32, uv (N, 2) float32
    material  base_color (3,) or texture (H, W, 3), roughness, metallic, specular  (all in [0, 1])
    lighting  radiance (3,) [constant environment] or sky, ground (3,) [gradient],
              light_intensity (3,) [point: intensity, area: radiance; absent for light 'none']

A target and its metamers share the layout; a metamer differs from its target only in the
values of its varied group. Each group (:mod:`mrd.groups`) knows the Mitsuba keys of its values
in the scene built here (object ``object``, environment ``env``, light ``light``).

Examples
--------
>>> from mrd.config import RenderSettings
>>> len(cameras(RenderSettings(views=3)))
3
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from stimuli.records import Params

if TYPE_CHECKING:
    from mrd.config import RenderSettings, SceneSpec

OBJECT, ENV, LIGHT = "object", "env", "light"


@dataclass
class Layout:
    """The fixed part of a scene, shared by a target and its metamers."""

    views: list[dict[str, Any]]
    size: tuple[int, int]
    environment: str = "gradient"
    light: str = "point"
    light_position: tuple[float, float, float] = (2.5, 3.5, 2.0)
    light_size: float = 1.0
    textured: bool = False
    env_resolution: int = 32
    max_depth: int = 3
    extra: dict[str, Any] = field(default_factory=dict)


# -- cameras -------------------------------------------------------------------------------------
def _up_for(direction: np.ndarray) -> list[float]:
    return [0.0, 0.0, 1.0] if abs(direction[1]) > 0.99 else [0.0, 1.0, 0.0]


def cameras(render: RenderSettings) -> list[dict[str, Any]]:
    """Camera views on a ring (fixed elevation) or a Fibonacci sphere, looking at the origin.

    Examples
    --------
    >>> from mrd.config import RenderSettings
    >>> v = cameras(RenderSettings(views=4, layout="fibonacci", distance=2.0))
    >>> [round(float(np.linalg.norm(c["origin"])), 6) for c in v]
    [2.0, 2.0, 2.0, 2.0]
    """
    n, out = render.views, []
    golden = np.pi * (3.0 - np.sqrt(5.0))
    for i in range(n):
        if render.layout == "ring":
            az, el = 2 * np.pi * i / n, np.radians(render.elevation)
            d = np.array([np.cos(el) * np.sin(az), np.sin(el), np.cos(el) * np.cos(az)])
        else:
            y = 1.0 - 2.0 * (i + 0.5) / n
            r = np.sqrt(max(0.0, 1.0 - y * y))
            d = np.array([r * np.sin(golden * i), y, r * np.cos(golden * i)])
        origin = (render.distance * d).round(9).tolist()
        out.append(
            {
                "origin": origin,
                "target": [0.0, 0.0, 0.0],
                "up": _up_for(d),
                "fov": render.fov,
                "width": render.size[0],
                "height": render.size[1],
            }
        )
    return out


# -- the Mitsuba scene ---------------------------------------------------------------------------
def env_weights(height: int) -> np.ndarray:
    """Per-row sky weight of the gradient environment (1 above the horizon, 0 below, smooth).

    Rows follow Mitsuba's environment-map convention: row 0 looks straight up (+y).

    Examples
    --------
    >>> w = env_weights(8); bool(w[0] > 0.99 and w[-1] < 0.01)
    True
    """
    theta = (np.arange(height) + 0.5) / height * np.pi
    elevation = np.pi / 2 - theta
    return (0.5 * (1.0 + np.tanh(elevation / np.radians(8.0)))).astype(np.float32)


def _sensor(view: dict[str, Any]) -> dict[str, Any]:
    import mitsuba as mi

    return {
        "type": "perspective",
        "fov": float(view["fov"]),
        "fov_axis": "x",
        "to_world": mi.ScalarTransform4f().look_at(
            origin=view["origin"], target=view["target"], up=view["up"]
        ),
        "film": {
            "type": "hdrfilm",
            "width": int(view["width"]),
            "height": int(view["height"]),
            "pixel_format": "rgb",
            "sample_border": True,
            "rfilter": {"type": "box"},
        },
        "sampler": {"type": "independent", "sample_count": 1},
    }


def _light_dict(layout: Layout) -> dict[str, Any]:
    import mitsuba as mi

    pos = list(layout.light_position)
    if layout.light == "point":
        return {"type": "point", "position": pos, "intensity": {"type": "rgb", "value": [1.0, 1.0, 1.0]}}
    up = _up_for(np.asarray(pos) / np.linalg.norm(pos))
    to_world = (
        mi.ScalarTransform4f().look_at(origin=pos, target=[0, 0, 0], up=up).scale(0.5 * layout.light_size)
    )
    return {
        "type": "rectangle",
        "to_world": to_world,
        "emitter": {"type": "area", "radiance": {"type": "rgb", "value": [1.0, 1.0, 1.0]}},
    }


def scene_dict(layout: Layout, params: Params) -> dict[str, Any]:
    """The Mitsuba scene dictionary (the mesh as a ``mi.Mesh`` object holding ``params['shape']``).

    Values of all groups are written afterwards by :meth:`mrd.render.Renderer.set_params`.
    """
    import mitsuba as mi

    mat = params["material"]
    if layout.textured:
        base: Any = {
            "type": "bitmap",
            "bitmap": mi.Bitmap(np.asarray(mat["base_color"], np.float32)),
            "raw": True,
        }
    else:
        base = {"type": "rgb", "value": [float(x) for x in mat["base_color"]]}
    bsdf = mi.load_dict(
        {
            "type": "principled",
            "base_color": base,
            "roughness": float(mat["roughness"]),
            "metallic": float(mat["metallic"]),
            "specular": float(mat["specular"]),
        }
    )
    shp = params["shape"]
    props = mi.Properties()
    props["bsdf"] = bsdf
    mesh = mi.Mesh(
        OBJECT,
        len(shp["vertices"]),
        len(shp["faces"]),
        props=props,
        has_vertex_normals=True,
        has_vertex_texcoords=True,
    )
    mp = mi.traverse(mesh)
    mp["vertex_positions"] = mi.Float(np.asarray(shp["vertices"], np.float32).ravel())
    mp["faces"] = mi.UInt(np.asarray(shp["faces"], np.uint32).ravel())
    mp["vertex_texcoords"] = mi.Float(np.asarray(shp["uv"], np.float32).ravel())
    mp.update()
    d: dict[str, Any] = {"type": "scene"}
    for i, view in enumerate(layout.views):
        d[f"view_{i:03d}"] = _sensor(view)
    if layout.environment == "constant":
        d[ENV] = {"type": "constant", "radiance": {"type": "rgb", "value": [1.0, 1.0, 1.0]}}
    else:
        h = layout.env_resolution
        d[ENV] = {"type": "envmap", "bitmap": mi.Bitmap(np.ones((h, 2 * h, 3), np.float32))}
    if layout.light != "none":
        d[LIGHT] = _light_dict(layout)
    d[OBJECT] = mesh
    return d


SHAPE_SPPC = 0
"""Default samples per pixel of the shape gradient's continuous term (``optimize.sppc``; 0: the render's spp)."""
SHAPE_SPPP = 1
"""Default samples per pixel of the shape gradient's silhouette term (``optimize.sppp``; 0: the render's spp)."""


def projective_counts(layout: Layout) -> tuple[int, int, int]:
    """``(sppi, sppc, sppp)`` of a layout's shape-gradient integrator (``layout.extra``, else the defaults).

    Examples
    --------
    >>> from mrd.render.scene import Layout
    >>> projective_counts(Layout(views=[], size=(8, 8), extra={"sppc": 32, "sppp": 4}))
    (0, 32, 4)
    """
    x = layout.extra
    return int(x.get("sppi", 0)), int(x.get("sppc", SHAPE_SPPC)), int(x.get("sppp", SHAPE_SPPP))


def _projective_counts(layout: Layout) -> dict[str, int]:
    return dict(zip(("sppi", "sppc", "sppp"), projective_counts(layout), strict=True))


def describe(layout: Layout, params: Params, spec: SceneSpec | None = None) -> dict[str, Any]:
    """JSON-serialisable description of a scene; array values are referred to by ``params/...``.

    Examples
    --------
    >>> from mrd.config import SceneSpec, RenderSettings
    >>> from mrd.groups import target_params
    >>> from mrd.synthesis.target import layout_for
    >>> s = SceneSpec(id="a")
    >>> describe(layout_for(s, RenderSettings(views=1)), target_params(s))["object"]["bsdf"]["type"]
    'principled'
    """
    mat_ref = {k: f"params/material/{k}" for k in params["material"]}
    light: dict[str, Any] = {"type": layout.light}
    if layout.light != "none":
        light.update(position=list(layout.light_position), value="params/lighting/light_intensity")
        if layout.light == "area":
            light.update(shape="rectangle facing the origin", size=layout.light_size)
    env: dict[str, Any] = {
        "type": "constant" if layout.environment == "constant" else "envmap",
        "kind": layout.environment,
    }
    env.update({k: f"params/lighting/{k}" for k in ("radiance", "sky", "ground") if k in params["lighting"]})
    if layout.environment == "gradient":
        env["resolution"] = [layout.env_resolution, 2 * layout.env_resolution]
        env["blend"] = "0.5*(1+tanh(elevation/8deg)) sky + rest ground"
    out = {
        "object": {
            "type": "mesh",
            "vertices": "params/shape/vertices",
            "faces": "params/shape/faces",
            "uv": "params/shape/uv",
            "bsdf": {"type": "principled", "textured": layout.textured, **mat_ref},
        },
        "environment": env,
        "light": light,
        "sensors": copy.deepcopy(layout.views),
        "film": {"type": "hdrfilm", "rfilter": "box", "sample_border": True},
        "integrator": {
            "material/lighting/display": {"type": "prb", "max_depth": layout.max_depth},
            "shape": {"type": "direct_projective" if layout.max_depth <= 2 else "prb_projective",
                      "max_depth": layout.max_depth, **_projective_counts(layout)},
        },
    }
    if spec is not None:
        out["spec"] = spec.model_dump(mode="json")
    return out
