"""Execution contexts of the published-latency rows (``../shared/data/measurements/``).

Each row of ``published-latency.csv`` is turned into the context it was measured in: preset,
execution unit, runtime, threads, dtype, network (zoo name + parameters) and the measured
board's own clock where the row was taken on a proxy board (the ``HW:`` note says so). A row
that cannot be run (network not in the zoo, runtime without a profile, preset without the
unit) gets a ``skip`` reason, so the fidelity table reports it instead of dropping it.

These are facts read from the rows (their ``network``, ``precision``, ``threads``,
``framework`` and ``notes`` columns); nothing here is fitted.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_CSV = Path("/work/shared/data/measurements/published-latency.csv")

#: device column → (preset stem, device class)
DEVICES = {
    "Raspberry Pi 4": ("raspberry-pi-4", "CPU"),
    "RK3588 (CPU)": ("rk3588", "CPU"),  # the board preset; its cpu unit
    "Jetson AGX Orin 64GB": ("jetson-agx-orin-64gb", None),  # CPU or GPU by row
    "Coral Edge TPU": ("coral-edge-tpu", "NPU"),
    "STM32H7": ("stm32h743", "MCU"),
    "NVIDIA A100": ("nvidia-a100-80gb", "GPU"),
    # held-out boards (benchmarks/data/heldout-latency.csv): never used to choose a default
    "Raspberry Pi 5": ("raspberry-pi-5", "CPU"),
}


@dataclass
class Row:
    """One measurement and the context it runs in."""

    line: int
    device: str
    network_text: str
    framework: str
    latency_ms: float
    kind: str
    preset: str = ""
    cls: str = ""
    unit: str = "cpu"
    runtime: str = "generic"
    threads: int | None = None
    dtype: str = "int8"
    network: str | None = None
    params: dict = field(default_factory=dict)
    clock_hz: int | None = None
    strategies: dict = field(default_factory=dict)
    skip: str | None = None
    setup: str = ""


    @property
    def key(self) -> str:
        """A short label: device class, network, dtype, threads."""
        t = f"{self.threads}t" if self.threads else self.unit
        return f"{self.preset}:{self.network or self.network_text[:20]}:{self.dtype}:{t}"


def _network(text: str) -> tuple[str | None, dict, str | None]:
    """(zoo name, params, skip reason) for the ``network`` column."""
    t = text.lower()
    if t.startswith("llm decode"):
        if "llama-2-7b" in t:
            return "llama-7b", {"phase": "decode", "context": 80}, None  # 16 in + 128 out: mean ≈ 80
        if "llama-3.2-1b" in t:
            return "llama-1b", {"phase": "decode", "context": 512}, None
        if "llama-3.2-3b" in t:
            return "llama-3b", {"phase": "decode", "context": 512}, None  # same tutorial as 1B
        if "llama-3-8b" in t:
            # llama.cpp tg1024: 1024 tokens generated after a short prompt, mean context ≈ 512
            return "llama-8b", {"phase": "decode", "context": 512}, None
        return None, {}, f"LLM not in the zoo ({text})"
    if "bert_large" in t:
        return "bert_large", {"seq_len": 384}, None
    m = re.search(r"bert_base \(seq (\d+)\)", t)
    if m:
        return "bert_base", {"seq_len": int(m.group(1))}, None
    if "inception_v1" in t:
        return "inception_v1", {}, None
    if "resnet8" in t:
        return "resnet8", {}, None
    if "efficientnet_edgetpu" in t:
        return None, {}, f"{text.split()[0]} not in the zoo"
    if "person" in t or ("mobilenetv1 0.25" in t) or ("mobilenet_v1 0.25" in t):
        res = 224 if "224" in t else 96
        # the classifier head (2, 5 or 1000 classes) is under 1 % of the MACs: zoo default
        return "person_detect", {"resolution": res}, None
    if "mobilenet_v1 1.0" in t:
        return "mobilenet_v1", {}, None
    if "ds_cnn" in t:
        return "ds_cnn", {}, None
    if "yolo11n" in t or "yolov8n" in t:
        return "yolov8n", {"resolution": 640}, None
    m = re.search(r"\((\d+)x(\d+)\)", t)
    name = t.split()[0].split("(")[0]
    params = {"resolution": int(m.group(1))} if m and int(m.group(1)) != 224 else {}
    return name, params, None


def _dtype(precision: str, device: str) -> str:
    p = precision.lower()
    if p.startswith(("int4", "q4")):
        return "fp16"  # int4 weights, fp16 activations and arithmetic (q4f16, Q4_K_M)
    if p.startswith("int8"):
        return "int8"
    if p.startswith("fp16") or "likely fp16" in p:
        return "fp16"
    return "fp32"


def _runtime(framework: str) -> tuple[str, str | None]:
    f = framework.lower()
    if "ncnn" in f and "onnx" not in f:
        return "ncnn", None
    if "tensorrt" in f:
        return "tensorrt", None
    if "libedgetpu" in f:
        return "edgetpu", None
    if "cube" in f or "plumerai" in f:
        return "tflite-micro", None  # MCU kernel libraries of the CMSIS-NN class
    if "mlc" in f or "llama.cpp" in f:
        return "tensorrt", None  # GPU kernel runtimes: launch-bound per kernel like TensorRT
    return "generic", f"no runtime profile for {framework!r}"


def _words(text: str) -> str:
    """Lower-case words of ``text``; spelling variants of one board name made equal."""
    t = text.lower().replace("developer kit", "devkit")
    return " ".join(w for w in re.findall(r"[a-z0-9.]+", t) if w not in ("nvidia", "jetson"))


def _setup(r: dict) -> str:
    """The measured setup: one board with one software stack, as a user calibrating their own
    board has it. The board is the ncnn README section (one contributor's board each; its rows
    phrase the hardware differently), else the ``HW:`` note's first clause (``NUCLEO-H7A3ZI-Q``,
    ``A100 PCIe 80GB`` vs ``A100 SXM 80GB``, ``Coral Dev Board`` vs ``USB Accelerator``); the
    software is the framework column's name and version (before its first ``,`` or ``(``)."""
    m = re.search(r'section "([^"]+)"', r["source"])
    if m:
        board = m.group(1)
    else:
        hw = re.search(r"HW:\s*([^;]*)", r["notes"])
        board = _words(re.split(r"[,(@]", hw.group(1))[0]) if hw else "-"
    return f"{board} / {_words(re.split(r'[,(]', r['framework'])[0])}"


