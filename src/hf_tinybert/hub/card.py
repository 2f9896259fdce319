"""Model cards for TinyBERT students, written from facts gathered while they were distilled.

`ModelCardCallback` is a `transformers.TrainerCallback` (after SetFit's model card callback): it
records, at the start of each training run, the student's and teacher's shapes, the distillation
settings (stage, layer map, loss weights, temperature, augmentation) and the hyper-parameters; after
each evaluation, the metrics; at the end, the steps and loss. One callback can follow several runs
(general then task-specific distillation): each becomes a stage of the card. `write_model_card`
renders the facts with the Jinja template shipped in the package (``hf_tinybert/templates/model_card.md``)
into a ``README.md`` whose YAML header has the Hub's ``model-index`` with the evaluation results.

Secrets never reach a card: hyper-parameters are copied from an allow-list, and distillation fields
whose names mention a token, password or secret are skipped.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from transformers import TrainingArguments
from transformers.utils import logging

from ..distill.callbacks import StudentCardHooks
from ..distill.capture import unwrap
from ..modeling.heads import head_from_architecture
from ..precision import PrecisionArguments

logger = logging.get_logger(__name__)

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "templates" / "model_card.md"
CARD_FILE = "README.md"
FACTS_FILE = "model_card_facts.json"  # the facts beside the card, so that `push_student` can render it again

# TrainingArguments fields a card shows, in this order.
HYPERPARAMETER_FIELDS: tuple[str, ...] = (
    "learning_rate",
    "per_device_train_batch_size",
    "per_device_eval_batch_size",
    "gradient_accumulation_steps",
    "num_train_epochs",
    "max_steps",
    "warmup_steps",
    "weight_decay",
    "lr_scheduler_type",
    "optim",
    "max_grad_norm",
    "seed",
    "fp16",
    "bf16",
    "precision_decision",
)
SECRET_MARKERS: tuple[str, ...] = ("token", "password", "secret", "credential")
# Metrics that describe a run rather than the model: kept out of the card's results.
NON_RESULT_METRICS: tuple[str, ...] = (
    "loss",
    "runtime",
    "samples_per_second",
    "steps_per_second",
    "epoch",
    "model_preparation_time",
)
# Distillation settings only some stages use (the others are shown by every stage: mask_padding, teacher_dtype, ...).
INTERMEDIATE_SETTINGS: tuple[str, ...] = (
    "layer_map",
    "embedding_loss_weight",
    "attention_loss_weight",
    "hidden_loss_weight",
    "projection",
    "attention_loss",
    "attention_head_average",
    "equal_width_projection",
    "load_projections",
)
PREDICTION_SETTINGS: tuple[str, ...] = ("prediction_loss_weight", "temperature", "scale_loss_by_t2")
STAGE_SETTINGS: dict[str, tuple[str, ...]] = {  # stage -> the stage-specific settings it uses
    "general": (*INTERMEDIATE_SETTINGS, "hard_label_loss_weight"),
    "intermediate": INTERMEDIATE_SETTINGS,
    "prediction": (*PREDICTION_SETTINGS, "hard_label_loss_weight"),
    "joint": (*INTERMEDIATE_SETTINGS, *PREDICTION_SETTINGS, "hard_label_loss_weight"),
}
# `datasets` builders a Dataset built in memory or from local files reports: they name no dataset.
PACKAGED_BUILDERS: frozenset[str] = frozenset({"generator", "json", "csv", "text", "parquet", "arrow", "pandas"})
# Augmentation fields of DistillationArguments, whatever their final names.
AUGMENTATION_MARKERS: tuple[str, ...] = ("augment", "glove", "candidate", "num_aug", "replace_prob", "p_t", "top_k")
SHAPE_FIELDS: tuple[str, ...] = (
    "num_hidden_layers",
    "hidden_size",
    "intermediate_size",
    "num_attention_heads",
    "vocab_size",
    "max_position_embeddings",
)


@dataclass
class ModelCardFacts:
    """Everything a student's card says, gathered by `ModelCardCallback` or filled by hand.

    Attributes:
        model_name: the card's title (and the ``model-index`` name).
        repo_id: the Hub repository, used in the loading examples.
        teacher_id: the teacher's Hub id or path; the card's ``base_model``.
        student_shape / teacher_shape: layers, hidden size, FFN size, heads, vocabulary, positions.
        student_parameters / teacher_parameters: parameter counts.
        architecture: the student's class name (decides the pipeline tag and Auto class).
        stages: one dict per training run: ``stage``, ``distillation`` (settings), ``hyperparameters``,
            ``train_datasets``, ``training`` (steps, loss, runtime) and ``eval_results``.
        augmentation: data augmentation settings, if any.
        datasets: Hub ids of the training data (YAML ``datasets``).
        eval_dataset: ``{"id", "name", "config", "split"}`` of the data `eval_results` were measured on.
        eval_results: metric -> value of the last evaluation.
        speedups: measured speed-ups (see `speedups_from_benchmark`).
        fine_tuned: a fine-tuned model (a teacher from `finetune`), not a distilled student; `teacher_id` is then
            its base model.
        include_plain_bert / include_onnx: whether the repository has ``plain-bert/`` / ``onnx/`` folders.
        onnx_files: extra ONNX files in ``onnx/`` (``model_quantized.onnx``, ...).
        language / license / tags: YAML metadata; language and license only when given or inherited from the
            teacher's card (never assumed).
    """

    model_name: str | None = None
    repo_id: str | None = None
    teacher_id: str | None = None
    student_shape: dict | None = None
    teacher_shape: dict | None = None
    student_parameters: int | None = None
    teacher_parameters: int | None = None
    architecture: str | None = None
    stages: list[dict] = field(default_factory=list)
    augmentation: dict | None = None
    datasets: list[str] = field(default_factory=list)
    eval_dataset: dict | None = None
    eval_results: dict[str, float] = field(default_factory=dict)
    speedups: list[dict] = field(default_factory=list)
    fine_tuned: bool = False
    include_plain_bert: bool = False
    include_onnx: bool = False
    onnx_files: list[str] = field(default_factory=list)
    language: str | None = None
    license: str | None = None
    tags: list[str] = field(default_factory=lambda: ["tinybert", "knowledge-distillation", "hf-tinybert"])

    @classmethod
    def from_dict(cls, values: dict) -> ModelCardFacts:
        """Facts from a dict (unknown keys are an error, so typos do not vanish silently).

        Raises:
            ValueError: a key that is not a field of `ModelCardFacts`.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"Unknown model card facts {unknown}; valid keys are: {', '.join(sorted(names))}")
        return cls(**values)

    def to_dict(self) -> dict:
        """The facts as plain data (what `save` writes)."""
        return dataclasses.asdict(self)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the facts as JSON, so that a card can be rendered again later (e.g. when pushing)."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> ModelCardFacts:
        """Read facts written by `save`."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


# ----------------------------------------------------------------------------------- fact gathering


def _is_secret(name: str) -> bool:
    return any(marker in name.lower() for marker in SECRET_MARKERS)


def _plain(value):
    """A JSON/YAML-friendly copy of an argument value (enums by value, tuples as lists, other objects as str)."""
    if isinstance(value, enum.Enum):  # SchedulerType, OptimizerNames, ...: their strings (before `str`: they are str)
        return value.value
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if not _is_secret(str(k))}
    return str(value)


def _parameter_count(model) -> int:
    """Number of parameters of a model (tied weights counted once)."""
    return sum(p.numel() for p in model.parameters())


def model_shape(config) -> dict:
    """The shape fields of a BERT-family config (`SHAPE_FIELDS`)."""
    return {name: getattr(config, name) for name in SHAPE_FIELDS if getattr(config, name, None) is not None}


def hyperparameters_of(args: TrainingArguments) -> dict:
    """The allow-listed hyper-parameters of a run, plus the total train batch size."""
    values = {
        name: _plain(getattr(args, name))
        for name in HYPERPARAMETER_FIELDS
        if getattr(args, name, "") != ""  # precision_decision: only when a precision was decided
    }
    world = getattr(args, "world_size", 1) or 1
    if "per_device_train_batch_size" in values:
        values["total_train_batch_size"] = (
            args.per_device_train_batch_size * getattr(args, "gradient_accumulation_steps", 1) * world
        )
    return values


def distillation_settings_of(args) -> dict:
    """The fields a `TrainingArguments` subclass adds (stage, layer map, loss weights, temperature, ...).

    Read generically, so the card follows `DistillationArguments` whatever its exact field names;
    secret-looking fields are skipped.
    """
    if not dataclasses.is_dataclass(args):
        return {}
    base = {f.name for f in dataclasses.fields(PrecisionArguments)}
    return {
        f.name: _plain(getattr(args, f.name, None))
        for f in dataclasses.fields(args)
        if f.name not in base and not _is_secret(f.name) and not f.name.startswith("_")
    }


def _dataset_label(dataset) -> str | None:
    info = getattr(dataset, "info", None)
    name = getattr(info, "dataset_name", None) or getattr(info, "builder_name", None)
    if not name or name in PACKAGED_BUILDERS:  # data built in memory or read from local files: no name to give
        return None
    config = getattr(info, "config_name", None)
    split = getattr(dataset, "split", None)
    label = name + (f"/{config}" if config and config != "default" else "")
    return label + (f" ({split})" if split else "")


class ModelCardCallback(StudentCardHooks):
    """Gathers the facts of a distillation for the student's model card.

    Add it to a trainer (``DistillationTrainer(..., callbacks=[ModelCardCallback(...)])``); after training,
    ``callback.facts`` holds what the card says and ``callback.write(output_dir)`` writes ``README.md``. It is the
    trainer's card hooks (`hf_tinybert.distill.callbacks.StudentCardHooks`): ``trainer.create_model_card()`` and
    ``trainer.push_to_hub()`` go through it, and a `DistillationTrainer` given none makes one (`for_trainer`).

    Args:
        teacher: the teacher model, or its Hub id / path. A model also gives the teacher's shape and size.
        model_name: title of the card; by default the output folder's name.
        datasets: Hub ids of the training data (YAML ``datasets``).
        eval_dataset: ``{"id", "name", "config", "split"}`` of the evaluation data, for ``model-index``.
        augmentation: data augmentation settings, when augmented data was used.
        facts: facts to start from (e.g. the stages of an earlier run, loaded with `ModelCardFacts.load`).
    """

    def __init__(
        self,
        teacher=None,
        *,
        model_name: str | None = None,
        datasets: list[str] | None = None,
        eval_dataset: dict | None = None,
        augmentation: dict | None = None,
        facts: ModelCardFacts | None = None,
    ):
        self.facts = facts if facts is not None else ModelCardFacts()
        if model_name:
            self.facts.model_name = model_name
        if datasets:
            self.facts.datasets = list(dict.fromkeys([*self.facts.datasets, *datasets]))
        if eval_dataset:
            self.facts.eval_dataset = dict(eval_dataset)
        if augmentation:
            self.facts.augmentation = _plain(augmentation)
        if isinstance(teacher, (str, os.PathLike)):
            self.facts.teacher_id = os.fspath(teacher)
        elif teacher is not None:
            self._record_teacher(teacher)

    @classmethod
    def for_trainer(cls, trainer) -> ModelCardCallback:
        """The callback a `DistillationTrainer` given none adds (`DistillationTrainer.default_card_hooks`): with the
        trainer's teacher, continuing the facts saved in the student's folder (e.g. its general-distillation stage)."""
        student_path = getattr(unwrap(trainer.model), "name_or_path", "") or ""
        facts_file = os.path.join(student_path, FACTS_FILE) if student_path else ""
        facts = ModelCardFacts.load(facts_file) if os.path.isfile(facts_file) else None
        return cls(trainer.teacher, facts=facts)

    def _record_teacher(self, teacher) -> None:
        """The teacher of the latest stage (a task-distilled student's card names its task teacher, not the general
        one), its shape and size, and the license / language of its card when the card says them."""
        self.facts.teacher_shape = model_shape(teacher.config)
        self.facts.teacher_parameters = _parameter_count(teacher)
        self.facts.teacher_id = getattr(teacher, "name_or_path", None) or self.facts.teacher_id
        inherited = _card_metadata(self.facts.teacher_id)
        for key in ("license", "language"):
            if getattr(self.facts, key) is None and inherited.get(key):
                setattr(self.facts, key, inherited[key])

    def _record_student(self, model) -> None:
        if model is None:
            return
        model = getattr(model, "module", model)  # DDP
        self.facts.student_shape = model_shape(model.config)
        self.facts.student_parameters = _parameter_count(model)
        self.facts.architecture = type(model).__name__

    def on_train_begin(self, args, state, control, model=None, train_dataloader=None, **kwargs):
        """Open a stage: distillation settings, hyper-parameters, training data, student and teacher."""
        self._record_student(model)
        settings = distillation_settings_of(args)
        teacher = kwargs.get("teacher") or getattr(args, "teacher", None)
        if teacher is not None and not isinstance(teacher, (str, os.PathLike)):
            self._record_teacher(teacher)
        for key in ("teacher_name_or_path", "teacher_model_name_or_path", "teacher_id", "teacher"):
            if isinstance(settings.get(key), str) and settings[key]:
                self.facts.teacher_id = self.facts.teacher_id or settings[key]
        augmentation = {k: v for k, v in settings.items() if any(m in k for m in AUGMENTATION_MARKERS)}
        if (
            augmentation
            and self.facts.augmentation is None
            and any(v not in (None, False, 0) for v in augmentation.values())
        ):
            self.facts.augmentation = augmentation
        label = _dataset_label(getattr(train_dataloader, "dataset", None)) if train_dataloader is not None else None
        stage_name = str(settings.get("stage") or "distillation")
        specific = {name for names in STAGE_SETTINGS.values() for name in names}
        used = set(STAGE_SETTINGS.get(stage_name, specific))
        self.facts.stages.append(
            {
                "stage": stage_name,
                "distillation": {
                    k: v for k, v in settings.items() if k != "stage" and (k not in specific or k in used)
                },
                "hyperparameters": hyperparameters_of(args),
                "train_datasets": [label] if label else [],
                "training": {},
                "eval_results": {},
            }
        )

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        """Keep the evaluation metrics (without the ``eval_`` prefix and run statistics)."""
        results = {}
        for key, value in (metrics or {}).items():
            name = key.split("_", 1)[1] if key.startswith(("eval_", "test_")) else key
            if name in NON_RESULT_METRICS or name.startswith("loss") or not isinstance(value, (int, float)):
                continue  # losses (loss_pred, ...) describe the run, not the model
            if isinstance(value, bool):
                continue
            results[name] = float(value)
        if not results:
            return
        self.facts.eval_results = results
        if self.facts.stages:
            self.facts.stages[-1]["eval_results"] = results

    def on_train_end(self, args, state, control, model=None, **kwargs):
        """Close the stage: steps, epochs, final training loss and runtime; the student's final size."""
        self._record_student(model)
        if not self.facts.stages:
            return
        training = {"steps": state.global_step}
        if state.epoch is not None:
            training["epochs"] = round(float(state.epoch), 2)
        for entry in reversed(state.log_history):
            if "train_loss" in entry:
                training["train_loss"] = round(float(entry["train_loss"]), 4)
                if "train_runtime" in entry:
                    training["runtime_s"] = round(float(entry["train_runtime"]), 1)
                break
        self.facts.stages[-1]["training"] = training

    def write(self, output_dir: str | os.PathLike, **kwargs) -> Path:
        """Write the card of the facts gathered so far (README.md) and the facts (model_card_facts.json).

        See `write_model_card` for the keyword arguments. Returns the card's path.
        """
        path = write_model_card(output_dir, self.facts, **kwargs)
        self.facts.save(Path(output_dir) / FACTS_FILE)
        return path

    def write_card(self, trainer, output_dir: str | os.PathLike, *, model_name=None, dataset=None, **kwargs) -> Path:
        """`trainer.create_model_card(...)`: `write` the card, titled `model_name` and listing `dataset` (a Hub id
        or several) when given; `Trainer.create_model_card`'s other arguments (language, tags, ...) are not used."""
        if model_name:
            self.facts.model_name = model_name
        if dataset:
            self.facts.datasets = [dataset] if isinstance(dataset, str) else list(dataset)
        return self.write(output_dir)

    def push(self, trainer, repo_id: str, *, commit_message: str | None = None, **kwargs):
        """`trainer.push_to_hub(...)`: upload `trainer.args.output_dir` with `push_student` and these facts; the
        keyword arguments are `push_student`'s (token, private, revision, endpoint, include_onnx, ...)."""
        from .push import push_student

        return push_student(
            trainer.args.output_dir,
            repo_id,
            commit_message=commit_message or "Upload TinyBERT student with hf-tinybert",
            facts=self.facts,
            **kwargs,
        )


