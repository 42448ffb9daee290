"""Names the library and the CLI share, importable without torch or RDKit (the CLI builds its
parsers from them before any heavy import)."""

DECODE_METHODS = ("multinomial", "greedy")  # how a token is chosen at each decoding step
Z_SOURCES = ("auto", "standard", "learned")  # where sampled z come from (auto: learned if stored)
PRIOR_FITS = ("posterior", "gmm")  # how a learned prior is fitted
PRECISION_NAMES = ("fp32", "bf16")  # inference precision
SEARCH_METHODS = ("cmaes", "gradient", "random")  # latent-space optimisation
DEFAULT_MAX_LEN = 120  # decoding length of a model whose checkpoint does not say
LENGTH_MARGIN = 2  # decoding length = the training data's max_len + <bos>/<eos>
