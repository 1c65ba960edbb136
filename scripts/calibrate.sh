#!/usr/bin/env bash
# Rebuilds the calibrations shipped in models/calibration/ from the labelled
# sets beside the project (../shared/datasets: lfw-dev and UTKFace). Not part
# of setup: a user's machine never needs the datasets. Run after changing
# detection, alignment or embedding, and commit the files it writes.
#
#   scripts/calibrate.sh [pack ...]     default: sface-2021dec sface-2021dec-int8 dlib-resnet-v1
#
# UTKFace's children under 13 are left out (no recogniser tells young
# children apart: docs/accuracy.md), and so are byte-identical copies.
# Templates are cached in $VIGIL_EVAL_CACHE (default /tmp/vigil-eval), never
# in the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
D=../shared/datasets
CACHE="${VIGIL_EVAL_CACHE:-/tmp/vigil-eval}"
mkdir -p "$CACHE"
[ -d "$D/lfw-dev" ] || { echo "calibrate: $D/lfw-dev not found" >&2; exit 1; }
awk -F, 'NR>1 && $2<13 {print $1}' "$D/utkface-labels.csv" > "$CACHE/utkface-under-13.txt"
cargo build --release --locked -p vigil
for pack in "${@:-sface-2021dec sface-2021dec-int8 dlib-resnet-v1}"; do
  for p in $pack; do
    target/release/vigil --recogniser "$p" eval "$D/lfw-dev" \
      --non-mated-dir "$D/utkface" --exclude "$CACHE/utkface-under-13.txt" \
      --groups "$D/lfw-dev-gender.csv" --groups "$D/utkface-labels.csv" \
      --validate --compare --gallery-sizes 1,10,100,800 \
      --template-cache "$CACHE/$p.templates.json" --out "$CACHE/$p" \
      --provenance "Shipped with Vigil $(git describe --always --dirty), made by scripts/calibrate.sh on $(date -u +%F)"
    cp "$CACHE/$p/calibration.json" "models/calibration/$p.json"
    echo "calibrate: models/calibration/$p.json (report: $CACHE/$p/index.html)"
  done
done
