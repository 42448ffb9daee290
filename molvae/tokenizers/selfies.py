"""The SELFIES tokenizer: SELFIES symbols as tokens; ``encode`` takes SMILES, ``decode`` gives
SMILES."""

from __future__ import annotations

from collections.abc import Sequence

from molvae.exceptions import TokenizerError
from molvae.tokenizers.base import SPECIAL_TOKENS, Tokenizer, check_string


class SelfiesTokenizer(Tokenizer):
    """SELFIES tokenizer: ``encode`` takes SMILES, tokens are SELFIES symbols, ``decode`` gives SMILES.

    Every encoding is checked: the SELFIES must decode back to the same molecule (RDKit canonical
    SMILES), otherwise :class:`TokenizerError` is raised, so training data is never silently altered.
    """

    kind = "selfies"

    def tokenize(self, smiles: str) -> list[str]:
        """SELFIES symbols of a SMILES string.

        Raises:
            TokenizerError: not a string, empty, rejected by RDKit or by SELFIES, or not recovered
                exactly by the SELFIES round trip.
        """
        import selfies as sf

        from molvae.chem import canonical

        check_string(smiles)

        def parse_or_raise() -> str:
            canon = canonical(smiles)
            if canon is None:
                raise TokenizerError("RDKit cannot parse this SMILES", input=smiles)
            return canon

        try:
            encoded = sf.encoder(smiles, strict=True)
        except Exception as err:  # selfies raises EncoderError, sometimes others on odd input
            parse_or_raise()
            raise TokenizerError(f"SELFIES cannot encode this SMILES: {err}", input=smiles) from err
        if encoded is None:
            parse_or_raise()
            raise TokenizerError("SELFIES cannot encode this SMILES", input=smiles)
        tokens = list(sf.split_selfies(encoded))
        try:
            back = canonical(sf.decoder(encoded))
        except Exception as err:
            parse_or_raise()
            raise TokenizerError(
                f"SELFIES cannot decode its own encoding: {err}", input=smiles
            ) from err
        # Fast path: the round trip gave back the very string we were given (training data is
        # canonical already), so it is the same molecule; only otherwise canonicalise the input.
        if back != smiles and back != parse_or_raise():
            raise TokenizerError(
                f"SELFIES does not round-trip this molecule exactly (gives {back!r})", input=smiles
            )
        return tokens

    def _text_for_errors(self, smiles: str, tokens: Sequence[str]) -> str:
        return "".join(tokens)  # positions refer to the SELFIES string

    def detokenize(self, tokens: Sequence[str]) -> str:
        import selfies as sf

        if not tokens:
            return ""
        try:
            return sf.decoder("".join(tokens))
        except Exception:  # a sampled SELFIES is always decodable, but "<unk>" text is not
            return ""

    def start_ids(self) -> list[int]:
        """Symbols that decode to at least one atom on their own: starting with one of these, a
        SELFIES string can never decode to an empty molecule (a leading branch or ring symbol can)."""
        import selfies as sf

        return [
            i for i, t in enumerate(self.vocab.itos) if i >= len(SPECIAL_TOKENS) and sf.decoder(t)
        ]
