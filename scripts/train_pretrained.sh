#!/usr/bin/env bash
# Train and bundle a pretrained model exactly as the bundled one was made (MODELS.md has the cards).
#
#   bash scripts/train_pretrained.sh smiles    # -> runs/pretrained/moses-smiles, molvae/models/moses-smiles.pt
#   bash scripts/train_pretrained.sh selfies
#
# The bundled models were trained on a 2-core CPU, both at once, one thread each
# (OMP_NUM_THREADS=1), with a 125-minute time limit as a safety net; the configuration's
# max_steps ends them first. On a GPU, drop OMP_NUM_THREADS and set device = "cuda" / amp = "bf16".
set -euo pipefail
tok="${1:?usage: train_pretrained.sh smiles|selfies}"
name="moses-${tok}"
OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" molvae train --config "scripts/pretrained/${name}.toml" \
    --time-limit 125 --out "runs/pretrained/${name}" --no-progress
python scripts/bundle_model.py "runs/pretrained/${name}" "${name}" \
    --command "bash scripts/train_pretrained.sh ${tok}" --also 0.7
