"""Tiny random models of every encoder family in the support matrix (docs/support_matrix.md), shared by
tests/test_encoder_families.py. Each family: a name, its config class and the fields that make it tiny."""

from __future__ import annotations

import torch
import transformers as T
from conftest import TINY_VOCAB

VOCAB = len(TINY_VOCAB)  # the tests' tiny tokenizer, so that students export with it
SHAPE = dict(
    vocab_size=VOCAB,
    hidden_size=32,
    num_hidden_layers=3,
    num_attention_heads=4,
    intermediate_size=64,
    max_position_embeddings=64,
)
SPECIAL = dict(pad_token_id=0, bos_token_id=2, eos_token_id=3, cls_token_id=2, sep_token_id=3)

# name: (config class, fields beyond SHAPE, what it stands for)
FAMILIES = {
    "bert": (T.BertConfig, {}, "BERT, MiniLM, BGE/E5 (BERT inside), TinyBERT students"),
    "roberta": (T.RobertaConfig, {}, "RoBERTa"),
    "xlm-roberta": (T.XLMRobertaConfig, {}, "XLM-R, multilingual E5/BGE-M3"),
    "camembert": (T.CamembertConfig, {}, "CamemBERT"),
    "electra": (T.ElectraConfig, {"embedding_size": 32}, "ELECTRA (embedding size = hidden size)"),
    "electra-projected": (T.ElectraConfig, {"embedding_size": 16}, "ELECTRA small (embeddings_project 16 -> 32)"),
    "ernie": (T.ErnieConfig, {}, "ERNIE"),
    "distilbert": (
        T.DistilBertConfig,
        dict(dim=32, n_layers=3, n_heads=4, hidden_dim=64),
        "DistilBERT",
    ),
    "albert": (T.AlbertConfig, {"embedding_size": 16}, "ALBERT (one shared layer, embeddings 16 -> 32)"),
    "modernbert": (T.ModernBertConfig, {"global_attn_every_n_layers": 1, **SPECIAL}, "ModernBERT, global attention"),
    "modernbert-local": (
        T.ModernBertConfig,
        {"global_attn_every_n_layers": 3, "local_attention": 4, **SPECIAL},
        "ModernBERT with sliding-window layers",
    ),
    "xlm-roberta-xl": (T.XLMRobertaXLConfig, {}, "XLM-R XL/XXL (pre-LayerNorm)"),
    "esm": (T.EsmConfig, {"pad_token_id": 1, "position_embedding_type": "rotary"}, "ESM-2 (rotary, pre-LayerNorm)"),
    "deberta": (T.DebertaConfig, {}, "DeBERTa v1"),
    "deberta-v2": (T.DebertaV2Config, {}, "DeBERTa v2/v3"),
    "mpnet": (T.MPNetConfig, {}, "MPNet"),
    "roformer": (T.RoFormerConfig, {}, "RoFormer (rotary)"),
    "megatron-bert": (T.MegatronBertConfig, {}, "Megatron-BERT (pre-LayerNorm)"),
    "convbert": (T.ConvBertConfig, {}, "ConvBERT"),
}


def config(name: str, **overrides):
    cls, fields, _ = FAMILIES[name]
    if name == "distilbert":  # its own field names (dim, n_layers, ...)
        values = {"vocab_size": VOCAB, "max_position_embeddings": 64, **fields}
    else:
        values = {**SHAPE, **fields}
    return cls(**{**values, **overrides})


def model(name: str, head: str = "base", seed: int = 0, **overrides):
    torch.manual_seed(seed)
    auto = {"base": T.AutoModel, "sequence_classification": T.AutoModelForSequenceClassification}[head]
    return auto.from_config(config(name, **overrides)).eval()


def padded_batch(batch: int = 3, length: int = 12, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random ids (avoiding the special ids 0-4) with two rows padded."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, VOCAB, (batch, length), generator=g)
    mask = torch.ones(batch, length, dtype=torch.long)
    mask[1, 8:] = 0
    mask[2, 5:] = 0
    ids[mask == 0] = 0
    return {"input_ids": ids, "attention_mask": mask}
