"""The HDF5 layout of a stimulus set (schema version 1.0).

The full field-by-field reference is ``docs/schema.md``. In short::

    /                      attrs: schema_version, created, suite_version, config_text,
                                  config_sha256, content_digest
    /models/<model_id>     attrs: name, source, weight_source, weight_sha256, layers,
                                  input_size, mean, std
    /scenes/<scene_id>     attrs: description, views, spp, tone_map
                           hdr (V,H,W,3) float32, display (V,H,W,3) uint8,
                           params/<group>/<name> (numeric arrays)
    /metamers/<metamer_id> attrs: scene_id, model_id, layers, group, seed, steps, wall_time_s,
                                  converged, success, physical_distance, tone_map, info
                           display (V,H,W,3) uint8, hdr (V,H,W,3) float32, loss (S,) float64,
                           null_display (K,V,H,W,3) uint8,
                           initial_params/<group>/<name>, final_params/<group>/<name>,
                           similarity/<model_id>/{cosine,rel_l2} (V,L), {null_cosine,null_rel_l2} (K,L)

Attributes holding lists or dicts are JSON text.

Examples
--------
>>> SCHEMA_VERSION
'1.0'
>>> check_id("scene_01", "scene id")
'scene_01'
"""

from __future__ import annotations

import re

from stimuli.errors import MRDError

SCHEMA_VERSION = "1.0"
SUPPORTED_MAJOR = 1
GROUPS = ("shape", "material", "lighting")

ROOT_ATTRS = ("schema_version", "created", "suite_version", "config_text", "config_sha256", "content_digest")
MODEL_ATTRS = ("name", "source", "weight_source", "weight_sha256", "layers", "input_size", "mean", "std")
SCENE_ATTRS = ("description", "views", "spp", "tone_map")
METAMER_ATTRS = (
    "scene_id", "model_id", "layers", "group", "seed", "steps", "wall_time_s",
    "converged", "success", "physical_distance", "tone_map", "info",
)
SIMILARITY_DATASETS = ("cosine", "rel_l2", "null_cosine", "null_rel_l2")

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


def check_id(value: str, what: str) -> str:
    """Return ``value`` if it is a valid store key, else raise :class:`MRDError`.

    Keys start with a letter or digit and contain letters, digits, ``_``, ``.`` and ``-``
    (at most 128 characters), so they are safe as HDF5 names and file names.

    Examples
    --------
    >>> check_id("a/b", "metamer id")
    Traceback (most recent call last):
    ...
    stimuli.errors.MRDError: metamer id 'a/b' is not valid: use letters, digits, '_', '.', '-' (max 128, start with a letter or digit)
    """
    if not isinstance(value, str) or not _ID.match(value):
        raise MRDError(
            f"{what} {value!r} is not valid: use letters, digits, '_', '.', '-' "
            "(max 128, start with a letter or digit)"
        )
    return value


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
