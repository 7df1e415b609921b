#!/bin/bash
# How the inference tile changes the section models' accuracy (README, "Inference tile"):
# each model scored in tiles of several sides, on training photos (where the card's tile was
# chosen) and on held-out ones; the card's own tile is scored by bench/section_models.py.
# Every class allowed (--ore-type any). The results file holds the curve of round 5 of
# lumenstone, where its 768 px tile was chosen.
# Results in bench/results/section_tiles.json.  Run from the repository root:
#   bash bench/section_tiles.sh
set -e
B="python bench/section_models.py"
LS_TRAIN=01,07,13,19,a01,a13,a25,a37
LS_HELD=03,09,15,21,a05,a11,a17,a23,a29,a35,a41,a47,a53,a59
O="--out bench/results/section_tiles.json"
L="--dataset lumenstone $O"
for t in 256 512 768 1024 1536; do
  $B "lumenstone, training photos, tile $t=src/orescope/zoo/lumenstone" $L --stems $LS_TRAIN --tile $t \
    --ore-type any
done
for t in 256 512 1024; do
  $B "lumenstone_zscore, training photos, tile $t=src/orescope/zoo/lumenstone_zscore" $L \
    --stems $LS_TRAIN --tile $t --ore-type any
done
for t in 256 512 1024 1536; do
  $B "lumenstone, held-out photos, tile $t=src/orescope/zoo/lumenstone" $L --stems $LS_HELD --tile $t \
    --ore-type any
done
for t in 256 1024; do
  $B "lumenstone_zscore, held-out photos, tile $t=src/orescope/zoo/lumenstone_zscore" $L \
    --stems $LS_HELD --tile $t --ore-type any
done
for t in 256 512 1024; do
  $B "thinsection, training sections, tile $t=src/orescope/zoo/thinsection" --dataset thinsections \
    $O --stems 2a,3a,5a,6a --tile $t
done
