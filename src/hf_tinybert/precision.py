"""One precision setting for training: `auto`, `fp32`, `bf16` or `fp16`.

`resolve_precision` decides what a run computes in; `PrecisionArguments` is `TrainingArguments` with a
`precision` field that applies the decision to `bf16` / `fp16` (the student's autocast, master weights and optimizer
stay float32, as `Trainer` keeps them) and, for distillation, to the teacher's weights (`teacher_dtype`).

`auto` picks bf16 where the device runs bf16 matrix products fast, float32 elsewhere:

- CUDA: bf16 when `torch.cuda.is_bf16_supported()` (Ampere and newer), else float32 (`fp16` is there to ask for);
- CPU: bf16 when the CPU reports bf16 instructions (x86 `avx512_bf16` / `amx_bf16`, Arm `bf16`) **and** a short
  probe (a 1024 x 1024 matmul, about 0.1 s, once per process) measures bf16 at least `MIN_SPEEDUP` times faster than
  float32; elsewhere bf16 would be emulated (slower than float32 by an order of magnitude), so float32;
- any other device (MPS, ...): float32.

The CPU's flags and the probe are injectable (`cpu_flags=`, `probe=`), so the decision is testable on any machine.
"""

from __future__ import annotations

import functools
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from transformers import TrainingArguments
from transformers.utils import logging

logger = logging.get_logger(__name__)

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# The teacher's weights in each precision (DistillationArguments.teacher_dtype).
TEACHER_DTYPE = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
# CPU flags that mean bf16 matrix products in hardware (x86: AVX512-BF16, AMX; Arm: FEAT_BF16).
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")
# bf16 must beat float32 by this factor in the probe to be chosen (autocast's casts cost a little).
MIN_SPEEDUP = 1.3


@dataclass(frozen=True)
class PrecisionDecision:
    """What a run computes in, and why.

    Attributes:
        requested: what was asked for (`auto`, `fp32`, `bf16`, `fp16`).
        precision: what was chosen (`fp32`, `bf16`, `fp16`).
        device: the device type the decision is for (`cpu`, `cuda`, ...).
        reason: one sentence, e.g. "CPU with avx512_bf16: bf16 matmul 2.4x faster than float32 (probe)".
    """

    requested: str
    precision: str
    device: str
    reason: str

    @property
    def teacher_dtype(self) -> str:
        return TEACHER_DTYPE[self.precision]

    def describe(self) -> str:
        return f"precision {self.precision} (asked: {self.requested}; {self.reason})"


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none, e.g. macOS)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return set()
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            flags.update(value.split())
    return flags


def bf16_matmul_speedup(size: int = 1024, repeats: int = 3) -> float:
    """float32 time / bf16 time of a `size` x `size` CPU matmul (best of `repeats`, after one warm-up each)."""

    def best(dtype) -> float:
        a = torch.randn(size, size, generator=torch.Generator().manual_seed(0)).to(dtype)
        b = a.t().contiguous()
        a @ b  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - start)
        return min(times)

    return best(torch.float32) / best(torch.bfloat16)


@functools.cache
def _measured_speedup(threads: int) -> float:  # once per process and thread count
    return bf16_matmul_speedup()


def default_probe() -> float:
    return _measured_speedup(torch.get_num_threads())


