"""DistillationTrainer in several processes, for real: 2 CPU processes with gloo DDP, started by `torchrun` and by
`accelerate launch` with the example DDP config (tests/distributed_scripts/distill_on_two_ranks.py does the
training; each rank dumps what it ended with). Also: the example accelerate configs load, and the pieces used only
under FSDP / DeepSpeed (joint clipping from a given norm, projections trained inside the student) on one process.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from hf_tinybert.distill import PROJECTIONS_FILE
from hf_tinybert.distill.distributed import ATTACHED_PROJECTIONS, clip_by_total_norm

pytestmark = pytest.mark.slow  # every test here starts processes (torchrun, accelerate launch)

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SCRIPT = TESTS / "distributed_scripts" / "distill_on_two_ranks.py"
CONFIGS = REPO / "examples" / "accelerate"
BIN = Path(sys.executable).parent

# Tolerances against the single-process run with the same global batch (2 ranks x 4 rows vs 1 process x 8 rows, no
# padding, dropout 0): the losses agree to float rounding; Adam divides by the gradients' running RMS, so the
# different summation order of the averaged gradients shows in the parameters at ~1e-6 after 4 steps.
LOSS_RTOL = 1e-5
PARAM_ATOL = 5e-5


def _load_script():
    spec = importlib.util.spec_from_file_location("distill_on_two_ranks", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


script = _load_script()


def _launch(command: list[str], dump_dir: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    return {
        path.stem: torch.load(path, weights_only=False) for path in sorted(dump_dir.glob("*.pt"))
    }  # e.g. {"joint_rank0": {...}}


def _max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


def _losses(log_history) -> list[float]:
    return [entry["loss"] for entry in log_history if "loss" in entry]


@pytest.fixture(scope="module")
def torchrun_dumps(tmp_path_factory):
    dump_dir = tmp_path_factory.mktemp("torchrun")
    torchrun = shutil.which("torchrun", path=str(BIN)) or "torchrun"
    return _launch([torchrun, "--standalone", "--nproc_per_node", "2", str(SCRIPT), str(dump_dir)], dump_dir), dump_dir


@pytest.fixture(scope="module")
def single_process_joint(tmp_path_factory):
    trainer = script.joint_trainer(str(tmp_path_factory.mktemp("single")), script.GLOBAL_BATCH)
    trainer.train()
    return trainer


@pytest.mark.slow
def test_student_projections_and_teacher_identical_on_both_ranks(torchrun_dumps):
    dumps, _ = torchrun_dumps
    rank0, rank1 = dumps["joint_rank0"], dumps["joint_rank1"]
    assert rank0["world_size"] == 2 and rank0["wrapped"] == "DistributedDataParallel"
    assert _max_difference(rank0["student"], rank1["student"]) == 0.0
    assert _max_difference(rank0["projections"], rank1["projections"]) == 0.0
    # they trained: the projections moved from where they started
    assert _max_difference(rank0["projections"], rank0["projections_start"]) > 1e-3
    # rank 1's teacher head was perturbed before the trainer was built: it now holds rank 0's
    assert _max_difference(rank0["teacher"], rank1["teacher"]) == 0.0
    _, reference_teacher = script.joint_models()
    assert _max_difference(rank0["teacher"], script.state(reference_teacher)) == 0.0


@pytest.mark.slow
def test_without_synchronisation_the_projections_diverge(torchrun_dumps):
    """The negative control: the same run with `_synchronise_projections` switched off."""
    dumps, _ = torchrun_dumps
    rank0, rank1 = dumps["unsynced_rank0"], dumps["unsynced_rank1"]
    assert _max_difference(rank0["projections_start"], rank1["projections_start"]) == 0.0
    assert _max_difference(rank0["projections"], rank1["projections"]) > 1e-4
    # and the student too: the joint clipping scaled each rank's (all-reduced) gradients by its own norm
    assert _max_difference(rank0["student"], rank1["student"]) > 0.0


@pytest.mark.slow
def test_two_ranks_match_one_process_with_the_same_global_batch(torchrun_dumps, single_process_joint):
    dumps, _ = torchrun_dumps
    rank0 = dumps["joint_rank0"]
    reference = single_process_joint
    assert _losses(rank0["log_history"]) == pytest.approx(_losses(reference.state.log_history), rel=LOSS_RTOL)
    assert len(_losses(rank0["log_history"])) == script.STEPS
    assert _max_difference(rank0["student"], script.state(reference.model)) < PARAM_ATOL
    assert _max_difference(rank0["projections"], script.state(reference.projections)) < PARAM_ATOL


@pytest.mark.slow
def test_gradient_accumulation_across_ranks(torchrun_dumps, single_process_joint):
    """2 ranks x batch 2 x 2 accumulation steps: the projections' gradients are averaged once per window."""
    dumps, _ = torchrun_dumps
    rank0, rank1 = dumps["accumulated_rank0"], dumps["accumulated_rank1"]
    assert _max_difference(rank0["student"], rank1["student"]) == 0.0
    assert _max_difference(rank0["projections"], rank1["projections"]) == 0.0
    assert _max_difference(rank0["student"], script.state(single_process_joint.model)) < PARAM_ATOL
    assert _max_difference(rank0["projections"], script.state(single_process_joint.projections)) < PARAM_ATOL


