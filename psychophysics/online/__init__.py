"""The oddity experiment online: a jsPsych bundle, a collection server, and imports.

Modules: :mod:`~psychophysics.online.bundle` (``mrd export-online``: a self-contained static
bundle), :mod:`~psychophysics.online.records` (checking what a browser sends against the plan),
:mod:`~psychophysics.online.store` (writing it into the session-data contract),
:mod:`~psychophysics.online.server` (``mrd serve-online``), :mod:`~psychophysics.online.importer`
(``mrd import-online``), :mod:`~psychophysics.online.cdp` and :mod:`~psychophysics.online.participant`
(a headless Chromium driven by simulated observers through real key events),
:mod:`~psychophysics.online.simulate` (``mrd simulate-online``),
:mod:`~psychophysics.online.keys` and :mod:`~psychophysics.online.commands`. The task itself
(HTML, JavaScript, CSS) is in ``static/``; jsPsych comes from the npm registry (``package.json``).
"""
