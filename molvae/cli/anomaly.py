"""``molvae anomaly``: how unusual each molecule is to a model (applicability domain), with the
model's calibrated threshold; ``--calibrate`` fits that threshold on held-out molecules."""

from __future__ import annotations

import argparse

from molvae.cli.common import add_model_args, load_generator, output, read_input, write_table


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "anomaly",
        help="anomaly / applicability-domain score of each molecule",
        description="Score how unusual each molecule is to the model (higher = more unusual): "
        "one row per input with anomaly, percentile (against the model's held-out molecules), "
        "outlier (above its stored threshold) and the parts (neg_elbo, recon_nll, kl, n_tokens, "
        "exact). With --calibrate, FILE holds held-out molecules like the training data: the "
        "threshold is fitted on them and the model written with it to --save.",
    )
    add_model_args(p)
    p.add_argument("input", help=".smi/.txt/.csv file of SMILES")
    p.add_argument("--column", help="CSV column")
    p.add_argument("-o", "--out", help="output CSV (one row per input)")
    p.add_argument(
        "--reference", help="SMILES file (e.g. the training set): adds the nn_similarity baseline"
    )
    p.add_argument(
        "--calibrate",
        action="store_true",
        help="fit the threshold on FILE (held-out molecules) and write the model to --save",
    )
    p.add_argument("--quantile", type=float, default=0.99, help="threshold quantile (--calibrate)")
    p.add_argument("--save", help="checkpoint to write with the threshold (--calibrate)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.calibrate and not args.save:
        raise ValueError("--calibrate needs --save MODEL.pt: where to write the calibrated model")
    if not args.calibrate and not args.out:
        raise ValueError("give -o OUT.csv (or --calibrate --save MODEL.pt)")
    if not args.calibrate and args.save:
        raise ValueError("--save goes with --calibrate")
    out = output(args.out, args.input, args.reference, kind="table")
    save = output(args.save, args.input, kind=(".pt",))
    gen = load_generator(args.model, args.device)
    smiles = read_input(args.input, args.column)
    if args.calibrate:
        cal = gen.calibrate_anomaly(
            smiles, quantile=args.quantile, source=f"{args.input}", seed=args.seed
        )
        gen.save(save)
        print(
            f"threshold {cal.threshold:.4g} ({cal.score}, the {cal.quantile:g} quantile of "
            f"{cal.n:,} molecules) stored in {args.save}"
        )
        if out is None:
            return 0
    reference = read_input(args.reference) if args.reference else None
    df = gen.anomaly(smiles, reference=reference, seed=args.seed)
    write_table(df, out)
    unreadable = int(df.reason.notna().sum())
    print(
        f"{int(df.outlier.sum()):,} of {len(df):,} molecules above the threshold "
        f"{df.attrs['threshold']:.4g} ({unreadable:,} unreadable, counted as outliers) -> {args.out}"
    )
    return 0
