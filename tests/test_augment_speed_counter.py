"""benchmarks/augment_speed.py counts the arithmetic it reports: checked against the analytic FLOP count."""

from __future__ import annotations

import torch
from conftest import load_benchmark
from transformers import BertConfig, BertForMaskedLM

from hf_tinybert.export.model_size import encoder_flops


def test_flop_counter_matches_the_analytic_count_and_sees_the_masked_rows_only_projection():
    script = load_benchmark("augment_speed")
    config = BertConfig(
        vocab_size=101, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
    )
    model = BertForMaskedLM(config).eval()
    counter = script.FlopCounter(model)
    h, v = config.hidden_size, config.vocab_size
    # bare encoder: encoder_flops counts a pooler (h x h) that the masked LM does not have
    encoder = encoder_flops(config, 3, 7, task="feature-extraction") - 3 * 2 * h * h
    head_transform = 2 * 3 * 7 * h * h

    with torch.no_grad():
        model(input_ids=torch.randint(0, v, (3, 7)))
    assert counter.take() == (encoder + head_transform + 2 * 3 * 7 * h * v, 1)

    # the batched implementation projects only the masked rows onto the vocabulary: a pre-hook keeps one row
    rows = torch.arange(3)
    handle = model.get_output_embeddings().register_forward_pre_hook(lambda m, args: (args[0][rows, 0],))
    with torch.no_grad():
        model(input_ids=torch.randint(0, v, (3, 7)))
    handle.remove()
    assert counter.take() == (encoder + head_transform + 2 * 3 * h * v, 1)
    assert counter.take() == (0, 0)
