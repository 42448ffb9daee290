"""What every tokenizer shares: the special tokens, the :class:`Vocabulary`, the :class:`Tokenizer`
base class and the one registry of kinds (``TOKENIZERS``: a subclass with a ``kind`` registers
itself), padding of token-id rows, and restoring any tokenizer from plain data."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from molvae.exceptions import TokenizerError

logger = logging.getLogger(__name__)

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<unk>")
FORMAT_VERSION = 1

TOKENIZERS: dict[str, type[Tokenizer]] = {}
"""The tokenizer kinds: the one list every config, CLI choice and loader reads (filled as the
tokenizer classes are defined: ``smiles``, ``smiles-char``, ``selfies``)."""


class Vocabulary:
    """Token <-> id mapping with the four special tokens first.

    Args:
        tokens: the ordinary tokens, in id order (special tokens are added in front).
    """

    def __init__(self, tokens: Iterable[str]):
        tokens = [t for t in tokens if t not in SPECIAL_TOKENS]
        if len(set(tokens)) != len(tokens):
            dupes = sorted(t for t, c in Counter(tokens).items() if c > 1)
            raise TokenizerError(f"vocabulary has duplicate tokens: {dupes[:10]}")
        self.itos: list[str] = list(SPECIAL_TOKENS) + tokens
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.itos == other.itos

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens)"

    @property
    def tokens(self) -> list[str]:
        """The ordinary (non-special) tokens in id order."""
        return self.itos[len(SPECIAL_TOKENS) :]


@dataclass
class BatchEncoding:
    """Result of ``encode_batch``: the rows that encoded, padded, and the rows that did not.

    Attributes:
        ids: ``LongTensor (B, T)``, ``<bos> ... <eos>`` then ``<pad>``; one row per encoded input.
        lengths: ``LongTensor (B,)``, tokens per row including ``<bos>`` and ``<eos>``.
        rows: index in the input of each row of ``ids``.
        errors: input index -> reason (``molvae.reasons``), for every input that could not be encoded.
        details: input index -> message naming the offending token and its position.
    """

    ids: Any
    lengths: Any
    rows: list[int]
    errors: dict[int, str] = field(default_factory=dict)
    details: dict[int, str] = field(default_factory=dict)


def pad_rows(rows: Sequence[Sequence[int]]) -> np.ndarray:
    """Token-id rows as one ``(B, max length)`` int64 array, ``<pad>`` after each row's end."""
    width = max((len(r) for r in rows), default=0)
    arr = np.full((len(rows), width), PAD, dtype=np.int64)
    for j, r in enumerate(rows):
        arr[j, : len(r)] = r
    return arr


