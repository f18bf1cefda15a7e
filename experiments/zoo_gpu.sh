#!/usr/bin/env bash
# FSDD leave-one-speaker-out for the whole model zoo and the augmentation ablation, in one go,
# on a many-core machine with a GPU: Keras on the JAX backend (our models use keras.ops only),
# 14 folds trained at a time.  Needs keras, soundfile and soxr importable (carried as wheels
# to the GPU machine; see docs/experiments).  On this repo's 2-core CPU machine the same table
# takes ~5 hours; there, run bench/bench_zoo.py per model instead.
#   DATA=path/to/fsdd OUT=bench/out/zoo_gpu JOBS=14 DEADLINE=420 bash experiments/zoo_gpu.sh
# (EXTRA="--set train.epochs=1 --folds nicolas" for a quick check)
set -u
DATA=${DATA:-../shared/data/fsdd}
OUT=${OUT:-bench/out/zoo_gpu}
JOBS=${JOBS:-14}
DEADLINE=${DEADLINE:-0}
export KERAS_BACKEND=${KERAS_BACKEND:-jax} XLA_PYTHON_CLIENT_PREALLOCATE=false TF_CPP_MIN_LOG_LEVEL=3
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
NOAUG="augment.time_shift=false;augment.gain=false;augment.noise=false;augment.spec_augment=false"
python3 bench/bench_zoo.py --data "$DATA" --out "$OUT" --jobs "$JOBS" --deadline "$DEADLINE" \
  --set train.workers=2 ${EXTRA:-} --models "" \
  --spec "tc_resnet14" --spec "bc_resnet1=bc_resnet" --spec "ds_cnn" --spec "tc_resnet8" \
  --spec "no_augment=tc_resnet14;$NOAUG" \
  --spec "crnn" --spec "att_rnn" --spec "resnet" \
  --spec "shift_only=tc_resnet14;augment.gain=false;augment.noise=false;augment.spec_augment=false" \
  --spec "gain_only=tc_resnet14;augment.time_shift=false;augment.noise=false;augment.spec_augment=false" \
  --spec "noise_only=tc_resnet14;augment.time_shift=false;augment.gain=false;augment.spec_augment=false" \
  --spec "specaug_only=tc_resnet14;augment.time_shift=false;augment.gain=false;augment.noise=false" \
  --spec "bc_resnet3=bc_resnet;model.options.scale=3" --spec "gru" --spec "lstm" --spec "cnn2" \
  --spec "tc14_fmax4k=tc_resnet14;features.fmax=4000" --spec "cnn" --spec "mlp"
