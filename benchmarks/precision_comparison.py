"""fp32 and `--precision auto` side by side: the demo, `reproduce_glue.py` on SST-2, general distillation tokens/s.

Runs, one after the other on this machine (each run is skipped when its summary exists, so an interrupted
comparison resumes):

  1. `hf-tinybert demo --precision P` for P in fp32, auto: the command's wall time, the sum of the training steps'
     times, teacher and student accuracy;
  2. `benchmarks/reproduce_glue.py --task sst2 --budget small --precision P --rows ROWS`: the TinyBERT row's
     accuracy and the sum of the stage wall times (shared stages + the rows);
  3. general distillation tokens/s from docs/general_distill_throughput.json (run
     `benchmarks/general_distill_throughput.py` first: it measures fp32 and auto interleaved in one process).

Writes docs/precision.md and .json with the targets of the issue ("auto <= 0.6x fp32 demo wall time, accuracy within
1 point; GD tokens/s >= 1.8x; TinyBERT row within 1 point, stage wall times <= 0.65x") checked against the
measurements. The runs are sequential (not interleaved), so the machine's load at each run's start is recorded, and
a busy machine is flagged.

    python benchmarks/precision_comparison.py                    # ~25 min on 2 cores with avx512_bf16
    python benchmarks/precision_comparison.py --rows tinybert,teacher_layers,no_kd,kd_logits
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from hf_tinybert.utils import LoadRecord

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PRECISIONS = ("fp32", "auto")


def settle(limit_s: float = 180.0) -> None:
    """Wait (up to `limit_s`) until the 1-minute load average, raised by the previous run, falls below half the cores,
    so that each run starts on a quiet machine and its recorded start load says whether other jobs were running."""
    deadline = time.monotonic() + limit_s
    while LoadRecord.start().busy and time.monotonic() < deadline:
        time.sleep(5)


def run_once(name: str, summary: Path, command: list[str]) -> dict:
    """Run `command` unless `summary` exists; its wall time and load go to `summary`'s folder in `timing.json`."""
    timing = summary.parent / "timing.json"
    if summary.is_file() and timing.is_file():
        print(f"[{name}] done earlier: {summary}", flush=True)
        return json.loads(timing.read_text())
    settle()
    print(f"[{name}] {' '.join(command)}", flush=True)
    load, start = LoadRecord.start(), time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT)
    record = {"wall_s": time.perf_counter() - start, "load": load.finish().to_dict()}
    timing.parent.mkdir(parents=True, exist_ok=True)
    timing.write_text(json.dumps(record, indent=2))
    return record


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work_dir", default="runs/precision-comparison")
    parser.add_argument("--rows", default="tinybert,teacher_layers", help="reproduce_glue.py rows to run")
    parser.add_argument("--output", default=str(DOCS / "precision.md"))
    args = parser.parse_args(argv)
    work = (ROOT / args.work_dir).resolve()
    python = sys.executable
    results: dict = {"demo": {}, "glue": {}, "rows": args.rows}
    for precision in PRECISIONS:
        folder = work / f"demo-{precision}"
        timing = run_once(
            f"demo {precision}",
            folder / "summary.json",
            [python, "-m", "hf_tinybert.cli", "demo", "--precision", precision, "--output_dir", str(folder)],
        )
        summary = json.loads((folder / "summary.json").read_text())
        results["demo"][precision] = {
            **timing,
            "training_step_s": sum(summary["step_seconds"].get(s, 0) for s in ("teacher", "general", "task_distill")),
            "total_step_s": summary["total_step_seconds"],
            "teacher_accuracy": summary["models"]["teacher (PyTorch)"]["accuracy"],
            "student_accuracy": summary["models"]["student (PyTorch)"]["accuracy"],
        }
    for precision in PRECISIONS:
        folder = work / f"glue-{precision}"
        script = str(ROOT / "benchmarks" / "reproduce_glue.py")
        command = [python, script, "--task", "sst2", "--budget", "small", "--precision", precision]
        timing = run_once(
            f"reproduce_glue {precision}",
            folder / "summary.json",
            command + ["--rows", args.rows, "--no_docs", "--work_dir", str(folder)],
        )
        summary = json.loads((folder / "summary.json").read_text())
        rows = summary["rows"]
        results["glue"][precision] = {
            **timing,
            "stage_wall_s": sum(summary["shared_stages_wall_s"].values())
            + sum(r["wall_s"] for k, r in rows.items() if k != "teacher"),
            "accuracy": {k: 100 * r["eval"]["accuracy"] for k, r in rows.items()},
            "stage_seconds": {
                **summary["shared_stages_wall_s"],
                **{k: r["wall_s"] for k, r in rows.items() if k != "teacher"},
            },
        }
    throughput_file = DOCS / "general_distill_throughput.json"
    throughput = json.loads(throughput_file.read_text()) if throughput_file.is_file() else None
    (Path(args.output).with_suffix(".json")).write_text(json.dumps(results, indent=2))
    text = render(results, throughput)
    Path(args.output).write_text(text)
    print(text)
    return 0


def _load(record: dict) -> str:
    load = record["load"]
    return f"{load['load_before']:.2f}" + (" (busy)" if load["busy"] else "")


