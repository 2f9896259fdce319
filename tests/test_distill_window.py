"""A step does not depend on how its rows are split into micro-batches: every loss is normalised over the whole
accumulation window (variable-length rows, dynamic padding, an uneven last micro-batch), for every stage and head.
The two-process half of the guarantee is in tests/test_distributed.py."""

from __future__ import annotations

import pytest
import torch
import window_cases
from transformers import Trainer
from window_cases import CASES

LAYOUTS = [(8, 1), (4, 2), (2, 4)]  # (per-device batch, accumulation steps): one step over the same rows


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return window_cases.tokenizer(str(tmp_path_factory.mktemp("vocab")))


def _max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k] - b[k]).abs().max().item() for k in a)


@pytest.mark.parametrize("n", [8, 7], ids=["even", "uneven_last_micro_batch"])
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.slow
def test_one_step_is_the_same_for_every_accumulation_layout(tmp_path, tok, case, n):
    start, results = None, []
    for bs, ga in LAYOUTS:
        trainer = window_cases.trainer(case, str(tmp_path / f"{bs}x{ga}"), n, bs, ga, tok)
        start = start or window_cases.weights(trainer)
        trainer.train()
        assert trainer.state.global_step == 1
        logged = next(entry for entry in trainer.state.log_history if "loss" in entry)
        results.append((window_cases.weights(trainer), logged))
    (reference, reference_log), *others = results
    update = _max_difference(reference, start)
    assert update > 1e-3  # the step moved the weights, so equal weights mean equal gradients
    for got, log in others:
        assert _max_difference(got, reference) < 1e-6
        # the logged loss and components are per-item means of the window, whatever the layout
        for name in [key for key in reference_log if key.startswith("loss")]:
            assert log[name] == pytest.approx(reference_log[name], rel=1e-5, abs=1e-7), name


@pytest.mark.slow
def test_per_micro_batch_means_would_differ(tmp_path, tok):
    """The negative control: the same layouts with each micro-batch normalised by its own counts (what the trainer
    did before) end with different weights, so the test above can see the difference."""
    results = []
    for bs, ga in [(8, 1), (4, 2)]:
        trainer = window_cases.trainer("joint_hard", str(tmp_path / f"{bs}"), 8, bs, ga, tok)
        trainer.get_batch_samples = lambda iterator, n, device, t=trainer: (
            Trainer.get_batch_samples(t, iterator, n, device)[0],
            None,
        )
        trainer.train()
        results.append(window_cases.weights(trainer))
    assert _max_difference(*results) > 1e-4


def test_mask_padding_off_refuses_dynamic_padding(tmp_path, tok):
    """The official code's averaging counts padded positions: only defined at one fixed length. A dynamically padding
    transformers collator is refused when the trainer is built; any other collator at the first window whose batches
    differ in length, before its first forward."""
    from transformers import DataCollatorWithPadding

    with pytest.raises(ValueError, match="pads each batch to its longest row.*padding='max_length'"):
        window_cases.trainer("official_averaging", str(tmp_path / "a"), 8, 4, 2, tok, DataCollatorWithPadding(tok))
    trainer = window_cases.trainer(
        "official_averaging", str(tmp_path / "b"), 8, 1, 8, tok, lambda rows: tok.pad(rows, return_tensors="pt")
    )
    start = window_cases.weights(trainer)
    with pytest.raises(ValueError, match="padded to one fixed length.*padding='max_length'"):
        trainer.train()
    assert _max_difference(window_cases.weights(trainer), start) == 0.0  # refused before any step


def test_window_counts_are_what_the_losses_divide_by(tok):
    """The counts of a window are the sums of its batches' counts: real tokens, Σ n_b², examples, labelled tokens."""
    from transformers import DataCollatorForTokenClassification

    from hf_tinybert.distill.denominators import WindowDenominators, count_denominators

    data = window_cases.rows(5, "tokens")
    collate = DataCollatorForTokenClassification(tok)
    batches = [collate([data[i] for i in range(0, 3)]), collate([data[i] for i in range(3, 5)])]
    lengths = [len(ids) for ids in data["input_ids"]]
    window = WindowDenominators.from_batches(batches, "cpu", head="masked_lm", hard_label=True)
    counts = {k: int(v) for k, v in window.counts.items()}
    labelled = sum(label != -100 for row in data["labels"] for label in row)
    assert counts["tokens"] == counts["rows"] == sum(lengths)
    assert counts["pairs"] == sum(length * length for length in lengths)
    assert counts["examples"] == 5 and counts["pred_items"] == counts["hard"] == labelled
    official = count_denominators(batches[0], head="masked_lm", mask_padding=False)
    width = batches[0]["input_ids"].shape[1]
    assert int(official["tokens"]) == 3 * width and int(official["pairs"]) == 3 * width * width
    assert torch.is_tensor(window.counts["tokens"]) and window.sequence_lengths == (
        batches[0]["input_ids"].shape[1],
        batches[1]["input_ids"].shape[1],
    )
