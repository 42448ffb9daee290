"""Bundle a trained run as a pretrained model inside the package, with its measured model card.

    python scripts/bundle_model.py runs/pretrained/moses-smiles moses-smiles \
        --command "bash scripts/train_pretrained.sh smiles" --hardware "2-core AMD EPYC, 1 thread"

Steps: copy the run's ``best.pt`` (weights, tokenizer, configuration, learned prior; no optimizer
state) to ``molvae/models/NAME.pt``; measure it the way a user meets it (``n`` samples with the
default settings of ``gen.sample``, scored by ``mv.evaluate`` against the MOSES test set, and exact
reconstruction of random MOSES test molecules, which no model saw in training); write the card
into the checkpoint's metadata and ``molvae/models/manifest.json`` (with the file's sha256); and
regenerate ``MODELS.md`` from the manifest. ``--also T`` adds rows sampled at temperature T.
The model's anomaly threshold (``molvae.anomaly``) is calibrated on ``--n-calibrate`` other MOSES
test molecules and stored with it; ``--calibrate-only`` does only that for an already bundled
model (its weights untouched):

    python scripts/bundle_model.py - moses-smiles-gpu --calibrate-only

``--rename`` gives a bundled model a new name (its file, its card's name, its manifest entry; the
weights and the measured card untouched) and keeps the old name as an alias (the manifest's
``renamed`` table), so that ``mv.load(OLD)`` goes on loading it:

    python scripts/bundle_model.py moses-smiles-dec2 moses-smiles --rename

With ``--rename``, ``--command`` and ``--summary`` replace the card's reproducing command and the
summary (the command's ``--init OLD`` must follow the model when ``OLD`` is given to another).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import pandas as pd
import torch

import molvae as mv
from molvae import bundled
from molvae import checkpoint as ckpt
from molvae.checks import check_count
from molvae.constants import BEAM_WIDTH, DECODE_METHODS, MAX_BEAM_WIDTH
from molvae.lineage import cpu_name

ROOT = Path(__file__).resolve().parents[1]
KEYS = {  # card key -> mv.evaluate key
    "valid": "valid",
    "unique@1k": "unique@1000",
    "unique@10k": "unique@10000",
    "FCD/Test": "FCD/Test",
    "SNN/Test": "SNN/Test",
    "Frag/Test": "Frag/Test",
    "Scaf/Test": "Scaf/Test",
    "FCD/TestSF": "FCD/TestSF",
    "SNN/TestSF": "SNN/TestSF",
    "Frag/TestSF": "Frag/TestSF",
    "Scaf/TestSF": "Scaf/TestSF",
    "IntDiv": "IntDiv",
    "IntDiv2": "IntDiv2",
    "Filters": "Filters",
    "logP": "logP",
    "SA": "SA",
    "QED": "QED",
    "weight": "weight",
    "novelty": "Novelty",
}
log = logging.getLogger("bundle_model")


def measure(gen, n: int, seed: int, n_jobs: int, **options) -> dict:
    t0 = time.monotonic()
    samples = gen.sample(n, seed=seed, progress=False, **options)
    t_sample = time.monotonic() - t0
    metrics = mv.evaluate(samples.smiles, reference="moses", n_jobs=n_jobs)
    out = {
        k: (None if metrics.get(v) is None else round(float(metrics[v]), 4))
        for k, v in KEYS.items()
    }
    out["sample_seconds"] = round(t_sample, 1)
    return out


def calibrate(gen, n: int, seed: int) -> dict:
    """Calibrate the anomaly threshold on ``n`` MOSES test molecules (drawn with ``seed + 1``, so
    not the reconstruction sample) and return it as plain data."""
    test = mv.read_smiles(mv.datasets.resolve("moses:test")).sample(n=n, random_state=seed + 1)
    cal = gen.calibrate_anomaly(
        test.tolist(), source=f"{n:,} MOSES test molecules (seed {seed + 1})"
    )
    log.info("anomaly threshold %.4f (%s, %g quantile)", cal.threshold, cal.score, cal.quantile)
    return cal.to_dict()


def calibrate_only(name: str, n: int, seed: int, data: dict, manifest_path: Path) -> None:
    """Add the anomaly calibration to an already bundled model; update its manifest entry."""
    out = bundled.path(name)
    cal = calibrate(mv.load(out, device="cpu"), n, seed)
    ckpt.set_metadata(out, {"anomaly": cal})
    entry = data["models"][name]
    entry["card"]["anomaly"] = anomaly_card(cal)
    entry.update(sha256=bundled.sha256(out), bytes=out.stat().st_size)
    manifest_path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def rename(
    old: str,
    new: str,
    data: dict,
    manifest_path: Path,
    command: str | None = None,
    summary: str | None = None,
) -> None:
    """Move the bundled model ``old`` to the name ``new`` (file, card and manifest entry; weights,
    prior and measured figures kept as they are), record ``old`` as an alias of ``new`` and make
    ``new`` the default if ``old`` was. ``command`` and ``summary``, when given, replace the card's
    reproducing command (whose ``--init OLD`` would now name another model once ``OLD`` is reused)
    and the manifest's summary."""
    models, renamed = data["models"], data.setdefault("renamed", {})
    if old not in models:
        raise SystemExit(f"--rename: {old!r} is not a bundled model (bundled: {sorted(models)})")
    if new in models:
        raise SystemExit(f"--rename: {new!r} is already a bundled model; rename or remove it first")
    src = bundled.path(old)
    out = src.with_name(f"{new}.pt")
    out.write_bytes(src.read_bytes())
    entry = models.pop(old)
    card = {**entry.get("card", {}), "name": new}
    if command:
        card["command"] = command
    if summary:
        entry["summary"] = summary
    ckpt.set_metadata(out, {"card": card})
    src.unlink()
    models[new] = {**entry, "file": out.name, "sha256": bundled.sha256(out),
                   "bytes": out.stat().st_size, "card": card}  # fmt: skip
    renamed.pop(new, None)  # the name is a model again, no longer an alias
    for alias, target in list(renamed.items()):
        if target == old:
            renamed[alias] = new
    renamed[old] = new
    if data.get("default") == old:
        data["default"] = new
    manifest_path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    log.info("renamed %s -> %s (%s); %r stays an alias", old, new, out, old)


