"""Benchmark training throughput: molecules/s and tokens/s over a fixed number of steps.

    python scripts/bench_train.py                              # moses preset, full MOSES train (cached)
    python scripts/bench_train.py --preset small --amp none,bf16
    python scripts/bench_train.py --device cuda --amp none,bf16 # on a GPU
    python scripts/bench_train.py --preset moses --amp none,bf16 --steps 10 \
        --peer PYTHON --peer-script SCRIPT --rounds 2            # beside MOSES's VAE

The steps are the same ``train_step`` that ``mv.fit`` runs (forward, ELBO, backward, clipping,
AdamW) on length-bucketed batches of the MOSES train set. Prints one JSON line per setting and a
table; peak RSS is the process's, GPU memory is ``torch.cuda.max_memory_allocated``.

With ``--peer``, MOSES 0.3.1's VAE (its default config and batch of 512, the size of the ``moses``
preset; ``--peer-script``) trains ``--peer-batches`` batches of MOSES train in
the same invocation, rounds interleaved with ours, and the ratio of molecules/s is printed.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time

import _peer
import numpy as np
import torch


def time_ours(args, amp, data, batches, model_cfg, train_cfg, bs, device) -> dict:
    """Time ``args.steps`` molvae training steps (after ``args.warmup``) with ``amp``."""
    import molvae as mv
    from molvae.loop import train_step
    from molvae.model import MolVAE, count_parameters

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
    return row


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
    ap.add_argument("--rounds", type=int, default=1, help="repeat every setting, interleaved")
    ap.add_argument("--peer-batches", type=int, default=10, help="timed MOSES VAE batches")
    _peer.add_arguments(ap)
    args = ap.parse_args()

    import molvae as mv
    from molvae.data import batch_indices, prepare
    from molvae.device import resolve_device

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
    for rnd in range(args.rounds):
        if args.peer:
            res = _peer.run(
                args.peer, args.peer_script, "--model", "vae", "--batches",
                str(args.peer_batches), "--warmup-batches", "2", "--n-samples", "10",
                "--threads", str(torch.get_num_threads()),
            )  # fmt: skip
            t = res["train"]
            rows.append({"preset": "MOSES VAE", "device": "cpu", "amp": "none", "round": rnd,
                         "batch_size": t["batch_size"], "parameters": res["n_params"],
                         "molecules_per_s": t["mol_per_s"], "tokens_per_s": 0,
                         "s_per_step": t["s_per_batch_median"],
                         "peak_rss_mib": round(res["memory"]["peak_rss_train_mb"])})  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
        for amp in amps:
            rows.append(
                dict(
                    time_ours(args, amp, data, batches, model_cfg, train_cfg, bs, device), round=rnd
                )
            )
            print(json.dumps(rows[-1]), flush=True)
    print(
        f"\n{'preset':<10}{'amp':<6}{'batch':>6}{'mol/s (median)':>16}{'RSS MiB':>9}{'vs MOSES':>10}"
    )
    peer = [r["molecules_per_s"] for r in rows if r["preset"] == "MOSES VAE"]
    for key in dict.fromkeys((r["preset"], r["amp"], r["batch_size"]) for r in rows):
        same = [r for r in rows if (r["preset"], r["amp"], r["batch_size"]) == key]
        med = statistics.median(r["molecules_per_s"] for r in same)
        ratio = f"{med / statistics.median(peer):.2f}x" if peer else "-"
        print(
            f"{key[0]:<10}{key[1]:<6}{key[2]:>6}{med:>16,.1f}{same[-1]['peak_rss_mib']:>9}{ratio:>10}"
        )


if __name__ == "__main__":
    main()
