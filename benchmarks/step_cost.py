"""Step-cost benchmark of DistillationTrainer's TinyBERT step on CPU (issue: hooks + Q/K scores stay fast).

Teacher shaped like MiniLM-L6-H384 (6 layers, hidden 384, 12 heads, FFN 1536), student `tinybert-4l-312d`,
random weights, batch 32, sequence lengths 128 and 512. Three steps, each = forward(s) + backward + AdamW step:

  (a) ours: `DistillationTrainer.compute_loss` (stage "joint": embedding, attention, hidden, prediction losses
      from forward hooks, attention scores from the hooked Q/K, both models on sdpa);
  (b) irreducible: teacher forward under no_grad + student forward/backward with the prediction loss only;
  (c) conventional: eager attention, `output_attentions=True` and `output_hidden_states=True` on both models,
      the same four losses (the attention loss on the returned post-softmax maps, the only ones available);
  (d) (a) with both forwards under `torch.autocast("cpu", torch.bfloat16)`: the losses upcast the captured bf16
      tensors and compute in float32 (`losses.py`);
  (e) (d) with the losses computed in bf16 instead (no upcast; what the code did before), so (d)/(e) is the cost
      of the float32 upcast within a bf16 step. (d) and (e) run only where the CPU has bf16 matrix instructions
      (avx512_bf16 / amx_bf16; `--bf16-rows on` forces them): elsewhere bf16 is emulated, hundreds of times slower;
  (f) the losses alone: forward and backward of (a)'s four losses (projections included) from tensors captured
      once, and the projections' AdamW update, so (f)/(a) is the share of a step the float32 losses take;
  (g) (a) with the previous capture (`HookCapture`: forward hooks on the embeddings, the layer outputs and the
      Q/K linear layers) instead of today's (`output_hidden_states` + the attention-interface recorder), so
      (a)/(g) is what the capture that supports every encoder family costs.

The methods are interleaved round by round and the medians taken, so machine noise hits all of them alike;
the ratios (a)/(b) and (c)/(a) are the result. Two memory-allocator settings are measured, each in its own
process (glibc's defaults, and glibc told to keep freed memory, as a caching allocator does); the peak memory of
one step is measured in a fresh subprocess per method and length. Writes docs/step_cost.md and .json.

    python benchmarks/step_cost.py                     # full run (~25 min on 2 cores)
    python benchmarks/step_cost.py --allocator caching # one allocator setting only
    python benchmarks/step_cost.py --quick             # seq 128 only, fewer rounds
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import torch
from transformers import BertConfig, BertForSequenceClassification

from hf_tinybert import DistillationArguments, DistillationTrainer, TinyBertConfig, TinyBertForSequenceClassification
from hf_tinybert.distill import losses
from hf_tinybert.export.model_size import encoder_flops
from hf_tinybert.utils import LoadRecord

BATCH = 32
METHODS = ("a", "b", "c", "d", "e", "f", "g")
LABELS = {
    "a": "(a) ours: hooks + Q/K scores, sdpa",
    "b": "(b) irreducible: teacher fwd + student fwd/bwd, prediction loss only",
    "c": "(c) conventional: eager, output_attentions + output_hidden_states",
    "d": "(d) ours under bf16 autocast, losses in float32",
    "e": "(e) ours under bf16 autocast, losses in bf16 (no upcast)",
    "f": "(f) the losses alone (float32), from captured tensors",
    "g": "(g) (a) with the previous capture (hooks on Q/K linears and layer outputs)",
}


def configs() -> tuple[BertConfig, TinyBertConfig]:
    """The teacher (MiniLM-L6-H384 shape) and student (`tinybert-4l-312d`) configs."""
    teacher = BertConfig(
        hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536, num_labels=2
    )
    return teacher, TinyBertConfig.from_preset("tinybert-4l-312d", num_labels=2, fit_size=384)


def arithmetic_floor(seq: int) -> dict[str, float]:
    """Matrix MFLOP per token of (b) and of what (a) adds to it, forward + backward (backward = 2x forward).

    (b): teacher forward + student forward and backward (`encoder_flops`). (a) adds the W_e/W_h projections of the
    embeddings and every student layer (student -> teacher width) and the Gram-matrix attention loss: per layer and
    head, QᵀQ, KᵀK (student, teacher) and the cross products QₛᵀQₜ, KₛᵀKₜ, each O(S·d²), i.e. per token
    2·2·h·(dₛ² + dₛdₜ + dₜ²) FLOPs forward.
    """
    teacher, student = configs()
    teacher_forward = encoder_flops(teacher, 1, seq) / seq
    student_train = 3 * encoder_flops(student, 1, seq) / seq
    projections = 3 * 2 * (student.num_hidden_layers + 1) * student.hidden_size * teacher.hidden_size
    heads = student.num_attention_heads
    d_s, d_t = student.hidden_size // heads, teacher.hidden_size // heads
    gram = 3 * student.num_hidden_layers * 2 * 2 * heads * (d_s * d_s + d_s * d_t + d_t * d_t)
    mega = {k: v / 1e6 for k, v in {"teacher": teacher_forward, "student": student_train}.items()}
    mega.update(b=mega["teacher"] + mega["student"], projections=projections / 1e6, gram=gram / 1e6)
    mega["floor"] = (mega["b"] + mega["projections"] + mega["gram"]) / mega["b"]
    return mega


def build(seq: int):
    torch.manual_seed(0)
    teacher_config, student_config = configs()
    teacher = BertForSequenceClassification(teacher_config).eval()
    student = TinyBertForSequenceClassification(student_config)
    g = torch.Generator().manual_seed(1)
    batch = {
        "input_ids": torch.randint(1000, 30000, (BATCH, seq), generator=g),
        "attention_mask": torch.ones(BATCH, seq, dtype=torch.long),
        "labels": torch.randint(0, 2, (BATCH,), generator=g),
    }
    batch["attention_mask"][::4, seq * 3 // 4 :] = 0  # some padding, as in real batches
    return teacher, student, batch


def _masked_mse_bf16(student, teacher, mask=None, *, count=None):
    """`losses.masked_mse` without the float32 upcast: computed in the student's dtype."""
    squared = (student - teacher.to(student.dtype)).pow(2).sum(-1) * mask.to(student.dtype)
    return squared.sum() / (count * student.shape[-1])


