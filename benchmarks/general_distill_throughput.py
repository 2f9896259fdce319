"""Throughput of general distillation (stage "general") on one device: tokens per second.

Teacher: BERT-base shape (12 layers, hidden 768, 12 heads, FFN 3072, vocabulary 30522), random weights, `BertModel`
(general distillation uses a pre-trained, not fine-tuned teacher); student: `tinybert-4l-312d` (`TinyBertModel`,
fit_size 768). Sequence length 128 without padding (packed corpus blocks, as `pack_corpus` makes them). Timed:

  step:    `DistillationTrainer.compute_loss` (teacher forward under no_grad + student forward, embedding, attention
           and hidden-state losses from forward hooks) + backward + AdamW step over the student and the projections;
  teacher: the teacher's forward alone, with the same hooks (the part of a step the student cannot shrink).

Steps and teacher forwards are interleaved round by round after one warm-up round, and medians are taken. Tokens/s
= batch x sequence length / median step time. The FLOPs per token are computed analytically from the shapes (matrix
products only), so the achieved FLOP/s can be compared with another device's. Writes
docs/general_distill_throughput.md and .json, and the measured table of docs/scaling.md (the cost of the paper's
corpus). Each precision of `--precisions` (default fp32 and auto) is measured in the same process, interleaved.

    python benchmarks/general_distill_throughput.py      # this CPU: fp32 and auto side by side, batch 8, 3 rounds
    python benchmarks/general_distill_throughput.py --device cuda --batch 256 --output /tmp/gpu.md --scaling ''
        # on a GPU, to measure your own tokens/s (this project has no GPU: that path has not been run here)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time

import torch
from transformers import BertConfig, BertModel

from hf_tinybert import DistillationArguments, DistillationTrainer, TinyBertConfig, TinyBertModel
from hf_tinybert.distill import LayerCapture
from hf_tinybert.utils import LoadRecord

SEQ = 128
# The paper's general distillation corpus: English Wikipedia, 2.5B words, 3 epochs; ~1.3 word-pieces per word.
CORPUS_WORDS, TOKENS_PER_WORD, EPOCHS = 2.5e9, 1.3, 3


def encoder_flops_per_token(config, seq: int) -> float:
    """Forward FLOPs per token of a BERT encoder's matrix products: Q, K, V, output, FFN in and out, QKᵀ and AV."""
    d, f = config.hidden_size, config.intermediate_size
    return config.num_hidden_layers * (2 * (4 * d * d + 2 * d * f) + 2 * 2 * seq * d)


def flops_per_token(teacher_config, student_config, seq: int) -> dict[str, float]:
    """Teacher forward; student forward + backward (3x forward); projections (embeddings + each layer) x3."""
    projections = (
        3 * (student_config.num_hidden_layers + 1) * 2 * student_config.hidden_size * teacher_config.hidden_size
    )
    parts = {
        "teacher_forward": encoder_flops_per_token(teacher_config, seq),
        "student_forward_backward": 3 * encoder_flops_per_token(student_config, seq),
        "projections_forward_backward": projections,
    }
    parts["total"] = sum(parts.values())
    return parts


def build(batch: int, device: str, precision: str):
    torch.manual_seed(0)
    teacher_config = BertConfig(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)
    student_config = TinyBertConfig.from_preset("tinybert-4l-312d", fit_size=768)
    teacher = BertModel(teacher_config, add_pooling_layer=False).eval()
    student = TinyBertModel(student_config).train()
    args = DistillationArguments(
        output_dir=tempfile.mkdtemp(),
        stage="general",
        use_cpu=device == "cpu",
        precision=precision,
        report_to=[],
        disable_tqdm=True,
    )
    trainer = DistillationTrainer(student, args, teacher_model=teacher)
    student.to(trainer.args.device)
    g = torch.Generator().manual_seed(1)
    inputs = {
        "input_ids": torch.randint(1000, 30000, (batch, SEQ), generator=g),
        "attention_mask": torch.ones(batch, SEQ, dtype=torch.long),
        "token_type_ids": torch.zeros(batch, SEQ, dtype=torch.long),
    }
    inputs = {k: v.to(trainer.args.device) for k, v in inputs.items()}
    params = list(student.parameters()) + list(trainer.projections.parameters())
    optimizer = torch.optim.AdamW(params, lr=5e-5, weight_decay=0.01)
    return trainer, optimizer, inputs, teacher_config, student_config


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_step(trainer, optimizer, inputs, device: str) -> float:
    synchronize(device)
    start = time.perf_counter()
    with trainer.accelerator.autocast():
        loss = trainer.compute_loss(trainer.model, inputs)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    synchronize(device)
    return time.perf_counter() - start


