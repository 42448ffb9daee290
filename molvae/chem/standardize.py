"""Inputs made like the training data: the largest fragment, charges neutralised where RDKit can,
stereochemistry removed for a model whose vocabulary has none (the MOSES models were trained on
molecules prepared that way). Each result says what changed, so nothing is altered silently.

Example:
    >>> from molvae.chem import standardized_pair
    >>> standardized_pair("C[C@H](N)C(=O)[O-].[Na+]", keep_stereo=False)
    ('CC(N)C(=O)O', None, 'fragment,charge,stereo')
"""

from __future__ import annotations

import functools
from typing import Any

from rdkit import Chem, rdBase

from molvae.chem.mol import canonical_of, keep_largest_fragment, parse

CHANGES = ("fragment", "charge", "stereo")  # what standardisation may change, in order


@functools.cache
def _uncharger() -> Any:
    from rdkit.Chem.MolStandardize import rdMolStandardize

    return rdMolStandardize.Uncharger()


def _has_stereo(mol: Chem.Mol) -> bool:
    if any(a.GetChiralTag() != Chem.ChiralType.CHI_UNSPECIFIED for a in mol.GetAtoms()):
        return True
    return any(b.GetStereo() != Chem.BondStereo.STEREONONE for b in mol.GetBonds())


def standardize_mol(mol: Chem.Mol, keep_stereo: bool = True) -> tuple[Chem.Mol, list[str]]:
    """``(standardised mol, what changed)``; the input mol is never modified."""
    changes: list[str] = []
    if len(Chem.GetMolFrags(mol)) > 1:
        mol = keep_largest_fragment(mol)
        changes.append("fragment")
    if any(a.GetFormalCharge() for a in mol.GetAtoms()):
        with rdBase.BlockLogs():
            neutral = _uncharger().uncharge(mol)
        if Chem.MolToSmiles(neutral) != Chem.MolToSmiles(mol):
            mol = neutral
            changes.append("charge")
    if not keep_stereo and _has_stereo(mol):
        mol = Chem.Mol(mol)
        Chem.RemoveStereochemistry(mol)
        changes.append("stereo")
    return mol, changes


def standardized_pair(
    value: Any, keep_stereo: bool = True
) -> tuple[str | None, str | None, str | None]:
    """``(canonical SMILES of the standardised molecule, None, what changed or None)``, or
    ``(None, reason, None)`` for an input that is not a valid molecule."""
    mol, reason = parse(value)
    if mol is None:
        return None, reason, None
    mol, changes = standardize_mol(mol, keep_stereo)
    smiles, reason = canonical_of(mol)
    if smiles is None:
        return None, reason, None
    return smiles, None, ",".join(changes) or None
