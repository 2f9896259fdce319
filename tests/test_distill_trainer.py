"""DistillationTrainer on tiny models: the losses against an independent computation, training, resuming,
gradient accumulation, wrapped models and the errors raised before training."""

from __future__ import annotations

import copy
import os

import pytest
import torch
import torch.nn.functional as F
from conftest import TINY_VOCAB, tiny_student_config, tiny_teacher_config
from datasets import Dataset
from safetensors.torch import load_file
from transformers import (
    AttentionInterface,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
    BertTokenizerFast,
)
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

from hf_tinybert import (
    DistillationArguments,
    DistillationTrainer,
    TinyBertForMaskedLM,
    TinyBertForQuestionAnswering,
    TinyBertForSequenceClassification,
    TinyBertForTokenClassification,
    TinyBertModel,
)
from hf_tinybert.distill import PROJECTIONS_FILE, LayerCapture

SEQ = 12


def make_dataset(n=32, seq=SEQ, num_labels=2, padded=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, len(TINY_VOCAB), (n, seq), generator=g)
    mask = torch.ones(n, seq, dtype=torch.long)
    if padded:
        for i in range(0, n, 3):
            cut = 4 + (i % (seq - 4))
            mask[i, cut:] = 0
            ids[i, cut:] = 0
    labels = torch.randint(0, num_labels, (n,), generator=g)
    return Dataset.from_dict({"input_ids": ids.tolist(), "attention_mask": mask.tolist(), "labels": labels.tolist()})


def make_args(tmp_path, **overrides):
    values = dict(
        output_dir=str(tmp_path / "out"),
        per_device_train_batch_size=8,
        per_device_eval_batch_size=16,
        num_train_epochs=1,
        learning_rate=1e-3,
        logging_steps=1,
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        disable_tqdm=True,
        seed=0,
        data_seed=0,
    )
    values.update(overrides)
    return DistillationArguments(**values)


def models(
    num_labels=2,
    student_cls=TinyBertForSequenceClassification,
    teacher_cls=BertForSequenceClassification,
    **student_overrides,
):
    torch.manual_seed(0)
    teacher = teacher_cls(tiny_teacher_config(num_labels=num_labels, initializer_range=0.2)).eval()
    student = student_cls(
        tiny_student_config(
            num_labels=num_labels, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, **student_overrides
        )
    )
    return student, teacher


def batch_of(dataset):
    return {k: torch.tensor(dataset[k]) for k in dataset.column_names}


# ---- the losses against an independent computation ----

_recorded_scores: list[torch.Tensor] = []


def recording_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """Records the pre-softmax scores from the attention function's own per-head query and key."""
    scaling = query.size(-1) ** -0.5 if scaling is None else scaling
    _recorded_scores.append(torch.matmul(query, key.transpose(2, 3)) * scaling)  # pre-softmax, pre-mask
    return sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs)


AttentionInterface.register("recording", recording_attention)
AttentionMaskInterface.register("recording", sdpa_mask)


def reference_outputs(model, batch):
    """Embeddings, hidden states, pre-softmax scores and logits from a recording attention function and
    output_hidden_states, independent of the trainer's hooks."""
    reference = copy.deepcopy(model)
    reference.set_attn_implementation("recording")
    _recorded_scores.clear()
    out = reference(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], output_hidden_states=True)
    return out.hidden_states, list(_recorded_scores), out.logits


