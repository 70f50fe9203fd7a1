"""The kinds of unit a stimulus set is written in: one table entry per kind.

A *unit* is what :class:`stimuli.StoreWriter` adds in one durable step: a model, a target scene, a
metamer, or a similarity that ``mrd score`` adds to a stored metamer. :data:`KINDS` says, per kind,
where its group goes in the packed file (:func:`place`), in which order kinds are packed (a unit
after the kinds it refers to), and which of its datasets the content digest covers
(:mod:`stimuli.digest`: each such unit carries an ``image_digest``).

Adding a kind (say ``probe``, eigendistortion / MAD probe units shown to observers) takes:

1. an entry here: ``"probe": UnitKind("probe", folder="probes", order=4, images=("display",))``;
2. a pair ``h5io.write_probe(group, rec)`` / ``h5io.read_probe(group)`` (the layout, with checksums:
   end the writer with ``stamp_tree(group)`` as the others do);
3. a method ``StoreWriter.add_probe(rec)`` that checks the record and calls
   ``self.write_unit("probe", rec.probe_id, lambda g: h5io.write_probe(g, rec))``.

The journal, the pack step, the crash guarantees, ``has_unit`` and the content digest then handle
it with no further change; a new store gets an empty ``/probes`` folder, and packing the first probe
into an older store creates it. Readers and the validator learn the new folder where they need it.

Examples
--------
>>> [k.name for k in packing_order()]
['model', 'scene', 'metamer', 'similarity', 'probe']
>>> folders()
('models', 'scenes', 'metamers', 'probes')
>>> KINDS["scene"].images
('display', 'renders')
"""

from __future__ import annotations

from dataclasses import dataclass

import h5py

from stimuli.errors import MRDError


@dataclass(frozen=True)
class UnitKind:
    """One kind of unit.

    Attributes
    ----------
    name : str
        The kind's name (journal file names, the unit file's ``kind`` attribute).
    folder : str or None
        Root group holding units of this kind by id (``None``: the unit goes inside another unit;
        see :func:`place`).
    order : int
        Packing order: smaller first (a metamer after its scene and model, a similarity after its metamer).
    images : tuple of str
        Datasets of the unit that observers see, in the order the unit's ``image_digest`` covers them.
    """

    name: str
    folder: str | None
    order: int
    images: tuple[str, ...] = ()


KINDS: dict[str, UnitKind] = {
    "model": UnitKind("model", "models", 0),
    "scene": UnitKind("scene", "scenes", 1, ("display", "renders")),
    "metamer": UnitKind("metamer", "metamers", 2, ("display", "renders")),
    "similarity": UnitKind("similarity", None, 3),
    "probe": UnitKind("probe", "probes", 4, ("display", "renders")),  # stimuli/probes_io.py (issue 17)
}
"""Every unit kind, by name."""


def kind(name: str) -> UnitKind:
    """The kind called ``name``, or :class:`MRDError` listing the known kinds.

    Examples
    --------
    >>> kind("metamer").folder
    'metamers'
    >>> kind("texture")
    Traceback (most recent call last):
    ...
    stimuli.errors.MRDError: unit kind 'texture' is not known (known: model, scene, metamer, similarity, probe)
    """
    if name not in KINDS:
        raise MRDError(f"unit kind {name!r} is not known (known: {', '.join(KINDS)})")
    return KINDS[name]


def folders() -> tuple[str, ...]:
    """Root folders of the kinds that have one, in packing order."""
    return tuple(k.folder for k in packing_order() if k.folder is not None)


def packing_order() -> list[UnitKind]:
    """All kinds, in the order the pack step adds them."""
    return sorted(KINDS.values(), key=lambda k: k.order)


def image_kinds() -> list[UnitKind]:
    """Kinds with a folder and with datasets the content digest covers."""
    return [k for k in packing_order() if k.folder is not None and k.images]


def place(f: h5py.File, kind_name: str, uid: str, attrs: h5py.AttributeManager,
          create: bool = True) -> tuple[h5py.Group, str, bool]:
    """Where a unit goes in an open store: ``(parent group, name, replace)``.

    ``replace`` tells whether a unit of that name already there is replaced (a similarity under a
    model is re-scored) or kept (an id, once stored, keeps its content: adding it again is a no-op).
    A unit folder missing from the store (a kind newer than the store) is created, or with
    ``create=False`` is an :class:`MRDError`; so is a similarity's missing metamer.

    Examples
    --------
    >>> import io
    >>> with h5py.File(io.BytesIO(), "w") as f:
    ...     parent, name, replace = place(f, "metamer", "m0", f.attrs)
    ...     parent.name, name, replace
    ('/metamers', 'm0', False)
    """
    k = kind(kind_name)
    if k.folder is not None:
        if k.folder not in f and not create:
            raise MRDError(f"{f.filename}: folder '/{k.folder}' is not in the store")
        return f.require_group(k.folder), uid, False
    if k.name == "similarity":
        mid, model_id = str(attrs["metamer_id"]), str(attrs["model_id"])
        try:
            return f["metamers"][mid]["similarity"], model_id, True
        except KeyError:
            raise MRDError(f"{f.filename}: similarity unit {uid!r}: metamer {mid!r} is not in the store") from None
    raise MRDError(f"unit kind {k.name!r} has no folder and no placement rule in stimuli.units.place")
