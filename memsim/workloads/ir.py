"""The workload graph IR: tensors, ops in execution order, and each op's loop nest.

Conventions (docs/workloads.md has the long form):

- Tensors are row-major (C order) in the shape given; feature maps are NCHW as in torchvision and
  ONNX. ``nbytes`` is ``ceil(numel * bits / 8)`` with bits from :data:`DTYPE_BITS`.
- ``Tensor.kind``: ``input`` (graph input), ``activation`` (intermediate), ``output`` (graph
  output), ``weight`` (learned, read-only), ``state`` (persistent non-weight data, e.g. a KV cache).
- A view (reshape that a framework does not copy) is a tensor with ``alias_of`` set, produced by an
  op with ``loops=None``; a view is always contiguous, so its row-major address equals its source's.
- ``LoopNest.dims`` maps dimension names to trip counts. Each ``Access`` indexes one tensor with one
  :class:`Affine` per tensor axis; an index outside the tensor's shape is padding (not touched).
  Reduction dims are the dims absent from the written access's index.
- ``Op.macs`` counts multiply-accumulates. Ops with no MACs (pooling, elementwise, softmax, norm,
  copies) carry ``attrs["ops"]``, their elementary operation count (table in docs/workloads.md).
- ``Op.params`` counts learned parameters as the framework does: biases and batch-norm scale and
  shift included, batch-norm running statistics excluded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Iterable, Iterator

#: Bits per element of every supported dtype (one table for the whole code base).
DTYPE_BITS: dict[str, int] = {
    "int4": 4,
    "uint4": 4,
    "int8": 8,
    "uint8": 8,
    "int16": 16,
    "fp16": 16,
    "bf16": 16,
    "int32": 32,
    "fp32": 32,
    "int64": 64,
    "fp64": 64,
}

TENSOR_KINDS = ("input", "activation", "output", "weight", "state")
OP_KINDS = (
    "conv2d",
    "matmul",
    "batch_matmul",
    "pool",
    "elementwise",
    "concat",
    "softmax",
    "norm",
    "embedding",
    "reshape",
    "transpose",
)


def dtype_bits(dtype: str) -> int:
    """Bits per element of ``dtype``; raises ``ValueError`` naming the accepted dtypes."""
    try:
        return DTYPE_BITS[dtype]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}; accepted: {', '.join(DTYPE_BITS)}") from None


def bias_dtype(dtype: str) -> str:
    """Dtype of biases for a network in ``dtype``.

    Integer networks of at most 8 bits keep 32-bit biases (TensorFlow Lite 8-bit quantization
    specification: "bias ... int32"); every other dtype keeps biases in the network dtype.
    """
    return "int32" if dtype in ("int4", "uint4", "int8", "uint8") else dtype


@dataclass(frozen=True)
class Tensor:
    """A named n-dimensional array: ``shape`` (elements per axis), ``dtype``, ``kind``."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    kind: str
    alias_of: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        if self.kind not in TENSOR_KINDS:
            raise ValueError(f"tensor {self.name}: kind {self.kind!r} not in {TENSOR_KINDS}")
        dtype_bits(self.dtype)
        if any(s < 0 for s in self.shape):
            raise ValueError(f"tensor {self.name}: negative dimension in {self.shape}")

    @property
    def numel(self) -> int:
        """Number of elements (1 for a scalar)."""
        return math.prod(self.shape)

    @property
    def bits(self) -> int:
        """Bits per element."""
        return DTYPE_BITS[self.dtype]

    @property
    def nbytes(self) -> int:
        """Bytes the tensor occupies: ``ceil(numel * bits / 8)``."""
        return -(-self.numel * self.bits // 8)


@dataclass(frozen=True)
class Affine:
    """``sum(coeff * dim) + offset``: one tensor-axis index as a function of loop dims."""

    terms: tuple[tuple[str, int], ...] = ()
    offset: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "terms", tuple((str(d), int(c)) for d, c in self.terms if c != 0))
        object.__setattr__(self, "offset", int(self.offset))

    @classmethod
    def of(cls, dim: str, coeff: int = 1, offset: int = 0) -> "Affine":
        """The index ``coeff * dim + offset``."""
        return cls(((dim, coeff),), offset)

    @classmethod
    def const(cls, value: int) -> "Affine":
        """A constant index (a broadcast axis of size 1 is ``const(0)``)."""
        return cls((), value)

    @cached_property
    def dims(self) -> tuple[str, ...]:
        """Loop dims this index depends on (computed once: the tile search asks often)."""
        return tuple(d for d, _ in self.terms)

    def coeff(self, dim: str) -> int:
        """Coefficient of ``dim`` (0 when absent)."""
        return sum(c for d, c in self.terms if d == dim)

    def evaluate(self, point: dict[str, int]) -> int:
        """Value at a loop point (missing dims count as 0)."""
        return self.offset + sum(c * point.get(d, 0) for d, c in self.terms)

    def bounds(self, dims: dict[str, int]) -> tuple[int, int]:
        """Inclusive (min, max) over the loop space ``dims``."""
        lo = hi = self.offset
        for d, c in self.terms:
            span = c * (dims[d] - 1)
            lo += min(0, span)
            hi += max(0, span)
        return lo, hi

    def __str__(self) -> str:
        parts = [d if c == 1 else f"{c}*{d}" for d, c in self.terms]
        if self.offset or not parts:
            parts.append(str(self.offset))
        return " + ".join(parts).replace("+ -", "- ")


