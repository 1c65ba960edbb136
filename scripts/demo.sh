#!/usr/bin/env bash
# Sets everything up and shows the recognition engine at work on the sample
# photos: detection on a group photo, a small gallery, ranked search, and the
# speed of this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
V=target/release/vigil
S="${VIGIL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil}/samples"
OUT="${VIGIL_DEMO_OUT:-$PWD/demo-output}"
mkdir -p "$OUT"
export VIGIL_LOG=${VIGIL_LOG:-warn}

echo; echo "== model packs"
$V models list | python3 -c 'import json,sys
for l in sys.stdin:
    p=json.loads(l); print(f"  {p[\"id\"]:<16} {p[\"kind\"]:<10} sha256 ok={p[\"sha256_verified\"]}  {p[\"licence\"][:60]}")'

echo; echo "== detection on the 1927 Solvay conference photo (29 people)"
$V detect "$S/solvay_1927.jpg" --draw "$OUT/solvay_detections.png" | python3 -c 'import json,sys
d=json.load(sys.stdin); f=d["faces"]
print(f"  {len(f)} faces, {sum(x[\"usable\"] for x in f)} pass the quality gate (IED >= 50 px); drawing in '"$OUT"'/solvay_detections.png")'

echo; echo "== a gallery of four subjects, then searches"
G="$OUT/gallery.json"; rm -f "$G"
$V enrol --gallery "$G" subject-A "$S/obama_1.jpg" "$S/obama_2.jpg" >/dev/null
$V enrol --gallery "$G" subject-B "$S/biden_1.jpg" >/dev/null
$V enrol --gallery "$G" subject-C "$S/ardern_1.jpg" >/dev/null
$V enrol --gallery "$G" subject-D "$S/sunak_1.jpg" >/dev/null
for probe in obama_3.jpg obama_4.jpg ardern_2.jpg macron_2.jpg; do
  $V search --gallery "$G" --top 3 "$S/$probe" | python3 -c 'import json,sys
d=json.load(sys.stdin)
for f in d["faces"]:
    print("  '"$probe"':", ", ".join(f"{c[\"subject\"]} {c[\"score\"]:.3f}" for c in f["candidates"]))'
done
echo "  (macron is not enrolled: every score stays low. Candidates are leads for a person to review.)"

echo; echo "== speed on this machine"
$V bench --iterations 20
