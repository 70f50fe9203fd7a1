"""Read a stimulus set.

Examples
--------
>>> import tempfile, os
>>> from stimuli.writer import StoreWriter
>>> path = os.path.join(tempfile.mkdtemp(), "set.h5")
>>> StoreWriter(path, config_text="x = 1").close()
>>> with StimulusSet(path) as s:
...     s.schema_version, s.metamer_ids
('1.2', [])
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import Any

import h5py
import numpy as np

from stimuli import h5io
from stimuli.digest import digest_bytes, verify_images
from stimuli.errors import MRDError
from stimuli.journal import journal_dir, unit_files
from stimuli.records import MetamerRecord, ModelRecord, SceneRecord
from stimuli.schema import check_schema_version

_KINDS = {"scene": "scenes", "metamer": "metamers", "probe": "probes"}


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
    """Return the schema version, or raise :class:`MRDError` for a missing or unknown major version.

    (:func:`stimuli.schema.check_schema_version` is the one check; this reads the attribute.)
    """
    try:
        version = f.attrs.get("schema_version")
    except Exception as exc:  # a damaged attribute
        raise MRDError(f"{path}: root attribute 'schema_version' cannot be read ({exc})") from None
    return check_schema_version(version, path)


class StimulusSet:
    """A stimulus set opened read-only.

    Parameters
    ----------
    path : path-like
        The store file.
    allow_pending : bool
        Open a set whose journal still holds finished units not packed into the file (a writer is
        running, or was killed): the file is then read as of its last pack, and :attr:`pending`
        counts the units it lacks. Without it such a set is refused (an experiment must not record
        the digest of a set that is still being written), saying how to pack it.

    Examples
    --------
    >>> StimulusSet("/nonexistent.h5")
    Traceback (most recent call last):
    ...
    stimuli.errors.MRDError: /nonexistent.h5: no such file
    """

    def __init__(self, path: str | os.PathLike[str], allow_pending: bool = False) -> None:
        self.path = Path(path)
        self.pending = len(unit_files(journal_dir(self.path)))
        """Finished units in the set's journal, not in the file yet (0 for a packed set)."""
        if self.pending and not allow_pending and self.path.exists():
            raise MRDError(
                f"{self.path}: the set is not packed: {self.pending} finished units wait in "
                f"{journal_dir(self.path).name}/ (a writer is running, or was interrupted). Let `mrd generate` "
                f"(or `mrd score`) finish, or run `mrd pack {self.path}`, then open it again"
            )
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

    @property
    def probe_ids(self) -> list[str]:
        """Ids of the probe units (eigendistortions, MAD scenes; :mod:`stimuli.probes_io`), sorted."""
        return sorted(self._f["probes"].keys()) if "probes" in self._f else []

    def probe(self, probe_id: str, images: bool = True) -> Any:
        """One probe unit as a :class:`stimuli.probes_io.ProbeRecord`."""
        from stimuli.probes_io import read_probe

        return read_probe(self._unit("probes", probe_id), images=images)

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
        return h5io.read_dataset(self._unit("scenes", scene_id)["display"])

    def metamer_display(self, metamer_id: str) -> np.ndarray:
        """Display images ``(V, H, W, 3)`` uint8 of a metamer."""
        return h5io.read_dataset(self._unit("metamers", metamer_id)["display"])

    # -- independent renders (schema 1.1) -------------------------------------------------------
    def n_renders(self, kind: str, uid: str) -> int:
        """Number of independent display renders of a ``"scene"`` or ``"metamer"`` (0 if it has none).

        Examples
        --------
        >>> import tempfile, os
        >>> from stimuli.testing import write_synthetic_store
        >>> path = os.path.join(tempfile.mkdtemp(), "r.h5")
        >>> _ = write_synthetic_store(path, n_scenes=1, n_metamers_per_scene=1, n_renders=3)
        >>> with StimulusSet(path) as s:
        ...     s.n_renders("scene", "scene0"), s.render("metamer", "scene0-m0", 2).shape
        (3, (2, 32, 32, 3))
        """
        ds = self._unit(self._kind(kind), uid).get("renders")
        return int(ds.shape[0]) if isinstance(ds, h5py.Dataset) and ds.ndim == 5 else 0

    @property
    def has_renders(self) -> bool:
        """Whether every scene and metamer holds independent renders."""
        return all(self.n_renders(k, u) > 0 for k in _KINDS for u in self._f[_KINDS[k]])

    def require_renders(self) -> None:
        """Raise :class:`MRDError` naming the first unit without independent renders."""
        for kind, plural in _KINDS.items():
            for uid in sorted(self._f[plural]):
                self._renders_ds(kind, uid)

    def _kind(self, kind: str) -> str:
        if kind not in _KINDS:
            raise MRDError(f"unit kind {kind!r} has no renders; expected 'scene', 'metamer' or 'probe'")
        return _KINDS[kind]

    def _renders_ds(self, kind: str, uid: str) -> h5py.Dataset:
        ds = self._unit(self._kind(kind), uid).get("renders")
        if not isinstance(ds, h5py.Dataset):
            raise MRDError(
                f"{self.path}: {kind} {uid!r} has no independent renders (schema {self.schema_version}; stores "
                "made before schema 1.1 hold one display render per view). Tasks that show two renders of "
                "one scene need them: regenerate the set with this suite, `mrd generate CONFIG.toml --out "
                "NEW.h5` (the config text is stored in the set: `mrd inspect SET.h5 --json`)"
            )
        return ds

    def render(self, kind: str, uid: str, r: int) -> np.ndarray:
        """Independent render ``r`` ``(V, H, W, 3)`` uint8 of a scene or metamer (render 0 = display)."""
        ds = self._renders_ds(kind, uid)
        if not 0 <= int(r) < ds.shape[0]:
            raise MRDError(f"{self.path}: {kind} {uid!r} has renders 0..{ds.shape[0] - 1}, not {r}")
        try:
            return ds[int(r)]
        except (OSError, RuntimeError, ValueError) as exc:
            raise MRDError(f"{self.path}: {ds.name}[{r}] cannot be read ({exc}); the file is damaged") from None

    def renders(self, kind: str, uid: str) -> np.ndarray:
        """All independent renders ``(R, V, H, W, 3)`` uint8 of a scene or metamer."""
        return h5io.read_dataset(self._renders_ds(kind, uid))

    def render_seeds(self, kind: str, uid: str) -> list[int]:
        """Seeds of the independent renders (empty when there are none)."""
        return list(h5io.read_render_seeds(self._unit(self._kind(kind), uid)))

    # -- verification -----------------------------------------------------------------------------
    def verify_images(self, progress: bool = False) -> str:
        """Recompute the content digest from the image bytes; return it if it equals the stored one.

        Parameters
        ----------
        progress : bool
            Show a progress bar (bytes read) on standard error.

        Raises
        ------
        stimuli.errors.MRDError
            When the images no longer give the stored digest (naming the changed datasets where
            checksums tell), or an image cannot be read.

        Examples
        --------
        >>> import tempfile, os
        >>> from stimuli.testing import write_synthetic_store
        >>> path = os.path.join(tempfile.mkdtemp(), "v.h5")
        >>> _ = write_synthetic_store(path, n_scenes=1, n_metamers_per_scene=1)
        >>> with StimulusSet(path) as s:
        ...     s.verify_images() == s.digest
        True
        """
        from tqdm import tqdm

        total = digest_bytes(self._f)
        with tqdm(total=total, unit="B", unit_scale=True, desc="verify stimulus images",
                  disable=not progress or total < 2**26) as bar:
            actual, changed = verify_images(self._f, bar.update)
        stored = self.digest
        if actual != stored:
            where = f"; changed: {', '.join(changed[:5])}{' ...' if len(changed) > 5 else ''}" if changed else ""
            raise MRDError(
                f"{self.path}: its images no longer give its stored content digest (stored {stored[:16]}..., "
                f"recomputed {actual[:16]}...{where}). The set was changed after it was written, so it is not "
                f"the set the sessions recorded; `mrd inspect {self.path} --validate` lists the damage"
            )
        return actual

    @property
    def has_checksums(self) -> bool:
        """Whether the store carries per-dataset checksums (schema 1.1 and later)."""
        return "sha256" in self._f.attrs

    def verify_metadata(self, kind: str, uid: str) -> list[str]:
        """Check a unit's attributes and, for a metamer, its similarities against their checksums.

        Returns the problems found (empty when all match or the store has no checksums); reads no images.
        """
        from stimuli.validate_units import Checker

        problems: list[str] = []
        g = self._unit({"model": "models", "scene": "scenes", "metamer": "metamers"}[kind], uid)
        checker = Checker(self._f, lambda m: problems.append(f"{self.path}: {m}"), require_checksums=self.has_checksums)
        checker.group_checksum(g)
        if kind == "metamer" and isinstance(g.get("similarity"), h5py.Group):
            checker.tree(g["similarity"], finite=True)
        return problems

    def close(self) -> None:
        """Close the file."""
        self._f.close()

    def __enter__(self) -> StimulusSet:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