def anomaly_card(cal: dict) -> dict:
    return {k: cal[k] for k in ("score", "quantile", "threshold", "n", "source")}


def lineage_lines(lineage: dict | None) -> list[str]:
    """The card's lineage: every piece of training behind the model, and the totals."""
    if not lineage or len(lineage.get("pieces", [])) < 2:
        return []
    t = lineage["total"]
    lines = [f"- **Lineage**: {t['pieces']} pieces, {t['steps']:,} steps, "
             f"{t['molecules_seen']:,} molecules seen"
             + (f", {t['seconds'] / 60:.0f} min" if t.get("seconds") else "")]  # fmt: skip
    for i, p in enumerate(lineage["pieces"], 1):
        minutes = f"{p['seconds'] / 60:.0f} min" if p.get("seconds") else "time unknown"
        widened = p.get("widened_from") or {}
        grown = (
            f" (from a copy of the previous piece with its {widened['decoder_hidden_dim']}-unit "
            "decoder widened, scripts/widen_model.py)"
            if widened.get("decoder_hidden_dim")
            else ""
        )
        lines.append(
            f"  {i}. {p.get('data')}: {p.get('steps') or 0:,} steps, "
            f"{p.get('molecules_seen') or 0:,} molecules, {minutes} on {p.get('hardware')}{grown}"
        )
    return lines


def last_piece_minutes(lineage: dict | None) -> float | None:
    """Wall minutes of the last piece of training, from the checkpoint's lineage (a checkpoint
    bundled without its run directory has no metrics.csv to sum)."""
    pieces = (lineage or {}).get("pieces") or []
    seconds = pieces[-1].get("seconds") if pieces else None
    return round(float(seconds) / 60, 1) if seconds is not None else None


def last_piece_hardware(lineage: dict | None) -> str:
    """The hardware the run's last training piece recorded, else this machine's CPU."""
    pieces = (lineage or {}).get("pieces") or []
    return (pieces[-1].get("hardware") if pieces else None) or f"{cpu_name()} (CPU)"


def anomaly_lines(a: dict | None) -> list[str]:
    if not a:
        return []
    return [f"- **Anomaly threshold** (`gen.anomaly`): {a['threshold']:.4f}, the {a['quantile']:g} "
            f"quantile of `{a['score']}` over {a['source']}"]  # fmt: skip


