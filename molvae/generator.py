"""The notebook facade: a trained model plus its tokenizer, with DataFrame-returning verbs.

Example:
    >>> import molvae as mv
    >>> gen = mv.load("runs/small")                 # run directory (best.pt) or checkpoint file
    >>> df = gen.sample(1000, temperature=1.0, seed=0)
    >>> df.valid.mean()
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from molvae import checkpoint as ckpt
from molvae.chem import canonical
from molvae.model import MolVAE

logger = logging.getLogger(__name__)

SAMPLE_COLUMNS = ["smiles", "valid", "canonical", "nll"]


class Generator:
    """Sample (and, in later versions, encode and interpolate) with a trained :class:`MolVAE`.

    Args:
        model: the trained model.
        tokenizer: its tokenizer.
        device: where to run (default: the model's device).
        metadata: checkpoint metadata, kept for reference.
    """

    def __init__(
        self,
        model: MolVAE,
        tokenizer: Any,
        device: str | torch.device | None = None,
        metadata: dict | None = None,
    ):
        self.model = model.eval()
        if device is not None:
            self.model.to(device)
        self.tokenizer = tokenizer
        self.metadata = metadata or {}
        self._start_ids = tokenizer.start_ids()

    def __repr__(self) -> str:
        c = self.model.cfg
        return (
            f"Generator({self.tokenizer.kind}, latent_dim={c.latent_dim}, "
            f"decoder={c.decoder_layers}x{c.decoder_hidden_dim}, device={self.device})"
        )

    @property
    def device(self) -> torch.device:
        return self.model.device

    @property
    def latent_dim(self) -> int:
        return self.model.cfg.latent_dim

    def _default_max_len(self) -> int:
        return int(self.metadata.get("max_len", 0)) or 120

    def _check_sampling_args(
        self, n: int, temperature: float, method: str, batch_size: int
    ) -> None:
        if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature!r}")
        if method not in ("multinomial", "greedy"):
            raise ValueError(f"method must be 'multinomial' or 'greedy', got {method!r}")
        if batch_size <= 0:
            raise ValueError(f"batch_size must be > 0, got {batch_size!r}")

    def iter_samples(
        self,
        n: int,
        temperature: float = 1.0,
        seed: int | None = None,
        batch_size: int = 1000,
        max_len: int | None = None,
        method: str = "multinomial",
    ) -> Iterator[pd.DataFrame]:
        """Yield DataFrames of at most ``batch_size`` samples each, ``n`` in total (flat memory)."""
        self._check_sampling_args(n, temperature, method, batch_size)
        max_len = max_len or self._default_max_len()
        gen = torch.Generator(device=self.device)
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(seed)
        done = 0
        while done < n:
            b = min(batch_size, n - done)
            z = torch.randn(b, self.latent_dim, device=self.device, generator=gen)  # (b, Z)
            ids, _, nll = self.model.decode(
                z,
                max_len=max_len,
                temperature=temperature,
                greedy=method == "greedy",
                generator=gen,
                start_ids=self._start_ids,
            )
            smiles = self.tokenizer.decode_batch(ids.cpu())
            canon = [canonical(s) if s else None for s in smiles]
            yield pd.DataFrame(
                {
                    "smiles": smiles,
                    "valid": [c is not None for c in canon],
                    "canonical": canon,
                    "nll": nll.cpu().numpy(),
                }
            )
            done += b

    def sample(
        self,
        n: int,
        temperature: float = 1.0,
        seed: int | None = None,
        batch_size: int = 1000,
        max_len: int | None = None,
        method: str = "multinomial",
        progress: bool = False,
    ) -> pd.DataFrame:
        """Sample ``n`` molecules from the prior.

        Args:
            n: number of samples (> 0).
            temperature: softmax temperature (> 0); lower is more conservative.
            seed: same seed, same molecules (for the same ``batch_size`` and device).
            batch_size: molecules decoded at once.
            max_len: most tokens per molecule (default: the training data's longest + margin).
            method: ``"multinomial"`` or ``"greedy"`` (most likely token at each step).
            progress: show a progress bar.

        Returns:
            DataFrame with ``smiles`` (as decoded), ``valid`` (RDKit parses it), ``canonical``
            (RDKit canonical SMILES or None) and ``nll`` (the decoder's negative log-likelihood of the
            sampled tokens given z, in nats).

        Raises:
            ValueError: ``n <= 0``, ``temperature <= 0`` or an unknown ``method``.
        """
        from tqdm.auto import tqdm

        parts = []
        with tqdm(total=n, desc="sampling", unit="mol", disable=not progress) as bar:
            for part in self.iter_samples(n, temperature, seed, batch_size, max_len, method):
                parts.append(part)
                bar.update(len(part))
        return pd.concat(parts, ignore_index=True)

    def sample_to_csv(
        self,
        path: str | os.PathLike,
        n: int,
        temperature: float = 1.0,
        seed: int | None = None,
        batch_size: int = 1000,
        max_len: int | None = None,
        method: str = "multinomial",
        progress: bool = False,
    ) -> dict[str, float]:
        """Stream ``n`` samples to a CSV in chunks (memory stays flat for millions of samples).

        Returns ``{"n": ..., "valid": fraction valid}``. The file is written to a temporary name and
        renamed at the end, so a crashed run never leaves a half-written file under ``path``.
        """
        from tqdm.auto import tqdm

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.part")
        n_valid = 0
        try:
            with (
                open(tmp, "w", newline="") as f,
                tqdm(total=n, desc="sampling", unit="mol", disable=not progress) as bar,
            ):
                header = True
                for part in self.iter_samples(n, temperature, seed, batch_size, max_len, method):
                    part.to_csv(f, header=header, index=False)
                    header = False
                    n_valid += int(part.valid.sum())
                    bar.update(len(part))
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)
        logger.info("wrote %d samples (%.1f%% valid) to %s", n, 100 * n_valid / n, path)
        return {"n": n, "valid": n_valid / n}

    def save(self, path: str | os.PathLike, metadata: dict | None = None) -> Path:
        """Write the model as a checkpoint (no training state)."""
        return ckpt.save(
            path, self.model, self.tokenizer, metadata={**self.metadata, **(metadata or {})}
        )


def load(model: str | os.PathLike, device: str | torch.device | None = None) -> Generator:
    """Load a :class:`Generator` from a checkpoint file or a run directory (its ``best.pt``).

    Args:
        model: a ``.pt`` checkpoint or a run directory written by ``fit``/``molvae train``.
        device: ``"cpu"``, ``"cuda"``, ... (default: cuda if available, else cpu).

    Raises:
        CheckpointError: missing, damaged, tampered or pickled-object file, unknown format version.
    """
    from molvae.train import resolve_device

    path = ckpt.resolve(model)
    c = ckpt.load(path)
    dev = resolve_device(
        str(device) if device is not None else ("cuda" if torch.cuda.is_available() else "cpu")
    )
    meta = dict(c.metadata)
    if c.train_config and "max_len" in c.train_config:
        meta.setdefault("max_len", int(c.train_config["max_len"]) + 2)
    return Generator(c.build_model(dev), c.tokenizer, metadata=meta)
