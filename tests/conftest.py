from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"

# The same float32 numbers on every machine: "auto" precision would pick bf16 on CPUs with native
# bf16 (tests/test_codec.py checks that choice with the variable removed).
os.environ.setdefault("MOLVAE_PRECISION", "fp32")


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:
        has_cuda = False
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "needs_gpu" in item.keywords and not has_cuda:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated_cache(request, tmp_path_factory, monkeypatch):
    """Every test writes its cache to a fresh folder, never to ~/.cache; slow golden tests use the
    user's cache so the MOSES reference statistics are computed once, not per run."""
    if request.node.get_closest_marker("slow") is None:
        monkeypatch.setenv("MOLVAE_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def moses_sample() -> list[str]:
    return (DATA / "moses_test_5k.smi").read_text().split()


@pytest.fixture(scope="session")
def overfit32(moses_sample):
    """A model trained (once per session) to reproduce the first 32 sample molecules, and their
    prepared data. Modules wrap it in their own Generator (:func:`tests.helpers.fresh`), so that
    one module's changes to a Generator (a prior, a calibration) never reach another."""
    from .helpers import overfit_generator

    return overfit_generator(moses_sample[:32], steps=300)
