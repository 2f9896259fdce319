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
docs/general_distill_throughput.md and .json; docs/scaling.md turns the result into the cost of the paper's corpus.

    python benchmarks/general_distill_throughput.py                 # this CPU: batch 8, 3 timed rounds (~5 min)
    python benchmarks/general_distill_throughput.py --device cuda --bf16 --batch 256 --output /tmp/gpu.md
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


def build(batch: int, device: str, bf16: bool):
    torch.manual_seed(0)
    teacher_config = BertConfig(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)
    student_config = TinyBertConfig.from_preset("tinybert-4l-312d", fit_size=768)
    teacher = BertModel(teacher_config, add_pooling_layer=False).eval()
    student = TinyBertModel(student_config).train()
    args = DistillationArguments(
        output_dir=tempfile.mkdtemp(),
        stage="general",
        use_cpu=device == "cpu",
        bf16=bf16,
        teacher_dtype="bfloat16" if bf16 else "auto",
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=8, help="sequences per step (per device)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds after one warm-up round")
    parser.add_argument("--device", default="cpu", help="cpu (what docs/ reports) or cuda")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast for the student, bf16 teacher weights")
    default_output = os.path.join(os.path.dirname(__file__), "..", "docs", "general_distill_throughput.md")
    parser.add_argument("--output", default=default_output)
    args = parser.parse_args(argv)

    trainer, optimizer, inputs, teacher_config, student_config = build(args.batch, args.device, args.bf16)
    time_step(trainer, optimizer, inputs, args.device)  # warm-up
    time_teacher(trainer, inputs, args.device)
    steps, teachers = [], []
    for r in range(args.rounds):
        steps.append(time_step(trainer, optimizer, inputs, args.device))
        teachers.append(time_teacher(trainer, inputs, args.device))
        print(f"round {r + 1}/{args.rounds}: step {steps[-1]:.2f} s, teacher forward {teachers[-1]:.2f} s", flush=True)
    step_s, teacher_s = statistics.median(steps), statistics.median(teachers)
    tokens = args.batch * SEQ
    flops = flops_per_token(teacher_config, student_config, SEQ)
    device_name = (
        torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or platform.machine()
    )
    result = {
        "device": args.device,
        "device_name": device_name,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "bf16": args.bf16,
        "batch": args.batch,
        "seq": SEQ,
        "step_s": steps,
        "teacher_forward_s": teachers,
        "median_step_s": step_s,
        "median_teacher_forward_s": teacher_s,
        "tokens_per_s": tokens / step_s,
        "teacher_share_of_step": teacher_s / step_s,
        "flops_per_token": flops,
        "achieved_flops_per_s": flops["total"] * tokens / step_s,
    }
    corpus_tokens = CORPUS_WORDS * TOKENS_PER_WORD * EPOCHS
    device_days = corpus_tokens / (tokens / step_s) / 86400
    result["corpus_tokens"], result["corpus_device_days"] = corpus_tokens, device_days
    precision = "bf16 autocast, bf16 teacher" if args.bf16 else "float32"
    lines = [
        "# General distillation throughput",
        "",
        "Produced by `python benchmarks/general_distill_throughput.py"
        + ("" if args.device == "cpu" and args.batch == 8 else f" --device {args.device} --batch {args.batch}")
        + ("" if not args.bf16 else " --bf16")
        + "`. Stage `general` (embedding, attention and hidden-state losses from forward hooks); teacher: BERT-base "
        "shape (12 layers, hidden 768, 12 heads, FFN 3072), random weights; student: `tinybert-4l-312d` "
        f"(fit_size 768); sequence length {SEQ}, no padding; batch {args.batch}; {precision}. One step = "
        "`DistillationTrainer.compute_loss` + backward + AdamW step (student and projections). Medians of "
        f"{args.rounds} interleaved rounds after a warm-up; device: {args.device} ({device_name}), "
        f"{torch.get_num_threads()} torch threads on {os.cpu_count()} cores, torch {torch.__version__}. The machine "
        "was shared with other jobs while it ran: treat the times as indicative.",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| median step (s) | {step_s:.2f} |",
        f"| **tokens / s (one device)** | **{tokens / step_s:,.0f}** |",
        f"| median teacher forward (s) | {teacher_s:.2f} |",
        f"| teacher forward / step | {teacher_s / step_s:.0%} |",
        f"| FLOPs per token (analytic, matrix products) | {flops['total'] / 1e6:,.0f} M |",
        f"| of which teacher forward | {flops['teacher_forward'] / flops['total']:.0%} |",
        f"| achieved | {result['achieved_flops_per_s'] / 1e9:,.1f} GFLOP/s |",
        "",
        "FLOPs per token: teacher forward "
        f"{flops['teacher_forward'] / 1e6:,.1f} M + student forward and backward "
        f"{flops['student_forward_backward'] / 1e6:,.1f} M + projections {flops['projections_forward_backward'] / 1e6:,.1f} M"
        " (2 per multiply-add; backward = 2x forward; embeddings, LayerNorm, softmax and the losses left out).",
        "",
        f"The paper's corpus at this rate: {CORPUS_WORDS:.2g} words x {TOKENS_PER_WORD} tokens/word x {EPOCHS} epochs "
        f"= {corpus_tokens:.3g} tokens / {tokens / step_s:,.0f} tokens/s = **{device_days:,.0f} device-days** on "
        "one such device (see docs/scaling.md for N devices).",
    ]
    table = "\n".join(lines) + "\n"
    print(table)
    output = os.path.abspath(args.output)
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with open(output, "w", encoding="utf-8") as f:
        f.write(table)
    with open(os.path.splitext(output)[0] + ".json", "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
