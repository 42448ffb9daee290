"""Shared tiny configurations for fast CPU tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from molvae.config import ModelConfig, TrainConfig

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"

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
        dist_eval=0,
        prior="none",
        device="cpu",
        seed=0,
    )
    base.update(train)
    return ModelConfig(**TINY_MODEL), TrainConfig(**base)


def overfit_generator(smiles: list[str], steps: int = 300, seed: int = 0):
    """A small model trained to reproduce ``smiles`` exactly (greedy decoding from mu)."""
    import torch

    import molvae as mv
    from molvae.config import ModelConfig
    from molvae.generator import Generator
    from molvae.losses import kl_loss, reconstruction_loss
    from molvae.model import MolVAE

    torch.manual_seed(seed)
    data = mv.prepare(smiles, "smiles")
    cfg = ModelConfig(
        vocab_size=data.tokenizer.vocab_size,
        embedding_dim=32,
        encoder_hidden_dim=128,
        latent_dim=32,
        decoder_hidden_dim=256,
        decoder_layers=1,
    )
    model = MolVAE(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    ids, lengths = (torch.from_numpy(a) for a in data.batch(range(len(data))))
    for _ in range(steps):
        logits, mu, logvar = model(ids, lengths)
        loss = reconstruction_loss(logits, ids[:, 1:]) + 0.01 * kl_loss(mu, logvar)[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
    return Generator(model.eval(), data.tokenizer, metadata={"max_len": 100}), data


def fresh(gen):
    """A new Generator around the same (read-only) model and tokenizer: its own metadata, prior."""
    from molvae.generator import Generator

    return Generator(gen.model, gen.tokenizer, metadata=dict(gen.metadata))


def load_script(name: str) -> ModuleType:
    """``scripts/NAME.py`` as a module (registered as ``NAME``), loaded with scripts/ on the path
    as when it runs as a script, so that it can import its siblings."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(SCRIPTS))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(SCRIPTS))
    return module
