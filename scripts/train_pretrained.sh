#!/usr/bin/env bash
# Train and bundle the first piece of a pretrained model exactly as the bundled one began (MODELS.md
# has the cards; the pieces that continued it, `molvae train --init NAME ...`, are in each card).
#
#   bash scripts/train_pretrained.sh smiles          # -> runs/pretrained/moses-smiles, molvae/models/moses-smiles.pt
#   bash scripts/train_pretrained.sh smiles-small    # the small network (the default until 2026-11-29)
#   bash scripts/train_pretrained.sh selfies
#
# The bundled models were trained on a 2-core CPU (no GPU was available), two trainings at once,
# one torch thread each (OMP_NUM_THREADS=1); bf16 autocast where the CPU has AVX512-BF16. The
# configuration's max_steps ends a run, the time limit is a safety net. On a GPU, drop
# OMP_NUM_THREADS and set device = "cuda", amp = "bf16" in the TOML.
set -euo pipefail
what="${1:?usage: train_pretrained.sh smiles|smiles-small|selfies}"
name="moses-${what}"
case "$what" in
    smiles) limit=110; extra=(--default --summary "SMILES model (default): the two-layer decoder (GRU decoder 2x256; 865k parameters) trained on the full MOSES train set on one CPU thread; samples from its learned prior (the aggregate posterior of 20,000 training molecules, spread 1.5).") ;;
    smiles-small) limit=125; extra=(--summary "SMILES model, the small network (GRU decoder 1x256; 454k parameters) trained on the full MOSES train set on one CPU thread; samples from its learned prior (the aggregate posterior of 4,000 training molecules, spread 1.5).") ;;
    selfies) limit=72; extra=(--summary "SELFIES model: the small network and recipe on SELFIES tokens; every sample is a valid molecule, but fewer look like MOSES molecules than the SMILES model's.") ;;
    *) echo "unknown model $what (smiles, smiles-small or selfies)" >&2; exit 2 ;;
esac
OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" molvae train --config "scripts/pretrained/${name}.toml" \
    --time-limit "$limit" --out "runs/pretrained/${name}" --no-progress
python scripts/bundle_model.py "runs/pretrained/${name}" "${name}" --storage float16 \
    --command "bash scripts/train_pretrained.sh ${what}" "${extra[@]}"  # hardware: the training's own record
