"""Display calibration: show the stored sRGB images with the luminance they encode (no PsychoPy).

The stored display images are 8-bit sRGB. A pixel value ``v`` stands for the relative luminance
``s(v)`` of the sRGB transfer function. On a display whose luminance for drive value ``d`` is
``L(d)``, the image is *linear-correct* when each ``v`` is sent as the ``d`` with
``L(d) = black + (white - black) * s(v)``. ``[monitor] calibration`` says how ``L`` is known:

``"none"``
    Values are sent unchanged; the session records ``linear_correct: false`` and prints that the
    luminance depends on the display's own transfer (correct only for a display that follows sRGB).
``"gamma"``
    ``L(d) = black + (white - black) * (d / 255) ** gamma``, so ``d = 255 * s(v) ** (1 / gamma)``.
``"lut"``
    ``lut_file`` holds 256 measured luminances (cd/m²), one line per drive value 0..255, one column
    (all channels) or three (R G B); ``#`` starts a comment. ``d`` is the inverse of that table.

The mapping is one 256-entry table per channel (:func:`drive_table`), applied to every image before it
is shown (identically at all positions) and to the background colour; the sidecar records it
(:func:`describe`).

Examples
--------
>>> import numpy as np
>>> from psychophysics.config import Monitor
>>> t = drive_table(Monitor(calibration="gamma", gamma=2.2, white_cd_m2=100.0, black_cd_m2=0.5))
>>> t.shape, int(t[0, 0]), int(t[255, 0]), int(t[128, 0])
((256, 3), 0, 255, 127)
>>> bool((drive_table(Monitor()) == np.arange(256)[:, None]).all())
True
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from stimuli.errors import MRDError

NOT_LINEAR = (
    "no display calibration given ([monitor] calibration = 'none'): images are shown with their "
    "stored sRGB values, so their luminance is correct only on a display that follows the sRGB curve"
)


def srgb_to_linear(v: np.ndarray) -> np.ndarray:
    """Relative luminance of sRGB values in 0..1 (IEC 61966-2-1).

    Examples
    --------
    >>> round(float(srgb_to_linear(np.array(0.5))), 4)
    0.214
    """
    v = np.asarray(v, float)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def read_lut(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a luminance table: ``(256, 3)`` float, non-decreasing per channel.

    Raises
    ------
    MRDError
        Naming the file, the line and what is wrong.

    Examples
    --------
    >>> read_lut("/nonexistent.txt")
    Traceback (most recent call last):
    ...
    stimuli.errors.MRDError: /nonexistent.txt: cannot read the monitor lut_file (No such file or directory)
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise MRDError(f"{p}: cannot read the monitor lut_file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MRDError(f"{p}: lut_file is not UTF-8 text (byte offset {exc.start})") from None
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].replace(",", " ").strip()
        if not line:
            continue
        try:
            vals = [float(x) for x in line.split()]
        except ValueError:
            raise MRDError(f"{p}: line {n} = {line[:60]!r}: give 1 or 3 numbers (cd/m²)") from None
        if len(vals) not in (1, 3) or not all(math.isfinite(x) and x >= 0 for x in vals):
            raise MRDError(f"{p}: line {n} = {line[:60]!r}: give 1 or 3 finite luminances >= 0 (cd/m²)")
        rows.append(vals * 3 if len(vals) == 1 else vals)
    if len(rows) != 256:
        raise MRDError(f"{p}: lut_file has {len(rows)} rows; give 256 (drive values 0..255)")
    lut = np.asarray(rows, float)
    if (np.diff(lut, axis=0) < 0).any() or (lut[-1] <= lut[0]).any():
        raise MRDError(f"{p}: lut_file luminances must not decrease from drive value 0 to 255")
    return lut


def drive_table(monitor: Any) -> np.ndarray:
    """``(256, 3)`` uint8: the drive value sent for each stored sRGB value, per channel."""
    v = np.arange(256)
    if monitor.calibration == "none":
        return np.repeat(v[:, None], 3, axis=1).astype(np.uint8)
    s = srgb_to_linear(v / 255.0)
    if monitor.calibration == "gamma":
        d = 255.0 * s ** (1.0 / monitor.gamma)
        return np.repeat(np.clip(np.round(d), 0, 255)[:, None], 3, axis=1).astype(np.uint8)
    lut = read_lut(monitor.lut_file)
    out = np.empty((256, 3), np.uint8)
    for c in range(3):
        measured = lut[:, c]
        wanted = measured[0] + (measured[-1] - measured[0]) * s
        # invert the non-decreasing table (flat steps resolve to their first drive value)
        d = np.interp(wanted, *np.unique(measured, return_index=True))
        out[:, c] = np.clip(np.round(d), 0, 255).astype(np.uint8)
    return out


def apply(table: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Map an ``(H, W, 3)`` uint8 image through a :func:`drive_table` (no copy when it is the identity).

    Examples
    --------
    >>> img = np.full((2, 2, 3), 128, np.uint8)
    >>> int(apply(np.repeat(np.arange(256)[:, None], 3, 1).astype(np.uint8), img)[0, 0, 0])
    128
    """
    if (table == np.arange(256, dtype=np.uint8)[:, None]).all():
        return image
    return np.stack([table[image[..., c], c] for c in range(3)], axis=-1)


def describe(monitor: Any, table: np.ndarray) -> dict[str, Any]:
    """What the sidecar records about the calibration in force."""
    out: dict[str, Any] = {
        "method": monitor.calibration,
        "linear_correct": monitor.calibration != "none",
        "white_cd_m2": monitor.white_cd_m2 or None,
        "black_cd_m2": monitor.black_cd_m2 if monitor.white_cd_m2 else None,
        "statement": NOT_LINEAR if monitor.calibration == "none" else (
            f"images mapped through the display's {monitor.calibration} calibration so that stored sRGB "
            "values give their encoded relative luminance between the measured black and white"
        ),
        "drive_table": table.T.tolist(),
    }
    if monitor.calibration == "gamma":
        out["gamma"] = monitor.gamma
    if monitor.calibration == "lut":
        out["lut_file"] = monitor.lut_file
        out["lut_sha256"] = hashlib.sha256(Path(monitor.lut_file).read_bytes()).hexdigest()
    return out


def colour_through(table: np.ndarray, rgb: tuple[float, float, float]) -> list[float]:
    """A PsychoPy rgb colour (-1..1) mapped like an image value (for the background).

    Examples
    --------
    >>> colour_through(np.repeat(np.arange(256)[:, None], 3, 1).astype(np.uint8), (0.0, 0.0, 0.0))
    [0.0, 0.0, 0.0]
    """
    if (table == np.arange(256, dtype=np.uint8)[:, None]).all():
        return [float(c) for c in rgb]
    vals = [int(round((c + 1.0) / 2.0 * 255.0)) for c in rgb]
    return [float(table[v, i]) / 255.0 * 2.0 - 1.0 for i, v in enumerate(vals)]
