"""RDKit helpers: parsing with logs muted, canonical SMILES, validity with a reason.

Example:
    >>> from molvae.chem import canonical
    >>> canonical("OCC")
    'CCO'
"""

from __future__ import annotations

from typing import Any

from rdkit import Chem, rdBase


def to_mol(smiles: Any) -> Chem.Mol | None:
    """Parse SMILES into an RDKit molecule; ``None`` for anything RDKit rejects (logs muted)."""
    if not isinstance(smiles, str) or not smiles.strip():
        return None
    with rdBase.BlockLogs():
        try:
            return Chem.MolFromSmiles(smiles)
        except Exception:  # RDKit raises on a few pathological inputs instead of returning None
            return None


def canonical(smiles: Any, largest_fragment: bool = False) -> str | None:
    """RDKit canonical SMILES, or ``None`` when RDKit cannot parse the input.

    Args:
        smiles: a SMILES string.
        largest_fragment: keep only the fragment with the most heavy atoms (salts, solvents).
    """
    mol = to_mol(smiles)
    if mol is None:
        return None
    if largest_fragment:
        mol = _largest_fragment(mol)
    with rdBase.BlockLogs():
        return Chem.MolToSmiles(mol)


def _largest_fragment(mol: Chem.Mol) -> Chem.Mol:
    frags = Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=False)
    if len(frags) <= 1:
        return mol
    return max(frags, key=lambda m: m.GetNumHeavyAtoms())


def validity_reason(smiles: Any, allow_fragments: bool = True) -> str | None:
    """Why ``smiles`` is not a valid molecule, or ``None`` when it is.

    Reasons: ``"not a string"``, ``"empty"``, ``"unparseable"`` (syntax or sanitization),
    ``"multiple fragments"`` (only when ``allow_fragments`` is False).
    """
    if not isinstance(smiles, str):
        return "not a string"
    if not smiles.strip():
        return "empty"
    mol = to_mol(smiles)
    if mol is None:
        return "unparseable"
    if not allow_fragments and len(Chem.GetMolFrags(mol)) > 1:
        return "multiple fragments"
    return None
