"""`--precision auto|fp32|bf16|fp16`: the decision on machines with and without bf16 (probe and flags injected), its
application to `bf16` / `fp16` / the teacher's dtype, what the runs record, bf16 runs of every training command, and
an exact resume of a bf16 run."""

from __future__ import annotations

import dataclasses
import json
import math
import random

import pytest
import torch
from conftest import tiny_student_config
from safetensors.torch import load_file
from test_distill_trainer import make_args, make_dataset, models
from test_stages import NEGATIVE, POSITIVE, glue_dir, sentence, teacher_base  # noqa: F401  (fixtures)

from hf_tinybert import DistillationArguments, DistillationTrainer, PrecisionArguments, TinyBertModel
from hf_tinybert import precision as precision_module
from hf_tinybert.cli import main as cli_main
from hf_tinybert.precision import PrecisionDecision, cpu_flags, resolve_precision


def no_probe():
    raise AssertionError("the probe must not run on a CPU without bf16 instructions")


# ---- the decision


def test_auto_picks_bf16_on_a_cpu_with_bf16_that_the_probe_confirms():
    decision = resolve_precision("auto", "cpu", cpu_flags={"sse", "avx512f", "avx512_bf16"}, probe=lambda: 2.4)
    assert decision.precision == "bf16" and decision.teacher_dtype == "bfloat16"
    assert "avx512_bf16" in decision.reason and "2.4x" in decision.reason


def test_auto_picks_fp32_on_a_cpu_without_bf16_without_probing():
    decision = resolve_precision("auto", "cpu", cpu_flags={"sse", "avx2", "fma"}, probe=no_probe)
    assert decision.precision == "fp32" and "emulated" in decision.reason


def test_auto_picks_fp32_when_the_probe_finds_bf16_slow():
    # flags say bf16, but the matmul is not faster (e.g. a VM hiding AMX tiles): float32
    decision = resolve_precision("auto", "cpu", cpu_flags={"amx_bf16"}, probe=lambda: 1.05)
    assert decision.precision == "fp32" and "1.1x" in decision.reason


def test_auto_on_cuda_follows_the_gpus_bf16_support():
    assert resolve_precision("auto", "cuda", cuda_bf16=True).precision == "bf16"
    assert resolve_precision("auto", "cuda", cuda_bf16=lambda: False).precision == "fp32"
    assert resolve_precision("auto", "mps").precision == "fp32"


def test_explicit_precisions_are_kept_and_unknown_ones_refused():
    for name in ("fp32", "bf16", "fp16"):
        assert resolve_precision(name, "cpu", cpu_flags=set(), probe=no_probe).precision == name
    with pytest.raises(ValueError, match="valid values are: auto, fp32, bf16, fp16"):
        resolve_precision("float16", "cpu")


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd bf16 i8mm\n")
    assert "avx512_bf16" in cpu_flags(str(x86)) and "bf16" in cpu_flags(str(arm))
    assert cpu_flags(str(tmp_path / "missing")) == set()


def test_the_default_probe_runs_once_per_thread_count(monkeypatch):
    calls = []
    monkeypatch.setattr(precision_module, "bf16_matmul_speedup", lambda: calls.append(1) or 3.0)
    precision_module._measured_speedup.cache_clear()
    try:
        assert [precision_module.default_probe() for _ in range(3)] == [3.0, 3.0, 3.0]
        assert len(calls) == 1
    finally:
        precision_module._measured_speedup.cache_clear()


# ---- applied to the arguments


@pytest.fixture
def cpu(monkeypatch):
    """Make `auto` decide as on a CPU with (`cpu(True)`) or without (`cpu(False)`) fast bf16."""

    def machine(bf16: bool):
        monkeypatch.setattr(precision_module, "cpu_flags", lambda: {"avx512_bf16"} if bf16 else {"avx2"})
        monkeypatch.setattr(precision_module, "default_probe", lambda: 2.5 if bf16 else no_probe())

    return machine


