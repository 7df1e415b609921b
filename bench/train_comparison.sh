#!/usr/bin/env bash
# Trains the paper 000 Table 2 comparison models (configs/bench/*.yaml) into runs/bench/,
# one after the other; then `python bench/particle_models.py` evaluates them.
set -euo pipefail
cd "$(dirname "$0")/.."
for config in configs/bench/*.yaml; do
    .venv/bin/orescope train "$config"
done
