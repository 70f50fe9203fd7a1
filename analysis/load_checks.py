"""Checks the session loader runs before it trusts its inputs: the stimulus set, and session file names.

* :func:`verify_store` recomputes the stimulus set's content digest from its image bytes and checks the
  metamers' stored numbers against their per-dataset checksums (schema 1.1), and says what it verified;
* :func:`check_ids` checks a session's participant and session ids (sidecar and every CSV row) against
  its file name ``sub-<participant>_ses-<session>_trials.csv``.

Examples
--------
>>> import tempfile, pathlib
>>> from analysis.synthetic import make_store
>>> from stimuli import StimulusSet
>>> store = make_store(pathlib.Path(tempfile.mkdtemp()) / "set.h5", n_scenes=1, metamers_per_scene=1)
>>> with StimulusSet(store) as s:
...     digest, checks = verify_store(s)
>>> digest == StimulusSet(store).digest, sorted(checks)
(True, ['digest_check', 'metadata_check'])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stimuli import StimulusSet
from stimuli.errors import MRDError


def verify_store(s: StimulusSet) -> tuple[str, dict[str, str]]:
    """Recompute the digest from the images and check the metamers' numbers; say what was verified."""
    digest = s.verify_images(progress=True)
    problems = [p for xid in s.metamer_ids for p in s.verify_metadata("metamer", xid)]
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise MRDError(
            f"{s.path}: stored numbers changed after writing: {problems[0]}{more}. Refusing to analyse with "
            f"this set; `mrd inspect {s.path} --validate` lists every problem"
        )
    images = "display images and independent renders" if s.has_renders else "display images"
    checks = {
        "digest_check": (
            f"recomputed from the stimulus set's {images} and equal to its stored digest; "
            "every session's recorded stimulus_digest equals it"
        ),
        "metadata_check": (
            "metamer attributes (success, group, physical distances) and similarities match their "
            "per-dataset checksums"
            if s.has_checksums
            else f"not verified: a schema {s.schema_version} store has no per-dataset checksums"
        ),
    }
    return digest, checks


def ids_from_name(csv: Path) -> tuple[str, str]:
    """``(participant, session)`` from a ``sub-<participant>_ses-<session>_trials.csv`` file name.

    Examples
    --------
    >>> ids_from_name(Path("data/sub-P01_ses-2_trials.csv"))
    ('P01', '2')
    """
    stem = csv.name[len("sub-") : -len("_trials.csv")]
    participant, sep, session = stem.rpartition("_ses-")
    if not (
        csv.name.startswith("sub-") and csv.name.endswith("_trials.csv") and sep and participant and session
    ):
        raise MRDError(f"{csv}: not a session file name; expected sub-<participant>_ses-<session>_trials.csv")
    return participant, session


def check_ids(csv: Path, sidecar: Path, info: dict[str, Any], df: pd.DataFrame) -> None:
    """The sidecar's and every row's participant and session must be the ones the file name says."""
    participant, session = ids_from_name(csv)
    for key, want in (("participant", participant), ("session", session)):
        if str(info[key]) != want:
            raise MRDError(
                f"{sidecar}: {key} {info[key]!r} differs from the {key} {want!r} in its file name; "
                "the files were renamed or mixed up. Restore the original names"
            )
        values = df[key].astype(str).where(df[key].notna(), "")
        bad = (values != want).to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise MRDError(
                f"{csv}: column '{key}' has value {values.iat[i]!r} in row {i + 2}, but the file name says "
                f"{key} {want!r}; every row of a session file belongs to that session"
            )
