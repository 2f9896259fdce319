"""Distillation runs on variable-length rows with dynamic padding, shared by tests/test_distill_window.py (one process,
several accumulation layouts) and tests/distributed_scripts/distill_on_two_ranks.py (two gloo processes).

One run is one SGD step (constant learning rate, no clipping, dropout 0) over the same rows in order, so two runs
over the same rows must end with the same weights however the rows are split into micro-batches and processes.
"""

from __future__ import annotations

import os

import torch
from conftest import TINY_VOCAB, tiny_student_config, tiny_teacher_config, write_vocab
from datasets import Dataset
from transformers import (
    BertForMaskedLM,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
    BertTokenizerFast,
    DataCollatorForTokenClassification,
    DataCollatorWithPadding,
)

from hf_tinybert import (
    DistillationArguments,
    DistillationTrainer,
    TinyBertForMaskedLM,
    TinyBertForQuestionAnswering,
    TinyBertForSequenceClassification,
    TinyBertForTokenClassification,
    TinyBertModel,
)

# name: (student class, teacher class, labels, DistillationArguments overrides)
CASES = {
    "general": (TinyBertModel, BertModel, None, dict(stage="general")),
    "general_mlm_hard": (
        TinyBertForMaskedLM,
        BertForMaskedLM,
        "tokens",
        dict(stage="general", hard_label_loss_weight=1.0),
    ),
    "intermediate": (
        TinyBertForSequenceClassification,
        BertForSequenceClassification,
        "class",
        dict(stage="intermediate"),
    ),
    "prediction": (TinyBertForSequenceClassification, BertForSequenceClassification, "class", dict(stage="prediction")),
    "joint_hard": (
        TinyBertForSequenceClassification,
        BertForSequenceClassification,
        "class",
        dict(stage="joint", hard_label_loss_weight=0.5),
    ),
    "joint_probs_kl": (
        TinyBertForSequenceClassification,
        BertForSequenceClassification,
        "class",
        dict(stage="joint", attention_loss="probs_kl"),
    ),
    "qa_joint_hard": (
        TinyBertForQuestionAnswering,
        BertForQuestionAnswering,
        "span",
        dict(stage="joint", hard_label_loss_weight=1.0, temperature=0.5),
    ),
    "token_prediction_hard": (
        TinyBertForTokenClassification,
        BertForTokenClassification,
        "tokens",
        dict(stage="prediction", hard_label_loss_weight=1.0),
    ),
    "mlm_prediction": (TinyBertForMaskedLM, BertForMaskedLM, "tokens", dict(stage="prediction")),
    "official_averaging": (
        TinyBertForSequenceClassification,
        BertForSequenceClassification,
        "class",
        dict(stage="joint", mask_padding=False),
    ),
}
FIXED_LENGTH = 24  # the official code's max_seq_length, for mask_padding=False


def tokenizer(folder: str) -> BertTokenizerFast:
    os.makedirs(folder, exist_ok=True)
    return BertTokenizerFast(vocab=write_vocab(os.path.join(folder, "vocab.txt")), do_lower_case=True)


def rows(n: int, labels: str | None, seed: int = 0) -> Dataset:
    """n rows of 3..20 random tokens (unpadded), with the labels a case needs."""
    g = torch.Generator().manual_seed(seed)
    data: dict[str, list] = {"input_ids": [], "attention_mask": []}
    for _ in range(n):
        length = int(torch.randint(3, 21, (), generator=g))
        data["input_ids"].append(torch.randint(5, len(TINY_VOCAB), (length,), generator=g).tolist())
        data["attention_mask"].append([1] * length)
    if labels == "class":
        data["labels"] = torch.randint(0, 2, (n,), generator=g).tolist()
    elif labels == "span":
        data["start_positions"] = [int(torch.randint(0, len(ids), (), generator=g)) for ids in data["input_ids"]]
        data["end_positions"] = [min(s + 1, len(ids) - 1) for s, ids in zip(data["start_positions"], data["input_ids"])]
    elif labels == "tokens":  # masked-LM style: a label on about a third of the tokens, -100 elsewhere
        data["labels"] = [
            [t % 2 if torch.rand((), generator=g) < 0.35 else -100 for t in ids] for ids in data["input_ids"]
        ]
    return Dataset.from_dict(data)


def trainer(
    case: str,
    output_dir: str,
    n: int,
    per_device_batch: int,
    accumulation: int,
    tok: BertTokenizerFast,
    collator=None,
    **extra,
) -> DistillationTrainer:
    student_cls, teacher_cls, labels, overrides = CASES[case]
    torch.manual_seed(0)
    kwargs = dict(num_labels=2) if labels in ("class", "tokens") and student_cls is not TinyBertForMaskedLM else {}
    teacher = teacher_cls(tiny_teacher_config(initializer_range=0.2, **kwargs)).eval()
    student = student_cls(tiny_student_config(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, **kwargs))
    if collator is not None:
        pass
    elif labels == "tokens":
        collator = DataCollatorForTokenClassification(tok)  # pads labels with -100
    elif overrides.get("mask_padding", True) is False:
        collator = DataCollatorWithPadding(tok, padding="max_length", max_length=FIXED_LENGTH)
    else:
        collator = DataCollatorWithPadding(tok)
    args = DistillationArguments(
        output_dir=output_dir,
        per_device_train_batch_size=per_device_batch,
        gradient_accumulation_steps=accumulation,
        num_train_epochs=1,
        optim="sgd",
        learning_rate=1.0,
        lr_scheduler_type="constant",
        max_grad_norm=0.0,
        logging_steps=1,
        train_sampling_strategy="sequential",
        use_cpu=True,
        report_to=[],
        disable_tqdm=True,
        save_strategy="no",
        seed=0,
        **{**overrides, **extra},
    )
    return DistillationTrainer(
        student, args, teacher_model=teacher, train_dataset=rows(n, labels), data_collator=collator
    )


def weights(trainer: DistillationTrainer) -> dict[str, torch.Tensor]:
    """The student's and the projections' parameters."""
    named = {f"student.{k}": v for k, v in trainer.model.named_parameters()}
    named.update({f"projections.{k}": v for k, v in trainer.projections.named_parameters()})
    return {k: v.detach().cpu().clone() for k, v in named.items()}
