"""Benchmark sampling throughput (molecules/s) and peak memory, optionally beside MOSES's VAE.

    python scripts/bench_sample.py --model moses-smiles --precision fp32,bf16   # a trained model
    python scripts/bench_sample.py --preset moses --sizes 2000 --max-len 100 \
        --precision fp32,bf16 --peer PYTHON --peer-script SCRIPT --rounds 2       # vs MOSES VAE

Samples stream through ``Generator.iter_samples`` exactly as ``molvae sample -o`` does (decoding,
SMILES decoding, RDKit validity and canonicalisation included), so memory stays flat. Without
``--model``, untrained weights of ``--preset`` (speed only: rows rarely end, so most decode to the
full length). With ``--peer``, MOSES 0.3.1's VAE (its default config, the size of the ``moses``
preset; untrained: ``moses_vae_bench.py --batches 0``) samples the same number of molecules with
the same batch and length in the same invocation, rounds interleaved, and the ratio is printed
(MOSES's time has no RDKit check; ours includes it).

On CPU it also names the processor and prints each setting's mean tokens decoded per molecule and
its share of the machine's matrix-product limit: the decoder's product FLOPs per token (recurrent
and input projections, output layer) times tokens/s, over the GFLOP/s of a 1024x1024 product at
the same precision and thread count (``bench_train.py``'s measure). MOSES's VAE decodes every
molecule to ``--max-len`` tokens; molvae stops each row at its ``<eos>``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time

import _peer
import torch
from bench_train import cpu_kind, matmul_gflops


def decode_flops_per_token(cfg) -> float:
    """Product FLOPs of one decoding step per molecule: each layer's recurrent product, the input
    products of layers 2.. (layer 1's is a table lookup plus a per-molecule latent part), the
    output layer."""
    h, layers = cfg.decoder_hidden_dim, cfg.decoder_layers
    return 2.0 * (h * 3 * h * (2 * layers - 1) + h * cfg.vocab_size)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", help="run directory, checkpoint or bundled model name")
    ap.add_argument(
        "--preset", default="moses", help="with no --model: random weights of this preset"
    )
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--device", default=None)
    ap.add_argument("--max-len", type=int, default=None)
    ap.add_argument("--precision", default="fp32", help="comma list of fp32,bf16")
    ap.add_argument("--rounds", type=int, default=1, help="repeat every setting, interleaved")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    ap.add_argument(
        "--jobs",
        default="auto",
        help="comma list of RDKit worker processes beside decoding (auto: the library's default)",
    )
    _peer.add_arguments(ap)
    args = ap.parse_args()

    import molvae as mv
    from molvae.device import resolve_device
    from molvae.generator import Generator
    from molvae.model import MolVAE

    if args.threads:
        torch.set_num_threads(args.threads)
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
    max_len = int(args.max_len or gen.max_len)
    flops = decode_flops_per_token(gen.model.cfg)
    limits = {}
    if gen.device.type == "cpu":
        print(f"# {cpu_kind()}; {torch.get_num_threads()} torch threads", flush=True)
        limits = {p: matmul_gflops("bf16" if p == "bf16" else "none")
                  for p in args.precision.split(",")}  # fmt: skip
        print("# matrix-product limit (1024x1024): " + ", ".join(
            f"{p} {g:,.0f} GFLOP/s" for p, g in limits.items()), flush=True)  # fmt: skip
    rows = []
    for rnd in range(args.rounds):
        for n in (int(x) for x in args.sizes.split(",")):
            if args.peer:
                res = _peer.run(
                    args.peer, args.peer_script, "--model", "vae", "--batches", "0",
                    "--warmup-batches", "0", "--n-samples", str(n),
                    "--sample-batch", str(args.batch_size), "--max-len", str(args.max_len or 100),
                    "--threads", str(torch.get_num_threads()),
                )  # fmt: skip
                s = res["sample"]
                rows.append({"model": "MOSES VAE (untrained)", "precision": "fp32", "n": n,
                             "round": rnd, "molecules_per_s": s["mol_per_s"],
                             "valid": s["rdkit_valid_fraction"], "seconds": s["seconds"],
                             "peak_rss_mib": res["memory"]["peak_rss_sample_mb"],
                             "tokens_per_molecule": max_len - 1})  # fmt: skip
                if "fp32" in limits:  # every row to max_len, and layer 1's input product too
                    cfg = gen.model.cfg
                    peer_flops = flops + 2.0 * (cfg.embedding_dim + cfg.latent_dim) * 3 * (
                        cfg.decoder_hidden_dim
                    )
                    rows[-1]["share_of_matmul_limit"] = round(
                        peer_flops * (max_len - 1) * s["mol_per_s"] / 1e9 / limits["fp32"], 3
                    )
                print(json.dumps(rows[-1]), flush=True)
            settings = [(p, j) for p in args.precision.split(",") for j in args.jobs.split(",")]
            for precision, jobs in settings:
                gen.precision = precision
                if gen.device.type == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                valid = tokens = 0
                parts = gen.iter_samples(
                    n,
                    seed=0,
                    batch_size=args.batch_size,
                    max_len=args.max_len,
                    n_jobs=None if jobs == "auto" else int(jobs),
                )
                counting = 0.0  # seconds spent counting tokens, taken off the clock
                for part in parts:
                    valid += int(part.valid.sum())
                    # tokens decoded: the SMILES's tokens and <eos>, or max_len for a row that
                    # never ended
                    c0 = time.perf_counter()
                    tokens += sum(min(len(gen.tokenizer.tokenize(x)) + 1, max_len)
                                  for x in part.smiles)  # fmt: skip
                    counting += time.perf_counter() - c0
                dt = time.perf_counter() - t0 - counting
                rows.append(
                    {
                        "model": label,
                        "precision": precision
                        if len(settings) == len(args.precision.split(","))
                        else f"{precision} jobs={jobs}",
                        "n": n,
                        "round": rnd,
                        "device": str(gen.device),
                        "batch_size": args.batch_size,
                        "seconds": round(dt, 2),
                        "molecules_per_s": round(n / dt, 1),
                        "valid": round(valid / n, 4),
                        "tokens_per_molecule": round(tokens / n, 1),
                        **(
                            {
                                "share_of_matmul_limit": round(
                                    flops * tokens / dt / 1e9 / limits[precision], 3
                                )
                            }
                            if precision in limits
                            else {}
                        ),  # fmt: skip
                        "peak_rss_mib": round(
                            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                        ),
                        **(
                            {"gpu": torch.cuda.get_device_name()}
                            if gen.device.type == "cuda"
                            else {}
                        ),
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
    print(
        f"\n{'model':<24}{'precision':<10}{'n':>8}{'mol/s (median)':>16}{'valid':>8}"
        f"{'tokens':>8}{'of limit':>10}{'vs MOSES':>10}"
    )
    keys = sorted({(r["model"], r["precision"], r["n"]) for r in rows}, key=lambda k: (k[2], k[0]))
    for model, precision, n in keys:
        same = [r for r in rows if (r["model"], r["precision"], r["n"]) == (model, precision, n)]
        peer = [
            r["molecules_per_s"] for r in rows if r["model"].startswith("MOSES") and r["n"] == n
        ]
        med = statistics.median([r["molecules_per_s"] for r in same])
        ratio = f"{med / statistics.median(peer):.2f}x" if peer else "-"
        share = statistics.median([r.get("share_of_matmul_limit", float("nan")) for r in same])
        print(
            f"{model:<24}{precision:<10}{n:>8}{med:>16,.1f}{same[0]['valid']:>8.3f}"
            f"{same[0]['tokens_per_molecule']:>8.1f}{share:>10.0%}{ratio:>10}"
        )


if __name__ == "__main__":
    main()
