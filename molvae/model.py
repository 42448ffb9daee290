"""The GRU variational autoencoder: one config, one file.

Shapes: ``B`` batch, ``T`` tokens (with ``<bos>``/``<eos>``), ``E`` embedding, ``Z`` latent,
``H`` decoder hidden, ``L`` decoder layers, ``V`` vocabulary.

* Encoder: embedding -> (bidirectional) GRU over the padded batch, each direction reading only the
  molecule's own tokens -> last state of each direction -> linear heads for ``mu`` and ``logvar``.
* Reparameterisation: ``z = mu + exp(logvar / 2) * eps``.
* Decoder: GRU whose initial hidden state (every layer) is a linear map of ``z`` and whose input at
  every step is ``[embedding(previous token); z]``; teacher forcing with optional word dropout.

``forward`` is for training; ``encode_params``, ``decode`` (multinomial or greedy) and
``sequence_nll`` are for inference (``molvae.codec.Codec`` drives them) and run under
``torch.no_grad()``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from molvae.config import ModelConfig
from molvae.tokenizers import BOS, EOS, PAD, UNK


class Encoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.gru = nn.GRU(
            cfg.embedding_dim,
            cfg.encoder_hidden_dim,
            num_layers=cfg.encoder_layers,
            batch_first=True,
            bidirectional=cfg.encoder_bidirectional,
            dropout=cfg.dropout if cfg.encoder_layers > 1 else 0.0,
        )
        self.directions = 2 if cfg.encoder_bidirectional else 1
        self.to_mu = nn.Linear(cfg.encoder_hidden_dim * self.directions, cfg.latent_dim)
        self.to_logvar = nn.Linear(cfg.encoder_hidden_dim * self.directions, cfg.latent_dim)

    def forward(
        self, emb: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # emb (B, T, E), lengths (B,) -> mu (B, Z), logvar (B, Z)
        last = self.last_states(emb, lengths)  # (B, directions * He)
        return self.to_mu(last), self.to_logvar(last)

    def last_states(self, emb: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The top layer's state after each molecule's last token, every direction: the same
        numbers as ``self.gru`` over a packed sequence, computed on the padded batch.

        Each direction runs as its own one-layer GRU with ``self.gru``'s weights; the reverse one
        reads every row reversed within its own length (padding stays at the end), so no row
        ever reads padding before its tokens. A packed sequence gives the same states, but on
        CPU its backward pass zero-fills the whole packed input once per timestep (quadratic in
        the length): the padded form trains the ``small`` network ~1.35x faster on one thread
        (docs/recipe.md, "Training speed on CPU").
        """
        gru, (B, T, _) = self.gru, emb.shape
        lengths = lengths.to(emb.device)
        t = torch.arange(T, device=emb.device).unsqueeze(0)  # (1, T)
        n = lengths.unsqueeze(1)  # (B, 1)
        rev = torch.where(t < n, n - 1 - t, t).unsqueeze(-1)  # (B, T, 1): reversal, its own inverse
        rows, ends = torch.arange(B, device=emb.device), lengths - 1
        h0 = emb.new_zeros(1, B, gru.hidden_size)
        x, last = emb, []
        for k in range(gru.num_layers):
            outs = []
            for d in range(self.directions):
                suffix = f"_l{k}" + ("_reverse" if d else "")
                weights = [
                    getattr(gru, f"{name}{suffix}")
                    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
                ]
                xd = x if d == 0 else x.gather(1, rev.expand(-1, -1, x.shape[2]))
                out, _ = torch.gru(xd, h0, weights, True, 1, 0.0, self.training, False, True)
                if k == gru.num_layers - 1:
                    last.append(out[rows, ends])  # (B, He)
                else:  # back in token order for the next layer
                    outs.append(out if d == 0 else out.gather(1, rev.expand(-1, -1, out.shape[2])))
            if outs:
                x = F.dropout(torch.cat(outs, dim=-1), gru.dropout, self.training)
        return torch.cat(last, dim=-1)


class Decoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.layers = cfg.decoder_layers
        self.hidden = cfg.decoder_hidden_dim
        self.z_to_hidden = nn.Linear(cfg.latent_dim, cfg.decoder_hidden_dim * cfg.decoder_layers)
        self.gru = nn.GRU(
            cfg.embedding_dim + cfg.latent_dim,
            cfg.decoder_hidden_dim,
            num_layers=cfg.decoder_layers,
            batch_first=True,
            dropout=cfg.dropout if cfg.decoder_layers > 1 else 0.0,
        )
        self.out = nn.Linear(cfg.decoder_hidden_dim, cfg.vocab_size)

    def initial_hidden(self, z: torch.Tensor) -> torch.Tensor:
        # z (B, Z) -> h0 (L, B, H)
        h = torch.tanh(self.z_to_hidden(z))  # (B, L * H)
        return h.view(z.shape[0], self.layers, self.hidden).transpose(0, 1).contiguous()

    def stepper(self, embedding: torch.Tensor, z: torch.Tensor, dtype: torch.dtype | None = None):
        """A one-token decoding step with the same weights as :meth:`forward`, for inference.

        The first layer's input projection splits into a token part, precomputed for the whole
        vocabulary as a ``(V, 3H)`` table, and a latent part computed once per molecule; so a step
        is one table lookup and one ``(H, 3H)`` product per layer. ``dtype`` (default: the
        weights') is the precision of the step: weights, hidden state and products
        (``torch.bfloat16`` runs the products at bf16 speed; logits are returned in float32).

        Returns ``step(token (b,), h (L, b, H), rows (b,)) -> logits (b, V), h (L, b, H)``, where
        ``rows`` picks each live row's latent part.
        """
        E = embedding.shape[1]
        dt = dtype or embedding.dtype
        w0 = self.gru.weight_ih_l0  # (3H, E + Z)
        table = (embedding @ w0[:, :E].T + self.gru.bias_ih_l0).to(dt)  # (V, 3H)
        z_part = (z @ w0[:, E:].T).to(dt)  # (B, 3H)
        layers = [
            tuple(getattr(self.gru, f"{name}_l{k}").to(dt).T.contiguous() if name.startswith("weight")
                  else getattr(self.gru, f"{name}_l{k}").to(dt)
                  for name in ("weight_ih", "bias_ih", "weight_hh", "bias_hh"))
            for k in range(self.layers)
        ]  # fmt: skip  # weights transposed once: (in, 3H)
        w_out, b_out = self.out.weight.to(dt).T.contiguous(), self.out.bias.to(dt)  # (H, V), (V,)

        def step(token, h, rows):
            x, new_h = None, []
            for k, (w_ih, b_ih, w_hh, b_hh) in enumerate(layers):
                gi = table[token] + z_part[rows] if k == 0 else torch.addmm(b_ih, x, w_ih)
                gh = torch.addmm(b_hh, h[k], w_hh)  # (b, 3H)
                i_r, i_z, i_n = gi.chunk(3, dim=1)
                h_r, h_z, h_n = gh.chunk(3, dim=1)
                r, u = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
                x = torch.lerp(torch.tanh(i_n + r * h_n), h[k], u)  # (1 - u) * n + u * h
                new_h.append(x)
            return torch.addmm(b_out, x, w_out).float(), torch.stack(new_h)

        return step

    def forward(
        self, emb: torch.Tensor, z: torch.Tensor, h: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # emb (B, T, E), z (B, Z), h (L, B, H) -> logits (B, T, V), h (L, B, H)
        if h is None:
            h = self.initial_hidden(z)
        x = torch.cat([emb, z.unsqueeze(1).expand(-1, emb.shape[1], -1)], dim=-1)  # (B, T, E + Z)
        out, h = self.gru(x, h)  # (B, T, H)
        return self.out(out), h


def live_size(n: int) -> int:
    """The live-batch size that holds ``n`` unfinished rows: ``n`` up to 16, then ``n`` rounded up
    to 4 significant bits (16, 18, ..., 30, 32, 36, ..., 1024, 1152, ...: at most 1/8 padding).

    Decoding with only these sizes keeps the number of distinct matrix shapes small: oneDNN keeps
    state per bf16 product shape, and exact sizes made a long bf16 sampling run grow to 1.4 GB.
    """
    if n <= 16:
        return n
    k = n.bit_length() - 4
    return -(-n >> k) << k


def _decode_outputs(B: int, max_len: int, dev: torch.device):
    """Empty results of a decoding: ids ``(B, max_len)`` of ``<pad>``, lengths, NLL."""
    out = torch.full((B, max_len), PAD, dtype=torch.long, device=dev)
    return out, torch.full((B,), max_len, dtype=torch.long, device=dev), torch.zeros(B, device=dev)


def _decoding_masks(V: int, start_ids: list[int] | None, dev: torch.device):
    """Tokens never decoded (``<pad>``, ``<bos>``, ``<unk>``) and those not allowed first (also
    ``<eos>``, or all but ``start_ids``): two ``(V,)`` boolean masks."""
    banned = torch.zeros(V, dtype=torch.bool, device=dev)
    banned[[PAD, BOS, UNK]] = True
    first_banned = torch.ones(V, dtype=torch.bool, device=dev)
    first_banned[start_ids if start_ids is not None else list(range(EOS + 1, V))] = False
    return banned, first_banned | banned


class MolVAE(nn.Module):
    """GRU encoder + GRU decoder VAE over token ids (``<pad>=0, <bos>=1, <eos>=2, <unk>=3``)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        if cfg.vocab_size <= 4:
            raise ValueError(f"vocab_size must exceed the 4 special tokens, got {cfg.vocab_size}")
        self.cfg = cfg
        self.embedding = nn.Embedding(cfg.vocab_size, cfg.embedding_dim, padding_idx=PAD)
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)

    @property
    def device(self) -> torch.device:
        return self.embedding.weight.device

    def encode_params(
        self, ids: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # ids (B, T), lengths (B,) -> mu (B, Z), logvar (B, Z)
        return self.encoder(self.embedding(ids), lengths)

    @staticmethod
    def reparameterize(
        mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        eps = torch.randn(mu.shape, device=mu.device, dtype=mu.dtype, generator=generator)
        return mu + torch.exp(0.5 * logvar) * eps  # (B, Z)

    def forward(
        self, ids: torch.Tensor, lengths: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Teacher-forced pass: ``ids (B, T)`` -> ``logits (B, T-1, V)`` predicting ``ids[:, 1:]``,
        ``mu``, ``logvar``. ``generator`` draws z (default: the global RNG)."""
        mu, logvar = self.encode_params(ids, lengths)  # (B, Z) each
        z = self.reparameterize(mu, logvar, generator=generator)
        inputs = ids[:, :-1]  # (B, T-1): <bos> x_1 ... x_{T-2}
        if self.training and self.cfg.word_dropout > 0:
            drop = torch.rand(inputs.shape, device=inputs.device) < self.cfg.word_dropout
            drop[:, 0] = False  # keep <bos>
            inputs = torch.where(drop & (inputs != PAD), torch.full_like(inputs, UNK), inputs)
        logits, _ = self.decoder(self.embedding(inputs), z)  # (B, T-1, V)
        return logits, mu, logvar

    # ---- inference ------------------------------------------------------------------------------
    @torch.no_grad()
    def decode(
        self,
        z: torch.Tensor,
        max_len: int,
        temperature: float = 1.0,
        greedy: bool = False,
        generator: torch.Generator | None = None,
        start_ids: list[int] | None = None,
        dtype: torch.dtype | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Decode latent points step by step.

        Args:
            z: ``(B, Z)`` latent points.
            max_len: most tokens generated per molecule (``<eos>`` included).
            temperature: softmax temperature for multinomial sampling.
            greedy: take the most likely token instead of sampling.
            generator: ``torch.Generator`` on ``z``'s device for reproducible sampling.
            start_ids: the only tokens allowed first (``tokenizer.start_ids()``); default any token
                but ``<eos>``, so a molecule is never empty.
            dtype: precision of the decoder steps (default: the weights'; ``torch.bfloat16``: bf16
                products and hidden state, float32 softmax and sampling).

        Returns:
            ``ids (B, <= max_len)`` (no ``<bos>``; ``<eos>`` then ``<pad>`` after the end),
            ``lengths (B,)`` (tokens up to and including ``<eos>``; ``max_len`` if it never ended),
            ``nll (B,)`` negative log-likelihood of each sequence under the decoder at temperature 1
            (with ``<pad>``/``<bos>``/``<unk>``, and ``<eos>`` at the first step, excluded).
        """
        B, dev = z.shape[0], z.device
        V = self.cfg.vocab_size
        step = self.decoder.stepper(self.embedding.weight, z, dtype)
        h = self.decoder.initial_hidden(z).to(dtype or z.dtype)  # (L, B, H)
        out, lengths, nll = _decode_outputs(B, max_len, dev)
        banned, first_banned = _decoding_masks(V, start_ids, dev)
        # Only unfinished rows are decoded: `rows` maps the live batch to the output rows. Dropping
        # finished rows costs a host sync, so on accelerators it happens every 8 steps; the live
        # batch shrinks through the sizes of `live_size` only (finished rows fill the gap).
        rows = torch.arange(B, device=dev)
        token = torch.full((B,), BOS, dtype=torch.long, device=dev)
        alive = torch.ones(B, dtype=torch.bool, device=dev)  # of the live rows
        every = 1 if dev.type == "cpu" else 8
        for t in range(max_len):
            logits, h = step(token, h, rows)  # (b, V), (L, b, H)
            logits = logits.float().masked_fill(first_banned if t == 0 else banned, float("-inf"))
            logp = F.log_softmax(logits, dim=-1)  # (b, V)
            if greedy:
                nxt = logp.argmax(dim=-1)
            else:
                probs = F.softmax(logits / temperature, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1)  # (b,)
            nxt = torch.where(alive, nxt, torch.full_like(nxt, PAD))
            out[rows, t] = nxt
            step_nll = -logp.gather(1, nxt.unsqueeze(1)).squeeze(1)
            nll.index_add_(0, rows, torch.where(alive, step_nll, torch.zeros_like(step_nll)))
            ended = alive & (nxt == EOS)
            lengths[rows] = torch.where(ended, torch.full_like(rows, t + 1), lengths[rows])
            alive = alive & ~ended
            token = nxt
            if (t + 1) % every == 0:
                n_alive = int(alive.sum())
                if n_alive == 0:
                    break
                size = live_size(n_alive)
                if size < len(rows):  # live rows first, then finished ones to fill the size
                    keep = torch.argsort((~alive).to(torch.uint8), stable=True)[:size]
                    rows, token, alive, h = rows[keep], token[keep], alive[keep], h[:, keep]
        width = int(lengths.max()) if B else 0
        return out[:, :width], lengths, nll

    @torch.no_grad()
    def beam_decode(
        self,
        z: torch.Tensor,
        max_len: int,
        width: int = 3,
        start_ids: list[int] | None = None,
        dtype: torch.dtype | None = None,
        sync_every: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Decode latent points by beam search: the most likely sequence of ``width`` kept at each
        step (``width=1`` is greedy decoding). Same arguments and returns as :meth:`decode`.

        A molecule stops as soon as its best hypothesis has ended: the others can only lose
        likelihood from there, so that hypothesis is the search's answer, and the molecule's rows
        leave the live batch (a beam costs about ``width`` greedy decodings; on accelerators the
        finished ones leave every ``sync_every`` = 8 steps, as in :meth:`decode`, since looking
        costs a host sync; the answer is the same).
        """
        B, dev, k = z.shape[0], z.device, int(width)
        V = self.cfg.vocab_size
        step = self.decoder.stepper(self.embedding.weight, z, dtype)
        out, lengths, nll = _decode_outputs(B, max_len, dev)
        banned, first_banned = _decoding_masks(V, start_ids, dev)
        ended_row = torch.full((V,), float("-inf"), device=dev)
        ended_row[PAD] = 0.0  # an ended hypothesis only continues with <pad>, at no cost
        # live molecules `mols` (M,), each with k hypotheses in consecutive rows (M * k)
        mols = torch.arange(B, device=dev)
        h = self.decoder.initial_hidden(z).to(dtype or z.dtype).repeat_interleave(k, dim=1)
        score = torch.full((B, k), float("-inf"), device=dev)
        score[:, 0] = 0.0  # one hypothesis to start with, so the first step's k are distinct
        seqs = torch.full((B * k, max_len), PAD, dtype=torch.long, device=dev)
        hyp_len = torch.full((B * k,), max_len, dtype=torch.long, device=dev)
        ended = torch.zeros(B * k, dtype=torch.bool, device=dev)
        token = torch.full((B * k,), BOS, dtype=torch.long, device=dev)
        active = torch.ones(B, dtype=torch.bool, device=dev)  # of the live molecules
        every = sync_every or (1 if dev.type == "cpu" else 8)
        for t in range(max_len if B else 0):
            M = len(mols)
            logits, h = step(token, h, mols.repeat_interleave(k))  # (M * k, V)
            logits = logits.float().masked_fill(first_banned if t == 0 else banned, float("-inf"))
            logp = torch.where(ended[:, None], ended_row, F.log_softmax(logits, dim=-1))
            score, idx = (score.reshape(-1, 1) + logp).view(M, k * V).topk(k, dim=1)  # sorted
            src = (torch.arange(M, device=dev)[:, None] * k + idx // V).view(-1)
            token = (idx % V).view(-1)
            seqs, hyp_len, ended, h = seqs[src], hyp_len[src], ended[src], h[:, src]
            seqs[:, t] = token
            new_end = ~ended & (token == EOS)
            hyp_len = torch.where(new_end, torch.full_like(hyp_len, t + 1), hyp_len)
            ended |= new_end
            if t == max_len - 1:
                best_ended = active  # out of length: the best so far
            elif (t + 1) % every:
                continue  # an ended best stays the best, so a later look finds the same answer
            else:
                best_ended = ended.view(M, k)[:, 0] & active
            if bool(best_ended.any()):
                done = best_ended.nonzero().squeeze(1)
                rows = done * k  # each finished molecule's best hypothesis
                out[mols[done]] = seqs[rows]
                lengths[mols[done]] = hyp_len[rows]
                nll[mols[done]] = -score[done, 0]
                active = active & ~best_ended
                n_active = int(active.sum())
                if n_active == 0:
                    break
                size = live_size(n_active)  # as in `decode`: few distinct product shapes
                if size < M:  # live molecules first, then finished ones to fill the size
                    keep = torch.argsort((~active).to(torch.uint8), stable=True)[:size]
                    hyp = (keep[:, None] * k + torch.arange(k, device=dev)).view(-1)
                    mols, score, active = mols[keep], score[keep], active[keep]
                    seqs, hyp_len, ended, h, token = (
                        seqs[hyp],
                        hyp_len[hyp],
                        ended[hyp],
                        h[:, hyp],
                        token[hyp],
                    )
        width_out = int(lengths.max()) if B else 0
        return out[:, :width_out], lengths, nll

    @torch.no_grad()
    def sequence_nll(
        self, ids: torch.Tensor, lengths: torch.Tensor, z: torch.Tensor
    ) -> torch.Tensor:
        """``-log p(ids | z)`` per molecule, summed over tokens: ``(B,)``."""
        logits, _ = self.decoder(self.embedding(ids[:, :-1]), z)  # (B, T-1, V)
        ce = F.cross_entropy(
            logits.float().transpose(1, 2), ids[:, 1:], ignore_index=PAD, reduction="none"
        )
        return ce.sum(dim=1)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
