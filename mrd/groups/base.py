"""What a parameter group is: the :class:`ParameterGroup` interface and its latent parametrisation.

A *parameter group* (shape, material, lighting, or one a researcher adds) is one module that owns,
for its part of the scene:

* its **values** in a target scene (:meth:`ParameterGroup.target_values`, from the scene spec);
* its **prior** (:meth:`ParameterGroup.draw`): metamer starts and null draws come from here;
* its **start** (:meth:`ParameterGroup.start_values`): explicit, from the config, or a prior draw;
* its **parametrisation** for gradient descent (:meth:`ParameterGroup.parametrise` returns a
  :class:`GroupParam`: latent Dr.Jit variables that Adam updates, with a hook after every step,
  e.g. shape remeshing);
* its **Mitsuba keys** (:meth:`ParameterGroup.write`: exact numpy values into a renderer);
* its **physical distances** (:meth:`ParameterGroup.distance`);
* its **settings** read from the config (:meth:`ParameterGroup.learning_rate`, ``options``).

Groups are registered by name (:func:`mrd.groups.register_group`); the generic synthesis code
(:mod:`mrd.synthesis`) only talks to this interface. See ``docs/groups.md`` for the recipe.

Examples
--------
>>> GroupParam.uniform, GroupParam.integrator
(False, 'prb')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

Values = dict[str, np.ndarray]
"""One group's values ``{name: array}``."""
Params = dict[str, Values]
"""A scene's values of every group ``{group: {name: array}}`` (:data:`stimuli.records.Params`)."""

_EPS = 1e-4


def logit(p: np.ndarray) -> np.ndarray:
    """Inverse logistic, clipped away from 0 and 1 (float32).

    Examples
    --------
    >>> float(logit(np.array(0.5)))
    0.0
    """
    p = np.clip(np.asarray(p, np.float64), _EPS, 1.0 - _EPS)
    return np.log(p / (1.0 - p)).astype(np.float32)


def as_numpy(value: Any, like: np.ndarray) -> np.ndarray:
    """A Dr.Jit value as float32 numpy shaped like ``like``."""
    return np.asarray(value, np.float32).reshape(np.shape(like))


def override_values(explicit: Mapping[str, Any], drawn: Values, skip: tuple[str, ...] = ()) -> Values:
    """``drawn`` with the values an explicit start names (broadcast to their shapes), except ``skip``.

    Examples
    --------
    >>> override_values({"a": 2.0}, {"a": np.zeros(3, np.float32), "b": np.ones(1)})["a"].tolist()
    [2.0, 2.0, 2.0]
    """
    for name, value in explicit.items():
        if name not in skip and name in drawn:
            v = np.asarray(value, np.float32)
            drawn[name] = np.broadcast_to(v, drawn[name].shape).astype(np.float32).copy()
    return drawn


def copy_values(values: Mapping[str, np.ndarray]) -> Values:
    """A copy of one group's values (arrays copied)."""
    return {k: np.array(v, copy=True) for k, v in values.items()}


class GroupParam:
    """A parametrisation of one group for gradient descent, built from the group's start values.

    Attributes
    ----------
    name : str
        The group's name.
    uniform : bool
        Whether Adam should use a uniform (scalar) second-moment estimate (LargeSteps does).
    integrator : str
        Renderer integrator for gradients (``"prb"`` or ``"projective"``).
    """

    name = ""
    uniform = False
    integrator = "prb"

    def init(self) -> dict[str, Any]:
        """Initial latent variables (Dr.Jit arrays), keyed by name."""
        raise NotImplementedError

    def apply(self, latents: Mapping[str, Any], renderer: Any) -> None:
        """Write the physical values of ``latents`` into ``renderer`` (differentiably; no update)."""
        raise NotImplementedError

    def values(self, latents: Mapping[str, Any]) -> Values:
        """Physical values (numpy) of every value in the group, varied or not."""
        raise NotImplementedError

    def after_step(self, step: int, latents: Mapping[str, Any], renderer: Any) -> dict[str, Any] | None:
        """Hook after optimiser step ``step`` (0-based): new latents to restart Adam on, or None."""
        return None

    def info(self) -> dict[str, Any]:
        """Settings and counters recorded with the metamer (e.g. remeshes)."""
        return {}


