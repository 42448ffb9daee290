"""Train recipe variants under one fixed budget and print one MOSES-metrics row per variant.

The equal-budget protocol of the recipe issue: a seeded random 200,000 molecules of MOSES train
(prepared once, shared by every variant), the same budget for every variant (``--epochs`` passes
over the data, capped by ``--time-limit`` minutes; on 2 undisturbed cores 2 epochs of the small
network take about 600 s: the row reports the real training seconds), then for each way of
sampling (``--sampling``): 10,000 samples scored by ``mv.evaluate`` against the MOSES test set,
plus exact reconstruction of 1,000 random held-out MOSES test molecules, active units and KL.

A variant is a name from ``VARIANTS`` (``--list`` prints them) or an inline ``name:key=value,...``
(keys: ModelConfig or TrainConfig fields). An unknown lever or a variant that fails (NaN loss,
collapse, an exception) gets a row marked failed with the reason; the sweep goes on.

Example (what the recipe table in docs/recipe.md came from)::

    python scripts/recipe_sweep.py --variants b002,b005,b01,b02 --out runs/sweep
    python scripts/recipe_sweep.py --variants b01 --tokenizer selfies --out runs/sweep

Runs already trained in ``--out`` are evaluated again without retraining (``--retrain`` redoes
them); the table is appended to ``--out``/sweep.csv and printed as markdown.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from dataclasses import asdict, fields
from pathlib import Path

import pandas as pd

import molvae as mv
from molvae.config import ModelConfig, TrainConfig, load_config
from molvae.losses import collapsed

BASE = "small"
# name -> overrides of the base preset ("model.x" / "train.x" or a bare field name)
VARIANTS: dict[str, dict] = {
    "b002": {"kl_weight": 0.02},
    "b005": {"kl_weight": 0.05},
    "b01": {"kl_weight": 0.1},
    "b02": {"kl_weight": 0.2},
    "b05": {"kl_weight": 0.5},
    "b01_fb": {"kl_weight": 0.1, "free_bits": 0.5},
    "b01_cyc": {"kl_weight": 0.1, "kl_schedule": "cyclical", "kl_warmup_steps": 750},
    "b01_z32": {"kl_weight": 0.1, "latent_dim": 32},
    "b01_wd": {"kl_weight": 0.1, "word_dropout": 0.1},
    "b01_dec512": {"kl_weight": 0.1, "decoder_hidden_dim": 512},
    "b01_lr1e3": {"kl_weight": 0.1, "lr": 0.001},
    "b01_bs256": {"kl_weight": 0.1, "batch_size": 256, "lr": 0.004},
    "b01_bf16": {"kl_weight": 0.1, "amp": "bf16"},
    # two random (non-canonical) SMILES of each molecule instead of its canonical one, one pass:
    # the same number of steps as two passes over the canonical data
    "b01_rand2": {"kl_weight": 0.1, "randomize": 2},
}
SWEEP_LEVERS = ("randomize",)  # levers of the data, applied here rather than in the configs
SAMPLING = {
    "prior": {"prior": "standard", "temperature": 1.0},
    "prior_t07": {"prior": "standard", "temperature": 0.7},
    "learned": {"prior": "learned", "temperature": 1.0},  # the prior stored by fit
    "gmm32": {"prior": "learned", "fit": ("gmm", 32, 1.0)},
    "post4k": {"prior": "learned", "fit": ("posterior", 4000, 1.0)},
    "post4k_s125": {"prior": "learned", "fit": ("posterior", 4000, 1.25)},
    "post4k_s15": {"prior": "learned", "fit": ("posterior", 4000, 1.5)},
    "post20k_s15": {"prior": "learned", "fit": ("posterior", 20000, 1.5)},
    "post20k_s16": {"prior": "learned", "fit": ("posterior", 20000, 1.6)},
    "post20k_s175": {"prior": "learned", "fit": ("posterior", 20000, 1.75)},
    "post20k_s2": {"prior": "learned", "fit": ("posterior", 20000, 2.0)},
    "post4k_s15_t07": {"prior": "learned", "fit": ("posterior", 4000, 1.5), "temperature": 0.7},
    "post4k_s15_t05": {"prior": "learned", "fit": ("posterior", 4000, 1.5), "temperature": 0.5},
    "post4k_s15_greedy": {"prior": "learned", "fit": ("posterior", 4000, 1.5), "method": "greedy"},
    "post4k_greedy": {"prior": "learned", "fit": ("posterior", 4000, 1.0), "method": "greedy"},
    "post4k_s075_greedy": {
        "prior": "learned",
        "fit": ("posterior", 4000, 0.75),
        "method": "greedy",
    },
    "post4k_s05_greedy": {"prior": "learned", "fit": ("posterior", 4000, 0.5), "method": "greedy"},
    "post20k_greedy": {"prior": "learned", "fit": ("posterior", 20000, 1.0), "method": "greedy"},
    "post20k_s075_greedy": {
        "prior": "learned",
        "fit": ("posterior", 20000, 0.75),
        "method": "greedy",
    },
    "post20k_s05_greedy": {
        "prior": "learned",
        "fit": ("posterior", 20000, 0.5),
        "method": "greedy",
    },
    "post4k_t05": {"prior": "learned", "fit": ("posterior", 4000, 1.0), "temperature": 0.5},
    "learned_t08": {"prior": "learned", "temperature": 0.8},
    "learned_t07": {"prior": "learned", "temperature": 0.7},
    "learned_t06": {"prior": "learned", "temperature": 0.6},
    "learned_t05": {"prior": "learned", "temperature": 0.5},
    "learned_greedy": {"prior": "learned", "method": "greedy"},
}
COLUMNS = [
    "valid", "unique@10000", "FCD/Test", "SNN/Test", "Frag/Test", "Scaf/Test", "Filters",
    "IntDiv", "Novelty",
]  # fmt: skip

log = logging.getLogger("recipe_sweep")


def split_variants(text: str) -> list[str]:
    """``"b01,b02:kl_weight=0.2,free_bits=1,b05"`` -> ``["b01", "b02:kl_weight=0.2,free_bits=1",
    "b05"]``: a ``key=value`` piece belongs to the ``name:...`` spec before it."""
    specs: list[str] = []
    for piece in (p.strip() for p in text.split(",")):
        if piece and "=" in piece and ":" not in piece and specs and ":" in specs[-1]:
            specs[-1] += "," + piece
        elif piece:
            specs.append(piece)
    return specs


def parse_variant(spec: str) -> tuple[str, dict]:
    """``name`` from VARIANTS or ``name:key=value,key=value``; raises ValueError for unknown ones."""
    if ":" in spec:
        name, body = spec.split(":", 1)
        overrides = {}
        for item in filter(None, body.split(",")):
            key, _, value = item.partition("=")
            try:
                overrides[key.strip()] = json.loads(value)
            except json.JSONDecodeError:
                overrides[key.strip()] = value
        return name, overrides
    if spec not in VARIANTS:
        raise ValueError(f"unknown variant {spec!r}; known: {sorted(VARIANTS)}")
    return spec, VARIANTS[spec]


def configs(overrides: dict, tokenizer: str, args) -> tuple[ModelConfig, TrainConfig]:
    """The base preset with the variant's levers; an unknown lever raises ValueError."""
    model_cfg, train_cfg = load_config(preset=BASE)
    m, t = asdict(model_cfg), asdict(train_cfg)
    model_keys, train_keys = (
        {f.name for f in fields(ModelConfig)},
        {f.name for f in fields(TrainConfig)},
    )
    t.update(
        tokenizer=tokenizer, epochs=args.epochs, time_limit_minutes=args.time_limit, seed=args.seed
    )
    for key, value in overrides.items():
        if key in SWEEP_LEVERS:
            continue
        section, _, name = key.rpartition(".")
        if name in model_keys and section in ("", "model"):
            m[name] = value
        elif name in train_keys and section in ("", "train"):
            t[name] = value
        else:
            raise ValueError(f"unknown lever {key!r} (not a ModelConfig or TrainConfig field)")
    return ModelConfig(**m), TrainConfig(**t)


