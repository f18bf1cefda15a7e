#!/usr/bin/env bash
# Augmentation ablation on FSDD leave-one-speaker-out (issue: augmentation): no augmentation vs
# each transform family of the default chain alone vs the full chain, same seeds, same epochs.
# A cheaper proxy of the default recipe (TC-ResNet8, 15 epochs) so the 7 x 6 folds fit in ~30 min
# on 2 cores; everything else (features, band limit, optimizer, schedule) is the default recipe.
#   bash experiments/ablation.sh [path/to/fsdd]        -> table with test and validation-speaker means
set -eu
DATA=${1:-../shared/data/fsdd}
OUT=${OUT:-bench/out/ablation}
PY=${PY:-.venv/bin/python}
ALL="time_shift gain noise spec_augment freq_warp"
only() {  # spec: keep one family, switch the others off
  local label=$1 keep=$2 s="$1=tc_resnet8"
  for t in $ALL; do [ "$t" = "$keep" ] || s="$s;augment.$t=false"; done
  echo "$s"
}
$PY bench/bench_zoo.py --data "$DATA" --out "$OUT" --jobs ${JOBS:-2} --set train.epochs=15 --models "" \
  --spec "$(only none -)" --spec "$(only shift time_shift)" --spec "$(only gain gain)" \
  --spec "$(only noise noise)" --spec "$(only specaugment spec_augment)" --spec "$(only vtlp freq_warp)" \
  --spec "features_only=tc_resnet8;augment.time_shift=false;augment.gain=false;augment.noise=false" \
  --spec "full=tc_resnet8"