@dataclass(frozen=True)
class Access:
    """One operand access: ``tensor`` read (``r``), written (``w``) or both (``rw``) at ``index``."""

    tensor: str
    mode: str
    index: tuple[Affine, ...]

    def __post_init__(self) -> None:
        if self.mode not in ("r", "w", "rw"):
            raise ValueError(f"access to {self.tensor}: mode {self.mode!r} not r, w or rw")
        object.__setattr__(self, "index", tuple(self.index))


@dataclass(frozen=True)
class LoopNest:
    """A perfect loop nest: ``dims`` (name -> trip count, outermost first) and its accesses."""

    dims: dict[str, int]
    accesses: tuple[Access, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "accesses", tuple(self.accesses))
        for a in self.accesses:
            for ax in a.index:
                for d in ax.dims:
                    if d not in self.dims:
                        raise ValueError(f"access to {a.tensor} uses unknown dim {d!r}")

    @property
    def iterations(self) -> int:
        """Points in the iteration space (product of the trip counts)."""
        return math.prod(self.dims.values())

    def access(self, tensor: str) -> Access:
        """The first access to ``tensor``."""
        for a in self.accesses:
            if a.tensor == tensor:
                return a
        raise KeyError(tensor)

    def reduction_dims(self) -> tuple[str, ...]:
        """Dims absent from every written access's index (summed over)."""
        used: set[str] = set()
        for a in self.accesses:
            if "w" in a.mode:
                for ax in a.index:
                    used.update(ax.dims)
        return tuple(d for d in self.dims if d not in used)


@dataclass
class Op:
    """One layer. ``inputs``: activation/input/state tensors read; ``weights``: learned tensors;
    ``outputs``: tensors written. ``macs``/``params`` as in the module docstring; ``loops`` is
    ``None`` for views. ``inplace_ok``: the op may overwrite its first input when it dies here."""

    name: str
    kind: str
    inputs: tuple[str, ...]
    weights: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: dict = field(default_factory=dict)
    macs: int = 0
    params: int = 0
    loops: LoopNest | None = None
    inplace_ok: bool = False

    def __post_init__(self) -> None:
        if self.kind not in OP_KINDS:
            raise ValueError(f"op {self.name}: kind {self.kind!r} not in {OP_KINDS}")
        self.inputs = tuple(self.inputs)
        self.weights = tuple(self.weights)
        self.outputs = tuple(self.outputs)

    @property
    def ops(self) -> int:
        """Elementary non-MAC operations (``attrs["ops"]``; 0 when the op has none)."""
        return int(self.attrs.get("ops", 0))

    def weight_bytes(self, graph: "Graph") -> int:
        """Bytes of this op's learned tensors."""
        return sum(graph.tensors[t].nbytes for t in dict.fromkeys(self.weights))

    def input_bytes(self, graph: "Graph") -> int:
        """Bytes of the activation/input/state tensors this op reads (each counted once)."""
        return sum(graph.tensors[t].nbytes for t in dict.fromkeys(self.inputs))

    def output_bytes(self, graph: "Graph") -> int:
        """Bytes of the tensors this op writes (each counted once)."""
        return sum(graph.tensors[t].nbytes for t in dict.fromkeys(self.outputs))


