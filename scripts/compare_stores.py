"""Compare two stimulus sets dataset by dataset and attribute by attribute (bit for bit).

Timing fields (``created``, ``wall_time_s``, ``info.total_time_s``) and the checksums of groups (which
cover those attributes) are ignored; every dataset's data and checksum is compared; datasets and
attributes present in only one file are listed. Used to check that a refactor keeps the same
stores from the same configs (run both generators pinned to one core: ``taskset -c 0``).

Usage: python scripts/compare_stores.py A.h5 B.h5 [--allow-added]   (exit 0 when equal, 1 otherwise)

``--allow-added`` accepts attributes that only B has (a newer schema minor version adding, e.g.,
per-dataset checksums) and reports them as a count.
"""

from __future__ import annotations

import json
import sys

import h5py
import numpy as np

IGNORED_ATTRS = {"created", "wall_time_s", "suite_version"}
IGNORED_INFO = {"total_time_s"}


def _attr(value: object) -> object:
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and value[:1] in "{[":
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        if isinstance(parsed, dict):
            for k in IGNORED_INFO:
                parsed.pop(k, None)
        return parsed
    return value.tolist() if isinstance(value, np.ndarray) else value


def compare(a_path: str, b_path: str) -> list[str]:
    """Differences between two stores (empty when equal up to the ignored timing fields)."""
    out: list[str] = []
    with h5py.File(a_path, "r") as a, h5py.File(b_path, "r") as b:
        names: dict[str, list[str]] = {"a": [], "b": []}
        a.visit(names["a"].append)
        b.visit(names["b"].append)
        only_a, only_b = sorted(set(names["a"]) - set(names["b"])), sorted(set(names["b"]) - set(names["a"]))
        out += [f"only in A: {n}" for n in only_a] + [f"only in B: {n}" for n in only_b]
        for name in ["/"] + sorted(set(names["a"]) & set(names["b"])):
            oa, ob = a[name], b[name]
            for k in sorted(set(oa.attrs) | set(ob.attrs)):
                if k in IGNORED_ATTRS or (k == "sha256" and isinstance(oa, h5py.Group)):
                    continue  # a group's checksum covers its attributes, timing fields included
                if k not in oa.attrs or k not in ob.attrs:
                    out.append(f"{name}@{k}: only in {'A' if k in oa.attrs else 'B'}")
                elif _attr(oa.attrs[k]) != _attr(ob.attrs[k]):
                    out.append(f"{name}@{k}: differs")
            if isinstance(oa, h5py.Dataset):
                va, vb = oa[()], ob[()]
                if oa.dtype != ob.dtype or np.shape(va) != np.shape(vb) or not np.array_equal(va, vb):
                    out.append(f"{name}: data differ")
    return out


def main(argv: list[str]) -> int:
    diffs = compare(argv[1], argv[2])
    if "--allow-added" in argv:
        added = [d for d in diffs if d.endswith(": only in B") and "@" in d or d == "/@schema_version: differs"]
        diffs = [d for d in diffs if d not in added]
        print(f"{len(added)} attributes added in B (schema additions), accepted")
    for d in diffs:
        print(d)
    print("equal" if not diffs else f"{len(diffs)} differences")
    return 0 if not diffs else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
