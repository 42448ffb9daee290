"""The notebook facade: a trained model plus its tokenizer, with DataFrame-returning verbs.

Every verb that takes molecules goes through one batching loop (:meth:`Generator._batches`), and
every verb that makes molecules through one decode-and-check path (:meth:`Generator.decode`, also
what training validation uses), so ``sample``, ``reconstruct``, ``recon_exact`` in a run's
``metrics.csv`` and the scripts all decode and compare the same way. Rows that cannot be used are
reported in a ``reason`` column (``molvae.reasons``), never raised in batch calls.

Example:
    >>> import molvae as mv
    >>> gen = mv.load("runs/small")                 # run directory (best.pt) or checkpoint file
    >>> df = gen.sample(1000, temperature=1.0, seed=0)
    >>> df.valid.mean()
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import sys
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from molvae import checkpoint as ckpt
from molvae.chem import (
    _canonical_chunk,
    canonical_forms,
    canonical_similarities,
    default_jobs,
    parse,
    smiles_list,
    to_smiles,
)
from molvae.exceptions import TokenizerError
from molvae.files import atomic_write
from molvae.losses import kl_per_molecule
from molvae.model import MolVAE
from molvae.prior import GaussianMixturePrior
from molvae.reasons import DESCRIPTIONS
from molvae.tokenizers import PAD, Tokenizer, tokenizer_from_dict

logger = logging.getLogger(__name__)

SAMPLE_COLUMNS = ["smiles", "valid", "canonical", "nll"]
METHODS = ("multinomial", "greedy")
PRIORS = ("auto", "standard", "learned")  # auto: the learned prior when the model has one
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}  # decoding precision -> dtype of the steps
DEFAULT_MAX_LEN = 120


def torch_generator(seed: int | None, device: torch.device | str = "cpu") -> torch.Generator:
    """The one seeding helper: a ``torch.Generator`` seeded with ``seed`` (fresh entropy if None)."""
    gen = torch.Generator(device=device)
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(int(seed))
    return gen


def check_decoding_args(
    temperature: float, method: str, max_len: int | None = None, batch_size: int = 1
) -> None:
    """Raise ``ValueError`` for a temperature that is not a usable positive number, an unknown
    method, a max_len or batch_size below 1."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    t = float(temperature)
    if not (np.isfinite(t) and t >= 1e-3):
        # below 1e-3 the softmax of logits / t overflows float32; use method="greedy" for t -> 0
        raise ValueError(
            f"temperature must be a finite number >= 0.001 (method='greedy' for the limit 0), "
            f"got {temperature!r}"
        )
    if max_len is not None and (isinstance(max_len, bool) or int(max_len) < 1):
        raise ValueError(f"max_len must be >= 1, got {max_len!r}")
    if isinstance(batch_size, bool) or int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")


_WORKER_TOKENIZER: Tokenizer | None = None  # a sampling worker's copy of the model's tokenizer


def _init_worker(tokenizer: dict) -> None:
    global _WORKER_TOKENIZER
    _WORKER_TOKENIZER = tokenizer_from_dict(tokenizer)


def _decode_and_check(rows: list[list[int]]) -> tuple[list[str], list[str | None]]:
    """A sampling worker's share of a batch: token ids -> SMILES -> canonical SMILES (or None)."""
    smiles = _WORKER_TOKENIZER.decode_batch(rows)  # type: ignore[union-attr]
    return smiles, [c for c, _ in _canonical_chunk(smiles)]


