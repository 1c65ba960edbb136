#!/usr/bin/env bash
# Sets everything up and shows Vigil at work: the recognition engine on the
# sample photos (detection on a group photo, a gallery, ranked search), the
# speed of this machine, then Live Facial Recognition on a synthetic camera stream inside a seeded,
# authorised and active Deployment (SQLite in demo-output/data), and the web
# console at http://127.0.0.1:8080 until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
V=target/release/vigil
S="${VIGIL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil}/samples"
OUT="${VIGIL_DEMO_OUT:-$PWD/demo-output}"
mkdir -p "$OUT"
export VIGIL_LOG=${VIGIL_LOG:-warn}
py() { python3 -c "$1"; }

echo; echo "== model packs"
$V models list | py '
import json, sys
for line in sys.stdin:
    p = json.loads(line)
    print("  %-16s %-10s sha256 verified=%s  %s" % (p["id"], p["kind"], p["sha256_verified"], p["licence"][:60]))'

echo; echo "== detection on the 1927 Solvay conference photo (29 people)"
$V detect "$S/solvay_1927.jpg" --draw "$OUT/solvay_detections.png" | py '
import json, sys
f = json.load(sys.stdin)["faces"]
print("  %d faces found, %d pass the quality gate (IED >= 50 px)" % (len(f), sum(x["usable"] for x in f)))'
echo "  boxes and landmarks drawn in $OUT/solvay_detections.png"

echo; echo "== a gallery of four subjects, then searches"
G="$OUT/gallery.json"; rm -f "$G"
$V enrol --gallery "$G" subject-A "$S/obama_1.jpg" "$S/obama_2.jpg" >/dev/null
$V enrol --gallery "$G" subject-B "$S/biden_1.jpg" >/dev/null
$V enrol --gallery "$G" subject-C "$S/ardern_1.jpg" >/dev/null
$V enrol --gallery "$G" subject-D "$S/sunak_1.jpg" >/dev/null
echo "  enrolled: A = obama_1+2, B = biden_1, C = ardern_1, D = sunak_1"
for probe in obama_3.jpg obama_4.jpg ardern_2.jpg macron_2.jpg; do
  $V search --gallery "$G" --top 3 "$S/$probe" | PROBE=$probe py '
import json, os, sys
for f in json.load(sys.stdin)["faces"]:
    print("  %-13s -> %s" % (os.environ["PROBE"], ", ".join("%s %.3f" % (c["subject"], c["score"]) for c in f["candidates"])))'
done
echo "  (macron is not enrolled, so every score stays low. Candidates are leads for a person to review.)"

echo; echo "== speed on this machine"
$V bench --iterations 20

echo; echo "== Live Facial Recognition: a Deployment, a Watchlist, a camera, the web console"
exec $V --data-dir "$OUT/data" demo --serve --port "${VIGIL_DEMO_PORT:-8080}"