def time_teacher(trainer, inputs, device: str) -> float:
    synchronize(device)
    start = time.perf_counter()
    with torch.no_grad(), LayerCapture(trainer.teacher, trainer.layer_map):
        trainer.teacher(**inputs)
    synchronize(device)
    return time.perf_counter() - start


def measure(precisions: list[str], batch: int, rounds: int, device: str) -> dict[str, dict]:
    """Each precision's step and teacher-forward times, interleaved round by round (so drift hits all alike)."""
    runs = {}
    for precision in precisions:
        trainer, optimizer, inputs, teacher_config, student_config = build(batch, device, precision)
        runs[precision] = {
            "trainer": trainer,
            "optimizer": optimizer,
            "inputs": inputs,
            "decision": trainer.args.precision_decision,
            "teacher_dtype": str(next(trainer.teacher.parameters()).dtype).replace("torch.", ""),
            "autocast": "bf16" if trainer.args.bf16 else "fp16" if trainer.args.fp16 else "none",
            "step_s": [],
            "teacher_forward_s": [],
        }
        time_step(trainer, optimizer, inputs, device)  # warm-up
        time_teacher(trainer, inputs, device)
    for r in range(rounds):
        for precision, run in runs.items():
            run["step_s"].append(time_step(run["trainer"], run["optimizer"], run["inputs"], device))
            run["teacher_forward_s"].append(time_teacher(run["trainer"], run["inputs"], device))
            print(
                f"round {r + 1}/{rounds} {precision}: step {run['step_s'][-1]:.2f} s, "
                f"teacher forward {run['teacher_forward_s'][-1]:.2f} s",
                flush=True,
            )
    flops = flops_per_token(teacher_config, student_config, SEQ)
    results = {}
    for precision, run in runs.items():
        step_s, teacher_s = statistics.median(run["step_s"]), statistics.median(run["teacher_forward_s"])
        tokens_per_s = batch * SEQ / step_s
        results[precision] = {
            key: run[key] for key in ("decision", "teacher_dtype", "autocast", "step_s", "teacher_forward_s")
        } | {
            "median_step_s": step_s,
            "median_teacher_forward_s": teacher_s,
            "tokens_per_s": tokens_per_s,
            "teacher_share_of_step": teacher_s / step_s,
            "achieved_flops_per_s": flops["total"] * tokens_per_s,
            "corpus_device_days": CORPUS_WORDS * TOKENS_PER_WORD * EPOCHS / tokens_per_s / 86400,
        }
    return {"flops_per_token": flops, "precisions": results}


def render(result: dict, command: str) -> str:
    """docs/general_distill_throughput.md from the measured result."""
    flops, runs = result["flops_per_token"], result["precisions"]
    names = list(runs)
    base = runs[names[0]]
    load = LoadRecord(result["load_before"], result["load_after"], result["cores"])
    lines = [
        "# General distillation throughput",
        "",
        f"Produced by `{command}`. {load.sentence()} Stage `general` (embedding, attention and hidden-state losses); "
        "teacher: BERT-base shape (12 layers, hidden 768, 12 heads, FFN 3072), random weights; student: "
        f"`tinybert-4l-312d` (fit_size 768); sequence length {SEQ}, no padding; batch {result['batch']}. One step = "
        "`DistillationTrainer.compute_loss` + backward + AdamW step (student and projections). Medians of "
        f"{result['rounds']} rounds after a warm-up, the precisions interleaved round by round in one process; device: "
        f"{result['device']} ({result['device_name']}), {result['torch_threads']} torch threads on "
        f"{result['cpu_count']} cores, torch {result['torch']}.",
        "",
        "| measure | " + " | ".join(f"`--precision {n}`" for n in names) + " |",
        "|---|" + "---:|" * len(names),
        "| chosen | " + " | ".join(runs[n]["decision"].split(" (")[0].removeprefix("precision ") for n in names) + " |",
        "| teacher weights / student autocast | "
        + " | ".join(f"{runs[n]['teacher_dtype']} / {runs[n]['autocast']}" for n in names)
        + " |",
        "| median step (s) | " + " | ".join(f"{runs[n]['median_step_s']:.2f}" for n in names) + " |",
        "| **tokens / s (one device)** | " + " | ".join(f"**{runs[n]['tokens_per_s']:,.0f}**" for n in names) + " |",
        f"| tokens / s vs `{names[0]}` | "
        + " | ".join(f"{runs[n]['tokens_per_s'] / base['tokens_per_s']:.2f}x" for n in names)
        + " |",
        "| median teacher forward (s) | "
        + " | ".join(f"{runs[n]['median_teacher_forward_s']:.2f}" for n in names)
        + " |",
        "| teacher forward / step | " + " | ".join(f"{runs[n]['teacher_share_of_step']:.0%}" for n in names) + " |",
        "| achieved (matrix products) | "
        + " | ".join(f"{runs[n]['achieved_flops_per_s'] / 1e9:,.1f} GFLOP/s" for n in names)
        + " |",
        "| the paper's corpus on one device | "
        + " | ".join(f"{runs[n]['corpus_device_days']:,.0f} days" for n in names)
        + " |",
        "",
        "Why each precision was chosen: " + "; ".join(f"`{n}`: {runs[n]['decision']}" for n in names) + ".",
        "",
        f"FLOPs per token (analytic, matrix products; 2 per multiply-add; backward = 2x forward): teacher forward "
        f"{flops['teacher_forward'] / 1e6:,.1f} M ({flops['teacher_forward'] / flops['total']:.0%}) + student forward "
        f"and backward {flops['student_forward_backward'] / 1e6:,.1f} M + projections "
        f"{flops['projections_forward_backward'] / 1e6:,.1f} M = {flops['total'] / 1e6:,.0f} M (embeddings, "
        "LayerNorm, softmax and the losses left out).",
        "",
        f"The paper's corpus: {CORPUS_WORDS:.2g} words x {TOKENS_PER_WORD} tokens/word x {EPOCHS} epochs = "
        f"{result['corpus_tokens']:.3g} tokens (docs/scaling.md has N devices).",
    ]
    return "\n".join(load.header(lines)) + "\n"


