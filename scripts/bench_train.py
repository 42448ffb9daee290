"""Benchmark training throughput: molecules/s and tokens/s over a fixed number of steps.

    python scripts/bench_train.py                              # moses preset, full MOSES train (cached)
    python scripts/bench_train.py --preset small --amp none,bf16
    python scripts/bench_train.py --device cuda --amp none,bf16 # on a GPU

The steps are the same ``train_step`` that ``mv.fit`` runs (forward, ELBO, backward, clipping,
AdamW) on length-bucketed batches of the MOSES train set. Prints one JSON line per setting and a
table; peak RSS is the process's, GPU memory is ``torch.cuda.max_memory_allocated``.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--preset", default="moses")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per setting")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    ap.add_argument("--batch-size", type=int, default=None, help="default: the preset's")
    ap.add_argument("--device", default="auto")
    ap.add_argument(
        "--amp", default=None, help="comma list of none,bf16 (default: none, plus bf16 on CUDA)"
    )
    ap.add_argument("--tokenizer", default="smiles")
    ap.add_argument(
        "--limit", type=int, default=0, help="use the first N train molecules (0 = all, cached)"
    )
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    args = ap.parse_args()

    import molvae as mv
    from molvae.data import batch_indices, prepare
    from molvae.device import resolve_device
    from molvae.model import MolVAE, count_parameters
    from molvae.train import train_step

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    model_cfg, train_cfg = mv.load_config(preset=args.preset)
    bs = args.batch_size or train_cfg.batch_size
    t0 = time.perf_counter()
    if args.limit:
        data = prepare(
            mv.read_smiles(mv.datasets.path("moses", "train"))[: args.limit], args.tokenizer
        )
    else:
        data = mv.prepare_file(mv.datasets.path("moses", "train"), args.tokenizer, n_jobs=2)
    print(
        f"# data: {len(data):,} molecules ({args.tokenizer}) ready in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    batches = batch_indices(data.lengths, bs, seed=0)
    amps = (
        args.amp.split(",")
        if args.amp
        else (["none", "bf16"] if device.type == "cuda" else ["none"])
    )
    rows = []
    for amp in amps:
        torch.manual_seed(0)
        cfg = mv.ModelConfig(**{**model_cfg.__dict__, "vocab_size": data.tokenizer.vocab_size})
        model = MolVAE(cfg).to(device).train()
        opt = torch.optim.AdamW(model.parameters(), lr=train_cfg.lr)
        ctx = torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp == "bf16")
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        mols = toks = 0
        for i in range(args.warmup + args.steps):
            if i == args.warmup:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                mols = toks = 0
            ids, lengths = data.batch(batches[i % len(batches)])
            ids_t, len_t = torch.from_numpy(ids).to(device), torch.from_numpy(lengths).to(device)
            train_step(model, opt, ids_t, len_t, train_cfg, train_cfg.lr, 0.1, ctx)
            mols += len(lengths)
            toks += int(np.sum(lengths))
        if device.type == "cuda":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        row = {
            "preset": args.preset,
            "device": str(device),
            "amp": amp,
            "batch_size": bs,
            "parameters": count_parameters(model),
            "steps": args.steps,
            "threads": torch.get_num_threads(),
            "molecules_per_s": round(mols / dt, 1),
            "tokens_per_s": round(toks / dt),
            "s_per_step": round(dt / args.steps, 4),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }
        if device.type == "cuda":
            row["gpu_peak_mib"] = round(torch.cuda.max_memory_allocated() / 2**20)
            row["gpu"] = torch.cuda.get_device_name()
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(
        f"\n{'preset':<8}{'device':<8}{'amp':<6}{'batch':>6}{'mol/s':>10}{'tok/s':>11}{'s/step':>9}{'RSS MiB':>9}"
    )
    for r in rows:
        print(
            f"{r['preset']:<8}{r['device']:<8}{r['amp']:<6}{r['batch_size']:>6}{r['molecules_per_s']:>10,.1f}"
            f"{r['tokens_per_s']:>11,}{r['s_per_step']:>9}{r['peak_rss_mib']:>9}"
        )


if __name__ == "__main__":
    main()
