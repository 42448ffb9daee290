"""The one way arguments of the API are checked: counts (Python or NumPy integers, never bools)
and real numbers in a range (never NaN), each returned as a plain Python value, or a
``ValueError`` naming the argument and the value given."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def check_count(name: str, value: Any, low: int = 1, high: int | None = None) -> int:
    """``value`` as an ``int`` if it is an integer from ``low`` to ``high`` (inclusive)."""
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if not ok or value < low or (high is not None and value > high):
        span = f"from {low:,} to {high:,}" if high is not None else f">= {low:,}"
        raise ValueError(f"{name} must be an integer {span}, got {value!r}")
    return int(value)


def check_number(name: str, value: Any, low: float, high: float, low_open: bool = False) -> float:
    """``value`` as a ``float`` if it is a real number in ``[low, high]`` (``(low, high]`` with
    ``low_open``); NaN never is."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )
    v = float(value) if ok else math.nan
    if not (low < v <= high if low_open else low <= v <= high):
        span = f"{'>' if low_open else '>='} {low:g} and <= {high:g}"
        raise ValueError(f"{name} must be a number {span}, got {value!r}")
    return v
