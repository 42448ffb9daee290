"""Sampling a :class:`~molvae.codec.Codec`: a stream of checked molecules in batches
(:func:`iter_samples`), a DataFrame (:func:`sample`) and a CSV written atomically
(:func:`sample_to_csv`), optionally until ``n`` valid (and unique) molecules are in hand.

RDKit checks run in worker processes (``molvae.parallel``) while the next batches decode, so the
model never waits for RDKit; the samples do not depend on the number of workers.

Example:
    >>> import molvae as mv
    >>> gen = mv.load("moses-smiles")
    >>> df = gen.sample(1000, seed=0)                      # raw: what cards and metrics report
    >>> ok = gen.sample(1000, seed=0, valid_only=True, unique=True)
    >>> ok.attrs["draws"]                                  # how many were decoded to get them
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import torch

from molvae.checks import check_count, check_number
from molvae.chem import canonical_forms
from molvae.codec import Codec
from molvae.constants import Z_SOURCES
from molvae.decoding import check_decoding_args, sample_frame
from molvae.device import torch_generator
from molvae.exceptions import SamplingError
from molvae.files import table_format, table_writer
from molvae.parallel import default_jobs, process_pool
from molvae.prior import ComponentDeck
from molvae.tokenizers import Tokenizer, tokenizer_from_dict

logger = logging.getLogger(__name__)

MIN_DRAWS = 10_000  # valid_only: at least this many draws before giving up
DRAWS_PER_MOLECULE = 20  # valid_only: and at least this many per molecule asked for

_WORKER_TOKENIZER: Tokenizer | None = None  # a sampling worker's copy of the model's tokenizer


def _init_worker(tokenizer: dict) -> None:
    global _WORKER_TOKENIZER
    _WORKER_TOKENIZER = tokenizer_from_dict(tokenizer)


def _decode_and_check(rows: list[list[int]]) -> tuple[list[str], list[str | None]]:
    """A worker's share of a batch: token ids -> SMILES -> canonical SMILES (or None)."""
    smiles = _WORKER_TOKENIZER.decode_batch(rows)  # type: ignore[union-attr]
    return smiles, canonical_forms(smiles, 1)[0]


def z_source(codec: Codec, prior: str = "auto") -> str:
    """``"learned"`` or ``"standard"``: where ``sample(..., prior=prior)`` draws z from.

    Raises:
        ValueError: an unknown ``prior``, or ``"learned"`` for a model without one.
    """
    if prior not in Z_SOURCES:
        raise ValueError(f"prior must be one of {list(Z_SOURCES)}, got {prior!r}")
    if prior == "learned" and codec.prior is None:
        raise ValueError(
            "this model has no learned prior: fit one with gen.fit_prior(training_smiles) "
            "(models trained with prior other than 'none' store one), or use prior='standard'"
        )
    return "learned" if codec.prior is not None and prior != "standard" else "standard"


def draw_z(
    codec: Codec,
    n: int,
    source: str,
    generator: torch.Generator,
    deck: ComponentDeck | None = None,
) -> torch.Tensor:
    """``(n, latent_dim)`` latent points from ``source`` (see :func:`z_source`); from the
    learned prior, with its components dealt from ``deck`` (one per sampling run, from
    ``gen.prior.deck(generator)``, so that the run's batches share one stratified draw)."""
    if source == "learned":
        return codec.prior.sample(n, generator=generator, device=codec.device, deck=deck)  # type: ignore[union-attr]
    return torch.randn(n, codec.latent_dim, device=codec.device, generator=generator)


def iter_samples(
    codec: Codec,
    n: int,
    temperature: float = 1.0,
    seed: int | None = None,
    batch_size: int = 1000,
    max_len: int | None = None,
    method: str = "auto",
    prior: str = "auto",
    n_jobs: int | None = None,
) -> Iterator[pd.DataFrame]:
    """Yield DataFrames of at most ``batch_size`` samples each, ``n`` in total (flat memory).

    ``n_jobs`` worker processes check the decoded molecules with RDKit while the next batches
    decode (default: on an accelerator :func:`~molvae.parallel.default_jobs`; on a CPU none,
    since decoding already uses every core). Closing the iterator early stops the workers.
    """
    stream = _stream(codec, n, temperature, seed, batch_size, max_len, method, prior, n_jobs)
    try:
        for frame, _ in stream:
            yield frame
    finally:
        stream.close()


