"""The notebook facade: a :class:`~molvae.codec.Codec` with every verb attached, each one
delegated to the module that owns it (``sampling``, ``reconstruct``, ``likelihood``, ``latent``,
``optimize``). Rows that cannot be used are reported in a ``reason`` column
(``molvae.reasons``), never raised in batch calls.

Example:
    >>> import molvae as mv
    >>> gen = mv.load("moses-smiles")           # bundled name, run directory or checkpoint file
    >>> df = gen.sample(1000, seed=0)
    >>> df.valid.mean()
"""

from __future__ import annotations

import os

import torch

from molvae import anomaly as _anomaly
from molvae import encoding, latent, likelihood, sampling
from molvae import optimize as _optimize
from molvae import reconstruct as _reconstruct
from molvae.codec import (  # noqa: F401  (the decoding constants, importable from here too)
    DEFAULT_MAX_LEN,
    METHODS,
    PRECISIONS,
    PRIORS,
    SAMPLE_COLUMNS,
    Codec,
    check_decoding_args,
)
from molvae.device import torch_generator  # noqa: F401  (importable from here too)


class Generator(Codec):
    """Sample, encode, decode, reconstruct, score and walk the latent space of a trained model.

    Everything a :class:`~molvae.codec.Codec` does (``decode``, ``posteriors``, ``fit_prior``,
    ``save``), plus the verbs below, each the function of the module that owns it (its first
    argument is the model): ``encode``, ``posterior`` (:mod:`molvae.encoding`), ``sample``,
    ``iter_samples``, ``sample_to_csv``, ``nll_threshold``, ``z_source``, ``draw_z``
    (:mod:`molvae.sampling`),
    ``reconstruct`` (:mod:`molvae.reconstruct`), ``elbo`` (:mod:`molvae.likelihood`),
    ``anomaly``, ``calibrate_anomaly`` (:mod:`molvae.anomaly`), ``interpolate``, ``neighbors``,
    ``traverse`` (:mod:`molvae.latent`), ``optimize``, ``fit_predictor`` (:mod:`molvae.optimize`).
    Build one with :func:`load` (or ``FitResult.generator()``); the constructor takes the same
    arguments as ``Codec``.
    """

    encode = encoding.encode
    posterior = encoding.posterior
    z_source = sampling.z_source
    prior_in_use = sampling.z_source  # the older name
    draw_z = sampling.draw_z
    sample = sampling.sample
    iter_samples = sampling.iter_samples
    sample_to_csv = sampling.sample_to_csv
    nll_threshold = sampling.nll_threshold
    reconstruct = _reconstruct.reconstruct
    elbo = likelihood.elbo
    anomaly = _anomaly.anomaly
    calibrate_anomaly = _anomaly.calibrate_anomaly
    interpolate = latent.interpolate
    neighbors = latent.neighbors
    traverse = latent.traverse
    optimize = _optimize.optimize
    fit_predictor = _optimize.fit_predictor


def load(
    model: str | os.PathLike,
    device: str | torch.device | None = None,
    precision: str = "auto",
    standardize: bool = True,
) -> Generator:
    """Load a :class:`Generator` from a checkpoint file or a run directory (its ``best.pt``).

    Args:
        model: a ``.pt`` checkpoint or a run directory written by ``fit``/``molvae train``, or the
            name of a bundled model (``mv.pretrained()``).
        device: ``"cpu"``, ``"cuda"``, ... (default: cuda if available, else cpu).
        precision: ``"auto"`` (bf16 where the device has native bf16, else float32), ``"fp32"``
            or ``"bf16"`` (see :class:`~molvae.codec.Codec`).
        standardize: make inputs like the training data before encoding (largest fragment,
            neutral charges, no stereo for a stereo-free vocabulary); False: as given.

    Raises:
        CheckpointError: missing, damaged, tampered or pickled-object file, unknown format version.
    """
    from molvae import checkpoint as ckpt
    from molvae.device import inference_device
    from molvae.prior import GaussianMixturePrior

    path = ckpt.resolve(model)
    c = ckpt.load(path)
    prior = None
    if c.prior is not None:
        try:
            prior = GaussianMixturePrior.from_dict(c.prior)
        except (ValueError, KeyError, TypeError) as err:
            raise ckpt.CheckpointError(f"{path}: unusable learned prior: {err}") from err
    train_max_len = (c.train_config or {}).get("max_len")
    meta = dict(c.metadata)
    kl_weight = (c.train_config or {}).get("kl_weight")
    if isinstance(kl_weight, (int, float)) and not isinstance(kl_weight, bool):
        meta.setdefault("kl_weight", float(kl_weight))  # the anomaly score weighs KL by it
    gen = Generator.from_training(
        c.build_model(inference_device(device)),
        c.tokenizer,
        int(train_max_len) if train_max_len else None,
        prior=prior,
        metadata=meta,
        precision=precision,
    )
    gen.standardize = bool(standardize)
    return gen
