"""The stimulus-set config: a TOML file validated into typed settings (imports neither torch nor Mitsuba).

Modules: :mod:`~mrd.config.scenes` (target scenes), :mod:`~mrd.config.settings` (render,
optimisation, priors, null; :class:`SynthesisSettings`), :mod:`~mrd.config.setconfig` (the whole
config, its jobs, :func:`load_config` / :func:`parse_config`). The group specs (shape, material,
lighting) live with their groups in :mod:`mrd.groups`. Every error names the file, the field, the
offending value and what would be valid.

Examples
--------
>>> from pathlib import Path
>>> cfg, _ = load_config(Path(__file__).parents[2] / "stimuli" / "sets" / "demo.toml")
>>> sorted({job.group for job in cfg.jobs()})
['material', 'shape']
"""

from mrd.config.setconfig import *  # noqa: F403  (the names of __all__)
from mrd.config.setconfig import __all__ as __all__
