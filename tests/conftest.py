from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


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
