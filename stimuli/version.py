"""The suite's version, as installed.

Examples
--------
>>> isinstance(suite_version(), str)
True
"""

from __future__ import annotations

from importlib import metadata


def suite_version() -> str:
    """Version of the installed ``mrd-suite`` distribution (``"0+unknown"`` if not installed)."""
    try:
        return metadata.version("mrd-suite")
    except metadata.PackageNotFoundError:
        return "0+unknown"
