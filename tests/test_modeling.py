"""TinyBertConfig presets, every head's forward, Auto registration, save/load and trust_remote_code loading."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F
from conftest import TINY_VOCAB, tiny_student_config
from huggingface_hub.errors import StrictDataclassFieldValidationError
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)

from hf_tinybert import (
    TINYBERT_PRESETS,
    TinyBertConfig,
    TinyBertForMaskedLM,
    TinyBertForQuestionAnswering,
    TinyBertForSequenceClassification,
    TinyBertForTokenClassification,
    TinyBertModel,
)
from hf_tinybert.modeling.modeling_tinybert import TINYBERT_AUTO_MAP

# head class -> (Auto class, config overrides)
HEADS = {
    TinyBertModel: (AutoModel, {}),
    TinyBertForSequenceClassification: (AutoModelForSequenceClassification, {"num_labels": 3}),
    TinyBertForQuestionAnswering: (AutoModelForQuestionAnswering, {"num_labels": 2}),
    TinyBertForTokenClassification: (AutoModelForTokenClassification, {"num_labels": 5}),
    TinyBertForMaskedLM: (AutoModelForMaskedLM, {}),
}


def _inputs(batch: int = 2, length: int = 9, seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, len(TINY_VOCAB), (batch, length), generator=generator)
    attention_mask = torch.ones(batch, length, dtype=torch.long)
    attention_mask[1, -3:] = 0  # padding in the second row
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def _outputs(model, inputs) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        out = model(**inputs)
    return {k: v for k, v in out.items() if isinstance(v, torch.Tensor)}


# ---------------------------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TINYBERT_PRESETS))
def test_preset_has_the_papers_shape(name):
    config = TinyBertConfig.from_preset(name)
    for field, value in TINYBERT_PRESETS[name].items():
        assert getattr(config, field) == value
    assert config.model_type == "tinybert"
    assert config.vocab_size == 30522  # bert-base-uncased, as in the paper


@pytest.mark.parametrize(("name", "millions"), [("tinybert-4l-312d", 14.35), ("tinybert-6l-768d", 66.96)])
def test_preset_parameter_counts_match_the_reference(name, millions):
    with torch.device("meta"):
        model = TinyBertModel(TinyBertConfig.from_preset(name))
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 2) == millions


def test_unknown_preset_lists_the_valid_ones():
    with pytest.raises(ValueError, match="tinybert-8l") as info:
        TinyBertConfig.from_preset("tinybert-8l")
    for name in TINYBERT_PRESETS:
        assert name in str(info.value)


def test_preset_overrides_replace_only_their_fields():
    config = TinyBertConfig.from_preset("tinybert-4l-312d", fit_size=384, vocab_size=1000, num_labels=3)
    assert (config.fit_size, config.vocab_size, config.num_labels) == (384, 1000, 3)
    assert (config.num_hidden_layers, config.hidden_size, config.intermediate_size) == (4, 312, 1200)
    overridden = TinyBertConfig.from_preset("tinybert-6l-768d", num_hidden_layers=3)
    assert (overridden.num_hidden_layers, overridden.hidden_size) == (3, 768)


def test_fit_size_defaults_to_bert_base_and_is_type_checked():
    assert TinyBertConfig().fit_size == 768
    with pytest.raises(StrictDataclassFieldValidationError, match="fit_size"):
        TinyBertConfig(fit_size="768")


def test_config_round_trips_through_json(tmp_path):
    config = tiny_student_config(fit_size=48, num_labels=4)
    config.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["model_type"] == "tinybert"
    assert saved["fit_size"] == 48
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert type(loaded) is TinyBertConfig
    assert (loaded.fit_size, loaded.num_labels, loaded.hidden_size) == (48, 4, 24)


# ---------------------------------------------------------------------------------------------------------------
# Forward of every head
# ---------------------------------------------------------------------------------------------------------------


def test_base_model_forward_shapes(seeded):
    model = TinyBertModel(tiny_student_config()).eval()
    out = model(**_inputs(batch=2, length=9))
    assert out.last_hidden_state.shape == (2, 9, 24)
    assert out.pooler_output.shape == (2, 24)
    hidden = model(**_inputs(), output_hidden_states=True).hidden_states
    assert len(hidden) == 3  # embeddings + 2 layers


def test_sequence_classification_forward_and_loss(seeded):
    model = TinyBertForSequenceClassification(tiny_student_config(num_labels=3)).eval()
    labels = torch.tensor([0, 2])
    out = model(**_inputs(), labels=labels)
    assert out.logits.shape == (2, 3)
    assert torch.allclose(out.loss, F.cross_entropy(out.logits, labels))


def test_sequence_regression_with_one_label_uses_mse(seeded):
    model = TinyBertForSequenceClassification(tiny_student_config(num_labels=1)).eval()
    labels = torch.tensor([0.5, 3.0])
    out = model(**_inputs(), labels=labels)
    assert out.logits.shape == (2, 1)
    assert model.config.problem_type == "regression"
    assert torch.allclose(out.loss, F.mse_loss(out.logits.squeeze(-1), labels))


def test_question_answering_forward_and_loss(seeded):
    model = TinyBertForQuestionAnswering(tiny_student_config(num_labels=2)).eval()
    start, end = torch.tensor([1, 2]), torch.tensor([3, 4])
    out = model(**_inputs(length=9), start_positions=start, end_positions=end)
    assert out.start_logits.shape == out.end_logits.shape == (2, 9)
    expected = (F.cross_entropy(out.start_logits, start) + F.cross_entropy(out.end_logits, end)) / 2
    assert torch.allclose(out.loss, expected)


def test_token_classification_forward_and_loss(seeded):
    model = TinyBertForTokenClassification(tiny_student_config(num_labels=5)).eval()
    labels = torch.randint(0, 5, (2, 9))
    out = model(**_inputs(length=9), labels=labels)
    assert out.logits.shape == (2, 9, 5)
    assert torch.allclose(out.loss, F.cross_entropy(out.logits.reshape(-1, 5), labels.reshape(-1)))


def test_masked_lm_forward_loss_and_tied_decoder(seeded):
    model = TinyBertForMaskedLM(tiny_student_config()).eval()
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    labels = torch.full((2, 9), -100)
    labels[:, 2] = torch.tensor([10, 20])
    out = model(**_inputs(length=9), labels=labels)
    assert out.logits.shape == (2, 9, len(TINY_VOCAB))
    assert torch.allclose(out.loss, F.cross_entropy(out.logits[:, 2], labels[:, 2]))


def test_heads_share_the_bert_encoder_outputs(seeded):
    """Every head runs the same encoder: its hidden states match the bare model with the same weights."""
    base = TinyBertModel(tiny_student_config()).eval()
    classifier = TinyBertForSequenceClassification(tiny_student_config(num_labels=3)).eval()
    classifier.bert.load_state_dict(base.state_dict())
    inputs = _inputs()
    expected = base(**inputs).last_hidden_state
    got = classifier(**inputs, output_hidden_states=True).hidden_states[-1]
    assert torch.equal(got, expected)


# ---------------------------------------------------------------------------------------------------------------
# Auto classes
# ---------------------------------------------------------------------------------------------------------------


def test_auto_config_knows_tinybert():
    config = AutoConfig.for_model("tinybert", hidden_size=24, num_attention_heads=4, fit_size=32)
    assert type(config) is TinyBertConfig
    assert config.fit_size == 32


@pytest.mark.parametrize("model_cls", list(HEADS), ids=lambda c: c.__name__)
def test_auto_model_from_config_builds_our_class(model_cls):
    auto_cls, overrides = HEADS[model_cls]
    model = auto_cls.from_config(tiny_student_config(**overrides))
    assert type(model) is model_cls


# ---------------------------------------------------------------------------------------------------------------
# Saving and loading
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model_cls", list(HEADS), ids=lambda c: c.__name__)
def test_save_load_round_trip_gives_identical_outputs(model_cls, tmp_path, seeded):
    auto_cls, overrides = HEADS[model_cls]
    model = model_cls(tiny_student_config(**overrides)).eval()
    model.save_pretrained(tmp_path)

    assert {"configuration_tinybert.py", "modeling_tinybert.py", "model.safetensors"} <= set(os.listdir(tmp_path))
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["auto_map"] == TINYBERT_AUTO_MAP
    assert saved["architectures"] == [model_cls.__name__]
    assert saved["fit_size"] == 32

    loaded = auto_cls.from_pretrained(tmp_path)
    assert type(loaded) is model_cls  # the package is imported: its registered class, not remote code
    inputs = _inputs()
    expected, got = _outputs(model, inputs), _outputs(loaded, inputs)
    assert expected.keys() == got.keys() and expected
    for key in expected:
        assert torch.equal(expected[key], got[key]), key


_FRESH_PROCESS_SCRIPT = textwrap.dedent(
    """
    import json, sys
    sys.modules["hf_tinybert"] = None  # the package must not be importable in this process
    try:
        import hf_tinybert  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("hf_tinybert was importable")
    import torch
    import transformers

    jobs = json.loads(sys.argv[1])
    inputs = torch.load(sys.argv[2])
    results = {}
    for name, (folder, auto_name) in jobs.items():
        auto_cls = getattr(transformers, auto_name)
        model = auto_cls.from_pretrained(folder, trust_remote_code=True).eval()
        with torch.no_grad():
            out = model(**inputs)
        results[name] = {
            "class": type(model).__name__,
            "module": type(model).__module__,
            "config_class": type(model.config).__name__,
            "fit_size": model.config.fit_size,
            "outputs": {k: v for k, v in out.items() if isinstance(v, torch.Tensor)},
        }
    torch.save(results, sys.argv[3])
    """
)


def _run_without_package(script: str, args: list[str], tmp_path) -> None:
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf_home"), TOKENIZERS_PARALLELISM="false")
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_saved_students_load_with_trust_remote_code_in_a_process_without_the_package(tmp_path, seeded):
    """Every head, and AutoModel from a classifier's folder, in a fresh process that cannot import hf_tinybert."""
    models, jobs = {}, {}
    for model_cls, (auto_cls, overrides) in HEADS.items():
        folder = tmp_path / model_cls.__name__
        models[model_cls.__name__] = model_cls(tiny_student_config(**overrides)).eval()
        models[model_cls.__name__].save_pretrained(folder)
        jobs[model_cls.__name__] = (str(folder), auto_cls.__name__)
    classifier_folder = jobs["TinyBertForSequenceClassification"][0]
    jobs["AutoModel from a classifier"] = (classifier_folder, "AutoModel")
    inputs = _inputs()
    torch.save(inputs, tmp_path / "inputs.pt")

    _run_without_package(_FRESH_PROCESS_SCRIPT, [json.dumps(jobs), "inputs.pt", "results.pt"], tmp_path)
    results = torch.load(tmp_path / "results.pt")

    for name, model in models.items():
        result = results[name]
        assert result["class"] == name
        assert result["module"].startswith("transformers_modules.")  # the code copied next to the weights
        assert result["config_class"] == "TinyBertConfig"
        assert result["fit_size"] == 32
        expected = _outputs(model, inputs)
        assert expected.keys() == result["outputs"].keys()
        for key in expected:
            assert torch.equal(expected[key], result["outputs"][key]), (name, key)

    encoder = results["AutoModel from a classifier"]
    assert encoder["class"] == "TinyBertModel"
    classifier_encoder = models["TinyBertForSequenceClassification"].bert
    with torch.no_grad():
        expected_hidden = classifier_encoder(**inputs).last_hidden_state
    assert torch.equal(encoder["outputs"]["last_hidden_state"], expected_hidden)


