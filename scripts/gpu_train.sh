#!/usr/bin/env bash
# One prepared GPU run (see scripts/gpu_train.py for the stages). From the repository's root:
#
#   bash scripts/gpu_train.sh --pack                 # here, once: RDKit, selfies, fcd, cmaes for
#                                                    # Python 3.12 into .whl/site.tar.xz (~19 MB)
#   bash scripts/gpu_train.sh --out "$OUT"           # on the GPU machine: ~9.5 minutes in all
#   bash scripts/gpu_train.sh --smoke --out /tmp/s   # the same stages on this CPU, ~1 minute
#
# The GPU machine has Python 3.12 and PyTorch but no RDKit, selfies or fcd, and no network: they
# travel as .whl/site.tar.xz (scripts/gpu_pack.py: the wheels cut to what molvae uses and
# xz-compressed, so the repository and they fit the 64 MiB that travels) or as plain
# .whl/*.whl files. Every other
# argument goes to scripts/gpu_train.py.
set -euo pipefail
started=$(date +%s.%N)
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--pack" ]]; then  # RDKit & co. for Python 3.12, cut to what molvae uses
    shift
    python3 scripts/gpu_pack.py "$@"
    grep -qxF '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >>.git/info/exclude
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
