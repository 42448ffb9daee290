"""One molecule: parsing with logs muted, the reason an input is not a molecule, canonical SMILES
(with the read-back check every part of molvae applies), fragments and fingerprints.

Example:
    >>> from molvae.chem import canonical
    >>> canonical("OCC")
    'CCO'
"""

from __future__ import annotations

from typing import Any

from rdkit import Chem, rdBase

from molvae import reasons

# A molecule larger than this (heavy atoms), or a SMILES longer than MAX_SMILES_CHARS, is reported
# as "too_large" instead of being scored: ring perception and SA scoring of huge inputs can take
# seconds each, and generated sets are drug-sized.
MAX_HEAVY_ATOMS = 500
MAX_SMILES_CHARS = 5000


def smiles_list(values: Any) -> list[Any]:
    """A batch input as a list: one string is one molecule (never split into its characters);
    a DataFrame gives its ``smiles`` column (never its column names); a Series, array or any
    iterable gives its items.

    Raises:
        ValueError: a DataFrame without a ``smiles`` column.
    """
    if isinstance(values, str):
        return [values]
    if hasattr(values, "columns"):  # a DataFrame: iterating it would give the column names
        if "smiles" not in values.columns:
            raise ValueError(
                f"a DataFrame input needs a 'smiles' column; columns present: {list(values.columns)}"
            )
        return list(values["smiles"].tolist())
    if hasattr(values, "tolist"):
        return list(values.tolist())
    return list(values)


def to_mol(smiles: Any) -> Chem.Mol | None:
    """Parse SMILES into an RDKit molecule; ``None`` for anything RDKit rejects (logs muted).

    Strings over ``MAX_SMILES_CHARS`` characters are refused unparsed: RDKit writes very long
    chains recursively and crashes the process (a 50,000-atom chain segfaults ``MolToSmiles``).
    """
    if not isinstance(smiles, str) or not smiles.strip() or len(smiles) > MAX_SMILES_CHARS:
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
        mol = keep_largest_fragment(mol)
    return to_smiles(mol)


def to_smiles(mol: Chem.Mol) -> str:
    """RDKit canonical SMILES of a molecule (what :func:`canonical` gives for its SMILES)."""
    with rdBase.BlockLogs():
        return Chem.MolToSmiles(mol)


def keep_largest_fragment(mol: Chem.Mol) -> Chem.Mol:
    """The fragment with the most heavy atoms (the molecule itself when it has one fragment)."""
    frags = Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=False)
    if len(frags) <= 1:
        return mol
    return max(frags, key=lambda m: m.GetNumHeavyAtoms())


def validity_reason(smiles: Any, allow_fragments: bool = True) -> str | None:
    """Why ``smiles`` is not a valid molecule, or ``None`` when it is.

    Reasons (``molvae.reasons``): ``not_a_string``, ``empty``, ``too_large`` (over
    ``MAX_SMILES_CHARS`` characters or ``MAX_HEAVY_ATOMS`` heavy atoms), ``unparseable`` (syntax or
    sanitization), ``multiple_fragments`` (only when ``allow_fragments`` is False).
    """
    return parse(smiles, allow_fragments)[1]


def parse(smiles: Any, allow_fragments: bool = True) -> tuple[Chem.Mol | None, str | None]:
    """``(mol, None)`` for a valid molecule, else ``(None, reason)`` (see :func:`validity_reason`)."""
    if not isinstance(smiles, str):
        return None, reasons.NOT_A_STRING
    if not smiles.strip():
        return None, reasons.EMPTY
    if len(smiles) > MAX_SMILES_CHARS:
        return None, reasons.TOO_LARGE
    mol = to_mol(smiles)
    if mol is None:
        return None, reasons.UNPARSEABLE
    if not allow_fragments and len(Chem.GetMolFrags(mol)) > 1:
        return None, reasons.MULTIPLE_FRAGMENTS
    if mol.GetNumHeavyAtoms() > MAX_HEAVY_ATOMS:
        return None, reasons.TOO_LARGE
    return mol, None


