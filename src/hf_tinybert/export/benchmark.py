"""Inference speed of teachers and students in PyTorch and ONNX Runtime (fp32, dynamic int8), in one run.

For every model and every workload (batch x sequence length) the benchmark measures the median
latency after warm-up and the throughput, and reports the parameter count, the file size of each
format and the analytic FLOPs (`encoder_flops`). Models are named shapes (random weights, see
`MODEL_SHAPES`) or saved model folders. Speed-ups are ratios of latencies measured in the same run,
next to the ratio of FLOPs they would have if time followed arithmetic.

    report = run_benchmark(["bert-base", "tinybert-4l-312d"], threads=2)
    report.comparisons.append(report.compare(("bert-base", "pytorch"), ("tinybert-4l-312d", "onnx-int8"), (32, 64)))
    write_report(report, "docs/bench")   # benchmark.json, benchmark.md, benchmark.png
"""

from __future__ import annotations

import functools
import gc
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification, PreTrainedModel
from transformers.utils import logging

from ..utils import load_average
from .model_size import MODEL_SHAPES, config_for_shape, count_parameters, encoder_flops
from .onnx import onnx_feed, onnx_head, onnx_session, quantize_onnx, torch_to_onnx

logger = logging.get_logger(__name__)

RUNTIMES: tuple[str, ...] = ("pytorch", "onnx-fp32", "onnx-int8")
DEFAULT_WORKLOADS: tuple[tuple[int, int], ...] = ((1, 128), (32, 64))


@dataclass
class BenchmarkRow:
    """One model, one runtime, one workload.

    Attributes:
        model: the model's name in the report.
        runtime: one of `RUNTIMES`.
        batch_size: sequences per forward pass.
        seq_len: tokens per sequence.
        latency_ms: median latency of one forward pass, in milliseconds.
        latency_ms_min: fastest forward pass, in milliseconds.
        throughput: sequences per second at the median latency.
        parameters: number of parameters of the PyTorch model.
        file_size_bytes: size of the model file of this runtime (safetensors, model.onnx, model_quantized.onnx).
        flops: analytic FLOPs of one forward pass over the batch.
    """

    model: str
    runtime: str
    batch_size: int
    seq_len: int
    latency_ms: float
    latency_ms_min: float
    throughput: float
    parameters: int
    file_size_bytes: int
    flops: int


@dataclass
class Comparison:
    """How much faster a candidate (model, runtime) is than a baseline on one workload, in one run.

    Attributes:
        baseline: (model, runtime) of the slower reference.
        candidate: (model, runtime) compared against it.
        workload: (batch_size, seq_len).
        speedup: baseline median latency / candidate median latency.
        flops_ratio: baseline FLOPs / candidate FLOPs.
        target: the speed-up aimed for, if any (judged on `speedup`).
        speedup_fastest: the same ratio for the fastest pass of each, less sensitive to other processes' load.
    """

    baseline: tuple[str, str]
    candidate: tuple[str, str]
    workload: tuple[int, int]
    speedup: float
    flops_ratio: float
    target: float | None = None
    speedup_fastest: float | None = None

    @property
    def target_met(self) -> bool | None:
        """Whether `speedup` reaches `target` (None without a target)."""
        return None if self.target is None else self.speedup >= self.target


