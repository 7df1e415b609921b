#!/bin/bash
# How the radius of the edge refinement (`predict minerals --refine-px`) changes lumenstone's
# accuracy on 8 of its training photos, where the default radius was chosen (README,
# "Edge refinement"); the held-out scores are bench/lumenstone_rows.sh's.
# Results in bench/results/section_refine.json.  Run from the repository root:
#   bash bench/section_refine.sh
set -e
B="python bench/section_models.py"
L="--dataset lumenstone --stems 01,07,13,19,a01,a13,a25,a37 --out bench/results/section_refine.json"
for r in 0 4 8 12 16; do
  $B "lumenstone, training photos, --refine-px $r=src/orescope/zoo/lumenstone" $L --refine-px $r
done
