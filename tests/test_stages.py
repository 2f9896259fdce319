"""The stage commands end to end on tiny models and a tiny GLUE-format folder: finetune (also LoRA),
general-distill, task-distill (both steps, resume), evaluate, --config, and the errors raised before training."""

from __future__ import annotations

import json
import random

import pytest
import torch
from conftest import assert_user_error, tiny_teacher_config
from transformers import AutoModelForSequenceClassification, AutoTokenizer, BertForMaskedLM, BertTokenizerFast

from hf_tinybert.cli import main as cli_main

POSITIVE = ["good", "great", "fun", "best", "love", "charming", "beautiful", "smart", "clever", "funny"]
NEGATIVE = ["bad", "awful", "terrible", "boring", "worst", "hate", "dull", "stupid", "ugly", "sad"]
FILLER = ["the", "movie", "film", "story", "plot", "was", "is", "it", "this", "and", "very", "really", "quite"]


def sentence(rng, words):
    return " ".join(rng.sample(FILLER, 3) + rng.sample(words, 2) + rng.sample(FILLER, 2))


@pytest.fixture(scope="module")
def glue_dir(tmp_path_factory):
    """A GLUE-format folder with an SST-2 task whose label is readable from the words."""
    root = tmp_path_factory.mktemp("glue")
    (root / "SST-2").mkdir()
    rng = random.Random(0)
    for split, n in (("train", 160), ("dev", 40)):
        rows = ["sentence\tlabel"]
        for i in range(n):
            label = i % 2
            rows.append(f"{sentence(rng, POSITIVE if label else NEGATIVE)} \t{label}")
        (root / "SST-2" / f"{split}.tsv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def teacher_base(tmp_path_factory, tiny_tokenizer_dir):
    """A 'pre-trained' tiny BERT (random weights) with the tiny tokenizer, saved like a Hub folder."""
    folder = tmp_path_factory.mktemp("bert_base")
    torch.manual_seed(0)
    BertForMaskedLM(tiny_teacher_config()).save_pretrained(folder)
    BertTokenizerFast.from_pretrained(tiny_tokenizer_dir).save_pretrained(folder)
    return folder


COMMON = ["--use_cpu", "--report_to", "none", "--disable_tqdm", "true", "--seed", "0", "--save_strategy", "no"]


@pytest.fixture(scope="module")
def finetuned_teacher(tmp_path_factory, teacher_base, glue_dir):
    out = tmp_path_factory.mktemp("runs") / "teacher"
    code = cli_main(
        [
            "finetune",
            "--model_name_or_path",
            str(teacher_base),
            "--task",
            "sst2",
            "--data_dir",
            str(glue_dir),
            "--output_dir",
            str(out),
            "--num_train_epochs",
            "8",
            "--learning_rate",
            "3e-3",
            "--per_device_train_batch_size",
            "16",
            "--max_seq_length",
            "16",
            *COMMON,
        ]
    )
    assert code == 0
    return out


@pytest.mark.slow
def test_finetune_writes_a_model_card(finetuned_teacher):
    from huggingface_hub import ModelCard

    card = ModelCard.load(finetuned_teacher / "README.md")
    assert card.data.base_model is None  # a local base model: named in the text, never linked
    assert "is a local model fine-tuned with" in card.text and "## Fine-tuning" in card.text
    assert "### Stage 1: fine-tuning" in card.text and "TinyBERT student" not in card.text
    result = card.data.eval_results[0]
    recorded = json.loads((finetuned_teacher / "eval_results.json").read_text())["eval_accuracy"]
    assert (result.dataset_type, result.metric_type) == ("nyu-mll/glue", "accuracy")
    assert result.metric_value == pytest.approx(recorded)
    assert card.data.datasets == ["nyu-mll/glue"] and card.data.license is None


def test_finetune_writes_model_metrics_and_arguments(finetuned_teacher):
    results = json.loads((finetuned_teacher / "eval_results.json").read_text())
    assert results["eval_accuracy"] >= 0.9  # the words give the label away
    model = AutoModelForSequenceClassification.from_pretrained(finetuned_teacher)
    assert model.config.id2label == {0: "negative", 1: "positive"}
    assert (finetuned_teacher / "tokenizer.json").is_file()
    recorded = json.loads((finetuned_teacher / "run_arguments.json").read_text())
    assert recorded["TaskDataArguments"]["task"] == "sst2"


@pytest.mark.slow
def test_finetune_lora_gives_a_plain_merged_model(tmp_path, teacher_base, glue_dir):
    out = tmp_path / "lora"
    assert (
        cli_main(
            [
                "finetune",
                "--model_name_or_path",
                str(teacher_base),
                "--task",
                "sst2",
                "--data_dir",
                str(glue_dir),
                "--output_dir",
                str(out),
                "--lora",
                "--lora_target_modules",
                "query,value",
                "--num_train_epochs",
                "1",
                "--max_train_samples",
                "32",
                "--max_seq_length",
                "16",
                *COMMON,
            ]
        )
        == 0
    )
    assert not (out / "adapter_config.json").exists() and (out / "lora_adapter" / "adapter_config.json").is_file()
    merged = AutoModelForSequenceClassification.from_pretrained(out)
    assert not any("lora" in name for name, _ in merged.named_parameters())
    # the recorded dev accuracy is the merged model's own: the adapter was merged into the saved weights
    dev = [line.split("\t") for line in (glue_dir / "SST-2" / "dev.tsv").read_text().splitlines()[1:]]
    batch = AutoTokenizer.from_pretrained(out)(
        [t for t, _ in dev], padding=True, truncation=True, max_length=16, return_tensors="pt"
    )
    with torch.no_grad():
        predicted = merged.eval()(**batch).logits.argmax(-1).tolist()
    expected = sum(p == int(y) for p, (_, y) in zip(predicted, dev)) / len(dev)
    assert json.loads((out / "eval_results.json").read_text())["eval_accuracy"] == pytest.approx(expected)


@pytest.mark.slow
def test_general_then_task_distillation_and_evaluate(tmp_path, teacher_base, finetuned_teacher, glue_dir):
    corpus = tmp_path / "corpus.txt"
    rng = random.Random(1)
    corpus.write_text("\n".join(sentence(rng, POSITIVE + NEGATIVE) for _ in range(300)) + "\n")
    general = tmp_path / "general"
    assert (
        cli_main(
            [
                "general-distill",
                "--teacher_model",
                str(teacher_base),
                "--corpus",
                str(corpus),
                "--student_model",
                str(_tiny_student_preset_folder(tmp_path, teacher_base)),
                "--output_dir",
                str(general),
                "--max_seq_length",
                "32",
                "--num_train_epochs",
                "2",
                "--learning_rate",
                "1e-3",
                "--logging_steps",
                "5",
                "--per_device_train_batch_size",
                "8",
                *COMMON,
            ]
        )
        == 0
    )
    assert (general / "distill_projections.safetensors").is_file()
    history = json.loads((general / "trainer_state.json").read_text())["log_history"]
    first, last = history[0], [h for h in history if "loss_hidden" in h][-1]
    assert last["loss_hidden"] < first["loss_hidden"] and last["loss_att"] < first["loss_att"]

    student = tmp_path / "student"
    args = [
        "task-distill",
        "--teacher_model",
        str(finetuned_teacher),
        "--student_model",
        str(general),
        "--task",
        "sst2",
        "--data_dir",
        str(glue_dir),
        "--output_dir",
        str(student),
        "--max_seq_length",
        "16",
        "--intermediate_epochs",
        "2",
        "--intermediate_learning_rate",
        "1e-3",
        "--prediction_epochs",
        "3",
        "--prediction_learning_rate",
        "3e-3",
        "--per_device_train_batch_size",
        "16",
        "--use_cpu",
        "--report_to",
        "none",
        "--disable_tqdm",
        "true",
        "--seed",
        "0",
    ]
    assert cli_main(args) == 0
    assert (student / "intermediate" / "distill_step_done.json").is_file()
    results = json.loads((student / "eval_results.json").read_text())
    assert results["eval_accuracy"] >= 0.8
    state = json.loads((student / "trainer_state.json").read_text())
    assert state["best_metric"] == pytest.approx(results["eval_accuracy"])  # best dev checkpoint kept
    card = (student / "README.md").read_text()
    facts = json.loads((student / "model_card_facts.json").read_text())
    assert [stage["stage"] for stage in facts["stages"]] == ["general", "intermediate", "prediction"]
    assert "model-index" in card and "nyu-mll/glue" in card

    # the same command again: refuses to overwrite the finished run
    assert_user_error("overwrite_output_dir", args)

    # evaluate gives the same numbers from the saved student
    assert (
        cli_main(
            [
                "evaluate",
                "--model_name_or_path",
                str(student),
                "--task",
                "sst2",
                "--data_dir",
                str(glue_dir),
                "--output_dir",
                str(tmp_path / "eval"),
                "--max_seq_length",
                "16",
                "--use_cpu",
                "--report_to",
                "none",
            ]
        )
        == 0
    )
    evaluated = json.loads((tmp_path / "eval" / "eval_results.json").read_text())
    assert evaluated["eval_accuracy"] == pytest.approx(results["eval_accuracy"])


def _tiny_student_preset_folder(tmp_path, teacher_base):
    """A tiny untrained TinyBERT student folder (the presets are too big for a test)."""
    from conftest import tiny_student_config

    from hf_tinybert import TinyBertModel

    folder = tmp_path / "student_init"
    torch.manual_seed(0)
    TinyBertModel(tiny_student_config()).save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_task_distill_resumes_the_prediction_step(tmp_path, finetuned_teacher, glue_dir):
    student_init = _tiny_student_preset_folder(tmp_path, None)
    out = tmp_path / "resumable"
    base = [
        "task-distill",
        "--stage",
        "prediction",
        "--teacher_model",
        str(finetuned_teacher),
        "--student_model",
        str(student_init),
        "--task",
        "sst2",
        "--data_dir",
        str(glue_dir),
        "--output_dir",
        str(out),
        "--max_seq_length",
        "16",
        "--per_device_train_batch_size",
        "16",
        "--use_cpu",
        "--report_to",
        "none",
        "--disable_tqdm",
        "true",
        "--seed",
        "0",
        "--save_strategy",
        "steps",
        "--save_steps",
        "5",
        "--keep_checkpoints",  # a finished run keeps its checkpoints only when asked (to extend it later)
    ]
    assert cli_main([*base, "--max_steps", "5"]) == 0
    assert (out / "checkpoint-5").is_dir()
    assert cli_main([*base, "--max_steps", "10", "--resume_from_checkpoint", "last"]) == 0
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 10


def test_config_file_and_flag_override(tmp_path, glue_dir):
    from hf_tinybert.cli.arguments import parse_arguments as parse_stage_arguments
    from hf_tinybert.distill import DistillationArguments
    from hf_tinybert.stages import TaskDataArguments, TaskDistillArguments

    config = tmp_path / "run.yaml"
    config.write_text(
        f"teacher_model: t\ntask: rte\ndata_dir: {glue_dir}\noutput_dir: {tmp_path}/o\ntemperature: 2.0\n"
    )
    args, data, training = parse_stage_arguments(
        (TaskDistillArguments, TaskDataArguments, DistillationArguments),
        ["--config", str(config), "--temperature", "3.0", "--use_cpu"],
        "x",
        "",
        defaults={"stage": "prediction"},
    )
    assert (args.teacher_model, data.task, training.temperature, training.stage) == ("t", "rte", 3.0, "prediction")
    config.write_text("teacher_model: t\nnot_a_flag: 1\n")
    with pytest.raises(ValueError, match="not_a_flag"):
        parse_stage_arguments((TaskDistillArguments,), ["--config", str(config)], "x", "")


def test_bad_input_is_reported_before_training(tmp_path, teacher_base, glue_dir):
    def finetune(task: str, output_dir) -> list[str]:
        model = ["--model_name_or_path", str(teacher_base)]
        return ["finetune", *model, "--task", task, "--data_dir", str(glue_dir), "--output_dir", str(output_dir)]

    assert_user_error("Unknown task 'sst3'", finetune("sst3", tmp_path))
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")
    assert_user_error("not empty", [*finetune("sst2", occupied), "--use_cpu"])
    assert (occupied / "keep.txt").read_text() == "mine"
    assert_user_error("no folder 'RTE'.*task folders: SST-2", [*finetune("rte", tmp_path / "rte"), "--use_cpu"])


@pytest.mark.slow
def test_task_distill_rejects_a_teacher_for_another_task(tmp_path, finetuned_teacher, glue_dir):
    (glue_dir / "MNLI").mkdir(exist_ok=True)
    header = "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label"
    row = "0\t1\t1\tg\tx\tx\tx\tx\tthe movie\tthe film\tneutral\tneutral"
    for name in ("train.tsv", "dev_matched.tsv", "dev_mismatched.tsv"):
        (glue_dir / "MNLI" / name).write_text(header + "\n" + row + "\n")
    assert_user_error(
        r"model has 2 labels.*task has 3",
        [
            "task-distill",
            "--teacher_model",
            str(finetuned_teacher),
            "--student_model",
            "tinybert-4l-312d",
            "--task",
            "mnli",
            "--data_dir",
            str(glue_dir),
            "--output_dir",
            str(tmp_path / "x"),
            "--use_cpu",
        ],
    )


def test_task_distill_with_the_official_averaging_pads_to_max_seq_length(tmp_path, finetuned_teacher, glue_dir):
    """--mask_padding false counts padded positions (the official code's loss): the stage pads every batch to
    --max_seq_length, which the trainer requires (it refuses a dynamically padding collator when it is built)."""
    student_init = _tiny_student_preset_folder(tmp_path, None)
    command = [
        "task-distill",
        "--stage",
        "intermediate",
        "--mask_padding",
        "false",
        "--teacher_model",
        str(finetuned_teacher),
        "--student_model",
        str(student_init),
        "--task",
        "sst2",
        "--data_dir",
        str(glue_dir),
        "--output_dir",
        str(tmp_path / "official"),
        "--max_seq_length",
        "16",
        "--per_device_train_batch_size",
        "16",
        "--max_steps",
        "2",
        *COMMON,
    ]
    assert cli_main(command) == 0
    from hf_tinybert.stages.task_data import TaskData, data_collator_for

    data = TaskData(name="sst2", kind="classification", train=None, eval_sets={}, main_metric="accuracy")
    tokenizer = BertTokenizerFast.from_pretrained(finetuned_teacher)
    rows = [tokenizer("good movie"), tokenizer("a very long and really quite boring film")]
    assert data_collator_for(data, tokenizer, 16)(rows)["input_ids"].shape == (2, 16)
    assert data_collator_for(data, tokenizer)(rows)["input_ids"].shape[1] < 16


@pytest.mark.parametrize(
    "flags, config, expected",
    [
        ([], None, "both"),
        (["--stage", "both"], None, "both"),
        (["--stage=both"], None, "both"),
        (["--stage=prediction"], None, "prediction"),
        (["--stage", "joint"], None, "joint"),
        ([], "stage: both\n", "both"),
        ([], "stage: intermediate\n", "intermediate"),
        (["--stage", "prediction"], "stage: both\n", "prediction"),  # a flag wins over --config
    ],
)
def test_task_distill_stage_in_every_spelling(tmp_path, monkeypatch, flags, config, expected):
    import hf_tinybert.cli.task_distill as command

    seen = {}
    monkeypatch.setattr(command, "task_distill", lambda args, data, training, stage: seen.update(stage=stage) or {})
    argv = ["--teacher_model", "t", "--student_model", "s", "--task", "sst2", "--output_dir", str(tmp_path / "o")]
    if config is not None:
        (tmp_path / "c.yaml").write_text(config)
        argv += ["--config", str(tmp_path / "c.yaml")]
    assert command.main(argv + flags + ["--use_cpu", "--report_to", "none"]) == 0
    assert seen["stage"] == expected


def test_task_distill_help_shows_both_as_the_default(capsys):
    assert cli_main(["task-distill", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "{intermediate,prediction,both,joint}" in text and "'both' (default)" in text
    assert "default: both" in text or "(default: both)" in text


def test_traceback_flag_and_network_hint(tmp_path, monkeypatch):
    argv = ["finetune", "--model_name_or_path", "m", "--task", "sst3", "--output_dir", str(tmp_path)]
    with pytest.raises(ValueError, match="Unknown task 'sst3'"):
        cli_main([*argv, "--traceback"])
    monkeypatch.setenv("HF_TINYBERT_DEBUG", "1")
    with pytest.raises(ValueError, match="Unknown task 'sst3'"):
        cli_main(argv)
    from hf_tinybert.cli import error_line

    line = error_line("finetune", ConnectionError("Couldn't reach 'nyu-mll/glue' on the Hub\n(offline)"))
    assert line.startswith("hf-tinybert finetune: error: Couldn't reach 'nyu-mll/glue' on the Hub (offline)")
    assert "--data_dir" in line and "\n" not in line
    transformers_no_network = OSError("We couldn't connect to 'https://huggingface.co' to load the files")
    assert "--data_dir for GLUE tasks and a local folder for models" in error_line("evaluate", transformers_no_network)


def test_a_mistyped_task_gets_a_suggestion(tmp_path):
    line = assert_user_error(
        r"Unknown task 'sst-2' \(did you mean 'sst2'\?\)",
        ["finetune", "--model_name_or_path", "m", "--task", "sst-2", "--output_dir", str(tmp_path)],
    )
    assert "valid tasks are:" in line


# ---- a user's first hour: refusals before training, warnings, what a finished run leaves


@pytest.mark.parametrize(
    "command, flag",
    [
        ("finetune", "--model_name_or_path"),
        ("task-distill", "--teacher_model"),
        ("task-distill", "--student_model"),
        ("general-distill", "--teacher_model"),
        ("evaluate", "--model_name_or_path"),
    ],
)
def test_a_model_that_is_not_there_is_named_before_anything_loads(tmp_path, teacher_base, glue_dir, command, flag):
    """A mistyped path, not transformers' "Repo id must be in the form ..."; offline, a Hub id not in the cache."""
    models = {"--teacher_model": str(teacher_base), "--student_model": str(teacher_base)}
    data = (
        ["--corpus", "corpus.txt"]
        if command == "general-distill"
        else ["--task_name", "sst2", "--data_dir", str(glue_dir)]
    )
    if command in ("finetune", "evaluate"):
        models = {"--model_name_or_path": str(teacher_base)}
    for wrong, expected in (
        (str(tmp_path / "runs" / "teachr"), "no such folder"),
        ("someone/teachr", "no such folder, and it is not in the Hub cache while offline"),
    ):
        argv = [command, *sum(({**models, flag: wrong}).items(), ()), *data, "--output_dir", str(tmp_path / "o")]
        line = assert_user_error(f"{flag} {wrong}: {expected}", [*argv, "--use_cpu", "--report_to", "none"])
        assert "Repo id" not in line
    assert not (tmp_path / "o").exists()  # refused before the output folder was made


def test_the_card_names_a_hub_dataset_only_when_the_evaluation_data_is_one(tmp_path, glue_dir, tiny_tokenizer):
    from hf_tinybert.stages.task_data import TaskDataArguments, load_task_data

    def card_dataset(**flags):
        args = TaskDataArguments(max_seq_length=16, **flags)
        return load_task_data(args, tiny_tokenizer, need_train=False).card_dataset()

    glue = {"id": "nyu-mll/glue", "name": "GLUE SST2", "config": "sst2", "split": "validation"}
    assert card_dataset(task="sst2", data_dir=str(glue_dir)) == glue
    assert card_dataset(task="sst2", data_dir=str(glue_dir), train_file=str(glue_dir / "SST-2" / "train.tsv")) == glue
    # a local dev file replaces GLUE's: no Hub dataset to name
    assert (
        card_dataset(task="sst2", data_dir=str(glue_dir), validation_file=str(glue_dir / "SST-2" / "dev.tsv")) is None
    )
    local = tmp_path / "my_data"
    local.mkdir()
    (local / "validation.csv").write_text("text,label\na good movie,pos\na bad film,neg\n")
    flags = {"text_columns": "text", "class_names": "neg,pos"}
    assert card_dataset(task="custom", dataset_name=str(local), **flags) is None  # was {"id": "custom", ...}
    assert card_dataset(task="custom", validation_file=str(local / "validation.csv"), **flags) is None


def test_the_final_evaluation_is_in_float32_whatever_training_computed_in(
    tmp_path, finetuned_teacher, glue_dir, tiny_tokenizer
):
    from transformers import Trainer, TrainingArguments

    from hf_tinybert.stages.task_data import TaskDataArguments, data_collator_for, evaluate_on_task, load_task_data

    data_args = TaskDataArguments(task="sst2", data_dir=str(glue_dir), max_seq_length=16, max_train_samples=16)
    data = load_task_data(data_args, tiny_tokenizer)
    collator = data_collator_for(data, tiny_tokenizer)
    model = AutoModelForSequenceClassification.from_pretrained(finetuned_teacher)
    bf16 = TrainingArguments(tmp_path / "bf16", bf16=True, use_cpu=True, max_steps=1, report_to="none")
    trainer = Trainer(model, bf16, train_dataset=data.train, data_collator=collator)
    trainer.train()
    assert "_original_forward" in vars(model)  # accelerate's autocast wraps the forward
    trainer.save_model(tmp_path / "saved")
    metrics = evaluate_on_task(trainer, data)

    saved = AutoModelForSequenceClassification.from_pretrained(tmp_path / "saved")
    fp32 = TrainingArguments(tmp_path / "fp32", use_cpu=True, report_to="none")
    reference = Trainer(saved, fp32, data_collator=collator).evaluate(data.eval_sets["validation"])
    assert metrics["eval_loss"] == pytest.approx(reference["eval_loss"], rel=1e-5)


def test_an_offline_run_without_data_dir_gets_the_hint(tmp_path, teacher_base):
    line = assert_user_error(
        "Couldn't reach 'nyu-mll/glue'.*--data_dir for GLUE tasks",
        ["evaluate", "--model_name_or_path", str(teacher_base), "--task_name", "sst2", "--output_dir", str(tmp_path)],
    )
    assert "HF_HUB_OFFLINE=1" in line


def test_a_pretrained_encoder_is_refused_as_the_task_teacher(tmp_path, teacher_base, glue_dir, capsys):
    """Its classifier would be newly initialised: the student would learn random logits."""
    argv = ["task-distill", "--teacher_model", str(teacher_base), "--student_model", "tinybert-4l-312d"]
    argv += ["--task_name", "sst2", "--data_dir", str(glue_dir), "--output_dir", str(tmp_path / "o"), *COMMON]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err  # refused before any data was read or tokenised
    assert err.startswith("hf-tinybert task-distill: error: The teacher")
    assert "classifier.weight" in err and "fine-tune it first: hf-tinybert finetune" in err
    assert f"--model_name_or_path {teacher_base} --task sst2" in err
    assert not (tmp_path / "o" / "model.safetensors").exists()


def test_a_random_preset_student_on_a_cpu_is_warned_about_once():
    from transformers.testing_utils import CaptureLogger

    from hf_tinybert.stages import run_setup

    with CaptureLogger(run_setup.logger) as captured:
        run_setup.warn_if_random_student_on_cpu("tinybert-4l-312d", ["tinybert-4l-312d"], torch.device("cpu"))
        run_setup.warn_if_random_student_on_cpu("tinybert-4l-312d", ["tinybert-4l-312d"], torch.device("cpu"))
        run_setup.warn_if_random_student_on_cpu("runs/general", ["tinybert-4l-312d"], torch.device("cpu"))
    assert captured.out.count("starts from random weights") == 1
    assert "hf-tinybert convert from-teacher TEACHER --preset tinybert-4l-312d" in captured.out


@pytest.mark.parametrize("keep", [False, True])
def test_a_finished_run_keeps_its_final_model_and_a_loss_plot(
    tmp_path, finetuned_teacher, glue_dir, capsys, recwarn, keep
):
    out = tmp_path / "student"
    student = _tiny_student_preset_folder(tmp_path, None)
    argv = ["task-distill", "--teacher_model", str(finetuned_teacher), "--student_model", str(student)]
    argv += ["--task_name", "sst2", "--data_dir", str(glue_dir), "--output_dir", str(out), "--max_seq_length", "16"]
    argv += ["--intermediate_epochs", "1", "--prediction_epochs", "1", *COMMON, "--save_strategy", "epoch"]
    # a CPU machine without --use_cpu (fp32 does not set it): the pin_memory warning must not come
    argv = [a for a in argv if a != "--use_cpu"] + ["--disable_tqdm", "false", "--precision", "fp32"]
    from transformers.testing_utils import CaptureLogger

    from hf_tinybert.hub import card

    with CaptureLogger(card.logger) as card_log:
        assert cli_main(argv + (["--keep_checkpoints"] if keep else [])) == 0
    assert "Evaluation results without" not in card_log.out  # each step's card knows the evaluation data
    captured = capsys.readouterr()
    # each step's progress bar says which step it is; no pin_memory warning on a CPU
    assert "step 1/2: intermediate layers" in captured.err and "step 2/2: predictions" in captured.err
    assert not [w for w in recwarn if "pin_memory" in str(w.message)]
    checkpoints = sorted(p.name for p in [*out.glob("checkpoint-*"), *(out / "intermediate").glob("checkpoint-*")])
    assert bool(checkpoints) == keep
    assert (out / "model.safetensors").is_file() and (out / "intermediate" / "model.safetensors").is_file()
    for folder in (out, out / "intermediate"):
        assert (folder / "loss_curves.png").stat().st_size > 5_000
        # the commands log 20 times a run (--logging_steps 0.05), so a short run's plot has its curve
        history = json.loads((folder / "trainer_state.json").read_text())["log_history"]
        assert sum("loss" in entry for entry in history) >= 2
    last = captured.out.strip().splitlines()[-1]
    assert last.startswith(f"hf-tinybert task-distill: saved to {out}; eval_accuracy ")
