#!/bin/bash
# The LumenStone rows of bench/results/section_models.json and the zoo cards (README, "Ore
# types" and the model zoo): the 14 held-out photos, as `predict minerals` reads them by
# default (each photo's ore type voted by the model, class borders refined onto the image's
# edges: --refine-px 8) and with --scales; then with the model's own borders (the bench's
# default), as they are and with --ore-type any / given, --scales and --tta.
# Run from the repository root:  bash bench/lumenstone_rows.sh
set -e
B="python bench/section_models.py"
L="--dataset lumenstone --stems 03,09,15,21,a05,a11,a17,a23,a29,a35,a41,a47,a53,a59 --write-card"
Z=src/orescope/zoo
$B lumenstone=$Z/lumenstone $L --refine-px 8
$B "lumenstone (--scales 0.8,1,1.25)=$Z/lumenstone" $L --scales 0.8,1,1.25 --refine-px 8
$B lumenstone_zscore=$Z/lumenstone_zscore $L --refine-px 8
$B "lumenstone (--refine-px 0)=$Z/lumenstone" $L
$B "lumenstone (--ore-type any)=$Z/lumenstone" $L --ore-type any
$B "lumenstone (--ore-type given)=$Z/lumenstone" $L --ore-type given
$B "lumenstone (--scales 0.8,1,1.25 --refine-px 0)=$Z/lumenstone" $L --scales 0.8,1,1.25
$B "lumenstone (--tta)=$Z/lumenstone" $L --tta
$B lumenstone_more=$Z/lumenstone_zscore $L
$B "lumenstone_zscore (--ore-type any)=$Z/lumenstone_zscore" $L --ore-type any