# --------------------------------------------------------------------------------------- rendering


def speedups_from_benchmark(path: str | os.PathLike) -> list[dict]:
    """The comparisons of a benchmark JSON (``hf-tinybert benchmark`` / `write_report`) as card rows.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a benchmark report.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Benchmark report {str(path)!r} does not exist")
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "comparisons" not in data or "settings" not in data:
        raise ValueError(f"{str(path)!r} is not a benchmark report (expected 'settings' and 'comparisons' keys)")
    threads = data["settings"].get("threads")
    return [
        {
            "candidate": f"{c['candidate'][0]} ({c['candidate'][1]})",
            "baseline": f"{c['baseline'][0]} ({c['baseline'][1]})",
            "workload": f"{c['workload'][0]} x {c['workload'][1]}",
            "threads": threads,
            "speedup": float(c["speedup"]),
            "flops_ratio": float(c["flops_ratio"]),
        }
        for c in data["comparisons"]
    ]


def _pipeline_of(architecture: str | None) -> tuple[str | None, str | None]:
    """(pipeline tag, Auto class name) of the student's class, from the head table; (None, None) when unknown."""
    head = head_from_architecture(architecture) if architecture else None
    return (head.pipeline_tag, head.auto_class_name) if head is not None else (None, None)


def _hub_id(name: str | None) -> str | None:
    """`name` when it can be a Hub model id (not a local folder), else None: the YAML `base_model` must be one."""
    from huggingface_hub.utils import validate_repo_id

    if not name or os.path.exists(name):
        return None
    try:
        validate_repo_id(name)
    except ValueError:
        return None
    return name


