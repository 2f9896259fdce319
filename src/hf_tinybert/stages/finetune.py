"""Stage 0: fine-tune the teacher on the task (optionally as a LoRA adapter, merged into a plain model)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from transformers import AutoTokenizer, Trainer, TrainingArguments
from transformers.utils import logging

from ..hub.card import ModelCardCallback, ModelCardFacts
from ..utils import check_model_source
from .models import load_model_for_task
from .run_setup import KEEP_CHECKPOINTS_HELP, finish_run, prepare_output_dir, save_run_arguments
from .task_data import TaskDataArguments, data_collator_for, describe, evaluate_on_task, load_task_data

logger = logging.get_logger(__name__)


@dataclass
class FinetuneArguments:
    """The model to fine-tune and how."""

    model_name_or_path: str = field(metadata={"help": "Pre-trained model (path or Hub id), e.g. bert-base-uncased."})
    tokenizer_name: str | None = field(default=None, metadata={"help": "Tokenizer, if not the model's."})
    lora: bool = field(
        default=False,
        metadata={
            "help": "Train a LoRA adapter (peft) instead of all weights, then merge it: the output is a plain model."
        },
    )
    lora_r: int = field(default=8, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA scaling alpha."})
    lora_dropout: float = field(default=0.1, metadata={"help": "LoRA dropout."})
    lora_target_modules: str = field(default="query,value", metadata={"help": "Comma-separated modules LoRA adapts."})
    overwrite_output_dir: bool = field(default=False, metadata={"help": "Write into a non-empty --output_dir."})
    keep_checkpoints: bool = field(default=False, metadata={"help": KEEP_CHECKPOINTS_HELP})


def finetune(args: FinetuneArguments, data_args: TaskDataArguments, training_args: TrainingArguments) -> dict:
    """Fine-tune `args.model_name_or_path` on the task; write the model, tokenizer, metrics and arguments.

    Returns:
        The evaluation metrics (also in `output_dir/eval_results.json`).
    """
    check_model_source(args.model_name_or_path, "--model_name_or_path")
    check_model_source(args.tokenizer_name, "--tokenizer_name")
    checkpoint = prepare_output_dir(
        training_args.output_dir, args.overwrite_output_dir, training_args.resume_from_checkpoint
    )
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer_name or args.model_name_or_path)
    data = load_task_data(data_args, tokenizer)
    logger.info(describe(data))
    model = load_model_for_task(args.model_name_or_path, data)
    if args.lora:
        import peft

        task_type = "QUESTION_ANS" if data.kind == "question_answering" else "SEQ_CLS"
        targets = [m.strip() for m in args.lora_target_modules.split(",") if m.strip()]
        lora_config = peft.LoraConfig(
            task_type=task_type,
            r=args.lora_r,
            lora_alpha=args.lora_alpha,
            lora_dropout=args.lora_dropout,
            target_modules=targets,
        )
        model = peft.get_peft_model(model, lora_config)
    first_eval = next(iter(data.eval_sets))
    card = ModelCardCallback(facts=ModelCardFacts(teacher_id=args.model_name_or_path, fine_tuned=True))
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=data.train,
        eval_dataset=data.eval_sets[first_eval],
        processing_class=tokenizer,
        data_collator=data_collator_for(data, tokenizer),
        compute_metrics=data.compute_metrics(first_eval),
        callbacks=[card],
    )
    train_result = trainer.train(resume_from_checkpoint=checkpoint)
    trainer.save_metrics("train", train_result.metrics)
    if args.lora:
        if training_args.should_save:
            model.save_pretrained(os.path.join(training_args.output_dir, "lora_adapter"))
        trainer.model = model = model.merge_and_unload()
        if training_args.should_save:
            model.save_pretrained(training_args.output_dir)
            tokenizer.save_pretrained(training_args.output_dir)
    else:
        trainer.save_model()
    metrics = evaluate_on_task(trainer, data)
    trainer.save_metrics("eval", metrics)
    trainer.save_state()
    if training_args.should_save:
        save_run_arguments(training_args.output_dir, args, data_args, training_args)
        card.facts.eval_dataset = evaluated_on = data.card_dataset()
        card.facts.datasets = [evaluated_on["id"]] if evaluated_on and not data_args.train_file else []
        for stage in card.facts.stages:
            stage["stage"] = "fine-tuning" + (" (LoRA, merged)" if args.lora else "")
        card.write(training_args.output_dir)  # README.md: the base model, the data, the settings, the scores
    finish_run(
        training_args.output_dir,
        "fine-tuning",
        keep_checkpoints=args.keep_checkpoints,
        should_save=training_args.should_save,
    )
    return metrics
