"""Rebuild the MOSES reference statistics that ship inside the package.

    python scripts/build_reference_stats.py            # both sets, all cores (~12 min on 2 cores)
    python scripts/build_reference_stats.py --jobs 2 --out /tmp/stats   # elsewhere

Computes, from the bundled ``datasets/moses/test.csv.gz`` and ``test_scaffolds.csv.gz``, the ChemNet
moments (FCD), BRICS-fragment and Murcko-scaffold counts (Frag, Scaf) and, for the test set, the
logP/SA/QED/weight values (property distances), with exactly the code ``mv.evaluate`` uses, and
writes them with their provenance (sources and their sha256, each file's sha256, the molvae, RDKit
and fcd versions) to ``molvae/metrics/reference_data/``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--device", default="cpu", help="torch device for ChemNet")
    ap.add_argument("--out", default=None, help="folder (default: molvae/metrics/reference_data)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from pathlib import Path

    from molvae import datasets
    from molvae.metrics import shipped

    t0 = time.perf_counter()
    doc = shipped.build(
        {
            "test": (datasets.path("moses", "test"), True),
            "test_scaffolds": (datasets.path("moses", "test_scaffolds"), False),
        },
        folder=Path(args.out) if args.out else None,
        n_jobs=args.jobs,
        device=args.device,
        progress=True,
    )
    doc["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