def canonical_mol(
    value: Any, largest_fragment: bool = False
) -> tuple[Chem.Mol | None, str | None, str | None]:
    """``(mol, canonical SMILES, None)`` of one input (of its largest fragment with
    ``largest_fragment``), or ``(None, None, reason)`` when it is not a usable molecule.

    The one rule for "valid" in molvae (sampling, reconstruction, data preparation, scoring and
    the MOSES metrics): RDKit parses the input *and* reads its canonical SMILES back. A molecule
    whose canonical SMILES RDKit cannot read again (about 1 in 10,000 samples of a weak model)
    is ``unparseable``: everything downstream works from the canonical SMILES.
    """
    mol, reason = parse(value)
    if mol is None:
        return None, None, reason
    if largest_fragment:
        mol = keep_largest_fragment(mol)
    smiles, reason = canonical_of(mol)
    return (mol, smiles, None) if smiles is not None else (None, None, reason)


def canonical_of(mol: Chem.Mol) -> tuple[str | None, str | None]:
    """``(canonical SMILES, None)`` of a parsed molecule, or ``(None, "unparseable")`` when RDKit
    cannot read its canonical SMILES back: the read-back rule of :func:`canonical_mol`."""
    smiles = to_smiles(mol)
    if to_mol(smiles) is None:
        return None, reasons.UNPARSEABLE
    return smiles, None


def canonical_pair(value: Any, largest_fragment: bool = False) -> tuple[str | None, str | None]:
    """``(canonical SMILES, None)`` or ``(None, reason)``: :func:`canonical_mol` without the mol."""
    _, smiles, reason = canonical_mol(value, largest_fragment)
    return smiles, reason


def fingerprint(smiles_or_mol: Any, radius: int = 2, n_bits: int = 2048) -> Any:
    """Morgan bit vector (RDKit ``ExplicitBitVect``), or ``None`` for an invalid molecule."""
    from rdkit.Chem import rdFingerprintGenerator

    mol = smiles_or_mol if isinstance(smiles_or_mol, Chem.Mol) else to_mol(smiles_or_mol)
    if mol is None:
        return None
    return rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits).GetFingerprint(
        mol
    )


def tanimoto(a: Any, b: Any) -> float:
    """Tanimoto similarity of two molecules (SMILES or fingerprints; Morgan r=2, 2048 bits);
    NaN when either is invalid."""
    from rdkit import DataStructs

    fa = fingerprint(a) if isinstance(a, (str, Chem.Mol)) else a
    fb = fingerprint(b) if isinstance(b, (str, Chem.Mol)) else b
    if not isinstance(fa, DataStructs.ExplicitBitVect) or not isinstance(
        fb, DataStructs.ExplicitBitVect
    ):
        return float("nan")
    return float(DataStructs.TanimotoSimilarity(fa, fb))


def packed_fingerprints(values: Any, radius: int = 2, n_bits: int = 1024) -> tuple[Any, Any]:
    """Morgan bits of many molecules packed 8 per byte, as the similarity metrics take them:
    ``(fps (N, n_bits // 8) uint8, ok (N,) bool)``; rows that cannot be parsed are zero and not
    ``ok``. The defaults are MOSES's (radius 2, 1024 bits)."""
    import numpy as np
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    items = smiles_list(values)
    fps = np.zeros((len(items), n_bits // 8), dtype=np.uint8)
    ok = np.zeros(len(items), dtype=bool)
    with rdBase.BlockLogs():
        for k, v in enumerate(items):
            mol = v if isinstance(v, Chem.Mol) else to_mol(v)
            if mol is not None:
                fps[k] = np.packbits(gen.GetFingerprintAsNumPy(mol).astype(np.uint8))
                ok[k] = True
    return fps, ok
