"""Benchmark training throughput: molecules/s and tokens/s over a fixed number of steps.

    python scripts/bench_train.py                              # moses preset, full MOSES train (cached)
    python scripts/bench_train.py --preset small --amp none,bf16
    python scripts/bench_train.py --device cuda --amp none,bf16 # on a GPU
    python scripts/bench_train.py --preset moses --amp none,bf16 --steps 10 \
        --peer PYTHON --peer-script SCRIPT --rounds 2            # beside MOSES's VAE

The steps are the same ``train_step`` that ``mv.fit`` runs (forward, ELBO, backward, clipping,
AdamW) on length-bucketed batches of the MOSES train set. Prints one JSON line per setting and a
table; peak RSS is the process's, GPU memory is ``torch.cuda.max_memory_allocated``.

On CPU it also says which processor it ran on (model name, native bf16 or not) and prints each
setting's share of the machine's matrix-product limit: the training FLOPs per molecule (forward
products counted from the network's sizes and the batches' mean length, x3 for the backward pass)
times molecules/s, over the GFLOP/s of a 1024x1024 product at the same precision and thread count.
A low share means the step's time goes to per-operation overhead, not arithmetic.

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


def cpu_kind() -> str:
    """The processor's model name and whether it runs bf16 products natively."""
    from molvae.device import cpu_has_bf16
    from molvae.lineage import cpu_name

    return f"{cpu_name()}, {'native bf16' if cpu_has_bf16() else 'no native bf16'}"


def matmul_gflops(amp: str, size: int = 1024, seconds: float = 1.0) -> float:
    """GFLOP/s of a ``size``-square product on the CPU at ``amp``'s precision (current threads)."""
    dtype = torch.bfloat16 if amp == "bf16" else torch.float32
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        n += 1
    return 2 * size**3 * n / (time.perf_counter() - t0) / 1e9


def train_flops_per_molecule(cfg, mean_tokens: float) -> float:
    """Multiply-add FLOPs of one training molecule: the forward pass's products (GRU input and
    hidden projections, latent heads, output layer) at ``mean_tokens`` per molecule, x3 for the
    backward pass (input and weight gradients)."""
    e, he, hd, z, v = (cfg.embedding_dim, cfg.encoder_hidden_dim, cfg.decoder_hidden_dim,
                       cfg.latent_dim, cfg.vocab_size)  # fmt: skip
    dirs = 2 if cfg.encoder_bidirectional else 1
    enc = dirs * (e * 3 * he + he * 3 * he) + (cfg.encoder_layers - 1) * dirs * (
        dirs * he * 3 * he + he * 3 * he
    )
    dec = (e + z) * 3 * hd + hd * 3 * hd + (cfg.decoder_layers - 1) * 2 * hd * 3 * hd + hd * v
    per_molecule = mean_tokens * (enc + dec) + 2 * dirs * he * z + z * hd * cfg.decoder_layers
    return 3 * 2 * per_molecule


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
        "gflop_per_molecule": round(train_flops_per_molecule(cfg, toks / mols) / 1e9, 4),
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
    limits = {}
    if device.type == "cpu":
        print(f"# CPU: {cpu_kind()}, {torch.get_num_threads()} torch thread(s)", flush=True)
        limits = {amp: matmul_gflops(amp) for amp in amps}
        print("# matrix-product limit (1024x1024): " + ", ".join(
            f"{amp} {g:,.0f} GFLOP/s" for amp, g in limits.items()), flush=True)  # fmt: skip
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
            row = time_ours(args, amp, data, batches, model_cfg, train_cfg, bs, device)
            if amp in limits:
                achieved = row["molecules_per_s"] * row["gflop_per_molecule"]
                row["share_of_matmul_limit"] = round(achieved / limits[amp], 3)
            rows.append(dict(row, round=rnd))
            print(json.dumps(rows[-1]), flush=True)
    print(
        f"\n{'preset':<10}{'amp':<6}{'batch':>6}{'mol/s (median)':>16}{'RSS MiB':>9}{'vs MOSES':>10}"
        f"{'of limit':>10}"
    )
    peer = [r["molecules_per_s"] for r in rows if r["preset"] == "MOSES VAE"]
    for key in dict.fromkeys((r["preset"], r["amp"], r["batch_size"]) for r in rows):
        same = [r for r in rows if (r["preset"], r["amp"], r["batch_size"]) == key]
        med = statistics.median(r["molecules_per_s"] for r in same)
        ratio = f"{med / statistics.median(peer):.2f}x" if peer else "-"
        share = same[-1].get("share_of_matmul_limit")
        share = f"{share:.0%}" if share is not None else "-"
        print(
            f"{key[0]:<10}{key[1]:<6}{key[2]:>6}{med:>16,.1f}{same[-1]['peak_rss_mib']:>9}{ratio:>10}"
            f"{share:>10}"
        )


if __name__ == "__main__":
    main()
