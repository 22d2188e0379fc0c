"""YAML layer-list importer (format in docs/workloads.md).

```yaml
name: tiny-cnn                       # optional (default: file stem)
inputs: {image: [1, 3, 32, 32]}      # name -> shape (batch axis first; --batch replaces it)
layers:
  - {name: c1, op: conv2d, out_channels: 16, kernel: 3, stride: 1, padding: 1}
  - {name: r1, op: relu}             # input defaults to the previous layer's output
  - {name: p1, op: maxpool, kernel: 2}
  - {name: f, op: flatten}
  - {name: fc, op: linear, out_features: 10, bias: true}
outputs: [fc]                        # optional (default: the last layer)
```
"""

from __future__ import annotations

from pathlib import Path

from memsim.config.loader import load_yaml
from memsim.errors import InputError
from memsim.workloads.builder import ELEMENTWISE_OPS, GraphBuilder
from memsim.workloads.ir import Graph

# op -> (required keys, optional keys)
_OPS = {
    "conv2d": ({"out_channels", "kernel"}, {"stride", "padding", "dilation", "groups", "bias"}),
    "linear": ({"out_features"}, {"bias"}),
    "matmul": ({"equation"}, set()),
    "maxpool": ({"kernel"}, {"stride", "padding"}),
    "avgpool": ({"kernel"}, {"stride", "padding"}),
    "global_avgpool": (set(), set()),
    "batchnorm": (set(), set()),
    "layernorm": (set(), {"bias"}),
    "rmsnorm": (set(), set()),
    "softmax": (set(), {"axis"}),
    "concat": (set(), {"axis"}),
    "flatten": (set(), set()),
    "reshape": ({"shape"}, set()),
    "transpose": ({"perm"}, set()),
    "upsample": (set(), {"scale"}),
    "embedding": ({"vocab", "dim"}, set()),
}
_ELEMENTWISE = sorted(set(ELEMENTWISE_OPS) - {"unknown", "slice", "upsample"})
_COMMON = {"name", "op", "inputs", "input"}


def _pos(node, key=None, index=None):
    try:
        if key is not None:
            line, col = node.lc.key(key)
        elif index is not None:
            line, col = node.lc.item(index)
        else:
            line, col = node.lc.line, node.lc.col
        return line + 1, col + 1
    except Exception:  # plain dicts (no positions)
        return 0, 0


def load_layer_list(path, batch: int = 1, dtype: str = "int8") -> Graph:
    """Read a YAML layer list into a ``Graph``; errors name the file, line, column and field."""
    path = Path(path)
    data = load_yaml(path)

    def err(msg, node=None, key=None, index=None, field=""):
        line, col = _pos(node, key, index) if node is not None else (0, 0)
        return InputError(msg, field=field, path=path, line=line, col=col)

    if not isinstance(data, dict):
        raise err("a layer list is a mapping with 'inputs' and 'layers'", field="")
    unknown = set(data) - {"name", "inputs", "layers", "outputs"}
    if unknown:
        k = sorted(unknown)[0]
        raise err(f"unknown key; accepted: name, inputs, layers, outputs (got {k!r})", data, k, field=k)
    b = GraphBuilder(str(data.get("name", path.stem)), dtype, batch)
    inputs = data.get("inputs")
    if not isinstance(inputs, dict) or not inputs:
        raise err("'inputs' must map input names to shapes", data, "inputs" if "inputs" in data else None,
                  field="inputs")
    prev = None
    for name, shape in inputs.items():
        if (not isinstance(shape, list) or not shape
                or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape)):
            raise err(f"shape must be a list of positive integers (got {shape!r})", inputs, name,
                      field=f"inputs.{name}")
        prev = b.input(str(name), [batch] + list(shape[1:]))
    layers = data.get("layers")
    if not isinstance(layers, list) or not layers:
        raise err("'layers' must be a non-empty list", data, "layers" if "layers" in data else None,
                  field="layers")
    for i, layer in enumerate(layers):
        field = f"layers[{i}]"
        if not isinstance(layer, dict):
            raise err("each layer is a mapping", layers, index=i, field=field)
        op = layer.get("op")
        if op not in _OPS and op not in _ELEMENTWISE:
            raise err(f"unknown op; accepted: {', '.join(sorted(_OPS) + _ELEMENTWISE)} (got {op!r})",
                      layer, "op" if "op" in layer else None, field=f"{field}.op")
        required, optional = _OPS.get(op, (set(), set()))
        missing = sorted(required - set(layer))
        if missing:
            raise err(f"missing key {missing[0]!r} for op {op}", layer, field=f"{field}.{missing[0]}")
        extra = sorted(set(layer) - required - optional - _COMMON)
        if extra:
            raise err(f"unknown key for op {op} (got {extra[0]!r})", layer, extra[0],
                      field=f"{field}.{extra[0]}")
        name = str(layer.get("name", f"{op}_{i}"))
        if name in b.tensors:
            raise err(f"duplicate layer name (got {name!r})", layer, "name", field=f"{field}.name")
        srcs = layer.get("inputs", layer.get("input", prev))
        srcs = [srcs] if isinstance(srcs, str) else list(srcs or [])
        for s in srcs:
            if s not in b.tensors:
                key = "inputs" if "inputs" in layer else "input"
                raise err(f"unknown input tensor (got {s!r})", layer, key if key in layer else None,
                          field=f"{field}.inputs")
        try:
            prev = _build(b, op, name, srcs, layer)
        except InputError:
            raise
        except (ValueError, TypeError, KeyError, IndexError) as e:
            raise err(f"cannot build {op} layer: {e}", layers, index=i, field=field) from None
    outs = data.get("outputs", [prev])
    for o in outs:
        if o not in b.tensors:
            raise err(f"unknown output (got {o!r})", data, "outputs", field="outputs")
    return b.finish(list(outs), {"source": "layerlist"})


