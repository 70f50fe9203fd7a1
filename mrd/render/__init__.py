"""Rendering: the Mitsuba variant (:mod:`~mrd.render.variant`), meshes, the scene dictionary
(:mod:`~mrd.render.scene`), the renderer (:mod:`~mrd.render.renderer`), tone mapping and colour.

Nothing here knows about parameter groups: groups write their values through
:meth:`mrd.render.renderer.Renderer.write` under the keys of the scene built in :mod:`~mrd.render.scene`.
"""