def _card_metadata(model: str | None) -> dict:
    """The YAML metadata of a local model folder's README.md ({} when it has none)."""
    if not model or not os.path.isfile(os.path.join(model, CARD_FILE)):
        return {}
    from huggingface_hub import metadata_load

    try:
        return metadata_load(os.path.join(model, CARD_FILE)) or {}
    except Exception:  # noqa: BLE001  (a README whose YAML header does not parse says nothing)
        return {}


def hub_dataset_id(name: str) -> str | None:
    """`name` when it can be a Hub dataset id: not a local path, no file suffix (``wiki.valid.tokens``)."""
    return None if Path(name).suffix or os.path.exists(name) else _hub_id(name)


def build_card_data(facts: ModelCardFacts):
    """The card's YAML metadata as `huggingface_hub.ModelCardData`, with ``model-index`` eval results."""
    from huggingface_hub import EvalResult, ModelCardData

    pipeline_tag, _ = _pipeline_of(facts.architecture)
    eval_results = None
    dataset = facts.eval_dataset or {}
    if facts.eval_results and dataset.get("id"):
        eval_results = [
            EvalResult(
                task_type=pipeline_tag or "text-classification",
                dataset_type=dataset["id"],
                dataset_name=dataset.get("name") or dataset["id"],
                dataset_config=dataset.get("config"),
                dataset_split=dataset.get("split"),
                metric_type=metric,
                metric_name=metric,
                metric_value=value,
            )
            for metric, value in facts.eval_results.items()
        ]
    elif facts.eval_results:  # e.g. measured on local files: in the card's text only
        logger.info("Evaluation results without a Hub dataset (eval_dataset={'id': ...}): the card has no model-index")
    return ModelCardData(
        model_name=facts.model_name or "tinybert-student",
        language=facts.language,
        license=facts.license,
        library_name="transformers",
        pipeline_tag=pipeline_tag,
        tags=list(facts.tags),
        datasets=[d for d in facts.datasets if hub_dataset_id(d)] or None,
        base_model=_hub_id(facts.teacher_id),
        eval_results=eval_results,
    )