@dataclass
class BenchmarkReport:
    """Rows of one benchmark run, the settings it ran with, and the comparisons drawn from it."""

    rows: list[BenchmarkRow]
    settings: dict
    comparisons: list[Comparison] = field(default_factory=list)

    def row(self, model: str, runtime: str, workload: tuple[int, int]) -> BenchmarkRow:
        """The row of one (model, runtime, workload).

        Raises:
            ValueError: no such row; the message lists the models, runtimes and workloads measured.
        """
        for r in self.rows:
            if (r.model, r.runtime, (r.batch_size, r.seq_len)) == (model, runtime, tuple(workload)):
                return r
        raise ValueError(
            f"No benchmark row for {model!r} / {runtime!r} / {tuple(workload)}; measured models: "
            f"{sorted({r.model for r in self.rows})}, runtimes: {sorted({r.runtime for r in self.rows})}, "
            f"workloads: {sorted({(r.batch_size, r.seq_len) for r in self.rows})}"
        )

    def compare(
        self,
        baseline: tuple[str, str],
        candidate: tuple[str, str],
        workload: tuple[int, int],
        *,
        target: float | None = None,
    ) -> Comparison:
        """Speed-up of `candidate` over `baseline` on `workload`, each a (model, runtime) pair."""
        base, cand = self.row(*baseline, workload), self.row(*candidate, workload)
        return Comparison(
            baseline=tuple(baseline),
            candidate=tuple(candidate),
            workload=tuple(workload),
            speedup=base.latency_ms / cand.latency_ms,
            flops_ratio=base.flops / cand.flops,
            target=target,
            speedup_fastest=base.latency_ms_min / cand.latency_ms_min,
        )

    def to_dict(self) -> dict:
        """The report as plain JSON-able data."""
        return {
            "settings": self.settings,
            "rows": [asdict(r) for r in self.rows],
            "comparisons": [{**asdict(c), "target_met": c.target_met} for c in self.comparisons],
        }

    def to_markdown(self) -> str:
        """A markdown table per model x runtime (one latency and throughput column per workload), then the comparisons."""
        workloads = sorted({(r.batch_size, r.seq_len) for r in self.rows}, key=lambda w: w[0] * w[1])
        models = list(dict.fromkeys(r.model for r in self.rows))
        runtimes = [rt for rt in RUNTIMES if any(r.runtime == rt for r in self.rows)]
        header = ["model", "runtime", "params (M)", "file (MB)"]
        for b, s in workloads:
            header += [f"GFLOPs {b}x{s}", f"latency {b}x{s} (ms)", f"throughput {b}x{s} (seq/s)"]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for model in models:
            for runtime in runtimes:
                cells = [r for r in self.rows if r.model == model and r.runtime == runtime]
                if not cells:
                    continue
                first = cells[0]
                line = [model, runtime, f"{first.parameters / 1e6:.2f}", f"{first.file_size_bytes / 2**20:.1f}"]
                for w in workloads:
                    r = next((c for c in cells if (c.batch_size, c.seq_len) == w), None)
                    line += (
                        ["-", "-", "-"]
                        if r is None
                        else [f"{r.flops / 1e9:.3g}", f"{r.latency_ms:.3g}", f"{r.throughput:.4g}"]
                    )
                lines.append("| " + " | ".join(line) + " |")
        if self.comparisons:
            lines += [
                "",
                "| candidate | baseline | workload | speed-up (medians) | speed-up (fastest passes) | FLOPs ratio "
                "| target | met |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for c in self.comparisons:
                target = "-" if c.target is None else f">= {c.target:g}x"
                met = "-" if c.target_met is None else ("yes" if c.target_met else "no")
                fastest = "-" if c.speedup_fastest is None else f"{c.speedup_fastest:.1f}x"
                lines.append(
                    f"| {c.candidate[0]} ({c.candidate[1]}) | {c.baseline[0]} ({c.baseline[1]}) | "
                    f"{c.workload[0]}x{c.workload[1]} | {c.speedup:.1f}x | {fastest} | {c.flops_ratio:.1f}x | "
                    f"{target} | {met} |"
                )
        return "\n".join(lines) + "\n"

    def plot(self, path: str | os.PathLike) -> Path:
        """Write a bar chart (one panel per workload, log-scale latency per model and runtime) as PNG."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        workloads = sorted({(r.batch_size, r.seq_len) for r in self.rows}, key=lambda w: w[0] * w[1])
        models = list(dict.fromkeys(r.model for r in self.rows))
        runtimes = [rt for rt in RUNTIMES if any(r.runtime == rt for r in self.rows)]
        fig, axes = plt.subplots(1, len(workloads), figsize=(5.5 * len(workloads), 4.2), squeeze=False)
        width = 0.8 / len(runtimes)
        for ax, (b, s) in zip(axes[0], workloads):
            for i, runtime in enumerate(runtimes):
                xs, ys = [], []
                for j, model in enumerate(models):
                    r = next(
                        (
                            r
                            for r in self.rows
                            if (r.model, r.runtime, r.batch_size, r.seq_len) == (model, runtime, b, s)
                        ),
                        None,
                    )
                    if r is not None:
                        xs.append(j + (i - (len(runtimes) - 1) / 2) * width)
                        ys.append(r.latency_ms)
                bars = ax.bar(xs, ys, width, label=runtime)
                ax.bar_label(bars, fmt="%.3g", fontsize=7)
            ax.set_xticks(range(len(models)), models, rotation=15)
            ax.set_yscale("log")
            ax.set_ylabel("median latency (ms, log scale)")
            ax.set_title(f"batch {b} x seq {s}, {self.settings.get('threads')} threads")
            ax.legend(fontsize=8)
        fig.tight_layout()
        path = Path(path)
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return path


# ------------------------------------------------------------------------------------------ models


def load_benchmark_model(spec: str, *, num_labels: int = 2) -> tuple[str, PreTrainedModel, str]:
    """Build or load one model to benchmark.

    Args:
        spec: a shape name from `MODEL_SHAPES` (random weights, sequence classification with `num_labels`
            classes), a saved model folder, or ``NAME=FOLDER`` to name a folder in the report.
        num_labels: classes of the classifier built for shape names.

    Returns:
        (name, model in eval mode, task).

    Raises:
        ValueError: `spec` is neither a known shape nor an existing folder with a config.json.
    """
    name, _, path = spec.partition("=") if "=" in spec else (None, "", spec)
    if path in MODEL_SHAPES and name is None:
        torch.manual_seed(0)
        model = AutoModelForSequenceClassification.from_config(config_for_shape(path, num_labels=num_labels))
        return path, model.eval(), "text-classification"
    folder = Path(path)
    if not (folder / "config.json").is_file():
        raise ValueError(
            f"Model {spec!r} is neither a known shape ({', '.join(MODEL_SHAPES)}) nor a folder with a config.json"
        )
    config = AutoConfig.from_pretrained(folder)
    head = onnx_head((config.architectures or [None])[0])
    model = head.auto_class.from_pretrained(folder)
    return name or folder.name, model.eval(), head.pipeline_tag


def _benchmark_inputs(model: PreTrainedModel, batch_size: int, seq_len: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(batch_size * 1000 + seq_len)
    ids = torch.randint(
        1000 if model.config.vocab_size > 2000 else 0,
        model.config.vocab_size,
        (batch_size, seq_len),
        generator=generator,
    )
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids)}


def default_threads() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


@dataclass
class _Runner:
    """One (model, runtime): a forward function per workload, and what the rows need to know."""

    model: str
    runtime: str
    parameters: int
    file_size_bytes: int
    flops: dict[tuple[int, int], int]
    forwards: dict[tuple[int, int], object]


def _prepare(name, model, task, runtimes, workloads, folder: Path, threads: int) -> list[_Runner]:
    from safetensors.torch import save_model

    folder.mkdir(parents=True, exist_ok=True)
    files = {"pytorch": folder / "model.safetensors"}
    save_model(model, os.fspath(files["pytorch"]))
    if any(r.startswith("onnx") for r in runtimes):
        files["onnx-fp32"] = folder / "model.onnx"
        torch_to_onnx(model, files["onnx-fp32"], task=task)
    if "onnx-int8" in runtimes:
        files["onnx-int8"] = folder / "model_quantized.onnx"
        quantize_onnx(files["onnx-fp32"], files["onnx-int8"])
    params = count_parameters(model)
    flops = {w: encoder_flops(model.config, *w, task=task) for w in workloads}
    inputs = {w: _benchmark_inputs(model, *w) for w in workloads}
    runners = []
    for runtime in runtimes:
        forwards = {}
        if runtime == "pytorch":
            for w in workloads:

                def forward(x=inputs[w]):
                    with torch.inference_mode():
                        model(**x)

                forwards[w] = forward
        else:
            # no spinning: an idle session's threads must not steal the cores from the next measurement
            session = onnx_session(files[runtime], threads=threads, spinning=False)
            for w in workloads:
                forwards[w] = functools.partial(session.run, None, onnx_feed(session, inputs[w]))
        runners.append(_Runner(name, runtime, params, files[runtime].stat().st_size, flops, forwards))
    return runners


def run_benchmark(
    models: Sequence[str | tuple[str, PreTrainedModel]],
    *,
    workloads: Sequence[tuple[int, int]] = DEFAULT_WORKLOADS,
    runtimes: Sequence[str] = RUNTIMES,
    threads: int | None = None,
    warmup: int = 3,
    repeats: int = 10,
    work_dir: str | os.PathLike | None = None,
) -> BenchmarkReport:
    """Measure every model in every runtime on every workload, interleaved, in one process.

    All models and ONNX Runtime sessions are prepared first; then, for each workload, every
    (model, runtime) runs `warmup` untimed passes, and the `repeats` timed passes go round-robin over
    all of them, so that a change in the machine's load during the run hits every measurement alike.

    Args:
        models: shape names, model folders (see `load_benchmark_model`) or ``(name, model)`` pairs of loaded
            BERT/TinyBERT models.
        workloads: (batch_size, seq_len) pairs; the inputs are random token ids without padding.
        runtimes: any of `RUNTIMES`.
        threads: intra-op threads for PyTorch and ONNX Runtime; by default every core this process may use.
        warmup: untimed forward passes before timing.
        repeats: timed forward passes; the median is reported.
        work_dir: where the ONNX and safetensors files are written (a temporary folder by default).

    Returns:
        A `BenchmarkReport` (no comparisons yet; add them with `BenchmarkReport.compare`).

    Raises:
        ValueError: unknown runtime or model, no models, or a non-positive workload, thread or repeat count.
    """
    unknown = [r for r in runtimes if r not in RUNTIMES]
    if unknown or not runtimes:
        raise ValueError(f"Unknown runtimes {unknown or list(runtimes)}; valid runtimes are: {', '.join(RUNTIMES)}")
    if not models:
        raise ValueError("No models to benchmark; give shape names, model folders or (name, model) pairs")
    workloads = [tuple(w) for w in workloads]
    if not workloads or any(len(w) != 2 or w[0] < 1 or w[1] < 1 for w in workloads):
        raise ValueError(f"Workloads must be (batch_size >= 1, seq_len >= 1) pairs, got {workloads}")
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {repeats} and {warmup}")
    threads = threads or default_threads()
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    for spec in models:
        if isinstance(spec, str):
            path = spec.partition("=")[2] if "=" in spec else spec
            if path not in MODEL_SHAPES and not (Path(path) / "config.json").is_file():
                raise ValueError(
                    f"Model {spec!r} is neither a known shape ({', '.join(MODEL_SHAPES)}) nor a folder with a config.json"
                )

    import onnxruntime

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    temp = tempfile.TemporaryDirectory(prefix="hf_tinybert_bench_") if work_dir is None else None
    root = Path(temp.name if temp is not None else work_dir)
    load_before = load_average()
    rows: list[BenchmarkRow] = []
    runners: list[_Runner] = []
    try:
        for spec in logging.tqdm(models, desc="preparing models"):
            if isinstance(spec, str):
                name, model, task = load_benchmark_model(spec)
            else:
                name, model = spec
                model.eval()
                task = onnx_head(type(model).__name__).pipeline_tag
            logger.info(f"Preparing {name} ({task}): safetensors, ONNX export, int8 quantization")
            runners += _prepare(name, model, task, runtimes, workloads, root / name.replace("/", "_"), threads)
        progress = logging.tqdm(total=len(workloads) * (warmup + repeats) * len(runners), desc="benchmark")
        for workload in workloads:
            for runner in runners:
                progress.set_postfix_str(f"warm-up {runner.model} {runner.runtime} {workload[0]}x{workload[1]}")
                for _ in range(warmup):
                    runner.forwards[workload]()
                    progress.update()
            times: dict[int, list[float]] = {i: [] for i in range(len(runners))}
            progress.set_postfix_str(f"timing {workload[0]}x{workload[1]}")
            for _ in range(repeats):
                for i, runner in enumerate(runners):
                    start = time.perf_counter()
                    runner.forwards[workload]()
                    times[i].append(time.perf_counter() - start)
                    progress.update()
            for i, runner in enumerate(runners):
                median = statistics.median(times[i])
                rows.append(
                    BenchmarkRow(
                        model=runner.model,
                        runtime=runner.runtime,
                        batch_size=workload[0],
                        seq_len=workload[1],
                        latency_ms=median * 1e3,
                        latency_ms_min=min(times[i]) * 1e3,
                        throughput=workload[0] / median,
                        parameters=runner.parameters,
                        file_size_bytes=runner.file_size_bytes,
                        flops=runner.flops[workload],
                    )
                )
        progress.close()
    finally:
        runners.clear()
        gc.collect()
        torch.set_num_threads(previous_threads)
        if temp is not None:
            temp.cleanup()
    settings = {
        "threads": threads,
        "warmup": warmup,
        "repeats": repeats,
        "workloads": [list(w) for w in workloads],
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cores_available": default_threads(),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "schedule": "models prepared first; per workload, warm-up then timed passes round-robin over (model, runtime)",
        "inputs": "random token ids, no padding, token_type_ids 0",
        "flops": "analytic, matrix products only (see hf_tinybert.export.model_size.encoder_flops)",
    }
    return BenchmarkReport(rows=rows, settings=settings)


def write_report(report: BenchmarkReport, output_dir: str | os.PathLike, *, stem: str = "benchmark") -> dict[str, Path]:
    """Write ``<stem>.json``, ``<stem>.md`` and ``<stem>.png`` into `output_dir` (created if needed).

    Returns:
        ``{"json": path, "markdown": path, "chart": path}``.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": output_dir / f"{stem}.json",
        "markdown": output_dir / f"{stem}.md",
        "chart": output_dir / f"{stem}.png",
    }
    paths["json"].write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    paths["markdown"].write_text(report.to_markdown(), encoding="utf-8")
    report.plot(paths["chart"])
    return paths


def load_report(path: str | os.PathLike) -> BenchmarkReport:
    """Read a report written by `write_report` (its JSON file)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    comparisons = [
        Comparison(
            baseline=tuple(c["baseline"]),
            candidate=tuple(c["candidate"]),
            workload=tuple(c["workload"]),
            speedup=c["speedup"],
            flops_ratio=c["flops_ratio"],
            target=c.get("target"),
            speedup_fastest=c.get("speedup_fastest"),
        )
        for c in data.get("comparisons", [])
    ]
    return BenchmarkReport(
        rows=[BenchmarkRow(**r) for r in data["rows"]], settings=data["settings"], comparisons=comparisons
    )


__all__ = [
    "DEFAULT_WORKLOADS",
    "RUNTIMES",
    "BenchmarkReport",
    "BenchmarkRow",
    "Comparison",
    "default_threads",
    "load_benchmark_model",
    "load_report",
    "run_benchmark",
    "write_report",
]
