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
import math
import sys
import typing
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from molvae.constants import MAX_TRAIN_LEN
from molvae.exceptions import ConfigError
from molvae.losses import KL_SCHEDULES
from molvae.tokenizers import KINDS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _field(
    default: Any,
    *,
    ge: float | None = None,
    gt: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    choices: Any = None,
) -> Any:
    """A dataclass field with its bounds or choices declared beside it (checked by ``_validate``).
    Upper bounds (``le``) keep a hostile or mistyped file from allocating terabytes."""
    return dataclasses.field(
        default=default, metadata={"ge": ge, "gt": gt, "lt": lt, "le": le, "choices": choices}
    )


MAX_PARAMETERS = 200_000_000  # 0.8 GB of float32 weights: 40x the MOSES-size network


@dataclass
class ModelConfig:
    """Shape of the GRU VAE. ``vocab_size`` is set from the tokenizer when training starts."""

    vocab_size: int = _field(0, ge=0, le=100_000)
    embedding_dim: int = _field(64, ge=1, le=8192)
    encoder_hidden_dim: int = _field(256, ge=1, le=8192)
    encoder_layers: int = _field(1, ge=1, le=16)
    encoder_bidirectional: bool = True
    latent_dim: int = _field(128, ge=1, le=8192)
    decoder_hidden_dim: int = _field(512, ge=1, le=8192)
    decoder_layers: int = _field(3, ge=1, le=16)
    dropout: float = _field(0.0, ge=0.0, lt=1.0)  # between stacked GRU layers
    # probability of replacing a teacher-forced input token by <unk>
    word_dropout: float = _field(0.0, ge=0.0, lt=1.0)

    def __post_init__(self) -> None:
        _validate(self, "model")
        if self.approx_parameters() > MAX_PARAMETERS:
            raise ConfigError(
                f"model: these sizes make about {self.approx_parameters():,} parameters (more "
                f"than {MAX_PARAMETERS:,}); check embedding_dim, the hidden sizes, layers and "
                "latent_dim"
            )

    def approx_parameters(self) -> int:
        """Parameters of the network these sizes describe (GRU weights and biases, embeddings,
        latent heads, output layer), computed without building it."""

        def gru(inp: int, h: int, layers: int, dirs: int) -> int:
            first = dirs * 3 * (inp * h + h * h + 2 * h)
            return first + (layers - 1) * dirs * 3 * (dirs * h * h + h * h + 2 * h)

        v, e, z = max(self.vocab_size, 64), self.embedding_dim, self.latent_dim
        dirs = 2 if self.encoder_bidirectional else 1
        he, hd = self.encoder_hidden_dim, self.decoder_hidden_dim
        enc = gru(e, he, self.encoder_layers, dirs) + 2 * (dirs * he * self.encoder_layers + 1) * z
        dec = gru(e + z, hd, self.decoder_layers, 1) + z * hd * self.decoder_layers + hd * v
        return v * e + enc + dec