def render(results: dict, throughput: dict | None) -> str:
    demo, glue = results["demo"], results["glue"]
    d32, dau = demo["fp32"], demo["auto"]
    g32, gau = glue["fp32"], glue["auto"]
    busy = [
        name
        for name, record in [(f"demo {p}", demo[p]) for p in PRECISIONS] + [(f"glue {p}", glue[p]) for p in PRECISIONS]
        if record["load"]["busy"]
    ]
    lines = [
        "# fp32 and `--precision auto`, side by side",
        "",
        *(
            [
                f"**Measured on a busy machine ({', '.join(busy)} started above half the cores' load): not a result.**",
                "",
            ]
            if busy
            else []
        ),
        "Produced by `python benchmarks/precision_comparison.py` (the runs one after the other on one machine; the "
        "1-minute load average at each run's start is in the tables). What `auto` chose, and why, is in each run's "
        "`run_arguments.json` and model card (`precision_decision`), and below.",
        "",
        "## `hf-tinybert demo`",
        "",
        "| | `--precision fp32` | `--precision auto` | auto / fp32 |",
        "|---|---:|---:|---:|",
        f"| command wall time (s) | {d32['wall_s']:.0f} | {dau['wall_s']:.0f} | {dau['wall_s'] / d32['wall_s']:.2f} |",
        f"| training steps (teacher, general, task distillation) (s) | {d32['training_step_s']:.0f} | "
        f"{dau['training_step_s']:.0f} | {dau['training_step_s'] / d32['training_step_s']:.2f} |",
        f"| all steps (s) | {d32['total_step_s']:.0f} | {dau['total_step_s']:.0f} | "
        f"{dau['total_step_s'] / d32['total_step_s']:.2f} |",
        f"| teacher accuracy (%) | {100 * d32['teacher_accuracy']:.1f} | {100 * dau['teacher_accuracy']:.1f} | "
        f"{100 * (dau['teacher_accuracy'] - d32['teacher_accuracy']):+.1f} pt |",
        f"| student accuracy (%) | {100 * d32['student_accuracy']:.1f} | {100 * dau['student_accuracy']:.1f} | "
        f"{100 * (dau['student_accuracy'] - d32['student_accuracy']):+.1f} pt |",
        f"| load at start | {_load(d32)} | {_load(dau)} | |",
        "",
        f"Target: wall time with auto <= 0.6x fp32: {verdict(dau['wall_s'] <= 0.6 * d32['wall_s'])} "
        f"({dau['wall_s'] / d32['wall_s']:.2f}x); student accuracy within 1 point: "
        f"{verdict(abs(dau['student_accuracy'] - d32['student_accuracy']) <= 0.01)}.",
        "",
        f"## `reproduce_glue.py --task sst2 --budget small` (rows: {results['rows']})",
        "",
        "| | `--precision fp32` | `--precision auto` | auto / fp32 |",
        "|---|---:|---:|---:|",
    ]
    for stage, seconds in g32["stage_seconds"].items():
        other = gau["stage_seconds"].get(stage)
        if other is not None:
            lines.append(f"| {stage} (s) | {seconds:.0f} | {other:.0f} | {other / seconds:.2f} |" if seconds else "")
    lines += [
        f"| **sum of stage wall times (s)** | **{g32['stage_wall_s']:.0f}** | **{gau['stage_wall_s']:.0f}** | "
        f"**{gau['stage_wall_s'] / g32['stage_wall_s']:.2f}** |",
    ]
    for row, score in g32["accuracy"].items():
        other = gau["accuracy"].get(row)
        if other is not None:
            lines.append(f"| `{row}` dev accuracy (%) | {score:.1f} | {other:.1f} | {other - score:+.1f} pt |")
    lines += [
        f"| load at start | {_load(g32)} | {_load(gau)} | |",
        "",
        f"Target: TinyBERT row within 1 point: {verdict(abs(gau['accuracy']['tinybert'] - g32['accuracy']['tinybert']) <= 1)}; "
        f"sum of stage wall times <= 0.65x: {verdict(gau['stage_wall_s'] <= 0.65 * g32['stage_wall_s'])} "
        f"({gau['stage_wall_s'] / g32['stage_wall_s']:.2f}x).",
    ]
    if throughput and {"fp32", "auto"} <= set(throughput.get("precisions", {})):
        t32, tau = throughput["precisions"]["fp32"], throughput["precisions"]["auto"]
        ratio = tau["tokens_per_s"] / t32["tokens_per_s"]
        lines += [
            "",
            "## General distillation (BERT-base-shaped teacher, 4L-312 student, seq 128)",
            "",
            "From [general_distill_throughput.md](general_distill_throughput.md) (fp32 and auto interleaved in one "
            f"process; load at start {throughput['load_before']:.2f}):",
            "",
            "| | `--precision fp32` | `--precision auto` | auto / fp32 |",
            "|---|---:|---:|---:|",
            f"| tokens / s | {t32['tokens_per_s']:,.0f} | {tau['tokens_per_s']:,.0f} | {ratio:.2f} |",
            f"| teacher forward (s) | {t32['median_teacher_forward_s']:.2f} | {tau['median_teacher_forward_s']:.2f} | "
            f"{tau['median_teacher_forward_s'] / t32['median_teacher_forward_s']:.2f} |",
            "",
            f"Target: auto >= 1.8x fp32 tokens/s: {verdict(ratio >= 1.8)} ({ratio:.2f}x). `auto` chose: "
            f"{tau['decision']}.",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
