"""Typed, strict configuration: ``ModelConfig`` (the network) and ``TrainConfig`` (the run).

Dataclass defaults are the single source of truth. TOML files have a ``[model]`` and a ``[train]``
table; an unknown key or a value of the wrong type raises :class:`ConfigError` naming it.
Presets live in ``scripts/configs/*.toml`` (installed as ``molvae/configs``).

Example:
    >>> from molvae.config import load_config
    >>> model_cfg, train_cfg = load_config(preset="small")
    >>> model_cfg.latent_dim
    64
"""

from __future__ import annotations

import dataclasses
import sys
import typing
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from molvae.exceptions import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass
class ModelConfig:
    """Shape of the GRU VAE. ``vocab_size`` is set from the tokenizer when training starts."""

    vocab_size: int = 0
    embedding_dim: int = 64
    encoder_hidden_dim: int = 256
    encoder_layers: int = 1
    encoder_bidirectional: bool = True
    latent_dim: int = 128
    decoder_hidden_dim: int = 512
    decoder_layers: int = 3
    dropout: float = 0.0  # between stacked GRU layers
    word_dropout: float = 0.0  # probability of replacing a teacher-forced input token by <unk>

    def __post_init__(self) -> None:
        _check_types(self)
        for name in (
            "embedding_dim",
            "encoder_hidden_dim",
            "encoder_layers",
            "latent_dim",
            "decoder_hidden_dim",
            "decoder_layers",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"model.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("dropout", "word_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"model.{name} must be in [0, 1), got {getattr(self, name)}")


