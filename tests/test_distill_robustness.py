"""DistillationTrainer off the happy path: QA temperatures, mixed-precision training, the user's own optimizer and
scheduler, and a learned projection between models of equal width."""

from __future__ import annotations

import logging
import math

import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_teacher_config
from test_convert import _reference, write_original_checkpoint
from test_distill_trainer import batch_of, make_args, make_dataset, models
from transformers import AutoModelForSequenceClassification, BertForSequenceClassification

from hf_tinybert import DistillationTrainer
from hf_tinybert.distill import losses as L
from hf_tinybert.stages.students import convert_original_checkpoint

# ---- QA prediction loss at every temperature ----


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_span_loss_is_finite_and_correct_for_every_temperature(temperature):
    g = torch.Generator().manual_seed(0)
    lengths = [10, 6, 3]
    mask = torch.zeros(3, 10, dtype=torch.long)
    for row, n in enumerate(lengths):
        mask[row, :n] = 1
    logits = [(4 * torch.randn(3, 10, generator=g)).requires_grad_(i < 2) for i in range(4)]
    loss = L.span_soft_cross_entropy(*logits, temperature, attention_mask=mask)
    loss.backward()

    def soft_ce(student, teacher):  # on the real positions of each row only
        return sum(
            -(F.softmax(teacher[b, :n] / temperature, -1) * F.log_softmax(student[b, :n] / temperature, -1)).sum()
            for b, n in enumerate(lengths)
        ) / len(lengths)

    expected = (soft_ce(logits[0], logits[2]) + soft_ce(logits[1], logits[3])) / 2
    assert math.isfinite(loss.item()) and loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert torch.isfinite(logits[0].grad).all() and torch.isfinite(logits[1].grad).all()
    assert (logits[0].grad[mask == 0] == 0).all()  # padded positions get no gradient


# ---- mixed precision ----


@pytest.mark.parametrize("teacher_dtype", ["auto", "bfloat16", "float16"])
@pytest.mark.slow
def test_bf16_training_gives_finite_float32_losses_and_float32_weights(tmp_path, teacher_dtype):
    student, teacher = models()
    args = make_args(tmp_path, stage="joint", bf16=True, teacher_dtype=teacher_dtype, max_steps=3)
    trainer = DistillationTrainer(student, args, teacher_model=teacher, train_dataset=make_dataset(24))
    trainer.train()
    logged = [entry for entry in trainer.state.log_history if "loss_att" in entry]
    assert len(logged) == 3
    for entry in logged:
        for name in ("loss", "loss_emb", "loss_att", "loss_hidden", "loss_pred"):
            assert math.isfinite(entry[name]) and entry[name] > 0, (name, entry)
    assert all(p.dtype == torch.float32 for p in student.parameters())
    assert all(p.dtype == torch.float32 for p in trainer.projections.parameters())
    expected_teacher = torch.float32 if teacher_dtype == "auto" else getattr(torch, teacher_dtype)
    assert next(trainer.teacher.parameters()).dtype == expected_teacher
    student.eval()
    with torch.autocast("cpu", dtype=torch.bfloat16):  # under autocast, as the student's forward runs with --bf16
        loss = trainer.compute_loss(student, batch_of(make_dataset(8)))
    assert loss.dtype == torch.float32 and torch.isfinite(loss)


# ---- the user's own optimizer and scheduler ----


def _moved(before: dict, module: torch.nn.Module) -> bool:
    return any(not torch.equal(before[name], p) for name, p in module.named_parameters())


def test_user_optimizer_and_scheduler_without_the_projections_is_refused(tmp_path):
    student, teacher = models()
    optimizer = torch.optim.SGD(student.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    with pytest.raises(ValueError, match=r"does not hold the distillation projections.*create_projections"):
        DistillationTrainer(
            student,
            make_args(tmp_path, stage="joint"),
            teacher_model=teacher,
            train_dataset=make_dataset(16),
            optimizers=(optimizer, scheduler),
        )


def test_user_optimizer_and_scheduler_with_the_projections_train_both(tmp_path):
    student, teacher = models()
    args = make_args(tmp_path, stage="joint", max_steps=3)
    projections = DistillationTrainer.create_projections(student, teacher, args)
    optimizer = torch.optim.AdamW([*student.parameters(), *projections.parameters()], lr=1e-2)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (step + 1))
    trainer = DistillationTrainer(
        student,
        args,
        teacher_model=teacher,
        train_dataset=make_dataset(24),
        projections=projections,
        optimizers=(optimizer, scheduler),
    )
    assert trainer.projections is projections
    before = {name: p.detach().clone() for name, p in projections.named_parameters()}
    trainer.train()
    assert trainer.state.global_step == 3 and _moved(before, projections)
    assert [entry["learning_rate"] for entry in trainer.state.log_history if "loss" in entry] == pytest.approx(
        [1e-2, 5e-3, 1e-2 / 3]
    )
    assert all(p.grad is None for p in projections.parameters())  # zeroed after each step, like the student's


