"""What a model's latent units mean: KL per unit (active units), a linear probe per property,
the unit x property correlations, and traversals of the units most tied to each property, checked
on the decoded molecules (does the property move monotonically, and does size move with it?).

Example:
    >>> import molvae as mv
    >>> gen = mv.load("moses-smiles")
    >>> report = mv.latent_report(gen, out_dir="report")   # 2,000 MOSES test molecules
    >>> report.probes                                       # held-out R^2 per property
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from molvae.checks import check_count
from molvae.chem import check_property_names, score, smiles_list
from molvae.codec import Codec
from molvae.latent import traverse
from molvae.losses import kl_per_dim

logger = logging.getLogger(__name__)

REPORT_PROPERTIES = (
    "qed", "logp", "mw", "sa", "tpsa", "rings", "aromatic_rings", "heavy_atoms",
)  # fmt: skip
ACTIVE_KL = 0.01  # nats: a unit whose mean KL is below this carries (almost) no information
ACTIVE_VARIANCE = 0.01  # Burda et al. 2016: Var_x(E[z_d | x]) above this = an active unit


@dataclass
class LatentReport:
    """The tables of :func:`latent_report` (see its docstring); ``save`` writes them."""

    units: pd.DataFrame  # dim, kl, mu_variance, active
    probes: pd.DataFrame  # property, r2, top_dim, top_corr, n_train, n_test
    correlations: pd.DataFrame  # index dim, one column per property (Pearson r)
    traversals: (
        pd.DataFrame
    )  # property, start, dim, step, offset, z, smiles, valid, value, heavy_atoms
    monotonicity: pd.DataFrame  # property, dim, rho, rho_heavy_atoms, valid, distinct
    summary: dict[str, Any] = field(default_factory=dict)

    def save(self, out_dir: str | os.PathLike, pictures: bool = True) -> Path:
        """Write ``units.csv``, ``probes.csv``, ``correlations.csv``, ``traversals.csv``,
        ``monotonicity.csv``, ``summary.json`` and ``report.md``; with ``pictures`` (needs
        matplotlib) ``correlations.png`` and a ``traversal_<property>.png`` grid per property."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name in ("units", "probes", "traversals", "monotonicity"):
            getattr(self, name).to_csv(out / f"{name}.csv", index=False)
        self.correlations.to_csv(out / "correlations.csv", index_label="dim")
        (out / "summary.json").write_text(json.dumps(self.summary, indent=1) + "\n")
        (out / "report.md").write_text(self.markdown())
        if pictures:
            self._pictures(out)
        logger.info("latent report written to %s", out)
        return out

    def markdown(self) -> str:
        s = self.summary
        lines = [
            "# Latent report",
            "",
            f"{s['n_molecules']:,} molecules ({s['n_unreadable']} unreadable), latent size "
            f"{s['latent_dim']}: **{s['active_units']} active units** (mean KL > {ACTIVE_KL} nats; "
            f"{s['active_units_variance']} by Var(mu) > {ACTIVE_VARIANCE}), total KL "
            f"{s['total_kl']:.1f} nats per molecule.",
            "",
            "## Linear probes (held-out R^2) and the unit most tied to each property",
            "",
            _markdown(self.probes),
            "",
            "## Traversals of those units (decoded molecules)",
            "",
            "`rho`: mean Spearman correlation of the property with the step along the traversal, "
            "signed so that +1 is monotonic in the direction the correlation predicts; "
            "`rho_heavy_atoms`: the same for molecule size, to see whether the unit only changes "
            "length.",
            "",
            _markdown(self.monotonicity),
            "",
        ]
        return "\n".join(lines)

    def _pictures(self, out: Path) -> None:
        from molvae.viz import draw_grid, heatmap

        corr = self.correlations.loc[self.units.sort_values("kl", ascending=False).dim]
        corr.index.name = "latent unit (most KL first)"
        heatmap(corr, out / "correlations.png")
        for prop, rows in self.traversals.groupby("property", sort=False):
            rows = rows[rows.start < 3]  # three starts per property: a readable grid
            legends = [f"{prop} {v:.2f}" if np.isfinite(v) else "" for v in rows.value]
            draw_grid(
                rows.smiles.tolist(), legends=legends, path=out / f"traversal_{prop}.png",
                mols_per_row=int(rows.step.max()) + 1, size=(180, 150),
            )  # fmt: skip