@pytest.mark.slow
def test_loss_components_are_averaged_across_ranks(torchrun_dumps, single_process_joint):
    """Each rank logs the mean over both ranks (the `log` override's reduce did not deadlock): equal on both ranks
    and equal to the single process's components over the same global batches, in training and in evaluation."""
    dumps, _ = torchrun_dumps
    rank0, rank1 = dumps["joint_rank0"], dumps["joint_rank1"]
    names = ("loss_emb", "loss_att", "loss_hidden", "loss_pred")

    def components(history, prefix=""):
        return [[entry[prefix + name] for name in names] for entry in history if prefix + names[0] in entry]

    reference = single_process_joint.state.log_history
    assert components(rank0["log_history"]) == components(rank1["log_history"])
    assert len(components(rank0["log_history"])) == script.STEPS
    for got, expected in zip(components(rank0["log_history"]), components(reference)):
        assert got == pytest.approx(expected, rel=1e-4)
    assert rank0["eval"]["eval_loss_att"] == rank1["eval"]["eval_loss_att"]
    expected_eval = single_process_joint.evaluate()
    for name in names:
        assert rank0["eval"][f"eval_{name}"] == pytest.approx(expected_eval[f"eval_{name}"], rel=1e-4)


@pytest.mark.slow
def test_only_the_main_process_writes_models_and_projections(torchrun_dumps):
    dumps, dump_dir = torchrun_dumps
    main_dir, other_dir = dump_dir / "joint", dump_dir / "joint_rank1"  # each rank had its own output_dir
    for folder in ("checkpoint-2", "checkpoint-4", "final"):
        assert (main_dir / folder / "model.safetensors").is_file()
        assert (main_dir / folder / PROJECTIONS_FILE).is_file()
    saved = load_file(main_dir / "final" / PROJECTIONS_FILE)
    assert _max_difference(saved, dumps["joint_rank0"]["projections"]) == 0.0
    written_by_rank1 = sorted(p.name for p in other_dir.rglob("*") if p.is_file())
    assert written_by_rank1 and set(written_by_rank1) == {"rng_state_1.pth"}  # Trainer's per-process RNG state only


@pytest.mark.slow
def test_general_distillation_on_a_streamed_corpus(torchrun_dumps, tmp_path):
    """Stage "general": no loss uses the student's outputs and none reaches its pooler. Without routing the loss
    through the outputs, DDP fails on the second step (or, with a static graph, never all-reduces)."""
    dumps, _ = torchrun_dumps
    rank0, rank1 = dumps["general_rank0"], dumps["general_rank1"]
    assert _max_difference(rank0["student"], rank1["student"]) == 0.0
    assert _max_difference(rank0["student"], rank0["student_start"]) > 1e-3
    reference = script.general_trainer(str(tmp_path), script.streamed_corpus(64), script.GLOBAL_BATCH)
    reference.train()
    assert _losses(rank0["log_history"]) == pytest.approx(_losses(reference.state.log_history), rel=LOSS_RTOL)
    assert _max_difference(rank0["student"], script.state(reference.model)) < PARAM_ATOL