@pytest.mark.parametrize("mask_padding", [True, False])
def test_trainer_losses_match_independent_reference(tmp_path, mask_padding):
    student, teacher = models()
    dataset = make_dataset(8)
    args = make_args(tmp_path, stage="joint", mask_padding=mask_padding, temperature=2.0)
    trainer = DistillationTrainer(student, args, teacher_model=teacher, train_dataset=dataset)
    batch = batch_of(dataset)
    student.eval()
    loss = trainer.compute_loss(student, batch)
    logged = trainer._component_means("eval")

    s_hidden, s_scores, s_logits = reference_outputs(student, batch)
    with torch.no_grad():
        t_hidden, t_scores, t_logits = reference_outputs(teacher, batch)
    mask = batch["attention_mask"]
    proj = trainer.projections
    layer_map = trainer.layer_map
    assert layer_map == [2, 4]

    def mse(a, b):
        if not mask_padding:
            return F.mse_loss(a, b)
        m = mask[..., None].float()
        return ((a - b).pow(2) * m).sum() / (m.sum() * a.shape[-1])

    def att(a, b):
        key = mask[:, None, None, :].float()
        if mask_padding:
            pair = key * mask[:, None, :, None].float()
            return ((a - b).pow(2) * pair).sum() / (pair.sum() * a.shape[1])
        return F.mse_loss(a * key, b * key)  # official code: padded keys zeroed, plain mean

    emb = mse(proj.project_embeddings(s_hidden[0]), t_hidden[0])
    hidden = sum(mse(proj.project_hidden(s_hidden[m], m), t_hidden[n]) for m, n in zip([1, 2], layer_map))
    attention = sum(att(s_scores[m - 1], t_scores[n - 1]) for m, n in zip([1, 2], layer_map))
    pred = -(torch.softmax(t_logits / 2, -1) * torch.log_softmax(s_logits / 2, -1)).sum(-1).mean()
    for name, value in [("emb", emb), ("hidden", hidden), ("att", attention), ("pred", pred)]:
        assert logged[name] == pytest.approx(value.item(), rel=1e-5, abs=1e-7), name
    assert loss.item() == pytest.approx((emb + hidden + attention + pred).item(), rel=1e-5)
    # both models stay on their fast attention kernel
    assert student.config._attn_implementation == "sdpa"
    assert teacher.config._attn_implementation == "sdpa"


def test_capture_leaves_nothing_behind():
    """Inside the block: the backbone's hooks and the wrapped attention entry; after it: the model and transformers'
    attention interface exactly as before (transformers' own output-recording hooks, installed lazily, stay)."""
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    student, _ = models()
    batch = {k: v for k, v in batch_of(make_dataset(4)).items() if k != "labels"}
    student(**batch, output_hidden_states=True)  # let transformers install its own recording hooks first
    hooks = {name: (len(m._forward_hooks), len(m._forward_pre_hooks)) for name, m in student.named_modules()}
    local_mapping = dict(ALL_ATTENTION_FUNCTIONS._local_mapping)
    with LayerCapture(student, [1, 2]) as captured:
        outputs = student(**batch)
        assert "sdpa" in ALL_ATTENTION_FUNCTIONS._local_mapping
        assert len(student.bert._forward_hooks) > hooks["bert"][0]
    assert {name: (len(m._forward_hooks), len(m._forward_pre_hooks)) for name, m in student.named_modules()} == hooks
    assert dict(ALL_ATTENTION_FUNCTIONS._local_mapping) == local_mapping
    assert set(captured.hidden_states) == {1, 2} and set(captured.queries) == {1, 2}
    assert captured.queries[1].shape == (4, 4, SEQ, 6)  # (B, heads, S, head_dim), as the attention function got it
    assert torch.equal(captured.hidden_states[2], outputs.hidden_states[2])
    with LayerCapture(student, [1, 2]):
        pass  # a block without a forward is fine
    student(**batch)  # and forwards after the block are not recorded
    assert set(captured.queries) == {1, 2}


# ---- training ----


