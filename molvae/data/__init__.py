"""From SMILES files to token arrays: read (``io``), clean and tokenize with a report
(``prepare``), cache (``cache``) and batch (``batching``).

Nothing is dropped silently: :func:`prepare` counts every row it leaves out, by reason, logs the
report and returns it.

Example:
    >>> import molvae as mv
    >>> data = mv.prepare(["CCO", "OCC", "not a smiles", None], "smiles")
    >>> data.smiles, data.report.dropped
    (['CCO'], {'not_a_string': 1, 'unparseable': 1, 'duplicate': 1})
"""

from molvae.data.batching import batch_indices, pad_batch, padding_fraction
from molvae.data.cache import cache_dir, load_prepared, prepare_file, save_prepared
from molvae.data.io import choose_column, file_sha256, read_raw, read_samples, read_smiles
from molvae.data.prepare import (
    DEFAULT_MAX_LEN,
    REASONS,
    PreparedData,
    PrepareOptions,
    PrepareReport,
    prepare,
)
from molvae.data.training import training_data

__all__ = [
    "DEFAULT_MAX_LEN",
    "REASONS",
    "PrepareOptions",
    "PrepareReport",
    "PreparedData",
    "batch_indices",
    "cache_dir",
    "choose_column",
    "file_sha256",
    "load_prepared",
    "pad_batch",
    "padding_fraction",
    "prepare",
    "prepare_file",
    "training_data",
    "read_raw",
    "read_samples",
    "read_smiles",
    "save_prepared",
]
