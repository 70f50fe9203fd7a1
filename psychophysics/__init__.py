"""Psychophysics: the oddity experiment on a stimulus set.

Modules: :mod:`~psychophysics.config` (experiment config), :mod:`~psychophysics.design` (trial design,
pure Python), :mod:`~psychophysics.datafile` (session files, the data contract),
:mod:`~psychophysics.observers` (simulated observers), :mod:`~psychophysics.images` (which images a
trial shows), :mod:`~psychophysics.session` (the PsychoPy session), :mod:`~psychophysics.simulate`
(window-less simulated participants) and :mod:`~psychophysics.commands` (``mrd experiment``,
``mrd simulate``). Importing this package imports neither PsychoPy nor torch.
"""
