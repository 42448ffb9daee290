#!/usr/bin/env bash
# One prepared GPU run (see scripts/gpu_train.py for the stages). From the repository's root:
#
#   bash scripts/gpu_train.sh --pack                 # here, once: RDKit, selfies, fcd, cmaes for
#                                                    # Python 3.12 into .whl/site.tar.xz (~25 MB)
#   bash scripts/gpu_train.sh --out "$OUT"           # on the GPU machine: ~9.5 minutes in all
#   bash scripts/gpu_train.sh --smoke --out /tmp/s   # the same stages on this CPU, ~1 minute
#
# The GPU machine has Python 3.12 and PyTorch but no RDKit, selfies or fcd, and no network: they
# travel as .whl/site.tar.xz (wheels repacked without RDKit's Contrib extras, xz-compressed, so the
# repository and they fit the 64 MiB that travels) or as plain .whl/*.whl files. Every other
# argument goes to scripts/gpu_train.py.
set -euo pipefail
started=$(date +%s.%N)
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--pack" ]]; then
    dl=$(mktemp -d); site=$(mktemp -d)
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d "$dl" rdkit==2026.9.1 selfies==2.2.0 fcd==1.2.2 \
        cmaes==0.13.1
    for w in "$dl"/*.whl; do python3 -m zipfile -e "$w" "$site"; done
    # RDKit's Contrib holds third-party extras; molvae needs only SA_Score (chem.sa_score).
    find "$site/rdkit/Contrib" -mindepth 1 -maxdepth 1 ! -name SA_Score ! -name __init__.py \
        -exec rm -rf {} +
    rm -rf "$site/rdkit/sping" "$site/rdkit-stubs"
    mkdir -p .whl
    tar -C "$site" -cf - . | xz -9 -T0 >.whl/site.tar.xz
    rm -rf "$dl" "$site"
    grep -qxF '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >>.git/info/exclude
    ls -l .whl/site.tar.xz
    exit 0
fi

carry="${MOLVAE_CARRY:-.whl}"  # where the carried packages are
if ! python3 -c "import rdkit, selfies, fcd" 2>/dev/null; then
    site=/tmp/molvae-site
    mkdir -p "$site"
    if [[ -f "$carry/site.tar.xz" ]]; then
        tar -C "$site" -xJf "$carry/site.tar.xz"
    elif compgen -G "$carry/*.whl" >/dev/null; then
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target "$site" "$carry"/*.whl
    else
        echo "[gpu_train] error: RDKit/selfies/fcd are not installed and $carry/ holds neither" \
            "site.tar.xz nor wheels (make them with: bash scripts/gpu_train.sh --pack)" >&2
        exit 2
    fi
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
    echo "[gpu_train] unpack: carried packages into $site ($(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $started}") s)"
fi
export PYTHONUNBUFFERED=1
exec python3 scripts/gpu_train.py --started "$started" "$@"