@dataclass
class Graph:
    """A network: ``tensors`` by name, ``ops`` in execution order, graph ``inputs``/``outputs``."""

    name: str
    tensors: dict[str, Tensor]
    ops: list[Op]
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    attrs: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.inputs = tuple(self.inputs)
        self.outputs = tuple(self.outputs)
        self._index()

    def _index(self) -> None:
        self._producer: dict[str, Op] = {}
        self._consumers: dict[str, list[Op]] = {t: [] for t in self.tensors}
        for op in self.ops:
            for t in op.outputs:
                self._producer[t] = op
            for t in dict.fromkeys(op.inputs + op.weights):
                self._consumers.setdefault(t, []).append(op)

    def producer(self, tensor: str) -> Op | None:
        """The op that writes ``tensor`` (``None`` for graph inputs, weights and unwritten states)."""
        return self._producer.get(tensor)

    def consumers(self, tensor: str) -> list[Op]:
        """Ops that read ``tensor``, in execution order."""
        return list(self._consumers.get(tensor, ()))

    def op(self, name: str) -> Op:
        """The op called ``name``."""
        for o in self.ops:
            if o.name == name:
                return o
        raise KeyError(name)

    @property
    def params(self) -> int:
        """Learned parameters of the whole network."""
        return sum(o.params for o in self.ops)

    @property
    def macs(self) -> int:
        """Multiply-accumulates of one inference (all batch items)."""
        return sum(o.macs for o in self.ops)

    def weight_bytes(self) -> int:
        """Bytes of all weight tensors."""
        return sum(t.nbytes for t in self.tensors.values() if t.kind == "weight")

    def root(self, tensor: str) -> str:
        """The tensor owning the storage of ``tensor`` (follows ``alias_of`` chains)."""
        while self.tensors[tensor].alias_of is not None:
            tensor = self.tensors[tensor].alias_of
        return tensor

    def layers(self) -> Iterator[dict]:
        """Per-op summary rows (the ``memsim show network`` fields)."""
        for o in self.ops:
            yield {
                "name": o.name,
                "op": o.kind,
                "macs": o.macs,
                "params": o.params,
                "weight_bytes": o.weight_bytes(self),
                "input_bytes": o.input_bytes(self),
                "output_bytes": o.output_bytes(self),
            }

    def validate(self) -> None:
        """Check structural invariants; raise ``ValueError`` on the first violation.

        Every referenced tensor exists; each tensor has at most one producer (or several, each
        marked ``attrs["partial_write"]``: the bands of a row split) and is produced before it
        is read (inputs, weights and states excepted); each access has one index per
        tensor axis and addresses at least one element inside the tensor.
        """
        written: set[str] = set()
        for o in self.ops:
            for t in o.inputs + o.weights + o.outputs:
                if t not in self.tensors:
                    raise ValueError(f"op {o.name}: unknown tensor {t!r}")
            for t in o.inputs:
                kind = self.tensors[t].kind
                if kind in ("activation", "output") and t not in written:
                    raise ValueError(f"op {o.name}: reads {t} before it is written")
            for t in o.outputs:
                if t in written and not o.attrs.get("partial_write"):
                    raise ValueError(f"tensor {t} written by two ops")
                written.add(t)
            if o.loops is None:
                continue
            for a in o.loops.accesses:
                shape = self.tensors[a.tensor].shape
                if len(a.index) != len(shape):
                    raise ValueError(
                        f"op {o.name}: access to {a.tensor} has {len(a.index)} indices for "
                        f"shape {shape}"
                    )
                for ax, size in zip(a.index, shape):
                    lo, hi = ax.bounds(o.loops.dims)
                    if hi < 0 or lo >= size:
                        raise ValueError(f"op {o.name}: access to {a.tensor} entirely outside")

    def fold_batchnorm(self) -> "Graph":
        """A copy with every batch norm that directly follows a conv2d/matmul folded into it.

        The producer keeps its MACs, gains a bias (if it had none) and writes the norm's output;
        the norm op disappears. Used for simulation (inference engines fold batch norm); counting
        uses the unfolded graph. Parameter counts of the folded graph drop by ``2C - C`` per norm
        (scale and shift become one bias).
        """
        tensors = dict(self.tensors)
        ops = list(self.ops)
        out: list[Op] = []
        renamed: dict[str, str] = {}
        for o in ops:
            o = _rename_inputs(o, renamed)
            if (
                o.kind == "norm"
                and o.attrs.get("norm") == "batch"
                and out
                and out[-1].kind in ("conv2d", "matmul")
                and out[-1].outputs[0] == o.inputs[0]
                and len(self.consumers(o.inputs[0])) == 1
                and o.inputs[0] not in self.outputs
            ):
                prev = out.pop()
                out.append(_absorb_bn(prev, o, tensors))
                del tensors[o.inputs[0]]
                for w in o.weights:
                    tensors.pop(w, None)
                continue
            out.append(o)
        g = Graph(self.name, tensors, out, self.inputs, self.outputs, dict(self.attrs))
        g.attrs["batchnorm_folded"] = True
        return g


