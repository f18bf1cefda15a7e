#!/usr/bin/env bash
# Two ResNet variants on FSDD leave-one-speaker-out, each with the validation protocol (four training
# speakers, best validation epoch) and refit (five training speakers, last epoch), on a lent GPU
# machine (one GPU, 16 cores): 24 folds, 12 at a time, Keras on the JAX backend.  On such a
# machine the CPU-side augmentation is the bottleneck, so a wider network costs little more.
# The runs stay on the machine; their probabilities come back as experiments/dump_probs.py files,
# which experiments/ensemble_loso.py combines with runs trained elsewhere.
#   bash experiments/gpu_resnet_variants.sh            (wheels in .whl, FSDD in .fsdd, both carried)
#   bash experiments/gpu_resnet_variants.sh "LABEL=MODEL;KEY=VALUE;..." ...   (other specs, bench_zoo.py --spec
#        syntax; each label's probabilities are dumped; stop 17: the ResNet with 80 epochs and tempo)
# BUDGET (s): when training must stop, to leave time for the dumps (the device allows 600 s a command).
set -u
OUT=${OUT:-bench/out/gpu}
RUNS=${RUNS:-/tmp/zoo}
BUDGET=${BUDGET:-510}
T0=$(date +%s)
if [ -d .whl ] && [ -z "${NO_WHL:-}" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || exit 1
  export PYTHONPATH=/tmp/site:$PWD
fi
export KERAS_BACKEND=${KERAS_BACKEND:-jax} XLA_PYTHON_CLIENT_PREALLOCATE=false TF_CPP_MIN_LOG_LEVEL=3 PYTHONUNBUFFERED=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
mkdir -p "$OUT/probs" "$RUNS"
nvidia-smi -L 2>/dev/null
REFIT="data.val_groups=[];train.keep=last"
if [ $# -eq 0 ]; then  # the stop-16 runs
  set -- "rmix=resnet;train.mixup=0.2" "rmix_refit=resnet;train.mixup=0.2;$REFIT" \
    "rw5=resnet;model.options.width=0.5" "rw5_refit=resnet;model.options.width=0.5;$REFIT"
fi
SPECS=(); LABELS=()
for spec in "$@"; do SPECS+=(--spec "$spec"); LABELS+=("${spec%%=*}"); done
python3 bench/bench_zoo.py --data "${DATA:-.fsdd}" --out "$RUNS" --jobs "${JOBS:-12}" --deadline $((BUDGET - 250)) \
  --set train.workers=2 ${EXTRA:-} --models "" "${SPECS[@]}" \
  > "$OUT/zoo.log" 2>&1 &
ZOO=$!
# stop waiting at the budget: what finished is dumped, whatever still trains is cut off
while kill -0 $ZOO 2>/dev/null && [ $(( $(date +%s) - T0 )) -lt "$BUDGET" ]; do sleep 5; done
kill $ZOO 2>/dev/null; pkill -f "auricle train" 2>/dev/null
echo "training phase ended at $(( $(date +%s) - T0 )) s"
cp "$RUNS/results.jsonl" "$OUT/" 2>/dev/null
for label in "${LABELS[@]}"; do
  python3 experiments/dump_probs.py "$label=$RUNS/$label" --out "$OUT/probs" --shifts 50 > "$OUT/dump_$label.log" 2>&1 &
done
wait
cat "$OUT"/dump_*.log > "$OUT/dump.log"; rm -f "$OUT"/dump_*.log
tail -40 "$OUT/zoo.log"; cat "$OUT/dump.log"
echo "done at $(( $(date +%s) - T0 )) s"
