#!/usr/bin/env bash
# Trains the paper 003 comparison models (configs/bench/lumenstone_*.yaml: PSPNet and UPerNet,
# the same budget) into runs/bench/, one after the other; then bench/section_models.py scores
# them (the command is in the README).
set -euo pipefail
cd "$(dirname "$0")/.."
for config in configs/bench/lumenstone_*.yaml; do
    .venv/bin/orescope train "$config"
done