def _rename_inputs(op: Op, renamed: dict[str, str]) -> Op:
    if not renamed or not any(t in renamed for t in op.inputs):
        return op
    return replace(op, inputs=tuple(renamed.get(t, t) for t in op.inputs))


def _absorb_bn(prev: Op, bn: Op, tensors: dict[str, Tensor]) -> Op:
    """``prev`` writing ``bn``'s output, with a bias when it had none."""
    old_out, new_out = prev.outputs[0], bn.outputs[0]
    weights = list(prev.weights)
    params = prev.params
    accesses = list(prev.loops.accesses) if prev.loops else []
    out_dim = _channel_dim(prev)
    if not prev.attrs.get("bias"):
        w = tensors[prev.weights[0]]
        channels = w.shape[0]
        bname = f"{prev.name}.bias"
        bdt = tensors[bn.weights[0]].dtype if bn.weights else w.dtype
        tensors[bname] = Tensor(bname, (channels,), bdt, "weight")
        weights.append(bname)
        params += channels
        if prev.loops is not None:
            accesses.append(Access(bname, "r", (out_dim,)))
    accesses = [
        Access(new_out, a.mode, a.index) if a.tensor == old_out else a for a in accesses
    ]
    loops = LoopNest(dict(prev.loops.dims), tuple(accesses)) if prev.loops else None
    attrs = dict(prev.attrs, bias=True, folded_bn=bn.name)
    return replace(prev, weights=tuple(weights), outputs=(new_out,), params=params, loops=loops,
                   attrs=attrs)


def _channel_dim(op: Op) -> Affine:
    """The output-channel index of a conv2d / matmul (for a folded bias)."""
    if op.kind == "conv2d":
        return Affine((("G", op.loops.dims["K"]), ("K", 1))) if op.loops else Affine()
    return Affine.of("N")


def iter_tensors(graph: Graph, kinds: Iterable[str]) -> Iterator[Tensor]:
    """Tensors of the given kinds, in insertion order."""
    kinds = set(kinds)
    return (t for t in graph.tensors.values() if t.kind in kinds)


def replace_op_loops(op: Op, loops: LoopNest | None, **changes) -> Op:
    """A copy of ``op`` with a new loop nest (and any other field ``changes``)."""
    return replace(op, loops=loops, **changes)
