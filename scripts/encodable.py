"""How many outside molecules a model can encode, as given and standardised like its training
data (largest fragment, neutral charges, stereo removed for a stereo-free vocabulary).

    python scripts/encodable.py --model moses-smiles

The sets ship with RDKit: the first 1,000 NCI screening compounds (``Data/NCI/first_5K.smi``) and
365 EGFR kinase ligands (``Contrib/PBF/testData/egfr.sdf``); ``--file`` adds any SMILES file.
Prints, per set: molecules, encodable as given, encodable standardised, and what standardising
changed, and why the rest still cannot be encoded.
"""

from __future__ import annotations

import argparse
import os
from collections import Counter

from rdkit import Chem, RDConfig

import molvae as mv


def rdkit_sets() -> dict[str, list[str]]:
    out = {}
    nci = os.path.join(RDConfig.RDDataDir, "NCI", "first_5K.smi")
    if os.path.exists(nci):
        with open(nci) as f:
            out["NCI screening (first 1,000)"] = [line.split()[0] for line in f if line.strip()][
                :1000
            ]
    egfr = os.path.join(RDConfig.RDContribDir, "PBF", "testData", "egfr.sdf")
    if os.path.exists(egfr):
        mols = [m for m in Chem.SDMolSupplier(egfr) if m is not None]
        out["EGFR kinase ligands"] = [Chem.MolToSmiles(m) for m in mols]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="moses-smiles")
    ap.add_argument("--file", action="append", default=[], help="more SMILES files")
    args = ap.parse_args()
    sets = rdkit_sets()
    for path in args.file:
        sets[os.path.basename(path)] = mv.read_smiles(path).tolist()
    gen = mv.load(args.model, device="cpu")
    print("| set | molecules | encodable as given | standardised | changed | still not encodable |")
    print("|---|---|---|---|---|---|")
    for name, smiles in sets.items():
        gen.standardize = False
        _, strict = gen.encode(smiles, details=True)
        gen.standardize = True
        _, std = gen.encode(smiles, details=True)
        changed = Counter(c for x in std.standardized.dropna() for c in x.split(","))
        left = Counter(std.reason.dropna())
        n = len(smiles)
        print(f"| {name} | {n:,} | {strict.reason.isna().mean():.1%} | {std.reason.isna().mean():.1%} "
              f"| {dict(changed)} | {dict(left)} |")  # fmt: skip


if __name__ == "__main__":
    main()
