#!/usr/bin/env bash
# resnet_tiny (20K parameters) distilled from an ensemble of its own kind, FSDD leave one speaker
# out, refit protocol (five training speakers, last epoch), run by hand on this machine:
#   1. teacher members, each trained on the fold's five training speakers: `--recipe tiny` with
#      seeds 0, 1 and 2, and the course cnn with tempo and 80 epochs (a `--recipe large` member);
#   2. per fold, `auricle ensemble` of the four into one teacher run (the test speaker unseen by all);
#   3. `--recipe tiny` students, seeds 0, 1 and 2, with `train.teacher` = their fold's teacher
#      (weight 0.7: targets are 0.3 x labels + 0.7 x the teacher's probabilities on each
#      augmented batch; the teacher's test-time shifts are left out, auricle.models.tta.without_shifts).
# Each student is one 20,190-parameter network; only its training used the teacher.
# Stop 18 (docs/experiments): teacher 91.6%; students 89.1 / 89.3 / 91.1%, mean 89.8%, against
# 89.5% for the same recipe without a teacher.
# Cost on 2 cores, two folds at a time: step 1 about 75 min, step 3 about 115 min.
#   bash experiments/distil_tiny_loso.sh [FSDD_DIR] [OUT]        (defaults: ../shared/data/fsdd, bench/out/distil)
# then: .venv/bin/python bench/bench_zoo.py --table OUT/students/results.jsonl
set -eu
DATA=${1:-../shared/data/fsdd}
OUT=${2:-bench/out/distil}
PY=${PY:-.venv/bin/python}
REFIT="data.val_groups=[];train.keep=last"
SPEAKERS="george jackson lucas nicolas theo yweweler"
if [ -z "${SKIP_MEMBERS:-}" ]; then
  $PY bench/bench_zoo.py --data "$DATA" --recipe tiny --models "" --jobs 2 --out "$OUT/members" \
    --spec "tiny_s0=resnet_tiny;$REFIT" --spec "tiny_s1=resnet_tiny;train.seed=1;$REFIT" \
    --spec "tiny_s2=resnet_tiny;train.seed=2;$REFIT"
  $PY bench/bench_zoo.py --data "$DATA" --models "" --jobs 2 --out "$OUT/members" \
    --spec "cnn80t=cnn;augment.tempo={min_rate: 0.85, max_rate: 1.15, p: 0.5};train.epochs=80;$REFIT"
fi
M=$OUT/members
for s in $SPEAKERS; do
  $PY -m auricle ensemble "$M/tiny_s0/$s" "$M/tiny_s1/$s" "$M/tiny_s2/$s" "$M/cnn80t/$s" \
    --out "$OUT/teacher/$s" --overwrite
done
T="train.teacher=$OUT/teacher/{test};$REFIT"
$PY bench/bench_zoo.py --data "$DATA" --recipe tiny --models "" --jobs 2 --out "$OUT/students" \
  --spec "tiny_kd_s0=resnet_tiny;$T" --spec "tiny_kd_s1=resnet_tiny;train.seed=1;$T" \
  --spec "tiny_kd_s2=resnet_tiny;train.seed=2;$T"
