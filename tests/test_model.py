from __future__ import annotations

import pytest
import torch

from molvae.chem import canonical
from molvae.config import ModelConfig
from molvae.model import MolVAE, live_size
from molvae.tokenizers import BOS, EOS, PAD, UNK

TWO_LAYERS = ModelConfig(
    vocab_size=12,
    embedding_dim=8,
    encoder_hidden_dim=16,
    latent_dim=4,
    decoder_hidden_dim=24,
    decoder_layers=2,
)


def test_shapes_and_conditioning():
    m = MolVAE(TWO_LAYERS)
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


@pytest.mark.parametrize("layers,bidirectional", [(1, True), (2, True), (2, False)])
def test_encoder_states_equal_a_packed_gru_with_their_gradients(layers, bidirectional):
    """The padded-batch encoder gives the packed ``nn.GRU``'s last states and gradients."""
    from torch.nn.utils.rnn import pack_padded_sequence

    torch.manual_seed(0)
    cfg = ModelConfig(
        vocab_size=12, embedding_dim=5, encoder_hidden_dim=7, encoder_layers=layers,
        encoder_bidirectional=bidirectional, latent_dim=3, decoder_hidden_dim=8,
    )  # fmt: skip
    enc = MolVAE(cfg).encoder.double()
    emb = torch.randn(6, 9, 5, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([9, 3, 5, 2, 9, 7])
    ours = enc.last_states(emb, lengths)
    _, h = enc.gru(pack_padded_sequence(emb, lengths, batch_first=True, enforce_sorted=False))
    packed = h[-enc.directions :].transpose(0, 1).reshape(6, -1)
    assert torch.allclose(ours, packed, atol=1e-12)
    weight = torch.randn_like(ours)
    inputs = [emb, *enc.gru.parameters()]
    for a, b in zip(
        torch.autograd.grad((ours * weight).sum(), inputs),
        torch.autograd.grad((packed * weight).sum(), inputs),
    ):
        assert torch.allclose(a, b, atol=1e-12)


def test_overfit_32_molecules_to_exact_reconstruction(overfit32):
    gen, data = overfit32
    ids, lengths = (torch.from_numpy(a) for a in data.batch(range(32)))
    mu, _ = gen.model.encode_params(ids, lengths)
    out, _, _ = gen.model.decode(mu, max_len=80, greedy=True)
    decoded = [canonical(data.tokenizer.decode(r)) for r in out]
    assert decoded == data.smiles


def test_live_sizes_are_few_and_pad_little():
    sizes = {live_size(n) for n in range(1, 20001)}
    assert len(sizes) < 120  # a handful per power of two, whatever the batch size
    for n in range(1, 20001):
        assert n <= live_size(n) <= max(n, n * 9 / 8) and live_size(live_size(n)) == live_size(n)


def test_decode_nll_follows_each_row_through_the_shrinking_batch():
    # An untrained model ends rows at scattered steps, so the live batch shrinks through many
    # sizes; every row's NLL must still be that of its own tokens under teacher forcing.
    torch.manual_seed(0)
    m = MolVAE(TWO_LAYERS).eval()
    z = torch.randn(300, 4)
    out, lengths, nll = m.decode(z, max_len=40, generator=torch.Generator().manual_seed(1))
    assert len(set(lengths.tolist())) > 15
    assert torch.allclose(nll, _teacher_forced_nll(m, z, out, lengths), atol=1e-4)


def _teacher_forced_nll(m: MolVAE, z: torch.Tensor, out: torch.Tensor, lengths: torch.Tensor):
    """Each row's NLL under the decoding masks (no <pad>/<bos>/<unk>; no <eos> first)."""
    ids = torch.cat([torch.full((len(z), 1), BOS), out], dim=1)  # (B, 1 + T)
    with torch.no_grad():
        logits, _ = m.decoder(m.embedding(ids[:, :-1]), z)  # (B, T, V)
    logits[:, :, [PAD, BOS, UNK]] = float("-inf")
    logits[:, 0, EOS] = float("-inf")
    logp = torch.log_softmax(logits, dim=-1).gather(2, out.unsqueeze(2)).squeeze(2)
    steps = torch.arange(out.shape[1]) < lengths.unsqueeze(1)
    return torch.where(steps, -logp, torch.zeros_like(logp)).sum(dim=1)


def test_beam_of_width_one_is_greedy_decoding():
    torch.manual_seed(0)
    m = MolVAE(TWO_LAYERS).eval()
    z = torch.randn(300, 4)
    greedy = m.decode(z, max_len=40, greedy=True)
    beam = m.beam_decode(z, max_len=40, width=1)
    assert torch.equal(greedy[0], beam[0]) and torch.equal(greedy[1], beam[1])
    assert torch.allclose(greedy[2], beam[2], atol=1e-5)


def test_beam_nll_follows_each_molecule_through_the_shrinking_batch():
    torch.manual_seed(0)
    m = MolVAE(TWO_LAYERS).eval()
    z = torch.randn(300, 4)
    out, lengths, nll = m.beam_decode(z, max_len=40, width=4)
    assert len(set(lengths.tolist())) > 10
    for row, n in zip(out.tolist(), lengths.tolist()):
        assert all(t == PAD for t in row[n:]) and PAD not in row[:n]
        assert (row[n - 1] == EOS) == (EOS in row[:n]) and EOS not in row[: n - 1]
    assert torch.allclose(nll, _teacher_forced_nll(m, z, out, lengths), atol=1e-4)
    lazy = m.beam_decode(z, max_len=40, width=4, sync_every=8)  # an accelerator's schedule
    assert torch.equal(lazy[0], out) and torch.equal(lazy[1], lengths)
    greedy_nll = m.decode(z, max_len=40, greedy=True)[2]
    assert (nll <= greedy_nll + 1e-4).float().mean() > 0.9  # beam finds likelier strings
    assert nll.mean() < greedy_nll.mean() - 0.1


def test_a_wide_beam_finds_the_most_likely_string():
    """With a beam wider than every prefix, the search is exhaustive: compare to brute force."""
    import dataclasses
    import itertools

    torch.manual_seed(1)
    cfg = dataclasses.replace(TWO_LAYERS, vocab_size=9)
    m = MolVAE(cfg).eval()
    z = torch.randn(6, 4)
    max_len, tokens = 3, [EOS, *range(UNK + 1, cfg.vocab_size)]
    candidates = []  # every string the decoder can write in max_len tokens
    for n in range(1, max_len + 1):
        for seq in itertools.product(tokens, repeat=n):
            if seq[0] != EOS and EOS not in seq[:-1] and (seq[-1] == EOS or n == max_len):
                candidates.append(list(seq))
    assert (len(tokens) - 1) * len(tokens) <= 64  # every prefix of two tokens fits in the beam
    out, lengths, nll = m.beam_decode(z, max_len=max_len, width=64)
    for i in range(len(z)):
        pad = torch.tensor([c + [PAD] * (max_len - len(c)) for c in candidates])
        lens = torch.tensor([len(c) for c in candidates])
        scores = _teacher_forced_nll(m, z[i : i + 1].expand(len(candidates), -1), pad, lens)
        best = int(scores.argmin())
        assert out[i, : lengths[i]].tolist() == candidates[best]
        assert nll[i].item() == pytest.approx(scores[best].item(), abs=1e-4)