def latent_report(
    gen: Codec,
    smiles: Sequence[Any] | None = None,
    n: int = 2000,
    properties: Sequence[str] = REPORT_PROPERTIES,
    starts: int = 8,
    steps: int = 9,
    span: float = 2.0,
    out_dir: str | os.PathLike | None = None,
    seed: int = 0,
) -> LatentReport:
    """What the latent units of ``gen`` carry, measured on ``smiles`` (default: ``n`` MOSES test
    molecules, which no bundled model saw).

    - ``units``: per unit, its mean KL to N(0, 1) (nats) and the variance of its posterior mean
      over the molecules; ``active`` where the KL exceeds ``ACTIVE_KL``.
    - ``probes``: per property, the held-out R^2 of a ridge regression from the posterior means
      (80/20 split), and the unit with the largest absolute correlation.
    - ``correlations``: Pearson r of every unit's posterior mean with every property.
    - ``traversals`` / ``monotonicity``: for each property's top unit, ``starts`` molecules are
      walked along it (``span`` times the unit's spread over the molecules, ``steps`` points,
      :func:`molvae.latent.traverse`); the decoded molecules' property and size along the walk,
      and how monotonically they move.

    Raises:
        ValueError: unknown property names, fewer than 20 readable molecules, bad traversal sizes.
    """
    t0 = time.monotonic()
    check_property_names(list(properties))
    starts = check_count("starts", starts)
    values = _molecules(smiles, n, seed)
    post = gen.posteriors(values)
    ok = np.asarray(post.inputs.ok, dtype=int)
    if len(ok) < 20:
        raise ValueError(f"a latent report needs at least 20 readable molecules, got {len(ok)}")
    mu, logvar = post.mu[ok].astype(np.float64), post.logvar[ok].astype(np.float64)
    canon = [post.inputs.canonical[k] for k in ok]
    units = _units(mu, logvar)
    props = score(canon, properties=list(properties)).reset_index(drop=True)
    correlations = _correlations(mu, props, list(properties))
    probes = _probes(mu, props, correlations, seed)
    traversals, mono = _traversals(gen, mu, props, probes, starts, steps, span, seed)
    summary = {
        "n_molecules": len(values),
        "n_unreadable": len(values) - len(ok),
        "latent_dim": gen.latent_dim,
        "active_units": int(units.active.sum()),
        "active_units_variance": int((units.mu_variance > ACTIVE_VARIANCE).sum()),
        "total_kl": float(units.kl.sum()),
        "seconds": round(time.monotonic() - t0, 1),
    }
    report = LatentReport(units, probes, correlations, traversals, mono, summary)
    if out_dir is not None:
        report.save(out_dir)
    logger.info(
        "latent report: %d of %d units active, probes R^2 %s (%.0f s)",
        summary["active_units"], gen.latent_dim,
        dict(zip(probes.property, probes.r2.round(2))), summary["seconds"],
    )  # fmt: skip
    return report


def _molecules(smiles: Sequence[Any] | None, n: int, seed: int) -> list[Any]:
    if smiles is not None:
        return smiles_list(smiles)
    from molvae import datasets

    test = datasets.load("moses", split="test").smiles
    return test.sample(n=min(n, len(test)), random_state=seed).tolist()


def _units(mu: np.ndarray, logvar: np.ndarray) -> pd.DataFrame:
    import torch

    kl = kl_per_dim(torch.from_numpy(mu), torch.from_numpy(logvar)).numpy()
    return pd.DataFrame(
        {
            "dim": np.arange(mu.shape[1]),
            "kl": kl,
            "mu_variance": mu.var(axis=0),
            "active": kl > ACTIVE_KL,
        }
    )


