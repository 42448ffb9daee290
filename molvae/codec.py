"""The codec: a trained model with its tokenizer, learned prior and precision, turning molecules
into latent points and latent points into checked molecules.

Every verb that takes molecules goes through one input path (:meth:`Codec.inputs`, which uses the
one canonicaliser ``molvae.chem.canonical_forms``, and :meth:`Codec.batches`), and every verb that
makes molecules through one decode-and-check path (:meth:`Codec.decode`), so sampling,
reconstruction, the latent walks, optimisation and training validation decode and compare the
same way. The verbs themselves live in their own modules (``molvae.encoding``,
``molvae.sampling``, ``molvae.reconstruct``, ``molvae.likelihood``, ``molvae.latent``,
``molvae.optimize``) and take a Codec; the checks of decoding arguments and the decoded frame are
in ``molvae.decoding``; :class:`molvae.generator.Generator` is the Codec with those verbs attached.
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
from molvae.constants import BEAM_WIDTH, DECODE_METHODS, MAX_BEAM_WIDTH, Z_SOURCES
from molvae.decoding import (  # noqa: F401  (importable from here too)
    DEFAULT_MAX_LEN,
    PRECISIONS,
    SAMPLE_COLUMNS,
    check_decoding_args,
    check_latent,
    decode_length,
    sample_frame,
)
from molvae.device import autocast, default_precision, torch_generator
from molvae.inputs import Inputs, has_stereo_tokens, read_inputs
from molvae.model import MolVAE
from molvae.prior import GaussianMixturePrior, fit_prior
from molvae.tokenizers import Tokenizer, pad_rows

logger = logging.getLogger(__name__)

METHODS = DECODE_METHODS  # the older name
PRIORS = Z_SOURCES  # the older name


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

    def save(self, path: str | os.PathLike, metadata: dict | None = None) -> Path:
        """Write the model as a checkpoint (no training state) with its learned prior."""
        return ckpt.save(
            path,
            self.model,
            self.tokenizer,
            metadata={**self.metadata, **(metadata or {})},
            prior=self.prior.to_dict() if self.prior is not None else None,
        )
