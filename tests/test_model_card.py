"""Model cards: facts gathered by a TrainerCallback during real (tiny) training runs, rendered into a Hub card."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_student_config, tiny_teacher_config
from huggingface_hub import ModelCard
from transformers import BertForSequenceClassification, DataCollatorWithPadding, Trainer, TrainingArguments

from hf_tinybert import DistillationArguments, TinyBertForSequenceClassification
from hf_tinybert.export.benchmark import BenchmarkReport, BenchmarkRow, write_report
from hf_tinybert.export.model_size import count_parameters
from hf_tinybert.hub.card import (
    FACTS_FILE,
    TEMPLATE_PATH,
    ModelCardCallback,
    ModelCardFacts,
    distillation_settings_of,
    speedups_from_benchmark,
    write_model_card,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SECRET = "hf_cardSECRET0123456789"
EVAL_DATASET = {"id": "nyu-mll/glue", "name": "GLUE SST-2", "config": "sst2", "split": "validation"}


@dataclasses.dataclass
class ArgumentsWithASecret(DistillationArguments):
    teacher_api_token: str = ""  # a secret-looking extra field must never reach the card


def _dataset(tokenizer, n=16):
    texts = ["the movie was good", "a bad film", "fun and charming", "the worst plot"]
    rows = []
    for i in range(n):
        encoded = tokenizer(texts[i % 4])
        rows.append({**encoded, "labels": int(i % 4 in (0, 2))})
    return rows


def _accuracy(prediction):
    return {"accuracy": float((np.argmax(prediction.predictions, -1) == prediction.label_ids).mean())}


@pytest.fixture(scope="module")
def two_stage_facts(tiny_tokenizer, tmp_path_factory):
    """Two real training runs (stages) of a tiny student, followed by one callback."""
    torch.manual_seed(0)
    student = TinyBertForSequenceClassification(tiny_student_config(num_labels=2))
    teacher = BertForSequenceClassification(tiny_teacher_config(num_labels=2))
    callback = ModelCardCallback(
        teacher,
        model_name="tiny-sst2",
        datasets=["nyu-mll/glue"],
        eval_dataset=EVAL_DATASET,
        augmentation={"augment_num": 20, "replace_prob": 0.4},
    )
    data = _dataset(tiny_tokenizer)
    out = tmp_path_factory.mktemp("card_run")
    for stage, steps in (("intermediate", 3), ("prediction", 2)):
        args = ArgumentsWithASecret(
            output_dir=str(out / stage),
            stage=stage,
            layer_map="1,2",
            temperature=2.0,
            max_steps=steps,
            per_device_train_batch_size=4,
            learning_rate=5e-5,
            use_cpu=True,
            report_to="none",
            save_strategy="no",
            logging_steps=1,
            hub_token=SECRET,
            teacher_api_token=SECRET,
        )
        trainer = Trainer(
            model=student,
            args=args,
            train_dataset=data,
            eval_dataset=data[:8],
            data_collator=DataCollatorWithPadding(tiny_tokenizer),
            compute_metrics=_accuracy,
            callbacks=[callback],
        )
        trainer.train()
        trainer.evaluate()
    return callback, student, teacher


def test_callback_gathers_stages(two_stage_facts):
    callback, student, teacher = two_stage_facts
    facts = callback.facts
    assert [s["stage"] for s in facts.stages] == ["intermediate", "prediction"]
    first = facts.stages[0]
    # each stage shows the settings it uses: no temperature for the intermediate layers, no layer map for predictions
    second = facts.stages[1]["distillation"]
    assert first["distillation"]["layer_map"] == "1,2" and "temperature" not in first["distillation"]
    assert (
        first["distillation"]["attention_loss_weight"] == 1.0 and "prediction_loss_weight" not in first["distillation"]
    )
    assert second["temperature"] == 2.0 and "layer_map" not in second and "attention_loss_weight" not in second
    assert first["distillation"]["mask_padding"] == second["mask_padding"]  # the settings every stage uses
    assert first["hyperparameters"]["learning_rate"] == 5e-5 and first["hyperparameters"]["max_steps"] == 3
    assert first["hyperparameters"]["total_train_batch_size"] == 4
    assert first["training"]["steps"] == 3 and "train_loss" in first["training"]
    assert facts.stages[1]["training"]["steps"] == 2
    assert set(facts.stages[1]["eval_results"]) == {"accuracy"}
    assert facts.eval_results == facts.stages[1]["eval_results"]
    assert facts.student_parameters == count_parameters(student)
    assert facts.teacher_parameters == count_parameters(teacher)
    assert facts.student_shape["num_hidden_layers"] == 2 and facts.teacher_shape["hidden_size"] == 32
    assert facts.architecture == "TinyBertForSequenceClassification"


def test_no_secret_in_facts_or_card(two_stage_facts, tmp_path):
    callback, _, _ = two_stage_facts
    assert SECRET not in json.dumps(callback.facts.to_dict(), default=str)
    card = callback.write(tmp_path)
    assert SECRET not in card.read_text()
    assert SECRET not in (tmp_path / FACTS_FILE).read_text()
    assert "teacher_api_token" not in distillation_settings_of(ArgumentsWithASecret(output_dir=str(tmp_path)))


def test_card_has_hub_metadata_and_sections(two_stage_facts, tmp_path):
    callback, _, _ = two_stage_facts
    facts = dataclasses.replace(callback.facts, teacher_id="google-bert/bert-base-uncased", repo_id="me/tiny-sst2")
    path = write_model_card(tmp_path, facts)
    card = ModelCard.load(path)
    assert card.data.base_model == "google-bert/bert-base-uncased"
    assert card.data.model_name == "tiny-sst2" and card.data.pipeline_tag == "text-classification"
    result = card.data.eval_results[0]
    assert (result.dataset_type, result.dataset_config, result.dataset_split) == ("nyu-mll/glue", "sst2", "validation")
    assert result.metric_type == "accuracy" and result.metric_value == facts.eval_results["accuracy"]
    assert card.data.datasets == ["nyu-mll/glue"]
    text = card.text
    assert "### Stage 1: intermediate" in text and "### Stage 2: prediction" in text
    assert "| layer_map | `1,2` |" in text and "| temperature | `2.0` |" in text
    assert text.index("| layer_map |") < text.index("### Stage 2") < text.index("| temperature |")
    assert 'AutoModelForSequenceClassification.from_pretrained("me/tiny-sst2", trust_remote_code=True)' in text
    assert 'pipeline("text-classification", model="me/tiny-sst2", trust_remote_code=True)' in text
    assert "augment_num `20`" in text
    assert "@inproceedings{jiao-etal-2020-tinybert" in text and "## Limitations" in text
    assert "onnxruntime" not in text and "plain-bert" not in text  # those variants were not published


def test_card_speedups_from_benchmark_json(tmp_path):
    rows = [
        BenchmarkRow("bert-base", "pytorch", 32, 64, 2000.0, 1900.0, 16.0, 109_000_000, 440_000_000, 353_000_000_000),
        BenchmarkRow(
            "tinybert-4l-312d", "onnx-int8", 32, 64, 50.0, 48.0, 640.0, 14_000_000, 14_000_000, 19_300_000_000
        ),
    ]
    report = BenchmarkReport(rows=rows, settings={"threads": 2})
    report.comparisons.append(report.compare(("bert-base", "pytorch"), ("tinybert-4l-312d", "onnx-int8"), (32, 64)))
    paths = write_report(report, tmp_path / "bench")
    speedups = speedups_from_benchmark(paths["json"])
    assert speedups == [
        {
            "candidate": "tinybert-4l-312d (onnx-int8)",
            "baseline": "bert-base (pytorch)",
            "workload": "32 x 64",
            "threads": 2,
            "speedup": 40.0,
            "flops_ratio": pytest.approx(353 / 19.3),
        }
    ]
    card = write_model_card(tmp_path / "card", ModelCardFacts(model_name="m"), benchmark_json=paths["json"])
    assert "| tinybert-4l-312d (onnx-int8) | bert-base (pytorch) | 32 x 64 | 2 | 40.0x | 18.3x |" in card.read_text()


def test_minimal_facts_and_variants(tmp_path):
    facts = {
        "architecture": "TinyBertForQuestionAnswering",
        "include_onnx": True,
        "onnx_files": ["model_quantized.onnx"],
        "include_plain_bert": True,
        "eval_results": {"f1": 80.0},
    }
    text = write_model_card(tmp_path / "student-qa", facts).read_text()
    card = ModelCard(text)
    assert card.data.model_name == "student-qa" and card.data.pipeline_tag == "question-answering"
    assert card.data.eval_results is None  # results without a dataset id: shown, but no model-index
    assert "| f1 | 80.0000 |" in text
    assert 'subfolder="plain-bert"' in text and "`model_quantized.onnx`" in text
    assert "AutoModelForQuestionAnswering" in text
    assert "The distillation settings were not recorded." in text


def test_local_teacher_path_is_not_a_base_model(tmp_path):
    card = ModelCard.load(write_model_card(tmp_path, {"teacher_id": str(tmp_path), "model_name": "m"}))
    assert card.data.base_model is None and "| model | m | a local model |" in card.text
    assert "distilled from a local model" in card.text and "huggingface.co//" not in card.text


def test_bad_facts(tmp_path):
    with pytest.raises(ValueError, match="Unknown model card facts \\['teacher'\\]"):
        write_model_card(tmp_path, {"teacher": "x"})
    (tmp_path / "not_a_report.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a benchmark report"):
        speedups_from_benchmark(tmp_path / "not_a_report.json")
    with pytest.raises(FileNotFoundError):
        write_model_card(tmp_path, {}, benchmark_json=tmp_path / "missing.json")


def test_facts_round_trip(two_stage_facts, tmp_path):
    callback, _, _ = two_stage_facts
    path = callback.facts.save(tmp_path / FACTS_FILE)
    assert ModelCardFacts.load(path) == callback.facts


def test_one_template(tmp_path):
    """model_cards/tinybert_student.md is the packaged template itself (a link), not a copy that can drift."""
    linked = REPO_ROOT / "model_cards" / "tinybert_student.md"
    assert linked.resolve() == TEMPLATE_PATH.resolve()
    assert TEMPLATE_PATH.read_text().startswith("---\n{{ card_data }}\n---")


def test_card_metadata_holds_only_hub_names_and_given_licenses(tmp_path):
    """datasets: only Hub ids (a local corpus file is named in the text); no license or language unless given or
    inherited from the teacher's card; enum settings as their strings; model-index round-trips through
    huggingface_hub's own parser (`metadata_eval_result`)."""
    from huggingface_hub import metadata_eval_result, metadata_load
    from transformers.trainer_utils import SchedulerType

    from hf_tinybert.hub.card import hyperparameters_of

    facts = {
        "model_name": "m",
        "teacher_id": "google-bert/bert-base-uncased",
        "architecture": "TinyBertForSequenceClassification",
        "datasets": ["wiki.valid.tokens", "nyu-mll/glue", str(tmp_path)],
        "eval_dataset": {"id": "nyu-mll/glue", "name": "GLUE SST2", "config": "sst2", "split": "validation"},
        "eval_results": {"accuracy": 0.75},
        "stages": [{"stage": "general", "train_datasets": ["local file wiki.valid.tokens"], "distillation": {}}],
    }
    metadata = metadata_load(write_model_card(tmp_path / "card", facts))
    assert metadata["datasets"] == ["nyu-mll/glue"] and metadata["base_model"] == "google-bert/bert-base-uncased"
    assert "license" not in metadata and "language" not in metadata
    expected = metadata_eval_result(
        model_pretty_name="m",
        task_pretty_name="text-classification",
        task_id="text-classification",
        metrics_pretty_name="accuracy",
        metrics_id="accuracy",
        metrics_value=0.75,
        dataset_pretty_name="GLUE SST2",
        dataset_id="nyu-mll/glue",
        metrics_config=None,
        dataset_config="sst2",
        dataset_split="validation",
    )
    assert metadata["model-index"][0]["results"][0]["metrics"][0]["value"] == 0.75
    assert metadata["model-index"][0]["results"][0]["dataset"] == expected["model-index"][0]["results"][0]["dataset"]
    text = (tmp_path / "card" / "README.md").read_text()
    assert "local file wiki.valid.tokens" in text and str(tmp_path) not in metadata.get("datasets", [])

    # license and language are inherited from a local teacher's card, never assumed
    teacher = tmp_path / "teacher"
    teacher.mkdir()
    (teacher / "README.md").write_text("---\nlicense: mit\nlanguage: de\n---\n# teacher\n")
    callback = ModelCardCallback(teacher=None)
    callback.facts.teacher_id = str(teacher)

    class Teacher:  # what `_record_teacher` reads
        config = tiny_teacher_config()
        name_or_path = str(teacher)

        @staticmethod
        def parameters():
            return []

    callback._record_teacher(Teacher())
    assert (callback.facts.license, callback.facts.language) == ("mit", "de")

    args = TrainingArguments(output_dir=str(tmp_path / "o"), lr_scheduler_type=SchedulerType.LINEAR, report_to="none")
    hyper = hyperparameters_of(args)
    assert hyper["lr_scheduler_type"] == "linear" and type(hyper["lr_scheduler_type"]) is str
    assert type(hyper["optim"]) is str and not hyper["optim"].startswith("OptimizerNames")