class ParameterGroup:
    """Interface of a parameter group (see the module docstring); subclass and register it.

    Attributes
    ----------
    name : str
        Group name used in configs (``groups = ["..."]``) and stores.
    """

    name = ""

    # -- values ------------------------------------------------------------------------------
    def target_values(self, scene: Any, resolve: Callable[[str], Path] = Path) -> Values:
        """This group's values in the target scene a :class:`mrd.config.SceneSpec` describes."""
        raise NotImplementedError

    def draw(self, cfg: Any, target: Values, rng: np.random.Generator) -> Values:
        """One draw from the prior (values not varied keep the target's)."""
        raise NotImplementedError

    def start_values(
        self, cfg: Any, target: Values, rng: np.random.Generator, explicit: Any = None,
        resolve: Callable[[str], Path] = Path,
    ) -> Values:  # fmt: skip
        """A metamer's start: the explicit start where given (config ``[metamers.start.<group>]``),
        else a prior draw. The draw is always made, so the random stream does not depend on it."""
        drawn = self.draw(cfg, target, rng)
        return drawn if explicit is None else self.explicit_start(explicit, drawn, resolve, cfg=cfg, rng=rng)

    def explicit_start(
        self, explicit: Any, drawn: Values, resolve: Callable[[str], Path] = Path, *, cfg: Any = None,
        rng: np.random.Generator | None = None,
    ) -> Values:  # fmt: skip
        """Start values from an explicit config entry (default: refuse); ``rng`` continues the start's stream."""
        raise ValueError(f"group {self.name!r} takes no explicit start")

    # -- optimisation ------------------------------------------------------------------------
    def parametrise(self, start: Values, cfg: Any, target: Params) -> GroupParam:
        """The latent parametrisation starting at ``start`` (``target``: every group's target values)."""
        raise NotImplementedError

    def learning_rate(self, cfg: Any) -> float:
        """Adam learning rate from the config (``[optimize.lr] <name>`` by default)."""
        return float(getattr(cfg.optimize.lr, self.name))

    settings_model: Any = None
    """A pydantic model of this group's ``[groups.<name>]`` config table (None: the group takes none)."""

    def check_options(self, options: Mapping[str, Any]) -> None:
        """Validate a ``[groups.<name>]`` table; raise ``ValueError`` naming what is wrong."""
        if self.settings_model is None:
            if options:
                raise ValueError(f"groups.{self.name}: this group takes no settings here, got {sorted(options)}")
            return
        from pydantic import ValidationError

        try:
            self.settings_model(**options)
        except ValidationError as exc:
            raise ValueError(f"groups.{self.name}: {exc.errors()[0]['msg']} ({exc.errors()[0]['loc']})") from None

    def options(self, cfg: Any) -> Any:
        """This group's settings of a config (``[groups.<name>]``), as its :attr:`settings_model`."""
        raw = dict(getattr(cfg, "groups", {}).get(self.name, {}))
        return raw if self.settings_model is None else self.settings_model(**raw)

    # -- the renderer ------------------------------------------------------------------------
    def write(self, renderer: Any, values: Mapping[str, np.ndarray]) -> None:
        """Write exact numpy values into ``renderer`` (:meth:`mrd.render.renderer.Renderer.write`)."""
        raise NotImplementedError

    # -- measures ----------------------------------------------------------------------------
    def distance(self, target: Mapping[str, np.ndarray], other: Mapping[str, np.ndarray]) -> dict[str, float]:
        """Physical distances between two value sets of this group."""
        raise NotImplementedError

    def check_config(self, cfg: Any) -> None:
        """Raise ``ValueError`` for settings of this group that cannot work (default: none)."""
