"""``molvae sample``: sample molecules from a trained model into a CSV (streamed in chunks)."""

from __future__ import annotations

import argparse
import math

from molvae.cli.common import add_model_args, load_generator, output, positive_int
from molvae.constants import DECODE_METHODS, MAX_SPREAD, PRECISION_NAMES, Z_SOURCES


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sample",
        help="sample molecules from a model",
        description="Sample from the prior of a trained model. MODEL is a run directory (its "
        "best.pt), a checkpoint file, or a bundled model name (molvae models); without MODEL, "
        "the default bundled SMILES model. Writes smiles, valid, canonical, nll.",
    )
    add_model_args(p)
    p.add_argument("-n", type=positive_int, required=True, help="number of molecules")
    p.add_argument(
        "--temperature", type=float, default=1.0, help="softmax temperature, >= 0.001 (default 1)"
    )
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--batch-size", type=positive_int, default=1000)
    p.add_argument("--max-len", type=positive_int, default=None, help="most tokens per molecule")
    p.add_argument(
        "--method",
        choices=["auto", *DECODE_METHODS],
        default="auto",
        help="how each token is chosen: multinomial sampling, greedy (the most likely token), or "
        "beam search (the most likely string of --beam-width kept at each step); default auto: "
        "the method stored with the model, else multinomial; with --temperature other than 1, "
        "multinomial",
    )
    p.add_argument(
        "--beam-width",
        type=positive_int,
        default=None,
        help="hypotheses kept by --method beam (default: the width stored with the model, else 3)",
    )
    p.add_argument(
        "--prior",
        choices=list(Z_SOURCES),
        default="auto",
        help="where z comes from: the model's learned prior (auto: when it has one) or N(0, I)",
    )
    p.add_argument(
        "--prior-spread",
        type=float,
        default=None,
        help="widen (> 1) or narrow (< 1) the learned prior's components instead of the spread "
        "stored with the model (docs/recipe.md)",
    )
    p.add_argument(
        "--precision",
        choices=["auto", *PRECISION_NAMES],
        default="auto",
        help="decoding precision (default auto: bf16 on GPUs and CPUs with native bf16, where it "
        "is several times faster; fp32 elsewhere)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="RDKit worker processes beside decoding (default: 0 on CPU, up to 8 on a GPU)",
    )
    _add_keep_args(p)
    p.add_argument("-o", "--out", required=True, help="output CSV")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=run)


def _add_keep_args(p: argparse.ArgumentParser) -> None:
    """Which decoded molecules are written: all (default), or draws until N pass the checks."""
    g = p.add_argument_group(
        "which samples are written",
        "by default every decoded molecule, valid or not (what model cards and MOSES figures "
        "report); these options keep drawing until N molecules pass",
    )
    g.add_argument(
        "--valid-only",
        action="store_true",
        help="keep drawing until N valid molecules are written (the draws are reported; "
        "model cards and MOSES figures use raw samples)",
    )
    g.add_argument(
        "--unique",
        action="store_true",
        help="keep only the first of repeated molecules (implies --valid-only)",
    )
    g.add_argument(
        "--max-draws",
        type=positive_int,
        default=None,
        help="with --valid-only/--unique/--max-nll-per-token: stop with an error after this many molecules decoded "
        "(default: max(10,000, 20 x N))",
    )
    g.add_argument(
        "--max-nll-per-token",
        type=float,
        default=None,
        help="keep drawing until N valid molecules whose decoder NLL per token is at most this "
        "are written: drops the samples the model finds least likely (for SELFIES models, the "
        "odd molecules of decoder mistakes; thresholds in docs/recipe.md)",
    )
    g.add_argument(
        "--keep-likely",
        type=float,
        default=None,
        metavar="FRACTION",
        help="the same, with the threshold set so that this fraction (0-1] of the model's raw "
        "samples pass it (measured on 20,000 draws first)",
    )


def run(args: argparse.Namespace) -> int:
    from molvae import distributed
    from molvae.checks import check_number
    from molvae.decoding import check_decoding_args
    from molvae.device import inference_device
    from molvae.sampling import kept_description

    check_decoding_args(args.temperature, args.method, args.max_len, args.batch_size)
    output(args.out, kind="table")
    spread = args.prior_spread
    if spread is not None and not (math.isfinite(spread) and 0 < spread <= MAX_SPREAD):
        raise ValueError(f"--prior-spread must be a number > 0 and <= {MAX_SPREAD:g}, got {spread}")
    if args.max_nll_per_token is not None and args.keep_likely is not None:
        raise ValueError("give --max-nll-per-token or --keep-likely, not both")
    limit = args.max_nll_per_token
    if limit is not None:
        check_number("--max-nll-per-token", limit, 0.0, 1e6, low_open=True)
    if args.keep_likely is not None:
        check_number("--keep-likely", args.keep_likely, 0.0, 1.0, low_open=True)
    world = distributed.World.from_env()  # under torchrun: one shard per process, then merged
    device = world.device(inference_device(args.device))
    gen = load_generator(args.model, device, args.precision)
    gen.prior_in_use(args.prior)  # a model without a learned prior fails before any file is made
    if args.prior_spread is not None:
        if gen.prior_in_use(args.prior) != "learned":
            raise ValueError("--prior-spread needs a model with a learned prior (and --prior auto)")
        gen.prior.spread = args.prior_spread
    if args.beam_width is not None:
        gen.beam_width = args.beam_width
    options = dict(
        temperature=args.temperature,
        batch_size=args.batch_size,
        max_len=args.max_len,
        method=args.method,
        progress=not args.no_progress and world.main,
        prior=args.prior,
        n_jobs=args.jobs,
    )
    filtered = args.valid_only or args.unique or limit is not None or args.keep_likely is not None
    if filtered and world.active:
        raise ValueError("--valid-only/--unique/--max-nll-per-token/--keep-likely are not "
                         "available under torchrun yet: sample raw molecules there, or run one "
                         "process")  # fmt: skip
    if world.active:
        world.init(device)
        try:
            stats = distributed.sample_to_csv(gen, args.out, args.n, args.seed, world, **options)
        finally:
            world.close()
    else:
        if args.keep_likely is not None:
            limit = gen.nll_threshold(args.keep_likely, seed=args.seed or 0, **{
                k: options[k] for k in ("temperature", "batch_size", "max_len", "method", "prior")
            })  # fmt: skip
            print(f"NLL per token <= {limit:.4g} keeps {args.keep_likely:.0%} of the raw samples")
        stats = gen.sample_to_csv(args.out, args.n, seed=args.seed, valid_only=args.valid_only,
                                  unique=args.unique, max_draws=args.max_draws,
                                  max_nll_per_token=limit, **options)  # fmt: skip
    if world.main and filtered:
        kept = kept_description(args.unique, limit)
        print(f"wrote {stats['n']:,} {kept} molecules to {args.out} from {stats['draws']:,} "
              f"draws ({stats['valid']:.1%} of the draws valid)")  # fmt: skip
    elif world.main:
        print(f"wrote {stats['n']:,} molecules to {args.out} ({stats['valid']:.1%} valid)")
    return 0
