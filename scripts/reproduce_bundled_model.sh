#!/usr/bin/env bash
# Reproduces the bundled model, models/garment_landmarks/11, from a checkout (run `make install`
# first). About 75 minutes on 2 CPU cores. Training is not bit-exact across machines, so expect
# figures close to the model card's, not identical.
#
#   bash scripts/reproduce_bundled_model.sh            # writes models/garment_landmarks/11
#   OUT=runs/repro/models/garment_landmarks bash scripts/reproduce_bundled_model.sh
#
# Validation images only report figures during training (the export is the last epoch's
# checkpoint, chosen by rule, not the best-scoring one), so the result does not depend on
# them: the project's real-photo validation set where it is present (REALVAL), otherwise a
# small synthetic set of its own seed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
OUT=${OUT:-models/garment_landmarks}
RUNS=${RUNS:-runs/v10}
REALVAL=${REALVAL:-../shared/realval}

# 1. 12,000 synthetic images (10,184 pass the upper-body filter), and a validation set.
"$PYTHON" -m training synth --out data/synth-b --count 12000 --seed 22 --workers 2
if [ -f "$REALVAL/landmarks.csv" ]; then
    VALIDATION=$REALVAL
else
    "$PYTHON" -m training synth --out data/synth-val --count 300 --seed 23
    VALIDATION=data/synth-val
fi
COMMON=(--data data/synth-b --photos datasets/realphotos --photo-weight 0.25
        --validation-data "$VALIDATION" --arch efficientnet_unet --steps-per-epoch 100
        --batch-size 16 --lr-schedule cosine --verbose 2)

# 2. Stage 1: the ImageNet encoder frozen, only the decoder learns (epochs 1-5).
"$PYTHON" -m training train "${COMMON[@]}" --freeze-encoder --learning-rate 1e-3 --epochs 5 \
    --out "$RUNS/stage1/models" --run-dir "$RUNS/stage1"

# 3. Stage 2: everything but the encoder's BatchNorm statistics learns (epochs 6-40).
"$PYTHON" -m training train "${COMMON[@]}" --learning-rate 3e-4 --epochs 40 \
    --resume "$RUNS/stage1/checkpoints/last.keras" --initial-epoch 5 \
    --out "$RUNS/stage2/models/garment_landmarks" --version 10 --run-dir "$RUNS/stage2"

# 4. The bundled export: the last checkpoint, mirror-averaged, its network run at 192x192 inside
#    the 256x256 model (trained at 256; the weights do not depend on the size).
"$PYTHON" -m training export --checkpoint "$RUNS/stage2/checkpoints/last.keras" \
    --out "$OUT" --version 11 --flip-average --network-size 192 \
    --metadata-from "$RUNS/stage2/models/garment_landmarks/10"
