"""Widen a trained model's GRU decoder without changing what it computes (Net2Net-style growth).

The decoder's hidden size grows from H to H' (e.g. 256 -> 384). Every old weight is copied; the
new units get a fresh initialisation for their own inputs (PyTorch's GRU init, U(-1/sqrt(H'),
1/sqrt(H'))), and every weight that *reads* a new unit starts at zero: the recurrent columns of the
old units, the next layer's input columns and the output projection's columns. So the widened
network gives the same logits as the parent (checked here on real molecules, teacher forcing) and
keeps its encoder, latent space and learned prior; training (`molvae train --init OUT`) then puts
the extra capacity to use. The new checkpoint keeps the parent's lineage and records the widening.

    python scripts/widen_model.py moses-smiles --decoder-hidden 384 -o runs/wide/widened.pt
    OMP_NUM_THREADS=1 molvae train --init runs/wide/widened.pt --data moses:train ... --out runs/wide-1

Prints the largest logit difference between parent and widened network on 256 MOSES test molecules
(``--check`` another file), in float64, and refuses to write a network that differs by more than 1e-9.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import replace

import torch

import molvae as mv
from molvae import checkpoint as ckpt
from molvae.files import file_sha256
from molvae.model import MolVAE, count_parameters
from molvae.tokenizers import pad_rows


def widen(parent: MolVAE, hidden: int, seed: int = 0) -> MolVAE:
    """A copy of ``parent`` whose decoder has ``hidden`` units per layer and the same function."""
    cfg = parent.cfg
    h0 = cfg.decoder_hidden_dim
    if hidden <= h0:
        raise SystemExit(f"--decoder-hidden {hidden} must exceed the parent's {h0}")
    torch.manual_seed(seed)
    child = MolVAE(replace(cfg, decoder_hidden_dim=hidden))
    old, new = parent.state_dict(), child.state_dict()
    bound = 1.0 / math.sqrt(hidden)
    with torch.no_grad():
        for name, t in new.items():
            o = old[name]
            if not name.startswith("decoder."):
                t.copy_(o)
            elif name.startswith("decoder.gru."):
                t.uniform_(-bound, bound)  # the new units' own weights and biases
                # weight columns that are decoder units (recurrent weights, the second layer's
                # input): the old ones copied, the new ones zero, so no old unit reads a new one
                reads_decoder = name.startswith("decoder.gru.weight_hh") or not name.endswith("_l0")
                for g in range(3):  # gate blocks r, z, n: the old units' rows copied
                    rows, old_rows = slice(g * hidden, g * hidden + h0), o[g * h0 : (g + 1) * h0]
                    if t.dim() == 1 or not reads_decoder:
                        t[rows] = old_rows
                    else:
                        t[rows, :h0] = old_rows
                        t[rows, h0:] = 0.0
            elif name.startswith("decoder.z_to_hidden"):
                # (L * H', ...) per layer: the old units' initial state copied, the new ones' fresh
                layers = cfg.decoder_layers
                tv, ov = t.view(layers, hidden, *t.shape[1:]), o.view(layers, h0, *o.shape[1:])
                tv[:, :h0] = ov
            elif name == "decoder.out.weight":
                t.zero_()
                t[:, :h0] = o
            elif name == "decoder.out.bias":
                t.copy_(o)
            else:
                raise SystemExit(f"widen_model.py does not know how to widen {name}")
    child.load_state_dict(new)
    return child.eval()


def max_logit_difference(a: MolVAE, b: MolVAE, tokenizer, smiles: list[str]) -> float:
    """Largest |logit| difference of the two networks on ``smiles`` (teacher forcing, mean z)."""
    ids = [tokenizer.encode(s) for s in smiles]
    batch = torch.from_numpy(pad_rows(ids))
    lengths = torch.tensor([len(r) for r in ids])
    with torch.no_grad():
        out = []
        for net in (a, b):
            mu, _ = net.encode_params(batch, lengths)
            emb = net.embedding(batch[:, :-1])
            logits, _ = net.decoder(emb, mu)
            out.append(logits)
    return float((out[0] - out[1]).abs().max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="bundled name, checkpoint or run directory")
    ap.add_argument("--decoder-hidden", type=int, required=True, help="new decoder hidden size")
    ap.add_argument("--seed", type=int, default=0, help="seed of the new units' initialisation")
    ap.add_argument("--check", default="moses:test", help="molecules the logits are compared on")
    ap.add_argument("-o", "--out", required=True, help="checkpoint to write")
    args = ap.parse_args()

    path = ckpt.resolve(args.model)
    c = ckpt.load(path)
    parent = c.build_model().float()
    child = widen(parent, args.decoder_hidden, args.seed)
    test = mv.read_smiles(mv.datasets.resolve(args.check))
    test = test.sample(n=min(256, len(test)), random_state=0)
    # in float64, where only the function can differ: float32 rounds the two shapes differently
    diff = max_logit_difference(parent.double(), child.double(), c.tokenizer, list(test))
    print(
        f"{args.model}: decoder {c.model_config.decoder_hidden_dim} -> {args.decoder_hidden}, "
        f"parameters {count_parameters(parent):,} -> {count_parameters(child):,}; "
        f"largest logit difference on {len(test)} molecules of {args.check} {diff:.2e}"
    )
    if diff > 1e-9:
        raise SystemExit("the widened network does not reproduce the parent's logits")
    metadata = {k: v for k, v in c.metadata.items() if k not in ("card", "created")}
    metadata["widened_from"] = {
        "sha256": file_sha256(path),
        "model": str(args.model),
        "decoder_hidden_dim": c.model_config.decoder_hidden_dim,
        "seed": args.seed,
    }
    ckpt.save(args.out, child.float(), c.tokenizer, c.train_config, None, metadata, c.prior)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