def device_type(use_cpu: bool = False) -> str:
    """The device type `TrainingArguments` will pick: `cpu` with `use_cpu`, else CUDA / XPU / MPS when present."""
    if use_cpu:
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    if hasattr(torch, "xpu") and torch.xpu.is_available():
        return "xpu"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def resolve_precision(
    requested: str,
    device: str = "cpu",
    *,
    cpu_flags: Callable[[], set[str]] | set[str] | None = None,
    probe: Callable[[], float] | None = None,
    cuda_bf16: Callable[[], bool] | bool | None = None,
) -> PrecisionDecision:
    """Decide the precision of a run on `device` (see the module docstring for `auto`).

    Args:
        requested: `auto`, `fp32`, `bf16` or `fp16`.
        device: device type (`cpu`, `cuda`, `xpu`, `mps`).
        cpu_flags: the CPU's flags (a set or a function returning one); default: read from /proc/cpuinfo.
        probe: returns the measured float32/bf16 matmul time ratio; default: a 1024 x 1024 matmul, once per process.
        cuda_bf16: whether the GPU supports bf16; default `torch.cuda.is_bf16_supported()`.
    """
    if requested not in PRECISIONS:
        raise ValueError(f"Unknown precision {requested!r}; valid values are: {', '.join(PRECISIONS)}")
    if requested != "auto":
        return PrecisionDecision(requested, requested, device, "asked for")
    if device == "cuda":
        supported = cuda_bf16() if callable(cuda_bf16) else cuda_bf16
        if supported is None:
            supported = torch.cuda.is_bf16_supported()
        if supported:
            return PrecisionDecision("auto", "bf16", device, "the GPU supports bf16")
        return PrecisionDecision("auto", "fp32", device, "the GPU has no bf16 (ask for fp16 with --precision fp16)")
    if device != "cpu":
        return PrecisionDecision("auto", "fp32", device, f"bf16 is not chosen automatically on {device}")
    flags = cpu_flags() if callable(cpu_flags) else cpu_flags
    if flags is None:
        flags = globals()["cpu_flags"]()
    found = [flag for flag in CPU_BF16_FLAGS if flag in flags]
    if not found:
        return PrecisionDecision(
            "auto", "fp32", device, f"the CPU ({platform.machine()}) has no bf16 instructions: bf16 would be emulated"
        )
    speedup = (probe or default_probe)()
    if speedup >= MIN_SPEEDUP:
        reason = f"CPU with {found[0]}: bf16 matmul {speedup:.1f}x faster than float32 (probe)"
        return PrecisionDecision("auto", "bf16", device, reason)
    reason = f"CPU with {found[0]}, but bf16 matmul only {speedup:.1f}x float32's speed (probe; needs {MIN_SPEEDUP}x)"
    return PrecisionDecision("auto", "fp32", device, reason)


_announced: set[PrecisionDecision] = set()


def announce(decision: PrecisionDecision) -> None:
    """Say the decision once per process (on the main process only)."""
    if decision in _announced or int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")) or 0) != 0:
        return
    _announced.add(decision)
    logger.warning(f"hf-tinybert: {decision.describe()}")


@dataclass
class PrecisionArguments(TrainingArguments):
    """`TrainingArguments` plus `precision`, which sets `bf16` / `fp16` from one choice.

    `precision=None` (the Python default) leaves `bf16` / `fp16` as given, like `TrainingArguments`; the
    `hf-tinybert` commands default to `auto`. The decision is kept in `precision_decision` (and so in
    `run_arguments.json`, `training_args.bin` and the model card).
    """

    precision: str | None = field(
        default=None,
        metadata={
            "help": "What training computes in. 'auto': bf16 where the device runs it fast (a GPU with bf16; a CPU "
            "with bf16 instructions, confirmed by a short matmul probe), else fp32 (the commands' default); "
            "'bf16' / 'fp16': autocast for the student and the teacher's weights in that dtype (the student's "
            "master weights and optimizer stay float32); 'fp32': float32 throughout. Unset in Python: the bf16 / "
            "fp16 flags as given.",
            "choices": list(PRECISIONS),
        },
    )
    precision_decision: str = field(
        default="", init=False, metadata={"help": "What `precision` resolved to and why (set, not read)."}
    )

    def __post_init__(self):
        decision = self.resolve_precision()
        if self.dataloader_pin_memory and device_type(self.use_cpu) == "cpu":
            self.dataloader_pin_memory = False  # nothing to pin for; torch would warn once per data loader
        super().__post_init__()
        if decision is not None:
            self.precision_decision = decision.describe()
            announce(decision)

    def resolve_precision(self) -> PrecisionDecision | None:
        """Apply `precision` to `bf16` / `fp16` (before `TrainingArguments` validates them)."""
        if self.precision is None:
            return None
        if self.precision not in PRECISIONS:
            raise ValueError(f"Unknown precision {self.precision!r}; valid values are: {', '.join(PRECISIONS)}")
        flagged = "bf16" if self.bf16 else "fp16" if self.fp16 else None
        decision = resolve_precision(self.precision, device_type(self.use_cpu))
        if flagged and flagged != decision.precision:
            if self.precision != "auto":
                raise ValueError(f"precision={self.precision!r} contradicts {flagged}=True: give one of them")
            decision = PrecisionDecision("auto", flagged, decision.device, f"{flagged}=True given")
        self.bf16, self.fp16 = decision.precision == "bf16", decision.precision == "fp16"
        if decision.device == "cpu" and decision.precision != "fp32":
            self.use_cpu = True  # TrainingArguments asks for it to allow CPU autocast (the device is the CPU anyway)
        return decision

    def to_dict(self):
        values = super().to_dict()
        values["precision_decision"] = self.precision_decision
        return values