def _correlations(mu: np.ndarray, props: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    out = {}
    zc = (mu - mu.mean(0)) / np.maximum(mu.std(0), 1e-12)
    for name in names:
        y = props[name].to_numpy(dtype=np.float64)
        good = np.isfinite(y)
        yc = (y[good] - y[good].mean()) / max(y[good].std(), 1e-12)
        out[name] = zc[good].T @ yc / good.sum()
    return pd.DataFrame(out, index=pd.RangeIndex(mu.shape[1], name="dim"))


def _probes(mu: np.ndarray, props: pd.DataFrame, corr: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for name in corr.columns:
        y = props[name].to_numpy(dtype=np.float64)
        good = np.flatnonzero(np.isfinite(y))
        order = rng.permutation(good)
        cut = int(0.8 * len(order))
        train, test = order[:cut], order[cut:]
        r2 = ridge_r2(mu[train], y[train], mu[test], y[test])
        top = int(np.nanargmax(np.abs(corr[name].to_numpy())))
        rows.append((name, r2, top, float(corr[name].iloc[top]), len(train), len(test)))
    return pd.DataFrame(
        rows, columns=["property", "r2", "top_dim", "top_corr", "n_train", "n_test"]
    )


def ridge_r2(
    x: np.ndarray, y: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, alpha: float = 1.0
) -> float:
    """Held-out R^2 of a ridge regression (features standardised on the training rows)."""
    m, s = x.mean(0), np.maximum(x.std(0), 1e-12)
    a = np.hstack([(x - m) / s, np.ones((len(x), 1))])
    reg = alpha * np.eye(a.shape[1])
    reg[-1, -1] = 0.0  # no penalty on the intercept
    w = np.linalg.solve(a.T @ a + reg, a.T @ y)
    pred = np.hstack([(x_test - m) / s, np.ones((len(x_test), 1))]) @ w
    ss = ((y_test - y_test.mean()) ** 2).sum()
    return float(1 - ((y_test - pred) ** 2).sum() / ss) if ss > 0 else float("nan")


def _traversals(
    gen: Codec,
    mu: np.ndarray,
    props: pd.DataFrame,
    probes: pd.DataFrame,
    starts: int,
    steps: int,
    span: float,
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(mu), min(starts, len(mu)), replace=False)
    frames = []
    for prop, dim, corr in zip(probes.property, probes.top_dim, probes.top_corr):
        spread = float(np.sqrt(mu[:, dim].var())) or 1.0
        for k, i in enumerate(picks):
            walk = traverse(gen, mu[i].astype(np.float32), [dim], steps, span * spread, seed=seed)
            walk.insert(0, "start", k)
            walk.insert(0, "property", prop)
            walk["sign"] = np.sign(corr) or 1.0
            frames.append(walk)
    walks = pd.concat(frames, ignore_index=True)
    names = list(dict.fromkeys(walks.property))
    measured = score(
        walks.smiles.where(walks.valid, None),
        properties=list(dict.fromkeys([*names, "heavy_atoms"])),
    )
    walks["value"] = [measured[p].iloc[j] for j, p in enumerate(walks.property)]
    walks["heavy_atoms"] = measured["heavy_atoms"].to_numpy()
    mono = []
    for (prop, dim), rows in walks.groupby(["property", "dim"], sort=False):
        rho, rho_size, distinct = [], [], []
        for _, walk in rows.groupby("start"):
            ok = walk.valid.to_numpy() & np.isfinite(walk.value.to_numpy(dtype=float))
            distinct.append(walk.smiles[walk.valid].nunique())
            if ok.sum() >= 3:
                sign = walk.sign.iloc[0]
                rho.append(sign * _spearman(walk.step[ok], walk.value[ok]))
                rho_size.append(sign * _spearman(walk.step[ok], walk.heavy_atoms[ok]))
        mono.append(
            (prop, int(dim), _nanmean(rho), _nanmean(rho_size), float(rows.valid.mean()),
             float(np.mean(distinct)))
        )  # fmt: skip
    columns = ["property", "dim", "rho", "rho_heavy_atoms", "valid", "distinct"]
    return walks.drop(columns="sign"), pd.DataFrame(mono, columns=columns)


def _spearman(x: Any, y: Any) -> float:
    rx = pd.Series(np.asarray(x, dtype=float)).rank().to_numpy()
    ry = pd.Series(np.asarray(y, dtype=float)).rank().to_numpy()
    if rx.std() == 0 or ry.std() == 0:
        return 0.0  # a walk whose property never changes is not monotonic
    return float(np.corrcoef(rx, ry)[0, 1])


def _nanmean(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def _markdown(df: pd.DataFrame) -> str:
    def cell(v: Any) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)
