"""Measure inference speed: PyTorch vs ONNX Runtime fp32/int8, latency, throughput, size and FLOPs.

  hf-tinybert benchmark bert-base tinybert-4l-312d [my-student=path/to/folder] --output_dir bench

Models are shape names (random weights: speed does not depend on them) or saved model folders, optionally
named NAME=FOLDER. Every (model, runtime) is compared with the first model (or --baseline) in PyTorch on
each workload. Writes benchmark.json, benchmark.md and benchmark.png into --output_dir.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _workload(value: str) -> tuple[int, int]:
    try:
        batch, seq = (int(part) for part in value.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not BATCHxSEQ, e.g. 32x64") from None
    if batch < 1 or seq < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: batch and sequence length must be positive")
    return batch, seq


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `hf-tinybert benchmark`."""
    from hf_tinybert.export.benchmark import DEFAULT_WORKLOADS, RUNTIMES
    from hf_tinybert.export.model_size import MODEL_SHAPES

    parser = argparse.ArgumentParser(
        prog="hf-tinybert benchmark",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1] + f"\nShapes: {', '.join(MODEL_SHAPES)}.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("models", nargs="+", help="shape names, model folders or NAME=FOLDER")
    parser.add_argument("--output_dir", required=True, help="folder for benchmark.json, benchmark.md, benchmark.png")
    parser.add_argument("--runtimes", nargs="+", choices=RUNTIMES, default=list(RUNTIMES), help="runtimes to measure")
    parser.add_argument(
        "--workloads",
        nargs="+",
        type=_workload,
        default=list(DEFAULT_WORKLOADS),
        help="BATCHxSEQ workloads (default: 1x128 32x64)",
    )
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads (default: all cores)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed passes before timing (default: 3)")
    parser.add_argument("--repeats", type=int, default=10, help="timed passes, median reported (default: 10)")
    parser.add_argument("--baseline", default=None, help="model the others are compared with (default: the first)")
    parser.add_argument(
        "--overwrite_output_dir", "--overwrite", action="store_true", help="replace an earlier benchmark's files"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run `hf-tinybert benchmark`; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)

    from hf_tinybert.export.benchmark import run_benchmark, write_report

    names = [m.partition("=")[0] if "=" in m else Path(m).name if Path(m).is_dir() else m for m in args.models]
    baseline = args.baseline or names[0]
    output_dir = Path(args.output_dir)
    existing = [p for p in (output_dir / f"benchmark.{ext}" for ext in ("json", "md", "png")) if p.exists()]
    try:
        if baseline not in names:
            raise ValueError(f"Baseline {baseline!r} is not one of the models: {', '.join(names)}")
        if existing and not args.overwrite_output_dir:
            raise ValueError(
                f"{output_dir} already holds {', '.join(p.name for p in existing)}; pass --overwrite_output_dir"
            )
        report = run_benchmark(
            args.models,
            workloads=args.workloads,
            runtimes=args.runtimes,
            threads=args.threads,
            warmup=args.warmup,
            repeats=args.repeats,
        )
    except (ValueError, FileNotFoundError) as err:
        print(f"hf-tinybert benchmark: error: {err}", file=sys.stderr)
        return 2
    if "pytorch" in args.runtimes:
        reference = (baseline, "pytorch")
        for workload in args.workloads:
            for row in report.rows:
                candidate = (row.model, row.runtime)
                if (row.batch_size, row.seq_len) == tuple(workload) and candidate != reference:
                    report.comparisons.append(report.compare(reference, candidate, workload))
    paths = write_report(report, output_dir)
    print(report.to_markdown())
    print(f"Wrote {paths['json']}, {paths['markdown']}, {paths['chart']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
