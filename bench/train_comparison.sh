#!/usr/bin/env bash
# The paper 000 Table 2 comparison: trains RA-UNet++ and U-Net, each with the foreground and the
# border-core target (configs/bench/{ra_unetpp,unet}_*.yaml, the same 6 144 patches each), into
# runs/bench/, two at a time with one torch thread each (on 2 cores that beats one after the
# other with two; logs in runs/bench/<name>.log); then scores them with bench/particle_models.py,
# which adds their rows to bench/results/particle_models.json. ~45 min on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p runs/bench
printf '%s\n' configs/bench/ra_unetpp_*.yaml configs/bench/unet_*.yaml |
    OMP_NUM_THREADS=1 xargs -P 2 -I{} sh -c \
        '.venv/bin/orescope train "$1" > "runs/bench/$(basename "$1" .yaml).log" 2>&1' _ {}
.venv/bin/python bench/particle_models.py \
    --model "RA-UNet++ foreground=runs/bench/ra_unetpp_foreground" \
    --model "RA-UNet++ border-core=runs/bench/ra_unetpp_border_core" \
    --model "U-Net foreground=runs/bench/unet_foreground" \
    --model "U-Net border-core=runs/bench/unet_border_core"
