"""Reconstruction: encode each molecule, decode it greedily (from the mean, or from several draws
of q(z|x) keeping the most frequent decoding) and compare canonical forms.

Example:
    >>> import molvae as mv
    >>> df = mv.load("moses-smiles").reconstruct(["CCOc1ccccc1"], n_decodes=1)
    >>> df.attrs["exact_match"]
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from molvae.checks import check_count
from molvae.chem import canonical_similarities, smiles_list
from molvae.codec import Codec, Posteriors
from molvae.device import torch_generator

logger = logging.getLogger(__name__)

COLUMNS = ["smiles", "reconstruction", "match", "frequency", "tanimoto", "reason", "standardized"]


def reconstruct(
    codec: Codec,
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
        (to the input) and ``reason`` (why a row could not be encoded), ``standardized`` (what
        standardising the input changed; the comparison is with the standardised molecule). ``df.attrs["exact_match"]``
        holds the exact-match rate over the encodable rows.
    """
    n_decodes = check_count("n_decodes", n_decodes)
    values = smiles_list(smiles)
    return reconstruct_posteriors(
        codec, values, codec.posteriors(values, batch_size), n_decodes, seed, batch_size, max_len
    )


def reconstruct_posteriors(
    codec: Codec,
    values: list[Any],
    post: Posteriors,
    n_decodes: int = 1,
    seed: int = 0,
    batch_size: int = 1000,
    max_len: int | None = None,
) -> pd.DataFrame:
    """:func:`reconstruct` of inputs already encoded (``post = codec.posteriors(values)``), for
    verbs that need the posteriors for more than the reconstruction (``molvae.anomaly``)."""
    mu, logvar, inputs = post.mu, post.logvar, post.inputs
    canon, encoded = inputs.canonical, inputs.ids
    ok = inputs.ok
    z = mu[ok, None]  # (n, 1, Z)
    if n_decodes > 1:
        rng = np.random.default_rng(seed)
        eps = rng.standard_normal((len(ok), n_decodes, codec.latent_dim)).astype(np.float32)
        z = mu[ok, None] + np.exp(0.5 * logvar[ok, None]) * eps  # (n, n_decodes, Z)
    # decoded shortest first: a decode batch then holds molecules of similar length
    order = sorted(range(len(ok)), key=lambda j: len(encoded[ok[j]]))  # type: ignore[arg-type]
    ok = [ok[j] for j in order]
    zt = torch.as_tensor(z[order].reshape(-1, codec.latent_dim), device=codec.device)
    ids, _ = codec.decode_ids(zt, "greedy", 1.0, max_len, torch_generator(seed), batch_size)
    # A decoding whose tokens are the input's own is the input molecule (encodings are
    # round-trip checked): only the others are turned into SMILES and checked by RDKit.
    targets = [encoded[k][1:] for k in ok for _ in range(n_decodes)]  # type: ignore[index]
    other = [j for j, (d, t) in enumerate(zip(ids, targets)) if d != t]
    raw = codec.tokenizer.decode_batch([ids[j] for j in other])
    other_canon, other_sim = canonical_similarities(raw, [canon[ok[j // n_decodes]] for j in other])  # type: ignore[misc]
    text = [canon[k] for k in ok for _ in range(n_decodes)]
    sim = np.ones(len(text))  # Tanimoto of each decoding to its input
    for j, c, s, t in zip(other, other_canon, raw, other_sim):
        # an invalid decoding is kept as its raw string, so that it can still be the most frequent
        text[j], sim[j] = (c if isinstance(c, str) else s), t
    best: dict[int, tuple[str, float, float]] = {}
    for j, k in enumerate(ok):
        texts = text[j * n_decodes : (j + 1) * n_decodes]
        top, freq = Counter(texts).most_common(1)[0]
        best[k] = (top, freq / n_decodes, sim[j * n_decodes + texts.index(top)])
    rows = []
    for k, s in enumerate(values):
        if k not in best:
            rows.append((s, None, False, np.nan, np.nan, inputs.reasons[k], None))
            continue
        top, freq, similarity = best[k]
        same = top == canon[k]  # the same canonical SMILES: the same molecule, Tanimoto 1
        rows.append((s, top, same, freq, 1.0 if same else similarity, None, inputs.changes[k]))
    df = pd.DataFrame(rows, columns=COLUMNS)
    df.attrs["exact_match"] = float(df.match[ok].mean()) if ok else float("nan")
    logger.info(
        "reconstruct: %.1f%% exact over %d molecules (%d not encodable)",
        100 * df.attrs["exact_match"],
        len(ok),
        len(values) - len(ok),
    )
    return df
