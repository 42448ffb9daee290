"""What a latent-space search maximises: a property expression (``"qed - 0.1*sa"``, parsed and
never evaluated) or a Python callable ``SMILES -> float``, and property-range constraints."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from molvae.chem import PROPERTIES

# properties that are flags or counts of alerts make poor objectives but are allowed in ranges
NUMERIC = tuple(n for n in PROPERTIES if n not in ("lipinski", "moses_filters"))
_TERM = re.compile(
    r"\s*([+-])?\s*(?:(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)\s*\*?\s*)?([A-Za-z_]\w*)\s*"
)


@dataclass
class Objective:
    """What a search maximises: ``sum(weight * property)`` or a callable ``SMILES -> float``."""

    terms: list[tuple[float, str]] = field(default_factory=list)
    func: Callable[[str], float] | None = None
    label: str = ""

    @property
    def properties(self) -> list[str]:
        return [name for _, name in self.terms]

    def __call__(self, smiles: str, mol: Any) -> tuple[float, dict[str, float]]:
        """The value of one valid molecule and the properties it used; raises on failure."""
        if self.func is not None:
            value = float(self.func(smiles))
            props: dict[str, float] = {}
        else:
            props = {name: float(PROPERTIES[name](mol)) for name in self.properties}
            value = float(sum(w * props[name] for w, name in self.terms))
        if not math.isfinite(value):
            raise ValueError(f"objective returned {value}")
        return value, props


def parse_objective(objective: Any) -> Objective:
    """An :class:`Objective` from a string (``"qed"``, ``"qed - 0.1*sa"``, ``"-sa + 2 logp"``), a
    mapping ``{property: weight}``, a callable ``SMILES -> float`` or an Objective.

    Raises:
        ValueError: an unparsable expression or an unknown property (the message lists the known).
    """
    if isinstance(objective, Objective):
        return objective
    if callable(objective):
        return Objective(func=objective, label=getattr(objective, "__name__", "callable"))
    if isinstance(objective, Mapping):
        terms = [(float(w), str(name)) for name, w in objective.items()]
        label = " + ".join(f"{w:g}*{n}" for w, n in terms)
    elif isinstance(objective, str):
        text, pos, terms = objective.strip(), 0, []
        if not text:
            raise ValueError("empty objective; give a property name such as 'qed'")
        while pos < len(text):
            m = _TERM.match(text, pos)
            if m is None or m.end() == pos or (terms and m.group(1) is None):
                raise ValueError(
                    f"cannot parse objective {objective!r} at position {pos}: expected terms "
                    f"like 'qed', '0.1*sa' joined by + or -\n  {objective}\n  {' ' * pos}^"
                )
            sign = -1.0 if m.group(1) == "-" else 1.0
            terms.append((sign * float(m.group(2) or 1.0), m.group(3)))
            pos = m.end()
        label = objective.strip()
    else:
        raise TypeError(f"objective must be a string, a mapping or a callable, got {objective!r}")
    unknown = [name for _, name in terms if name not in NUMERIC]
    if unknown:
        raise ValueError(f"unknown properties {unknown} in objective; known: {sorted(NUMERIC)}")
    if not all(math.isfinite(w) for w, _ in terms):
        raise ValueError(f"objective weights must be finite numbers, got {objective!r}")
    return Objective(terms=terms, label=label)


def check_ranges(constraints: Mapping[str, Any] | None) -> dict[str, tuple[float, float]]:
    out = {}
    for name, bounds in (constraints or {}).items():
        if name not in PROPERTIES:
            raise ValueError(
                f"unknown property {name!r} in constraints; known: {sorted(PROPERTIES)}"
            )
        lo, hi = bounds
        lo = -math.inf if lo is None else float(lo)
        hi = math.inf if hi is None else float(hi)
        if math.isnan(lo) or math.isnan(hi):
            raise ValueError(f"constraint {name}: bounds must be numbers (or None), got {bounds!r}")
        if lo > hi:
            raise ValueError(f"constraint {name}: lower bound {lo} > upper bound {hi}")
        out[name] = (lo, hi)
    return out
