"""The ``mrd`` subcommands of the generator package: ``doctor``, ``generate``, ``score``, ``demo``.

Each module adds its subcommands to the parser (:func:`add_commands`) and imports the work inside
its handlers, so ``mrd --help`` stays fast. Library errors name parameters and values; these
modules translate them into flags.
"""
