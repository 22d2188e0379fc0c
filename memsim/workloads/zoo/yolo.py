"""YOLOv8n (Ultralytics ``yolov8n.yaml``: depth 0.33, width 0.25, 80 classes), inference graph up
to the concatenated box/class maps and the DFL projection. ``C2f``'s ``cv1(x).chunk(2)`` is built
as two 1x1 convolutions producing the two halves (same MACs and parameters; each half reads the
input once, where the fused conv reads it once for both)."""

from __future__ import annotations

from memsim.workloads.builder import GraphBuilder
from memsim.workloads.ir import Graph


def _conv(b, x, c2, k, s, name):
    # ultralytics.nn.modules.conv.Conv: Conv2d(bias=False, padding k//2) + BatchNorm2d + SiLU
    x = b.conv(x, c2, k, s, k // 2, name=f"{name}.conv")
    return b.act(b.batchnorm(x, name=f"{name}.bn"), "silu", name=f"{name}.act")


def _c2f(b, x, c2, n, shortcut, name):
    c = int(c2 * 0.5)
    ys = [_conv(b, x, c, 1, 1, f"{name}.cv1a"), _conv(b, x, c, 1, 1, f"{name}.cv1b")]
    for i in range(n):
        y = _conv(b, ys[-1], c, 3, 1, f"{name}.m.{i}.cv1")
        y = _conv(b, y, c, 3, 1, f"{name}.m.{i}.cv2")
        ys.append(b.add(ys[-1], y, name=f"{name}.m.{i}.add") if shortcut else y)
    return _conv(b, b.concat(ys, 1, name=f"{name}.cat"), c2, 1, 1, f"{name}.cv2")


def _sppf(b, x, c2, name):
    c_ = b.shape(x)[1] // 2
    ys = [_conv(b, x, c_, 1, 1, f"{name}.cv1")]
    for i in range(3):
        ys.append(b.pool(ys[-1], "max", 5, 1, 2, name=f"{name}.m{i}"))
    return _conv(b, b.concat(ys, 1, name=f"{name}.cat"), c2, 1, 1, f"{name}.cv2")


def yolov8n(batch=1, dtype="int8", resolution=640, classes=80) -> Graph:
    """YOLOv8n detector (Ultralytics), ``resolution`` a multiple of 32."""
    if resolution % 32:
        raise ValueError(f"resolution must be a multiple of 32 (got {resolution})")
    b = GraphBuilder("yolov8n", dtype, batch)
    x = b.input("image", (batch, 3, resolution, resolution))
    x = _conv(b, x, 16, 3, 2, "model.0")
    x = _conv(b, x, 32, 3, 2, "model.1")
    x = _c2f(b, x, 32, 1, True, "model.2")
    x = _conv(b, x, 64, 3, 2, "model.3")
    p3 = _c2f(b, x, 64, 2, True, "model.4")
    x = _conv(b, p3, 128, 3, 2, "model.5")
    p4 = _c2f(b, x, 128, 2, True, "model.6")
    x = _conv(b, p4, 256, 3, 2, "model.7")
    x = _c2f(b, x, 256, 1, True, "model.8")
    p5 = _sppf(b, x, 256, "model.9")
    x = b.concat([b.upsample(p5, 2, name="model.10"), p4], 1, name="model.11")
    h12 = _c2f(b, x, 128, 1, False, "model.12")
    x = b.concat([b.upsample(h12, 2, name="model.13"), p3], 1, name="model.14")
    o3 = _c2f(b, x, 64, 1, False, "model.15")
    x = b.concat([_conv(b, o3, 64, 3, 2, "model.16"), h12], 1, name="model.17")
    o4 = _c2f(b, x, 128, 1, False, "model.18")
    x = b.concat([_conv(b, o4, 128, 3, 2, "model.19"), p5], 1, name="model.20")
    o5 = _c2f(b, x, 256, 1, False, "model.21")
    # Detect head: reg_max 16; c2 = max(16, ch0 // 4, 4 * reg_max), c3 = max(ch0, min(nc, 100))
    reg_max = 16
    c2, c3 = max(16, 64 // 4, 4 * reg_max), max(64, min(classes, 100))
    flat = []
    for i, f in enumerate([o3, o4, o5]):
        pre = f"model.22.{i}"
        box = _conv(b, _conv(b, f, c2, 3, 1, f"{pre}.cv2.0"), c2, 3, 1, f"{pre}.cv2.1")
        box = b.conv(box, 4 * reg_max, 1, bias=True, name=f"{pre}.cv2.2")
        cls = _conv(b, _conv(b, f, c3, 3, 1, f"{pre}.cv3.0"), c3, 3, 1, f"{pre}.cv3.1")
        cls = b.conv(cls, classes, 1, bias=True, name=f"{pre}.cv3.2")
        y = b.concat([box, cls], 1, name=f"{pre}.cat")
        n_, c_, h_, w_ = b.shape(y)
        flat.append(b.reshape(y, (n_, c_, h_ * w_), name=f"{pre}.flat"))
    y = b.concat(flat, 2, name="model.22.cat")
    anchors = b.shape(y)[2]
    return _dfl(b, y, anchors, reg_max)


def _dfl(b, y, anchors, reg_max):
    """DFL as Ultralytics exports it: box slice y[:, :64], view (N, 4, 16, A), transpose to
    (N, 16, 4, A), softmax over the 16 bins, Conv2d(16, 1, 1, bias=False) (16 parameters)."""
    n = b.shape(y)[0]
    out = b.slice(y, 1, 0, 4 * reg_max, name="model.22.box_slice")
    v = b.reshape(out, (n, 4, reg_max, anchors), name="model.22.dfl.view")
    t = b.transpose(v, (0, 2, 1, 3), name="model.22.dfl.transpose")
    s = b.softmax(t, axis=1, name="model.22.dfl.softmax")
    d = b.conv(s, 1, 1, name="model.22.dfl.conv")
    return b.finish([d, y])