def _attention_score_mse_bf16(sq, sk, tq, tk, num_heads, attention_mask=None, mask_queries=True, *, count=None):
    """`losses.attention_score_mse` (Gram matrices) without the upcast: the products in bf16 under autocast."""

    def heads(x, mask):
        if x.dim() == 4:  # (B, h, S, d), as captured at the attention interface
            batch, h, seq, d = x.shape
            x = x * (mask.to(x.dtype) * d**-0.25)[:, None, :, None]
            return x.transpose(-1, -2).reshape(batch * h, d, seq)
        batch, seq, width = x.shape
        d = width // num_heads
        x = x * (mask.to(x.dtype) * d**-0.25)[:, :, None]
        return x.view(batch, seq, num_heads, d).permute(0, 2, 3, 1).reshape(batch * num_heads, d, seq)

    qs, ks = heads(sq, attention_mask), heads(sk, attention_mask)
    qt, kt = heads(tq.to(sq.dtype), attention_mask), heads(tk.to(sq.dtype), attention_mask)

    def inner(q1, k1, q2, k2):
        return (torch.bmm(q1, q2.transpose(1, 2)) * torch.bmm(k1, k2.transpose(1, 2))).sum()

    with torch.no_grad():
        teacher_sq = inner(qt, kt, qt, kt)
    return (inner(qs, ks, qs, ks) + teacher_sq - 2 * inner(qs, ks, qt, kt)) / (count * num_heads)


@contextlib.contextmanager
def losses_in_bf16(active: bool):
    """Swap the trainer's embedding/hidden and attention losses for versions without the float32 upcast (for (e))."""
    if not active:
        yield
        return
    saved = losses.masked_mse, losses.attention_score_mse
    losses.masked_mse, losses.attention_score_mse = _masked_mse_bf16, _attention_score_mse_bf16
    try:
        yield
    finally:
        losses.masked_mse, losses.attention_score_mse = saved


