"""Measure inference speed: PyTorch vs ONNX Runtime fp32/int8, latency, throughput, size and FLOPs.

  hf-tinybert benchmark bert-base tinybert-4l-312d [my-student=path/to/folder] --output_dir bench

Models are shape names (random weights: speed does not depend on them) or saved model folders, optionally
named NAME=FOLDER. Without --threads it uses 1 thread or all cores, whichever runs a test pass faster just before
(on cores other processes share, more threads can be several times slower), and warns when the machine is busy.
Every (model, runtime) is compared with the first model (or --baseline) in PyTorch on
each workload. Writes benchmark.json, benchmark.md and benchmark.png into --output_dir.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import command
from .arguments import parse_arguments, split_list


def parse_workload(value: str) -> tuple[int, int]:
    """`"32x64"` -> (32, 64)."""
    try:
        batch, seq = (int(part) for part in value.lower().split("x"))
    except ValueError:
        raise ValueError(f"--workloads: {value!r} is not BATCHxSEQ, e.g. 32x64") from None
    if batch < 1 or seq < 1:
        raise ValueError(f"--workloads: {value!r}: batch and sequence length must be positive")
    return batch, seq


@dataclass
class BenchmarkArguments:
    """What `hf-tinybert benchmark` measures."""

    models: list[str] = field(metadata={"help": "Shape names, model folders or NAME=FOLDER."})
    output_dir: str = field(metadata={"help": "Folder for benchmark.json, benchmark.md, benchmark.png."})
    runtimes: list[str] = field(
        default_factory=lambda: ["pytorch", "onnx-fp32", "onnx-int8"],
        metadata={"help": "Runtimes to measure: pytorch, onnx-fp32, onnx-int8."},
    )
    workloads: list[str] = field(default_factory=lambda: ["1x128", "32x64"], metadata={"help": "BATCHxSEQ workloads."})
    threads: int | None = field(
        default=None,
        metadata={"help": "Intra-op threads (default: 1 or all cores, whichever runs a test pass faster now)."},
    )
    warmup: int = field(default=3, metadata={"help": "Untimed passes before timing."})
    repeats: int = field(default=10, metadata={"help": "Timed passes; the median is reported."})
    baseline: str | None = field(
        default=None, metadata={"help": "Model the others are compared with (default: the first)."}
    )
    overwrite_output_dir: bool = field(
        default=False, metadata={"aliases": ["--overwrite"], "help": "Replace an earlier benchmark's files."}
    )


@command("benchmark")
def main(argv: list[str]) -> int:
    """Run `hf-tinybert benchmark`; returns the exit status."""
    from hf_tinybert.export.model_size import MODEL_SHAPES

    (args,) = parse_arguments(
        (BenchmarkArguments,),
        argv,
        "hf-tinybert benchmark",
        __doc__ + f"\nShapes: {', '.join(MODEL_SHAPES)}.",
        positionals={"models": "MODEL"},
    )
    from hf_tinybert.export.benchmark import RUNTIMES, run_benchmark, write_report
    from hf_tinybert.utils import LoadRecord, fastest_thread_count

    workloads = [parse_workload(w) for w in split_list(args.workloads)]
    runtimes = split_list(args.runtimes)
    unknown = sorted(set(runtimes) - set(RUNTIMES))
    if unknown:
        raise ValueError(f"--runtimes: unknown {unknown}; valid are {', '.join(RUNTIMES)}")
    names = [m.partition("=")[0] if "=" in m else Path(m).name if Path(m).is_dir() else m for m in args.models]
    baseline = args.baseline or names[0]
    if baseline not in names:
        raise ValueError(f"Baseline {baseline!r} is not one of the models: {', '.join(names)}")
    output_dir = Path(args.output_dir)
    existing = [p for p in (output_dir / f"benchmark.{ext}" for ext in ("json", "md", "png")) if p.exists()]
    if existing and not args.overwrite_output_dir:
        raise FileExistsError(
            f"{output_dir} already holds {', '.join(p.name for p in existing)}; pass --overwrite_output_dir"
        )
    load = LoadRecord.start()
    if load.busy:
        print(load.warning(), file=sys.stderr)
    threads = args.threads or fastest_thread_count()
    report = run_benchmark(
        args.models, workloads=workloads, runtimes=runtimes, threads=threads, warmup=args.warmup, repeats=args.repeats
    )
    if "pytorch" in runtimes:
        reference = (baseline, "pytorch")
        for workload in workloads:
            for row in report.rows:
                candidate = (row.model, row.runtime)
                if (row.batch_size, row.seq_len) == tuple(workload) and candidate != reference:
                    report.comparisons.append(report.compare(reference, candidate, workload))
    paths = write_report(report, output_dir)
    print(report.to_markdown())
    print(f"Wrote {paths['json']}, {paths['markdown']}, {paths['chart']}")
    return 0
