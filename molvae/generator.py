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
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
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
        self.last_errors: dict[int, str] = {}  # rows the last batch call could not encode, and why

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
            yield self._decode_frame(z, max_len, temperature, method, gen)
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

    # ---- latent space ----------------------------------------------------------------------------
    def _prepare_inputs(self, smiles: Sequence[Any]) -> tuple[list[str | None], dict[int, str]]:
        """Canonicalise (the model was trained on RDKit canonical SMILES); ``None`` + reason per bad row."""
        out: list[str | None] = []
        errors: dict[int, str] = {}
        for k, s in enumerate(smiles):
            c = canonical(s) if isinstance(s, str) else None
            if c is None:
                errors[k] = (
                    "not a string" if not isinstance(s, str) else "RDKit cannot parse this SMILES"
                )
            out.append(c)
        return out, errors

    def _encode_rows(
        self, smiles: Sequence[Any], batch_size: int = 1000
    ) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
        """``mu (N, Z)``, ``logvar (N, Z)`` (NaN rows for failures) and ``{row: reason}``."""
        canon, errors = self._prepare_inputs(smiles)
        n, zdim = len(canon), self.latent_dim
        mu = np.full((n, zdim), np.nan, dtype=np.float32)
        logvar = np.full((n, zdim), np.nan, dtype=np.float32)
        ok = [k for k, c in enumerate(canon) if c is not None]
        for start in range(0, len(ok), batch_size):
            rows = ok[start : start + batch_size]
            enc = self.tokenizer.encode_batch([canon[k] for k in rows])
            for j, reason in enc.errors.items():
                errors[rows[j]] = reason
            if not enc.rows:
                continue
            with torch.no_grad():
                m, lv = self.model.encode_params(
                    enc.ids.to(self.device), enc.lengths.to(self.device)
                )
            idx = [rows[j] for j in enc.rows]
            mu[idx] = m.float().cpu().numpy()
            logvar[idx] = lv.float().cpu().numpy()
        return mu, logvar, dict(sorted(errors.items()))

    def _encode_one(self, smiles: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``mu (Z,)``, ``logvar (Z,)`` of one molecule; raises with the bad token named."""
        from molvae.exceptions import TokenizerError

        c = canonical(smiles)
        if c is None:
            raise TokenizerError(
                "RDKit cannot parse this SMILES", input=smiles if isinstance(smiles, str) else None
            )
        ids = torch.tensor(
            [self.tokenizer.encode(c)], device=self.device
        )  # raises naming the token
        with torch.no_grad():
            mu, logvar = self.model.encode_params(ids, torch.tensor([ids.shape[1]]))
        return mu[0].float(), logvar[0].float()

    def encode(
        self, smiles: str | Sequence[Any], sample: bool = False, seed: int | None = None
    ) -> np.ndarray:
        """Latent points of molecules: ``mu`` (or a draw from q(z|x) with ``sample=True``).

        Args:
            smiles: one SMILES or a list.
            sample: draw ``z ~ q(z|x)`` instead of returning the mean.
            seed: seed for ``sample=True``.

        Returns:
            ``(N, latent_dim)`` float32 array. In the batch form a row that cannot be encoded is NaN
            and is reported (logged, and listed in ``gen.last_errors``), never fatal.

        Raises:
            TokenizerError: a single SMILES that cannot be encoded (the message names the token).
        """
        if isinstance(smiles, str):
            mu, logvar = self._encode_one(smiles)
            mu_np, lv_np, errors = mu.cpu().numpy()[None], logvar.cpu().numpy()[None], {}
        else:
            mu_np, lv_np, errors = self._encode_rows(list(smiles))
        self.last_errors = errors
        if errors:
            logger.warning(
                "encode: %d of %d molecules could not be encoded: %s",
                len(errors),
                len(mu_np),
                dict(list(errors.items())[:5]),
            )
        if not sample:
            return mu_np
        rng = np.random.default_rng(seed)
        return (mu_np + np.exp(0.5 * lv_np) * rng.standard_normal(mu_np.shape)).astype(np.float32)

    def decode(
        self,
        z: Any,
        method: str = "greedy",
        temperature: float = 1.0,
        seed: int | None = None,
        max_len: int | None = None,
    ) -> pd.DataFrame:
        """Decode latent points ``(N, latent_dim)`` into a DataFrame (``smiles``, ``valid``, ``canonical``, ``nll``)."""
        if method not in ("greedy", "multinomial"):
            raise ValueError(f"method must be 'greedy' or 'multinomial', got {method!r}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature!r}")
        zt = torch.as_tensor(np.asarray(z, dtype=np.float32), device=self.device)
        if zt.ndim == 1:
            zt = zt[None]
        if zt.ndim != 2 or zt.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (N, {self.latent_dim}), got {tuple(zt.shape)}")
        gen = torch.Generator(device=self.device)
        gen.manual_seed(seed) if seed is not None else gen.seed()
        return self._decode_frame(zt, max_len or self._default_max_len(), temperature, method, gen)

    def _decode_frame(
        self, z: torch.Tensor, max_len: int, temperature: float, method: str, gen: torch.Generator
    ) -> pd.DataFrame:
        """Decode ``z (B, Z)`` and check each molecule with RDKit: smiles, valid, canonical, nll."""
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
        return pd.DataFrame(
            {
                "smiles": smiles,
                "valid": [c is not None for c in canon],
                "canonical": canon,
                "nll": nll.cpu().numpy(),
            }
        )

    def reconstruct(
        self, smiles: Sequence[Any], n_decodes: int = 10, seed: int = 0
    ) -> pd.DataFrame:
        """Encode and decode each molecule ``n_decodes`` times (z ~ q(z|x), greedy decoding; with
        ``n_decodes=1`` the mean is decoded) and keep the most frequent decoding.

        Returns:
            DataFrame with ``smiles`` (input), ``reconstruction``, ``match`` (same molecule, canonical
            comparison), ``frequency`` (share of decodings equal to ``reconstruction``), ``tanimoto``
            (to the input) and ``reason`` (why a row could not be encoded). ``df.attrs["exact_match"]``
            holds the exact-match rate over the encodable rows.
        """
        from collections import Counter

        from molvae.chem import tanimoto

        if isinstance(smiles, str):
            smiles = [smiles]
        if n_decodes < 1:
            raise ValueError(f"n_decodes must be >= 1, got {n_decodes}")
        smiles = list(smiles)
        mu, logvar, errors = self._encode_rows(smiles)
        self.last_errors = errors
        rng = np.random.default_rng(seed)
        rows = []
        for k, s in enumerate(smiles):
            if k in errors:
                rows.append((s, None, False, np.nan, np.nan, errors[k]))
                continue
            if n_decodes == 1:
                z = mu[k][None]
            else:
                z = mu[k][None] + np.exp(0.5 * logvar[k])[None] * rng.standard_normal(
                    (n_decodes, self.latent_dim)
                )
            dec = self.decode(z.astype(np.float32), method="greedy")
            counts = Counter(
                c if isinstance(c, str) else s_ for c, s_ in zip(dec.canonical, dec.smiles)
            )
            best, freq = counts.most_common(1)[0]
            target = canonical(s)
            rows.append((s, best, best == target, freq / n_decodes, tanimoto(target, best), None))
        df = pd.DataFrame(
            rows, columns=["smiles", "reconstruction", "match", "frequency", "tanimoto", "reason"]
        )
        ok = df[df.reason.isna()]
        df.attrs["exact_match"] = float(ok.match.mean()) if len(ok) else float("nan")
        logger.info(
            "reconstruct: %.1f%% exact over %d molecules (%d not encodable)",
            100 * df.attrs["exact_match"],
            len(ok),
            len(errors),
        )
        return df

    def elbo(self, smiles: Sequence[Any], n_samples: int = 1, seed: int = 0) -> pd.DataFrame:
        """Per-molecule negative ELBO terms (nats): ``recon_nll`` = -log p(x|z), z ~ q(z|x) averaged
        over ``n_samples``; ``kl`` = KL(q(z|x) || N(0, I)); ``neg_elbo`` = their sum, an anomaly
        score (high for molecules unlike the training data). Rows that cannot be encoded are NaN
        with a ``reason``."""
        if isinstance(smiles, str):
            smiles = [smiles]
        smiles = list(smiles)
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        canon, errors = self._prepare_inputs(smiles)
        recon = np.full(len(smiles), np.nan)
        kl = np.full(len(smiles), np.nan)
        ok = [k for k, c in enumerate(canon) if c is not None]
        gen = torch.Generator(device=self.device).manual_seed(seed)
        for start in range(0, len(ok), 500):
            rows = ok[start : start + 500]
            enc = self.tokenizer.encode_batch([canon[k] for k in rows])
            for j, reason in enc.errors.items():
                errors[rows[j]] = reason
            if not enc.rows:
                continue
            ids, lengths = enc.ids.to(self.device), enc.lengths.to(self.device)
            with torch.no_grad():
                mu, logvar = self.model.encode_params(ids, lengths)
                mu, logvar = mu.float(), logvar.float()
                nll = torch.zeros(len(enc.rows), device=self.device)
                for _ in range(n_samples):
                    z = self.model.reparameterize(mu, logvar, generator=gen)
                    nll += self.model.sequence_nll(ids, lengths, z)
                kl_rows = 0.5 * (logvar.exp() + mu.pow(2) - 1 - logvar).sum(dim=1)
            idx = [rows[j] for j in enc.rows]
            recon[idx] = (nll / n_samples).cpu().numpy()
            kl[idx] = kl_rows.cpu().numpy()
        self.last_errors = dict(sorted(errors.items()))
        return pd.DataFrame(
            {
                "smiles": smiles,
                "recon_nll": recon,
                "kl": kl,
                "neg_elbo": recon + kl,
                "reason": [errors.get(k) for k in range(len(smiles))],
            }
        )

    def interpolate(
        self,
        a: str,
        b: str,
        steps: int = 10,
        method: str = "linear",
        decode: str = "greedy",
        drop_duplicates: bool = False,
        seed: int | None = 0,
    ) -> pd.DataFrame:
        """Decode points on the path between the encodings (mu) of ``a`` and ``b``.

        Returns:
            DataFrame with ``step``, ``t``, ``smiles``, ``valid``, ``sim_a`` and ``sim_b`` (Tanimoto to the
            endpoints). ``drop_duplicates`` removes consecutive repeats of the same molecule.

        Raises:
            ValueError: ``steps < 2`` or an unknown method; TokenizerError: an endpoint the tokenizer
                cannot represent (the message names the token).
        """
        from molvae import latent
        from molvae.chem import fingerprint, tanimoto

        if method not in ("linear", "slerp"):
            raise ValueError(f"method must be 'linear' or 'slerp', got {method!r}")
        latent.interpolation_times(steps)  # validates steps
        za, _ = self._encode_one(a)
        zb, _ = self._encode_one(b)
        path = (latent.slerp if method == "slerp" else latent.lerp)(za.cpu(), zb.cpu(), steps)
        dec = self.decode(path.numpy(), method=decode, seed=seed)
        fa, fb = fingerprint(a), fingerprint(b)
        out = pd.DataFrame(
            {
                "step": np.arange(steps),
                "t": latent.interpolation_times(steps).numpy(),
                "smiles": [
                    c if isinstance(c, str) else s for c, s in zip(dec.canonical, dec.smiles)
                ],
                "valid": dec.valid.to_numpy(),
            }
        )
        out["sim_a"] = [tanimoto(fa, s) if v else np.nan for s, v in zip(out.smiles, out.valid)]
        out["sim_b"] = [tanimoto(fb, s) if v else np.nan for s, v in zip(out.smiles, out.valid)]
        if drop_duplicates:
            out = out[out.smiles.ne(out.smiles.shift())].reset_index(drop=True)
        return out

    def neighbors(
        self,
        smiles: str,
        n: int = 50,
        radius: float = 0.5,
        max_draws: int | None = None,
        batch_size: int = 500,
        seed: int | None = 0,
    ) -> pd.DataFrame:
        """Unique valid molecules decoded (greedily) from random perturbations of the encoding of
        ``smiles``, ranked by Tanimoto similarity to it.

        Draws ``z = mu + radius * eps`` in batches until ``n`` unique valid molecules other than the
        query are found or ``max_draws`` (default ``50 * n``) is spent; ``df.attrs`` records the draws
        used and whether the budget ran out (also logged).

        Returns:
            DataFrame with ``smiles``, ``tanimoto``, ``distance`` (latent distance to the query's mu)
            and ``draws`` (how many draws decoded to this molecule), sorted by ``tanimoto``.

        Raises:
            ValueError: ``n <= 0`` or ``radius <= 0``; TokenizerError: a query the tokenizer cannot represent.
        """
        from molvae import latent
        from molvae.chem import fingerprint, tanimoto

        if not isinstance(n, int) or n <= 0:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        if not radius > 0:
            raise ValueError(f"radius must be > 0, got {radius!r}")
        max_draws = max_draws or 50 * n
        mu, _ = self._encode_one(smiles)
        query = canonical(smiles)
        fq = fingerprint(query)
        gen = torch.Generator(device="cpu")
        gen.manual_seed(seed) if seed is not None else gen.seed()
        found: dict[str, list[float]] = {}
        draws = 0
        while len(found) < n and draws < max_draws:
            b = min(batch_size, max_draws - draws)
            z = latent.perturb(mu.cpu(), b, radius, generator=gen)  # (b, Z)
            dec = self.decode(z.numpy(), method="greedy")
            dist = (z - mu.cpu()[None]).norm(dim=1).numpy()
            for c, d in zip(dec.canonical, dist):
                if isinstance(c, str) and c != query:
                    found.setdefault(c, []).append(float(d))
            draws += b
        exhausted = len(found) < n
        if exhausted:
            logger.warning(
                "neighbors: found %d of %d unique valid molecules in %d draws (budget spent)",
                len(found),
                n,
                draws,
            )
        df = pd.DataFrame(
            {
                "smiles": list(found),
                "tanimoto": [tanimoto(fq, s) for s in found],
                "distance": [min(d) for d in found.values()],
                "draws": [len(d) for d in found.values()],
            }
        )
        df = (
            df.sort_values(["tanimoto", "distance"], ascending=[False, True])
            .head(n)
            .reset_index(drop=True)
        )
        df.attrs.update({"draws": draws, "budget": max_draws, "exhausted": exhausted})
        return df

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
