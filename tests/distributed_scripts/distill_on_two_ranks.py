"""Short DistillationTrainer runs on tiny models in several processes on CPU (gloo DDP).

Started by tests/test_distributed.py with `torchrun --standalone --nproc_per_node 2` or
`accelerate launch --config_file examples/accelerate/ddp.yaml --num_processes 2`; each rank writes what it ended
with to `<dump_dir>/<run>_rank<r>.pt`, and the test compares the ranks with each other and with a single-process
run of `joint_trainer` (imported from this file).

Runs:
- `joint`: all four losses, 2 ranks x batch 4; rank 1's teacher head is perturbed first (as a randomly initialised
  head would be), so the trainer has to broadcast rank 0's teacher; checkpoints, evaluation and a final save.
  Each rank has its own output_dir: only rank 0's may receive model or projection files.
- `accumulated`: the same global batch as 2 ranks x batch 2 x 2 accumulation steps.
- `unsynced`: the `joint` run with the projections' synchronisation switched off (the negative control).
- `general`: stage "general" on a streamed corpus, with a `TinyBertModel` student: no loss uses its outputs and
  none reaches its pooler.
- `data`: which rows of a streamed corpus each rank's training batches hold; the errors for a corpus already split
  by rank and for a launch in which the trainer is not distributed.
- `padded`: one SGD step on variable-length rows with dynamic padding (tests/window_cases.py) for several cases, as
  2 ranks x batch 4 and as 2 ranks x batch 2 x 2 accumulation steps; must equal 1 process x batch 8.
"""

from __future__ import annotations

import argparse
import os
import sys

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/, for conftest

from conftest import TINY_VOCAB, tiny_student_config, tiny_teacher_config  # noqa: E402
from datasets import Dataset, IterableDataset  # noqa: E402
from transformers import BertForSequenceClassification, BertModel  # noqa: E402

from hf_tinybert import (  # noqa: E402
    DistillationArguments,
    DistillationTrainer,
    TinyBertForSequenceClassification,
    TinyBertModel,
)
from hf_tinybert.data.corpus import shard_for_rank  # noqa: E402

SEQ = 12
STEPS = 4
GLOBAL_BATCH = 8
RUNS = ("joint", "accumulated", "unsynced", "general", "data", "padded")
PADDED_CASES = ("joint_hard", "qa_joint_hard", "general_mlm_hard", "joint_probs_kl")
PADDED_LAYOUTS = ((4, 1), (2, 2))  # per rank: (batch, accumulation steps); 2 ranks -> 8 rows in one step


def token_rows(n: int, seed: int = 0) -> dict:
    """`n` rows of SEQ random token ids without padding (so each rank's per-batch means average to the global
    batch's), a label, and the row's number as its first token id (to see which rank read which row)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, len(TINY_VOCAB), (n, SEQ), generator=g)
    ids[:, 0] = torch.arange(n) + 5
    labels = torch.randint(0, 2, (n,), generator=g)
    return {"input_ids": ids.tolist(), "attention_mask": [[1] * SEQ] * n, "labels": labels.tolist()}


def joint_models():
    torch.manual_seed(0)
    teacher = BertForSequenceClassification(tiny_teacher_config(num_labels=2, initializer_range=0.2)).eval()
    student = TinyBertForSequenceClassification(
        tiny_student_config(num_labels=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    )
    return student, teacher


def joint_trainer(output_dir: str, per_device_batch: int, teacher=None, trainer_cls=DistillationTrainer, **overrides):
    """The `joint` run's trainer: STEPS steps over the same rows in order (global batch = GLOBAL_BATCH)."""
    student, default_teacher = joint_models()
    values = dict(
        output_dir=output_dir,
        stage="joint",
        per_device_train_batch_size=per_device_batch,
        per_device_eval_batch_size=4,
        max_steps=STEPS,
        learning_rate=3e-3,  # large enough that clipping (max_grad_norm=1) is active in every step
        logging_steps=1,
        train_sampling_strategy="sequential",
        use_cpu=True,
        report_to=[],
        disable_tqdm=True,
        seed=0,
        save_strategy="no",
    )
    values.update(overrides)
    return trainer_cls(
        student,
        DistillationArguments(**values),
        teacher_model=teacher if teacher is not None else default_teacher,
        train_dataset=Dataset.from_dict(token_rows(STEPS * GLOBAL_BATCH)),
        eval_dataset=Dataset.from_dict(token_rows(16, seed=1)),
    )


def state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().cpu().clone() for name, tensor in module.state_dict().items()}


class UnsyncedTrainer(DistillationTrainer):
    """The trainer without the projections' synchronisation (what DistillationTrainer did before)."""

    def _synchronise_projections(self) -> None:
        pass


