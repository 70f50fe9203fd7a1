"""Read a stimulus set.

Examples
--------
>>> import tempfile, os
>>> from stimuli.writer import StoreWriter
>>> path = os.path.join(tempfile.mkdtemp(), "set.h5")
>>> StoreWriter(path, config_text="x = 1").close()
>>> with StimulusSet(path) as s:
...     s.schema_version, s.metamer_ids
('1.0', [])
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import Any

import h5py
import numpy as np

from stimuli import h5io
from stimuli.errors import MRDError
from stimuli.records import MetamerRecord, ModelRecord, SceneRecord
from stimuli.schema import SCHEMA_VERSION, SUPPORTED_MAJOR, major_of


def open_h5(path: str | os.PathLike[str]) -> h5py.File:
    """Open a store file read-only, or raise :class:`MRDError` saying why it cannot be read.

    Examples
    --------
    >>> open_h5("/nonexistent.h5")
    Traceback (most recent call last):
    ...
    stimuli.errors.MRDError: /nonexistent.h5: no such file
    """
    p = Path(path)
    if not p.exists():
        raise MRDError(f"{p}: no such file")
    try:
        return h5py.File(p, "r")
    except OSError as exc:
        raise MRDError(f"{p}: not a readable HDF5 file ({exc})") from exc


def check_version(f: h5py.File, path: Path) -> str:
    """Return the schema version, or raise :class:`MRDError` for a missing or unknown major version."""
    version = f.attrs.get("schema_version")
    if version is None:
        raise MRDError(f"{path}: root attribute 'schema_version' is missing; not an MRD stimulus set")
    version = str(version)
    if major_of(version) != SUPPORTED_MAJOR:
        raise MRDError(
            f"{path}: schema_version {version!r} is not supported by this suite, which reads "
            f"{SUPPORTED_MAJOR}.x (writes {SCHEMA_VERSION}); use a matching version of mrd-suite"
        )
    return version


class StimulusSet:
    """A stimulus set opened read-only.

    Parameters
    ----------
    path : path-like
        The store file.

    Examples
    --------
    >>> StimulusSet("/nonexistent.h5")
    Traceback (most recent call last):
    ...
    stimuli.errors.MRDError: /nonexistent.h5: no such file
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._f = open_h5(self.path)
        try:
            self.schema_version = check_version(self._f, self.path)
            for group in ("models", "scenes", "metamers"):
                if group not in self._f:
                    raise MRDError(f"{self.path}: group '/{group}' is missing")
        except BaseException:
            self._f.close()
            raise

    @property
    def attrs(self) -> dict[str, Any]:
        """Root attributes (schema_version, created, suite_version, config_text, ...)."""
        return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in self._f.attrs.items()}

    @property
    def digest(self) -> str:
        """The stored content digest (sha256 over all display images)."""
        return str(self._f.attrs["content_digest"])

    @property
    def config_text(self) -> str:
        """The full config text the set was generated from."""
        return str(self._f.attrs["config_text"])

    @property
    def models(self) -> dict[str, ModelRecord]:
        """All models, by id."""
        return {k: h5io.read_model(g) for k, g in self._f["models"].items()}

    @property
    def scene_ids(self) -> list[str]:
        """Scene ids, sorted."""
        return sorted(self._f["scenes"].keys())

    @property
    def metamer_ids(self) -> list[str]:
        """Metamer ids, sorted."""
        return sorted(self._f["metamers"].keys())

    def _unit(self, kind: str, uid: str) -> h5py.Group:
        try:
            return self._f[kind][uid]
        except KeyError:
            raise MRDError(f"{self.path}: {kind[:-1]} {uid!r} is not in the store") from None

    def scene(self, scene_id: str, images: bool = True) -> SceneRecord:
        """Read a target scene (``images=False`` skips the image arrays)."""
        return h5io.read_scene(self._unit("scenes", scene_id), images=images)

    def metamer(self, metamer_id: str, images: bool = True) -> MetamerRecord:
        """Read a metamer (``images=False`` skips the image arrays)."""
        return h5io.read_metamer(self._unit("metamers", metamer_id), images=images)

    def scene_display(self, scene_id: str) -> np.ndarray:
        """Display images ``(V, H, W, 3)`` uint8 of a target scene."""
        return self._unit("scenes", scene_id)["display"][()]

    def metamer_display(self, metamer_id: str) -> np.ndarray:
        """Display images ``(V, H, W, 3)`` uint8 of a metamer."""
        return self._unit("metamers", metamer_id)["display"][()]

    def close(self) -> None:
        """Close the file."""
        self._f.close()

    def __enter__(self) -> StimulusSet:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
