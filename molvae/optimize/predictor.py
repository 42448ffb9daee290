"""Property predictors over the latent space: a small MLP from codes to properties, used as the
gradient search's surrogate and offered on its own (``gen.fit_predictor``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from molvae.checks import check_count
from molvae.device import torch_generator
from molvae.optimize.objective import NUMERIC

if TYPE_CHECKING:  # pragma: no cover
    from molvae.codec import Codec

logger = logging.getLogger(__name__)


class PropertyPredictor(torch.nn.Module):
    """A small MLP from latent codes ``(N, Z)`` to properties ``(N, P)``, inputs and targets
    standardised. Plain-data ``to_dict``/``from_dict`` (a checkpoint-safe dict of tensors)."""

    def __init__(self, latent_dim: int, names: Sequence[str], hidden: int = 256) -> None:
        super().__init__()
        self.names = list(names)
        self.hidden = int(hidden)
        self.net = torch.nn.Sequential(
            torch.nn.Linear(latent_dim, hidden),
            torch.nn.SiLU(),
            torch.nn.Linear(hidden, hidden),
            torch.nn.SiLU(),
            torch.nn.Linear(hidden, len(self.names)),
        )
        self.register_buffer("z_mean", torch.zeros(latent_dim))
        self.register_buffer("z_std", torch.ones(latent_dim))
        self.register_buffer("y_mean", torch.zeros(len(self.names)))
        self.register_buffer("y_std", torch.ones(len(self.names)))
        self.report: dict[str, dict[str, float]] = {}

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``(N, Z) -> (N, P)`` in the properties' own units."""
        return self.net((z - self.z_mean) / self.z_std) * self.y_std + self.y_mean

    def predict(self, z: Any) -> pd.DataFrame:
        with torch.no_grad():
            y = self(torch.as_tensor(np.asarray(z, dtype=np.float32)))
        return pd.DataFrame(y.numpy(), columns=self.names)

    def fit(
        self,
        z: np.ndarray,
        y: np.ndarray,
        epochs: int = 300,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        val_fraction: float = 0.1,
        seed: int = 0,
    ) -> PropertyPredictor:
        """Full-batch AdamW on ``z (N, Z)``, ``y (N, P)``; ``report`` holds held-out R² and MAE
        per property (on a seeded ``val_fraction``; the final fit then uses every row)."""
        z_t = torch.as_tensor(np.asarray(z, dtype=np.float32))
        y_t = torch.as_tensor(np.asarray(y, dtype=np.float32)).reshape(len(z_t), -1)
        ok = torch.isfinite(z_t).all(1) & torch.isfinite(y_t).all(1)
        z_t, y_t = z_t[ok], y_t[ok]
        if len(z_t) < 4:
            raise ValueError(f"need at least 4 labelled latent points, got {len(z_t)}")
        g = torch_generator(seed)
        perm = torch.randperm(len(z_t), generator=g)
        n_val = int(len(z_t) * val_fraction) if len(z_t) >= 20 else 0
        if n_val:
            val, tr = perm[:n_val], perm[n_val:]
            self._train(z_t[tr], y_t[tr], epochs, lr, weight_decay, seed)
            with torch.no_grad():
                pred = self(z_t[val])
            self.report = _regression_report(pred, y_t[val], self.names)
        self._train(z_t, y_t, epochs, lr, weight_decay, seed)
        return self

    def _train(self, z, y, epochs, lr, weight_decay, seed) -> None:
        torch.manual_seed(seed)
        for layer in self.net:
            if isinstance(layer, torch.nn.Linear):
                layer.reset_parameters()
        self.z_mean.copy_(z.mean(0))
        self.z_std.copy_(z.std(0).clamp_min(1e-3) if len(z) > 1 else torch.ones(z.shape[1]))
        self.y_mean.copy_(y.mean(0))
        self.y_std.copy_(y.std(0).clamp_min(1e-6) if len(y) > 1 else torch.ones(y.shape[1]))
        opt = torch.optim.AdamW(self.net.parameters(), lr=lr, weight_decay=weight_decay)
        target = (y - self.y_mean) / self.y_std
        zn = (z - self.z_mean) / self.z_std
        self.train()
        for _ in range(epochs):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(self.net(zn), target)
            loss.backward()
            opt.step()
        self.eval()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "molvae-property-predictor",
            "names": list(self.names),
            "hidden": self.hidden,
            "latent_dim": int(self.z_mean.shape[0]),
            "state_dict": {k: v.detach().cpu().clone() for k, v in self.state_dict().items()},
            "report": self.report,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PropertyPredictor:
        """Rebuild a predictor; its sizes are checked against the stored weights' shapes before
        anything is allocated (a hostile ``hidden`` of 10^9 is refused, not attempted)."""
        if not isinstance(d, Mapping) or d.get("kind") != "molvae-property-predictor":
            raise ValueError("not a molvae property predictor")
        state, names = d.get("state_dict"), d.get("names")
        if not isinstance(state, Mapping) or not all(
            isinstance(v, torch.Tensor) for v in state.values()
        ):
            raise ValueError("property predictor: state_dict is not a table of tensors")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise ValueError(f"property predictor: names must be a list of strings, got {names!r}")
        sizes = [d.get("latent_dim"), d.get("hidden")]
        if not all(
            isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= 65_536 for s in sizes
        ):
            raise ValueError(
                f"property predictor: latent_dim and hidden must be 1..65536, got {sizes}"
            )
        with torch.device("meta"):
            expected = {
                k: tuple(v.shape) for k, v in cls(*sizes[:1], names, sizes[1]).state_dict().items()
            }
        if expected != {k: tuple(v.shape) for k, v in state.items()}:
            raise ValueError(
                "property predictor: the weights do not fit its latent_dim, hidden and names"
            )
        p = cls(int(d["latent_dim"]), names, int(d["hidden"]))
        p.load_state_dict(state)
        p.report = dict(d.get("report") or {})
        return p.eval()

    def save(self, path: Any) -> None:
        from molvae.checkpoint import write_plain

        write_plain(self.to_dict(), path, what="property predictor")

    @classmethod
    def load(cls, path: Any) -> PropertyPredictor:
        """A saved predictor (plain data only: pickled objects are refused, see
        :func:`molvae.checkpoint.read_plain`)."""
        from molvae.checkpoint import read_plain

        return cls.from_dict(read_plain(path, what="property predictor"))