def render_model_card(facts: ModelCardFacts | dict, *, template_path: str | os.PathLike | None = None):
    """The card of `facts` as a `huggingface_hub.ModelCard` (not written anywhere)."""
    from huggingface_hub import ModelCard

    if isinstance(facts, dict):
        facts = ModelCardFacts.from_dict(facts)
    template = Path(template_path) if template_path is not None else TEMPLATE_PATH
    if not template.is_file():
        raise FileNotFoundError(f"Model card template {str(template)!r} does not exist")
    pipeline_tag, auto_class = _pipeline_of(facts.architecture)
    values = facts.to_dict()
    values.update(
        pipeline_tag=pipeline_tag,
        auto_class=auto_class,
        onnx_default_file="model.onnx",
        teacher_hub_id=_hub_id(facts.teacher_id),  # linked; a local teacher is named "a local model", not linked
    )
    card_data = build_card_data(facts)
    return ModelCard.from_template(card_data, template_path=os.fspath(template), **values)


def write_model_card(
    output_dir: str | os.PathLike,
    facts: ModelCardFacts | dict,
    *,
    benchmark_json: str | os.PathLike | None = None,
    template_path: str | os.PathLike | None = None,
) -> Path:
    """Render the model card of a student into ``<output_dir>/README.md``.

    Args:
        output_dir: the student's folder (created if needed); an existing README.md is replaced.
        facts: `ModelCardFacts` (e.g. ``callback.facts``) or a dict of its fields.
        benchmark_json: a benchmark report (``hf-tinybert benchmark`` JSON) whose measured speed-ups the card shows.
        template_path: another Jinja template (default: the one shipped in ``hf_tinybert/templates``).

    Returns:
        The path of the card.

    Raises:
        ValueError: unknown keys in a facts dict, or a file that is not a benchmark report.
        FileNotFoundError: a missing template or benchmark file.
    """
    if isinstance(facts, dict):
        facts = ModelCardFacts.from_dict(facts)
    if benchmark_json is not None:
        facts = dataclasses.replace(facts, speedups=[*facts.speedups, *speedups_from_benchmark(benchmark_json)])
    output_dir = Path(output_dir)
    if facts.model_name is None:
        facts = dataclasses.replace(facts, model_name=output_dir.resolve().name)
    card = render_model_card(facts, template_path=template_path)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / CARD_FILE
    path.write_text(str(card), encoding="utf-8")
    return path


__all__ = [
    "CARD_FILE",
    "FACTS_FILE",
    "TEMPLATE_PATH",
    "ModelCardCallback",
    "ModelCardFacts",
    "build_card_data",
    "distillation_settings_of",
    "hyperparameters_of",
    "render_model_card",
    "speedups_from_benchmark",
    "write_model_card",
]