def _stream(
    codec: Codec,
    n: int,
    temperature: float = 1.0,
    seed: int | None = None,
    batch_size: int = 1000,
    max_len: int | None = None,
    method: str = "auto",
    prior: str = "auto",
    n_jobs: int | None = None,
) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """:func:`iter_samples` with each frame's token counts (``<eos>`` included): ``(frame,
    tokens (b,))``, for the NLL per token."""
    n = check_count("n", n)
    check_decoding_args(temperature, method, max_len, batch_size)
    method = codec.resolve_method(method, temperature)
    source = z_source(codec, prior)
    gen = torch_generator(seed, codec.device)
    deck = codec.prior.deck(gen) if source == "learned" else None  # type: ignore[union-attr]
    if n_jobs is None:
        n_jobs = 0 if codec.device.type == "cpu" else default_jobs()
    cpus = os.cpu_count() or 1
    if n_jobs > cpus:  # more RDKit workers than CPUs only costs memory and start-up
        logger.info("sampling: %d RDKit workers asked for, %d CPUs: using %d", n_jobs, cpus, cpus)
        n_jobs = cpus

    def frames(pool: Any) -> Iterator[pd.DataFrame]:
        pending: deque = deque()  # (nll, tokens, [(smiles, canonical forms)] or futures)
        done = 0
        while done < n or pending:
            if done < n:
                b = min(batch_size, n - done)
                z = draw_z(codec, b, source, gen, deck)
                rows, nll = codec.decode_ids(z, method, temperature, max_len, gen, b)
                tokens = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
                if pool is None:
                    smiles = codec.tokenizer.decode_batch(rows)
                    pending.append((nll, tokens, [(smiles, canonical_forms(smiles, 1)[0])]))
                else:  # token ids to SMILES (SELFIES decoding) and RDKit, both in the workers
                    size = -(-len(rows) // n_jobs)
                    parts = [rows[i : i + size] for i in range(0, len(rows), size)]
                    futures = [pool.submit(_decode_and_check, p) for p in parts]
                    pending.append((nll, tokens, futures))
                done += b
            if len(pending) > (2 if pool is not None else 0) or (done >= n and pending):
                nll, tokens, parts = pending.popleft()
                parts = [p.result() if pool is not None else p for p in parts]
                frame = sample_frame(
                    [s for ss, _ in parts for s in ss], [c for _, cs in parts for c in cs], nll
                )
                yield frame, tokens

    if n_jobs <= 0:
        yield from frames(None)
        return
    pool = process_pool(n_jobs, _init_worker, (codec.tokenizer.to_dict(),))
    try:
        yield from frames(pool)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def nll_per_token(frame: pd.DataFrame, tokens: np.ndarray) -> np.ndarray:
    """Each sample's decoder NLL divided by its token count (``<eos>`` included): the model's own
    measure of how unusual a sample is, not biased toward short molecules."""
    return frame.nll.to_numpy(dtype=np.float64) / np.maximum(tokens, 1)


def iter_kept(
    codec: Codec,
    n: int,
    valid_only: bool = False,
    unique: bool = False,
    max_draws: int | None = None,
    max_nll_per_token: float | None = None,
    **options: Any,
) -> Iterator[tuple[pd.DataFrame, int, int]]:
    """``(frame, draws so far, valid draws so far)``: the raw samples when no filter is asked for;
    else only valid (and, with ``unique``, first-seen canonical; with ``max_nll_per_token``, no
    less likely than that) molecules, drawn until ``n`` are kept or ``max_draws`` molecules have
    been decoded.

    Raises:
        SamplingError: ``max_draws`` spent before ``n`` molecules were kept (``.samples`` holds
            those kept, ``.draws`` the molecules decoded).
    """
    if max_nll_per_token is not None:
        max_nll_per_token = check_number("max_nll_per_token", max_nll_per_token, 0.0, 1e6, True)
    if not (valid_only or unique or max_nll_per_token is not None):
        draws = valid = 0
        for part in iter_samples(codec, n, **options):
            draws, valid = draws + len(part), valid + int(part.valid.sum())
            yield part, draws, valid
        return
    n = check_count("n", n)
    limit = max_draws if max_draws is not None else max(MIN_DRAWS, DRAWS_PER_MOLECULE * n)
    limit = check_count("max_draws", limit)
    seen: set[str] = set()
    kept: list[pd.DataFrame] = []
    count = draws = valid = 0
    stream = _stream(codec, limit, **options)
    try:
        for part, tokens in stream:
            draws, valid = draws + len(part), valid + int(part.valid.sum())
            keep = part.valid.to_numpy().copy()
            if max_nll_per_token is not None:
                keep &= nll_per_token(part, tokens) <= max_nll_per_token
            if unique:
                for j, c in enumerate(part.canonical):
                    if keep[j]:
                        keep[j] = c not in seen
                        seen.add(c)
            part = part[keep].head(n - count).reset_index(drop=True)
            count += len(part)
            kept.append(part)
            yield part, draws, valid
            if count >= n:
                return
    finally:
        stream.close()  # stops the workers when enough were kept
    what = kept_description(unique, max_nll_per_token)
    raise SamplingError(
        f"only {count:,} {what} molecules of the {n:,} asked for in {draws:,} draws "
        f"(max_draws={limit:,}): this model yields too few; raise max_draws"
        f"{', raise max_nll_per_token' if max_nll_per_token is not None else ''}, lower the "
        f"temperature or check the model with gen.sample(n).valid.mean()",
        samples=pd.concat(kept, ignore_index=True) if kept else None,
        draws=draws,
    )


def kept_description(unique: bool, max_nll_per_token: float | None) -> str:
    """What a filtered sampling keeps, in words ("unique valid", "valid, NLL/token <= 0.25")."""
    what = "unique valid" if unique else "valid"
    if max_nll_per_token is not None:
        what += f" (NLL per token <= {max_nll_per_token:g})"
    return what


def nll_threshold(
    codec: Codec, keep: float, n: int = 20_000, seed: int = 0, **options: Any
) -> float:
    """The NLL per token below which the fraction ``keep`` of this model's raw samples lie (``n``
    draws with ``options`` as in :func:`sample`): a ``max_nll_per_token`` for :func:`sample`
    that drops the least likely ``1 - keep`` of the samples.

    A SELFIES decoder's mistakes become valid but odd molecules rather than invalid strings;
    they are mostly the samples the model itself finds unlikely (docs/recipe.md measures how
    the MOSES metrics move as the tail goes).
    """
    keep = check_number("keep", keep, 0.0, 1.0, low_open=True)
    values = [
        nll_per_token(f, t) for f, t in _stream(codec, check_count("n", n), seed=seed, **options)
    ]
    return float(np.quantile(np.concatenate(values), keep))


def sample(
    codec: Codec,
    n: int,
    temperature: float = 1.0,
    seed: int | None = None,
    batch_size: int = 1000,
    max_len: int | None = None,
    method: str = "auto",
    progress: bool = False,
    prior: str = "auto",
    n_jobs: int | None = None,
    valid_only: bool = False,
    unique: bool = False,
    max_draws: int | None = None,
    max_nll_per_token: float | None = None,
) -> pd.DataFrame:
    """``n`` molecules from the prior of ``codec`` (``gen.sample(n, ...)``).

    Args:
        n: number of samples (> 0).
        temperature: softmax temperature (finite, >= 0.001); lower is more conservative.
        seed: same seed, same molecules (for the same ``batch_size`` and device).
        batch_size: molecules decoded at once.
        max_len: most tokens per molecule (default: the training data's longest + margin).
        method: ``"multinomial"``, ``"greedy"`` (most likely token at each step), ``"beam"``
            (the most likely string of ``gen.beam_width`` kept at each step) or ``"auto"``
            (default): the model's own (``gen.default_method``: the method stored with the model,
            else multinomial; both bundled models decode by beam search, since a SMILES model's
            sampled mistakes are invalid strings and a SELFIES model's are odd molecules); with a
            ``temperature`` other than 1, ``"auto"`` samples multinomially.
        progress: show a progress bar.
        prior: where z comes from: ``"standard"`` N(0, I), ``"learned"`` the model's learned
            prior (a Gaussian mixture fitted to the codes of training molecules; samples
            resemble the training set far more, see docs/recipe.md; one call deals its
            components in stratified passes, :class:`~molvae.prior.ComponentDeck`, so up to
            ``K`` samples meet ``K`` equal components once each), ``"auto"`` (default) the
            learned prior when the model has one, else N(0, I).
        n_jobs: worker processes for the RDKit checks, overlapped with decoding (default:
            none on a CPU, up to 8 on an accelerator).
        valid_only: keep drawing until ``n`` *valid* molecules are in hand (raw samples, what
            the cards and metrics report, when False).
        unique: with ``valid_only``-style drawing, keep only the first of repeated molecules
            (implies ``valid_only``).
        max_draws: with ``valid_only``/``unique``/``max_nll_per_token``, give up after this many
            molecules decoded (default ``max(10,000, 20 * n)``).
        max_nll_per_token: keep drawing until ``n`` valid molecules whose decoder NLL per token
            is at most this are in hand: drops the samples the model itself finds least likely
            (for SELFIES models, the odd molecules a decoder mistake makes; pick the value with
            :func:`nll_threshold`).

    Returns:
        DataFrame with ``smiles``, ``valid``, ``canonical`` and ``nll`` (see
        :meth:`decode`); ``df.attrs["draws"]``: molecules decoded, ``df.attrs["valid_draws"]``:
        how many of them were valid.

    Raises:
        ValueError: ``n <= 0``, a bad ``temperature``, ``max_len``, an unknown ``method`` or
            ``prior``, or ``prior="learned"`` for a model without one.
        SamplingError: ``max_draws`` spent before ``n`` molecules were kept (its ``samples``
            holds those kept).
    """
    from tqdm.auto import tqdm

    options = dict(temperature=temperature, seed=seed, batch_size=batch_size, max_len=max_len,
                   method=method, prior=prior, n_jobs=n_jobs)  # fmt: skip
    parts, counts = [], (0, 0)
    with tqdm(total=n, desc="sampling", unit="mol", disable=not progress) as bar:
        for part, draws, valid in iter_kept(
            codec, n, valid_only, unique, max_draws, max_nll_per_token, **options
        ):
            parts.append(part)
            bar.update(len(part))
            counts = (draws, valid)
    df = pd.concat(parts, ignore_index=True)
    df.attrs.update(draws=counts[0], valid_draws=counts[1])
    draws = counts[0]
    if valid_only or unique or max_nll_per_token is not None:
        logger.info("sample: kept %d of %d draws (%s)", len(df), draws,
                    kept_description(unique, max_nll_per_token))  # fmt: skip
    return df


def sample_to_csv(
    codec: Codec,
    path: str | os.PathLike,
    n: int,
    progress: bool = False,
    **options: Any,
) -> dict[str, float]:
    """Stream ``n`` samples to a file in chunks (memory stays flat for millions of samples), in the
    format of its suffix (``.csv``, ``.csv.gz``, ``.tsv``, ``.smi``, ``.parquet``: see
    :func:`molvae.files.table_writer`; another suffix is refused before any decoding);
    ``options`` are those of :func:`sample` (``temperature``, ``seed``, ``valid_only``, ...).

    Returns ``{"n": rows written, "valid": fraction of the draws that were valid, "draws":
    molecules decoded}``. The file is written to a temporary name and renamed at the end, so an
    interrupted run (or a :class:`SamplingError`) never leaves a half-written file at ``path``.
    """
    from tqdm.auto import tqdm

    table_format(path)
    filters = ("valid_only", "unique", "max_draws", "max_nll_per_token")
    keep = {k: options.pop(k) for k in filters if k in options}
    rows, counts = 0, (0, 0)
    with (
        table_writer(path) as out,
        tqdm(total=n, desc="sampling", unit="mol", disable=not progress) as bar,
    ):
        for part, draws, valid in iter_kept(codec, n, **keep, **options):
            counts = (draws, valid)
            out.write(part)
            rows += len(part)
            bar.update(len(part))
    draws, n_valid = counts
    valid = (n_valid / draws) if draws else 0.0
    logger.info("wrote %d samples to %s (%d drawn, %.1f%% of the draws valid)", rows, path,
                draws, 100 * valid)  # fmt: skip
    return {"n": rows, "valid": valid, "draws": draws}