@dataclass
class TrainConfig:
    """One training run. ``0`` means "no limit" for ``max_steps``, ``time_limit_minutes``, ``patience``."""

    data: str = ""  # file path, or a bundled dataset such as "moses:train"
    column: str = ""  # CSV column; "" = the first column named like smiles
    tokenizer: str = "smiles"  # smiles | smiles-char | selfies
    max_len: int = 100  # longest molecule kept, in tokens
    limit: int = 0  # train on a seeded random sample of N molecules of the data (0 = all)
    epochs: int = 10
    max_steps: int = 0
    time_limit_minutes: float = 0.0
    batch_size: int = 256
    lr: float = 1e-3
    min_lr_ratio: float = 0.05  # cosine decay ends at lr * min_lr_ratio
    warmup_steps: int = 200
    weight_decay: float = 0.0
    grad_clip: float = 50.0
    kl_schedule: str = "linear"  # constant | linear | cyclical | sigmoid
    kl_weight: float = 1.0  # final beta
    kl_start: float = 0.0  # beta at step 0 (linear, cyclical, sigmoid)
    kl_warmup_steps: int = 2000  # ramp length (linear, sigmoid) or cycle length (cyclical)
    free_bits: float = 0.0  # nats per latent dimension below which KL is not penalised
    val_fraction: float = 0.02
    val_max: int = 2000  # at most this many validation molecules
    recon_eval: int = 500  # validation molecules greedily decoded for exact-match accuracy
    prior_eval: int = 500  # prior samples drawn per epoch to measure validity
    patience: int = 0  # early stopping after this many epochs without improvement
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    amp: str = "auto"  # auto (bf16 on CUDA) | bf16 | none
    num_workers: int = 0  # processes for cold data preparation (0 = all cores)

    def __post_init__(self) -> None:
        _check_types(self)
        if self.tokenizer not in ("smiles", "smiles-char", "selfies"):
            raise ConfigError(
                f"train.tokenizer must be smiles, smiles-char or selfies, got {self.tokenizer!r}"
            )
        if self.kl_schedule not in ("constant", "linear", "cyclical", "sigmoid"):
            raise ConfigError(
                f"train.kl_schedule must be constant, linear, cyclical or sigmoid, got {self.kl_schedule!r}"
            )
        if self.amp not in ("auto", "bf16", "none"):
            raise ConfigError(f"train.amp must be auto, bf16 or none, got {self.amp!r}")
        for name in ("epochs", "batch_size", "max_len"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ConfigError(f"train.lr must be > 0, got {self.lr}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"train.val_fraction must be in (0, 1), got {self.val_fraction}")
        for name in (
            "max_steps",
            "time_limit_minutes",
            "patience",
            "warmup_steps",
            "kl_warmup_steps",
            "free_bits",
            "kl_weight",
            "kl_start",
            "limit",
            "weight_decay",
            "grad_clip",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"train.{name} must be >= 0, got {getattr(self, name)}")


def _check_types(cfg: Any) -> None:
    hints = typing.get_type_hints(type(cfg))
    for f in fields(cfg):
        value, expected = getattr(cfg, f.name), hints[f.name]
        section = "model" if isinstance(cfg, ModelConfig) else "train"
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            setattr(cfg, f.name, float(value))
            continue
        if (
            expected is bool
            and not isinstance(value, bool)
            or expected is not bool
            and (isinstance(value, bool) or not isinstance(value, expected))
        ):
            raise ConfigError(
                f"{section}.{f.name} must be {expected.__name__}, got {type(value).__name__} {value!r}"
            )


def _build(cls: type, values: dict[str, Any], section: str) -> Any:
    known = {f.name for f in fields(cls)}
    for key in values:
        if key not in known:
            raise ConfigError(f"unknown key {section}.{key!r}; known keys: {sorted(known)}")
    return cls(**values)


def config_from_dict(d: dict[str, Any]) -> tuple[ModelConfig, TrainConfig]:
    """Build both configs from ``{"model": {...}, "train": {...}}``; unknown keys are an error."""
    for key in d:
        if key not in ("model", "train"):
            raise ConfigError(f"unknown config table {key!r}; expected [model] and [train]")
    return _build(ModelConfig, dict(d.get("model", {})), "model"), _build(
        TrainConfig, dict(d.get("train", {})), "train"
    )


def presets_dir() -> Path:
    """Folder of the bundled presets: installed ``molvae/configs`` or the repo's ``scripts/configs``."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "configs", here.parent / "scripts" / "configs"):
        if candidate.is_dir() and any(candidate.glob("*.toml")):
            return candidate
    raise ConfigError(
        f"bundled presets not found (looked in {here / 'configs'} and {here.parent / 'scripts' / 'configs'})"
    )


def presets() -> list[str]:
    """Names of the bundled presets."""
    return sorted(p.stem for p in presets_dir().glob("*.toml"))


def load_config(
    path: str | Path | None = None,
    preset: str | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> tuple[ModelConfig, TrainConfig]:
    """Read a TOML config file or a named preset, then apply ``overrides`` (e.g. from CLI flags).

    Raises:
        ConfigError: unreadable file, unknown preset (lists the known ones), unknown key, wrong type.
    """
    if path is not None and preset is not None:
        raise ConfigError("give a config file or a preset, not both")
    data: dict[str, Any] = {}
    if preset is not None:
        names = presets()
        if preset not in names:
            raise ConfigError(f"unknown preset {preset!r}; presets: {names}")
        data = tomllib.loads((presets_dir() / f"{preset}.toml").read_text())
    elif path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"{p}: no such config file")
        try:
            data = tomllib.loads(p.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise ConfigError(f"{p}: not valid TOML: {err}") from err
    for section, values in (overrides or {}).items():
        data.setdefault(section, {}).update({k: v for k, v in values.items() if v is not None})
    return config_from_dict(data)


def to_toml(model: ModelConfig, train: TrainConfig) -> str:
    """The resolved configuration as TOML text (what a run directory's ``config.toml`` holds)."""
    lines = []
    for name, cfg in (("model", model), ("train", train)):
        lines.append(f"[{name}]")
        for k, v in asdict(cfg).items():
            if isinstance(v, bool):
                lines.append(f"{k} = {'true' if v else 'false'}")
            elif isinstance(v, str):
                lines.append(f'{k} = "{_escape(v)}"')
            else:
                lines.append(f"{k} = {v!r}")
        lines.append("")
    return "\n".join(lines)


def _escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def replace(cfg: Any, **changes: Any) -> Any:
    """``dataclasses.replace`` that re-runs validation."""
    return dataclasses.replace(cfg, **changes)
