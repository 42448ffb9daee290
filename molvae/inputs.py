"""Molecules as a model reads them: canonicalised (standardised like the training data unless
asked not to), tokenized, and every input that cannot be read given its reason. The one input path
of every verb that takes molecules (``Codec.inputs`` and ``Codec.posterior``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from molvae.chem import canonical_forms, canonical_mol, standardized_forms, standardized_pair
from molvae.exceptions import TokenizerError
from molvae.reasons import DESCRIPTIONS
from molvae.tokenizers import Tokenizer

logger = logging.getLogger(__name__)


@dataclass
class Inputs:
    """Molecules as the model reads them: per input, its token ids (None when it cannot be
    encoded), the reason it cannot (``molvae.reasons``, None when it can) and its canonical
    SMILES (None when RDKit cannot parse it), of the standardised molecule when the codec
    standardises (``changes`` says what that changed)."""

    ids: list[list[int] | None]
    reasons: list[str | None]
    canonical: list[str | None]
    changes: list[str | None]  # what standardisation changed ("fragment,charge,stereo") or None

    @property
    def ok(self) -> list[int]:
        """Rows that can be encoded, in input order."""
        return [k for k, r in enumerate(self.reasons) if r is None]


def has_stereo_tokens(tokenizer: Tokenizer) -> bool:
    """Whether a vocabulary has stereo tokens (``@``, ``/``, ``\\``): if not, standardising
    removes stereochemistry, which the model could not read."""
    return any(c in t for t in tokenizer.vocab.tokens for c in "@/\\")


def read_inputs(
    values: list[Any], tokenizer: Tokenizer, standardize: bool = True, keep_stereo: bool = True
) -> Inputs:
    """Token ids of each input's canonical form (the models are trained on RDKit canonical
    SMILES; standardised first with ``standardize``), or None and the reason it cannot be
    encoded (the first few logged)."""
    if standardize:
        canon, reasons, changes = standardized_forms(values, keep_stereo)
    else:
        (canon, reasons), changes = canonical_forms(values), [None] * len(values)
    ok = [k for k, r in enumerate(reasons) if r is None]
    encoded, errors, details = tokenizer.encode_many([canon[k] for k in ok])
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
    return Inputs(ids, reasons, canon, changes)


def read_one(
    smiles: str, tokenizer: Tokenizer, standardize: bool = True, keep_stereo: bool = True
) -> tuple[list[int], str | None]:
    """Token ids of one molecule, and what standardising it changed (None when nothing did).

    Raises:
        TokenizerError: it cannot be encoded; the message quotes the input and names the reason,
            or the token (and its position) the vocabulary lacks.
    """
    changes = None
    if standardize:
        canon, reason, changes = standardized_pair(smiles, keep_stereo)
    else:
        _, canon, reason = canonical_mol(smiles)
    if canon is None:
        raise TokenizerError(
            f"cannot encode this SMILES ({reason}: {DESCRIPTIONS[reason]})",
            input=smiles[:200] if isinstance(smiles, str) else None,
        )
    return tokenizer.encode(canon), changes
