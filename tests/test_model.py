from __future__ import annotations

import torch

from molvae.chem import canonical
from molvae.config import ModelConfig
from molvae.model import MolVAE
from molvae.tokenizers import EOS, PAD

from .helpers import overfit_generator


def test_shapes_and_conditioning():
    cfg = ModelConfig(
        vocab_size=12,
        embedding_dim=8,
        encoder_hidden_dim=16,
        latent_dim=4,
        decoder_hidden_dim=24,
        decoder_layers=2,
    )
    m = MolVAE(cfg)
    ids = torch.tensor([[1, 5, 6, 7, 2], [1, 8, 2, 0, 0]])
    lengths = torch.tensor([5, 3])
    logits, mu, logvar = m(ids, lengths)
    assert logits.shape == (2, 4, 12) and mu.shape == (2, 4) and logvar.shape == (2, 4)
    h0 = m.decoder.initial_hidden(mu)
    assert h0.shape == (2, 2, 24)
    out, lens, nll = m.decode(torch.randn(3, 4), max_len=7)
    assert out.shape[0] == 3 and out.shape[1] <= 7 and lens.shape == (3,) and nll.shape == (3,)
    # padding beyond an end, and nothing but <pad> after <eos>
    for row, n in zip(out.tolist(), lens.tolist()):
        if n < 7 or (row and row[-1] == EOS):
            assert row[n - 1] == EOS and all(t == PAD for t in row[n:])


def test_encoder_ignores_padding():
    cfg = ModelConfig(
        vocab_size=12,
        embedding_dim=8,
        encoder_hidden_dim=16,
        latent_dim=4,
        decoder_hidden_dim=16,
        decoder_layers=1,
    )
    m = MolVAE(cfg).eval()
    a = m.encode_params(torch.tensor([[1, 5, 6, 2]]), torch.tensor([4]))[0]
    b = m.encode_params(torch.tensor([[1, 5, 6, 2, 0, 0, 0]]), torch.tensor([4]))[0]
    assert torch.allclose(a, b, atol=1e-6)


def test_overfit_32_molecules_to_exact_reconstruction(moses_sample):
    gen, data = overfit_generator(moses_sample[:32], steps=300)
    ids, lengths = (torch.from_numpy(a) for a in data.batch(range(32)))
    mu, _ = gen.model.encode_params(ids, lengths)
    out, _, _ = gen.model.decode(mu, max_len=80, greedy=True)
    decoded = [canonical(data.tokenizer.decode(r)) for r in out]
    assert decoded == data.smiles