def test_user_optimizer_alone_gets_the_projections_added(tmp_path):
    student, teacher = models()
    args = make_args(tmp_path, stage="joint", max_steps=2)
    trainer = DistillationTrainer(
        student,
        args,
        teacher_model=teacher,
        train_dataset=make_dataset(16),
        optimizers=(torch.optim.SGD(student.parameters(), lr=0.5), None),
    )
    before = {name: p.detach().clone() for name, p in trainer.projections.named_parameters()}
    trainer.train()
    assert _moved(before, trainer.projections)


def test_projections_that_do_not_fit_are_refused(tmp_path):
    student, teacher = models()
    args = make_args(tmp_path, stage="joint")
    shared = DistillationTrainer.create_projections(student, teacher, make_args(tmp_path, projection="shared"))
    with pytest.raises(ValueError, match="projection='separate'.*create_projections"):
        DistillationTrainer(student, args, teacher_model=teacher, projections=shared)


# ---- equal widths: a learned fit_dense is kept ----


@pytest.fixture
def converted_equal_width(tmp_path):
    """An official-code checkpoint whose student is as wide as the teacher (32) with a trained 32 x 32 fit_dense."""
    reference = _reference(BertForSequenceClassification, num_labels=2, hidden_size=32)
    written = write_original_checkpoint(tmp_path / "orig", reference, projections="shared")
    assert written["fit_dense.weight"].shape == (32, 32)
    convert_original_checkpoint(tmp_path / "orig", tmp_path / "student")
    return tmp_path / "student", written


def test_converted_checkpoint_keeps_its_learned_equal_width_projection(tmp_path, converted_equal_width):
    folder, written = converted_equal_width
    student = AutoModelForSequenceClassification.from_pretrained(folder)
    torch.manual_seed(0)
    teacher = BertForSequenceClassification(tiny_teacher_config(num_labels=2)).eval()
    assert student.config.hidden_size == teacher.config.hidden_size == 32
    args = make_args(tmp_path, stage="intermediate", projection="shared")
    trainer = DistillationTrainer(student, args, teacher_model=teacher)
    assert not trainer.projections.is_identity
    assert torch.equal(trainer.projections.shared.weight, written["fit_dense.weight"])
    assert torch.equal(trainer.projections.shared.bias, written["fit_dense.bias"])
    # it is used: the embedding loss is MSE(fit_dense(E_S), E_T)
    batch = batch_of(make_dataset(4, padded=False))
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask")}
    student.eval()
    trainer.compute_loss(student, batch)
    with torch.no_grad():
        s_emb = student.bert.embeddings(input_ids=inputs["input_ids"])
        t_emb = teacher.bert.embeddings(input_ids=inputs["input_ids"])
        expected = F.mse_loss(F.linear(s_emb, written["fit_dense.weight"], written["fit_dense.bias"]), t_emb)
    assert trainer._component_means("eval")["emb"] == pytest.approx(expected.item(), rel=1e-5)


def test_equal_width_identity_on_request_warns_that_trained_projections_are_unused(
    tmp_path, converted_equal_width, caplog
):
    folder, _ = converted_equal_width
    student = AutoModelForSequenceClassification.from_pretrained(folder)
    teacher = BertForSequenceClassification(tiny_teacher_config(num_labels=2)).eval()
    args = make_args(tmp_path, stage="intermediate", projection="shared", equal_width_projection="identity")
    with caplog.at_level(logging.WARNING):
        trainer = DistillationTrainer(student, args, teacher_model=teacher)
    assert trainer.projections.is_identity
    assert "has trained projections" in caplog.text and "equal_width_projection='learned'" in caplog.text
    # learned from scratch on request, when no file says so
    plain_student, plain_teacher = models(hidden_size=32, intermediate_size=64)
    learned = DistillationTrainer(
        plain_student, make_args(tmp_path, equal_width_projection="learned"), teacher_model=plain_teacher
    )
    assert not learned.projections.is_identity
    assert {name for name, _ in learned.projections.named_parameters()} == {
        "embeddings.weight",
        "embeddings.bias",
        "hidden.weight",
        "hidden.bias",
    }