def test_auto_in_the_arguments_on_both_kinds_of_cpu(tmp_path, cpu):
    cpu(True)
    args = DistillationArguments(output_dir=str(tmp_path), precision="auto", use_cpu=True, report_to=[])
    assert args.bf16 and not args.fp16 and args.teacher_dtype == "bfloat16"
    assert args.precision_decision.startswith("precision bf16 (asked: auto; CPU with avx512_bf16")
    cpu(False)
    args = DistillationArguments(output_dir=str(tmp_path), precision="auto", use_cpu=True, report_to=[])
    assert not args.bf16 and not args.fp16 and args.teacher_dtype == "float32"
    assert args.precision_decision.startswith("precision fp32 (asked: auto; the CPU")


def test_precision_sets_the_flags_and_the_teacher_dtype(tmp_path):
    args = DistillationArguments(output_dir=str(tmp_path), precision="bf16", report_to=[])
    assert args.bf16 and args.use_cpu == (not torch.cuda.is_available()) and args.teacher_dtype == "bfloat16"
    kept = DistillationArguments(output_dir=str(tmp_path), precision="bf16", teacher_dtype="float32", report_to=[])
    assert kept.bf16 and kept.teacher_dtype == "float32"  # an explicit teacher dtype wins
    unset = DistillationArguments(output_dir=str(tmp_path), report_to=[])
    assert not unset.bf16 and unset.teacher_dtype == "auto" and unset.precision_decision == ""
    with pytest.raises(ValueError, match="contradicts bf16=True"):
        DistillationArguments(output_dir=str(tmp_path), precision="fp32", bf16=True, report_to=[])
    with pytest.raises(ValueError, match="Unknown precision"):
        PrecisionArguments(output_dir=str(tmp_path), precision="half", report_to=[])


def test_auto_respects_an_explicit_flag_and_survives_replace(tmp_path, cpu):
    cpu(False)
    args = DistillationArguments(output_dir=str(tmp_path), precision="auto", bf16=True, use_cpu=True, report_to=[])
    assert args.bf16 and "bf16=True given" in args.precision_decision
    cpu(True)
    args = DistillationArguments(output_dir=str(tmp_path), precision="auto", use_cpu=True, report_to=[])
    again = dataclasses.replace(args, stage="prediction")  # what --stage both does between its steps
    assert again.bf16 and again.precision_decision == args.precision_decision
    assert args.to_dict()["precision_decision"] == args.precision_decision