def _random_chunk(args: tuple[list[str], int, int]) -> list[str]:
    from rdkit import Chem, rdBase

    values, k, seed = args
    out = []
    with rdBase.BlockLogs():
        for n, s in enumerate(values):
            out += list(
                Chem.MolToRandomSmilesVect(Chem.MolFromSmiles(s), k, randomSeed=seed + n + 1)
            )
    return out


def randomized(smiles: list[str], k: int, seed: int, n_jobs: int) -> list[str]:
    """``k`` random (non-canonical, seeded) SMILES of each molecule, in order."""
    from molvae.parallel import chunked, map_chunks

    chunks = [(c, k, seed + i * 10_000) for i, c in enumerate(chunked(smiles, 10_000))]
    return [s for part in map_chunks(_random_chunk, chunks, n_jobs, False, "") for s in part]


def train_variant(name, overrides, data, args, run_dir: Path) -> dict:
    k = int(overrides.get("randomize", 1))
    if k > 1:  # SMILES randomisation: k random forms per molecule, the same number of steps
        if args.epochs % k:
            raise ValueError(f"randomize={k} needs --epochs divisible by it, got {args.epochs}")
        args = argparse.Namespace(**{**vars(args), "epochs": args.epochs // k})
        strings = randomized(data.smiles, k, args.seed, args.n_jobs)
        data = mv.prepare(
            strings, data.tokenizer.kind, max_len=100, canonicalize=False, dedupe=False,
            n_jobs=args.n_jobs,
        )  # fmt: skip
        log.info("randomize=%d: %s", k, data.report)
    model_cfg, train_cfg = configs(overrides, data.tokenizer.kind, args)
    t0 = time.monotonic()
    result = mv.fit(
        data, model_cfg, train_cfg, out_dir=run_dir, overwrite=True, progress=not args.no_progress
    )
    seconds = time.monotonic() - t0
    last = result.history.iloc[-1]
    info = {
        "train_seconds": round(float(result.history.epoch_seconds.sum()), 1),  # optimisation
        "fit_seconds": round(seconds, 1),  # + validation, checkpoints, the learned prior
        "epochs": int(last["epoch"]),
        "steps": int(last["step"]),
        "stopped": result.stopped_because,
        "val_kl": float(last["val_kl"]),
        "active_units": int(last["active_units"]),
        "latent_dim": model_cfg.latent_dim,
    }
    (run_dir / "sweep_train.json").write_text(json.dumps(info, indent=1))
    return info


def evaluate_variant(run_dir: Path, info: dict, args, test: pd.Series, train_set) -> list[dict]:
    gen = mv.load(run_dir, device="cpu")
    rows = []
    rec = gen.reconstruct(test.tolist(), n_decodes=1)
    recon = float(rec.attrs["exact_match"])
    fitted = {}
    for mode in args.sampling:
        opts = dict(SAMPLING[mode])
        kind = opts.pop("fit", None)  # a prior made here from the same training molecules
        if kind is not None:
            if kind not in fitted:
                method, k, spread = kind
                fitted[kind] = gen.fit_prior(
                    train_set, k, method=method, spread=spread, seed=args.seed
                )
            gen.prior = fitted[kind]
        t0 = time.monotonic()
        samples = gen.sample(args.samples, seed=args.seed, **opts)
        t_sample = time.monotonic() - t0
        metrics = mv.evaluate(samples.smiles, reference="moses", n_jobs=args.n_jobs)
        rows.append(
            {
                "sampling": mode,
                **{c: metrics.get(c, math.nan) for c in COLUMNS},
                "recon_exact": recon,
                "sample_seconds": round(t_sample, 1),
            }
        )
        log.info("%s %s: %s", run_dir.name, mode, rows[-1])
    return rows


def markdown(table: pd.DataFrame) -> str:
    """A markdown table (floats to 3 decimals) without the optional ``tabulate`` dependency."""

    def cell(v) -> str:
        return (
            f"{v:.3f}"
            if isinstance(v, float) and not math.isnan(v)
            else ("" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
        )

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += [
        "| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)
    ]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variants", default="b002,b005,b01,b02", help="comma-separated; see --list")
    p.add_argument("--list", action="store_true", help="print the named variants and exit")
    p.add_argument("--tokenizer", default="smiles", choices=list(mv.TOKENIZERS))
    p.add_argument("--n-train", type=int, default=200_000)
    p.add_argument("--epochs", type=int, default=2, help="the budget: passes over the data")
    p.add_argument("--time-limit", type=float, default=15.0, help="minutes; caps each variant")
    p.add_argument("--samples", type=int, default=10_000)
    p.add_argument("--n-recon", type=int, default=1_000)
    p.add_argument("--sampling", default="prior,learned", help=f"of {sorted(SAMPLING)}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--out", default="runs/sweep")
    p.add_argument("--train-only", action="store_true")
    p.add_argument("--retrain", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.list:
        for name, levers in VARIANTS.items():
            print(f"{name:12s} {levers}")
        return 0
    args.sampling = [s.strip() for s in args.sampling.split(",") if s.strip()]
    for s in args.sampling:
        if s not in SAMPLING:
            p.error(f"unknown sampling {s!r}; known: {sorted(SAMPLING)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from molvae import datasets

    smiles = mv.read_smiles(datasets.resolve("moses:train"))
    smiles = smiles.sample(n=min(args.n_train, len(smiles)), random_state=args.seed).sort_index()
    prepared: list = []  # prepared once, on the first variant that needs training

    def data():
        if not prepared:
            prepared.append(mv.prepare(smiles, args.tokenizer, max_len=100, n_jobs=args.n_jobs))
        return prepared[0]

    test = mv.read_smiles(datasets.resolve("moses:test"))
    test = test.sample(n=args.n_recon, random_state=args.seed)
    prior_fit = smiles.sample(n=min(20_000, len(smiles)), random_state=args.seed + 1)

    rows, table_path = [], out / f"sweep_{args.tokenizer}_{time.strftime('%Y%m%d-%H%M%S')}.csv"
    for spec in split_variants(args.variants):
        row = {"variant": spec, "tokenizer": args.tokenizer}
        try:
            name, overrides = parse_variant(spec)
            row.update(variant=name, levers=json.dumps(overrides, sort_keys=True))
            run_dir = out / f"{name}_{args.tokenizer}"
            done = run_dir / "sweep_train.json"
            if done.exists() and not args.retrain:
                info = json.loads(done.read_text())
            else:
                info = train_variant(name, overrides, data(), args, run_dir)
            row.update(info)
            if collapsed(info["val_kl"], info["active_units"], info["latent_dim"]):
                rows.append(
                    {
                        **row,
                        "status": f"failed: posterior collapse (KL {info['val_kl']:.2f}, "
                        f"{info['active_units']}/{info['latent_dim']} active units)",
                    }
                )
                continue
            if args.train_only:
                rows.append({**row, "status": "trained"})
                continue
            for r in evaluate_variant(run_dir, info, args, test, prior_fit.tolist()):
                rows.append({**row, **r, "status": "ok"})
        except Exception as err:  # a failed variant is a row, not the end of the sweep
            log.exception("variant %s failed", spec)
            rows.append({**row, "status": f"failed: {type(err).__name__}: {err}"[:200]})
        table = pd.DataFrame(rows)
        table.to_csv(table_path, index=False)
    table = pd.DataFrame(rows)
    shown = [c for c in ["variant", "sampling", *COLUMNS, "recon_exact", "active_units",
                         "val_kl", "steps", "train_seconds", "status"] if c in table]  # fmt: skip
    print(markdown(table[shown]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
