#!/usr/bin/env bash
# Trains the paper 001 comparison models (configs/bench/thinsection_*.yaml) into runs/bench/,
# one after the other; then `python bench/quartz_comparison.py` scores them.
set -euo pipefail
cd "$(dirname "$0")/.."
for config in configs/bench/thinsection_*.yaml; do
    .venv/bin/orescope train "$config"
done
