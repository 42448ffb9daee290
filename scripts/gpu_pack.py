"""Pack RDKit, selfies, fcd, cmaes and tomli-w for the GPU machine (Python 3.12, no network) into
``.whl/site.tar.xz``, small enough that it and the repository fit the 64 MiB a device call sends.

    python scripts/gpu_pack.py            # or: bash scripts/gpu_train.sh --pack

The wheels are downloaded for CPython 3.12 on manylinux x86-64 and unpacked; then RDKit is cut to
what molvae imports (``KEEP_MODULES``: the extension modules that ``rdkit.Chem``, descriptors,
QED, fingerprints, filter catalogs, scaffolds, BRICS and Contrib's SA_Score load, read off
``/proc/self/maps`` under Python 3.12 with RDKit 2026.9.1) and the shared libraries those need
(their ``NEEDED`` entries, followed with ``readelf``); the type stubs, the drawing code and all of
Contrib but SA_Score go too. 37 MB of wheels become about 19 MB. With ``--check PYTHON3.12`` the
packed tree is unpacked and imported by that interpreter the way molvae uses RDKit.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("rdkit==2026.9.1", "selfies==2.2.0", "fcd==1.2.2", "cmaes==0.13.1", "tomli-w==1.2.0")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
KEEP_MODULES = {
    "rdkit/rdBase.so", "rdkit/DataStructs/cDataStructs.so", "rdkit/ForceField/rdForceField.so",
    "rdkit/Geometry/rdGeometry.so", "rdkit/ML/InfoTheory/rdInfoTheory.so",
    *(f"rdkit/Chem/{m}.so" for m in (
        "rdCIPLabeler", "rdChemReactions", "rdChemicalFeatures", "rdCoordGen", "rdDepictor",
        "rdDistGeom", "rdFingerprintGenerator", "rdForceFieldHelpers", "rdMolAlign",
        "rdMolChemicalFeatures", "rdMolDescriptors", "rdMolEnumerator", "rdMolInterchange",
        "rdMolTransforms", "rdPartialCharges", "rdReducedGraphs", "rdSLNParse", "rdShapeHelpers",
        "rdchem", "rdfiltercatalog", "rdinchi", "rdmolfiles", "rdmolops", "rdqueries",
    )),
}  # fmt: skip
CHECK = """
import os, sys
from rdkit import Chem, DataStructs, RDConfig
from rdkit.Chem import AllChem, BRICS, QED, Crippen, Descriptors, rdFingerprintGenerator
from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams
from rdkit.Chem.Scaffolds import MurckoScaffold
sys.path.append(os.path.join(RDConfig.RDContribDir, "SA_Score"))
import sascorer, selfies, cmaes, tomli_w
m = Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1")
fp = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024).GetFingerprint(m)
p = FilterCatalogParams(); p.AddCatalog(FilterCatalogParams.FilterCatalogs.PAINS)
print(Chem.MolToSmiles(m), round(QED.qed(m), 3), round(sascorer.calculateScore(m), 3),
      DataStructs.TanimotoSimilarity(fp, fp), FilterCatalog(p).HasMatch(m),
      MurckoScaffold.GetScaffoldForMol(m).GetNumAtoms(), len(BRICS.BRICSDecompose(m)),
      selfies.encoder("CCO"))
"""


def needed(path: Path) -> list[str]:
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True).stdout
    return re.findall(r"\(NEEDED\).*\[(.+?)\]", out)


def prune_rdkit(site: Path) -> None:
    """Keep KEEP_MODULES and the bundled libraries they need, transitively."""
    kept = []
    for so in (site / "rdkit").rglob("*.so"):
        if so.relative_to(site).as_posix() in KEEP_MODULES:
            kept.append(so)
        else:
            so.unlink()
    missing = KEEP_MODULES - {k.relative_to(site).as_posix() for k in kept}
    if missing:
        raise SystemExit(f"this RDKit lacks modules molvae needs: {sorted(missing)}")
    libs = site / "rdkit.libs"
    keep, todo = set(), list(kept)
    while todo:
        for name in needed(todo.pop()):
            if name not in keep and (libs / name).exists():
                keep.add(name)
                todo.append(libs / name)
    for lib in libs.iterdir():
        if lib.name not in keep:
            lib.unlink()
    contrib = site / "rdkit" / "Contrib"
    for item in contrib.iterdir():
        if item.name not in ("SA_Score", "__init__.py"):
            shutil.rmtree(item) if item.is_dir() else item.unlink()
    for extra in ("rdkit-stubs", "rdkit/sping", "rdkit/Chem/Draw"):
        shutil.rmtree(site / extra, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / ".whl" / "site.tar.xz")
    ap.add_argument("--check", help="a Python 3.12 interpreter to import the packed tree with")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheels, site = Path(tmp) / "wheels", Path(tmp) / "site"
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
               "--python-version", "3.12", "--implementation", "cp", "-d", str(wheels),
               *(a for p in PLATFORMS for a in ("--platform", p)), *PACKAGES]  # fmt: skip
        subprocess.run(cmd, check=True)
        for whl in wheels.glob("*.whl"):
            shutil.unpack_archive(whl, site, format="zip")
        prune_rdkit(site)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(args.out, "w:xz", preset=9) as tar:
            for item in sorted(site.iterdir()):
                tar.add(item, arcname=item.name)
        print(f"{args.out}: {args.out.stat().st_size:,} bytes")
        if args.check:
            check = Path(tmp) / "check"
            with tarfile.open(args.out) as tar:
                tar.extractall(check, filter="data")
            env = {**os.environ, "PYTHONPATH": str(check)}
            subprocess.run([args.check, "-c", CHECK], check=True, env=env)


if __name__ == "__main__":
    main()
