"""Names the library and the CLI share, importable without torch or RDKit (the CLI builds its
parsers from them before any heavy import)."""

DECODE_METHODS = ("multinomial", "greedy", "beam")  # how a token is chosen at each decoding step
BEAM_WIDTH = 3  # hypotheses kept by beam search unless the model or caller says otherwise
Z_SOURCES = ("auto", "standard", "learned")  # where sampled z come from (auto: learned if stored)
PRIOR_FITS = ("posterior", "gmm")  # how a learned prior is fitted
PRECISION_NAMES = ("fp32", "bf16")  # inference precision
SEARCH_METHODS = ("cmaes", "gradient", "random")  # latent-space optimisation
DEFAULT_MAX_LEN = 120  # decoding length of a model whose checkpoint does not say
LENGTH_MARGIN = 2  # decoding length = the training data's max_len + <bos>/<eos>

MAX_BEAM_WIDTH = 64

# Bounds on numbers from users and files: beyond them the result is meaningless or the allocation
# is a memory bomb, so they are refused before any work.
MAX_DECODE_LEN = 10_000  # tokens per decoded molecule
MAX_TRAIN_LEN = 9_000  # tokens per training molecule (max_len of TrainConfig and checkpoints)
MAX_TEMPERATURE = 1_000.0  # sampling is uniform over tokens long before this
MAX_SPREAD = 100.0  # learned-prior widening (a spread of 1e300 made infinite latent points)
MAX_ABS_Z = 1e4  # latent coordinates decoded (the GRU's input projection overflows far beyond)
MAX_PATH_STEPS = 100_000  # points on an interpolation / traversal
