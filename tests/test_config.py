from __future__ import annotations

import pytest

import molvae as mv
from molvae.config import config_from_dict, load_config, presets, to_toml


def test_presets_exist_and_moses_matches_moses_vae_size():
    assert {"small", "moses"} <= set(presets())
    m, t = load_config(preset="moses")
    assert (m.encoder_hidden_dim, m.latent_dim, m.decoder_hidden_dim, m.decoder_layers) == (
        256,
        128,
        512,
        3,
    )
    assert t.batch_size == 512


def test_unknown_key_is_named():
    with pytest.raises(mv.ConfigError, match="'latnet_dim'"):
        config_from_dict({"model": {"latnet_dim": 3}})
    with pytest.raises(mv.ConfigError, match="'optimizer'"):
        config_from_dict({"optimizer": {}})


def test_wrong_type_and_value():
    with pytest.raises(mv.ConfigError, match="model.latent_dim must be int"):
        config_from_dict({"model": {"latent_dim": "big"}})
    with pytest.raises(mv.ConfigError, match="encoder_bidirectional must be bool"):
        config_from_dict({"model": {"encoder_bidirectional": 1}})
    with pytest.raises(mv.ConfigError, match="kl_schedule"):
        config_from_dict({"train": {"kl_schedule": "exponential"}})
    with pytest.raises(mv.ConfigError, match="epochs must be >= 1"):
        config_from_dict({"train": {"epochs": 0}})
    assert config_from_dict({"train": {"lr": 1}})[1].lr == 1.0  # int accepted for float


def test_unknown_preset_lists_presets(tmp_path):
    with pytest.raises(mv.ConfigError, match="small"):
        load_config(preset="huge")
    with pytest.raises(mv.ConfigError, match="no such config"):
        load_config(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\n")
    with pytest.raises(mv.ConfigError, match="TOML"):
        load_config(bad)


def test_to_toml_round_trip_and_overrides(tmp_path):
    m, t = load_config(
        preset="small", overrides={"train": {"epochs": 3, "data": 'a "quoted" path', "lr": None}}
    )
    assert t.epochs == 3 and t.lr == 0.003
    f = tmp_path / "c.toml"
    f.write_text(to_toml(m, t))
    assert load_config(f) == (m, t)


def test_sizes_that_would_allocate_terabytes_are_refused(tmp_path):
    for model, message in (
        ({"latent_dim": 1_000_000_000}, "latent_dim must be <="),
        ({"decoder_hidden_dim": 8192, "decoder_layers": 16}, "parameters"),
    ):
        with pytest.raises(mv.ConfigError, match=message):
            config_from_dict({"model": model})
    with pytest.raises(mv.ConfigError, match="max_len must be <="):
        config_from_dict({"train": {"max_len": 10**9}})
    bad = tmp_path / "bad.toml"
    bad.write_text("model = 5\n")
    with pytest.raises(mv.ConfigError, match="model must be a table"):
        load_config(bad)
