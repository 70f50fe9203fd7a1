"""A one-scene material set under the luminance test model, small enough for a test to generate.

Examples
--------
>>> "seed = 7" in luminance_set(7)
True
"""

from __future__ import annotations

_TEMPLATE = """
seed = {seed}
[render]
resolution = 32  # the luminance model's input size: no resampling
spp = 4
display_spp = 8
views = 2
max_depth = 2
display_renders = 3
[optimize]
steps = 3
target_renders = 1
[null]
draws = 4
[criterion]
triplets = 30
[[models]]
name = "mrd.models.testing:mean_luminance"
layers = ["luminance"]
[[scenes]]
id = "ball"
[[metamers]]
groups = ["material"]
"""


def luminance_set(seed: int) -> str:
    """The config text with master seed ``seed`` (32 px renders, 3 display renders, 4 null draws, 3 steps)."""
    return _TEMPLATE.format(seed=seed)