def run_joint(output_root: str, rank: int, world_size: int, trainer_cls=DistillationTrainer) -> dict:
    own_dir = os.path.join(output_root, "joint" if rank == 0 else f"joint_rank{rank}")
    _, teacher = joint_models()
    if rank == 1:
        with torch.no_grad():
            teacher.classifier.weight.add_(1.0)  # a head that differs by rank, e.g. randomly initialised
    trainer = joint_trainer(
        own_dir,
        GLOBAL_BATCH // world_size,
        teacher=teacher,
        trainer_cls=trainer_cls,
        save_strategy="steps",
        save_steps=2,
    )
    result = {"teacher": state(trainer.teacher), "projections_start": state(trainer.projections)}
    trainer.train()
    result["eval"] = trainer.evaluate()
    trainer.save_model(os.path.join(own_dir, "final"))
    result.update(
        student=state(trainer.model),
        projections=state(trainer.projections),
        log_history=trainer.state.log_history,
        ddp_static_graph=trainer.args.ddp_static_graph,
        wrapped=type(trainer.model_wrapped).__name__,
    )
    return result


def run_accumulated(output_root: str, rank: int, world_size: int) -> dict:
    per_device = GLOBAL_BATCH // world_size // 2
    trainer = joint_trainer(
        os.path.join(output_root, f"accumulated_rank{rank}"), per_device, gradient_accumulation_steps=2
    )
    trainer.train()
    return {"student": state(trainer.model), "projections": state(trainer.projections)}


def run_unsynced(output_root: str, rank: int, world_size: int) -> dict:
    trainer = joint_trainer(
        os.path.join(output_root, f"unsynced_rank{rank}"), GLOBAL_BATCH // world_size, trainer_cls=UnsyncedTrainer
    )
    start = state(trainer.projections)
    trainer.train()
    return {"projections_start": start, "projections": state(trainer.projections), "student": state(trainer.model)}


def streamed_corpus(n: int) -> IterableDataset:
    rows = token_rows(n, seed=2)
    rows.pop("labels")

    def generate():
        for i in range(n):
            yield {key: values[i] for key, values in rows.items()}

    return IterableDataset.from_generator(generate)


def general_trainer(output_dir: str, train_dataset, per_device_batch: int = GLOBAL_BATCH // 2) -> DistillationTrainer:
    torch.manual_seed(0)
    teacher = BertModel(tiny_teacher_config())
    student = TinyBertModel(tiny_student_config(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0))
    args = DistillationArguments(
        output_dir=output_dir,
        stage="general",
        per_device_train_batch_size=per_device_batch,
        max_steps=3,
        learning_rate=3e-3,
        logging_steps=1,
        use_cpu=True,
        report_to=[],
        disable_tqdm=True,
        save_strategy="no",
    )
    return DistillationTrainer(student, args, teacher_model=teacher, train_dataset=train_dataset)


def run_general(output_root: str, rank: int, world_size: int) -> dict:
    trainer = general_trainer(
        os.path.join(output_root, f"general_rank{rank}"), streamed_corpus(64), GLOBAL_BATCH // world_size
    )
    start = state(trainer.model)
    trainer.train()
    return {"student_start": start, "student": state(trainer.model), "log_history": trainer.state.log_history}


def run_data(output_root: str, rank: int, world_size: int) -> dict:
    trainer = general_trainer(os.path.join(output_root, f"data_rank{rank}"), streamed_corpus(64))
    rows = [int(i) - 5 for batch in trainer.get_train_dataloader() for i in batch["input_ids"][:, 0]]
    try:
        general_trainer(os.path.join(output_root, f"data_rank{rank}"), shard_for_rank(streamed_corpus(64)))
        refused = None
    except ValueError as err:
        refused = str(err)
    try:  # on CPU without use_cpu=True each process would train alone
        joint_trainer(os.path.join(output_root, f"data_rank{rank}"), GLOBAL_BATCH, use_cpu=False)
        not_distributed = None
    except ValueError as err:
        not_distributed = str(err)
    return {"rows": rows, "presplit_error": refused, "not_distributed_error": not_distributed}


def run_padded(output_root: str, rank: int, world_size: int) -> dict:
    import window_cases

    tok = window_cases.tokenizer(os.path.join(output_root, f"vocab_rank{rank}"))
    result = {}
    for case in PADDED_CASES:
        for batch, accumulation in PADDED_LAYOUTS:
            folder = os.path.join(output_root, f"padded_{case}_{batch}x{accumulation}_rank{rank}")
            trainer = window_cases.trainer(case, folder, 8, batch, accumulation, tok)
            trainer.train()
            logged = next(entry for entry in trainer.state.log_history if "loss" in entry)
            result[(case, batch, accumulation)] = {"weights": window_cases.weights(trainer), "log": logged}
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dump_dir")
    parser.add_argument("--runs", nargs="+", default=list(RUNS), choices=RUNS)
    args = parser.parse_args(argv)
    functions = {
        "joint": run_joint,
        "accumulated": run_accumulated,
        "unsynced": run_unsynced,
        "general": run_general,
        "data": run_data,
        "padded": run_padded,
    }
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    os.makedirs(args.dump_dir, exist_ok=True)
    for name in args.runs:
        result = functions[name](args.dump_dir, rank, world_size)
        result["world_size"] = dist.get_world_size() if dist.is_initialized() else 1
        torch.save(result, os.path.join(args.dump_dir, f"{name}_rank{rank}.pt"))
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    code = main()
    # Leave without the interpreter's teardown: on these machines torch's gloo threads sometimes abort it
    # ("terminate called without an active exception") after all the work is done, in plain Trainer runs too.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
