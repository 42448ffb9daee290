#!/usr/bin/env bash
# Train and bundle a pretrained model exactly as the bundled one was made (MODELS.md has the cards).
#
#   bash scripts/train_pretrained.sh smiles    # -> runs/pretrained/moses-smiles, molvae/models/moses-smiles.pt
#   bash scripts/train_pretrained.sh selfies
#
# The bundled models were trained on a 2-core CPU (no GPU was available), both at once, one torch
# thread each (OMP_NUM_THREADS=1); the configuration's max_steps ends a run, the time limit is a
# safety net (the SELFIES run reached it first: see its card's steps). On a GPU, drop
# OMP_NUM_THREADS and set device = "cuda", amp = "bf16" in the TOML.
set -euo pipefail
tok="${1:?usage: train_pretrained.sh smiles|selfies}"
name="moses-${tok}"
case "$tok" in
    smiles) limit=125; extra=(--default --summary "SMILES model (default): the small network (454k parameters) trained on the full MOSES train set on 2 CPU cores; samples from its learned prior (aggregate posterior of 4,000 training molecules, spread 1.5).") ;;
    selfies) limit=72; extra=(--summary "SELFIES model: the same network and recipe on SELFIES tokens; every sample is a valid molecule, but fewer look like MOSES molecules than the SMILES model's.") ;;
    *) echo "unknown tokenizer $tok (smiles or selfies)" >&2; exit 2 ;;
esac
OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" molvae train --config "scripts/pretrained/${name}.toml" \
    --time-limit "$limit" --out "runs/pretrained/${name}" --no-progress
python scripts/bundle_model.py "runs/pretrained/${name}" "${name}" \
    --command "bash scripts/train_pretrained.sh ${tok}" \
    --hardware "AMD EPYC CPU, 2 cores shared by the two trainings (1 torch thread each)" "${extra[@]}"