def render_models_md(data: dict) -> str:
    """MODELS.md from the manifest (the one source of the figures)."""
    cols = ["valid", "unique@10k", "FCD/Test", "SNN/Test", "Frag/Test", "Scaf/Test", "IntDiv",
            "Filters", "novelty", "recon_exact"]  # fmt: skip
    lines = [
        "# Bundled pretrained models",
        "",
        "Generated by `scripts/bundle_model.py` from `molvae/models/manifest.json`; do not edit by",
        "hand. Every figure was measured on the bundled file itself: samples drawn with the default",
        "settings of `gen.sample` / `molvae sample` (the model's learned prior, temperature 1, its",
        "own decoding: multinomial unless its card says greedy or beam search), scored by",
        "`mv.evaluate` against",
        "the full MOSES test set; `recon_exact` is",
        "exact (canonical) greedy reconstruction of random MOSES test molecules, which no model saw.",
        "",
        "```python",
        "import molvae as mv",
        "",
        "mv.pretrained()  # this table as a DataFrame",
        'gen = mv.load("moses-smiles")  # checked against its sha256 on every load',
        "```",
        "",
        "| model | tokenizer | parameters | MB | " + " | ".join(cols) + " |",
        "|---|---|---|---|" + "---|" * len(cols),
    ]
    for name, entry in sorted(data["models"].items()):
        c, m = entry["card"], entry["card"]["metrics"]
        cells = [f"{m[k]:.3f}" if isinstance(m.get(k), float) else str(m.get(k)) for k in cols]
        lines.append(
            f"| `{name}` | {c['tokenizer']} | {c['parameters']:,} | "
            f"{entry['bytes'] / 1e6:.1f} | " + " | ".join(cells) + " |"
        )
    aliases = sorted(data.get("renamed", {}).items())
    if aliases:
        lines += ["", "Older names, still loaded as aliases: " + ", ".join(
            f"`{old}` (now `{new}`)" for old, new in aliases) + "."]  # fmt: skip
    for name, entry in sorted(data["models"].items()):
        c = entry["card"]
        lines += [
            "",
            f"## `{name}`" + (" (default)" if name == data.get("default") else ""),
            "",
            entry.get("summary", ""),
            "",
            f"- **Data**: {c['data']} ({c['n_train'] or 0:,} molecules after preparation, "
            f"validation included; file sha256 `{c['data_sha256'] or 'unknown'}`)",
            f"- **Tokenizer**: {c['tokenizer']} ({c['vocab_size']} tokens)",
            f"- **Network**: {json.dumps(c['model_config'])}",
            f"- **Training**: {c['epochs']} epochs, {c['steps']:,} steps, batch "
            f"{c['train_config'].get('batch_size')}, lr {c['train_config'].get('lr')}, beta "
            f"{c['train_config'].get('kl_weight')}; "
            + (
                f"{c['train_minutes']:.0f} min"
                if c["train_minutes"] is not None
                else "time unknown"
            )
            + f" on {c['hardware']}",
            f"- **Reproduce**: `{c['command']}`",
            f"- **Learned prior**: {c['prior']}",
            *anomaly_lines(c.get("anomaly")),
            f"- **File**: `molvae/models/{entry['file']}`, {entry['bytes']:,} bytes, sha256 "
            f"`{entry['sha256']}`"
            + (
                f"; weights stored as {c['storage']}, loaded as float32"
                if c.get("storage", "float32") != "float32"
                else ""
            ),  # fmt: skip
            *lineage_lines(c.get("lineage")),
            f"- **Measured** with molvae {c['measured_with']} on {c['n_samples']:,} samples "
            f"(seed {c['seed']}"
            + (
                f", {c['sampling']['precision']} decoding"
                if (c.get("sampling") or {}).get("precision")
                else ""
            )
            + f"), reconstruction of {c['n_recon']:,} test molecules",
            "",
            "| sampling | " + " | ".join(k for k in KEYS) + " |",
            "|---|" + "---|" * len(KEYS),
        ]
        method = (c.get("sampling") or {}).get("method", "multinomial")
        label = "default (T = 1)" if method == "multinomial" else f"default ({method})"
        if method == "beam":
            width = (c.get("sampling") or {}).get("beam_width", BEAM_WIDTH)
            label = f"default (beam search, width {width})"
        for row in [{"sampling": label, **c["metrics"]}, *c.get("also", [])]:
            cells = [
                f"{row[k]:.3f}" if isinstance(row.get(k), float) else str(row.get(k)) for k in KEYS
            ]
            lines.append(f"| {row['sampling']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="run directory (its best.pt) or checkpoint (with --rename: the "
                   "bundled name to rename)")  # fmt: skip
    p.add_argument("name", help="bundled name, e.g. moses-smiles")
    p.add_argument("--summary", default="", help="one paragraph for MODELS.md (with --rename: "
                   "replaces the model's, when given)")  # fmt: skip
    p.add_argument(
        "--command",
        help="the command that reproduces the training (required to bundle; with --rename: "
        "replaces the card's, e.g. when its --init names the old name)",
    )
    p.add_argument("--hardware", default=None, help="default: what the last training piece "
                   "recorded (its CPU kind or GPU, threads, precision), else this machine's CPU")  # fmt: skip
    p.add_argument("--default", action="store_true", help="make it the default model (also with "
                   "--rename or --render-only: make the bundled NAME the default)")  # fmt: skip
    p.add_argument("--samples", type=int, default=30_000)
    p.add_argument("--n-recon", type=int, default=1_000)
    p.add_argument(
        "--also",
        default="",
        help="comma list of extra rows: sampling temperatures (multinomial), 'multinomial' for "
        "raw multinomial samples at T = 1, or 'greedy', beside a greedy or beam-search default",
    )
    p.add_argument(
        "--decoding",
        choices=list(DECODE_METHODS),
        default=None,
        help="the model's own decoding, stored with it (what sample uses by default; default: "
        "the checkpoint's, else multinomial)",
    )
    p.add_argument(
        "--beam-width",
        type=int,
        default=None,
        help="hypotheses kept by beam-search decoding, stored with the model (default: the "
        "checkpoint's, else 3)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument(
        "--storage",
        choices=["float32", "float16"],
        default="float32",
        help="precision of the stored weights and prior (float16: half the bytes, loaded as float32)",
    )
    p.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16"],
        help="precision of the card's sampling, reconstruction and calibration (default auto: "
        "bf16 where the CPU has native bf16, as users get; recorded on the card)",
    )
    p.add_argument("--n-calibrate", type=int, default=2_000, help="anomaly calibration molecules")
    p.add_argument(
        "--calibrate-only",
        action="store_true",
        help="only (re)calibrate a bundled model's anomaly threshold",
    )
    p.add_argument("--render-only", action="store_true", help="only regenerate MODELS.md")
    p.add_argument(
        "--rename",
        action="store_true",
        help="rename the bundled model RUN to NAME, keeping RUN as an alias",
    )
    p.add_argument("--models-md", default=str(ROOT / "MODELS.md"))
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    models_dir = bundled.models_dir()  # MOLVAE_MODELS_DIR overrides (trial runs)
    manifest_path = models_dir / "manifest.json"
    data = bundled.manifest()
    if args.calibrate_only:
        calibrate_only(args.name, args.n_calibrate, args.seed, data, manifest_path)
    if args.rename:
        rename(args.run, args.name, data, manifest_path, args.command, args.summary)
    if args.default and (args.render_only or args.rename):  # make a bundled model the default
        if args.name not in data["models"]:
            p.error(f"--default: {args.name!r} is not a bundled model")
        data["default"] = args.name
        manifest_path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    if args.render_only or args.calibrate_only or args.rename:
        Path(args.models_md).write_text(render_models_md(data))
        return 0
    if not args.command:
        p.error("--command is required to bundle a run (the command that reproduces it)")

    src = ckpt.load(ckpt.resolve(args.run))
    run_dir = Path(args.run) if Path(args.run).is_dir() else None
    history = pd.read_csv(run_dir / "metrics.csv") if run_dir else pd.DataFrame()
    models_dir.mkdir(parents=True, exist_ok=True)
    out = models_dir / f"{args.name}.pt"
    model = src.build_model("cpu")
    method = args.decoding or (src.metadata.get("sampling") or {}).get("method", "multinomial")
    src.metadata["sampling"] = {**(src.metadata.get("sampling") or {}), "method": method}
    if args.beam_width is not None:
        src.metadata["sampling"]["beam_width"] = check_count(
            "--beam-width", args.beam_width, 1, MAX_BEAM_WIDTH
        )
    tc = src.train_config or {}
    data_file = mv.datasets.resolve(tc["data"]) if tc.get("data") else None
    n_params = sum(p.numel() for p in model.parameters())
    prior_info = "none"
    if src.prior is not None:
        from molvae.prior import GaussianMixturePrior

        pr = GaussianMixturePrior.from_dict(src.prior)
        what = (
            f"the aggregate posterior: an equal mixture of q(z|x) of {pr.n_components:,} "
            f"training molecules"
            if pr.info.get("method") == "posterior"
            else f"a mixture of {pr.n_components} full-covariance Gaussians fitted by EM"
        )
        prior_info = (
            f"{what}, sampled with spread {pr.spread:g} (stored in the checkpoint as plain data "
            f"with its own sha256)"
        )
    card = {
        "name": args.name,
        "tokenizer": src.tokenizer.kind,
        "vocab_size": src.tokenizer.vocab_size,
        "parameters": n_params,
        "model_config": {k: v for k, v in src.model_config.__dict__.items()},
        "train_config": tc,
        "data": tc.get("data") or str(src.metadata.get("data", "")),
        "data_sha256": bundled.sha256(Path(data_file)) if data_file else None,
        "n_train": (src.metadata.get("prepare_report") or {}).get("kept")
        or src.metadata.get("n_train"),
        "epochs": int(history.epoch.max()) if len(history) else src.metadata.get("epoch"),
        "steps": int(history.step.max()) if len(history) else src.metadata.get("step"),
        "train_minutes": round(float(history.epoch_seconds.sum()) / 60, 1)
        if len(history)
        else last_piece_minutes(src.metadata.get("lineage"))
        or (src.metadata.get("card") or {}).get("train_minutes"),  # a rebundled file keeps its own
        "hardware": args.hardware or last_piece_hardware(src.metadata.get("lineage")),
        "command": args.command,
        "prior": prior_info,
        "trained_with": {k: src.metadata.get(k) for k in ("molvae", "torch", "rdkit", "selfies")},
        "lineage": src.metadata.get("lineage"),
    }
    storage = {"float32": None, "float16": torch.float16}[args.storage]
    card["storage"] = args.storage
    ckpt.save(out, model, src.tokenizer, train_config=tc, metadata={**src.metadata, "card": card},
              prior=src.prior, storage_dtype=storage)  # fmt: skip

    gen = mv.load(out, device="cpu", precision=args.precision)
    test = mv.read_smiles(mv.datasets.resolve("moses:test"))
    test = test.sample(n=args.n_recon, random_state=args.seed)
    t0 = time.monotonic()
    recon = float(gen.reconstruct(test.tolist(), n_decodes=1).attrs["exact_match"])
    log.info("%s: exact reconstruction %.3f (%.0f s)", args.name, recon, time.monotonic() - t0)
    anomaly = calibrate(gen, args.n_calibrate, args.seed)
    card["anomaly"] = anomaly_card(anomaly)
    metrics = measure(gen, args.samples, args.seed, args.n_jobs)
    metrics["recon_exact"] = round(recon, 4)
    log.info("%s default sampling: %s", args.name, metrics)
    also = []
    for item in (x.strip() for x in args.also.split(",") if x.strip()):
        t = 1.0 if item in ("multinomial", "greedy") else float(item)
        how = "greedy" if item == "greedy" else "multinomial"
        row = measure(gen, args.samples, args.seed, args.n_jobs, temperature=t, method=how)
        label = {"multinomial": "multinomial (T = 1)", "greedy": "greedy"}.get(
            item, f"temperature {t:g}"
        )
        also.append({"sampling": label, **row, "recon_exact": round(recon, 4)})
        log.info("%s %s: %s", args.name, label, row)
    card.update(
        metrics=metrics,
        also=also,
        n_samples=args.samples,
        n_recon=args.n_recon,
        seed=args.seed,
        sampling={
            "prior": "auto (the learned prior)",
            "temperature": 1.0,
            "method": method,
            **({"beam_width": gen.beam_width} if method == "beam" else {}),
            "precision": gen.precision,
        },
        measured_with=mv.__version__,
    )  # fmt: skip
    card = json.loads(json.dumps(card, default=lambda x: None if x != x else str(x)))
    meta = {**src.metadata, "card": card, "anomaly": anomaly}
    ckpt.save(out, model, src.tokenizer, train_config=tc, metadata=meta, prior=src.prior,
              storage_dtype=storage)  # fmt: skip
    data["models"][args.name] = {
        "file": out.name,
        "sha256": bundled.sha256(out),
        "bytes": out.stat().st_size,
        "summary": args.summary,
        "card": card,
    }
    if args.default or not data.get("default"):
        data["default"] = args.name
    data.get("renamed", {}).pop(args.name, None)  # a real model now, no longer an alias
    manifest_path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    Path(args.models_md).write_text(render_models_md(data))
    log.info("bundled %s: %s (%s bytes)", args.name, out, f"{out.stat().st_size:,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
