"""RDKit helpers, one module per concern: :mod:`~molvae.chem.mol` (one molecule: parsing with a
reason, the canonical form every part of molvae uses, fingerprints), :mod:`~molvae.chem.properties`
(descriptors by name), :mod:`~molvae.chem.filters` (alert catalogs, the MOSES filter) and
:mod:`~molvae.chem.batch` (many molecules in worker processes: the one list canonicaliser and
:func:`score`).

Example:
    >>> from molvae.chem import canonical, properties
    >>> canonical("OCC")
    'CCO'
    >>> round(properties("CC(=O)Oc1ccccc1C(=O)O")["qed"], 3)
    0.55
"""

from molvae.chem.batch import (
    PARALLEL_MIN,
    canonical_forms,
    canonical_similarities,
    score,
    standardized_forms,
)
from molvae.chem.filters import (
    MOSES_ALLOWED_ATOMS,
    alerts,
    atom_queries,
    matches_moses_pattern,
    moses_filter_failure,
    moses_pattern_match,
    moses_screen,
    passes_moses_filters,
)
from molvae.chem.mol import (
    MAX_HEAVY_ATOMS,
    MAX_SMILES_CHARS,
    canonical,
    canonical_mol,
    canonical_of,
    canonical_pair,
    fingerprint,
    keep_largest_fragment,
    packed_fingerprints,
    parse,
    smiles_list,
    tanimoto,
    to_mol,
    to_smiles,
    validity_reason,
)
from molvae.chem.properties import (
    DEFAULT_PROPERTIES,
    PLOGP_CYCLE,
    PLOGP_LOGP,
    PLOGP_SA,
    PROPERTIES,
    check_property_names,
    largest_ring_penalty,
    lipinski_pass,
    penalized_logp,
    properties,
    qed,
    sa_score,
    warm_up,
)
from molvae.chem.standardize import CHANGES, standardize_mol, standardized_pair

__all__ = [
    "CHANGES",
    "DEFAULT_PROPERTIES",
    "MAX_HEAVY_ATOMS",
    "MAX_SMILES_CHARS",
    "MOSES_ALLOWED_ATOMS",
    "PARALLEL_MIN",
    "PLOGP_CYCLE",
    "PLOGP_LOGP",
    "PLOGP_SA",
    "PROPERTIES",
    "alerts",
    "atom_queries",
    "canonical",
    "canonical_forms",
    "canonical_mol",
    "canonical_of",
    "canonical_pair",
    "canonical_similarities",
    "check_property_names",
    "fingerprint",
    "keep_largest_fragment",
    "packed_fingerprints",
    "largest_ring_penalty",
    "lipinski_pass",
    "matches_moses_pattern",
    "moses_filter_failure",
    "moses_pattern_match",
    "moses_screen",
    "parse",
    "passes_moses_filters",
    "penalized_logp",
    "properties",
    "qed",
    "sa_score",
    "score",
    "smiles_list",
    "standardize_mol",
    "standardized_forms",
    "standardized_pair",
    "tanimoto",
    "to_mol",
    "to_smiles",
    "validity_reason",
    "warm_up",
]