def test_preset_takes_the_teachers_vocabulary_and_fit_size():
    from transformers import BertConfig

    teacher = BertConfig(vocab_size=1234, hidden_size=384, max_position_embeddings=256, pad_token_id=3)
    config = TinyBertConfig.from_preset("tinybert-4l-312d", teacher, num_labels=5)
    assert (config.vocab_size, config.max_position_embeddings, config.pad_token_id) == (1234, 256, 3)
    assert (config.fit_size, config.hidden_size, config.num_labels) == (384, 312, 5)
    assert TinyBertConfig.from_preset("tinybert-4l-312d", teacher, fit_size=768).fit_size == 768


# ---------------------------------------------------------------------------------------------------------------
# Layering
# ---------------------------------------------------------------------------------------------------------------

UPPER_LAYERS = ("distill", "hub", "export", "stages", "demo", "cli")


def _imported_modules(source: str) -> set[str]:
    """Every module a file of `hf_tinybert.modeling` imports, anywhere in it (inside functions too), by full name."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = {0: "", 1: "hf_tinybert.modeling", 2: "hf_tinybert"}.get(node.level, "<beyond hf_tinybert>")
            module = ".".join(part for part in (base, node.module or "") if part)
            found |= {module} | {f"{module}.{alias.name}" for alias in node.names}  # `from .. import distill`
    return found


def test_modeling_is_the_bottom_layer():
    """modeling/ imports nothing of the layers above it, not even lazily inside a function."""
    from pathlib import Path

    import hf_tinybert.modeling

    lazy = _imported_modules("def f():\n    from ..distill.projections import save_projections\n")
    assert "hf_tinybert.distill.projections" in lazy  # the walk sees imports inside functions
    files = sorted(Path(hf_tinybert.modeling.__file__).parent.glob("*.py"))
    assert {"convert.py", "weight_selection.py", "heads.py", "__init__.py"} <= {f.name for f in files}
    upper = [f"hf_tinybert.{layer}" for layer in UPPER_LAYERS] + ["<beyond hf_tinybert>"]
    offending = {
        f.name: sorted(
            m
            for m in _imported_modules(f.read_text(encoding="utf-8"))
            if any(m == u or m.startswith(f"{u}.") for u in upper)
        )
        for f in files
    }
    assert not {name: modules for name, modules in offending.items() if modules}