@pytest.mark.slow
def test_streamed_corpus_is_split_across_ranks_and_a_pre_split_one_is_refused(torchrun_dumps):
    dumps, _ = torchrun_dumps
    rows0, rows1 = dumps["data_rank0"]["rows"], dumps["data_rank1"]["rows"]
    assert len(rows0) == len(rows1) == 32
    assert not set(rows0) & set(rows1) and set(rows0) | set(rows1) == set(range(64))
    error = dumps["data_rank0"]["presplit_error"]
    assert error is not None and "already split by rank (rank 0 of 2" in error
    if not torch.cuda.is_available():
        assert (
            "2 processes were launched but the trainer is not distributed"
            in dumps["data_rank1"]["not_distributed_error"]
        )


@pytest.mark.slow
def test_accelerate_launch_with_the_example_ddp_config(torchrun_dumps, tmp_path):
    """examples/accelerate/ddp.yaml (written for GPUs) starts the same DDP training on CPU when told 2 processes and
    no mixed precision; it ends exactly where the torchrun run ended."""
    accelerate = shutil.which("accelerate", path=str(BIN)) or "accelerate"
    command = [accelerate, "launch", "--config_file", str(CONFIGS / "ddp.yaml"), "--num_processes", "2"]
    command += ["--main_process_port", "0"]  # a free port
    command += ["--mixed_precision", "no", str(SCRIPT), str(tmp_path), "--runs", "joint"]
    dumps = _launch(command, tmp_path)
    by_torchrun, _ = torchrun_dumps
    for rank in (0, 1):
        ours = dumps[f"joint_rank{rank}"]
        assert ours["world_size"] == 2 and ours["wrapped"] == "DistributedDataParallel"
        assert _max_difference(ours["student"], by_torchrun[f"joint_rank{rank}"]["student"]) == 0.0
        assert _max_difference(ours["projections"], by_torchrun[f"joint_rank{rank}"]["projections"]) == 0.0


@pytest.mark.slow
def test_two_ranks_with_dynamic_padding_match_one_process(torchrun_dumps, tmp_path):
    """Variable-length rows, dynamic padding, one SGD step: 2 ranks x 4 rows and 2 ranks x 2 rows x 2 accumulation
    steps end where 1 process x 8 rows ends (every loss divides by the counts of the whole window on both ranks)."""
    import window_cases

    dumps, _ = torchrun_dumps
    rank0, rank1 = dumps["padded_rank0"], dumps["padded_rank1"]
    tok = window_cases.tokenizer(str(tmp_path / "vocab"))
    for case in script.PADDED_CASES:
        single = window_cases.trainer(case, str(tmp_path / case), 8, 8, 1, tok)
        start = window_cases.weights(single)
        single.train()
        reference = window_cases.weights(single)
        reference_log = next(entry for entry in single.state.log_history if "loss" in entry)
        assert _max_difference(reference, start) > 1e-3
        for batch, accumulation in script.PADDED_LAYOUTS:
            ours = rank0[(case, batch, accumulation)]
            assert _max_difference(ours["weights"], rank1[(case, batch, accumulation)]["weights"]) == 0.0
            assert _max_difference(ours["weights"], reference) < 1e-6, (case, batch, accumulation)
            for name in [key for key in reference_log if key.startswith("loss")]:
                assert ours["log"][name] == pytest.approx(reference_log[name], rel=1e-5), (case, name)


# ---- the example accelerate configs ----


