"""The codec: a trained model with its tokenizer, learned prior and precision, turning molecules
into latent points and latent points into checked molecules.

Every verb that takes molecules goes through one input path (:meth:`Codec.inputs`, which uses the
one canonicaliser ``molvae.chem.canonical_forms``, and :meth:`Codec.batches`), and every verb that
makes molecules through one decode-and-check path (:meth:`Codec.decode`), so sampling,
reconstruction, the latent walks, optimisation and training validation decode and compare the
same way. The verbs themselves live in their own modules (``molvae.sampling``,
``molvae.reconstruct``, ``molvae.likelihood``, ``molvae.latent``, ``molvae.optimize``) and take a
Codec; :class:`molvae.generator.Generator` is the Codec with those verbs attached.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from molvae import checkpoint as ckpt
from molvae.checks import check_count
from molvae.chem import canonical_forms, smiles_list
from molvae.constants import (
    BEAM_WIDTH,
    DECODE_METHODS,
    DEFAULT_MAX_LEN,
    LENGTH_MARGIN,
    MAX_ABS_Z,
    MAX_BEAM_WIDTH,
    MAX_DECODE_LEN,
    MAX_TEMPERATURE,
    PRECISION_NAMES,
    Z_SOURCES,
)
from molvae.device import autocast, default_precision, torch_generator
from molvae.inputs import Inputs, has_stereo_tokens, read_inputs, read_one
from molvae.model import MolVAE
from molvae.prior import ComponentDeck, GaussianMixturePrior, fit_prior
from molvae.tokenizers import Tokenizer, pad_rows

logger = logging.getLogger(__name__)

SAMPLE_COLUMNS = ["smiles", "valid", "canonical", "nll"]
METHODS = DECODE_METHODS  # the older name
PRIORS = Z_SOURCES  # the older name
PRECISIONS = dict(zip(PRECISION_NAMES, (None, torch.bfloat16)))  # precision -> dtype of the steps


def decode_length(train_max_len: int | None) -> int:
    """Most tokens decoded per molecule for a model trained with ``max_len`` (None: unknown)."""
    return int(train_max_len) + LENGTH_MARGIN if train_max_len else DEFAULT_MAX_LEN


def check_decoding_args(
    temperature: float, method: str, max_len: int | None = None, batch_size: int = 1
) -> None:
    """Raise ``ValueError`` for a temperature that is not a usable positive number (0.001 to
    1,000), an unknown method, a max_len outside 1..10,000 or a batch_size below 1."""
    if method != "auto" and method not in DECODE_METHODS:
        raise ValueError(f"method must be one of {['auto', *DECODE_METHODS]}, got {method!r}")
    t = float(temperature)
    if not (np.isfinite(t) and 1e-3 <= t <= MAX_TEMPERATURE):
        # below 1e-3 the softmax of logits / t overflows float32; use method="greedy" for t -> 0;
        # above 1,000 every token is equally likely already
        raise ValueError(
            f"temperature must be a number from 0.001 to {MAX_TEMPERATURE:g} (method='greedy' "
            f"for the limit 0), got {temperature!r}"
        )
    if max_len is not None and (
        isinstance(max_len, bool) or not 1 <= float(max_len) <= MAX_DECODE_LEN
    ):
        raise ValueError(f"max_len must be from 1 to {MAX_DECODE_LEN:,} tokens, got {max_len!r}")
    if isinstance(batch_size, bool) or int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")


def check_latent(z: torch.Tensor) -> None:
    """Raise ``ValueError`` naming the rows of ``z (N, Z)`` that are not finite or beyond
    ``MAX_ABS_Z`` (they would reach the sampler as NaN probabilities)."""
    bad = ~(torch.isfinite(z) & (z.abs() <= MAX_ABS_Z)).all(dim=1)
    if bool(bad.any()):
        rows = torch.nonzero(bad).flatten().tolist()
        shown = ", ".join(map(str, rows[:10])) + (", ..." if len(rows) > 10 else "")
        raise ValueError(
            f"z has {len(rows)} row(s) with NaN, infinite or |value| > {MAX_ABS_Z:g} "
            f"coordinates (rows {shown})"
        )


@dataclass
class Posteriors:
    """q(z|x) of many inputs: ``mu``, ``logvar`` ``(N, Z)`` (NaN rows where an input cannot be
    encoded) and the :class:`Inputs` they came from."""

    mu: np.ndarray
    logvar: np.ndarray
    inputs: Inputs


class Codec:
    """A trained :class:`MolVAE` with its tokenizer: encode molecules, decode latent points.

    Args:
        model: the trained model.
        tokenizer: its tokenizer.
        device: where to run (default: the model's device).
        metadata: checkpoint metadata, kept for reference (``max_len``: default decoding length).
        prior: a learned prior over z (:class:`molvae.prior.GaussianMixturePrior`) or None;
            :meth:`fit_prior` fits one, ``fit`` stores one in ``best.pt``.
        precision: of inference: ``"auto"`` (default: ``"bf16"`` on GPUs and on CPUs with native
            bf16, AVX512-BF16 or AMX; ``"fp32"`` elsewhere, where bf16 is emulated and far slower;
            ``MOLVAE_PRECISION=fp32`` in the environment makes float32 the default everywhere),
            ``"fp32"`` or ``"bf16"`` (decoder steps with bf16 products and hidden state and
            float32 softmax; encoder and ELBO passes under bf16 autocast).
        standardize: make input molecules like the training data before encoding them (largest
            fragment, charges neutralised where RDKit can, stereo removed when the vocabulary has
            none; ``molvae.chem.standardize``); verbs that return rows say what changed in a
            ``standardized`` column. False: encode inputs exactly as given (settable).
    """

    def __init__(
        self,
        model: MolVAE,
        tokenizer: Tokenizer,
        device: str | torch.device | None = None,
        metadata: dict | None = None,
        prior: GaussianMixturePrior | None = None,
        precision: str = "auto",
        standardize: bool = True,
    ):
        self.model = model.eval()
        if device is not None:
            self.model.to(device)
        self.tokenizer = tokenizer
        self.metadata = metadata or {}
        self.prior = prior
        self.start_ids = tokenizer.start_ids()
        self.precision = precision
        self.standardize = bool(standardize)

    @classmethod
    def from_training(
        cls,
        model: MolVAE,
        tokenizer: Tokenizer,
        max_len: int | None,
        prior: GaussianMixturePrior | None = None,
        metadata: dict | None = None,
        precision: str = "auto",
    ) -> Any:
        """The codec of a model trained on molecules of at most ``max_len`` tokens: it decodes up
        to the same length whether it comes from ``fit`` or from its checkpoint (:func:`load`)."""
        meta = dict(metadata or {})
        meta.setdefault("max_len", decode_length(max_len))
        return cls(model, tokenizer, metadata=meta, prior=prior, precision=precision)

    def __repr__(self) -> str:
        c = self.model.cfg
        return (
            f"{type(self).__name__}({self.tokenizer.kind}, latent_dim={c.latent_dim}, "
            f"decoder={c.decoder_layers}x{c.decoder_hidden_dim}, "
            f"prior={'learned' if self.prior is not None else 'standard'}, device={self.device})"
        )

    @property
    def device(self) -> torch.device:
        return self.model.device

    @property
    def precision(self) -> str:
        """``"fp32"`` or ``"bf16"``: the precision of decoding, encoding and ELBO (settable;
        ``"auto"`` picks bf16 where the device has native bf16, see :func:`default_precision`)."""
        return self._precision

    @precision.setter
    def precision(self, value: str) -> None:
        if value == "auto":
            value = default_precision(self.device)
        if value not in PRECISIONS:
            raise ValueError(
                f"precision must be one of ['auto', *{list(PRECISIONS)}], got {value!r}"
            )
        self._precision = value

    @property
    def keeps_stereo(self) -> bool:
        """Whether the vocabulary has stereo tokens (see :func:`molvae.inputs.has_stereo_tokens`)."""
        return has_stereo_tokens(self.tokenizer)

    @property
    def latent_dim(self) -> int:
        return self.model.cfg.latent_dim

    @property
    def default_method(self) -> str:
        """How this model decodes when a caller asks for ``method="auto"`` (what ``sample`` does
        by default): the method stored with the model (``metadata["sampling"]["method"]``, e.g.
        greedy for a SELFIES model, beam search for the SMILES default) or ``"multinomial"``.
        Settable; ``save`` keeps it."""
        stored = (self.metadata.get("sampling") or {}).get("method")
        return stored if stored in DECODE_METHODS else "multinomial"

    @default_method.setter
    def default_method(self, value: str) -> None:
        if value not in DECODE_METHODS:
            raise ValueError(f"method must be one of {list(DECODE_METHODS)}, got {value!r}")
        self._set_sampling(method=value)

    @property
    def beam_width(self) -> int:
        """Hypotheses kept by ``method="beam"``: the width stored with the model
        (``metadata["sampling"]["beam_width"]``) or 3. Settable; ``save`` keeps it."""
        stored = (self.metadata.get("sampling") or {}).get("beam_width")
        return int(stored) if stored is not None else BEAM_WIDTH

    @beam_width.setter
    def beam_width(self, value: int) -> None:
        self._set_sampling(beam_width=check_count("beam_width", value, 1, MAX_BEAM_WIDTH))

    def _set_sampling(self, **values: Any) -> None:
        sampling = {**(self.metadata.get("sampling") or {}), **values}
        self.metadata = {**self.metadata, "sampling": sampling}

    def resolve_method(self, method: str, temperature: float = 1.0) -> str:
        """``method``, or :attr:`default_method` for ``"auto"``; but a temperature other than 1
        asks for sampling, so ``"auto"`` then means multinomial even on a model that decodes
        greedily or by beam search (a temperature that changed nothing would be silently lost).
        An explicit ``"greedy"`` or ``"beam"`` with such a temperature is logged: neither has a
        temperature."""
        if method == "auto":
            method = self.default_method
            if method != "multinomial" and float(temperature) != 1.0:
                logger.info("temperature %g given: sampling multinomially (this model decodes "
                            "by %s by default)", temperature, method)  # fmt: skip
                return "multinomial"
        elif method != "multinomial" and float(temperature) != 1.0:
            logger.warning("temperature %g has no effect with %s decoding", temperature, method)
        return method

    @property
    def max_len(self) -> int:
        """Default decoding length: the training data's longest molecule + margin."""
        return int(self.metadata.get("max_len", 0)) or DEFAULT_MAX_LEN

    def autocast(self) -> Any:
        """bf16 autocast for the encoder and teacher-forced passes when ``precision="bf16"``."""
        return autocast(self.device, self.precision == "bf16")

    # ---- latent points -> molecules ----------------------------------------------------------------
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

        Returns:
            DataFrame with ``smiles`` (as decoded), ``valid`` (RDKit parses it and reads its
            canonical SMILES back), ``canonical`` (that SMILES or None) and ``nll`` (the decoder's
            negative log-likelihood of the decoded tokens given z, in nats).
        """
        check_decoding_args(temperature, method, max_len, batch_size)
        method = self.resolve_method(method, temperature)
        zt = torch.as_tensor(np.asarray(z, dtype=np.float32), device=self.device)
        if zt.ndim == 1:
            zt = zt[None]
        if zt.ndim != 2 or zt.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (N, {self.latent_dim}), got {tuple(zt.shape)}")
        check_latent(zt)
        gen = generator if generator is not None else torch_generator(seed, self.device)
        rows, nll = self.decode_ids(zt, method, temperature, max_len, gen, batch_size)
        smiles = self.tokenizer.decode_batch(rows)
        canon, _ = canonical_forms(smiles)  # all at once: many go to worker processes
        return sample_frame(smiles, canon, nll)

    def decode_ids(
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
            z, length, dtype = (
                zt[start : start + batch_size],
                int(max_len or self.max_len),
                PRECISIONS[self.precision],
            )
            if method == "beam":
                ids, lengths, nll = self.model.beam_decode(
                    z, length, self.beam_width, self.start_ids, dtype
                )
            else:
                ids, lengths, nll = self.model.decode(
                    z,
                    max_len=length,
                    temperature=float(temperature),
                    greedy=method == "greedy",
                    generator=generator,
                    start_ids=self.start_ids,
                    dtype=dtype,
                )
            rows += [r[:n] for r, n in zip(ids.cpu().tolist(), lengths.cpu().tolist())]
            nlls.append(nll.float().cpu().numpy())
        return rows, np.concatenate(nlls)

    def z_source(self, prior: str = "auto") -> str:
        """``"learned"`` or ``"standard"``: where ``sample(..., prior=prior)`` draws z from.

        Raises:
            ValueError: an unknown ``prior``, or ``"learned"`` for a model without one.
        """
        if prior not in Z_SOURCES:
            raise ValueError(f"prior must be one of {list(Z_SOURCES)}, got {prior!r}")
        if prior == "learned" and self.prior is None:
            raise ValueError(
                "this model has no learned prior: fit one with gen.fit_prior(training_smiles) "
                "(models trained with prior other than 'none' store one), or use prior='standard'"
            )
        return "learned" if self.prior is not None and prior != "standard" else "standard"

    prior_in_use = z_source  # the older name

    def draw_z(
        self, n: int, source: str, generator: torch.Generator, deck: ComponentDeck | None = None
    ) -> torch.Tensor:
        """``(n, latent_dim)`` latent points from ``source`` (see :meth:`z_source`); from the
        learned prior, with its components dealt from ``deck`` (one per sampling run, from
        ``gen.prior.deck(generator)``, so that the run's batches share one stratified draw)."""
        if source == "learned":
            return self.prior.sample(n, generator=generator, device=self.device, deck=deck)  # type: ignore[union-attr]
        return torch.randn(n, self.latent_dim, device=self.device, generator=generator)

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
        post = self.posteriors(smiles_list(smiles), batch_size)
        self.prior = fit_prior(post.mu, post.logvar, n_components, method, spread, seed)
        return self.prior

    # ---- molecules -> latent points ----------------------------------------------------------------
    def inputs(self, values: list[Any]) -> Inputs:
        """Each input as the model reads it (see :func:`molvae.inputs.read_inputs`)."""
        return read_inputs(values, self.tokenizer, self.standardize, self.keeps_stereo)

    def batches(
        self, ids: list[list[int] | None], batch_size: int
    ) -> Iterator[tuple[list[int], torch.Tensor, torch.Tensor]]:
        """The one batching loop over encoded inputs: ``(rows, ids (B, T), lengths (B,))``.
        Rows go in order of length, so that a batch holds molecules of similar length (less
        padding); ``rows`` says where each result belongs."""
        ok = sorted((k for k, x in enumerate(ids) if x is not None), key=lambda k: len(ids[k]))  # type: ignore[arg-type]
        for start in range(0, len(ok), batch_size):
            rows = ok[start : start + batch_size]
            batch = [ids[k] for k in rows]
            arr = torch.from_numpy(pad_rows(batch)).to(self.device)  # type: ignore[arg-type]
            yield rows, arr, torch.tensor([len(r) for r in batch])  # type: ignore[arg-type]

    def posterior(self, smiles: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``mu (Z,)``, ``logvar (Z,)`` of one molecule (float32, on the codec's device).

        Raises:
            TokenizerError: the molecule cannot be encoded; the message quotes the input and names
                the reason or the token (and its position) the vocabulary lacks.
        """
        return self._posterior_changes(smiles)[:2]

    def _posterior_changes(self, smiles: str) -> tuple[torch.Tensor, torch.Tensor, str | None]:
        """:meth:`posterior` and what standardising the molecule changed (one pass)."""
        ids, changes = read_one(smiles, self.tokenizer, self.standardize, self.keeps_stereo)
        ids = torch.tensor([ids], device=self.device)
        with torch.no_grad(), self.autocast():
            mu, logvar = self.model.encode_params(ids, torch.tensor([ids.shape[1]]))
        return mu[0].float(), logvar[0].float(), changes

    def posteriors(self, smiles: list[Any], batch_size: int = 1000) -> Posteriors:
        """q(z|x) of every input, NaN rows where one cannot be encoded (see :class:`Posteriors`)."""
        mu = np.full((len(smiles), self.latent_dim), np.nan, dtype=np.float32)
        logvar = mu.copy()
        inputs = self.inputs(smiles)
        for rows, ids, lengths in self.batches(inputs.ids, batch_size):
            with torch.no_grad(), self.autocast():
                m, lv = self.model.encode_params(ids, lengths)
            mu[rows], logvar[rows] = m.float().cpu().numpy(), lv.float().cpu().numpy()
        return Posteriors(mu, logvar, inputs)

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
            smiles: one SMILES, a list or Series of them (a DataFrame: its ``smiles`` column).
            sample: draw ``z ~ q(z|x)`` instead of returning the mean.
            seed: seed for ``sample=True``.
            details: also return a DataFrame with ``smiles``, ``reason`` (None when encoded) and
                ``standardized`` (what standardising the input changed, None when nothing).

        Returns:
            ``(N, latent_dim)`` float32 array. In the batch form a row that cannot be encoded is
            NaN and its reason is logged (and given by ``details=True``), never fatal.

        Raises:
            TokenizerError: a single SMILES that cannot be encoded (the message names the token).
        """
        if isinstance(smiles, str):
            mu, logvar, change = self._posterior_changes(smiles)
            mu_np, lv_np, reasons = mu.cpu().numpy()[None], logvar.cpu().numpy()[None], [None]
            values: list[Any] = [smiles]
            changes = [change]
        else:
            values = smiles_list(smiles)
            post = self.posteriors(values, batch_size)
            mu_np, lv_np, reasons = post.mu, post.logvar, post.inputs.reasons
            changes = post.inputs.changes
        z = mu_np
        if sample:
            rng = np.random.default_rng(seed)
            z = (mu_np + np.exp(0.5 * lv_np) * rng.standard_normal(mu_np.shape)).astype(np.float32)
        if details:
            frame = {"smiles": pd.Series(values, dtype=object), "reason": reasons}
            return z, pd.DataFrame({**frame, "standardized": changes})
        return z

    def save(self, path: str | os.PathLike, metadata: dict | None = None) -> Path:
        """Write the model as a checkpoint (no training state) with its learned prior."""
        return ckpt.save(
            path,
            self.model,
            self.tokenizer,
            metadata={**self.metadata, **(metadata or {})},
            prior=self.prior.to_dict() if self.prior is not None else None,
        )


def sample_frame(smiles: list[str], canonical: list[str | None], nll: Any) -> pd.DataFrame:
    """The decoded-molecules frame: ``smiles``, ``valid``, ``canonical``, ``nll``."""
    if not smiles:
        return pd.DataFrame({c: [] for c in SAMPLE_COLUMNS})
    return pd.DataFrame(
        {
            "smiles": smiles,
            "valid": [c is not None for c in canonical],
            "canonical": canonical,
            "nll": nll,
        }
    )
