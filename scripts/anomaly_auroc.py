"""How well anomaly scores separate held-out MOSES test molecules ("in") from outside sets that
ship with RDKit (no download), each set reported separately, beside the nearest-neighbour
Tanimoto baseline (max similarity to 100,000 MOSES training molecules).

    python scripts/anomaly_auroc.py moses-smiles --n-in 1000 --calibrate 2000 --out docs/anomaly

Outside sets (RDKit's Data and Contrib folders):
- nci-small: NCI compounds (Data/NCI/first_5K.smi) of at most 12 heavy atoms: small, simple
- nci-alerts: NCI compounds of MOSES's size (13-27 heavy atoms) that fail the MOSES filters
- chembl-large: ChEMBL actives (Contrib/fraggle, Contrib/FreeWilson) of molecular weight > 400,
  beyond MOSES's 250-350
- egfr-stereo-charged: ZINC compounds (Contrib/PBF/testData/egfr.sdf) with stereo centres or
  charges MOSES lacks (the model reads them standardised: largest fragment, neutral, no stereo)
- nci-elements: NCI compounds with an element outside MOSES's (C N S O F Cl Br H)

Prints a markdown table of AUROC per set and score (unreadable molecules count as most unusual),
and each set's share flagged as outliers by the model's stored threshold (``--calibrate N``: by
one calibrated here on N other test molecules). Writes ``--out``.csv (per-molecule scores) when given.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pandas as pd
from rdkit import Chem, RDConfig, rdBase
from rdkit.Chem import Descriptors
from recipe_sweep import markdown  # scripts/ is on the path when run as a script

import molvae as mv
from molvae.anomaly import (
    SCORES,
    anomaly_parts,
    calibrate_anomaly,
    calibration,
    nearest_similarity,
)
from molvae.chem import passes_moses_filters

MOSES_ELEMENTS = {"C", "N", "S", "O", "F", "Cl", "Br", "H"}


def auroc(inside: np.ndarray, outside: np.ndarray) -> float:
    """P(outside scores above inside), ties counted half (the Mann-Whitney statistic)."""
    scores = np.concatenate([inside, outside])
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    r_out = ranks[len(inside) :].sum()
    n_in, n_out = len(inside), len(outside)
    return float((r_out - n_out * (n_out + 1) / 2) / (n_in * n_out))


def _smi(path: str) -> list[str]:
    return [line.split()[0] for line in open(path) if line.strip()]


def outside_sets() -> dict[str, list[str]]:
    nci = _smi(os.path.join(RDConfig.RDDataDir, "NCI", "first_5K.smi"))
    chembl = _smi(
        os.path.join(RDConfig.RDContribDir, "fraggle", "data", "ChEMBL_11265_actives.smi")
    )
    chembl += _smi(os.path.join(RDConfig.RDContribDir, "FreeWilson", "data", "CHEMBL2321810.smi"))
    egfr = [
        Chem.MolToSmiles(m)
        for m in Chem.SDMolSupplier(
            os.path.join(RDConfig.RDContribDir, "PBF", "testData", "egfr.sdf")
        )
        if m is not None
    ]
    sets: dict[str, list[str]] = {
        k: []
        for k in ("nci-small", "nci-alerts", "chembl-large", "egfr-stereo-charged", "nci-elements")
    }
    with rdBase.BlockLogs():
        for s in nci:
            m = Chem.MolFromSmiles(s)
            if m is None:
                continue
            heavy = m.GetNumHeavyAtoms()
            elements = {a.GetSymbol() for a in m.GetAtoms()}
            if not elements <= MOSES_ELEMENTS:
                sets["nci-elements"].append(s)
            elif len(Chem.GetMolFrags(m)) == 1 and heavy <= 12:
                sets["nci-small"].append(s)
            elif (
                len(Chem.GetMolFrags(m)) == 1 and 13 <= heavy <= 27 and not passes_moses_filters(m)
            ):
                sets["nci-alerts"].append(s)
        for s in chembl:
            m = Chem.MolFromSmiles(s)
            if m is not None and Descriptors.MolWt(m) > 400:
                sets["chembl-large"].append(s)
        for s in egfr:
            m = Chem.MolFromSmiles(s)
            charged = any(a.GetFormalCharge() for a in m.GetAtoms())
            stereo = "@" in s or "/" in s or "\\" in s
            if charged or stereo:
                sets["egfr-stereo-charged"].append(s)
    return sets


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("model", nargs="?", default="moses-smiles")
    ap.add_argument("--n-in", type=int, default=1000, help="held-out test molecules scored as 'in'")
    ap.add_argument("--calibrate", type=int, default=0, help="calibrate on N other test molecules")
    ap.add_argument("--n-ref", type=int, default=100000, help="training molecules for the baseline")
    ap.add_argument("--max-per-set", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="write per-molecule scores to OUT.csv")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    gen = mv.load(args.model, device="cpu")
    rng = np.random.default_rng(args.seed)
    test = mv.datasets.load("moses", split="test").smiles.to_numpy()
    order = rng.permutation(len(test))
    inside = list(test[order[: args.n_in]])
    sets = {"moses-test (in)": inside}
    for name, values in outside_sets().items():
        if len(values) > args.max_per_set:
            values = list(rng.choice(values, args.max_per_set, replace=False))
        sets[name] = values
    train = mv.datasets.load("moses", split="train").smiles.to_numpy()
    reference = list(train[rng.choice(len(train), min(args.n_ref, len(train)), replace=False)])
    cal = calibration(gen)  # the model's stored threshold, unless --calibrate fits another
    if args.calibrate:
        held = list(test[order[args.n_in : args.n_in + args.calibrate]])
        cal = calibrate_anomaly(gen, held, source=f"{args.calibrate} MOSES test molecules")
    frames = []
    for name, values in sets.items():
        parts = anomaly_parts(gen, values, seed=args.seed)
        parts["set"] = name
        parts["nn_dissimilarity"] = 1 - nearest_similarity(values, reference)
        frames.append(parts)
    df = pd.concat(frames, ignore_index=True)
    bad = df.reason.notna().to_numpy()
    beta = cal.beta if cal is not None else float(gen.metadata.get("kl_weight", 1.0))
    columns = {name: fn(df, beta) for name, fn in SCORES.items()}
    columns["nn_dissimilarity (baseline)"] = df.nn_dissimilarity.to_numpy(float)
    for name, col in columns.items():
        col = col.copy()
        col[bad | np.isnan(col)] = np.inf
        df[f"score:{name}"] = col
    rows = []
    in_mask = (df.set == "moses-test (in)").to_numpy()
    for name in sets:
        if name == "moses-test (in)":
            continue
        mask = (df.set == name).to_numpy()
        row = {"set": name, "n": int(mask.sum()), "unreadable": int((mask & bad).sum())}
        for score in columns:
            a = df[f"score:{score}"].to_numpy()
            row[score] = round(auroc(np.minimum(a[in_mask], 1e300), np.minimum(a[mask], 1e300)), 3)
        if cal is not None:
            a = df[f"score:{cal.score}"].to_numpy()
            row["outlier share"] = round(float((a[mask] > cal.threshold).mean()), 3)
        rows.append(row)
    table = pd.DataFrame(rows)
    if cal is not None:
        a = df[f"score:{cal.score}"].to_numpy()
        print(
            f"threshold {cal.threshold:.4f} ({cal.score}, {cal.quantile} quantile of {cal.n}); "
            f"in-set outlier share {float((a[in_mask] > cal.threshold).mean()):.3f}"
        )
    print(markdown(table))
    print(f"{time.perf_counter() - t0:.0f} s, model {args.model}")
    if args.out:
        df.drop(columns=[c for c in df.columns if c.startswith("score:")]).to_csv(
            args.out + ".csv", index=False
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
