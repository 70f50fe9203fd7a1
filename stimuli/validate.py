"""Check a stimulus set against the schema; report every problem found, never crash.

Validation reads every dataset of the store once: it compares each with its stored checksum
(schema 1.1, :mod:`stimuli.checksum`), checks values that must be finite (HDR images, loss curves,
parameters, similarities), checks stored flags against stored numbers (``success`` against its
``criterion``; ``steps`` against the loss curve; ``display == renders[0]``), recomputes the content
digest in the same pass, and reports a part that cannot be read (a damaged chunk, a damaged
header) as a problem instead of raising.

Examples
--------
>>> import tempfile, os
>>> from stimuli.writer import StoreWriter
>>> path = os.path.join(tempfile.mkdtemp(), "set.h5")
>>> StoreWriter(path, config_text="x = 1").close()
>>> validate_store(path)
[]
>>> validate_store(path + ".missing")[0].endswith("no such file")
True
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py

from stimuli.errors import MRDError
from stimuli.reader import check_version, open_h5
from stimuli.schema import ROOT_ATTRS
from stimuli.validate_units import Checker
from stimuli.writer import sha256_text

UNIT_KINDS = ("models", "scenes", "metamers")


def _minor(version: str) -> int:
    try:
        return int(version.split(".")[1])
    except (IndexError, ValueError):
        return 0


def validate_store(path: str | os.PathLike[str], progress: bool = False) -> list[str]:
    """Validate a store; return a list of problems (empty when valid).

    Each problem names the file, the object (HDF5 path), and what is wrong versus what is expected.

    Parameters
    ----------
    path : path-like
        The store file.
    progress : bool
        Show a progress bar (units checked) on standard error for stores of more than 50 units.

    Returns
    -------
    list of str
        Problems found.
    """
    p = Path(path)
    problems: list[str] = []
    try:
        f = open_h5(p)
    except MRDError as exc:
        return [str(exc)]
    except Exception as exc:  # anything the HDF5 library raises on a damaged superblock
        return [f"{p}: not a readable HDF5 file ({type(exc).__name__}: {exc})"]
    with f:
        try:
            _validate(f, p, problems, progress)
        except Exception as exc:  # a last guard: the report is the product, not a traceback
            problems.append(f"{p}: validation stopped, the file is damaged ({type(exc).__name__}: {exc})")
    return problems


def _validate(f: h5py.File, p: Path, problems: list[str], progress: bool) -> None:
    from tqdm import tqdm

    def report(msg: str) -> None:
        problems.append(f"{p}: {msg}")

    try:
        version = check_version(f, p)
    except MRDError as exc:
        problems.append(str(exc))
        return
    checker = Checker(f, report, require_checksums=_minor(version) >= 1)
    for name in ROOT_ATTRS:
        if name not in f.attrs:
            report(f"root attribute '{name}' is missing")
    text, sha = checker.attr(f, "config_text"), checker.attr(f, "config_sha256")
    if isinstance(text, str) and sha is not None and sha256_text(text) != sha:
        report("root attribute 'config_sha256' does not match the sha256 of 'config_text'")
    missing = [g for g in UNIT_KINDS if not isinstance(f.get(g), h5py.Group)]
    for group in missing:
        report(f"group '/{group}' is missing")
    if missing:
        return
    checker.group_checksum(f)
    try:  # the library's own walk over every object uses the file's internal index as well
        f.visit(lambda name: None)
    except Exception as exc:
        report(f"the file's object index is damaged: walking all objects fails ({type(exc).__name__}: {exc})")
    try:
        n_units = sum(len(f[k]) for k in UNIT_KINDS)
    except Exception:  # a damaged folder is reported below
        n_units = 0
    bar = tqdm(total=n_units, desc="validate", unit="unit", disable=not progress or n_units <= 50)
    for kind in UNIT_KINDS:
        checker.group_checksum(f[kind])
        try:
            ids = sorted(f[kind].keys())
        except Exception as exc:
            report(f"/{kind}: members cannot be listed ({type(exc).__name__}: {exc})")
            continue
        check = {"models": checker.model, "scenes": checker.scene, "metamers": checker.metamer}[kind]
        for uid in ids:
            try:
                g = f[kind][uid]
                if not isinstance(g, h5py.Group):
                    report(f"/{kind}/{uid}: is not a group")
                    continue
                check(g)
            except Exception as exc:
                report(f"/{kind}/{uid}: cannot be read ({type(exc).__name__}: {exc})")
            finally:
                bar.update()
    bar.close()
    stored = checker.attr(f, "content_digest")
    if stored is None:
        return
    try:
        actual = checker.digest()
    except Exception as exc:
        actual, why = None, f" ({type(exc).__name__}: {exc})"
    else:
        why = ""
    if actual is None:
        report(f"content digest cannot be recomputed: an image dataset cannot be read{why}")
    elif actual != stored:
        report(
            f"content digest mismatch: stored {str(stored)[:16]}..., computed {actual[:16]}... "
            "(display images changed after writing)"
        )
