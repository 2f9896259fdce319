"""Registers the TinyBERT classes with transformers' Auto classes (done once, on import), one per head of the head
table (`modeling/heads.py`)."""

from transformers import AutoConfig

from .modeling import HEADS, TinyBertConfig


def register_auto_classes() -> None:
    """Make `AutoConfig`/`AutoModel*` resolve `model_type="tinybert"` to our classes. Idempotent."""
    AutoConfig.register("tinybert", TinyBertConfig, exist_ok=True)
    for head in HEADS.values():
        head.auto_class.register(TinyBertConfig, head.tinybert_class, exist_ok=True)