def _one(srcs, op):
    if len(srcs) != 1:
        raise ValueError(f"{op} takes one input (got {len(srcs)})")
    return srcs[0]


def _build(b: GraphBuilder, op: str, name: str, srcs: list[str], L: dict) -> str:
    if op == "conv2d":
        pad = L.get("padding")
        return b.conv(_one(srcs, op), int(L["out_channels"]), _tup(L["kernel"]), _tup(L.get("stride", 1)),
                      pad if pad in (None, "same") else _tup(pad), _tup(L.get("dilation", 1)),
                      int(L.get("groups", 1)), bool(L.get("bias", False)), name)
    if op == "linear":
        return b.linear(_one(srcs, op), int(L["out_features"]), bool(L.get("bias", True)), name)
    if op == "matmul":
        if len(srcs) != 2:
            raise ValueError("matmul takes two inputs")
        return b.einsum(str(L["equation"]), srcs[0], srcs[1], name)
    if op in ("maxpool", "avgpool"):
        return b.pool(_one(srcs, op), op[:3], _tup(L["kernel"]), _tup(L.get("stride", L["kernel"])),
                      int(L.get("padding", 0)), name)
    if op == "global_avgpool":
        return b.global_pool(_one(srcs, op), name)
    if op == "batchnorm":
        return b.batchnorm(_one(srcs, op), name)
    if op in ("layernorm", "rmsnorm"):
        return b.layernorm(_one(srcs, op), name, op[:-4] if op == "rmsnorm" else "layer",
                           bias=bool(L.get("bias", op == "layernorm")))
    if op == "softmax":
        return b.softmax(_one(srcs, op), name, int(L.get("axis", -1)))
    if op == "concat":
        return b.concat(srcs, int(L.get("axis", 1)), name)
    if op == "flatten":
        return b.flatten(_one(srcs, op), name)
    if op == "reshape":
        return b.reshape(_one(srcs, op), [b.batch] + list(L["shape"])[1:], name)
    if op == "transpose":
        return b.transpose(_one(srcs, op), list(L["perm"]), name)
    if op == "upsample":
        return b.upsample(_one(srcs, op), int(L.get("scale", 2)), name)
    if op == "embedding":
        return b.embedding(_one(srcs, op), int(L["vocab"]), int(L["dim"]), name)
    return b.elementwise(op, srcs, name)


def _tup(v):
    if isinstance(v, (list, tuple)):
        return tuple(int(x) for x in v)
    return int(v)
