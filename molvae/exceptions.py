"""Typed errors raised by molvae.

Every error derives from :class:`MolvaeError`, so ``except mv.MolvaeError`` catches all of them.
Single-input calls raise these; batch calls never raise on bad chemistry (they report rows instead).
"""

from __future__ import annotations


class MolvaeError(Exception):
    """Base class of every error molvae raises on purpose."""


class TokenizerError(MolvaeError, ValueError):
    """A string cannot be tokenized or encoded.

    Attributes:
        input: the offending string (or ``None``).
        position: character offset of the offending token in ``input`` (or ``None``).
    """

    def __init__(self, message: str, input: str | None = None, position: int | None = None):
        self.input = input
        self.position = position
        if input is not None and position is not None and len(input) <= 200:
            message = f"{message}\n  {input}\n  {' ' * position}^"
        elif input is not None:  # no position to point at: quote the input itself
            message = f"{message}: {input[:200]!r}"
        super().__init__(message)


class DataError(MolvaeError, ValueError):
    """A data file or column cannot be read as SMILES."""


class ConfigError(MolvaeError, ValueError):
    """A configuration has an unknown key, a wrong type or an invalid value."""


class CheckpointError(MolvaeError):
    """A checkpoint file is missing, damaged, tampered with, or of an unknown format."""


class TrainingError(MolvaeError):
    """Training cannot go on (e.g. the loss became NaN); the message names the step."""


class SamplingError(MolvaeError):
    """Sampling cannot give what was asked (e.g. ``valid_only=True`` on a model that yields
    almost no valid molecules); ``samples`` holds what was kept before it stopped.

    Attributes:
        samples: the molecules kept so far (a DataFrame) or None.
        draws: how many molecules were decoded.
    """

    def __init__(self, message: str, samples=None, draws: int = 0):
        self.samples = samples
        self.draws = draws
        super().__init__(message)
