"""Molecular properties: RDKit descriptors, QED (faster, same values), SA score, penalized logP,
Lipinski, alert counts and the MOSES filters, by name in :data:`PROPERTIES`.

Example:
    >>> from molvae.chem import properties
    >>> round(properties("CC(=O)Oc1ccccc1C(=O)O")["qed"], 3)
    0.55
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any

from rdkit import Chem, rdBase
from rdkit.Chem import (
    QED,
    Crippen,
    Descriptors,
    Lipinski,
    MolSurf,
    RDConfig,
    rdMolDescriptors,
)

from molvae.chem.filters import alerts, atom_queries, moses_screen, passes_moses_filters
from molvae.chem.mol import parse

# Penalized logP standardisation constants: mean/std of logP, -SA and the large-ring penalty over
# ZINC-250k, as used by the Grammar VAE (Kusner et al. 2017) and JT-VAE (Jin et al. 2018,
# wengong-jin/icml18-jtnn, bo/gen_latent.py).
PLOGP_LOGP = (2.4570953396190123, 1.434324401111988)
PLOGP_SA = (-3.0525811293166134, 0.8335207024513095)
PLOGP_CYCLE = (-0.0485696876403053, 0.2860212110245455)


@functools.lru_cache(maxsize=1)
def _sascorer() -> Any:
    path = os.path.join(RDConfig.RDContribDir, "SA_Score")
    if path not in sys.path:
        sys.path.append(path)
    import sascorer  # RDKit Contrib: Ertl & Schuffenhauer, J. Cheminf. 2009

    return sascorer


def sa_score(mol: Chem.Mol) -> float:
    """Synthetic accessibility, 1 (easy) .. 10 (hard): RDKit Contrib's SA_Score."""
    return float(_sascorer().calculateScore(mol))


def warm_up() -> None:
    """Load the SA fragment table and compile the SMARTS screens once, in this process, so that
    forked workers inherit them instead of each paying ~0.5 s."""
    sascorer = _sascorer()
    if getattr(sascorer, "_fscores", None) is None:
        sascorer.readFragmentScores()
    moses_screen()
    _qed_alerts()
    atom_queries()


@functools.cache
def _qed_alerts() -> Any:
    """QED's 116 structural alerts as one RDKit ``FilterCatalog``: one C++ call counts the matching
    alerts (each alert is a ``SmartsMatcher`` with minimum count 1, i.e. ``HasSubstructMatch``)."""
    from rdkit.Chem import FilterCatalog

    catalog = FilterCatalog.FilterCatalog()
    for i, alert in enumerate(QED.StructuralAlerts):
        catalog.AddEntry(
            FilterCatalog.FilterCatalogEntry(str(i), FilterCatalog.SmartsMatcher(str(i), alert, 1))
        )
    return catalog


def qed(mol: Chem.Mol, logp: float | None = None) -> float:
    """QED (Bickerton et al. 2012): the value of RDKit's ``QED.qed``, computed faster (the
    structural alerts counted in one C++ call; logP can be passed in when already computed).
    The tests compare it with ``QED.qed`` over thousands of molecules."""
    if mol.GetNumAtoms() != mol.GetNumHeavyAtoms():  # explicit hydrogens: as RDKit, strip them
        mol, logp = Chem.RemoveHs(mol), None
    props = QED.QEDproperties(
        MW=rdMolDescriptors._CalcMolWt(mol),
        ALOGP=Crippen.MolLogP(mol) if logp is None else logp,
        HBA=sum(len(mol.GetSubstructMatches(p)) for p in QED.Acceptors),
        HBD=rdMolDescriptors.CalcNumHBD(mol),
        PSA=MolSurf.TPSA(mol),
        ROTB=rdMolDescriptors.CalcNumRotatableBonds(
            mol, rdMolDescriptors.NumRotatableBondsOptions.Strict
        ),
        AROM=len(Chem.GetSSSR(Chem.DeleteSubstructs(Chem.Mol(mol), QED.AliphaticRings))),
        ALERTS=len(_qed_alerts().GetMatches(mol)),
    )
    return QED.qed(mol, qedProperties=props)


def largest_ring_penalty(mol: Chem.Mol) -> int:
    """``max(0, largest ring size - 6)``."""
    rings = mol.GetRingInfo().AtomRings()
    return max(0, max((len(r) for r in rings), default=0) - 6)


def penalized_logp(mol: Chem.Mol) -> float:
    """Standardised logP - SA - large-ring penalty (Kusner et al. 2017; Jin et al. 2018)."""
    logp = Crippen.MolLogP(mol)
    sa = -sa_score(mol)
    cycle = -largest_ring_penalty(mol)
    return (
        (logp - PLOGP_LOGP[0]) / PLOGP_LOGP[1]
        + (sa - PLOGP_SA[0]) / PLOGP_SA[1]
        + (cycle - PLOGP_CYCLE[0]) / PLOGP_CYCLE[1]
    )


def lipinski_pass(mol: Chem.Mol) -> bool:
    """Lipinski's rule of five with at most one violation (MW <= 500, logP <= 5, HBD <= 5, HBA <= 10)."""
    violations = sum(
        (
            Descriptors.MolWt(mol) > 500,
            Crippen.MolLogP(mol) > 5,
            Lipinski.NumHDonors(mol) > 5,
            Lipinski.NumHAcceptors(mol) > 10,
        )
    )
    return violations <= 1


PROPERTIES: dict[str, Callable[[Chem.Mol], Any]] = {
    "mw": Descriptors.MolWt,
    "logp": Crippen.MolLogP,
    "qed": qed,
    "sa": sa_score,
    "tpsa": rdMolDescriptors.CalcTPSA,
    "hbd": Lipinski.NumHDonors,
    "hba": Lipinski.NumHAcceptors,
    "rotatable_bonds": rdMolDescriptors.CalcNumRotatableBonds,
    "rings": rdMolDescriptors.CalcNumRings,
    "aromatic_rings": rdMolDescriptors.CalcNumAromaticRings,
    "heavy_atoms": lambda m: m.GetNumHeavyAtoms(),
    "penalized_logp": penalized_logp,
    "lipinski": lipinski_pass,
    "pains": lambda m: len(alerts(m, "PAINS")),
    "brenk": lambda m: len(alerts(m, "BRENK")),
    "moses_filters": passes_moses_filters,
}
DEFAULT_PROPERTIES = (
    "mw",
    "logp",
    "qed",
    "sa",
    "tpsa",
    "hbd",
    "hba",
    "rotatable_bonds",
    "rings",
    "aromatic_rings",
)


def properties(
    smiles: str, names: tuple[str, ...] | list[str] = DEFAULT_PROPERTIES
) -> dict[str, Any]:
    """Properties of one molecule.

    Raises:
        ValueError: invalid SMILES (the message quotes it and gives the reason) or unknown property.
    """
    check_property_names(names)
    mol, reason = parse(smiles)
    if mol is None:
        raise ValueError(f"cannot score {smiles!r}: {reason}")
    with rdBase.BlockLogs():
        return {n: PROPERTIES[n](mol) for n in names}


def check_property_names(names: Any) -> None:
    """Refuse unknown names and names given twice (one column per property)."""
    unknown = [n for n in names if n not in PROPERTIES]
    if unknown:
        raise ValueError(f"unknown properties {unknown}; known: {sorted(PROPERTIES)}")
    repeated = sorted({n for n in names if list(names).count(n) > 1})
    if repeated:
        raise ValueError(f"properties named more than once: {repeated}")
