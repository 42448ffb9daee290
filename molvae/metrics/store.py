"""The one format of reference-set statistics (:class:`~molvae.metrics.features.SetStats`) on
disk: plain ``.npz`` arrays (no pickle) with a format version, xz-compressed for the statistics
shipped in the package and left plain for the on-disk cache of a user's reference set.

The covariance is symmetric: only its upper triangle is stored. Property values are stored sorted
(the Wasserstein distance does not depend on order), fingerprints sorted and distinct (SNN takes a
max over them), which lets xz shrink them about 6-7x.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from molvae.files import atomic_write
from molvae.metrics.features import PROPERTY_KEYS, SetStats

FORMAT_VERSION = 2  # 2: fingerprints, upper-triangle covariance, counters as arrays


def _strings(buf: np.ndarray) -> list[str]:
    text = buf.tobytes().decode()
    return text.split("\n") if text else []


def _counter_arrays(counts: Counter, prefix: str) -> dict[str, np.ndarray]:
    keys = sorted(counts)
    return {
        f"{prefix}_keys": np.frombuffer("\n".join(keys).encode(), dtype=np.uint8),
        f"{prefix}_counts": np.array([counts[k] for k in keys], dtype=np.int64),
    }


def save(stats: SetStats, path: Path, with_properties: bool = True) -> None:
    """Write ``stats`` to ``path``: a plain ``.npz``, xz-compressed when the name ends in ``.xz``
    (the shipped files; the on-disk cache of a user's reference set is left uncompressed).

    The covariance is symmetric: only its upper triangle is stored. Property values are stored
    sorted (the Wasserstein distance does not depend on order), fingerprints sorted and distinct
    (SNN takes a max over them).
    """
    import io
    import lzma

    iu = np.triu_indices(len(stats.fcd_mu))
    arrays: dict[str, np.ndarray] = {
        "format_version": np.array(FORMAT_VERSION),
        "n": np.array(stats.n),
        "fcd_mu": np.asarray(stats.fcd_mu, dtype=np.float64),
        "fcd_sigma_triu": np.asarray(stats.fcd_sigma, dtype=np.float64)[iu],
        **_counter_arrays(stats.frags, "frags"),
        **_counter_arrays(stats.scafs, "scafs"),
        "fps": np.unique(np.asarray(stats.fps, dtype=np.uint8), axis=0),
    }
    if with_properties:
        for k in PROPERTY_KEYS:
            arrays[f"prop_{k}"] = np.sort(np.asarray(stats.props[k], dtype=np.float64))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    data = buf.getvalue()
    if Path(path).suffix == ".xz":
        data = lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)
    with atomic_write(path, "wb") as f:
        f.write(data)


def read(path: Path) -> SetStats:
    """A statistics file written by :func:`save` as :class:`SetStats`.

    Raises:
        ValueError: another format version; OSError, lzma or numpy errors for a damaged file.
    """
    import io
    import lzma

    data = Path(path).read_bytes()
    if Path(path).suffix == ".xz":
        data = lzma.decompress(data)
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        if int(z["format_version"]) != FORMAT_VERSION:
            raise ValueError(f"format_version {int(z['format_version'])} != {FORMAT_VERSION}")
        mu, triu, fps = z["fcd_mu"], z["fcd_sigma_triu"], z["fps"]
        shapes = {
            k: z[k].shape for k in ("frags_keys", "frags_counts", "scafs_keys", "scafs_counts")
        }
        if mu.ndim != 1 or triu.shape != (len(mu) * (len(mu) + 1) // 2,) or fps.ndim != 2:
            raise ValueError(
                f"arrays disagree in shape: fcd_mu {mu.shape}, fcd_sigma_triu {triu.shape}, "
                f"fps {fps.shape}"
            )
        if any(len(s) != 1 for s in shapes.values()) or (
            len(_strings(z["frags_keys"])) != shapes["frags_counts"][0]
            or len(_strings(z["scafs_keys"])) != shapes["scafs_counts"][0]
        ):
            raise ValueError(f"fragment or scaffold keys and counts disagree: {shapes}")
        sigma = np.zeros((len(mu), len(mu)))
        iu = np.triu_indices(len(mu))
        sigma[iu] = z["fcd_sigma_triu"]
        sigma.T[iu] = z["fcd_sigma_triu"]
        props = {k: z[f"prop_{k}"] for k in PROPERTY_KEYS if f"prop_{k}" in z.files}
        return SetStats(
            n=int(z["n"]),
            fps=z["fps"],
            frags=Counter(dict(zip(_strings(z["frags_keys"]), z["frags_counts"].tolist()))),
            scafs=Counter(dict(zip(_strings(z["scafs_keys"]), z["scafs_counts"].tolist()))),
            passes=np.zeros(0, dtype=bool),
            props=props,
            fcd_mu=mu,
            fcd_sigma=sigma,
        )
