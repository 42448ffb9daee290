"""Why are a SMILES model's invalid samples invalid? Samples ``--n`` molecules with the model's
default sampling and sorts every invalid one into one cause:

- *unclosed ring* / *unbalanced branch* / *other syntax*: RDKit cannot even parse the string
  (a ring-closure digit used an odd number of times; a ``)`` with no ``(`` or a ``(`` never closed;
  anything else, e.g. an empty branch or a ring closed on the atom that opened it);
- *aromatic ring not of 5 or 6 atoms*: parsed, but an all-aromatic ring has another size (the
  decoder lost count of the atoms between a ring's two digits), so it cannot be kekulized;
- *pyrrole-type n without H* / *[nH] too many*: kekulization fails, and turning one aromatic ``n``
  into ``[nH]`` (or one ``[nH]`` into ``n``) makes the molecule valid;
- *other kekulization*, *valence* (an atom with too many bonds), *other*.

    python scripts/invalid_breakdown.py --model moses-smiles --n 10000 --seed 0

Prints one Markdown row: the share of all samples in each cause. Then the valid samples that fail
MOSES's filter (the ``Filters`` metric), by the check they fail first
(:func:`molvae.chem.moses_filter_failure`): a ring of 8 or more atoms, a charged or disallowed
atom, an MCF or a PAINS pattern (share of the valid samples), and the patterns met most often.
"""

from __future__ import annotations

import argparse
from collections import Counter

from rdkit import Chem, RDLogger

import molvae as mv
from molvae.chem import moses_filter_failure, to_mol

FILTER_CHECKS = ["ring of 8+ atoms", "charged or disallowed atom", "MCF pattern", "PAINS pattern",
                 "other"]  # fmt: skip
CAUSES = ["unclosed ring", "unbalanced branch", "other syntax", "aromatic ring not of 5 or 6",
          "pyrrole-type n without H", "[nH] too many", "other kekulization", "valence",
          "other"]  # fmt: skip


def swap_fixes(tokens: list[str], old: str, new: str) -> bool:
    """Whether replacing one ``old`` token by ``new`` gives a valid molecule."""
    return any(
        Chem.MolFromSmiles("".join(tokens[:i] + [new] + tokens[i + 1 :])) is not None
        for i, t in enumerate(tokens)
        if t == old
    )


def cause(smiles: str, tokens: list[str]) -> str:
    """The cause of an invalid SMILES string split into ``tokens`` (see the module docstring)."""
    mol = Chem.MolFromSmiles(smiles, sanitize=False)
    if mol is None:
        labels = Counter(t for t in tokens if t.isdigit() or t.startswith("%"))
        if any(n % 2 for n in labels.values()):
            return "unclosed ring"
        depth, negative = 0, False
        for t in tokens:
            depth += (t == "(") - (t == ")")
            negative |= depth < 0
        return "unbalanced branch" if depth or negative else "other syntax"
    try:
        Chem.SanitizeMol(mol)
        return "other"  # parses and sanitizes here, yet the canonical round trip failed
    except Exception as err:  # RDKit raises several sanitization error types
        message = str(err).lower()
    if "kekul" not in message:
        return "valence" if "valence" in message else "other"
    rings = Chem.MolFromSmiles(smiles, sanitize=False)
    rings.UpdatePropertyCache(strict=False)
    Chem.FastFindRings(rings)
    for ring in rings.GetRingInfo().AtomRings():
        if len(ring) not in (5, 6) and all(rings.GetAtomWithIdx(i).GetIsAromatic() for i in ring):
            return "aromatic ring not of 5 or 6"
    if swap_fixes(tokens, "n", "[nH]"):
        return "pyrrole-type n without H"
    if swap_fixes(tokens, "[nH]", "n"):
        return "[nH] too many"
    return "other kekulization"


def filter_check(reason: str) -> str:
    """The column of :data:`FILTER_CHECKS` a :func:`moses_filter_failure` reason falls in."""
    if reason.startswith("ring of"):
        return "ring of 8+ atoms"
    if reason.startswith(("charged", "atom outside")):
        return "charged or disallowed atom"
    if reason.startswith("MCF"):
        return "MCF pattern"
    return "PAINS pattern" if reason.startswith("PAINS") else "other"


def print_filter_failures(model: str, smiles: list[str]) -> None:
    """The second table: why valid samples fail MOSES's filter."""
    reasons = [r for r in (moses_filter_failure(to_mol(s)) for s in smiles) if r is not None]
    checks = Counter(filter_check(r) for r in reasons)
    print("\n| model | valid samples | Filters | " + " | ".join(FILTER_CHECKS) + " |")
    print("|---" * (len(FILTER_CHECKS) + 3) + "|")
    shares = " | ".join(f"{checks[c] / len(smiles):.4f}" for c in FILTER_CHECKS)
    print(f"| {model} | {len(smiles):,} | {1 - len(reasons) / len(smiles):.4f} | {shares} |")
    common = Counter(r if not r.startswith("ring") else "ring of 8+ atoms" for r in reasons)
    print("\nmost met: " + ", ".join(f"{r} ({n})" for r, n in common.most_common(8)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="moses-smiles")
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    RDLogger.DisableLog("rdApp.*")
    gen = mv.load(args.model)
    df = gen.sample(args.n, seed=args.seed)
    counts = Counter(cause(s, gen.tokenizer.tokenize(s)) for s in df.smiles[~df.valid])
    print("| model | samples | valid | " + " | ".join(CAUSES) + " |")
    print("|---" * (len(CAUSES) + 3) + "|")
    shares = " | ".join(f"{counts[c] / args.n:.3f}" for c in CAUSES)
    print(f"| {args.model} | {args.n:,} | {df.valid.mean():.3f} | {shares} |")
    print_filter_failures(args.model, list(df.smiles[df.valid]))


if __name__ == "__main__":
    main()