class HookCapture:
    """The capture DistillationTrainer used before it captured at the attention interface (for (g)): forward hooks
    on a BERT model's embeddings, mapped layers and their query/key linear layers, (B, S, h·d) projections."""

    def __init__(self, model, layers, embeddings=True, hidden_states=True, attention=True):
        self.encoder = model.base_model
        self.layers = sorted(set(layers))
        self.flags = embeddings, hidden_states, attention
        self.handles = []

    def __enter__(self):
        from hf_tinybert.distill.capture import CapturedActivations

        captured = self.captured = CapturedActivations()
        embeddings, hidden_states, attention = self.flags

        def store(table, key):
            def hook(module, args, output):
                tensor = output[0] if isinstance(output, (tuple, list)) else output
                if table is None:
                    captured.embeddings = tensor
                else:
                    table[key] = tensor

            return hook

        if embeddings:
            self.handles.append(self.encoder.embeddings.register_forward_hook(store(None, None)))
        for m in self.layers:
            layer = self.encoder.encoder.layer[m - 1]
            if hidden_states:
                self.handles.append(layer.register_forward_hook(store(captured.hidden_states, m)))
            if attention:
                self.handles.append(layer.attention.self.query.register_forward_hook(store(captured.queries, m)))
                self.handles.append(layer.attention.self.key.register_forward_hook(store(captured.keys, m)))
        return captured

    def __exit__(self, *exc):
        for handle in self.handles:
            handle.remove()


class Step:
    """One training step of one method, with its own copy of the student and optimizer."""

    def __init__(self, method: str, teacher, student, batch):
        self.method, self.batch = method, batch
        self.student = copy.deepcopy(student).train()
        self.teacher = teacher
        out = tempfile.mkdtemp()
        args = DistillationArguments(output_dir=out, stage="joint", use_cpu=True, report_to=[], disable_tqdm=True)
        self.trainer = DistillationTrainer(self.student, args, teacher_model=teacher)
        self.layer_map = self.trainer.layer_map
        params = list(self.student.parameters()) + list(self.trainer.projections.parameters())
        self.optimizer = torch.optim.AdamW(params, lr=1e-5)
        if method == "c":
            self.student.set_attn_implementation("eager")
            self.eager_teacher = copy.deepcopy(teacher)
            self.eager_teacher.set_attn_implementation("eager")
        if method == "f":
            self._capture_once()
        if method == "g":
            weights = self.trainer.loss_weights
            self.trainer._capture = lambda model, layers: HookCapture(
                model, layers, "emb" in weights, "hidden" in weights, "att" in weights
            )

    def _capture_once(self) -> None:
        """(f): run both models once with the trainer's hooks; keep the student's tensors as leaves of a graph that
        holds only the losses."""
        layers = list(range(1, self.student.config.num_hidden_layers + 1))
        with torch.no_grad(), self.trainer._capture(self.student, layers) as student_acts:
            self.student_logits = self.student(**self.model_inputs()).logits
        with torch.no_grad(), self.trainer._capture(self.teacher, self.layer_map) as teacher_acts:
            self.teacher_logits = self.teacher(**self.model_inputs()).logits
        for table in (student_acts.hidden_states, student_acts.queries, student_acts.keys):
            for key in table:
                table[key] = table[key].detach().requires_grad_()
        student_acts.embeddings = student_acts.embeddings.detach().requires_grad_()
        self.student_logits.requires_grad_()
        self.acts = student_acts, teacher_acts

    def model_inputs(self) -> dict:
        return {k: v for k, v in self.batch.items() if k != "labels"}

    def losses_alone(self) -> torch.Tensor:
        """(a)'s four losses from the captured tensors, as `DistillationTrainer.compute_loss` computes them."""
        student_acts, teacher_acts = self.acts
        mask = self.batch["attention_mask"]
        heads = self.student.config.num_attention_heads
        embeddings, hidden = self.trainer._project(student_acts.embeddings, student_acts.hidden_states)
        pairs = zip(range(1, len(self.layer_map) + 1), self.layer_map)
        total = losses.masked_mse(embeddings, teacher_acts.embeddings, mask)
        for m, n in pairs:
            total = total + losses.masked_mse(hidden[m], teacher_acts.hidden_states[n], mask)
            total = total + losses.attention_score_mse(
                student_acts.queries[m],
                student_acts.keys[m],
                teacher_acts.queries[n],
                teacher_acts.keys[n],
                heads,
                mask,
            )
        return total + losses.soft_cross_entropy(self.student_logits, self.teacher_logits)

    def loss(self) -> torch.Tensor:
        inputs = {k: v for k, v in self.batch.items() if k != "labels"}
        if self.method in ("a", "g"):
            return self.trainer.compute_loss(self.student, self.batch)
        if self.method == "f":
            return self.losses_alone()
        if self.method in ("d", "e"):
            with torch.autocast("cpu", dtype=torch.bfloat16), losses_in_bf16(self.method == "e"):
                return self.trainer.compute_loss(self.student, self.batch)
        if self.method == "b":
            with torch.no_grad():
                teacher_logits = self.teacher(**inputs).logits
            return losses.soft_cross_entropy(self.student(**inputs).logits, teacher_logits)
        # (c) conventional
        s = self.student(**inputs, output_attentions=True, output_hidden_states=True)
        with torch.no_grad():
            t = self.eager_teacher(**inputs, output_attentions=True, output_hidden_states=True)
        mask = inputs["attention_mask"]
        proj = self.trainer.projections
        emb = losses.masked_mse(proj.project_embeddings(s.hidden_states[0]), t.hidden_states[0], mask)
        hidden = sum(
            losses.masked_mse(proj.project_hidden(s.hidden_states[m], m), t.hidden_states[n], mask)
            for m, n in enumerate(self.layer_map, start=1)
        )
        pair = (mask[:, None, :, None] * mask[:, None, None, :]).float()
        att = sum(
            ((s.attentions[m - 1] - t.attentions[n - 1]).pow(2) * pair).sum() / (pair.sum() * 12)
            for m, n in enumerate(self.layer_map, start=1)
        )
        pred = losses.soft_cross_entropy(s.logits, t.logits)
        return emb + hidden + att + pred

    def run(self) -> tuple[float, float]:
        """(wall seconds, CPU seconds of this process) of one step."""
        start, cpu_start = time.perf_counter(), time.process_time()
        loss = self.loss()
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.trainer.projections.zero_grad(set_to_none=True)
        return time.perf_counter() - start, time.process_time() - cpu_start


