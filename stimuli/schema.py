"""The HDF5 layout of a stimulus set (schema version 1.2).

The full field-by-field reference is ``docs/schema.md``. In short::

    /                      attrs: schema_version, created, suite_version, config_text,
                                  config_sha256, content_digest
    /models/<model_id>     attrs: name, source, weight_source, weight_sha256, layers,
                                  input_size, mean, std
    /scenes/<scene_id>     attrs: description, views, spp, tone_map, image_digest [, render_seeds]
                           hdr (V,H,W,3) float32, display (V,H,W,3) uint8,
                           [renders (R,V,H,W,3) uint8, display == renders[0]]
                           params/<group>/<name> (numeric arrays)
    /metamers/<metamer_id> attrs: scene_id, model_id, layers, group, seed, steps, wall_time_s,
                                  converged, success, physical_distance, tone_map, info,
                                  image_digest [, render_seeds, criterion]
                           display (V,H,W,3) uint8, hdr (V,H,W,3) float32, loss (S,) float64,
                           [renders (R,V,H,W,3) uint8], null_display (K,V,H,W,3) uint8,
                           initial_params/<group>/<name>, final_params/<group>/<name>,
                           similarity/<model_id>/{cosine,rel_l2} (V,L), {null_cosine,null_rel_l2} (K,L)

Attributes holding lists or dicts are JSON text. Since 1.1 every group and dataset also carries a
``sha256`` attribute (:mod:`stimuli.checksum`); since 1.2 every scene and metamer carries
``image_digest``, its per-unit hash, which the content digest combines (:mod:`stimuli.digest`).
``[...]`` marks optional parts. Readers accept 1.0, 1.1 and 1.2.

Examples
--------
>>> SCHEMA_VERSION
'1.2'
>>> check_id("scene_01", "scene id")
'scene_01'
"""

from __future__ import annotations

import re

from stimuli.errors import MRDError

SCHEMA_VERSION = "1.2"
SUPPORTED_MAJOR = 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
GROUPS = ("shape", "material", "lighting")
"""The shipped parameter groups; a registered group (docs/groups.md) may add others."""
GROUP_PATTERN = r"[a-z][a-z0-9_]{0,63}"
"""What a parameter-group name looks like (lower-case letters, digits, '_')."""

ROOT_ATTRS = ("schema_version", "created", "suite_version", "config_text", "config_sha256", "content_digest")
MODEL_ATTRS = ("name", "source", "weight_source", "weight_sha256", "layers", "input_size", "mean", "std")
SCENE_ATTRS = ("description", "views", "spp", "tone_map")
METAMER_ATTRS = (
    "scene_id", "model_id", "layers", "group", "seed", "steps", "wall_time_s",
    "converged", "success", "physical_distance", "tone_map", "info",
)
SIMILARITY_DATASETS = ("cosine", "rel_l2", "null_cosine", "null_rel_l2")

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")


def check_id(value: str, what: str) -> str:
    """Return ``value`` if it is a valid store key, else raise :class:`MRDError`.

    Keys start with a letter or digit and contain letters, digits, ``_``, ``.`` and ``-``
    (at most 128 characters), so they are safe as HDF5 names and file names.

    Examples
    --------
    >>> check_id("scene_01\\n", "scene id")  # the whole value must match: no trailing newline
    Traceback (most recent call last):
    ...
    stimuli.errors.MRDError: scene id 'scene_01\\n' is not valid: use letters, digits, '_', '.', '-' (max 128, start with a letter or digit)
    >>> check_id("a/b", "metamer id")
    Traceback (most recent call last):
    ...
    stimuli.errors.MRDError: metamer id 'a/b' is not valid: use letters, digits, '_', '.', '-' (max 128, start with a letter or digit)
    """
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise MRDError(
            f"{what} {value!r} is not valid: use letters, digits, '_', '.', '-' "
            "(max 128, start with a letter or digit)"
        )
    return value


def check_seed(value: object, what: str) -> int:
    """Return ``value`` as an int if it is an integer that fits a signed 64-bit HDF5 attribute.

    Booleans are not integers here. Raise :class:`MRDError` naming ``what`` otherwise.

    Examples
    --------
    >>> check_seed(7, "metamer 'm0': seed")
    7
    >>> check_seed(2**70, "metamer 'm0': seed")
    Traceback (most recent call last):
    ...
    stimuli.errors.MRDError: metamer 'm0': seed = 1180591620717411303424 is out of range; expected an integer from -9223372036854775808 to 9223372036854775807
    """
    import numpy as np

    ok = isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)
    if not ok or not INT64_MIN <= int(value) <= INT64_MAX:
        raise MRDError(
            f"{what} = {value!r} is {'out of range' if ok else 'not an integer'}; "
            f"expected an integer from {INT64_MIN} to {INT64_MAX}"
        )
    return int(value)


def major_of(version: str) -> int:
    """Major number of a ``"MAJOR.MINOR"`` schema version string.

    Examples
    --------
    >>> major_of("1.3")
    1
    """
    try:
        return int(str(version).split(".")[0])
    except ValueError as exc:
        raise MRDError(f"schema_version {version!r} is not of the form MAJOR.MINOR") from exc


def check_schema_version(version: object, path: object, writing: bool = False) -> str:
    """The one schema-version check: return the version, or raise :class:`MRDError`.

    A missing version, a malformed one, or an unknown major version is refused, naming the file.

    Examples
    --------
    >>> check_schema_version("1.0", "old.h5")
    '1.0'
    >>> check_schema_version("2.0", "new.h5")
    Traceback (most recent call last):
    ...
    stimuli.errors.MRDError: new.h5: schema_version '2.0' is not supported by this suite, which reads 1.x (writes 1.2); use a matching version of mrd-suite
    """
    if version is None:
        raise MRDError(f"{path}: root attribute 'schema_version' is missing; not an MRD stimulus set")
    if isinstance(version, bytes):
        version = version.decode("utf-8", "replace")
    version = str(version)
    try:
        major = major_of(version)
    except MRDError as exc:
        raise MRDError(f"{path}: {exc}") from None
    if major != SUPPORTED_MAJOR:
        verb = "cannot be written" if writing else "is not supported"
        raise MRDError(
            f"{path}: schema_version {version!r} {verb} by this suite, which reads "
            f"{SUPPORTED_MAJOR}.x (writes {SCHEMA_VERSION}); use a matching version of mrd-suite"
        )
    return version