def _launcher_environment(config: Path) -> tuple[object, dict]:
    """What `accelerate launch --config_file config` would do: its parsed arguments and the environment it sets."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_deepspeed_cmd_env, prepare_multi_gpu_env

    args = launch_command_parser().parse_args(["--config_file", str(config), "train.py"])
    args, defaults, mixed_precision_from_config = _validate_launch_command(args)
    if args.use_deepspeed:
        fields = list(defaults.deepspeed_config) + (["mixed_precision"] if mixed_precision_from_config else [])
        args.deepspeed_fields_from_accelerate_config = ",".join(fields)
        _, env = prepare_deepspeed_cmd_env(args)
    else:
        env = prepare_multi_gpu_env(args)
    return args, env


@pytest.mark.parametrize("name", ["ddp", "fsdp", "deepspeed_zero2", "deepspeed_zero3"])
def test_example_accelerate_configs_load(name, monkeypatch):
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.utils import DeepSpeedPlugin

    path = CONFIGS / f"{name}.yaml"
    text = path.read_text()
    assert "NOT RUN ON GPUs" in text
    assert isinstance(yaml.safe_load(text), dict)
    config = load_config_from_file(str(path))  # rejects unknown keys
    assert config.mixed_precision == "bf16" and config.num_processes == 8
    args, env = _launcher_environment(path)
    if name == "ddp":
        assert args.multi_gpu and env["ACCELERATE_MIXED_PRECISION"] == "bf16"
    elif name == "fsdp":
        assert args.use_fsdp
        assert env["FSDP_VERSION"] == "1"  # FSDP2 is refused while the projections have parameters
        assert env["FSDP_STATE_DICT_TYPE"] == "FULL_STATE_DICT"  # else no projections file is written
        assert env["FSDP_ACTIVATION_CHECKPOINTING"] == "true"
        assert env["FSDP_CPU_RAM_EFFICIENT_LOADING"] == "false"
        assert env["FSDP_TRANSFORMER_CLS_TO_WRAP"] == "BertLayer"
    else:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        plugin = DeepSpeedPlugin()
        stage = 2 if name == "deepspeed_zero2" else 3
        assert plugin.zero_stage == stage
        zero = plugin.deepspeed_config["zero_optimization"]
        assert zero["stage"] == stage
        if stage == 3:
            assert plugin.zero3_init_flag and zero["stage3_gather_16bit_weights_on_model_save"] is True
        # batch sizes, accumulation and clipping come from the Trainer arguments
        assert plugin.deepspeed_config["gradient_accumulation_steps"] == "auto"
        assert plugin.deepspeed_config["gradient_clipping"] == "auto"


# ---- pieces used only under FSDP / DeepSpeed, checked on one process ----


def test_clipping_from_a_given_norm_matches_clipping_the_union():
    """FSDP: the student's norm comes from its wrapper, the projections' is added, both are scaled as one."""
    torch.manual_seed(0)
    student = [torch.nn.Parameter(torch.randn(5, 3)) for _ in range(3)]
    extra = [torch.nn.Parameter(torch.randn(4)) for _ in range(2)]
    grads = [torch.randn_like(p) * 3 for p in student + extra]
    for max_norm in (1.0, 1e3):  # clipping, and no clipping
        for p, g in zip(student + extra, grads):
            p.grad = g.clone()
        student_norm = torch.nn.utils.get_total_norm([p.grad for p in student])
        total = clip_by_total_norm(student, extra, student_norm, max_norm)
        ours = [p.grad.clone() for p in student + extra]
        for p, g in zip(student + extra, grads):
            p.grad = g.clone()
        expected_total = torch.nn.utils.clip_grad_norm_(student + extra, max_norm)
        assert total.item() == pytest.approx(expected_total.item(), rel=1e-6)
        assert (total.item() > max_norm) == (max_norm == 1.0)  # the first round clips, the second does not
        for a, b in zip(ours, [p.grad for p in student + extra]):
            assert torch.allclose(a, b, rtol=1e-5, atol=1e-7)


@pytest.mark.slow
def test_projections_trained_inside_the_student_as_under_deepspeed(tmp_path, single_process_joint):
    """Under DeepSpeed the projections train as the student's submodule `distill_projections` (the engine only
    steps what it wraps). On one process the result must equal the usual run, and saving must still put them beside
    the student, not inside its weights."""
    trainer = script.joint_trainer(str(tmp_path / "attached"), script.GLOBAL_BATCH)
    trainer._attach_projections()
    assert any(name.startswith(f"{ATTACHED_PROJECTIONS}.") for name, _ in trainer.model.named_parameters())
    trainer.train()  # optimizer: no parameter twice; clipping: over the student's parameters, projections included
    reference = single_process_joint
    assert _losses(trainer.state.log_history) == pytest.approx(_losses(reference.state.log_history), rel=LOSS_RTOL)
    assert _max_difference(script.state(trainer.projections), script.state(reference.projections)) < PARAM_ATOL
    student = {k: v for k, v in script.state(trainer.model).items() if not k.startswith(ATTACHED_PROJECTIONS)}
    assert _max_difference(student, script.state(reference.model)) < PARAM_ATOL
    out = tmp_path / "saved"
    trainer.save_model(str(out))
    weights = load_file(out / "model.safetensors")
    assert not any(ATTACHED_PROJECTIONS in key for key in weights)
    reference.save_model(str(tmp_path / "reference"))
    assert weights.keys() == load_file(tmp_path / "reference" / "model.safetensors").keys()
    saved = load_file(out / PROJECTIONS_FILE)
    assert _max_difference(saved, script.state(trainer.projections)) == 0.0
