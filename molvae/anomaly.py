"""How unusual a molecule is to a model: an anomaly (applicability-domain) score, calibrated on
the model's own held-out molecules.

A VAE reconstructs molecules like its training data well and others badly, so the negative ELBO
is an anomaly score. A plain likelihood, though, finds short, simple molecules *typical* (fewer
tokens, fewer nats) and large drug-like ones unusual for their size alone; the default score
is the model's own training objective at the posterior mean, reconstruction NLL plus beta times
KL, divided by the number of tokens (measured in docs/anomaly.md). The threshold is a quantile of the
scores of held-out molecules, stored with the model as plain data (``metadata["anomaly"]``), so
every user of a model gets the same ``outlier`` flags.

Example:
    >>> import molvae as mv
    >>> gen = mv.load("moses-smiles")
    >>> gen.anomaly(["CCOc1ccccc1C(=O)N", "C"])[["smiles", "anomaly", "percentile", "outlier"]]
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from molvae.chem import packed_fingerprints, smiles_list
from molvae.codec import Codec
from molvae.device import torch_generator
from molvae.exceptions import MolvaeError
from molvae.losses import kl_per_molecule
from molvae.metrics.similarity import tanimoto_max
from molvae.reconstruct import reconstruct_posteriors

logger = logging.getLogger(__name__)

METADATA_KEY = "anomaly"
CALIBRATION_VERSION = 1
DEFAULT_QUANTILE = 0.99
MAX_STORED_SCORES = 2000  # the percentile reference kept with the model (sorted scores)
MIN_CALIBRATION = 20  # held-out molecules a threshold needs at the least

COLUMNS = [
    "smiles", "anomaly", "percentile", "outlier", "neg_elbo", "recon_nll", "kl", "n_tokens",
    "exact", "reason", "standardized",
]  # fmt: skip

# score name -> how it is computed from the parts and the model's beta (higher = more unusual)
SCORES: dict[str, Callable[[pd.DataFrame, float], np.ndarray]] = {
    "beta_elbo_per_token": lambda p, beta: ((p.recon_nll + beta * p.kl) / p.n_tokens).to_numpy(
        float
    ),
    "recon_nll_per_token": lambda p, beta: (p.recon_nll / p.n_tokens).to_numpy(float),
    "neg_elbo_per_token": lambda p, beta: (p.neg_elbo / p.n_tokens).to_numpy(float),
    "neg_elbo": lambda p, beta: p.neg_elbo.to_numpy(float),
}
# The model's own training objective at the posterior mean, per token: reconstruction NLL plus
# beta (the KL weight it was trained with) times KL, divided by the tokens it predicts.
DEFAULT_SCORE = "beta_elbo_per_token"


class CalibrationError(MolvaeError, ValueError):
    """A model has no anomaly threshold, or a stored one is malformed."""


@dataclass(frozen=True)
class Calibration:
    """The anomaly threshold of one model: the ``quantile`` of the ``score`` of ``n`` held-out
    molecules (``source`` says which), and their sorted scores (at most
    ``MAX_STORED_SCORES``, evenly spaced quantiles) for percentiles."""

    score: str
    quantile: float
    threshold: float
    scores: np.ndarray
    n: int
    source: str
    beta: float = 1.0

    def of(self, parts: pd.DataFrame) -> np.ndarray:
        """This calibration's score of each row of :func:`anomaly_parts` (a new array)."""
        return np.array(SCORES[self.score](parts, self.beta), dtype=np.float64)

    def percentile(self, values: np.ndarray) -> np.ndarray:
        """Share (0-100) of the held-out molecules that score at most each value."""
        out = 100.0 * np.searchsorted(self.scores, values, side="right") / len(self.scores)
        return np.where(np.isnan(values), np.nan, out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": CALIBRATION_VERSION,
            "score": self.score,
            "quantile": float(self.quantile),
            "threshold": float(self.threshold),
            "scores": [float(x) for x in self.scores],
            "n": int(self.n),
            "source": str(self.source),
            "beta": float(self.beta),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Calibration:
        """Rebuild a stored calibration, checking every field (a checkpoint is untrusted)."""
        try:
            if not isinstance(data, dict) or data.get("version") != CALIBRATION_VERSION:
                raise ValueError(
                    f"unknown calibration version {data.get('version')!r}"
                    if isinstance(data, dict)
                    else "not a table"
                )
            score = data["score"]
            if score not in SCORES:
                raise ValueError(f"unknown score {score!r}")
            scores = np.asarray(data["scores"], dtype=np.float64)
            quantile, threshold = float(data["quantile"]), float(data["threshold"])
            beta = float(data.get("beta", 1.0))
            if not (math.isfinite(beta) and beta >= 0):
                raise ValueError(f"beta must be a finite number >= 0, got {beta!r}")
            if scores.ndim != 1 or not 1 <= len(scores) <= MAX_STORED_SCORES:
                raise ValueError(f"scores must be a list of 1 to {MAX_STORED_SCORES} numbers")
            if not (np.isfinite(scores).all() and math.isfinite(threshold) and 0 < quantile < 1):
                raise ValueError("non-finite scores or threshold, or a quantile outside (0, 1)")
            return cls(
                score, quantile, threshold, np.sort(scores), int(data["n"]), str(data["source"]),
                beta,
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as err:
            raise CalibrationError(f"malformed anomaly calibration in the model: {err}") from err


def calibration(codec: Codec) -> Calibration | None:
    """The model's stored anomaly calibration, or None when it has none."""
    data = codec.metadata.get(METADATA_KEY)
    return None if data is None else Calibration.from_dict(data)


def anomaly_parts(
    codec: Codec, smiles: str | Sequence[Any], seed: int = 0, batch_size: int = 500
) -> pd.DataFrame:
    """The parts every score is made of, one row per input in order: ``neg_elbo`` (nats; z drawn
    once from q(z|x) with ``seed``), ``recon_nll`` (-log p(x | z = posterior mean)), ``kl``,
    ``n_tokens`` (tokens the decoder predicts, end token included), ``exact`` (greedy decoding
    of the mean gives the molecule back), ``reason`` (why a row cannot be read; its parts are NaN)
    and ``standardized``."""
    values = smiles_list(smiles)
    n = len(values)
    post = codec.posteriors(values, batch_size)
    inputs = post.inputs
    recon_z, recon_mu, kl, n_tokens = (np.full(n, np.nan) for _ in range(4))
    gen = torch_generator(seed, codec.device)
    model = codec.model
    for rows, ids, lengths in codec.batches(inputs.ids, batch_size):
        mu = torch.as_tensor(post.mu[rows], device=codec.device)
        logvar = torch.as_tensor(post.logvar[rows], device=codec.device)
        with torch.no_grad(), codec.autocast():
            z = model.reparameterize(mu, logvar, generator=gen)
            recon_z[rows] = model.sequence_nll(ids, lengths, z).float().cpu().numpy()
            recon_mu[rows] = model.sequence_nll(ids, lengths, mu).float().cpu().numpy()
        kl[rows] = kl_per_molecule(mu, logvar).cpu().numpy()
        n_tokens[rows] = (lengths - 1).numpy()
    exact = pd.Series([None] * n, dtype=object)
    if inputs.ok:
        rec = reconstruct_posteriors(codec, values, post, 1, seed, batch_size)
        exact[inputs.ok] = rec.match[inputs.ok].astype(bool).to_numpy()
    return pd.DataFrame(
        {
            "smiles": pd.Series(values, dtype=object),
            "neg_elbo": recon_z + kl,
            "recon_nll": recon_mu,
            "kl": kl,
            "n_tokens": n_tokens,
            "exact": exact,
            "reason": inputs.reasons,
            "standardized": inputs.changes,
        }
    )


def nearest_similarity(smiles: Sequence[Any], reference: Sequence[Any]) -> np.ndarray:
    """Per molecule, the largest Tanimoto similarity (Morgan radius 2, 1024 bits, as MOSES's
    SNN) to any reference molecule: the baseline an anomaly score should beat. NaN where a
    molecule cannot be parsed."""
    fps, ok = packed_fingerprints(smiles)
    ref, ref_ok = packed_fingerprints(reference)
    if not ref_ok.any():
        raise ValueError("no reference molecule could be parsed")
    out = np.full(len(ok), np.nan)
    out[ok] = tanimoto_max(fps[ok], ref[ref_ok])
    return out


def anomaly(
    codec: Codec,
    smiles: str | Sequence[Any],
    reference: Sequence[Any] | None = None,
    seed: int = 0,
    batch_size: int = 500,
) -> pd.DataFrame:
    """Anomaly score of each molecule (higher = more unusual to this model), one row per input.

    Returns:
        DataFrame with ``smiles`` (input), ``anomaly`` (the model's calibrated score; ``inf`` for
        a molecule the model cannot even read, whose ``reason`` says why), ``percentile`` (share of
        the model's held-out molecules scoring at most this), ``outlier`` (above the stored
        threshold), the parts (``neg_elbo``, ``recon_nll``, ``kl``, ``n_tokens``, ``exact``: see
        :func:`anomaly_parts`), ``reason``, ``standardized``, and with ``reference`` (SMILES of,
        e.g., the training set) ``nn_similarity``: the nearest-neighbour Tanimoto baseline.
        ``df.attrs`` holds the score name, quantile and threshold.

    Raises:
        CalibrationError: the model has no stored threshold (the message gives the call that adds
            one) or a malformed one.
    """
    cal = calibration(codec)
    if cal is None:
        raise CalibrationError(
            "this model has no anomaly threshold: calibrate it once on held-out molecules like "
            "its training data, gen.calibrate_anomaly(held_out_smiles), then gen.save('model.pt') "
            "(CLI: molvae anomaly MODEL HELD_OUT.smi --calibrate --save model.pt)"
        )
    parts = anomaly_parts(codec, smiles, seed, batch_size)
    score = cal.of(parts)
    score[parts.reason.notna().to_numpy()] = np.inf  # cannot be read at all: maximally unusual
    parts.insert(1, "anomaly", score)
    parts.insert(2, "percentile", cal.percentile(score))
    parts.insert(3, "outlier", score > cal.threshold)
    if reference is not None:
        parts["nn_similarity"] = nearest_similarity(parts.smiles.tolist(), reference)
    parts.attrs.update(score=cal.score, quantile=cal.quantile, threshold=cal.threshold)
    logger.info(
        "anomaly: %d of %d molecules above the threshold %.4g (%s, %g quantile of %d held-out)",
        int(parts.outlier.sum()), len(parts), cal.threshold, cal.score, cal.quantile, cal.n,
    )  # fmt: skip
    return parts


def calibrate_anomaly(
    codec: Codec,
    held_out: Sequence[Any],
    quantile: float = DEFAULT_QUANTILE,
    score: str = DEFAULT_SCORE,
    source: str = "",
    beta: float | None = None,
    seed: int = 0,
    batch_size: int = 500,
) -> Calibration:
    """Calibrate the anomaly threshold on ``held_out`` molecules like the training data but not in
    it (a validation split): the ``quantile`` of their scores. Kept in the model's metadata, so
    ``gen.save(path)`` stores it with the model.

    ``beta`` weighs the KL in the default score (default: the KL weight the model was trained
    with, ``metadata["kl_weight"]``, else 1).

    Raises:
        ValueError: a quantile outside (0, 1), an unknown score, a negative or non-finite beta, or
            fewer than 20 readable molecules.
    """
    if beta is None:
        beta = float(codec.metadata.get("kl_weight", 1.0))
    if (
        isinstance(beta, bool)
        or not isinstance(beta, (int, float))
        or not (math.isfinite(beta) and beta >= 0)
    ):
        raise ValueError(f"beta must be a finite number >= 0, got {beta!r}")
    if not isinstance(quantile, (int, float)) or not 0 < quantile < 1:
        raise ValueError(f"quantile must be a number in (0, 1), got {quantile!r}")
    if score not in SCORES:
        raise ValueError(f"score must be one of {list(SCORES)}, got {score!r}")
    parts = anomaly_parts(codec, held_out, seed, batch_size)
    values = SCORES[score](parts, float(beta))
    values = np.sort(values[np.isfinite(values)])
    if len(values) < MIN_CALIBRATION:
        raise ValueError(
            f"calibration needs at least {MIN_CALIBRATION} molecules the model can read, got {len(values)} "
            f"of {len(parts)}"
        )
    kept = values
    if len(values) > MAX_STORED_SCORES:
        kept = np.quantile(values, np.linspace(0, 1, MAX_STORED_SCORES))
    cal = Calibration(
        score, float(quantile), float(np.quantile(values, quantile)), kept, len(values),
        source or f"{len(values)} held-out molecules", float(beta),
    )  # fmt: skip
    codec.metadata[METADATA_KEY] = cal.to_dict()
    logger.info(
        "anomaly threshold %.4g: the %g quantile of %s over %d held-out molecules",
        cal.threshold, quantile, score, len(values),
    )  # fmt: skip
    return cal
