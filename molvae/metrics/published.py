"""Published MOSES results, printed beside a user's metrics so a chemist sees where a model stands.

Source: the MOSES repository's README (molecularsets/moses, "Metrics" table; Polykovskiy et al.,
Frontiers in Pharmacology 2020): means over 3 runs of 30,000 samples each against the full MOSES
test (``/Test``) and scaffold-test (``/TestSF``) sets. ``Train`` is the MOSES train set scored as if
generated. The property distances (logP, SA, QED, weight) are published only as plots.
"""

from __future__ import annotations

CITATION = "MOSES README, molecularsets/moses (Polykovskiy et al. 2020); 30,000 samples"
COLUMNS = (
    "valid",
    "unique@1000",
    "unique@10000",
    "FCD/Test",
    "FCD/TestSF",
    "SNN/Test",
    "SNN/TestSF",
    "Frag/Test",
    "Frag/TestSF",
    "Scaf/Test",
    "Scaf/TestSF",
    "IntDiv",
    "IntDiv2",
    "Filters",
    "Novelty",
)
# fmt: off
ROWS: dict[str, tuple[float, ...]] = {
    "Train":   (1.0,    1.0, 1.0,    0.008,  0.4755, 0.6419, 0.5859, 1.0,    0.9986, 0.9907, 0.0,    0.8567, 0.8508, 1.0,    1.0),
    "VAE":     (0.9767, 1.0, 0.9984, 0.099,  0.567,  0.6257, 0.5783, 0.9994, 0.9984, 0.9386, 0.0588, 0.8558, 0.8498, 0.997,  0.6949),
    "CharRNN": (0.9748, 1.0, 0.9994, 0.0732, 0.5204, 0.6015, 0.5649, 0.9998, 0.9983, 0.9242, 0.1101, 0.8562, 0.8503, 0.9943, 0.8419),
    "JTN-VAE": (1.0,    1.0, 0.9996, 0.3954, 0.9382, 0.5477, 0.5194, 0.9965, 0.9947, 0.8964, 0.1009, 0.8551, 0.8493, 0.976,  0.9143),
}
# fmt: on
BETTER = {"FCD/Test": "lower", "FCD/TestSF": "lower"}  # every other published metric: higher


def published(metric: str) -> dict[str, float]:
    """``{model: value}`` of one metric (empty when MOSES publishes no figure for it)."""
    if metric not in COLUMNS:
        return {}
    i = COLUMNS.index(metric)
    return {model: row[i] for model, row in ROWS.items()}


def table(metrics: dict[str, float | None]) -> str:
    """The user's metrics beside the published rows, one line per metric, as text."""
    models = list(ROWS)
    head = f"  {'metric':<14}{'yours':>9}" + "".join(f"{m:>9}" for m in models)
    lines = [head]
    for key, value in metrics.items():
        mine = "-" if value is None else f"{value:.4f}"
        ref = published(key)
        cells = "".join(f"{ref[m]:>9.4f}" if m in ref else f"{'':>9}" for m in models)
        lines.append(f"  {key:<14}{mine:>9}{cells}")
    lines.append(f"  published rows: {CITATION}; FCD lower is better, others higher")
    return "\n".join(lines)
