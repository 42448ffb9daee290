"""Exact, reversible tokenizers for SMILES and SELFIES.

Three tokenizers share one interface, the public :class:`Tokenizer` base class
(``encode``/``decode``/``encode_batch``/``build``/``to_dict``), and one registry, ``TOKENIZERS``,
maps each kind to its class; configs, the CLI's choices, ``prepare`` and ``from_dict`` all read it:

* ``"smiles"``: :class:`SmilesTokenizer` keeps multi-character atoms whole (``Cl``, ``Br``, bracket
  atoms such as ``[nH]`` or ``[C@@H]``, two-digit ring closures ``%10``).
* ``"smiles-char"``: :class:`SmilesCharTokenizer` uses one token per character (the classic
  character-level VAE).
* ``"selfies"``: :class:`SelfiesTokenizer` uses SELFIES symbols; ``encode`` takes SMILES and
  ``decode`` returns SMILES.

Token ids ``0..3`` are always ``<pad>``, ``<bos>``, ``<eos>``, ``<unk>``. A vocabulary is saved as
plain data (``to_dict``) and restored with ``from_dict``; nothing is pickled.

Example:
    >>> import molvae as mv
    >>> tok = mv.SmilesTokenizer.build(["CCO", "c1ccccc1Cl"])
    >>> ids = tok.encode("CCCl")
    >>> tok.decode(ids)
    'CCCl'
"""

from molvae.tokenizers.base import (
    BOS,
    EOS,
    FORMAT_VERSION,
    PAD,
    SPECIAL_TOKENS,
    TOKENIZERS,
    UNK,
    BatchEncoding,
    Tokenizer,
    Vocabulary,
    build_tokenizer,
    pad_rows,
    tokenizer_class,
    tokenizer_from_dict,
)
from molvae.tokenizers.selfies import SelfiesTokenizer
from molvae.tokenizers.smiles import SmilesCharTokenizer, SmilesTokenizer

for _kind in ("smiles", "smiles-char", "selfies"):  # the registry in its documented order
    TOKENIZERS[_kind] = TOKENIZERS.pop(_kind)
KINDS = tuple(TOKENIZERS)

__all__ = [
    "BOS",
    "EOS",
    "FORMAT_VERSION",
    "KINDS",
    "PAD",
    "SPECIAL_TOKENS",
    "TOKENIZERS",
    "UNK",
    "BatchEncoding",
    "SelfiesTokenizer",
    "SmilesCharTokenizer",
    "SmilesTokenizer",
    "Tokenizer",
    "Vocabulary",
    "build_tokenizer",
    "pad_rows",
    "tokenizer_class",
    "tokenizer_from_dict",
]
