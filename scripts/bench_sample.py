"""Benchmark sampling throughput (molecules/s) and peak memory for 10k and 100k samples.

    python scripts/bench_sample.py --model runs/small          # a trained run directory or .pt
    python scripts/bench_sample.py --preset moses              # untrained weights (speed only)

Samples stream through ``Generator.iter_samples`` exactly as ``molvae sample -o`` does (decoding,
SMILES decoding, RDKit validity and canonicalisation included), so memory stays flat.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", help="run directory or checkpoint")
    ap.add_argument(
        "--preset", default="moses", help="with no --model: random weights of this preset"
    )
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--device", default=None)
    ap.add_argument("--max-len", type=int, default=None)
    args = ap.parse_args()

    import molvae as mv
    from molvae.device import resolve_device
    from molvae.generator import Generator
    from molvae.model import MolVAE

    if args.model:
        gen = mv.load(args.model, device=args.device)
        label = args.model
    else:
        tok = mv.SmilesTokenizer.build(mv.read_smiles(mv.datasets.path("moses", "test"))[:20000])
        cfg, _ = mv.load_config(preset=args.preset)
        cfg = mv.ModelConfig(**{**cfg.__dict__, "vocab_size": tok.vocab_size})
        torch.manual_seed(0)
        gen = Generator(
            MolVAE(cfg),
            tok,
            device=resolve_device(args.device or "auto"),
            metadata={"max_len": 102},
        )
        label = f"untrained {args.preset}"
    for n in (int(x) for x in args.sizes.split(",")):
        if gen.device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        valid = done = 0
        for part in gen.iter_samples(n, seed=0, batch_size=args.batch_size, max_len=args.max_len):
            valid += int(part.valid.sum())
            done += len(part)
        dt = time.perf_counter() - t0
        print(
            json.dumps(
                {
                    "model": label,
                    "device": str(gen.device),
                    "n": n,
                    "batch_size": args.batch_size,
                    "seconds": round(dt, 2),
                    "molecules_per_s": round(n / dt, 1),
                    "valid": round(valid / n, 4),
                    "peak_rss_mib": round(
                        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                    ),
                    **({"gpu": torch.cuda.get_device_name()} if gen.device.type == "cuda" else {}),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
