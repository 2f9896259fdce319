"""The `hf-tinybert` command itself: its help and version come without importing the package (torch), every
command is listed with its one-line help, and a mistake in any command is one line with exit status 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hf_tinybert.cli import COMMANDS, main


def run_console_script(*args: str) -> subprocess.CompletedProcess:
    """What the installed `hf-tinybert` script does, in a fresh interpreter that then reports what it imported."""
    code = (
        "import sys, hf_tinybert_cli\n"
        f"sys.argv = ['hf-tinybert', *{list(args)!r}]\n"
        "status = hf_tinybert_cli.main()\n"
        "print('IMPORTED', 'torch' in sys.modules, 'hf_tinybert' in sys.modules, 'transformers' in sys.modules)\n"
        "sys.exit(status)\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args", [(), ("--help",), ("--version",)])
def test_help_and_version_import_neither_torch_nor_the_package(args):
    result = run_console_script(*args)
    assert result.returncode == 0, result.stderr
    assert "IMPORTED False False False" in result.stdout
    if args == ("--version",):
        assert result.stdout.startswith("hf-tinybert 0.1.0")
    else:
        for name in COMMANDS:
            assert f"  {name} " in result.stdout


def test_every_command_has_a_one_line_help(capsys):
    assert main(["--help"]) == 0
    listing = capsys.readouterr().out
    lines = {line.split()[0]: line for line in listing.splitlines() if line.startswith("  ")}
    assert set(lines) == set(COMMANDS)
    assert all(len(line.split()) > 3 for line in lines.values())  # a name and a sentence


@pytest.mark.slow
def test_a_command_runs_through_the_console_script(tmp_path):
    result = run_console_script("export", str(tmp_path / "missing"), "--output_dir", str(tmp_path / "out"))
    assert result.returncode == 2
    assert (
        result.stderr.strip().startswith("hf-tinybert export: error:") and len(result.stderr.strip().splitlines()) == 1
    )
    assert "IMPORTED True True True" in result.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["export", "--output_dir", "x"],  # no MODEL_DIR
        ["push", "folder"],  # no --repo_id
        ["benchmark", "--output_dir", "x"],  # no models
        ["augment", "--input", "x.tsv"],  # no --text_columns
        ["convert", "to-bert", "student"],  # no --output_dir
        ["convert", "from-teacher", "--output_dir", "x"],  # no TEACHER
    ],
)
def test_a_missing_argument_is_a_usage_error(argv, capsys):
    assert main(argv) == 2
    assert "required" in capsys.readouterr().err


# every command, and each of convert's conversions (`convert --help` lists them)
HELP_COMMANDS = [[name] for name in COMMANDS if name != "convert"] + [
    ["convert", conversion] for conversion in ("from-original", "to-bert", "from-teacher", "slice-teacher")
]


@pytest.mark.parametrize("command", HELP_COMMANDS, ids=" ".join)
def test_every_command_reads_its_flags_one_way(command, capsys):
    """One argument style: `--config`, `--overwrite_output_dir` where the command writes a folder, positionals also
    given as flags."""
    assert main([*command, "--help"]) == 0
    text = capsys.readouterr().out
    assert "--config CONFIG" in text
    if "--output_dir" in text and command != ["evaluate"]:
        assert "--overwrite_output_dir" in text
    for positional in ("MODEL_DIR", "STUDENT_DIR", "CHECKPOINT_DIR", "TEACHER"):
        if f"  {positional} " in text:
            assert f"--{positional.lower()} {positional}" in text


def test_augment_names_a_teacher_that_is_not_there(tmp_path):
    from conftest import assert_user_error

    (tmp_path / "train.tsv").write_text("sentence\tlabel\na good movie\t1\n")
    argv = ["augment", "--input", str(tmp_path / "train.tsv"), "--text_columns", "sentence"]
    argv += ["--teacher", str(tmp_path / "teachr"), "--output_file", str(tmp_path / "out.tsv")]
    assert_user_error(f"--teacher {tmp_path / 'teachr'}: no such folder", argv)


def test_the_training_commands_log_twenty_times_a_run_unless_told_otherwise():
    from transformers import TrainingArguments

    from hf_tinybert.cli.arguments import parse_arguments
    from hf_tinybert.precision import PrecisionArguments

    (training,) = parse_arguments((TrainingArguments,), ["--output_dir", "o"], "t", "")
    assert training.logging_steps == 0.05  # a ratio of the run's steps (transformers: every 500 steps)
    (training,) = parse_arguments((PrecisionArguments,), ["--output_dir", "o", "--logging_steps", "7"], "t", "")
    assert training.logging_steps == 7 and training.precision == "auto"


def test_unknown_command():
    assert main(["distill"]) == 2


def test_evaluate_help_lists_evaluation_flags_only(capsys):
    assert main(["evaluate", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--model_name_or_path" in text and "--per_device_eval_batch_size" in text and "--task_name" in text
    for training_flag in ("--learning_rate", "--num_train_epochs", "--warmup_steps", "--gradient_accumulation_steps"):
        assert training_flag not in text


def test_the_closing_line_scores_an_evaluation_metric_not_a_loss_component():
    from hf_tinybert.cli.arguments import _score

    metrics = {"eval_loss": 0.5, "eval_loss_pred": 0.4, "eval_accuracy": 0.875, "eval_runtime": 3.0}
    assert _score(metrics) == "; eval_accuracy 0.875"
    assert _score({"train_loss": 1.25, "train_runtime": 9.0}) == "; train_loss 1.25"
    evaluated = {"eval_model_preparation_time": 0.0018, "eval_accuracy": 0.75, "eval_runtime": 1.3}  # evaluate's order
    assert _score(evaluated) == "; eval_accuracy 0.75"