class Tokenizer:
    """Behaviour shared by every tokenizer; subclasses define ``kind``, ``tokenize`` and
    ``detokenize`` and are listed in ``TOKENIZERS``.

    Args:
        vocab: a :class:`Vocabulary`; usually made by :meth:`build` (default: empty, which only
            tokenizes).
    """

    kind: str = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("kind"):  # a concrete kind: listed in the one registry
            TOKENIZERS[cls.kind] = cls

    def __init__(self, vocab: Vocabulary | None = None):
        self.vocab = vocab if vocab is not None else Vocabulary([])

    # -- subclass hooks ------------------------------------------------------------------------
    def tokenize(self, smiles: str) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def detokenize(self, tokens: Sequence[str]) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def _position(self, text: str, tokens: Sequence[str], index: int) -> int:
        """Character offset of ``tokens[index]`` inside ``text``."""
        return sum(len(t) for t in tokens[:index])

    def _text_for_errors(self, smiles: str, tokens: Sequence[str]) -> str:
        return smiles

    # -- public API ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.vocab)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r}, vocab_size={len(self.vocab)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tokenizer) and self.to_dict() == other.to_dict()

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def start_ids(self) -> list[int]:
        """Token ids a molecule may start with (all ordinary tokens; SELFIES narrows this)."""
        return list(range(len(SPECIAL_TOKENS), len(self.vocab)))

    def encode(self, smiles: str) -> list[int]:
        """Token ids of one molecule, ``[<bos>, ..., <eos>]``.

        Raises:
            TokenizerError: not a string, empty, not tokenizable, or holding a token the vocabulary
                has never seen; the message quotes the input and marks the position.
        """
        tokens = self.tokenize(smiles)
        stoi = self.vocab.stoi
        ids = [stoi.get(t, -1) for t in tokens]
        if -1 in ids:
            i = ids.index(-1)
            text = self._text_for_errors(smiles, tokens)
            raise TokenizerError(
                f"token {tokens[i]!r} at position {self._position(text, tokens, i)} is not in the "
                f"vocabulary of this {self.kind} tokenizer ({len(self.vocab)} tokens)",
                input=text,
                position=self._position(text, tokens, i),
            )
        return [BOS, *ids, EOS]

    def decode(self, ids: Iterable[int]) -> str:
        """SMILES from token ids: skips a leading ``<bos>`` and ``<pad>``, stops at ``<eos>``.

        ``<unk>`` and ``<bos>`` inside the sequence are kept as literal text so that the result
        is an invalid molecule rather than a silently different one.
        """
        if hasattr(ids, "tolist"):
            ids = ids.tolist()
        itos = self.vocab.itos
        n = len(itos)
        tokens: list[str] = []
        for k, i in enumerate(ids):
            i = int(i)
            if i == EOS:
                break
            if i == PAD or (i == BOS and k == 0):
                continue
            if not 0 <= i < n:
                raise TokenizerError(f"token id {i} is outside the vocabulary (size {n})")
            tokens.append(itos[i])
        return self.detokenize(tokens)

    def decode_batch(self, ids: Any) -> list[str]:
        """Decode every row of a ``(B, T)`` tensor or array; never raises on a bad row
        (a row that cannot be decoded becomes the empty string)."""
        if hasattr(ids, "tolist"):
            ids = ids.tolist()
        out = []
        for row in ids:
            try:
                out.append(self.decode(row))
            except TokenizerError:
                out.append("")
        return out

    def encode_many(
        self, smiles: Sequence[Any], max_len: int | None = None
    ) -> tuple[list[list[int] | None], dict[int, str], dict[int, str]]:
        """Encode a list without raising.

        Returns:
            ``(ids or None per row, {row: reason}, {row: message})``: reasons from
            ``molvae.reasons`` (``untokenizable``, ``unknown_token``, ``too_long``), messages
            naming the token and its position. ``max_len`` counts tokens without ``<bos>``/``<eos>``.
        """
        from molvae import reasons

        out: list[list[int] | None] = []
        errors: dict[int, str] = {}
        details: dict[int, str] = {}
        stoi = self.vocab.stoi
        for k, s in enumerate(smiles):
            ids = None
            try:
                tokens = self.tokenize(s)
            except TokenizerError as err:
                errors[k], details[k] = reasons.UNTOKENIZABLE, str(err).split("\n", 1)[0]
            else:
                if any(t not in stoi for t in tokens):
                    try:
                        self.encode(s)
                    except TokenizerError as err:  # the message names the token and position
                        errors[k], details[k] = reasons.UNKNOWN_TOKEN, str(err).split("\n", 1)[0]
                elif max_len is not None and len(tokens) > max_len:
                    errors[k] = reasons.TOO_LONG
                    details[k] = f"{len(tokens)} tokens > max_len {max_len}"
                else:
                    ids = [BOS, *(stoi[t] for t in tokens), EOS]
            out.append(ids)
        return out, errors, details

    def encode_batch(self, smiles: Sequence[Any], max_len: int | None = None) -> BatchEncoding:
        """Encode a list into a padded ``LongTensor (B, T)``; bad rows are reported, never raised.

        Example:
            >>> enc = tok.encode_batch(["CCO", "C[Xx]", "CC"])
            >>> enc.ids.shape, enc.rows, list(enc.errors)
            ((torch.Size([2, 5]), [0, 2], [1]))
        """
        import torch

        encoded, errors, details = self.encode_many(smiles, max_len=max_len)
        rows = [k for k, ids in enumerate(encoded) if ids is not None]
        lengths = [len(encoded[k]) for k in rows]  # type: ignore[arg-type]
        arr = pad_rows([encoded[k] for k in rows])  # type: ignore[misc]
        if errors:
            logger.info("encode_batch: %d of %d rows failed", len(errors), len(smiles))
        return BatchEncoding(
            ids=torch.from_numpy(arr),
            lengths=torch.tensor(lengths, dtype=torch.long),
            rows=rows,
            errors=errors,
            details=details,
        )

    # -- persistence -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain-data description (JSON/TOML/torch-safe) that ``from_dict`` restores exactly."""
        return {"format_version": FORMAT_VERSION, "kind": self.kind, "tokens": self.vocab.tokens}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Tokenizer:
        """Restore a tokenizer from ``to_dict`` output.

        Calling it on the base class (``mv.tokenizer_from_dict``) dispatches on ``d["kind"]``;
        calling it on a subclass requires a matching kind.

        Raises:
            TokenizerError: not a dict, missing keys, a different tokenizer kind, or a newer format.
        """
        if not isinstance(d, dict):
            raise TokenizerError(f"tokenizer description must be a dict, got {type(d).__name__}")
        missing = {"format_version", "kind", "tokens"} - set(d)
        if missing:
            raise TokenizerError(f"tokenizer description lacks keys {sorted(missing)}")
        version = d["format_version"]
        if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
            raise TokenizerError(
                f"tokenizer format_version {version!r} is not supported by this molvae "
                f"(supports 1..{FORMAT_VERSION}); upgrade molvae to read it"
            )
        target = tokenizer_class(d["kind"])
        tokens = d["tokens"]
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise TokenizerError("tokenizer 'tokens' must be a list of strings")
        if cls is not Tokenizer and cls is not target:
            raise TokenizerError(
                f"this vocabulary belongs to a {d['kind']!r} tokenizer, not to {cls.__name__}"
            )
        return target(Vocabulary(tokens))

    @classmethod
    def build(cls, smiles: Iterable[Any], min_count: int = 1) -> Tokenizer:
        """A tokenizer whose vocabulary holds every token seen in ``smiles``.

        Strings that cannot be tokenized are skipped, counted and logged (never silently).

        Args:
            smiles: SMILES strings.
            min_count: tokens seen fewer times are left out of the vocabulary.
        """
        tok = cls()
        counts: Counter[str] = Counter()
        skipped = 0
        for s in smiles:
            try:
                counts.update(tok.tokenize(s))
            except TokenizerError:
                skipped += 1
        if skipped:
            logger.warning(
                "%s tokenizer build: skipped %d inputs that could not be tokenized",
                cls.kind,
                skipped,
            )
        kept = sorted(t for t, c in counts.items() if c >= min_count)
        rare = len(counts) - len(kept)
        if rare:
            logger.info(
                "%s tokenizer build: left out %d tokens seen < %d times", cls.kind, rare, min_count
            )
        if not kept:
            raise TokenizerError(
                f"cannot build a {cls.kind} vocabulary: no input could be tokenized"
            )
        return cls(Vocabulary(kept))


def check_string(smiles: Any) -> None:
    if not isinstance(smiles, str):
        raise TokenizerError(f"expected a SMILES string, got {type(smiles).__name__}: {smiles!r}")
    if not smiles:
        raise TokenizerError("empty SMILES string", input=smiles)


def tokenizer_class(kind: str) -> type[Tokenizer]:
    """The class registered for ``kind``; :class:`TokenizerError` listing the kinds otherwise."""
    try:
        return TOKENIZERS[kind]
    except (KeyError, TypeError):
        raise TokenizerError(
            f"unknown tokenizer kind {kind!r}; known kinds: {list(TOKENIZERS)}"
        ) from None


def tokenizer_from_dict(d: dict[str, Any]) -> Tokenizer:
    """Restore any tokenizer from its ``to_dict()`` output (dispatches on ``d["kind"]``)."""
    return Tokenizer.from_dict(d)


def build_tokenizer(kind: str, smiles: Iterable[Any]) -> Tokenizer:
    """Build a tokenizer of ``kind`` (``"smiles"``, ``"smiles-char"`` or ``"selfies"``) from data."""
    return tokenizer_class(kind).build(smiles)
