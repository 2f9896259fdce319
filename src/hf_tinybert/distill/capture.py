"""Forward hooks that capture what TinyBERT distils from one forward pass of a BERT-style model.

Only the modules the layer map needs are hooked: the embeddings, the mapped Transformer layers'
outputs, and those layers' query/key projections (attention scores are recomputed from Q and K, so
the model keeps its fast sdpa/flash attention and nobody passes `output_attentions`). Hooks exist only
inside the `with` block, so gradient-checkpointing recomputation during backward (which re-runs the
layers) and any later use of the model leave the captured tensors alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class CapturedActivations:
    """Tensors captured from one forward pass. Layer keys are 1-based Transformer layer numbers."""

    embeddings: torch.Tensor | None = None
    hidden_states: dict[int, torch.Tensor] = field(default_factory=dict)
    queries: dict[int, torch.Tensor] = field(default_factory=dict)
    keys: dict[int, torch.Tensor] = field(default_factory=dict)


def find_bert_encoder(model: nn.Module) -> nn.Module:
    """The BERT-style backbone inside `model` (through DDP, peft, task heads): a module with
    `.embeddings` and `.encoder.layer[i].attention.self.{query,key}`.

    Raises:
        ValueError: if no such module exists.
    """
    for _, module in model.named_modules():
        encoder = getattr(module, "encoder", None)
        layers = getattr(encoder, "layer", None)
        if getattr(module, "embeddings", None) is not None and isinstance(layers, nn.ModuleList) and len(layers):
            attention = getattr(getattr(layers[0], "attention", None), "self", None)
            if attention is not None and hasattr(attention, "query") and hasattr(attention, "key"):
                return module
    raise ValueError(
        f"{type(model).__name__} has no BERT-style encoder (a module with `embeddings` and "
        "`encoder.layer[i].attention.self.query/key`); TinyBERT's layer-wise losses support BERT, RoBERTa, "
        "ELECTRA, MiniLM and TinyBERT models."
    )


def _first_tensor(output) -> torch.Tensor:
    return output[0] if isinstance(output, (tuple, list)) else output


class LayerCapture:
    """Context manager that hooks the mapped modules of a model and records their outputs.

    Args:
        model: the model (possibly wrapped in DDP/peft) whose backbone is hooked.
        layers: 1-based Transformer layers to capture.
        embeddings: capture the embedding layer's output.
        hidden_states: capture the layers' outputs (after their output LayerNorm).
        attention: capture the layers' query and key projections (B, S, hidden) to rebuild scores.

    Example:
        >>> with LayerCapture(model, layers=[2, 4]) as captured:
        ...     model(**batch)
        >>> captured.hidden_states[4].shape
    """

    def __init__(
        self,
        model: nn.Module,
        layers: Iterable[int],
        embeddings: bool = True,
        hidden_states: bool = True,
        attention: bool = True,
    ):
        self.encoder = find_bert_encoder(model)
        self.layers = sorted(set(layers))
        num_layers = len(self.encoder.encoder.layer)
        bad = [layer for layer in self.layers if not 1 <= layer <= num_layers]
        if bad:
            raise ValueError(f"Cannot capture layers {bad}: the model has layers 1..{num_layers}")
        self.capture_embeddings = embeddings
        self.capture_hidden_states = hidden_states
        self.capture_attention = attention
        self.captured = CapturedActivations()
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    def _store(self, table: dict[int, torch.Tensor] | None, key: int | None):
        def hook(module, args, output):
            tensor = _first_tensor(output)
            if table is None:
                self.captured.embeddings = tensor
            else:
                table[key] = tensor

        return hook

    def __enter__(self) -> CapturedActivations:
        self.captured = CapturedActivations()
        if self.capture_embeddings:
            self._handles.append(self.encoder.embeddings.register_forward_hook(self._store(None, None)))
        for layer_number in self.layers:
            layer = self.encoder.encoder.layer[layer_number - 1]
            if self.capture_hidden_states:
                self._handles.append(
                    layer.register_forward_hook(self._store(self.captured.hidden_states, layer_number))
                )
            if self.capture_attention:
                attention = layer.attention.self
                self._handles.append(
                    attention.query.register_forward_hook(self._store(self.captured.queries, layer_number))
                )
                self._handles.append(attention.key.register_forward_hook(self._store(self.captured.keys, layer_number)))
        return self.captured

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