def _clock(notes: str) -> int | None:
    """The measured board's core clock when the ``HW:`` note names a different one."""
    m = re.search(r"HW:[^;]*?(?:@|Cortex-M7 @)\s*(\d+)\s*MHz", notes)
    if m:
        return int(m.group(1)) * 1_000_000
    return None


def load_rows(path: Path = DEFAULT_CSV) -> list[Row]:
    """Every row of the published CSV with its context (``skip`` set where it cannot run)."""
    rows = []
    with open(path, newline="") as f:
        for i, r in enumerate(csv.DictReader(f), start=2):
            rows.append(_row(i, r))
    return rows


def _row(line: int, r: dict) -> Row:
    notes = r["notes"]
    kind = notes.split(";")[0].replace("kind=", "").strip()
    row = Row(line, r["device"], r["network"], r["framework"], float(r["latency_ms"]), kind)
    row.preset, row.cls = DEVICES[r["device"]]
    thr = r["threads"].strip()
    m = re.match(r"(\d+)", thr)
    gpu = "gpu" in thr.lower() or "vulkan" in r["framework"].lower()
    if row.preset == "coral-edge-tpu":
        row.unit, row.cls = "npu", "NPU"
    elif gpu:
        row.unit, row.cls = "gpu", "GPU"
    else:
        row.unit, row.threads = "cpu", int(m.group(1)) if m else None
        row.cls = row.cls or "CPU"
    row.dtype = _dtype(r["precision"], r["device"])
    if r["precision"].lower().startswith(("int4", "q4")):
        row.strategies = {"compression": {"weights": {"format": "quant", "bits": 4, "group": 32, "scale_bits": 16}}}  # q4 with fp16 scales per 32
    row.runtime, skip = _runtime(r["framework"])
    row.network, row.params, nskip = _network(r["network"])
    if row.preset == "stm32h743":
        row.clock_hz = _clock(notes)
        if row.clock_hz is None and "H7A3" in notes:
            m2 = re.search(r"@\s*(\d+)\s*MHz", notes)
            row.clock_hz = int(m2.group(1)) * 1_000_000 if m2 else None
    row.skip = nskip or skip
    row.setup = _setup(r)
    return row
