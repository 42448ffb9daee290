"""Does dropping the least likely samples help? MOSES metrics of a model's samples after dropping
the highest-NLL tail, per kept fraction.

A SMILES decoder's mistakes mostly become invalid strings, which are discarded; a SELFIES
decoder's mistakes become valid but odd molecules (Skinnider 2024). If those are the samples the
model itself finds unlikely, dropping the high-NLL tail should move SELFIES samples toward the
data. This script samples ``--n`` molecules once (the model's default sampling), ranks them by NLL
per token (``--by token``, default: not biased toward short molecules) or by total NLL
(``--by total``), keeps the lowest ``fraction`` and scores the first ``--eval-n`` kept molecules
(in sampling order) with ``mv.evaluate`` against the MOSES test set.

    python scripts/nll_tail.py --model moses-selfies --fractions 1,0.9,0.8,0.7,0.5 --eval-n 10000

Prints one Markdown row per fraction, and the NLL-per-token threshold each fraction corresponds
to (what ``gen.sample(..., max_nll_per_token=...)`` would take).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

import molvae as mv
from molvae.chem import canonical_forms
from molvae.device import torch_generator

KEYS = ["valid", "unique@10000", "FCD/Test", "SNN/Test", "Frag/Test", "Scaf/Test", "IntDiv",
        "Filters", "Novelty"]  # fmt: skip


def draw(gen, n: int, seed: int, batch_size: int = 1000) -> pd.DataFrame:
    """``n`` samples with their token counts (the codec's own decoding, default settings)."""
    g = torch_generator(seed, gen.device)
    source = gen.z_source("auto")
    deck = gen.prior.deck(g) if source == "learned" else None  # as molvae.sampling deals them
    rows, nlls = [], []
    for start in range(0, n, batch_size):
        b = min(batch_size, n - start)
        ids, nll = gen.decode_ids(gen.draw_z(b, source, g, deck), "multinomial", 1.0, None, g, b)
        rows += ids
        nlls.append(nll)
    smiles = gen.tokenizer.decode_batch(rows)
    canon, _ = canonical_forms(smiles)
    nll = np.concatenate(nlls)
    tokens = np.array([len(r) for r in rows])
    return pd.DataFrame({"smiles": smiles, "canonical": canon, "nll": nll, "tokens": tokens,
                         "nll_per_token": nll / tokens})  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="moses-selfies")
    ap.add_argument("--fractions", default="1,0.9,0.8,0.7,0.5")
    ap.add_argument("--by", choices=["token", "total"], default="token")
    ap.add_argument("--eval-n", type=int, default=10_000)
    ap.add_argument(
        "--n", type=int, default=None, help="samples drawn (default eval-n / min fraction)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    fractions = [float(f) for f in args.fractions.split(",")]
    n = args.n or int(np.ceil(args.eval_n / min(fractions)))
    torch.set_num_threads(max(1, args.jobs))
    gen = mv.load(args.model, device="cpu")
    t0 = time.time()
    df = draw(gen, n, args.seed)
    print(
        f"{args.model}: {n:,} samples in {time.time() - t0:.0f} s; valid {df.canonical.notna().mean():.3f}"
    )
    score = df["nll_per_token" if args.by == "token" else "nll"].to_numpy()
    print(f"| kept | {args.by} NLL <= | mean tokens | " + " | ".join(KEYS) + " |")
    print("|---" * (len(KEYS) + 3) + "|")
    for f in fractions:
        cut = np.quantile(score, f)
        kept = df[score <= cut].head(args.eval_n)
        m = mv.evaluate(kept.smiles.tolist(), n_jobs=args.jobs)
        cells = [f"{m[k]:.3f}" if m.get(k) is not None else "" for k in KEYS]
        print(f"| {f:.0%} | {cut:.3f} | {kept.tokens.mean():.1f} | " + " | ".join(cells) + " |",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