@dataclass
class TrainConfig:
    """One training run. ``0`` means "no limit" for ``max_steps``, ``time_limit_minutes``, ``patience``."""

    data: str = ""  # file path, or a bundled dataset such as "moses:train"
    column: str = ""  # CSV column; "" = the first column named like smiles
    tokenizer: str = _field("smiles", choices=KINDS)
    max_len: int = _field(100, ge=1, le=MAX_TRAIN_LEN)  # longest molecule kept, in tokens
    limit: int = _field(0, ge=0)  # train on a seeded random sample of N molecules (0 = all)
    epochs: int = _field(10, ge=1)
    max_steps: int = _field(0, ge=0)
    time_limit_minutes: float = _field(0.0, ge=0.0)
    batch_size: int = _field(256, ge=1, le=65_536)
    lr: float = _field(1e-3, gt=0.0)
    min_lr_ratio: float = _field(0.05, ge=0.0)  # cosine decay ends at lr * min_lr_ratio
    warmup_steps: int = _field(200, ge=0)
    weight_decay: float = _field(0.0, ge=0.0)
    grad_clip: float = _field(50.0, ge=0.0)  # 0 = no clipping
    kl_schedule: str = _field("linear", choices=KL_SCHEDULES)
    kl_weight: float = _field(1.0, ge=0.0)  # final beta
    kl_start: float = _field(0.0, ge=0.0)  # beta at step 0 (linear, cyclical, sigmoid)
    kl_warmup_steps: int = _field(2000, ge=0)  # ramp (linear, sigmoid) or cycle (cyclical) length
    free_bits: float = _field(0.0, ge=0.0)  # nats per latent dim below which KL is not penalised
    val_fraction: float = _field(0.02, gt=0.0, lt=1.0)
    val_max: int = _field(2000, ge=1)  # at most this many validation molecules
    recon_eval: int = _field(500, ge=0)  # validation molecules decoded for exact reconstruction
    prior_eval: int = _field(500, ge=0)  # prior samples drawn per epoch to measure validity
    # prior samples per epoch scored against the validation molecules (FCD, MOSES filters, unique)
    dist_eval: int = _field(2000, ge=0)
    # learned prior stored in best.pt (molvae.prior): "posterior" (the aggregate posterior of
    # prior_components training molecules), "gmm" (EM, prior_components full Gaussians) or "none"
    prior: str = _field("posterior", choices=("posterior", "gmm", "none"))
    prior_components: int = _field(4000, ge=1, le=1_000_000)
    prior_spread: float = _field(1.5, gt=0.0, le=100.0)  # widens each component when sampling
    prior_fit_size: int = _field(20_000, ge=1, le=10_000_000)  # training molecules it is fitted on
    patience: int = _field(0, ge=0)  # early stopping after this many epochs without improvement
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    # auto = bf16 autocast on CUDA and on CPUs with native bf16 (AVX512-BF16/AMX), else float32
    amp: str = _field("auto", choices=("auto", "bf16", "none"))
    num_workers: int = _field(0, ge=0)  # processes for cold data preparation (0 = all cores)

    def __post_init__(self) -> None:
        _validate(self, "train")


def _validate(cfg: Any, section: str) -> None:
    """Types, then each field's declared bounds and choices; NaN and infinity are never valid."""
    hints = typing.get_type_hints(type(cfg))
    for f in fields(cfg):
        value, expected = getattr(cfg, f.name), hints[f.name]
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
            setattr(cfg, f.name, value)
        if (expected is bool) != isinstance(value, bool) or not isinstance(value, expected):
            raise ConfigError(
                f"{section}.{f.name} must be {expected.__name__}, got {type(value).__name__} {value!r}"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{section}.{f.name} must be a finite number, got {value!r}")
        rules = f.metadata
        if rules.get("choices") is not None and value not in rules["choices"]:
            raise ConfigError(
                f"{section}.{f.name} must be one of {list(rules['choices'])}, got {value!r}"
            )
        for rule, ok, words in (
            ("ge", lambda v, b: v >= b, ">="),
            ("gt", lambda v, b: v > b, ">"),
            ("lt", lambda v, b: v < b, "<"),
            ("le", lambda v, b: v <= b, "<="),
        ):
            bound = rules.get(rule)
            if bound is not None and not ok(value, bound):
                raise ConfigError(f"{section}.{f.name} must be {words} {bound}, got {value!r}")


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
        if not isinstance(d[key], dict):
            raise ConfigError(
                f"{key} must be a table ([{key}] with key = value lines), got {d[key]!r}"
            )
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
    import tomli_w

    return tomli_w.dumps({"model": asdict(model), "train": asdict(train)})


def resolve_configs(
    model_config: ModelConfig | None,
    train_config: TrainConfig | None,
    preset: str | None,
    overrides: dict[str, Any],
    inherited: tuple[ModelConfig, TrainConfig] | None = None,
) -> tuple[ModelConfig, TrainConfig]:
    """A run's configuration: given > ``preset`` > ``inherited`` (a resumed run's own, or the
    parent model's for ``init``) > the dataclass defaults; then ``overrides`` (TrainConfig fields).

    Raises:
        ConfigError: an override that is not a TrainConfig field, or a bad value.
    """
    if preset:
        defaults = load_config(preset=preset)
    elif inherited is not None:
        defaults = inherited
    else:
        defaults = (ModelConfig(), TrainConfig())
    model_config = model_config or defaults[0]
    train_config = train_config or defaults[1]
    if overrides:
        try:
            train_config = TrainConfig(**{**asdict(train_config), **overrides})
        except TypeError as err:
            raise ConfigError(f"unknown training option: {err}") from err
    return model_config, train_config