@pytest.mark.slow
def test_short_distillation_lowers_every_loss_component(tmp_path):
    student, teacher = models()
    dataset = make_dataset(64)
    args = make_args(tmp_path, stage="joint", num_train_epochs=4, logging_steps=8, learning_rate=3e-3)
    trainer = DistillationTrainer(student, args, teacher_model=teacher, train_dataset=dataset)
    before = {n: p.detach().clone() for n, p in teacher.named_parameters()}
    trainer.train()
    logs = [entry for entry in trainer.state.log_history if "loss_emb" in entry]
    assert len(logs) >= 4
    for name in ("loss_emb", "loss_att", "loss_hidden", "loss_pred"):
        assert logs[-1][name] < logs[0][name], (name, logs[0][name], logs[-1][name])
    # teacher frozen, in eval mode, untouched; student on sdpa
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    assert all(torch.equal(before[n], p) for n, p in teacher.named_parameters())
    assert student.config._attn_implementation == "sdpa"


@pytest.mark.slow
def test_gradient_accumulation_invariance(tmp_path):
    results = []
    for bs, ga in [(8, 1), (4, 2)]:
        student, teacher = models()
        args = make_args(
            tmp_path / f"{bs}",
            per_device_train_batch_size=bs,
            gradient_accumulation_steps=ga,
            max_steps=2,
            learning_rate=1e-3,
            train_sampling_strategy="sequential",
        )
        trainer = DistillationTrainer(
            student, args, teacher_model=teacher, train_dataset=make_dataset(16, padded=False)
        )
        trainer.train()
        losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
        params = torch.cat([p.detach().flatten() for p in student.parameters()])
        results.append((losses, params))
    (losses_a, params_a), (losses_b, params_b) = results
    assert losses_a == pytest.approx(losses_b, rel=1e-4)
    assert torch.allclose(params_a, params_b, atol=1e-5)


