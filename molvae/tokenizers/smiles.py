"""SMILES tokenizers: atom-level (multi-character atoms, bracket atoms and two-digit ring closures
kept whole) and one token per character."""

from __future__ import annotations

import re
from collections.abc import Sequence

from molvae.exceptions import TokenizerError
from molvae.tokenizers.base import Tokenizer, check_string

# Regex mode: bracket atoms, two-letter organic atoms, two-digit ring closures, then single
# characters. The final catch-all keeps the match exhaustive so that no character is ever skipped;
# characters that are not SMILES syntax are rejected afterwards (see _SMILES_SINGLE).
_SMILES_REGEX = re.compile(r"\[[^\[\]]*\]|Br|Cl|%\d\d|.", re.DOTALL)
_SMILES_SINGLE = frozenset("BCNOSPFIbcnosp()=#-+\\/:~@?>*$.0123456789")
# Char mode: every character that may appear anywhere in a SMILES string (brackets included).
_SMILES_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789()[]=#-+\\/:~@?>*$.%"
)


class SmilesTokenizer(Tokenizer):
    """Atom-level SMILES tokenizer (kind ``"smiles"``): bracket atoms, ``Cl``, ``Br`` and ``%nn``
    ring closures are one token each.

    ``decode(encode(s)) == s`` for every string it accepts: tokenization never drops or rewrites a
    character. It is lexical only; chemistry is RDKit's job (see ``molvae.data.prepare``).
    """

    kind = "smiles"

    def tokenize(self, smiles: str) -> list[str]:
        """Split a SMILES string into tokens.

        Raises:
            TokenizerError: not a string, empty, or a character that is not SMILES syntax.
        """
        check_string(smiles)
        tokens = _SMILES_REGEX.findall(smiles)
        for i, t in enumerate(tokens):
            if len(t) == 1 and t not in _SMILES_SINGLE:
                pos = self._position(smiles, tokens, i)
                what = "unmatched bracket" if t in "[]" else "character"
                raise TokenizerError(
                    f"{what} {t!r} at position {pos} is not SMILES syntax",
                    input=smiles,
                    position=pos,
                )
        return tokens

    def detokenize(self, tokens: Sequence[str]) -> str:
        return "".join(tokens)


class SmilesCharTokenizer(SmilesTokenizer):
    """Character-level SMILES tokenizer (kind ``"smiles-char"``): one token per character."""

    kind = "smiles-char"

    def tokenize(self, smiles: str) -> list[str]:
        check_string(smiles)
        tokens = list(smiles)
        bad = [i for i, c in enumerate(tokens) if c not in _SMILES_CHARS]
        if bad:
            i = bad[0]
            raise TokenizerError(
                f"character {tokens[i]!r} at position {i} is not SMILES syntax",
                input=smiles,
                position=i,
            )
        return tokens
