#!/usr/bin/env python3
"""Vigil model conversion (from shared/research/model-tools, batch made dynamic).

Convert dlib's metric-learning ResNet (dlib_face_recognition_resnet_model_v1.dat,
dumped to XML with dlib::net_to_xml by dump_dlib_resnet.cpp) into an ONNX graph.

Generic interpreter for the layer types used by that network: input_rgb_image_sized,
con, affine_con (folded into the preceding conv), relu, max_pool, avg_pool,
avg_pool_everything (nr=nc=0), tag/skip/add_prev (dlib zero-pads the smaller
operand at the end of each axis), fc_no_bias, loss_metric.

The ONNX model takes raw RGB 0..255, NCHW float32 [N,3,150,150] (any batch); the dlib input
normalisation ((v - mean_rgb) / 256) is part of the graph. Output: 128-D descriptor
(not L2-normalised; dlib compares Euclidean distance < 0.6).

usage: python dlib_xml_to_onnx.py dlib_resnet_v1.xml out.onnx
"""
import re
import sys
import xml.etree.ElementTree as ET

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

xml_path, out_path = sys.argv[1], sys.argv[2]
root = ET.parse(xml_path).getroot()
layers = sorted(root.findall("layer"), key=lambda l: -int(l.get("idx")))  # input first

nodes, inits = [], []
uid = [0]


def name(p):
    uid[0] += 1
    return f"{p}_{uid[0]}"


def const(arr, p):
    n = name(p)
    inits.append(numpy_helper.from_array(np.asarray(arr, np.float32), n))
    return n


def const_i64(arr):
    n = name("pads")
    inits.append(numpy_helper.from_array(np.asarray(arr, np.int64), n))
    return n


def floats(el):
    return np.array(el.text.split(), np.float32)


cur, shape = None, None   # current tensor name and static NCHW shape
tags = {}
pending = None            # conv waiting for a possible affine fold


def flush():
    global cur, pending
    if pending is None:
        return
    W, b, attrs, inp = pending
    out = name("conv")
    nodes.append(helper.make_node("Conv", [inp, const(W, "W"), const(b, "b")], [out], **attrs))
    cur, pending = out, None


for L in layers:
    typ = L.get("type")
    if typ == "input":
        el = L[0]
        assert el.tag == "input_rgb_image_sized", el.tag
        mean = np.array([float(el.get("r")), float(el.get("g")), float(el.get("b"))], np.float32)
        nr, nc = int(el.get("nr")), int(el.get("nc"))
        cur = name("norm")
        sub = name("sub")
        nodes.append(helper.make_node("Sub", ["rgb_0_255", const(mean.reshape(1, 3, 1, 1), "mean")], [sub]))
        nodes.append(helper.make_node("Mul", [sub, const(np.array(1.0 / 256.0, np.float32), "inv256")], [cur]))
        shape = [1, 3, nr, nc]
        continue
    if typ == "tag":
        flush()
        tags[L.get("id")] = (cur, list(shape))
        continue
    if typ == "skip":
        flush()
        cur, shape = tags[L.get("id")]
        shape = list(shape)
        continue
    if typ == "loss":
        continue
    el = L[0]
    t = el.tag
    if t == "con":
        flush()
        nf, kr, kc = int(el.get("num_filters")), int(el.get("nr")), int(el.get("nc"))
        sy, sx = int(el.get("stride_y")), int(el.get("stride_x"))
        py, px = int(el.get("padding_y")), int(el.get("padding_x"))
        p = floats(el)
        k = shape[1]
        nW = nf * k * kr * kc
        W = p[:nW].reshape(nf, k, kr, kc)
        b = p[nW:nW + nf] if el.get("use_bias", "true") == "true" else np.zeros(nf, np.float32)
        assert p.size in (nW, nW + nf), (p.size, nW)
        pending = (W, b, dict(kernel_shape=[kr, kc], strides=[sy, sx], pads=[py, px, py, px]), cur)
        shape = [1, nf, (shape[2] + 2 * py - kr) // sy + 1, (shape[3] + 2 * px - kc) // sx + 1]
    elif t == "affine_con":
        p = floats(el)
        C = shape[1]
        gamma, beta = p[:C], p[C:2 * C]
        if pending is not None:
            W, b, attrs, inp = pending
            pending = (W * gamma[:, None, None, None], b * gamma + beta, attrs, inp)
        else:
            m, out = name("mul"), name("aff")
            nodes.append(helper.make_node("Mul", [cur, const(gamma.reshape(1, C, 1, 1), "g")], [m]))
            nodes.append(helper.make_node("Add", [m, const(beta.reshape(1, C, 1, 1), "be")], [out]))
            cur = out
    elif t == "relu":
        flush()
        out = name("relu")
        nodes.append(helper.make_node("Relu", [cur], [out]))
        cur = out
    elif t in ("max_pool", "avg_pool"):
        flush()
        kr, kc = int(el.get("nr")), int(el.get("nc"))
        sy, sx = int(el.get("stride_y")), int(el.get("stride_x"))
        py, px = int(el.get("padding_y")), int(el.get("padding_x"))
        out = name(t)
        if t == "avg_pool" and kr == 0 and kc == 0:
            nodes.append(helper.make_node("GlobalAveragePool", [cur], [out]))
            shape = [1, shape[1], 1, 1]
        else:
            op = "MaxPool" if t == "max_pool" else "AveragePool"
            nodes.append(helper.make_node(op, [cur], [out], kernel_shape=[kr, kc], strides=[sy, sx],
                                          pads=[py, px, py, px]))
            shape = [1, shape[1], (shape[2] + 2 * py - kr) // sy + 1, (shape[3] + 2 * px - kc) // sx + 1]
        cur = out
    elif t == "add_prev":
        flush()
        other, oshape = tags[el.get("tag")]
        target = [max(a, b) for a, b in zip(shape, oshape)]
        ins = []
        for nm, shp in ((cur, shape), (other, oshape)):
            if shp != target:
                pads = [0, 0, 0, 0] + [t_ - s for t_, s in zip(target, shp)]
                pn = name("pad")
                nodes.append(helper.make_node("Pad", [nm, const_i64(pads)], [pn], mode="constant"))
                nm = pn
            ins.append(nm)
        out = name("add")
        nodes.append(helper.make_node("Add", ins, [out]))
        cur, shape = out, target
    elif t == "fc_no_bias":
        flush()
        n_out = int(el.get("num_outputs"))
        p = floats(el)
        n_in = int(np.prod(shape[1:]))
        W = p.reshape(n_in, n_out)
        fl, out = name("flat"), "descriptor"
        nodes.append(helper.make_node("Flatten", [cur], [fl], axis=1))
        nodes.append(helper.make_node("MatMul", [fl, const(W, "fcW")], [out]))
        cur, shape = out, [1, n_out]
    else:
        raise SystemExit(f"unsupported dlib layer {t}")


graph = helper.make_graph(
    nodes, "dlib_face_recognition_resnet_model_v1",
    [helper.make_tensor_value_info("rgb_0_255", TensorProto.FLOAT, ["N", 3, 150, 150])],
    [helper.make_tensor_value_info("descriptor", TensorProto.FLOAT, ["N", 128])],
    inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="dlib_xml_to_onnx")
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, out_path)
print(f"wrote {out_path}: {len(nodes)} nodes")