def _regression_report(pred: torch.Tensor, y: torch.Tensor, names: list[str]) -> dict:
    out = {}
    for j, name in enumerate(names):
        err = pred[:, j] - y[:, j]
        var = float(((y[:, j] - y[:, j].mean()) ** 2).mean())
        out[name] = {
            "r2": 1.0 - float((err**2).mean()) / var if var > 0 else float("nan"),
            "mae": float(err.abs().mean()),
            "n": len(y),
        }
    return out


def fit_predictor(
    gen: Codec,
    smiles: Sequence[str],
    properties: Sequence[str] | str = ("qed", "sa", "logp"),
    labels: pd.DataFrame | Mapping[str, Sequence[float]] | None = None,
    hidden: int = 256,
    epochs: int = 300,
    seed: int = 0,
) -> PropertyPredictor:
    """Train a :class:`PropertyPredictor` from the codes (posterior means) of ``smiles`` to
    ``properties`` computed with RDKit, or to a user's ``labels`` (columns = names, one row per
    SMILES). Molecules that cannot be encoded or scored are left out and counted in the log.
    ``predictor.report`` holds held-out R² and MAE per property."""
    from molvae.chem import score

    smiles = list(smiles)
    if labels is not None:
        y = pd.DataFrame(labels).astype(float)
        if len(y) != len(smiles):
            raise ValueError(f"labels has {len(y)} rows for {len(smiles)} SMILES")
        names = list(y.columns)
    else:
        names = [properties] if isinstance(properties, str) else list(properties)
        unknown = [n for n in names if n not in NUMERIC]
        if unknown:
            raise ValueError(f"unknown properties {unknown}; known: {sorted(NUMERIC)}")
        y = score(smiles, properties=tuple(names))[names].astype(float)
    z = gen.encode(smiles)
    ok = np.isfinite(z).all(1) & np.isfinite(y.to_numpy()).all(1)
    if (~ok).sum():
        logger.info("fit_predictor: %d of %d molecules left out (not encoded or not scored)",
                    int((~ok).sum()), len(smiles))  # fmt: skip
    if ok.sum() < 10:
        raise ValueError(
            f"fit_predictor: only {int(ok.sum())} of {len(smiles)} molecules could be encoded and "
            "have finite labels; a predictor needs at least 10"
        )
    pred = PropertyPredictor(gen.latent_dim, names, check_count("hidden", hidden, high=65_536))
    pred.fit(z[ok], y.to_numpy()[ok], epochs=epochs, seed=seed)
    for name, r in pred.report.items():
        logger.info(
            "predictor %s: held-out R2 %.3f, MAE %.3f (n=%d)", name, r["r2"], r["mae"], r["n"]
        )
    return pred
