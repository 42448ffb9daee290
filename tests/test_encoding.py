"""molvae.encoding: one molecule raises quoting it, many give NaN rows with reasons; inputs are
standardised like the training data and say what changed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import molvae as mv
from molvae import encoding


def test_posterior_is_public_and_raises_naming_the_input():
    gen = mv.load("moses-smiles", device="cpu")
    mu, logvar = gen.posterior("CCOc1ccccc1")
    assert mu.shape == logvar.shape == (gen.latent_dim,)
    np.testing.assert_allclose(mu.numpy(), gen.encode(["CCOc1ccccc1"])[0], atol=1e-5)
    with pytest.raises(mv.TokenizerError, match="C1CC"):
        gen.posterior("C1CC")


def test_encode_a_dataframe_reads_its_smiles_column():
    gen = mv.load("moses-smiles", device="cpu")
    frame = pd.DataFrame({"id": [1, 2], "smiles": ["CCO", "c1ccccc1"]})
    np.testing.assert_allclose(gen.encode(frame), gen.encode(["CCO", "c1ccccc1"]))
    with pytest.raises(ValueError, match="smiles"):
        gen.encode(pd.DataFrame({"id": [1]}))


def _texts(column) -> list:
    return [x if isinstance(x, str) else None for x in column]


def test_inputs_are_standardised_like_the_training_data_and_say_so():
    """The MOSES vocabulary has no stereo or charge tokens: a salt, a carboxylate and a chiral
    centre encode after standardising (and the row says what changed); ``standardize=False``
    keeps the strict behaviour, naming the token."""
    gen = mv.load("moses-smiles", device="cpu")
    assert gen.standardize and not gen.keeps_stereo
    given = ["C[C@H](N)C(=O)Oc1ccccc1", "CCOc1ccccc1.[Na+].[Cl-]", "CC(=O)[O-]", "CCOc1ccccc1"]
    z, info = gen.encode(given, details=True)
    assert np.isfinite(z).all() and info.reason.isna().all()
    assert _texts(info.standardized) == ["stereo", "fragment", "charge", None]
    plain = ["CC(N)C(=O)Oc1ccccc1", "CCOc1ccccc1", "CC(=O)O", "CCOc1ccccc1"]
    np.testing.assert_allclose(z, gen.encode(plain), atol=1e-5)
    rec = gen.reconstruct(given, n_decodes=1)
    assert _texts(rec.standardized) == _texts(info.standardized)
    assert _texts(gen.elbo(given).standardized) == _texts(info.standardized)
    strict = mv.load("moses-smiles", device="cpu", standardize=False)
    with pytest.raises(mv.TokenizerError, match=r"\[C@H\]"):
        strict.encode(given[0])
    _, info = strict.encode(given, details=True)
    assert info.reason.tolist()[:3] == ["unknown_token"] * 3 and info.standardized.isna().all()


def test_nitro_and_elements_outside_the_vocabulary_stay_refused():
    gen = mv.load("moses-smiles", device="cpu")
    _, info = gen.encode(["O=[N+]([O-])c1ccccc1", "CCP(C)C", "CCI"], details=True)
    assert info.reason.tolist() == ["unknown_token"] * 3


def test_the_module_functions_are_the_generator_methods():
    gen = mv.load("moses-smiles", device="cpu")
    np.testing.assert_array_equal(encoding.encode(gen, ["CCO"]), gen.encode(["CCO"]))
    np.testing.assert_array_equal(encoding.posterior(gen, "CCO")[0], gen.posterior("CCO")[0])
