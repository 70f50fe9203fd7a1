"""The one exception type users see.

Examples
--------
>>> try:
...     raise MRDError("demo.toml: field 'render.spp' = -1; expected a positive integer")
... except MRDError as e:
...     print(e)
demo.toml: field 'render.spp' = -1; expected a positive integer
"""


class MRDError(Exception):
    """An error caused by user input (a file, a field, a value), with what would be valid.

    The command line prints the message without a traceback and exits with status 2.
    """
