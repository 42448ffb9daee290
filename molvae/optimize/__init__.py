"""Property-guided search of the latent space (``gen.optimize``, ``molvae optimize``) and latent
property predictors: :mod:`~molvae.optimize.objective` (what is maximised),
:mod:`~molvae.optimize.predictor` (MLP surrogates) and :mod:`~molvae.optimize.search` (CMA-ES,
gradient and random search under constraints)."""

from molvae.optimize.objective import NUMERIC, Objective, check_ranges, parse_objective
from molvae.optimize.predictor import PropertyPredictor, fit_predictor
from molvae.optimize.search import METHODS, SEARCH_METHODS, optimize

__all__ = [
    "METHODS",
    "NUMERIC",
    "SEARCH_METHODS",
    "Objective",
    "PropertyPredictor",
    "check_ranges",
    "fit_predictor",
    "optimize",
    "parse_objective",
]
