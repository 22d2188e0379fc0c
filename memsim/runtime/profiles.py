"""Runtime profiles: what each inference runtime executes and what it costs besides the math.

A :class:`RuntimeProfile` is a handful of mechanism parameters (never per-network factors):
which convolution algorithms the runtime has, which ops it fuses, the fraction of the unit's
peak MAC rate each kernel class achieves, fixed costs per executed op and per thread barrier,
whether GPU work is quantised in SM waves, and whether a systolic NPU packs depthwise channels
across its columns. Every default cites its source in a comment and in docs/model.md
("Runtime model"); values marked *estimate* are the free parameters ``memsim calibrate`` fits.

``generic`` is memsim's behaviour before the runtime stage (direct convolution at the mapper's
lane utilisation, no fusion, no fixed costs): it leaves the mappings untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

#: Kernel classes an efficiency applies to (memsim.runtime.algorithms names them).
KERNELS = ("gemm", "winograd", "direct", "depthwise", "elementwise")
#: Execution units a board may have.
UNITS = ("cpu", "gpu", "npu")
#: Elementwise ops a runtime fuses into the producing conv/GEMM as its epilogue.
ACTIVATIONS = ("relu", "relu6", "silu", "swish", "sigmoid", "hardswish", "hard_swish",
               "hardsigmoid", "gelu", "tanh", "clip", "leaky_relu", "bias")


@dataclass(frozen=True)
class RuntimeProfile:
    """One runtime's mechanism parameters (see the module docstring).

    ``efficiency[k]``: fraction of the mapper's compute rate kernel class ``k`` sustains (1.0:
    the mapper's lane-utilisation model as is). ``op_overhead_s``: fixed time per executed op
    (CPU dispatch, GPU kernel launch and synchronisation, NPU per-layer setup). ``barrier_s``:
    one synchronisation step of a tree barrier; a layer on ``N`` threads pays
    ``barrier_s·ceil(log2 N)`` (none on one thread). ``gpu_block``: set (to the largest
    thread-block tile) when the runtime's GEMMs run as thread blocks quantised in SM waves; the
    tile is then chosen per layer (``overheads.best_block``); None: no waves.
    ``winograd_tiles``: the F(m,3) variants the runtime has. ``fuse``: activation epilogues
    fused; ``fuse_add``: residual adds fused too (TensorRT). ``tensor_cores=False``: a GPU
    runtime whose kernels run on the vector (CUDA) cores, at the fp32 rate.
    ``register_block``: vector MACs per loop iteration of the runtime's hand-written kernels
    (its micro-kernel's accumulators); the unit's ``loop_overhead`` is paid once per block
    instead of per the mapper's temporal unroll (0: keep the mapper's).
    ``allcore_clock_fraction``: sustained clock with several threads busy over the one-thread
    clock (DVFS and thermal limits under all-core load); compute on more than one thread is
    divided by it. 1.0 by default (no source gives it per board): a calibrated parameter.
    ``parallel_split``: how the runtime splits a layer over its threads (``"ncnn"``: coarse
    output-channel blocks, ``overheads.parallel_items``), so a layer with fewer work items than
    threads — or a ragged last round — leaves threads idle; None: the engine's own deal of the
    mapper's tiles over the cores.
    ``fuse_attention``: the runtime launches one kernel where the graph has several (TensorRT's
    fused multi-head attention, scores·softmax·context in one kernel, and one QKV GEMM for the
    projections that read the same input): the merged ops keep their work and traffic but pay
    no ``op_overhead_s`` of their own (``apply.merged_launches``).
    ``winograd_dispatches``: kernels one Winograd convolution launches, each paying
    ``op_overhead_s`` (ncnn Vulkan: input transform, batched GEMM, output transform, 3).
    ``conv_rule``: how the Winograd variant is chosen (``"fewest"``: the fewest multiplies;
    ``"ncnn"``: ncnn's channel rule, ``algorithms.choose_conv``). ``blocked_gemm``: the runtime
    runs GEMM-class convolutions as its own blocked GEMM (``"ncnn"``:
    :mod:`memsim.runtime.ncnn_gemm`, packed workspace and packed weights simulated line by
    line, its static schedule over the threads); None: the mapper's tiles.
    ``int8_passes``: an int8 network runs as ncnn runs it (:mod:`memsim.runtime.precision`):
    activations int8 only between convolutions, the floating-point storage type elsewhere,
    each int8 convolution quantizing a floating-point input, writing an int32 workspace and
    requantizing or dequantizing it (``runtime.blocked``).
    """

    name: str
    unit: str
    efficiency: dict = field(default_factory=lambda: {k: 1.0 for k in KERNELS})
    op_overhead_s: float = 0.0
    barrier_s: float = 0.0
    winograd_tiles: tuple[int, ...] = ()
    winograd_min_channels: int = 16
    im2col: bool = False
    fuse: bool = False
    fuse_add: bool = False
    gpu_block: tuple[int, int] | None = None
    depthwise_packed: bool = False
    tensor_cores: bool = True
    register_block: int = 0
    allcore_clock_fraction: float = 1.0
    parallel_split: str | None = None
    conv_rule: str = "fewest"
    blocked_gemm: str | None = None
    border_copy: bool = False
    fuse_attention: bool = False
    winograd_dispatches: int = 1
    int8_passes: bool = False

    @property
    def is_identity(self) -> bool:
        """True when applying the profile changes nothing (``generic`` with zero overheads)."""
        return (all(self.efficiency.get(k, 1.0) == 1.0 for k in KERNELS)
                and self.op_overhead_s == 0.0 and self.barrier_s == 0.0
                and not self.winograd_tiles and not self.im2col and not self.fuse
                and not self.fuse_add and self.gpu_block is None and not self.depthwise_packed
                and self.tensor_cores and not self.register_block
                and self.allcore_clock_fraction == 1.0 and self.parallel_split is None
                and self.blocked_gemm is None and not self.border_copy
                and not self.fuse_attention and not self.int8_passes)

    def with_params(self, params: dict) -> "RuntimeProfile":
        """A copy with calibrated values: ``op_overhead_s``, ``barrier_s``,
        ``allcore_clock_fraction`` and ``efficiency_<kernel>`` keys (others are ignored here)."""
        eff = dict(self.efficiency)
        for k in KERNELS:
            if f"efficiency_{k}" in params:
                eff[k] = float(params[f"efficiency_{k}"])
        return replace(self, efficiency=eff,
                       allcore_clock_fraction=float(params.get("allcore_clock_fraction",
                                                               self.allcore_clock_fraction)),
                       op_overhead_s=float(params.get("op_overhead_s", self.op_overhead_s)),
                       barrier_s=float(params.get("barrier_s", self.barrier_s)))


def _eff(gemm, winograd, direct, depthwise, elementwise) -> dict:
    return {"gemm": gemm, "winograd": winograd, "direct": direct, "depthwise": depthwise,
            "elementwise": elementwise}


PROFILES: dict[str, dict[str, RuntimeProfile]] = {
    "generic": {u: RuntimeProfile("generic", u) for u in UNITS},
    "ncnn": {
        # Tencent ncnn, arm NEON kernels. Algorithms: src/layer/arm/convolution_arm.cpp picks
        # Winograd F(6,3)/F(4,3)/F(2,3) for 3x3 s1 convs and packed sgemm (im2col) otherwise;
        # conv+activation fused (src/net.cpp fusion passes, tools/ncnnoptimize). Packed GEMM
        # on NEON sustains ~0.8 of peak (Goto & van de Geijn, ACM TOMS 2008: ~90 % for
        # register-blocked GEMM; estimate 0.8 with packing and edges); depthwise 3x3 is
        # load-bound (one window load per 9 MACs, little register reuse): estimate 0.35
        # (Zhang, Lo & Lu, AAAI 2020: depthwise kernels of mobile frameworks run far below
        # peak). Per op 5 µs: layer dispatch, blob allocation, the OpenMP parallel region
        # (estimate; EPCC syncbench, Bull 1999: fork-join 1-10 µs on 4-16 cores); barrier
        # 2 µs per tree level (estimate, EPCC). Register blocking: the aarch64 sgemm
        # micro-kernel keeps an 8x12 output block in 24 NEON accumulators (ncnn
        # src/layer/arm/convolution_sgemm.h), so loop control is paid once per >= 8 vector MACs.
        # Threads: each layer's MAC loop is one `#pragma omp parallel for` over output-channel
        # blocks (GEMM/Winograd: TILE_M of convolution_im2col_gemm_get_optimal_tile_mnk;
        # depthwise: channel packs), statically scheduled (overheads.parallel_items).
        # Winograd variant: F(6,3) when both channel counts are <= 128, else F(4,3), for any
        # 3x3 s1 conv with >= 8 input or output channels (convolution_arm.cpp create_pipeline,
        # cc37c10997e8). fp32/fp16 GEMM-class convs run as ncnn's blocked GEMM: packed B
        # workspace streamed once per output-channel block, packed/transformed weights
        # (convolution_im2col_gemm.h, convolution_3x3_winograd.h; runtime/ncnn_gemm.py).
        # Padded convs copy their input with the border first (make_padding ->
        # copy_make_border, src/layer/convolution.cpp, convolutiondepthwise_arm.cpp).
        # int8 models: activations int8 only between convs, quantize/int32/requantize passes
        # per conv (convolution_arm.cpp forward_int8_arm, ncnn2int8 fuse_requantize; precision.py).
        "cpu": RuntimeProfile("ncnn", "cpu", _eff(0.8, 0.7, 0.5, 0.35, 1.0),
                              op_overhead_s=5e-6, barrier_s=2e-6, winograd_tiles=(2, 4, 6),
                              im2col=True, fuse=True, register_block=8,
                              parallel_split="ncnn", conv_rule="ncnn", blocked_gemm="ncnn",
                              border_copy=True, int8_passes=True),
        # ncnn Vulkan: compute shaders on the CUDA cores (no tensor cores in 2022 builds; fp16
        # storage/arithmetic); GA10x runs non-tensor fp16 at the fp32 rate (NVIDIA Ampere GA102
        # whitepaper, peak FP16 non-tensor = FP32). One dispatch plus a pipeline barrier per
        # layer: 30 µs (estimate); shader GEMM 0.5 of the CUDA-core peak (estimate). A Winograd
        # conv is three dispatches (src/layer/vulkan/shader/
        # convolution_3x3s1d1_winograd{23,43}_transform_input.comp, _winograd_gemm.comp,
        # _transform_output.comp, recorded by convolution_vulkan.cpp), each with its barrier.
        "gpu": RuntimeProfile("ncnn", "gpu", _eff(0.5, 0.5, 0.5, 0.3, 1.0),
                              op_overhead_s=30e-6, winograd_tiles=(2, 4), im2col=True,
                              fuse=True, gpu_block=(64, 64), tensor_cores=False,
                              winograd_dispatches=3),
    },
    # XNNPACK (TFLite's CPU delegate): indirect-GEMM convolutions, no Winograd (Dukhan, "The
    # indirect convolution algorithm", arXiv:1907.02129), fused activations; pthreadpool
    # dispatch a few µs per op (estimate).
    # Micro-kernels of 4x8 to 6x8 outputs (XNNPACK src/f32-gemm/): register block 8.
    "xnnpack": {"cpu": RuntimeProfile("xnnpack", "cpu", _eff(0.8, 0.8, 0.8, 0.4, 1.0),
                                      op_overhead_s=3e-6, barrier_s=2e-6, fuse=True,
                                      register_block=8)},
    # TFLite Micro / CMSIS-NN class MCU kernels (X-CUBE-AI is of the same class): direct
    # kernels on one core; interpreter dispatch ~20 µs per op (estimate; CMSIS-NN, Lai, Suda &
    # Chandra, arXiv:1801.06601); depthwise at 0.5 of the SMLAD rate (estimate).
    # No register-block credit: CMSIS-NN's 2x2 mat-mult block still issues about one operand
    # load per SMLAD through the Cortex-M's single load port, so the preset's per-iteration
    # loop cost stands for that (estimate).
    "tflite-micro": {"cpu": RuntimeProfile("tflite-micro", "cpu",
                                           _eff(1.0, 1.0, 1.0, 0.5, 1.0),
                                           op_overhead_s=20e-6, fuse=True)},
    # NVIDIA TensorRT: vertical (conv+bias+act) and residual-add fusion (TensorRT Developer
    # Guide, "Layer Fusion"); BERT-class attention as one fused multi-head-attention kernel and
    # one QKV GEMM (NVIDIA/TensorRT demo/BERT README @768d994b7305: the QKVToContext and
    # SkipLayerNorm plugins, "fused multi-head attention"). Each kernel costs its launch at
    # batch 1, 3.5 µs: GPGPU-Sim's -gpgpu_kernel_launch_latency 5000 core cycles of its tested
    # SM80_A100 and SM86_RTX3070 configurations (gpgpu-sim_distribution @baf2b8f0) at the
    # A100's 1.41 GHz (3.8 µs at the Orin's 1.3 GHz; SM90_H100: 3000 cycles, 1.6 µs) — the
    # order of the CUDA C Best Practices Guide's "kernel launch overheads of µs".
    # Thread-block tiles quantised in waves over the SMs (NVIDIA "Matrix Multiplication
    # Background" guide, "wave quantization"), the tile chosen per layer (tactic selection);
    # tensor-core GEMM at 0.7 of peak (estimate).
    "tensorrt": {"gpu": RuntimeProfile("tensorrt", "gpu", _eff(0.7, 0.7, 0.7, 0.3, 1.0),
                                       op_overhead_s=3.5e-6, fuse=True, fuse_add=True,
                                       gpu_block=(256, 128), fuse_attention=True)},
    # Coral Edge TPU (libedgetpu): depthwise channels mapped across the array columns (one
    # channel per column, the window on the rows) instead of one channel at a time; per-layer
    # instruction setup 10 µs (estimate); activations fused (TFLite int8 ops).
    "edgetpu": {"npu": RuntimeProfile("edgetpu", "npu", op_overhead_s=10e-6, fuse=True,
                                      depthwise_packed=True)},
    # Rockchip RKNN: NPU runtime, the same depthwise packing; per-layer setup 20 µs (estimate).
    "rknn": {"npu": RuntimeProfile("rknn", "npu", op_overhead_s=20e-6, fuse=True,
                                   fuse_add=True, depthwise_packed=True)},
}

def get_profile(name: str, unit: str) -> RuntimeProfile:
    """The profile of runtime ``name`` on a ``unit``; ``KeyError`` naming what exists."""
    if name not in PROFILES:
        raise KeyError(f"unknown runtime {name!r} (known: {', '.join(PROFILES)})")
    units = PROFILES[name]
    if unit not in units:
        raise KeyError(f"runtime {name!r} does not run on a {unit} (it runs on: "
                       f"{', '.join(units)})")
    return units[unit]