def _memory_status() -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of this process, in KiB, from /proc/self/status."""
    with open("/proc/self/status", encoding="ascii") as f:
        return {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in f) if k in ("VmRSS", "VmHWM")}


def measure_step_memory(method: str, seq: int, env: dict[str, str] | None = None) -> dict[str, float]:
    """Peak memory of one training step of `method`, in a fresh process (same allocator settings).

    The process builds the models and runs a warm-up step; then the kernel's peak-RSS counter is reset
    (`/proc/self/clear_refs`), one more step runs, and we report that step's peak RSS and how far it rose above
    the resident memory just before the step (the step's activations, gradients and temporaries).
    """
    folder = os.path.dirname(os.path.abspath(__file__))
    code = (
        f"import sys, json; sys.path.insert(0, {folder!r}); import step_cost as b; "
        f"t, s, batch = b.build({seq}); step = b.Step({method!r}, t, s, batch); step.run(); "
        "open('/proc/self/clear_refs', 'w').write('5'); before = b._memory_status()['VmRSS']; step.run(); "
        "print(json.dumps({'before': before, 'peak': b._memory_status()['VmHWM']}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    kib = json.loads(out.stdout.strip().splitlines()[-1])
    return {"peak_mib": kib["peak"] / 1024, "step_mib": (kib["peak"] - kib["before"]) / 1024}


def measure(seq: int, rounds: int, methods=METHODS) -> dict:
    """Interleaved timing of the steps at one length (in this process, with its allocator settings)."""
    teacher, student, batch = build(seq)
    steps = {m: Step(m, teacher, student, batch) for m in methods}
    for m in methods:  # warm-up
        steps[m].run()
    times = {m: [] for m in methods}
    cpu = {m: [] for m in methods}
    for r in range(rounds):
        for m in methods:
            wall, cpu_s = steps[m].run()
            times[m].append(wall)
            cpu[m].append(cpu_s)
        print(
            f"seq {seq} round {r + 1}/{rounds}: " + ", ".join(f"{m}={times[m][-1]:.2f}s" for m in methods), flush=True
        )
    return {
        "median_s": {m: statistics.median(times[m]) for m in methods},
        "median_cpu_s": {m: statistics.median(cpu[m]) for m in methods},
        "times_s": times,
        "cpu_s": cpu,
    }


# glibc returns every freed block above its mmap threshold (at most 32 MiB) to the kernel, so each step pays
# page faults again for every large activation; PyTorch's CPU tuning guide recommends a caching allocator
# (jemalloc/tcmalloc). These glibc settings do the same without extra libraries: never mmap, never trim.
CACHING_ALLOCATOR_ENV = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(64 << 30)}
ALLOCATORS = {
    "caching": "glibc malloc told to keep freed memory (`MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736`)",
    "system": "glibc malloc defaults (large blocks mmapped and returned to the kernel after each use)",
}


def _bf16_flags() -> str:
    """This CPU's flags for bf16 matrix instructions (avx512_bf16, amx_bf16), or 'none'."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return "unknown"
    found = sorted({"avx512_bf16", "amx_bf16"} & set(flags))
    return ", ".join(found) or "none"


def write_report(path: str, runs: dict, rounds: int, loads: tuple[float, float]) -> None:
    load = LoadRecord(*loads)
    lines = [
        "# Step cost of TinyBERT distillation (CPU)",
        "",
        "Produced by `python benchmarks/step_cost.py`. Teacher: MiniLM-L6-H384 shape (6 layers, hidden 384, 12 heads, "
        "FFN 1536); student: `tinybert-4l-312d` (fit_size 384); random weights; batch 32 with a quarter of the rows "
        "padded by a quarter; one step = forward(s) + backward + AdamW step; dropout on (training mode). Medians of "
        f"{rounds} interleaved rounds after a warm-up; {torch.get_num_threads()} torch threads on {os.cpu_count()} "
        f"cores ({platform.processor() or platform.machine()}), torch {torch.__version__}. {load.sentence()}",
        "",
        "Steps: " + "; ".join(LABELS[m] for m in METHODS) + ". (d) and (e) run only on CPUs with bf16 matrix "
        f"instructions (this one: {_bf16_flags()}); elsewhere their rows are absent.",
        "",
        "Memory: a fresh process per step and length runs a warm-up step, resets the kernel's peak-RSS counter and "
        "runs one more step; *peak RSS* is that step's high-water mark, *step memory* how far it rose above the "
        "resident memory just before the step. Read the memory columns of the system allocator: there, memory "
        "freed after the warm-up went back to the kernel, so step memory is what the step needs. A caching heap "
        "keeps the warm-up's memory resident (step memory near 0 when the step fits in it) and its peak also "
        "counts fragmentation.",
    ]
    for allocator, results in runs.items():
        lines += ["", f"## Allocator: {allocator}", "", ALLOCATORS[allocator] + ".", ""]
        lines += [
            "| seq | step | median wall (s) | median CPU (s) | peak RSS (MiB) | step memory (MiB) |",
            "|---:|---|---:|---:|---:|---:|",
        ]
        for seq, r in results.items():
            for m in [m for m in METHODS if m in r["median_s"]]:
                mem = (r.get("memory") or {}).get(m)
                peak, step = (f"{mem['peak_mib']:.0f}", f"{mem['step_mib']:.0f}") if mem else ("", "")
                lines.append(
                    f"| {seq} | {LABELS[m]} | {r['median_s'][m]:.3f} | {r['median_cpu_s'][m]:.3f} | {peak} | {step} |"
                )
        lines += [
            "",
            "| seq | (a)/(b) wall | (a)/(b) CPU | (c)/(a) wall | (c)/(a) CPU | (a)/(g) wall | (a)/(g) CPU | (f)/(a) wall "
            "| (d)/(e) wall | (d)/(e) CPU | (d)/(a) wall |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for seq, r in results.items():
            med, cpu_med = r["median_s"], r["median_cpu_s"]
            bf16 = (
                f"{med['d'] / med['e']:.3f} | {cpu_med['d'] / cpu_med['e']:.3f} | {med['d'] / med['a']:.2f}"
                if "d" in med
                else " | | "
            )
            share = f"{med['f'] / med['a']:.3f}" if "f" in med else ""
            capture = f"{med['a'] / med['g']:.3f} | {cpu_med['a'] / cpu_med['g']:.3f}" if "g" in med else " | "
            lines.append(
                f"| {seq} | {med['a'] / med['b']:.3f} | {cpu_med['a'] / cpu_med['b']:.3f} | "
                f"{med['c'] / med['a']:.2f} | {cpu_med['c'] / cpu_med['a']:.2f} | {capture} | {share} | {bf16} |"
            )
        verdicts = []
        for seq, r in results.items():
            med = r["median_s"]
            ab, ca = med["a"] / med["b"], med["c"] / med["a"]
            verdict = (
                f"seq {seq}: (a)/(b) = {ab:.3f} {'meets' if ab <= 1.08 else 'misses'} <= 1.08, "
                f"(c)/(a) = {ca:.2f} {'meets' if ca >= 1.15 else 'misses'} >= 1.15"
            )
            if "g" in med:
                ag = med["a"] / med["g"]
                verdict += f", (a)/(g) = {ag:.3f} {'meets' if ag <= 1.0 else 'exceeds'} <= 1.00"
            if "d" in med:
                de = med["d"] / med["e"]
                verdict += f", (d)/(e) = {de:.3f} {'meets' if de <= 1.02 else 'misses'} <= 1.02"
            verdicts.append(verdict)
        lines += ["", "Against the targets (wall-time medians): " + "; ".join(verdicts) + "."]
    lines += [
        "",
        "Targets (issue 3): (a)/(b) <= 1.08 and (c)/(a) >= 1.15 at seq 128, and more at 512. Issue 13: the float32 "
        "upcast of the losses costs at most 2% of a bf16 step at seq 128, (d)/(e) <= 1.02. Issue 14: the capture that "
        "supports every encoder family costs no more than the previous one, (a)/(g) <= 1 (within noise). "
        "(d)/(a) is the bf16 step's "
        "time over the float32 step's: below 1 only on CPUs with native bf16 matrix instructions (CPU flags: "
        f"{_bf16_flags()}).",
        "",
        "What (a) adds to (b), and why it is small: hooks capture only the mapped modules; the attention MSE is "
        "computed from Q and K with Gram matrices (Σ(QₛKₛᵀ − QₜKₜᵀ)² = Σ (QₛᵀQₛ ⊙ KₛᵀKₛ) − 2 Σ (QₛᵀQₜ ⊙ KₛᵀKₜ) + "
        "Σ (QₜᵀQₜ ⊙ KₜᵀKₜ), O(S·d²) per head) instead of building (B, h, S, S) score tensors; both models keep the "
        "sdpa kernel. The rest of the difference is TinyBERT's own work: the W_e/W_h projections (312 -> 384) of "
        "the embeddings and four hidden states, forward and backward, are about 7% of (b)'s matrix FLOPs here. "
        "(c) builds every layer's attention maps in eager attention and keeps them for backward, so its cost and "
        "memory grow with S² on both models.",
        "",
        "The arithmetic floor of (a)/(b) (`arithmetic_floor`: matrix MFLOP per token, forward + backward, backward "
        "counted as twice the forward): "
        + "; ".join(
            f"seq {seq}: (b) {f['b']:.1f} (teacher forward {f['teacher']:.1f}, student forward and backward "
            f"{f['student']:.1f}), projections +{f['projections']:.1f} ({f['projections'] / f['b']:.1%}), "
            f"Gram attention loss +{f['gram']:.1f} ({f['gram'] / f['b']:.1%}): floor {f['floor']:.3f}"
            for seq, f in ((seq, arithmetic_floor(int(seq))) for seq in next(iter(runs.values())))
        )
        + ". By matrix work alone, (a)/(b) cannot go below that floor without dropping part of TinyBERT's "
        "objective. It is a FLOP count, not a time: (b) also spends time outside matrix products that grows with "
        "S² (softmax and the dropout mask over the student's attention maps), so at long sequences the measured "
        "ratio can fall below it. The attention in (b) grows with S while our additions do not, so the floor "
        "falls with S. For the same reason, at short "
        "lengths eager attention in (c) costs little more than sdpa; (c)'s penalty appears with longer sequences, "
        "and most of all with the system allocator, where its S² maps are page-faulted in afresh every step.",
        "",
        "Why two allocators: with glibc's defaults every activation above the mmap threshold is a fresh mapping "
        "that is page-faulted in on every step; the distillation losses add a few hundred MiB of such temporaries "
        "at seq 512, and the extra page faults (system time) then make (a) look slower than its arithmetic. "
        "A caching allocator removes that cost for all three steps; we recommend it for CPU training "
        "(README, 'On a CPU').",
    ]
    table = "\n".join(load.header(lines)) + "\n"
    print(table)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(table)
    with open(os.path.splitext(path)[0] + ".json", "w", encoding="utf-8") as f:
        json.dump({a: {str(k): v for k, v in r.items()} for a, r in runs.items()}, f, indent=2)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seq", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per method (after one warm-up round)")
    parser.add_argument("--quick", action="store_true", help="seq 128 only, 3 rounds")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument(
        "--allocator", choices=[*ALLOCATORS, "both"], default="both", help="memory allocator settings to measure under"
    )
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "..", "docs", "step_cost.md"))
    parser.add_argument(
        "--bf16-rows",
        choices=["auto", "on", "off"],
        default="auto",
        help="time (d) and (e) under bf16 autocast: auto = only where the CPU has bf16 matrix instructions",
    )
    parser.add_argument("--methods", nargs="+", help=argparse.SUPPRESS)  # internal: the child's methods
    parser.add_argument("--child-json", help=argparse.SUPPRESS)  # internal: measure here, write results to this file
    parser.add_argument("--render", metavar="JSON", help="only rewrite --output from a results JSON of an earlier run")
    parser.add_argument("--loads", type=float, nargs=2, default=None, help=argparse.SUPPRESS)  # with --render
    args = parser.parse_args(argv)
    if args.quick:
        args.seq, args.rounds = [128], 3

    if args.render:
        with open(args.render, encoding="utf-8") as f:
            runs = {a: {int(k): v for k, v in r.items()} for a, r in json.load(f).items()}
        write_report(args.output, runs, args.rounds, tuple(args.loads or (float("nan"), float("nan"))))
        return 0

    if args.child_json:
        with open(args.child_json, "w", encoding="utf-8") as f:
            json.dump(measure(args.seq[0], args.rounds, args.methods or METHODS), f)
        return 0

    # Every allocator setting and length gets fresh processes: glibc reads its settings at start-up, and a
    # never-trimming heap keeps the high-water mark of everything the process ever ran.
    allocators = list(ALLOCATORS) if args.allocator == "both" else [args.allocator]
    bf16 = args.bf16_rows == "on" or (args.bf16_rows == "auto" and _bf16_flags() not in ("none", "unknown"))
    methods = [m for m in METHODS if bf16 or m not in ("d", "e")]
    load, runs = LoadRecord.start(), {}
    for allocator in allocators:
        env = {k: v for k, v in os.environ.items() if k not in CACHING_ALLOCATOR_ENV}
        if allocator == "caching":
            env.update(CACHING_ALLOCATOR_ENV)
        runs[allocator] = {}
        for seq in args.seq:
            print(f"== allocator: {allocator}, seq {seq}", flush=True)
            with tempfile.TemporaryDirectory() as tmp:
                child_json = os.path.join(tmp, "results.json")
                command = [sys.executable, os.path.abspath(__file__), "--child-json", child_json]
                command += ["--rounds", str(args.rounds), "--seq", str(seq), "--methods", *methods]
                subprocess.run(command, env=env, check=True)
                with open(child_json, encoding="utf-8") as f:
                    result = json.load(f)
            if not args.no_memory:
                result["memory"] = {m: measure_step_memory(m, seq, env) for m in methods}
            runs[allocator][seq] = result
            load.finish()
            write_report(args.output, runs, args.rounds, (load.before, load.after))  # keep what is measured
    return 0


if __name__ == "__main__":
    sys.exit(main())
