"""Compare two stimulus sets: every dataset and every attribute, recursively, field by field.

Field classes:

* **timing** (ignored by name): the attributes ``created``, ``wall_time_s`` and ``suite_version``, the
  ``total_time_s`` entry of JSON attributes (``info``), and the checksums of groups (a group's ``sha256``
  covers its attributes, timing fields included). A dataset's own checksum is compared.
* **float**: floating-point datasets and the floating-point numbers inside attributes (JSON attributes
  are parsed and walked key by key): equal within ``|a - b| <= atol + rtol * |b|`` (default 0: bit for bit).
* **exact**: everything else (integers, strings, booleans, 8-bit display images, dtypes, shapes, the
  sets of datasets and attribute names) must be equal.

Each difference names its field and, for numbers, the largest difference, so a report says *which*
fields differ and by how much. Used to check that a refactor keeps the same stores from the same
configs (run both generators pinned to one core: ``taskset -c 0``) and that a killed and resumed
``mrd generate`` gives the store an uninterrupted run gives (tests/mrd/test_resume_equality.py).

Usage: python scripts/compare_stores.py A.h5 B.h5 [--allow-added] [--atol X] [--rtol Y]
(exit 0 when equal, 1 otherwise)

``--allow-added`` accepts attributes that only B has (a newer schema minor version adding, e.g.,
per-dataset checksums) and reports them as a count.

Examples
--------
>>> walk_values("info", {"a": [1.0, 2.0], "total_time_s": 3.0}, {"a": [1.0, 2.5], "total_time_s": 9.0}, 0.0, 0.0)
['info.a[1]: 2.0 vs 2.5 (|diff| 0.5)']
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import h5py
import numpy as np

IGNORED_ATTRS = {"created", "wall_time_s", "suite_version"}
"""Attributes that record when or with what a store was made, not what it holds."""
IGNORED_INFO = {"total_time_s"}
"""Timing entries of JSON attributes."""


def _attr(value: object) -> object:
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _close(a: float, b: float, atol: float, rtol: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    return a == b or abs(a - b) <= atol + rtol * abs(b)


def walk_values(where: str, a: Any, b: Any, atol: float, rtol: float) -> list[str]:
    """Differences between two parsed attribute values (floats within tolerance, all else exact).

    Parameters
    ----------
    where : str
        Name of the field, used in the messages (``path@attribute``).
    a, b : object
        Parsed values (JSON-like: dicts, lists, numbers, strings, booleans, None).
    atol, rtol : float
        Tolerance for floating-point numbers.

    Returns
    -------
    list of str
        One message per differing leaf; empty when equal.

    Examples
    --------
    >>> walk_values("x", {"k": 1}, {"k": 1, "j": 2}, 0.0, 0.0)
    ['x.j: only in B']
    >>> walk_values("x", [0.1], [0.1 + 1e-12], 1e-9, 0.0)
    []
    """
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            if k in IGNORED_INFO:
                continue
            if k not in a or k not in b:
                out.append(f"{where}.{k}: only in {'A' if k in a else 'B'}")
            else:
                out += walk_values(f"{where}.{k}", a[k], b[k], atol, rtol)
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: length {len(a)} vs {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in walk_values(f"{where}[{i}]", x, y, atol, rtol)]
    if isinstance(a, float) and isinstance(b, float) and not isinstance(a, bool):
        return [] if _close(a, b, atol, rtol) else [f"{where}: {a!r} vs {b!r} (|diff| {abs(a - b):.3g})"]
    if type(a) is not type(b) or a != b:
        return [f"{where}: {_short(a)} vs {_short(b)}"]
    return []


def _short(v: Any) -> str:
    s = repr(v)
    return s if len(s) <= 80 else s[:77] + "..."


def _data_diff(name: str, da: h5py.Dataset, db: h5py.Dataset, atol: float, rtol: float) -> list[str]:
    va, vb = da[()], db[()]
    if da.dtype != db.dtype or np.shape(va) != np.shape(vb):
        return [f"{name}: dtype/shape {da.dtype}{np.shape(va)} vs {db.dtype}{np.shape(vb)}"]
    if np.array_equal(va, vb, equal_nan=da.dtype.kind in "fc"):
        return []
    if da.dtype.kind in "fc":
        fa, fb = np.asarray(va, np.float64), np.asarray(vb, np.float64)
        if np.allclose(fa, fb, atol=atol, rtol=rtol, equal_nan=True):
            return []
        d = np.abs(fa - fb)
        return [f"{name}: float data differ (max |diff| {np.nanmax(d):.3g}, {int(np.sum(d > atol + rtol * np.abs(fb)))}"
                f" of {d.size} values out of tolerance)"]
    if da.dtype.kind in "iub":
        d = np.abs(np.asarray(va, np.int64) - np.asarray(vb, np.int64))
        return [f"{name}: data differ (max |diff| {int(d.max())}, {int(np.count_nonzero(d))} of {d.size} values)"]
    return [f"{name}: data differ"]


def compare(a_path: str, b_path: str, atol: float = 0.0, rtol: float = 0.0) -> list[str]:
    """Differences between two stores (empty when equal up to the ignored timing fields).

    Parameters
    ----------
    a_path, b_path : str
        The two stores.
    atol, rtol : float
        Tolerance of floating-point fields (datasets and numbers inside attributes); default 0, bit for bit.

    Returns
    -------
    list of str
        One message per differing field, naming it (``path`` for a dataset, ``path@attr.key`` inside an
        attribute) and, for numbers, the largest difference.

    Examples
    --------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> for name, v in (("a", 1.0), ("b", 1.0 + 1e-9)):
    ...     with h5py.File(os.path.join(d, name + ".h5"), "w") as f:
    ...         f["x"] = np.array([v, 2.0]); f.attrs["info"] = json.dumps({"s": v, "total_time_s": v})
    >>> compare(os.path.join(d, "a.h5"), os.path.join(d, "b.h5"))[0].startswith("/@info.s")
    True
    >>> compare(os.path.join(d, "a.h5"), os.path.join(d, "b.h5"), atol=1e-8)
    []
    """
    out: list[str] = []
    with h5py.File(a_path, "r") as a, h5py.File(b_path, "r") as b:
        names: dict[str, list[str]] = {"a": [], "b": []}
        a.visit(names["a"].append)
        b.visit(names["b"].append)
        only_a, only_b = sorted(set(names["a"]) - set(names["b"])), sorted(set(names["b"]) - set(names["a"]))
        out += [f"only in A: {n}" for n in only_a] + [f"only in B: {n}" for n in only_b]
        for name in ["/"] + sorted(set(names["a"]) & set(names["b"])):
            oa, ob = a[name], b[name]
            if isinstance(oa, h5py.Dataset) != isinstance(ob, h5py.Dataset):
                out.append(f"{name}: a dataset in one store, a group in the other")
                continue
            for k in sorted(set(oa.attrs) | set(ob.attrs)):
                if k in IGNORED_ATTRS or (k == "sha256" and isinstance(oa, h5py.Group)):
                    continue  # a group's checksum covers its attributes, timing fields included
                if k not in oa.attrs or k not in ob.attrs:
                    out.append(f"{name}@{k}: only in {'A' if k in oa.attrs else 'B'}")
                    continue
                out += walk_values(f"{name}@{k}", _attr(oa.attrs[k]), _attr(ob.attrs[k]), atol, rtol)
            if isinstance(oa, h5py.Dataset):
                out += _data_diff(name, oa, ob, atol, rtol)
    return out


def _option(argv: list[str], name: str) -> float:
    if name not in argv:
        return 0.0
    i = argv.index(name)
    try:
        value = float(argv[i + 1])
    except (IndexError, ValueError):
        raise SystemExit(f"{name}: give a number >= 0, e.g. {name} 1e-6") from None
    if not math.isfinite(value) or value < 0:
        raise SystemExit(f"{name} {argv[i + 1]}: give a finite number >= 0")
    return value


def main(argv: list[str]) -> int:
    """Command line (see the module docstring)."""
    args = [x for i, x in enumerate(argv[1:], 1) if not x.startswith("--") and argv[i - 1] not in ("--atol", "--rtol")]
    if len(args) != 2:
        print(__doc__.split("Usage: ")[1].split("\n\n")[0], file=sys.stderr)
        return 2
    diffs = compare(args[0], args[1], atol=_option(argv, "--atol"), rtol=_option(argv, "--rtol"))
    if "--allow-added" in argv:
        added = [d for d in diffs if d.endswith(": only in B") and "@" in d or d.startswith("/@schema_version:")]
        diffs = [d for d in diffs if d not in added]
        print(f"{len(added)} attributes added in B (schema additions), accepted")
    for d in diffs:
        print(d)
    print("equal" if not diffs else f"{len(diffs)} differences")
    return 0 if not diffs else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