@pytest.mark.slow
def test_resume_from_checkpoint_continues_exactly(tmp_path):
    def run(output_dir, max_steps, resume=None):
        student, teacher = models()
        args = make_args(tmp_path, output_dir=str(output_dir), max_steps=max_steps, save_strategy="steps", save_steps=2)
        trainer = DistillationTrainer(student, args, teacher_model=teacher, train_dataset=make_dataset(48))
        trainer.train(resume_from_checkpoint=resume)
        return trainer

    full = run(tmp_path / "full", 4)
    checkpoint = tmp_path / "full" / "checkpoint-2"
    assert (checkpoint / PROJECTIONS_FILE).is_file()
    resumed = run(tmp_path / "resumed", 4, resume=str(checkpoint))
    for (name, a), b in zip(full.model.named_parameters(), resumed.model.parameters()):
        assert torch.allclose(a, b, atol=1e-6), name
    for a, b in zip(full.projections.parameters(), resumed.projections.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    # a resumed run that loaded nothing would differ from the full one
    fresh = run(tmp_path / "fresh", 2)
    assert not all(
        torch.allclose(a, b, atol=1e-6) for a, b in zip(full.projections.parameters(), fresh.projections.parameters())
    )


def test_projections_saved_beside_not_inside_the_student(tmp_path):
    student, teacher = models()
    args = make_args(tmp_path, max_steps=2)
    trainer = DistillationTrainer(student, args, teacher_model=teacher, train_dataset=make_dataset(16))
    trainer.train()
    out = tmp_path / "saved"
    trainer.save_model(str(out))
    weights = load_file(out / "model.safetensors")
    assert not any(k == "embeddings.weight" or k.startswith(("hidden.", "shared.")) for k in weights)
    projections = load_file(out / PROJECTIONS_FILE)
    assert set(projections) == {"embeddings.weight", "embeddings.bias", "hidden.weight", "hidden.bias"}
    assert projections["hidden.weight"].shape == (32, 24)
    reloaded = TinyBertForSequenceClassification.from_pretrained(out)
    assert set(reloaded.state_dict()) == set(student.state_dict())
    # a new run on the saved student starts from the saved projections
    args2 = make_args(tmp_path / "again", max_steps=1)
    trainer2 = DistillationTrainer(reloaded, args2, teacher_model=teacher, train_dataset=make_dataset(16))
    assert torch.equal(trainer2.projections.hidden.weight.cpu(), projections["hidden.weight"])


def test_projection_modes_and_identity(tmp_path):
    student, teacher = models()
    shared = DistillationTrainer(student, make_args(tmp_path, projection="shared"), teacher_model=teacher)
    assert [n for n, _ in shared.projections.named_parameters()] == ["shared.weight", "shared.bias"]
    per_layer = DistillationTrainer(student, make_args(tmp_path, projection="per_layer"), teacher_model=teacher)
    assert len(per_layer.projections.layers) == 2
    same_size, teacher2 = models(hidden_size=32, fit_size=32)
    identity = DistillationTrainer(same_size, make_args(tmp_path), teacher_model=teacher2)
    assert not list(identity.projections.parameters())


def test_optimizer_trains_the_projections(tmp_path):
    student, teacher = models()
    trainer = DistillationTrainer(
        student, make_args(tmp_path, max_steps=2), teacher_model=teacher, train_dataset=make_dataset(16)
    )
    before = trainer.projections.hidden.weight.detach().clone()
    trainer.train()
    assert not torch.equal(before, trainer.projections.hidden.weight.detach())


def test_gradient_checkpointing_gives_the_same_gradients(tmp_path):
    grads = []
    for checkpointing in (False, True):
        student, teacher = models()
        args = make_args(tmp_path, activation_checkpointing=checkpointing)
        trainer = DistillationTrainer(student, args, teacher_model=teacher, train_dataset=make_dataset(8))
        if checkpointing:
            student.activation_checkpointing_enable(args.activation_checkpointing_kwargs)
        student.train()
        loss = trainer.compute_loss(student, batch_of(make_dataset(8)))
        loss.backward()
        grads.append(torch.cat([p.grad.flatten() for p in student.bert.encoder.parameters()]))
    assert torch.allclose(grads[0], grads[1], atol=1e-6)
    with pytest.raises(ValueError, match="use_reentrant"):
        make_args(tmp_path, activation_checkpointing=True, activation_checkpointing_kwargs={"use_reentrant": True})


def test_peft_wrapped_student(tmp_path):
    peft = pytest.importorskip("peft")
    student, teacher = models()
    args = make_args(tmp_path, stage="intermediate")
    batch = batch_of(make_dataset(8))
    plain = DistillationTrainer(student, args, teacher_model=teacher)
    student.eval()
    expected = plain.compute_loss(student, batch).item()
    lora = peft.get_peft_model(student, peft.LoraConfig(task_type="SEQ_CLS", target_modules=["query", "value"], r=4))
    wrapped = DistillationTrainer(lora, args, teacher_model=teacher)
    wrapped.projections.load_state_dict(plain.projections.state_dict())
    lora.eval()
    assert wrapped.compute_loss(lora, batch).item() == pytest.approx(expected, rel=1e-6)  # LoRA starts at zero


def test_general_stage_with_masked_lm_loss(tmp_path):
    torch.manual_seed(0)
    teacher = BertModel(tiny_teacher_config())
    student = TinyBertForMaskedLM(tiny_student_config())
    dataset = make_dataset(16).remove_columns("labels")
    dataset = dataset.map(lambda row: {"labels": [t if i % 4 == 0 else -100 for i, t in enumerate(row["input_ids"])]})
    args = make_args(tmp_path, stage="general", hard_label_loss_weight=1.0, max_steps=2)
    trainer = DistillationTrainer(student, args, teacher_model=teacher, train_dataset=dataset)
    trainer.train()
    logged = next(e for e in trainer.state.log_history if "loss_hard" in e)
    assert {"loss_emb", "loss_att", "loss_hidden", "loss_hard"} <= set(logged)
    assert "loss_pred" not in logged


@pytest.mark.parametrize(
    "student_cls, teacher_cls, dataset_fn",
    [
        (
            TinyBertForQuestionAnswering,
            BertForQuestionAnswering,
            lambda: (
                make_dataset(16)
                .remove_columns("labels")
                .add_column("start_positions", [1] * 16)
                .add_column("end_positions", [3] * 16)
            ),
        ),
        (
            TinyBertForTokenClassification,
            BertForTokenClassification,
            lambda: make_dataset(16).remove_columns("labels").add_column("labels", [[0, 1] * (SEQ // 2)] * 16),
        ),
    ],
)
def test_prediction_stage_for_other_heads(tmp_path, student_cls, teacher_cls, dataset_fn):
    student, teacher = models(student_cls=student_cls, teacher_cls=teacher_cls)
    args = make_args(tmp_path, stage="prediction", max_steps=2)
    trainer = DistillationTrainer(student, args, teacher_model=teacher, train_dataset=dataset_fn())
    trainer.train()
    assert any("loss_pred" in e for e in trainer.state.log_history)


def test_regression_distils_the_teacher_output(tmp_path):
    student, teacher = models(num_labels=1)
    args = make_args(tmp_path, stage="prediction")
    dataset = make_dataset(8).map(lambda row: {"labels": float(row["labels"])})
    trainer = DistillationTrainer(student, args, teacher_model=teacher)
    batch = batch_of(dataset)
    student.eval()
    loss = trainer.compute_loss(student, batch)
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask")}
    expected = F.mse_loss(student(**inputs).logits.view(-1), teacher(**inputs).logits.view(-1))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_teacher_given_as_path_and_columns_it_needs_are_kept(tmp_path):
    student, teacher = models()
    teacher.save_pretrained(tmp_path / "teacher")
    trainer = DistillationTrainer(
        student, make_args(tmp_path, stage="prediction"), teacher_model=str(tmp_path / "teacher")
    )
    assert isinstance(trainer.teacher, BertForSequenceClassification) and not trainer.teacher.training

    class TeacherWithHint(BertForSequenceClassification):
        seen = []

        def forward(self, input_ids=None, attention_mask=None, teacher_hint=None, **kwargs):
            TeacherWithHint.seen.append(teacher_hint)
            return super().forward(input_ids=input_ids, attention_mask=attention_mask, **kwargs)

    hinted = TeacherWithHint(tiny_teacher_config(num_labels=2))
    dataset = make_dataset(8).add_column("teacher_hint", [1] * 8).add_column("unused", [0] * 8)
    trainer = DistillationTrainer(
        student,
        make_args(tmp_path, max_steps=1, per_device_train_batch_size=8),
        teacher_model=hinted,
        train_dataset=dataset,
    )
    trainer.train()
    assert TeacherWithHint.seen and all(hint is not None for hint in TeacherWithHint.seen)


# ---- bad input: clear errors before training ----


def test_vocabulary_and_tokenizer_mismatch(tmp_path, tiny_tokenizer_dir):
    student, _ = models()
    teacher = BertForSequenceClassification(tiny_teacher_config(num_labels=2, vocab_size=len(TINY_VOCAB) + 7))
    with pytest.raises(
        ValueError, match=rf"student vocab_size={len(TINY_VOCAB)}, teacher vocab_size={len(TINY_VOCAB) + 7}"
    ):
        DistillationTrainer(student, make_args(tmp_path), teacher_model=teacher)
    _, teacher = models()
    tokenizer = BertTokenizerFast.from_pretrained(tiny_tokenizer_dir)
    other_vocab = tmp_path / "vocab.txt"
    other_vocab.write_text("\n".join(TINY_VOCAB[:-1] + ["zzz"]) + "\n")
    other = BertTokenizerFast(vocab=str(other_vocab))
    assert len(other) == len(tokenizer) > 100
    with pytest.raises(ValueError, match="tokenizers differ"):
        DistillationTrainer(
            student,
            make_args(tmp_path),
            teacher_model=teacher,
            processing_class=tokenizer,
            teacher_processing_class=other,
        )


def test_head_count_mismatch(tmp_path):
    student, _ = models(num_attention_heads=2)
    _, teacher = models()
    with pytest.raises(ValueError, match="student has 2 heads and the teacher 4"):
        DistillationTrainer(student, make_args(tmp_path), teacher_model=teacher)
    trainer = DistillationTrainer(student, make_args(tmp_path, attention_head_average=True), teacher_model=teacher)
    loss = trainer.compute_loss(student, batch_of(make_dataset(4)))
    assert loss.isfinite() and loss > 0
    loss.backward()  # the head-averaged attention loss reaches the student's attention weights
    query = student.bert.encoder.layer[0].attention.self.query.weight.grad
    assert query is not None and query.abs().sum() > 0


def test_logit_stage_needs_task_heads_and_matching_labels(tmp_path):
    student, _ = models()
    base_teacher = BertModel(tiny_teacher_config())
    with pytest.raises(ValueError, match="no task head"):
        DistillationTrainer(student, make_args(tmp_path, stage="prediction"), teacher_model=base_teacher)
    DistillationTrainer(
        TinyBertModel(tiny_student_config()), make_args(tmp_path, stage="general"), teacher_model=base_teacher
    )
    _, teacher3 = models(num_labels=3)
    with pytest.raises(ValueError, match="student num_labels=2, teacher num_labels=3"):
        DistillationTrainer(student, make_args(tmp_path, stage="prediction"), teacher_model=teacher3)
    _, teacher = models()
    teacher.config.id2label = {0: "positive", 1: "negative"}
    student.config.id2label = {0: "negative", 1: "positive"}
    with pytest.raises(ValueError, match="Label orders differ"):
        DistillationTrainer(student, make_args(tmp_path, stage="prediction"), teacher_model=teacher)


def test_bad_layer_map_and_arguments(tmp_path):
    student, teacher = models()
    with pytest.raises(ValueError, match="has 3 entries"):
        DistillationTrainer(student, make_args(tmp_path, layer_map="1,2,3"), teacher_model=teacher)
    with pytest.raises(ValueError, match=r"outside 1\.\.4"):
        DistillationTrainer(student, make_args(tmp_path, layer_map="2,5"), teacher_model=teacher)
    with pytest.raises(ValueError, match="valid stages"):
        make_args(tmp_path, stage="everything")
    with pytest.raises(ValueError, match="must be >= 0"):
        make_args(tmp_path, hidden_loss_weight=-1)
    with pytest.raises(ValueError, match="nothing to train"):
        make_args(tmp_path, stage="prediction", prediction_loss_weight=0)
    with pytest.raises(ValueError, match="DistillationArguments"):
        from transformers import TrainingArguments

        DistillationTrainer(student, TrainingArguments(output_dir=str(tmp_path)), teacher_model=teacher)


def test_evaluation_reports_components_for_label_free_stage(tmp_path):
    torch.manual_seed(0)
    teacher = BertModel(tiny_teacher_config())
    student = TinyBertModel(tiny_student_config())
    dataset = make_dataset(16).remove_columns("labels")
    trainer = DistillationTrainer(
        student, make_args(tmp_path, stage="general"), teacher_model=teacher, eval_dataset=dataset
    )
    metrics = trainer.evaluate()
    assert metrics["eval_loss"] > 0
    logged = trainer.state.log_history[-1]
    assert logged["eval_loss"] == pytest.approx(
        logged["eval_loss_emb"] + logged["eval_loss_att"] + logged["eval_loss_hidden"], rel=1e-4
    )
    assert os.environ.get("HF_HUB_OFFLINE") == "1"


# ---- the student's fit_size, the card hooks, the documented overrides ----


def test_fit_size_of_another_teacher_width_is_reported_and_recorded(tmp_path):
    from transformers.testing_utils import CaptureLogger

    from hf_tinybert.distill import trainer as trainer_module

    student, teacher = models(fit_size=768)  # made for a BERT-base teacher; this teacher's hidden size is 32
    with CaptureLogger(trainer_module.logger) as captured:
        trainer = DistillationTrainer(student, make_args(tmp_path), teacher_model=teacher)
    assert "fit_size=768" in captured.out and "hidden size is 32" in captured.out
    assert student.config.fit_size == 32 == trainer.projections.teacher_size
    student, teacher = models()  # fit_size 32: nothing to say
    with CaptureLogger(trainer_module.logger) as captured:
        DistillationTrainer(student, make_args(tmp_path), teacher_model=teacher)
    assert "fit_size" not in captured.out


def test_card_and_push_go_through_the_card_hooks(tmp_path, monkeypatch):
    from transformers import Trainer

    from hf_tinybert.distill import StudentCardHooks
    from hf_tinybert.hub import ModelCardCallback

    student, teacher = models()
    trainer = DistillationTrainer(student, make_args(tmp_path), teacher_model=teacher)
    # without one in `callbacks`, the hub's callback that `import hf_tinybert` wires in
    assert isinstance(trainer.model_card_callback, ModelCardCallback)
    assert trainer.model_card_callback in trainer.callback_handler.callbacks

    class Recording(StudentCardHooks):
        def __init__(self):
            self.calls = []

        def write_card(self, trainer, output_dir, **kwargs):
            self.calls.append(("write_card", output_dir, kwargs))

        def push(self, trainer, repo_id, **kwargs):
            self.calls.append(("push", repo_id, kwargs))
            return "pushed"

    hooks = Recording()
    trainer = DistillationTrainer(
        student, make_args(tmp_path, hub_model_id="me/student"), teacher_model=teacher, callbacks=[hooks]
    )
    assert trainer.model_card_callback is hooks
    assert not any(isinstance(c, ModelCardCallback) for c in trainer.callback_handler.callbacks)
    trainer.create_model_card(model_name="tiny")
    assert trainer.push_to_hub(token="secret", dataset="glue", include_onnx=True) == "pushed"
    out = str(tmp_path / "out")
    assert hooks.calls == [
        ("write_card", out, {"model_name": "tiny"}),
        ("write_card", out, {"dataset": "glue"}),
        (
            "push",
            "me/student",
            {
                "token": "secret",
                "private": False,
                "commit_message": "End of training",
                "revision": None,
                "include_onnx": True,
            },
        ),
    ]
    assert (tmp_path / "out" / "model.safetensors").is_file()  # the student was saved before the push

    # no hooks at all: Trainer's own card
    monkeypatch.setattr(DistillationTrainer, "default_card_hooks", None)
    called = []
    monkeypatch.setattr(Trainer, "create_model_card", lambda self, **kwargs: called.append(kwargs))
    trainer = DistillationTrainer(student, make_args(tmp_path), teacher_model=teacher)
    assert trainer.model_card_callback is None
    trainer.create_model_card(language="en")
    assert called == [{"language": "en"}]


def _documented_overrides(docstring: str) -> set[str]:
    """The names in the bullets of the module docstring's "Overrides of `Trainer`" list."""
    import re

    section = docstring.split("Overrides of `Trainer`", 1)[1].split("\n\n", 2)[1]
    names = set()
    for line in section.splitlines():
        if line.startswith("- "):
            names.update(re.findall(r"`(\w+)`", line.split(":", 1)[0]))
    return names


def test_module_docstring_lists_exactly_the_trainer_overrides():
    from transformers import Trainer

    from hf_tinybert.distill import trainer as trainer_module

    own = [cls for cls in DistillationTrainer.__mro__ if not issubclass(Trainer, cls)]  # ours and our mixins
    overridden = {
        name
        for cls in own
        for name in vars(cls)
        if hasattr(Trainer, name) and not (name.startswith("__") and name.endswith("__"))
    }
    assert _documented_overrides(trainer_module.__doc__) == overridden
    # the mixins hold helpers only: every override is in trainer.py, next to the others
    assert all(name in vars(DistillationTrainer) for name in overridden)
