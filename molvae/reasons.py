"""One vocabulary for why an input row is not a usable molecule.

Every batch call that marks rows invalid (``mv.prepare``'s report, ``mv.score``'s and
``mv.evaluate``'s counts, the Generator's ``reason`` columns) uses these names, so a reason means
the same thing wherever it appears.
"""

from __future__ import annotations

NOT_A_STRING = "not_a_string"
EMPTY = "empty"
TOO_LARGE = "too_large"
UNPARSEABLE = "unparseable"
MULTIPLE_FRAGMENTS = "multiple_fragments"
DUPLICATE = "duplicate"
UNKNOWN_TOKEN = "unknown_token"
UNTOKENIZABLE = "untokenizable"
TOO_LONG = "too_long"
PROPERTY_ERROR = (
    "property_error"  # mv.score: RDKit cannot compute a property (": ErrorType" follows)
)

DESCRIPTIONS = {
    NOT_A_STRING: "not a string (None, NaN, a number)",
    EMPTY: "empty or blank",
    TOO_LARGE: "over the size limit (characters of SMILES or heavy atoms)",
    UNPARSEABLE: "RDKit cannot parse or sanitize it",
    MULTIPLE_FRAGMENTS: "more than one fragment where one molecule is required",
    DUPLICATE: "same molecule (canonical SMILES) as an earlier row",
    UNKNOWN_TOKEN: "holds a token the model's vocabulary lacks",
    UNTOKENIZABLE: "the tokenizer cannot represent it (e.g. SELFIES does not round-trip it)",
    TOO_LONG: "more tokens than max_len",
    PROPERTY_ERROR: "RDKit raised while computing a property of it",
}
REASONS = tuple(DESCRIPTIONS)