def test_the_decision_is_announced_once(tmp_path, cpu, caplog):
    cpu(True)
    precision_module._announced.clear()
    with caplog.at_level("WARNING", logger="hf_tinybert.precision"):
        for _ in range(3):
            PrecisionArguments(output_dir=str(tmp_path), precision="auto", use_cpu=True, report_to=[])
    said = [r.getMessage() for r in caplog.records if "hf-tinybert: precision bf16" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("hf-tinybert: precision bf16 (asked: auto; CPU with avx512_bf16")


# ---- training in bf16


def test_bf16_training_keeps_float32_master_weights_and_resumes_exactly(tmp_path):
    def run(output_dir, max_steps, resume=None):
        student, teacher = models()
        args = make_args(
            tmp_path,
            output_dir=str(output_dir),
            max_steps=max_steps,
            save_strategy="steps",
            save_steps=2,
            precision="bf16",
        )
        trainer = DistillationTrainer(student, args, teacher_model=teacher, train_dataset=make_dataset(48))
        trainer.train(resume_from_checkpoint=resume)
        return trainer

    full = run(tmp_path / "full", 4)
    assert next(full.teacher.parameters()).dtype == torch.bfloat16
    assert all(p.dtype == torch.float32 for p in full.model.parameters())
    assert all(p.dtype == torch.float32 for p in full.projections.parameters())
    losses = [h["loss"] for h in full.state.log_history if "loss" in h]
    assert losses and all(math.isfinite(v) for v in losses)
    resumed = run(tmp_path / "resumed", 4, resume=str(tmp_path / "full" / "checkpoint-2"))
    for (name, a), b in zip(full.model.named_parameters(), resumed.model.parameters()):
        assert torch.equal(a, b), name
    for a, b in zip(full.projections.parameters(), resumed.projections.parameters()):
        assert torch.equal(a, b)
    fresh = run(tmp_path / "fresh", 2)  # the control: a resume that loaded nothing would differ
    assert not all(torch.equal(a, b) for a, b in zip(full.model.parameters(), fresh.model.parameters()))


COMMON = ["--use_cpu", "--report_to", "none", "--disable_tqdm", "true", "--seed", "0", "--save_strategy", "no"]


def _finite_losses(folder) -> list[float]:
    history = json.loads((folder / "trainer_state.json").read_text())["log_history"]
    losses = [h["loss"] for h in history if "loss" in h]
    assert losses and all(math.isfinite(v) for v in losses), losses
    return losses


def _float32_weights(folder) -> None:
    weights = load_file(folder / "model.safetensors")
    assert {t.dtype for t in weights.values() if t.is_floating_point()} == {torch.float32}


def _recorded(folder, dataclass_name: str) -> dict:
    return json.loads((folder / "run_arguments.json").read_text())[dataclass_name]


@pytest.mark.slow
def test_every_training_command_runs_in_bf16_and_records_it(tmp_path, teacher_base, glue_dir):  # noqa: F811
    teacher = tmp_path / "teacher"
    data = ["--task", "sst2", "--data_dir", str(glue_dir), "--max_seq_length", "16"]
    code = cli_main(
        ["finetune", "--model_name_or_path", str(teacher_base), "--output_dir", str(teacher), "--precision", "bf16"]
        + data
        + ["--max_train_samples", "48", "--num_train_epochs", "1", "--logging_steps", "1", *COMMON]
    )
    assert code == 0
    _finite_losses(teacher)
    _float32_weights(teacher)
    assert _recorded(teacher, "PrecisionArguments")["precision_decision"] == "precision bf16 (asked: bf16; asked for)"
    assert _recorded(teacher, "PrecisionArguments")["bf16"] is True

    corpus = tmp_path / "corpus.txt"
    rng = random.Random(1)
    corpus.write_text("\n".join(sentence(rng, POSITIVE + NEGATIVE) for _ in range(60)) + "\n")
    init = tmp_path / "student_init"
    torch.manual_seed(0)
    TinyBertModel(tiny_student_config()).save_pretrained(init)
    general = tmp_path / "general"
    code = cli_main(
        ["general-distill", "--teacher_model", str(teacher_base), "--corpus", str(corpus)]
        + ["--student_model", str(init), "--output_dir", str(general), "--max_seq_length", "32", "--max_steps", "4"]
        + ["--per_device_train_batch_size", "8", "--logging_steps", "1", "--precision", "bf16", *COMMON]
    )
    assert code == 0
    _finite_losses(general)
    _float32_weights(general)
    recorded = _recorded(general, "DistillationArguments")
    assert recorded["precision"] == "bf16" and recorded["teacher_dtype"] == "bfloat16"

    student = tmp_path / "student"
    code = cli_main(
        ["task-distill", "--teacher_model", str(teacher), "--student_model", str(general), "--output_dir", str(student)]
        + data
        + ["--max_train_samples", "32", "--intermediate_epochs", "1", "--prediction_epochs", "1"]
        + ["--per_device_train_batch_size", "16", "--logging_steps", "1", "--precision", "bf16", *COMMON]
    )
    assert code == 0
    _finite_losses(student)
    _finite_losses(student / "intermediate")
    _float32_weights(student)
    assert _recorded(student, "DistillationArguments")["precision_decision"].startswith("precision bf16")
    card = (student / "README.md").read_text()
    assert "precision bf16 (asked: bf16; asked for)" in card
    facts = json.loads((student / "model_card_facts.json").read_text())
    assert all(s["hyperparameters"]["precision_decision"].startswith("precision bf16") for s in facts["stages"])


def test_the_commands_default_to_auto(tmp_path, glue_dir):  # noqa: F811
    from hf_tinybert.cli.arguments import parse_arguments as parse_stage_arguments
    from hf_tinybert.stages import FinetuneArguments, TaskDataArguments

    _, _, training = parse_stage_arguments(
        (FinetuneArguments, TaskDataArguments, PrecisionArguments),
        ["--model_name_or_path", "x", "--task", "sst2", "--output_dir", str(tmp_path), "--use_cpu"],
        "hf-tinybert finetune",
        "",
    )
    assert training.precision == "auto" and training.precision_decision.startswith("precision ")
    decision = resolve_precision("auto", "cpu")
    assert training.bf16 == (decision.precision == "bf16")


def test_decision_is_hashable_and_describes_itself():
    decision = PrecisionDecision("auto", "fp32", "cpu", "reason")
    assert decision.describe() == "precision fp32 (asked: auto; reason)" and {decision}
