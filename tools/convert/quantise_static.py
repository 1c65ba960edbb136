"""Vigil model conversion: static int8 quantisation (QDQ) of a float32 recogniser.

Weights are quantised per output channel to int8, activations per tensor to uint8 (the
u8s8 pair ONNX Runtime's CPU kernels run fastest, with VNNI where the CPU has it), by
ONNX Runtime's own quantiser. The activation ranges are not measured here: they come
from RANGES.json, committed with the project and made once from real faces (see the
pack manifest's provenance), so the output is byte-for-byte reproducible for pinned
onnx/numpy/onnxruntime versions and its sha256 is pinned by the caller.

usage: python quantise_static.py IN.onnx RANGES.json OUT.onnx
       python quantise_static.py IN.onnx RANGES.json OUT.onnx --calibrate CROPS.rgb
With --calibrate (a development step, not setup's), the ranges are first measured
(min/max over every tensor) on CROPS.rgb: aligned 112x112 RGB crops, raw bytes, as
written by `cargo run -p vigil-vision --example aligned_crops`.
"""
import json
import os
import sys
import tempfile

import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)

src, ranges, dst = sys.argv[1], sys.argv[2], sys.argv[3]
crops = sys.argv[sys.argv.index("--calibrate") + 1] if "--calibrate" in sys.argv else None
input_name = onnx.load(src).graph.input[0].name


class Crops(CalibrationDataReader):
    """Batches of 32 crops as the engine feeds them: NCHW float32 RGB in 0..255."""

    def __init__(self, path):
        raw = np.fromfile(path, dtype=np.uint8).reshape(-1, 112, 112, 3)
        self.batches = [
            raw[i : i + 32].transpose(0, 3, 1, 2).astype(np.float32) for i in range(0, len(raw), 32)
        ]
        self.at = 0

    def get_next(self):
        if self.at >= len(self.batches):
            return None
        self.at += 1
        return {input_name: self.batches[self.at - 1]}


if crops is None and not os.path.isfile(ranges):
    sys.exit(f"{ranges}: no activation ranges (make them with --calibrate)")
with tempfile.TemporaryDirectory() as tmp:
    quantize_static(
        src,
        os.path.join(tmp, "q.onnx"),
        calibration_data_reader=Crops(crops) if crops else None,
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        reduce_range=False,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        calibration_cache_path=ranges,
    )
    onnx.save_model(onnx.load(os.path.join(tmp, "q.onnx")), dst)
if crops:
    # One tensor per line, sorted, so a change to the ranges reads as a diff.
    with open(ranges) as f:
        data = json.load(f)
    with open(ranges, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
