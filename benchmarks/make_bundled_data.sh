#!/bin/bash
# Data, training and evaluation of the bundled detector, generator-in-the-loop version (issue 12).
# Run from an empty work folder; REPO = the deal checkout, DATA = ../shared/data. Each synth run prints images/s.
# Usage: bash $REPO/benchmarks/make_bundled_data.sh [data|train|card]
set -euo pipefail
REPO=${REPO:-$(cd "$(dirname "$0")/.." && pwd)}
DATA=${DATA:-$REPO/../shared/data}
N=$DATA/natural
G=$DATA/generators/taef2
export OMP_NUM_THREADS=1
GEN=regenerate=1,latent_splice=1,hallucinate=1,latent_upsample=1,full_regen=1
NEW=$GEN,inpaint=0.5,resample=0.25,splice=1,copymove=1,color=0.5,texture=0.5   # training mix
ALL=$GEN,inpaint=1,resample=1,splice=1,copymove=1,color=1,texture=1            # held-out: every operation
D="deal data synth --size 256 --workers 1"
case "${1:-data}" in
data)
  $D --src $N/BSDS500/train --out synth/train_new_a --n 400 --split train --seed 21 --weights $NEW --generator $G
  $D --src $N/BSDS500/val   --out synth/train_new_b --n 200 --split train --seed 22 --weights $NEW --generator $G
  $D --src $N/BSDS500/test  --out synth/val_a --n 300 --split val --seed 3 --weights $ALL --generator $G
  $D --src $N/Kodak         --out synth/val_b --n 100 --split val --seed 4 --weights $ALL --generator $G
  # the ablation's "generator family off": the same training images without the generator operations
  for d in train_new_a train_new_b; do
    python - "$d" <<'PY'
import csv, sys
from deal_data_tools.shortcut_stats import operation_of
gen = {"regenerate", "latent_splice", "hallucinate", "latent_upsample", "full_regen"}
d = sys.argv[1]
rows = list(csv.DictReader(open(f"synth/{d}/manifest.csv", newline="")))
with open(f"synth/{d}/manifest_nogen.csv", "w", newline="") as f:
    w = csv.DictWriter(f, list(rows[0]))
    w.writeheader()
    w.writerows(r for r in rows if operation_of(r["edit"]) not in gen)
PY
  done
  ;;
train)  # ON and OFF at equal steps, both fine-tuned from the previous bundled detector
  for run in on off; do
    if [ $run = on ]; then TR='[synth/train_new_a/manifest.csv,synth/train_new_b/manifest.csv]'; else
      TR='[synth/train_new_a/manifest_nogen.csv,synth/train_new_b/manifest_nogen.csv]'; fi
    deal train --config $REPO/configs/bundled_synth.yaml --config $REPO/configs/bundled_synth_generator.yaml \
      --model.init_detector $REPO/weights/deal-demo-tiny-synth.safetensors \
      --data.train "$TR" --trainer.default_root_dir runs/$run
  done
  ;;
card)
  python $REPO/benchmarks/detector_card.py --detector ${DETECTOR:-$REPO/weights/deal-demo-tiny-synth.safetensors} \
    --synth synth/val_a --synth synth/val_b --limit ${LIMIT:-100} --out reports/card
  ;;
esac
