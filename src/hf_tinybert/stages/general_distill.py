"""Stage 1, general distillation: a pre-trained (not fine-tuned) teacher teaches a student on raw text with
the intermediate-layer losses (embeddings, attention, hidden states), optionally plus a masked-LM loss."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from datasets import IterableDataset
from transformers import AutoModel, AutoTokenizer, DataCollatorForLanguageModeling, default_data_collator
from transformers.utils import logging

from ..data import load_corpus, pack_corpus
from ..distill import DistillationArguments, DistillationTrainer
from ..modeling import TINYBERT_PRESETS, TinyBertConfig, TinyBertForMaskedLM, TinyBertModel
from ..utils import check_model_source
from . import run_setup

logger = logging.get_logger(__name__)


@dataclass
class GeneralDistillArguments:
    """Teacher, student and corpus of general distillation."""

    teacher_model: str = field(
        metadata={"help": "Pre-trained, not fine-tuned, teacher (path or Hub id), e.g. bert-base-uncased."}
    )
    corpus: str = field(
        metadata={
            "help": "Raw text: comma-separated .txt/.tokens/.jsonl files or folders, or a Hub dataset id "
            "(with --corpus_config)."
        }
    )
    student_model: str = field(
        default="tinybert-4l-312d",
        metadata={
            "help": f"A student folder to continue from, or a preset ({', '.join(TINYBERT_PRESETS)}) to start fresh."
        },
    )
    corpus_config: str | None = field(default=None, metadata={"help": "Hub corpus configuration name."})
    text_column: str = field(default="text", metadata={"help": "Text field of JSON-lines files / Hub datasets."})
    streaming: bool = field(default=False, metadata={"help": "Read the corpus lazily (needs --max_steps)."})
    max_documents: int | None = field(
        default=None, metadata={"aliases": ["--max_train_samples"], "help": "Use only the first N documents."}
    )
    max_seq_length: int = field(default=128, metadata={"help": "Length of the packed training sequences (paper: 128)."})
    mlm: bool = field(
        default=False,
        metadata={
            "help": "Also train the student as a masked LM (adds its MLM loss with weight --hard_label_loss_weight, "
            "default 1 with --mlm). The paper's general distillation uses no MLM loss."
        },
    )
    mlm_probability: float = field(default=0.15, metadata={"help": "Share of tokens masked with --mlm."})
    overwrite_output_dir: bool = field(default=False, metadata={"help": "Write into a non-empty --output_dir."})
    keep_checkpoints: bool = field(default=False, metadata={"help": run_setup.KEEP_CHECKPOINTS_HELP})


def build_student(student_model: str, teacher_config, mlm: bool):
    """Load a student folder, or build a fresh one from a preset with the teacher's vocabulary and fit_size."""
    cls = TinyBertForMaskedLM if mlm else TinyBertModel
    if student_model in TINYBERT_PRESETS:
        return cls(TinyBertConfig.from_preset(student_model, teacher_config))
    return cls.from_pretrained(student_model)


def general_distill(args: GeneralDistillArguments, training_args: DistillationArguments) -> dict:
    """Run general distillation; writes the student, tokenizer, projections, metrics and arguments.

    Returns:
        The training metrics.
    """
    if training_args.stage != "general":
        raise ValueError(f"general distillation runs stage='general', got stage={training_args.stage!r}")
    if args.mlm and training_args.hard_label_loss_weight == 0:
        training_args.hard_label_loss_weight = 1.0
    check_model_source(args.teacher_model, "--teacher_model")
    if args.student_model not in TINYBERT_PRESETS:
        check_model_source(args.student_model, "--student_model")
    checkpoint = run_setup.prepare_output_dir(
        training_args.output_dir, args.overwrite_output_dir, training_args.resume_from_checkpoint
    )
    tokenizer = AutoTokenizer.from_pretrained(args.teacher_model)
    teacher = AutoModel.from_pretrained(args.teacher_model)
    student = build_student(args.student_model, teacher.config, args.mlm)
    run_setup.warn_if_random_student_on_cpu(args.student_model, TINYBERT_PRESETS, training_args.device)

    sources = [s.strip() for s in args.corpus.split(",") if s.strip()]
    documents = load_corpus(
        sources if len(sources) > 1 else sources[0],
        text_column=args.text_column,
        config_name=args.corpus_config,
        streaming=args.streaming or None,
        max_documents=args.max_documents,
        shard_by_rank=False,  # Trainer splits the data across processes itself
    )
    blocks = pack_corpus(documents, tokenizer, args.max_seq_length)
    if isinstance(blocks, IterableDataset) and training_args.max_steps <= 0:
        raise ValueError("A streamed corpus has no length: give --max_steps")
    collator = (
        DataCollatorForLanguageModeling(tokenizer, mlm_probability=args.mlm_probability)
        if args.mlm
        else default_data_collator
    )
    trainer = DistillationTrainer(
        student,
        training_args,
        teacher_model=teacher,
        train_dataset=blocks,
        data_collator=collator,
        processing_class=tokenizer,
    )
    result = trainer.train(resume_from_checkpoint=checkpoint)
    trainer.save_model()
    trainer.save_metrics("train", result.metrics)
    trainer.save_state()
    facts = trainer.model_card_callback.facts  # Hub corpora go into the card's `datasets`, local files into its text
    facts.datasets.extend(s for s in sources if not os.path.exists(s))
    if facts.stages:
        facts.stages[-1]["train_datasets"] = [
            s if not os.path.exists(s) else f"local file {os.path.basename(s)}" for s in sources
        ]
    trainer.create_model_card()
    if training_args.should_save:
        run_setup.save_run_arguments(training_args.output_dir, args, training_args)
    run_setup.finish_run(
        training_args.output_dir,
        "general distillation",
        keep_checkpoints=args.keep_checkpoints,
        should_save=training_args.should_save,
    )
    return result.metrics
