"""The checks :func:`stimuli.validate.validate_store` runs on each object of a store.

A :class:`Checker` reads every dataset once (in bounded slabs, :func:`stimuli.checksum.scan_dataset`),
compares it with its stored checksum and checks values that must be finite; the checksums it
recomputes give the content digest (:func:`Checker.digest`). Nothing here raises on a damaged file: every problem becomes
a finding.

Examples
--------
>>> import tempfile, os
>>> from stimuli.testing import write_synthetic_store
>>> path = os.path.join(tempfile.mkdtemp(), "s.h5")
>>> _ = write_synthetic_store(path, n_scenes=1, n_metamers_per_scene=1)
>>> found = []
>>> with h5py.File(path, "r") as f:
...     c = Checker(f, found.append, require_checksums=True)
...     c.scene(f["scenes/scene0"])
>>> found
[]
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

import h5py
import numpy as np

from stimuli.checksum import Scan, group_sha256, scan_dataset
from stimuli.digest import content_digest, digest_form, digest_from_checksums
from stimuli.errors import MRDError
from stimuli.schema import (
    GROUP_PATTERN,
    GROUPS,
    INT64_MAX,
    INT64_MIN,
    METAMER_ATTRS,
    MODEL_ATTRS,
    SCENE_ATTRS,
    SIMILARITY_DATASETS,
)
from stimuli.success import check_criterion, success_rule

Report = Callable[[str], None]

_JSON_ATTRS = {
    "models": ("layers", "input_size", "mean", "std"),
    "scenes": ("description", "views", "render_seeds"),
    "metamers": ("layers", "physical_distance", "info", "render_seeds", "criterion"),
}


class Checker:
    """Check objects of one open store, reporting each problem through ``report``.

    Parameters
    ----------
    f : h5py.File
        The open store.
    report : callable
        Receives one message per problem (``"<object>: <what is wrong>"``).
    require_checksums : bool
        Whether a missing ``sha256`` attribute is a problem (stores of schema 1.1 and later).
    """

    def __init__(self, f: h5py.File, report: Report, require_checksums: bool) -> None:
        self.f, self.require = f, require_checksums
        self._report, self._said = report, set[str]()
        self.scans: dict[str, Scan] = {}

    def report(self, message: str) -> None:
        """Report a problem once (several checks may see the same one)."""
        if message not in self._said:
            self._said.add(message)
            self._report(message)

    # -- generic -----------------------------------------------------------------------------
    def attr(self, g: h5py.HLObject, name: str) -> Any:
        """An attribute's value (numpy scalars as Python), ``None`` when absent or unreadable."""
        try:
            if name not in g.attrs:
                return None
            v = g.attrs[name]
        except Exception as exc:
            self.report(f"{g.name}: attribute '{name}' cannot be read ({type(exc).__name__}: {exc})")
            return None
        return v.item() if isinstance(v, np.generic) else v

    def json_attr(self, g: h5py.HLObject, name: str) -> Any:
        """A JSON attribute decoded, ``None`` when absent or invalid (reported)."""
        v = self.attr(g, name)
        if v is None:
            return None
        try:
            return json.loads(v)
        except (TypeError, ValueError):
            self.report(f"{g.name}: attribute '{name}' is not valid JSON: {str(v)[:40]!r}")
            return None

    def attrs(self, g: h5py.Group, names: tuple[str, ...]) -> None:
        """Required attributes are present; JSON attributes parse."""
        for name in names:
            if self.attr(g, name) is None and name not in g.attrs:
                self.report(f"{g.name}: attribute '{name}' is missing")
        for name in _JSON_ATTRS.get(g.name.split("/")[1], ()):
            self.json_attr(g, name)

    def group_checksum(self, g: h5py.Group) -> None:
        """The group's ``sha256`` matches its attributes and member names."""
        stored = self.attr(g, "sha256")
        if stored is None:
            if self.require:
                self.report(f"{g.name}: has no 'sha256' checksum attribute (schema 1.1 stores carry one)")
            return
        try:
            actual = group_sha256(g)
        except Exception as exc:
            self.report(f"{g.name}: its attributes or members cannot be read ({type(exc).__name__}: {exc})")
            return
        if actual != stored:
            self.report(f"{g.name}: attributes or member list changed after writing (sha256 mismatch)")

    def dataset(self, g: h5py.Group, name: str) -> Scan | None:
        """Scan ``g/name`` once (checksum, finiteness); ``None`` when it is missing or not a dataset."""
        try:
            cls = g.get(name, getclass=True)
        except Exception as exc:
            self.report(f"{g.name}/{name}: cannot be opened ({type(exc).__name__}: {exc})")
            return None
        if cls is None:
            return None
        if cls is not h5py.Dataset:
            self.report(f"{g.name}/{name} is not a dataset")
            return None
        ds = g[name]
        if ds.name in self.scans:
            return self.scans[ds.name]
        scan = scan_dataset(ds)
        self.scans[ds.name] = scan
        if scan.error:
            self.report(f"{ds.name}: {scan.error}")
            return scan
        stored = self.attr(ds, "sha256")
        if stored is None:
            if self.require:
                self.report(f"{ds.name}: has no 'sha256' checksum attribute (schema 1.1 stores carry one)")
        elif stored != scan.sha256:
            self.report(f"{ds.name}: values changed after writing (sha256 mismatch)")
        return scan

    def tree(self, g: h5py.Group, finite: bool = False) -> None:
        """Checksums of ``g``, every subgroup and every dataset below it (``finite``: floats must be)."""
        self.group_checksum(g)
        try:
            names = list(g)
        except Exception as exc:
            self.report(f"{g.name}: members cannot be listed ({type(exc).__name__}: {exc})")
            return
        for name in names:
            try:
                cls = g.get(name, getclass=True)
            except Exception as exc:
                self.report(f"{g.name}/{name}: cannot be opened ({type(exc).__name__}: {exc})")
                continue
            if cls is h5py.Group:
                self.tree(g[name], finite)
            else:
                scan = self.dataset(g, name)
                if finite and scan is not None and not scan.error and not scan.finite:
                    self.report(f"{g.name}/{name}: contains non-finite values (NaN or infinity)")

    def image(self, g: h5py.Group, name: str, dtype: type, ndim: int = 4, finite: bool = False,
              required: bool = True) -> Scan | None:
        """An image dataset: present, dtype, dimensions ending in 3, readable, finite if asked."""
        scan = self.dataset(g, name)
        if scan is None:
            if required and name not in g:
                self.report(f"{g.name}/{name} is missing")
            return None
        ds = g[name]
        if ds.dtype != dtype:
            self.report(f"{ds.name}: dtype {ds.dtype}, expected {np.dtype(dtype)}")
        if ds.ndim != ndim or ds.shape[-1] != 3:
            self.report(f"{ds.name}: shape {ds.shape}, expected {ndim} dimensions ending in 3 (RGB)")
        if finite and not scan.error and not scan.finite:
            self.report(f"{ds.name}: contains non-finite values (NaN or infinity)")
        return scan

    def same_shape(self, g: h5py.Group, a: str, b: str) -> None:
        """Datasets ``a`` and ``b`` of ``g`` have one shape."""
        try:
            sa, sb = g[a].shape, g[b].shape
        except Exception:
            return
        if sa != sb:
            self.report(f"{g.name}: {a} shape {sa} differs from {b} shape {sb}")

    def digest(self) -> str | None:
        """The content digest recomputed from the image bytes (``None`` if an image is unreadable)."""
        if digest_form(self.f) == "1.0":
            try:
                return content_digest(self.f)
            except MRDError:
                return None

        def scanned(ds: h5py.Dataset) -> str | None:
            scan = self.scans.get(ds.name) or self.dataset(ds.parent, ds.name.rsplit("/", 1)[-1])
            return None if scan is None else scan.sha256

        return digest_from_checksums(self.f, scanned)

    # -- units -------------------------------------------------------------------------------
    def model(self, g: h5py.Group) -> None:
        """A model group."""
        self.attrs(g, MODEL_ATTRS)
        self.tree(g)

    def scene(self, g: h5py.Group) -> None:
        """A target scene: attributes, images, renders, parameters, checksums."""
        self.attrs(g, SCENE_ATTRS)
        self.image(g, "display", np.uint8)
        self.image(g, "renders", np.uint8, ndim=5, required=False)
        self.image(g, "hdr", np.float32, finite=True)
        self.same_shape(g, "display", "hdr")
        self.renders(g)
        if "params" not in g:
            self.report(f"{g.name}/params is missing")
        self.tree(g, finite=True)

    def renders(self, g: h5py.Group) -> None:
        """``renders`` (optional): shape ``(R, *display.shape)``, ``renders[0] == display``, R distinct seeds."""
        has = "renders" in g
        seeds = self.json_attr(g, "render_seeds")
        if not has:
            if seeds is not None:
                self.report(f"{g.name}: attribute 'render_seeds' lists {len(seeds) if isinstance(seeds, list) else '?'} "
                            "renders but the dataset 'renders' is missing")
            return
        rs, ds = self.scans.get(f"{g.name}/renders"), self.scans.get(f"{g.name}/display")
        try:
            rshape, dshape = g["renders"].shape, g["display"].shape
        except Exception:
            return
        if len(rshape) != 5 or rshape[1:] != dshape or rshape[0] < 1:
            self.report(f"{g.name}/renders: shape {rshape}, expected (R >= 1, {', '.join(map(str, dshape))})")
        elif rs is not None and ds is not None and not rs.error and not ds.error:
            try:
                first = g["renders"][0]
                if not np.array_equal(first, g["display"][()]):
                    self.report(f"{g.name}: renders[0] differs from display (display must be the first render)")
            except Exception as exc:
                self.report(f"{g.name}/renders: cannot be compared with display ({type(exc).__name__}: {exc})")
        if seeds is None:
            self.report(f"{g.name}: attribute 'render_seeds' is missing (one seed per render)")
        elif not isinstance(seeds, list) or not all(
            isinstance(x, int) and not isinstance(x, bool) and INT64_MIN <= x <= INT64_MAX for x in seeds
        ):
            self.report(f"{g.name}: attribute 'render_seeds' must be a JSON list of 64-bit integers, got {str(seeds)[:60]}")
        elif len(rshape) == 5 and len(seeds) != rshape[0]:
            self.report(f"{g.name}: render_seeds has {len(seeds)} seeds for {rshape[0]} renders")
        elif len(set(seeds)) != len(seeds):
            self.report(f"{g.name}: render_seeds {seeds} repeat a seed; independent renders need distinct seeds")

    def metamer(self, g: h5py.Group) -> None:
        """A metamer: references, images, renders, loss, numbers, flags, parameters, similarities."""
        self.attrs(g, METAMER_ATTRS)
        a = {k: self.attr(g, k) for k in METAMER_ATTRS}
        scene_id, model_id = str(a["scene_id"] or ""), str(a["model_id"] or "")
        if a["scene_id"] is not None and scene_id not in self.f["scenes"]:
            self.report(f"{g.name}: scene_id {scene_id!r} is not in /scenes")
        if a["model_id"] is not None and model_id not in self.f["models"]:
            self.report(f"{g.name}: model_id {model_id!r} is not in /models")
        if a["group"] is not None and str(a["group"]) not in GROUPS and not re.fullmatch(GROUP_PATTERN, str(a["group"])):
            self.report(f"{g.name}: group {str(a['group'])!r} is not a parameter-group name (shipped: {', '.join(GROUPS)})")
        self._numbers(g, a)
        disp = self.image(g, "display", np.uint8)
        self.image(g, "renders", np.uint8, ndim=5, required=False)
        self.image(g, "hdr", np.float32, finite=True)
        self.same_shape(g, "display", "hdr")
        null = self.image(g, "null_display", np.uint8, ndim=5)
        self.renders(g)
        n_views = None
        if disp is not None and g["display"].ndim == 4:
            n_views = g["display"].shape[0]
            target = self.f["scenes"].get(scene_id) if scene_id else None
            has_target = isinstance(target, h5py.Group) and isinstance(target.get("display"), h5py.Dataset)
            if has_target and g["display"].shape != target["display"].shape:
                self.report(f"{g.name}/display: shape {g['display'].shape} differs from its scene's "
                            f"{target['display'].shape}")
            if null is not None and g["null_display"].ndim == 5 and g["null_display"].shape[0] > 0 \
                    and g["null_display"].shape[1:] != g["display"].shape:
                self.report(f"{g.name}/null_display: shape {g['null_display'].shape}, expected (K, "
                            f"{', '.join(map(str, g['display'].shape))})")
        self._loss(g, a)
        self._params(g)
        self._success(g, a)
        sims = g.get("similarity")
        if sims is None:
            self.report(f"{g.name}/similarity is missing")
        else:
            if model_id and model_id not in sims:
                self.report(f"{g.name}/similarity: no entry for its own model {model_id!r}")
            for name in sims:
                self.similarity(sims[name], n_views)
        self.tree(g, finite=False)

    def _numbers(self, g: h5py.Group, a: dict[str, Any]) -> None:
        for name in ("seed", "steps"):
            v = a[name]
            if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
                self.report(f"{g.name}: attribute '{name}' = {v!r}; expected an integer")
        if isinstance(a["steps"], int) and a["steps"] < 0:
            self.report(f"{g.name}: attribute 'steps' = {a['steps']}; expected >= 0")
        w = a["wall_time_s"]
        if w is not None and (isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w) or w < 0):
            self.report(f"{g.name}: attribute 'wall_time_s' = {w!r}; expected a finite number >= 0")
        for name in ("converged", "success"):
            if a[name] is not None and not isinstance(a[name], bool):
                self.report(f"{g.name}: attribute '{name}' = {a[name]!r}; expected true or false")
        dist = self.json_attr(g, "physical_distance")
        if isinstance(dist, dict):
            for k, v in dist.items():
                if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                    self.report(f"{g.name}: physical_distance {k!r} = {v!r}; expected a finite number")
        elif dist is not None:
            self.report(f"{g.name}: attribute 'physical_distance' must be a JSON object of numbers")

    def _loss(self, g: h5py.Group, a: dict[str, Any]) -> None:
        scan = self.dataset(g, "loss")
        if scan is None:
            if "loss" not in g:
                self.report(f"{g.name}/loss is missing")
            return
        loss = g["loss"]
        if loss.ndim != 1 or not np.issubdtype(loss.dtype, np.floating):
            self.report(f"{g.name}/loss: expected a 1-D float array, got {loss.dtype} {loss.shape}")
            return
        if isinstance(a["steps"], int) and loss.shape[0] != a["steps"]:
            self.report(f"{g.name}/loss: length {loss.shape[0]} differs from attribute steps={a['steps']}")
        if not scan.error and not scan.finite:
            flag = " yet success = True" if a["success"] is True else ""
            self.report(f"{g.name}/loss: contains non-finite values (NaN or infinity){flag}; the optimisation "
                        "diverged and this metamer is not usable")

    def _params(self, g: h5py.Group) -> None:
        names: dict[str, set[str]] = {}
        for name in ("initial_params", "final_params"):
            p = g.get(name)
            if not isinstance(p, h5py.Group):
                self.report(f"{g.name}/{name} is missing")
                continue
            self.tree(p, finite=True)
            try:
                names[name] = {f"{grp}/{k}" for grp in p for k in (p[grp] if isinstance(p[grp], h5py.Group) else [])}
            except Exception:
                continue
        if len(names) == 2 and names["initial_params"] != names["final_params"]:
            gone = sorted(names["initial_params"] ^ names["final_params"])
            self.report(f"{g.name}: initial_params and final_params hold different parameters ({', '.join(gone)})")

    def _success(self, g: h5py.Group, a: dict[str, Any]) -> None:
        crit = self.json_attr(g, "criterion")
        if crit is None:
            return
        try:
            crit = check_criterion(crit, g.name)
        except MRDError as exc:
            self.report(str(exc))
            return
        if isinstance(a["success"], bool) and a["success"] != success_rule(crit):
            self.report(
                f"{g.name}: success = {a['success']} contradicts its criterion (oddity_pc {crit['oddity_pc']} <= "
                f"{crit['oddity_pc_max']}, null_p {crit['null_p']} <= {crit['null_alpha']}, beats_start "
                f"{crit['beats_start']} gives {success_rule(crit)})"
            )

    def similarity(self, s: h5py.Group, n_views: int | None) -> None:
        """One ``similarity/<model_id>`` group."""
        model_id = s.name.rsplit("/", 1)[-1]
        if model_id not in self.f["models"]:
            self.report(f"{s.name}: model {model_id!r} is not in /models")
        if not isinstance(s, h5py.Group):
            self.report(f"{s.name}: is not a group")
            return
        layers = self.json_attr(s, "layers")
        if not isinstance(layers, list):
            self.report(f"{s.name}: attribute 'layers' is missing or not JSON")
            return
        for name in SIMILARITY_DATASETS:
            scan = self.dataset(s, name)
            if scan is None:
                if name not in s:
                    self.report(f"{s.name}/{name} is missing")
                continue
            ds = s[name]
            if ds.ndim != 2 or ds.shape[1] != len(layers):
                self.report(f"{s.name}/{name}: shape {ds.shape}, expected (n, {len(layers)} layers)")
            elif name in ("cosine", "rel_l2") and n_views is not None and ds.shape[0] != n_views:
                self.report(f"{s.name}/{name}: {ds.shape[0]} rows, expected one per view ({n_views})")
            if not scan.error and not scan.finite:
                self.report(f"{s.name}/{name}: contains non-finite values")