def _duration(days: float) -> str:
    if days >= 365:
        return f"{days / 365:.1f} years"
    if days >= 2:
        return f"{days:,.0f} days"
    return f"{days * 24:.1f} h"


def render_scaling(result: dict) -> str:
    """The measured part of docs/scaling.md (between its `throughput` markers)."""
    runs = result["precisions"]
    load = LoadRecord(result["load_before"], result["load_after"], result["cores"])
    lines = [
        f"Measured by `benchmarks/general_distill_throughput.py` ({result['device_name']}, {result['torch_threads']} "
        f"threads on {result['cpu_count']} cores, batch {result['batch']} x {SEQ} tokens). {load.sentence()}"
        + (" **The machine was busy: not a result.**" if load.busy else ""),
        "",
        "| precision | chosen | step (s) | teacher forward (s) | tokens / s | achieved | paper's corpus: 1 device | 8 | 64 |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in runs.items():
        days = run["corpus_device_days"]
        lines.append(
            f"| `{name}` | {run['decision'].split(' (')[0].removeprefix('precision ')} | {run['median_step_s']:.2f} | "
            f"{run['median_teacher_forward_s']:.2f} | **{run['tokens_per_s']:,.0f}** | "
            f"{run['achieved_flops_per_s'] / 1e9:,.1f} GFLOP/s | {_duration(days)} | {_duration(days / 8)} | "
            f"{_duration(days / 64)} |"
        )
    return "\n".join(lines) + "\n"


def replace_between_markers(text: str, name: str, content: str) -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start not in text or end not in text:
        raise ValueError(f"markers {start} ... {end} not found")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{content}{end}{tail}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=8, help="sequences per step (per device)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds after one warm-up round")
    parser.add_argument("--device", default="cpu", help="cpu (what docs/ reports) or cuda")
    parser.add_argument(
        "--precisions", default="fp32,auto", help="comma-separated --precision values to measure side by side"
    )
    docs = os.path.join(os.path.dirname(__file__), "..", "docs")
    parser.add_argument("--output", default=os.path.join(docs, "general_distill_throughput.md"))
    parser.add_argument(
        "--scaling", default=os.path.join(docs, "scaling.md"), help="rewrite its measured table ('' to leave it)"
    )
    args = parser.parse_args(argv)

    load = LoadRecord.start()
    measured = measure(args.precisions.split(","), args.batch, args.rounds, args.device)
    load.finish()
    device_name = (
        torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or platform.machine()
    )
    result = {
        "device": args.device,
        "device_name": device_name,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "batch": args.batch,
        "seq": SEQ,
        "rounds": args.rounds,
        "corpus_tokens": CORPUS_WORDS * TOKENS_PER_WORD * EPOCHS,
        **load.to_dict(),
        **measured,
    }
    defaults = args.device == "cpu" and args.batch == 8 and args.precisions == "fp32,auto"
    command = "python benchmarks/general_distill_throughput.py" + (
        "" if defaults else f" --device {args.device} --batch {args.batch} --precisions {args.precisions}"
    )
    table = render(result, command)
    print(table)
    output = os.path.abspath(args.output)
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with open(output, "w", encoding="utf-8") as f:
        f.write(table)
    with open(os.path.splitext(output)[0] + ".json", "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    if args.scaling:
        with open(args.scaling, encoding="utf-8") as f:
            text = f.read()
        with open(args.scaling, "w", encoding="utf-8") as f:
            f.write(replace_between_markers(text, "throughput", render_scaling(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