class Generator:
    """Sample, encode, decode, reconstruct and walk the latent space of a trained :class:`MolVAE`.

    Args:
        model: the trained model.
        tokenizer: its tokenizer.
        device: where to run (default: the model's device).
        metadata: checkpoint metadata, kept for reference (``max_len``: default decoding length).
        prior: a learned prior over z (:class:`molvae.prior.GaussianMixturePrior`) or None;
            :meth:`fit_prior` fits one, ``fit`` stores one in ``best.pt``.
        precision: of inference: ``"fp32"`` (default) or ``"bf16"`` (decoder steps with bf16
            products and hidden state and float32 softmax; encoder and ELBO passes under bf16
            autocast; faster on CPUs with AVX512-BF16 and on GPUs; its effect on the samples is
            measured in the README's benchmark section).
    """

    def __init__(
        self,
        model: MolVAE,
        tokenizer: Tokenizer,
        device: str | torch.device | None = None,
        metadata: dict | None = None,
        prior: GaussianMixturePrior | None = None,
        precision: str = "fp32",
    ):
        self.model = model.eval()
        if device is not None:
            self.model.to(device)
        self.tokenizer = tokenizer
        self.metadata = metadata or {}
        self.prior = prior
        self._start_ids = tokenizer.start_ids()
        self.precision = precision

    def __repr__(self) -> str:
        c = self.model.cfg
        return (
            f"Generator({self.tokenizer.kind}, latent_dim={c.latent_dim}, "
            f"decoder={c.decoder_layers}x{c.decoder_hidden_dim}, "
            f"prior={'learned' if self.prior is not None else 'standard'}, device={self.device})"
        )

    @property
    def device(self) -> torch.device:
        return self.model.device

    @property
    def precision(self) -> str:
        """``"fp32"`` or ``"bf16"``: the precision of decoding, encoding and ELBO (settable)."""
        return self._precision

    @precision.setter
    def precision(self, value: str) -> None:
        if value not in PRECISIONS:
            raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {value!r}")
        self._precision = value

    @property
    def latent_dim(self) -> int:
        return self.model.cfg.latent_dim

    @property
    def max_len(self) -> int:
        """Default decoding length: the training data's longest molecule + margin."""
        return int(self.metadata.get("max_len", 0)) or DEFAULT_MAX_LEN

    # ---- making molecules ------------------------------------------------------------------------
    def decode(
        self,
        z: Any,
        method: str = "greedy",
        temperature: float = 1.0,
        seed: int | None = None,
        max_len: int | None = None,
        generator: torch.Generator | None = None,
        batch_size: int = 1000,
    ) -> pd.DataFrame:
        """Decode latent points ``(N, latent_dim)`` and check each molecule with RDKit.

        The one decode-and-check path: sampling, reconstruction, interpolation, neighbours and
        training validation all call it.

        Returns:
            DataFrame with ``smiles`` (as decoded), ``valid`` (RDKit parses it), ``canonical``
            (RDKit canonical SMILES or None) and ``nll`` (the decoder's negative log-likelihood of
            the decoded tokens given z, in nats).
        """
        check_decoding_args(temperature, method, max_len, batch_size)
        zt = torch.as_tensor(np.asarray(z, dtype=np.float32), device=self.device)
        if zt.ndim == 1:
            zt = zt[None]
        if zt.ndim != 2 or zt.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (N, {self.latent_dim}), got {tuple(zt.shape)}")
        gen = generator if generator is not None else torch_generator(seed, self.device)
        rows, nll = self._decode_ids(zt, method, temperature, max_len, gen, batch_size)
        if not rows:
            return pd.DataFrame({c: [] for c in SAMPLE_COLUMNS})
        smiles = self.tokenizer.decode_batch(rows)
        canon, _ = canonical_forms(smiles)  # all at once: many go to worker processes
        return pd.DataFrame(
            {
                "smiles": smiles,
                "valid": [c is not None for c in canon],
                "canonical": canon,
                "nll": nll,
            }
        )

    def _decode_ids(
        self,
        zt: torch.Tensor,
        method: str,
        temperature: float,
        max_len: int | None,
        generator: torch.Generator,
        batch_size: int,
    ) -> tuple[list[list[int]], np.ndarray]:
        """Token ids of each decoded row (without ``<bos>``, up to and including ``<eos>``) and
        its NLL: the model's half of :meth:`decode`, before any string or RDKit work."""
        rows: list[list[int]] = []
        nlls = [np.zeros(0, dtype=np.float32)]
        for start in range(0, len(zt), batch_size):
            ids, lengths, nll = self.model.decode(
                zt[start : start + batch_size],
                max_len=int(max_len or self.max_len),
                temperature=float(temperature),
                greedy=method == "greedy",
                generator=generator,
                start_ids=self._start_ids,
                dtype=PRECISIONS[self.precision],
            )
            rows += [r[:n] for r, n in zip(ids.cpu().tolist(), lengths.cpu().tolist())]
            nlls.append(nll.float().cpu().numpy())
        return rows, np.concatenate(nlls)

    def iter_samples(
        self,
        n: int,
        temperature: float = 1.0,
        seed: int | None = None,
        batch_size: int = 1000,
        max_len: int | None = None,
        method: str = "multinomial",
        prior: str = "auto",
        n_jobs: int | None = None,
    ) -> Iterator[pd.DataFrame]:
        """Yield DataFrames of at most ``batch_size`` prior samples each, ``n`` in total (flat memory).

        ``n_jobs`` worker processes check the decoded molecules with RDKit while the next batches
        decode, so the model never waits for RDKit (default: on an accelerator the CPUs this
        process may use, at most 8; on a CPU none, since decoding already uses every core). The
        samples do not depend on ``n_jobs``.
        """
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n <= 0:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        check_decoding_args(temperature, method, max_len, batch_size)
        learned = self.prior_in_use(prior) == "learned"
        gen = torch_generator(seed, self.device)
        if n_jobs is None:
            n_jobs = 0 if self.device.type == "cpu" else default_jobs()

        def frames(pool: Any) -> Iterator[pd.DataFrame]:
            # (nll, [(smiles, canonical forms)] or futures of them), oldest first
            pending: deque = deque()
            done = 0
            while done < n or pending:
                if done < n:
                    b = min(batch_size, n - done)
                    if learned:
                        z = self.prior.sample(b, generator=gen, device=self.device)  # type: ignore[union-attr]
                    else:
                        z = torch.randn(b, self.latent_dim, device=self.device, generator=gen)
                    rows, nll = self._decode_ids(z, method, temperature, max_len, gen, b)  # (b, Z)
                    if pool is None:
                        smiles = self.tokenizer.decode_batch(rows)
                        pending.append((nll, [(smiles, canonical_forms(smiles, 1)[0])]))
                    else:  # token ids to SMILES (SELFIES decoding) and RDKit, both in the workers
                        size = -(-len(rows) // n_jobs)
                        parts = [rows[i : i + size] for i in range(0, len(rows), size)]
                        pending.append((nll, [pool.submit(_decode_and_check, p) for p in parts]))
                    done += b
                if len(pending) > (2 if pool is not None else 0) or (done >= n and pending):
                    nll, parts = pending.popleft()
                    parts = [p.result() if pool is not None else p for p in parts]
                    canon = [c for _, cs in parts for c in cs]
                    yield pd.DataFrame(
                        {
                            "smiles": [s for ss, _ in parts for s in ss],
                            "valid": [c is not None for c in canon],
                            "canonical": canon,
                            "nll": nll,
                        }
                    )

        if n_jobs <= 0:
            yield from frames(None)
            return
        ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        pool = ProcessPoolExecutor(
            max_workers=n_jobs,
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(self.tokenizer.to_dict(),),
        )
        try:
            yield from frames(pool)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def sample(
        self,
        n: int,
        temperature: float = 1.0,
        seed: int | None = None,
        batch_size: int = 1000,
        max_len: int | None = None,
        method: str = "multinomial",
        progress: bool = False,
        prior: str = "auto",
        n_jobs: int | None = None,
    ) -> pd.DataFrame:
        """Sample ``n`` molecules from the prior.

        Args:
            n: number of samples (> 0).
            temperature: softmax temperature (finite, >= 0.001); lower is more conservative.
            seed: same seed, same molecules (for the same ``batch_size`` and device).
            batch_size: molecules decoded at once.
            max_len: most tokens per molecule (default: the training data's longest + margin).
            method: ``"multinomial"`` or ``"greedy"`` (most likely token at each step).
            progress: show a progress bar.
            prior: where z comes from: ``"standard"`` N(0, I), ``"learned"`` the model's learned
                prior (a Gaussian mixture fitted to the codes of training molecules; samples
                resemble the training set far more, see docs/recipe.md), ``"auto"`` (default)
                the learned prior when the model has one, else N(0, I).
            n_jobs: worker processes for the RDKit checks, overlapped with decoding (see
                :meth:`iter_samples`; default: none on a CPU, up to 8 on an accelerator).

        Returns:
            DataFrame with ``smiles``, ``valid``, ``canonical`` and ``nll`` (see :meth:`decode`).

        Raises:
            ValueError: ``n <= 0``, a bad ``temperature``, ``max_len``, an unknown ``method`` or
                ``prior``, or ``prior="learned"`` for a model without one.
        """
        from tqdm.auto import tqdm

        parts = []
        with tqdm(total=n, desc="sampling", unit="mol", disable=not progress) as bar:
            parts_iter = self.iter_samples(
                n, temperature, seed, batch_size, max_len, method, prior=prior, n_jobs=n_jobs
            )
            for part in parts_iter:
                parts.append(part)
                bar.update(len(part))
        return pd.concat(parts, ignore_index=True)

    def sample_to_csv(
        self,
        path: str | os.PathLike,
        n: int,
        temperature: float = 1.0,
        seed: int | None = None,
        batch_size: int = 1000,
        max_len: int | None = None,
        method: str = "multinomial",
        progress: bool = False,
        prior: str = "auto",
        n_jobs: int | None = None,
    ) -> dict[str, float]:
        """Stream ``n`` samples to a CSV in chunks (memory stays flat for millions of samples).

        Returns ``{"n": ..., "valid": fraction valid}``. The file is written to a temporary name and
        renamed at the end, so a crashed run never leaves a half-written file under ``path``.
        """
        from tqdm.auto import tqdm

        samples = self.iter_samples(
            n, temperature, seed, batch_size, max_len, method, prior=prior, n_jobs=n_jobs
        )
        n_valid = 0
        with (
            atomic_write(path, "w", newline="") as f,
            tqdm(total=n, desc="sampling", unit="mol", disable=not progress) as bar,
        ):
            for k, part in enumerate(samples):
                part.to_csv(f, header=k == 0, index=False)
                n_valid += int(part.valid.sum())
                bar.update(len(part))
        logger.info("wrote %d samples (%.1f%% valid) to %s", n, 100 * n_valid / n, path)
        return {"n": n, "valid": n_valid / n}

    # ---- taking molecules ------------------------------------------------------------------------
    def prior_in_use(self, prior: str = "auto") -> str:
        """``"learned"`` or ``"standard"``: what ``sample(..., prior=prior)`` draws z from.

        Raises:
            ValueError: an unknown ``prior``, or ``"learned"`` for a model without one.
        """
        if prior not in PRIORS:
            raise ValueError(f"prior must be one of {list(PRIORS)}, got {prior!r}")
        if prior == "learned" and self.prior is None:
            raise ValueError(
                "this model has no learned prior: fit one with gen.fit_prior(training_smiles) "
                "(models trained with prior other than 'none' store one), or use prior='standard'"
            )
        return "learned" if self.prior is not None and prior != "standard" else "standard"

    def fit_prior(
        self,
        smiles: Sequence[Any],
        n_components: int = 4000,
        method: str = "posterior",
        spread: float = 1.0,
        seed: int = 0,
        batch_size: int = 1000,
    ) -> GaussianMixturePrior:
        """Fit the learned prior to the codes of ``smiles`` (typically 10-20k training molecules)
        and keep it in ``self.prior`` (``save`` stores it).

        Args:
            method: ``"posterior"``: the aggregate posterior, an equal mixture of the posteriors
                q(z|x) of ``n_components`` of the molecules; ``"gmm"``: a mixture of
                ``n_components`` full-covariance Gaussians fitted by EM to draws z ~ q(z|x).
            spread: widens each component when sampling (novelty against closeness to the data).

        Rows that cannot be encoded are skipped (and logged).
        """
        if method not in ("posterior", "gmm"):
            raise ValueError(f"method must be 'posterior' or 'gmm', got {method!r}")
        mu, logvar, _ = self._encode_rows(smiles_list(smiles), batch_size)
        ok = np.isfinite(mu).all(axis=1)
        mu, logvar = torch.from_numpy(mu[ok]), torch.from_numpy(logvar[ok])
        if method == "posterior":
            self.prior = GaussianMixturePrior.from_posteriors(
                mu, logvar, n_components, spread=spread, seed=seed
            )
            return self.prior
        if len(mu) < 2 * n_components:
            raise ValueError(
                f"fit_prior needs at least {2 * n_components} encodable molecules for "
                f"{n_components} components, got {len(mu)}"
            )
        g = torch.Generator().manual_seed(int(seed))
        z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=g)
        self.prior = GaussianMixturePrior.fit(z, n_components, seed=seed)
        self.prior.spread = float(spread)
        return self.prior

    def _inputs(
        self, values: list[Any]
    ) -> tuple[list[list[int] | None], list[str | None], list[str | None]]:
        """Token ids of each input's canonical form (the model was trained on RDKit canonical
        SMILES), or ``None`` and the reason (``molvae.reasons``) it cannot be encoded; and the
        canonical forms. Many inputs are canonicalised in worker processes (see
        :func:`canonical_forms`)."""
        canon, reasons = canonical_forms(values)
        ok = [k for k, r in enumerate(reasons) if r is None]
        encoded, errors, details = self.tokenizer.encode_many([canon[k] for k in ok])
        ids: list[list[int] | None] = [None] * len(values)
        messages = {k: r for k, r in enumerate(reasons) if r is not None}
        for j, k in enumerate(ok):
            ids[k] = encoded[j]
            if j in errors:
                reasons[k], messages[k] = errors[j], details[j]
        if messages:
            logger.warning(
                "%d of %d molecules cannot be encoded: %s",
                len(messages),
                len(values),
                dict(sorted(messages.items())[:5]),
            )
        return ids, reasons, canon

    def _batches(
        self, ids: list[list[int] | None], batch_size: int
    ) -> Iterator[tuple[list[int], torch.Tensor, torch.Tensor]]:
        """The one batching loop over encoded inputs: ``(rows, ids (B, T), lengths (B,))``.
        Rows go in order of length, so that a batch holds molecules of similar length (less
        padding for the decoder); ``rows`` says where each result belongs."""
        ok = sorted((k for k, x in enumerate(ids) if x is not None), key=lambda k: len(ids[k]))  # type: ignore[arg-type]
        for start in range(0, len(ok), batch_size):
            rows = ok[start : start + batch_size]
            lengths = [len(ids[k]) for k in rows]  # type: ignore[arg-type]
            arr = np.full((len(rows), max(lengths)), PAD, dtype=np.int64)
            for j, k in enumerate(rows):
                arr[j, : lengths[j]] = ids[k]  # type: ignore[index]
            yield rows, torch.from_numpy(arr).to(self.device), torch.tensor(lengths)

    def _encode_one(self, smiles: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``mu (Z,)``, ``logvar (Z,)`` of one molecule; raises naming the reason or bad token."""
        mol, reason = parse(smiles)
        if mol is None:
            raise TokenizerError(
                f"cannot encode this SMILES ({reason}: {DESCRIPTIONS[reason]})",
                input=smiles[:200] if isinstance(smiles, str) else None,
            )
        ids = torch.tensor([self.tokenizer.encode(to_smiles(mol))], device=self.device)
        with torch.no_grad():
            mu, logvar = self.model.encode_params(ids, torch.tensor([ids.shape[1]]))
        return mu[0].float(), logvar[0].float()

    def _encode_rows(
        self, smiles: list[Any], batch_size: int = 1000
    ) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
        """``mu (N, Z)``, ``logvar (N, Z)`` (NaN rows for failures) and the reason per row."""
        mu, logvar, reasons, _, _ = self._encode_canonical(smiles, batch_size)
        return mu, logvar, reasons

    def _encode_canonical(
        self, smiles: list[Any], batch_size: int = 1000
    ) -> tuple[np.ndarray, np.ndarray, list[str | None], list[str | None], list[list[int] | None]]:
        """As :meth:`_encode_rows`, plus each input's canonical SMILES (None when unparsable) and
        its token ids (None when it cannot be encoded)."""
        mu = np.full((len(smiles), self.latent_dim), np.nan, dtype=np.float32)
        logvar = mu.copy()
        encoded, reasons, canon = self._inputs(smiles)
        for rows, ids, lengths in self._batches(encoded, batch_size):
            with torch.no_grad(), self._autocast():
                m, lv = self.model.encode_params(ids, lengths)
            mu[rows], logvar[rows] = m.float().cpu().numpy(), lv.float().cpu().numpy()
        return mu, logvar, reasons, canon, encoded

    def _autocast(self):
        """bf16 autocast for the encoder and teacher-forced passes when ``precision="bf16"``."""
        from molvae.device import autocast

        return autocast(self.device, self.precision == "bf16")

    def encode(
        self,
        smiles: str | Sequence[Any],
        sample: bool = False,
        seed: int | None = None,
        details: bool = False,
        batch_size: int = 1000,
    ) -> np.ndarray | tuple[np.ndarray, pd.DataFrame]:
        """Latent points of molecules: ``mu`` (or a draw from q(z|x) with ``sample=True``).

        Args:
            smiles: one SMILES or a list.
            sample: draw ``z ~ q(z|x)`` instead of returning the mean.
            seed: seed for ``sample=True``.
            details: also return a DataFrame with ``smiles`` and ``reason`` (None when encoded).

        Returns:
            ``(N, latent_dim)`` float32 array. In the batch form a row that cannot be encoded is
            NaN and its reason is logged (and given by ``details=True``), never fatal.

        Raises:
            TokenizerError: a single SMILES that cannot be encoded (the message names the token).
        """
        if isinstance(smiles, str):
            mu, logvar = self._encode_one(smiles)
            mu_np, lv_np, reasons = mu.cpu().numpy()[None], logvar.cpu().numpy()[None], [None]
            values: list[Any] = [smiles]
        else:
            values = smiles_list(smiles)
            mu_np, lv_np, reasons = self._encode_rows(values, batch_size)
        z = mu_np
        if sample:
            rng = np.random.default_rng(seed)
            z = (mu_np + np.exp(0.5 * lv_np) * rng.standard_normal(mu_np.shape)).astype(np.float32)
        if details:
            return z, pd.DataFrame({"smiles": pd.Series(values, dtype=object), "reason": reasons})
        return z

    def reconstruct(
        self,
        smiles: str | Sequence[Any],
        n_decodes: int = 10,
        seed: int = 0,
        batch_size: int = 1000,
        max_len: int | None = None,
    ) -> pd.DataFrame:
        """Encode and greedily decode each molecule ``n_decodes`` times (z ~ q(z|x); with
        ``n_decodes=1`` the mean is decoded) and keep the most frequent decoding.

        Returns:
            DataFrame with ``smiles`` (input), ``reconstruction``, ``match`` (same molecule, canonical
            comparison), ``frequency`` (share of decodings equal to ``reconstruction``), ``tanimoto``
            (to the input) and ``reason`` (why a row could not be encoded). ``df.attrs["exact_match"]``
            holds the exact-match rate over the encodable rows.
        """
        if isinstance(n_decodes, bool) or not isinstance(n_decodes, int) or n_decodes < 1:
            raise ValueError(f"n_decodes must be an integer >= 1, got {n_decodes!r}")
        values = smiles_list(smiles)
        mu, logvar, reasons, canon, encoded = self._encode_canonical(values, batch_size)
        ok = [k for k, r in enumerate(reasons) if r is None]
        z = mu[ok, None]  # (n, 1, Z)
        if n_decodes > 1:
            rng = np.random.default_rng(seed)
            eps = rng.standard_normal((len(ok), n_decodes, self.latent_dim)).astype(np.float32)
            z = mu[ok, None] + np.exp(0.5 * logvar[ok, None]) * eps  # (n, n_decodes, Z)
        # decoded shortest first: a decode batch then holds molecules of similar length
        order = sorted(range(len(ok)), key=lambda j: len(encoded[ok[j]]))  # type: ignore[arg-type]
        ok = [ok[j] for j in order]
        zt = torch.as_tensor(z[order].reshape(-1, self.latent_dim), device=self.device)
        ids, _ = self._decode_ids(zt, "greedy", 1.0, max_len, torch_generator(seed), batch_size)
        # A decoding whose tokens are the input's own is the input molecule (encodings are
        # round-trip checked): only the others are turned into SMILES and checked by RDKit.
        targets = [encoded[k][1:] for k in ok for _ in range(n_decodes)]  # type: ignore[index]
        other = [j for j, (d, t) in enumerate(zip(ids, targets)) if d != t]
        raw = self.tokenizer.decode_batch([ids[j] for j in other])
        other_canon, other_sim = canonical_similarities(
            raw, [canon[ok[j // n_decodes]] for j in other]
        )  # type: ignore[misc]
        text = [canon[k] for k in ok for _ in range(n_decodes)]
        sim = np.ones(len(text))  # Tanimoto of each decoding to its input
        for j, c, s, t in zip(other, other_canon, raw, other_sim):
            # an invalid decoding is kept as its raw string, so that it can still be the most
            # frequent
            text[j], sim[j] = (c if isinstance(c, str) else s), t
        best: dict[int, tuple[str, float, float]] = {}
        for j, k in enumerate(ok):
            texts = text[j * n_decodes : (j + 1) * n_decodes]
            top, freq = Counter(texts).most_common(1)[0]
            best[k] = (top, freq / n_decodes, sim[j * n_decodes + texts.index(top)])
        rows = []
        for k, s in enumerate(values):
            if k not in best:
                rows.append((s, None, False, np.nan, np.nan, reasons[k]))
                continue
            top, freq, similarity = best[k]
            same = top == canon[k]  # the same canonical SMILES: the same molecule, Tanimoto 1
            rows.append((s, top, same, freq, 1.0 if same else similarity, None))
        df = pd.DataFrame(
            rows, columns=["smiles", "reconstruction", "match", "frequency", "tanimoto", "reason"]
        )
        df.attrs["exact_match"] = float(df.match[ok].mean()) if ok else float("nan")
        logger.info(
            "reconstruct: %.1f%% exact over %d molecules (%d not encodable)",
            100 * df.attrs["exact_match"],
            len(ok),
            len(values) - len(ok),
        )
        return df

    def elbo(
        self, smiles: str | Sequence[Any], n_samples: int = 1, seed: int = 0, batch_size: int = 500
    ) -> pd.DataFrame:
        """Per-molecule negative ELBO terms (nats): ``recon_nll`` = -log p(x|z), z ~ q(z|x) averaged
        over ``n_samples``; ``kl`` = KL(q(z|x) || N(0, I)); ``neg_elbo`` = their sum, an anomaly
        score (high for molecules unlike the training data). Rows that cannot be encoded are NaN
        with a ``reason``."""
        if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
            raise ValueError(f"n_samples must be an integer >= 1, got {n_samples!r}")
        values = smiles_list(smiles)
        recon = np.full(len(values), np.nan)
        kl = np.full(len(values), np.nan)
        encoded, reasons, _ = self._inputs(values)
        gen = torch_generator(seed, self.device)
        for rows, ids, lengths in self._batches(encoded, batch_size):
            with torch.no_grad(), self._autocast():
                mu, logvar = self.model.encode_params(ids, lengths)
                mu, logvar = mu.float(), logvar.float()
                nll = torch.zeros(len(rows), device=self.device)
                for _ in range(n_samples):
                    z = self.model.reparameterize(mu, logvar, generator=gen)
                    nll += self.model.sequence_nll(ids, lengths, z)
            recon[rows] = (nll / n_samples).cpu().numpy()
            kl[rows] = kl_per_molecule(mu, logvar).cpu().numpy()
        return pd.DataFrame(
            {
                "smiles": pd.Series(values, dtype=object),
                "recon_nll": recon,
                "kl": kl,
                "neg_elbo": recon + kl,
                "reason": reasons,
            }
        )

    # ---- walking the latent space (the algorithms live in molvae.latent) ---------------------------
    def interpolate(
        self,
        a: str,
        b: str,
        steps: int = 10,
        method: str = "linear",
        decode: str = "greedy",
        drop_duplicates: bool = False,
        seed: int | None = 0,
    ) -> pd.DataFrame:
        """Decode points on the path between the encodings of ``a`` and ``b``
        (see :func:`molvae.latent.interpolate`)."""
        from molvae import latent

        return latent.interpolate(self, a, b, steps, method, decode, drop_duplicates, seed)

    def neighbors(
        self,
        smiles: str,
        n: int = 50,
        radius: float = 0.5,
        max_draws: int | None = None,
        batch_size: int = 500,
        seed: int | None = 0,
    ) -> pd.DataFrame:
        """Unique valid molecules decoded near the encoding of ``smiles``
        (see :func:`molvae.latent.neighbors`)."""
        from molvae import latent

        return latent.neighbors(self, smiles, n, radius, max_draws, batch_size, seed)

    def optimize(
        self,
        objective: Any,
        n: int = 100,
        budget: int = 2000,
        method: str = "cmaes",
        start: str | None = None,
        min_similarity: float | None = None,
        constraints: dict | None = None,
        seed: int = 0,
        **options: Any,
    ) -> pd.DataFrame:
        """Search the latent space for the best molecules under ``objective`` (a property
        expression such as ``"qed - 0.1*sa"`` or a callable SMILES -> float), scoring the decoded
        molecules with the true objective (see :func:`molvae.optimize.optimize`)."""
        from molvae import optimize

        return optimize.optimize(
            self, objective, n=n, budget=budget, method=method, start=start,
            min_similarity=min_similarity, constraints=constraints, seed=seed, **options,
        )  # fmt: skip

    def fit_predictor(self, smiles: Sequence[str], properties: Any = ("qed", "sa", "logp"),
                      labels: Any = None, **options: Any) -> Any:  # fmt: skip
        """A :class:`molvae.optimize.PropertyPredictor` from the codes of ``smiles`` to RDKit
        ``properties`` or a user's ``labels``; ``.report`` has held-out R² and MAE."""
        from molvae import optimize

        return optimize.fit_predictor(self, smiles, properties, labels, **options)

    def save(self, path: str | os.PathLike, metadata: dict | None = None) -> Path:
        """Write the model as a checkpoint (no training state)."""
        return ckpt.save(
            path,
            self.model,
            self.tokenizer,
            metadata={**self.metadata, **(metadata or {})},
            prior=self.prior.to_dict() if self.prior is not None else None,
        )


def load(
    model: str | os.PathLike, device: str | torch.device | None = None, precision: str = "fp32"
) -> Generator:
    """Load a :class:`Generator` from a checkpoint file or a run directory (its ``best.pt``).

    Args:
        model: a ``.pt`` checkpoint or a run directory written by ``fit``/``molvae train``, or the
            name of a bundled model (``mv.pretrained()``).
        device: ``"cpu"``, ``"cuda"``, ... (default: cuda if available, else cpu).
        precision: decoding precision, ``"fp32"`` or ``"bf16"`` (see :class:`Generator`).

    Raises:
        CheckpointError: missing, damaged, tampered or pickled-object file, unknown format version.
    """
    from molvae.device import inference_device

    path = ckpt.resolve(model)
    c = ckpt.load(path)
    dev = inference_device(device)
    meta = dict(c.metadata)
    if c.train_config and "max_len" in c.train_config:
        meta.setdefault("max_len", int(c.train_config["max_len"]) + 2)
    prior = None
    if c.prior is not None:
        try:
            prior = GaussianMixturePrior.from_dict(c.prior)
        except (ValueError, KeyError, TypeError) as err:
            raise ckpt.CheckpointError(f"{path}: unusable learned prior: {err}") from err
    return Generator(
        c.build_model(dev), c.tokenizer, metadata=meta, prior=prior, precision=precision
    )
