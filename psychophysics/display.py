"""Pixel-exact layout of the three images and the refresh-rate check (pure Python).

The window's sizes in degrees come from the ``[monitor]`` geometry, but images are never resampled on
the way to the screen: each stored pixel becomes a ``scale x scale`` block (``presentation.image_scale``,
or, when 0, the whole number closest to ``image_size_deg`` in pixels, at least 1) and every image's top
left corner sits on a whole screen pixel, the same for all three positions (:func:`layout`). Spatial
mode: centres ``round(spacing_deg * px_per_deg)`` pixels apart; temporal mode: all at the centre. A
layout that does not fit the window is refused with the sizes.

:func:`timing_warning` says when flips are not synchronised to a display refresh (e.g. Xvfb, or vsync
off): the measured rate is more than 10 % away from ``monitor.nominal_refresh_hz``, or the flip intervals
vary by more than 20 % (SD / median).

Examples
--------
>>> from psychophysics.config import ExperimentConfig
>>> cfg = ExperimentConfig.model_validate({"presentation": {"image_scale": 3, "spacing_deg": 8}})
>>> lay = layout(cfg.presentation, (1280, 1024), 40.0, (64, 64))
>>> lay.scale, lay.image_px, lay.top_left
(3, (192, 192), [(224, 416), (544, 416), (864, 416)])
>>> lay.centres_pix[1]
(0.0, 0.0)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from stimuli.errors import MRDError


@dataclass(frozen=True)
class Layout:
    """Where the three images go.

    Attributes
    ----------
    scale : int
        Screen pixels per stored pixel (each way).
    image_px : tuple of int
        Shown size ``(width, height)`` in screen pixels.
    top_left : list of tuple of int
        Screen pixel (x from the left, y from the top) of each position's top left corner.
    centres_pix : list of tuple of float
        The same as PsychoPy ``pix`` positions of the image centres (origin at the window centre, y up).
    window_px : tuple of int
        The window size the layout was made for.
    size_deg : float
        The shown width in degrees of visual angle.
    """

    scale: int
    image_px: tuple[int, int]
    top_left: list[tuple[int, int]]
    centres_pix: list[tuple[float, float]]
    window_px: tuple[int, int]
    size_deg: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (for the sidecar)."""
        return asdict(self)


def layout(presentation: Any, window_px: tuple[int, int], px_per_deg: float, image_hw: tuple[int, int]) -> Layout:
    """Lay out three images of stored size ``image_hw = (H, W)`` in a window of ``window_px = (W, H)``.

    Raises
    ------
    MRDError
        If the images do not fit the window or would overlap, naming the sizes.
    """
    h, w = (int(v) for v in image_hw)
    win_w, win_h = (int(v) for v in window_px)
    if presentation.image_scale:
        scale = int(presentation.image_scale)
    else:
        scale = max(1, int(round(presentation.image_size_deg * px_per_deg / w)))
    sw, sh = w * scale, h * scale
    spacing = int(round(presentation.spacing_deg * px_per_deg)) if presentation.mode == "spatial" else 0
    if presentation.mode == "spatial" and spacing < sw:
        raise MRDError(
            f"presentation: images {sw} px wide ({w} px x scale {scale}) with centres {spacing} px apart "
            f"(spacing_deg = {presentation.spacing_deg} at {px_per_deg:.2f} px/deg) would overlap; "
            "increase spacing_deg or lower image_scale / image_size_deg"
        )
    need_w = sw + 2 * spacing
    if need_w > win_w or sh > win_h:
        raise MRDError(
            f"presentation: the images do not fit the window: three images of {sw} x {sh} px "
            f"({w} x {h} px x scale {scale}) with centres {spacing} px apart need {need_w} x {sh} px, the window "
            f"is {win_w} x {win_h} px; lower image_scale / image_size_deg / spacing_deg, or use a larger window "
            "(monitor.window_size / resolution)"
        )
    left0, top = (win_w - sw) // 2, (win_h - sh) // 2
    lefts = [left0 - spacing, left0, left0 + spacing]
    tops = [(x, top) for x in lefts]
    centres = [(x + sw / 2 - win_w / 2, win_h / 2 - top - sh / 2) for x in lefts]
    return Layout(scale, (sw, sh), tops, centres, (win_w, win_h), sw / px_per_deg)


def px_per_degree(width_px: int, width_cm: float, distance_cm: float) -> float:
    """Pixels per degree of visual angle at the screen centre (PsychoPy's ``deg2pix`` convention).

    Examples
    --------
    >>> round(px_per_degree(1920, 53.0, 60.0), 2)
    37.94
    """
    return width_px / width_cm * distance_cm * math.tan(math.radians(1.0))


def timing_warning(intervals_s: np.ndarray, nominal_hz: float) -> str | None:
    """A warning text when flip intervals do not look like a synchronised display, else ``None``.

    Examples
    --------
    >>> timing_warning(np.full(100, 1 / 60), 60.0) is None
    True
    >>> timing_warning(np.full(100, 1 / 600), 60.0)[:32]
    'flips are not synchronised to a '
    """
    iv = np.asarray(intervals_s, float)
    iv = iv[np.isfinite(iv) & (iv > 0)]
    if iv.size < 10:
        return f"flips are not synchronised to a display refresh: only {iv.size} flip intervals could be measured"
    med = float(np.median(iv))
    rate, cv = 1.0 / med, float(np.std(iv) / med)
    if abs(rate / nominal_hz - 1.0) > 0.10 or cv > 0.20:
        return (
            f"flips are not synchronised to a display refresh: measured {rate:.1f} Hz (flip-interval SD "
            f"{100 * cv:.0f} % of the median) against monitor.nominal_refresh_hz = {nominal_hz:g}; durations in "
            "frames will not match the configured ms (expected under Xvfb or with vsync off; never collect "
            "timing data like this)"
        )
    return None
