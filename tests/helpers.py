"""Shared tiny configurations for fast CPU tests."""

from __future__ import annotations

from molvae.config import ModelConfig, TrainConfig

TINY_MODEL = dict(
    embedding_dim=16, encoder_hidden_dim=32, latent_dim=8, decoder_hidden_dim=64, decoder_layers=1
)


def tiny_configs(**train) -> tuple[ModelConfig, TrainConfig]:
    base = dict(
        epochs=2,
        batch_size=16,
        lr=3e-3,
        warmup_steps=2,
        kl_warmup_steps=10,
        val_fraction=0.2,
        recon_eval=8,
        prior_eval=8,
        device="cpu",
        seed=0,
    )
    base.update(train)
    return ModelConfig(**TINY_MODEL), TrainConfig(**base)
