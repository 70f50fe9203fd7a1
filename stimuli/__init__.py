"""The stimulus-set contract: one HDF5 file per set, with a crash-safe writer and a reader.

Depends on none of the suite's other packages. See ``docs/schema.md`` for the layout.

Examples
--------
>>> import tempfile, os
>>> from stimuli import StoreWriter, StimulusSet, validate_store
>>> path = os.path.join(tempfile.mkdtemp(), "set.h5")
>>> StoreWriter(path, config_text="x = 1").close()
>>> validate_store(path)
[]
"""

from stimuli.errors import MRDError
from stimuli.reader import StimulusSet
from stimuli.schema import GROUPS, SCHEMA_VERSION
from stimuli.validate import validate_store
from stimuli.writer import StoreWriter

__all__ = ["GROUPS", "MRDError", "SCHEMA_VERSION", "StimulusSet", "StoreWriter", "validate_store"]
